# NumPy inside scripts: real arrays, but never a string, object or Python-calling array, and
# no result NumPy would build past the limits before the surface sees it.
import time

import pytest

from gradcalc.errors import GradcalcError
from gradcalc.lang import Limits, Session

REFUSED = [
    ("np.full((10**7,), 'a' * 100)", r"numpy.full\(\): gradcalc scripts use arrays of numbers"),
    ("np.full((10**7,), 'ab')", r"numpy.full\(\): gradcalc scripts use arrays of numbers only"),
    ("np.array(['a' * 10**6] * 60)", r"a string is taken as an option's name, not as data"),
    ("np.array(['1', '2'])", r"a string is taken as an option's name, not as data"),
    ("np.array_split(np.ones(10), 10**8)", r"numpy.array_split\(\) would have 100,000,000"),
    ("np.split(np.ones(10), 10**8)", r"numpy.split\(\) would have 100,000,000 elements"),
    ("np.asarray({'a': 1})", r"a 'dict' object cannot be converted to an array"),
    ("np.array([print])", r"a 'function' object cannot be converted to an array"),
    ("np.zeros(10, dtype='S100000000')", r"numeric and bool dtypes only"),
    ("np.ones(10**4)[:, None] * np.ones(10**4)", r"would have 100,000,000 elements"),
    ("np.lib.stride_tricks.as_strided(np.ones(3), shape=(10**6,), strides=(8,))",
     r"module 'numpy' has no attribute 'lib'"),
    ("np.ndarray((10**6,), buffer=np.ones(3))", r"module 'numpy' has no attribute 'ndarray'"),
    ("np.frombuffer(b'x')", r"bytes literals|has no attribute 'frombuffer'"),
    ("np.load('x.npy')", r"has no attribute 'load'"),
    ("np.ones(3).ctypes", r"'ndarray' object has no attribute 'ctypes'"),
    ("np.ones(3).view('S8')", r"'ndarray' object has no attribute 'view'"),
]


@pytest.mark.parametrize("text, pattern", REFUSED)
def test_numpy_in_scripts_refuses_before_allocating(text, pattern):
    s = Session(write=lambda t: None, limits=Limits(timeout=10))
    s.run("import numpy as np")
    start = time.monotonic()
    with pytest.raises(GradcalcError, match=pattern):
        s.run(text)
    assert time.monotonic() - start < 3


def test_short_option_names_still_reach_numpy():
    out = []
    s = Session(write=out.append, echo=False)
    s.run("import numpy as np\n"
          "print(np.array_split(np.arange(5), 2), np.sort(np.array([3, 1, 2]), kind='stable'),"
          " np.zeros(2, dtype='float32').dtype)")
    assert "".join(out) == "[array([0, 1, 2]), array([3, 4])] [1 2 3] float32\n"
