"""Language layer: the Python standard library a script may import, as curated surfaces.

Each module here is a namespace of chosen functions, never the real module: `random` is a
generator of the session's own, `itertools` hands out iterators that count the session's
steps (so `-1 in count()` meets the step budget instead of hanging in C), `os` has path
arithmetic and an empty `environ`, `time.sleep` stops at the session's deadline. Nothing here
touches a file, a process or the host's environment.
"""

from __future__ import annotations

import collections as _collections
import copy as _copy
import functools as _functools
import itertools as _itertools
import math as _math
import posixpath as _posixpath
import random as _random
import time as _time
import typing as _typing

from gradcalc.errors import GradcalcTypeError, LimitError, SecurityError


def stepped(rt, iterable):
    """Iterate `iterable`, one step of the session's budget per item (clock and memory too)."""
    for x in iterable:
        left = rt.left - 1
        rt.left = left
        if left <= 0:
            rt.tick()
        yield x


def _count_arg(rt, n, what):
    if isinstance(n, int) and n > rt.max_elements:
        raise LimitError(f"{what} would have {n:,} elements, over the limit of "
                         f"{rt.max_elements:,}", limit="max_elements")


def random_module(rt, namespace_cls):
    """`import random`: Python's Mersenne Twister, one generator per session."""
    gen = _random.Random()

    def choices(population, weights=None, *, cum_weights=None, k=1):
        _count_arg(rt, k, "random.choices()")
        return gen.choices(population, weights, cum_weights=cum_weights, k=k)

    def sample(population, k, *, counts=None):
        _count_arg(rt, k, "random.sample()")
        return gen.sample(population, k, counts=counts)

    def getrandbits(k):
        if isinstance(k, int) and k > 1_000_000:
            raise LimitError(f"getrandbits({k}) would build an integer over 1,000,000 bits")
        return gen.getrandbits(k)

    names = ("random", "uniform", "randint", "randrange", "choice", "shuffle", "seed",
             "gauss", "normalvariate", "lognormvariate", "expovariate", "betavariate",
             "gammavariate", "triangular", "vonmisesvariate", "paretovariate",
             "weibullvariate", "getstate", "setstate")
    extra = {n: getattr(gen, n) for n in names}
    extra.update(choices=choices, sample=sample, getrandbits=getrandbits)
    return namespace_cls("random", extra=extra)


def itertools_module(rt, namespace_cls):
    """`import itertools`: every iterator counts the session's steps."""

    def wrap(fn):
        @_functools.wraps(fn)
        def make(*args, **kwargs):
            return stepped(rt, fn(*args, **kwargs))

        return make

    names = ("count", "cycle", "repeat", "accumulate", "chain", "compress", "dropwhile",
             "filterfalse", "groupby", "islice", "pairwise", "starmap", "takewhile",
             "zip_longest", "product", "permutations", "combinations",
             "combinations_with_replacement", "batched")
    extra = {n: wrap(getattr(_itertools, n)) for n in names if hasattr(_itertools, n)}

    def tee(iterable, n=2):
        _count_arg(rt, n, "itertools.tee()")
        return tuple(stepped(rt, it) for it in _itertools.tee(iterable, n))

    extra["chain"] = _Chain(rt)
    extra["tee"] = tee
    return namespace_cls("itertools", extra=extra)


class _Chain:
    """itertools.chain, with its from_iterable, counting steps."""

    __gradcalc_public__ = frozenset({"from_iterable"})

    def __init__(self, rt):
        self._rt = rt

    def __call__(self, *iterables):
        return stepped(self._rt, _itertools.chain(*iterables))

    def from_iterable(self, iterables):
        return stepped(self._rt, _itertools.chain.from_iterable(iterables))

    def __repr__(self):
        return "<class 'itertools.chain'>"


