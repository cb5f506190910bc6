# C-level loops a script can start on a lazy or huge iterable ('in', unpacking, set and dict
# methods, iter(f, sentinel), frozenset): each is walked where the session's limits see it,
# so it ends with a LimitError instead of hanging or eating memory in C.
import time

import pytest

from gradcalc.errors import LimitError
from gradcalc.lang import Limits, Session

BOMBS = [
    ("1 in iter(int, 1)", r"timed out"),
    ("-1 in map(abs, iter(int, 1))", r"timed out"),
    ("1.5 in range(10**12)", r"timed out"),
    ("frozenset(range(10**9))", r"frozenset\(\) would have 1,000,000,000 elements"),
    ("a, *b = iter(int, 1)", r"timed out|elements"),
    ("set().update(iter(int, 1))", r"timed out|elements"),
    ("set().update(range(10**9))", r"set.update\(\) would have 1,000,000,000 elements"),
    ("{1}.union(range(10**9))", r"set.union\(\) would have 1,000,000,000 elements"),
    ("frozenset([1]).issubset(range(10**9))",
     r"frozenset.issubset\(\) would have 1,000,000,000 elements"),
    ("d = {}\nd.update(zip(range(10**9), range(10**9)))", r"timed out|elements|memory"),
    ("sum(iter(int, 1))", r"timed out|elements"),
]


@pytest.mark.parametrize("text, pattern", BOMBS)
def test_c_level_consumers_stop_at_the_limits(text, pattern):
    s = Session(write=lambda t: None, limits=Limits(timeout=0.5))
    start = time.monotonic()
    with pytest.raises(LimitError, match=pattern):
        s.run(text)
    assert time.monotonic() - start < 5


def test_the_same_operations_on_ordinary_values_keep_their_meaning():
    out = []
    Session(write=out.append, echo=False).run(
        "a, b = [1, 2]\nc, *d = range(4)\nx, y = iter([5, 6])\n"
        "print(a, b, c, d, x, y)\n"
        "print(2 in range(5), 2.0 in range(5), 7 in range(5), 3 in iter([1, 2, 3]))\n"
        "print({1}.union([2], (3,)), {1, 2}.issubset(range(3)), frozenset('ab') == {'a', 'b'})\n"
        "d = {}\nd.update(zip('ab', [1, 2]))\nprint(d, list(iter([1, 2].pop, 1)))\n"
        "import collections\nd.update(collections.OrderedDict(c=3))\n"
        "d.update(collections.Counter('zz'))\nprint(d)\n")
    assert "".join(out) == ("1 2 0 [1, 2, 3] 5 6\n"
                            "True True False True\n"
                            "{1, 2, 3} True True\n"
                            "{'a': 1, 'b': 2} [2]\n"
                            "{'a': 1, 'b': 2, 'c': 3, 'z': 2}\n")


def test_unpacking_reads_one_item_more_than_its_targets():
    with pytest.raises(Exception, match=r"too many values to unpack \(expected 2\)"):
        Session(write=lambda t: None).run("a, b = iter(int, 1)")
