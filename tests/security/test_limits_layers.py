# The layers' own allocations (im2col buffers, convolution results, col2im's padded
# output) are checked against the limits before NumPy builds them.
import time

import pytest

from gradcalc.errors import LimitError
from gradcalc.lang import Session

BOMBS = [
    ("F.conv2d(ones(1, 1, 10**3, 10**3), ones(10**3, 1, 3, 3))",
     r"conv\(\) would have 996,004,000 elements"),
    ("F.conv2d(ones(1, 1, 100, 100), ones(1, 1, 1, 1), padding=10**5)",
     r"conv\(\) would have 40,040,010,000 elements"),
    ("F.conv_transpose2d(ones(1, 1, 100, 100), ones(1, 1, 1, 1), stride=10**4)",
     r"conv_transpose\(\) would have 980,101,980,001 elements"),
    ("F.conv_transpose2d(ones(1, 1, 100, 100), ones(1, 1, 1, 1), stride=100)",
     r"conv_transpose\(\) would have 98,029,801 elements"),
    ("nn.LSTM(10**5, 10**5)", r"empty\(\) would have 40,000,000,000 elements"),
    ("ones(10).repeat_interleave(10**9)", r"would have 10,000,000,000 elements"),
]


@pytest.mark.parametrize("text, pattern", BOMBS)
def test_layers_refuse_before_allocating(text, pattern):
    start = time.monotonic()
    with pytest.raises(LimitError, match=pattern):
        Session(write=lambda t: None).run(text)
    assert time.monotonic() - start < 3


def test_ordinary_convolutions_keep_their_shapes():
    s = Session(write=lambda t: None)
    assert tuple(s.evaluate("F.conv2d(ones(1, 1, 4, 4), ones(2, 1, 3, 3)).shape")) == (1, 2, 2, 2)
    assert tuple(s.evaluate(
        "F.conv_transpose2d(ones(1, 1, 4, 4), ones(1, 2, 3, 3), stride=2).shape")) == (1, 2, 9, 9)