def functools_module(rt, namespace_cls):
    """`import functools`: reduce over counted items, partial, the caches, wraps."""

    def reduce(function, iterable, *initial):
        return _functools.reduce(function, stepped(rt, iterable), *initial)

    def wraps(wrapped, *args, **kwargs):
        def decorate(wrapper):
            return wrapper  # a script function keeps its own name: nothing to copy

        return decorate

    extra = {"reduce": reduce, "partial": _functools.partial, "wraps": wraps,
             "lru_cache": _functools.lru_cache, "cache": _functools.cache,
             "cmp_to_key": _functools.cmp_to_key}
    return namespace_cls("functools", extra=extra)


def collections_module(rt, namespace_cls):
    """`import collections`: the containers (their methods go through the allow-lists)."""
    extra = {"OrderedDict": _collections.OrderedDict, "defaultdict": _collections.defaultdict,
             "Counter": _collections.Counter, "deque": _collections.deque}
    return namespace_cls("collections", extra=extra)


def copy_module(rt, namespace_cls):
    """`import copy`: copy and deepcopy (of what the script already holds)."""
    return namespace_cls("copy", extra={"copy": _copy.copy, "deepcopy": _copy.deepcopy})


def time_module(rt, namespace_cls):
    """`import time`: clocks, and a sleep that ends at the session's deadline."""

    def sleep(seconds):
        if not isinstance(seconds, (int, float)) or _math.isnan(seconds):
            raise GradcalcTypeError("TypeError: sleep() argument must be a real number")
        if seconds < 0:
            raise GradcalcTypeError("ValueError: sleep length must be non-negative")
        left = rt.deadline - _time.monotonic() if rt.deadline is not None else None
        if left is not None and seconds > left:
            _time.sleep(max(0.0, left))
            rt.tick()
        _time.sleep(seconds)

    extra = {"time": _time.time, "perf_counter": _time.perf_counter,
             "monotonic": _time.monotonic, "process_time": _time.process_time,
             "time_ns": _time.time_ns, "perf_counter_ns": _time.perf_counter_ns,
             "sleep": sleep}
    return namespace_cls("time", extra=extra)


def typing_module(rt, namespace_cls):
    """`import typing`: the names annotations use."""
    names = ("Any", "Callable", "Dict", "Iterable", "Iterator", "List", "Optional",
             "Sequence", "Set", "Tuple", "Type", "Union", "Mapping", "cast")
    extra = {n: getattr(_typing, n) for n in names}
    extra["TYPE_CHECKING"] = False
    return namespace_cls("typing", extra=extra)


class Environ:
    """`os.environ` in a script: empty and read-only (the host's variables stay private)."""

    __gradcalc_public__ = frozenset({"get", "keys", "values", "items"})

    def keys(self):
        return []

    values = items = keys

    def get(self, key, default=None):
        return default

    def __getitem__(self, key):
        raise SecurityError(f"os.environ[{key!r}]: gradcalc scripts do not see the host's "
                            "environment (os.environ.get(name, default) gives the default)")

    def __contains__(self, key):
        return False

    def __len__(self):
        return 0

    def __repr__(self):
        return "environ({})"


def os_module(rt, namespace_cls):
    """`import os` / `os.path`: path arithmetic only; nothing that reads the file system."""
    path_names = ("join", "basename", "dirname", "split", "splitext", "normpath", "isabs",
                  "sep", "extsep", "pardir", "curdir")
    path = namespace_cls("os.path", extra={n: getattr(_posixpath, n) for n in path_names})
    extra = {"path": path, "environ": Environ(), "sep": "/", "linesep": "\n",
             "curdir": ".", "pardir": ".."}
    return namespace_cls("os", extra=extra), path


#: allow-lists of the containers above, for safety.allowed_names
CONTAINER_METHODS = {
    _collections.OrderedDict: frozenset({"move_to_end"}),
    _collections.defaultdict: frozenset({"default_factory"}),
    _collections.Counter: frozenset({"most_common", "total"}),
    _collections.deque: frozenset({"append", "appendleft", "pop", "popleft", "rotate",
                                   "clear", "count", "index", "maxlen", "insert", "remove",
                                   "reverse", "copy"}),
}
