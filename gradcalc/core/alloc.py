"""Core: the allocation guard. Off unless a caller activates a `Guard` (the language's Session
does, while a statement runs); then each new tensor's size, the memory the caller holds and the
work of one long call are checked before the core allocates or computes.
"""

from __future__ import annotations

import contextvars
import os
import weakref

from ..errors import LimitError

#: whether some Guard is active in this process: call sites test it first (`if _alloc.on:`),
#: so library use without a guard pays one attribute read
on = False
#: arrays of at least this many bytes go to `admit` (the smallest an active guard must see);
#: also the product of two operands' sizes under which a broadcast or a matrix product needs
#: no exact check (its result has at most that many elements, and its work is tiny)
floor = 1 << 62

#: allocations of at least this many bytes are counted one by one against the memory budget
LARGE = 1 << 18
#: matmul-equivalent floating-point operations per second assumed when a call is measured
#: against the time left (this machine's float64 matmul does about 2.8e10)
FLOP_RATE = 2e10
#: bytes of one element of tolist(): a Python float or int and its slot in a list
PY_ELEMENT_BYTES = 32

_current: contextvars.ContextVar = contextvars.ContextVar("gradcalc_alloc_guard", default=None)
_active: list = []  # the guards active now, one entry per activation


class Guard:
    """The limits in force for one caller of the core; a limit of None is no limit.

    `max_elements`: elements of one tensor (views included); `max_memory`: bytes the caller
    may hold, the larger of its live tensors' bytes and the growth of the process's resident
    memory since the guard first looked; `max_flops`: matmul-equivalent floating-point
    operations of one call. `deadline` (a time.monotonic() value, set by the caller while its
    code runs) also bounds one call's estimated work by the time left.
    """

    def __init__(self, max_elements: int | None = None, max_memory: int | None = None,
                 max_flops: float | None = None):
        self.max_elements = max_elements
        self.max_memory = max_memory
        self.max_flops = max_flops
        self.deadline = None
        self.time_limit = None  # the seconds the deadline stands for (named in its error)
        self.live_bytes = 0  # bytes of the live arrays of at least LARGE bytes seen by admit
        self._live: dict = {}  # id(array owning its memory) -> bytes
        self._rss0 = None  # resident memory when first read

    # -- checks before an allocation or a call --
    def elements(self, n: int, what: str) -> None:
        """Refuse a result of `n` elements over max_elements."""
        limit = self.max_elements
        if limit is not None and n > limit:
            raise too_big(what, n, limit)

    def memory(self, nbytes: int, what: str) -> None:
        """Refuse allocating `nbytes` more when it would take the caller over max_memory."""
        if nbytes < LARGE:
            return
        self.check_clock()
        limit = self.max_memory
        if limit is None:
            return
        held = self.held()
        if held + nbytes > limit:
            raise LimitError(
                f"{what} would need {size_text(nbytes)} more memory, with {size_text(held)} "
                f"already in use: over the memory limit of {size_text(limit)}",
                limit="max_memory")

    def flops(self, n: float, what: str) -> None:
        """Refuse a call of about `n` operations over max_flops or the time left."""
        limit = self.max_flops
        if limit is not None and n > limit:
            raise LimitError(
                f"{what} would take about {n:.2g} floating-point operations, over the limit "
                f"of {limit:.2g}", limit="max_flops")
        if self.deadline is not None:
            import time

            left = self.deadline - time.monotonic()
            if n > FLOP_RATE * max(left, 0.0):
                raise LimitError(
                    f"{what} would take about {n:.2g} floating-point operations: more than "
                    f"the {max(left, 0.0):.3g} s left of the time limit allow",
                    limit="timeout")

    def check_clock(self) -> None:
        """Refuse going on past the deadline (checked at every large allocation)."""
        if self.deadline is not None:
            import time

            if time.monotonic() > self.deadline:
                raise LimitError("timed out: the script ran longer than the time limit of "
                                 f"{self.time_limit:g} s", limit="timeout")

    # -- memory accounting --
    def held(self) -> int:
        """Bytes held: the larger of the live tracked arrays and resident-memory growth."""
        rss = _rss()
        if rss is None:
            return self.live_bytes
        if self._rss0 is None:
            self._rss0 = rss
        return max(self.live_bytes, rss - self._rss0)

    def check_held(self, what: str = "the script") -> None:
        """Refuse going on when the caller already holds more than max_memory."""
        limit = self.max_memory
        if limit is not None:
            held = self.held()
            if held > limit:
                raise LimitError(f"{what} holds {size_text(held)}: over the memory limit of "
                                 f"{size_text(limit)}", limit="max_memory")

    def admit(self, data) -> None:
        """A new array became a tensor: check its elements; count its memory if large."""
        limit = self.max_elements
        if limit is not None and data.size > limit:
            raise too_big("the result", data.size, limit)
        if data.nbytes < LARGE:
            return
        self.check_clock()
        if self.max_memory is None:
            return
        owner = data
        base = data.base
        while base is not None and type(base) is type(owner):
            owner, base = base, base.base
        key = id(owner)
        if key in self._live:
            return
        nbytes = owner.nbytes
        self._live[key] = nbytes
        self.live_bytes += nbytes
        weakref.finalize(owner, self._release, key, nbytes)
        self.check_held("the session")

    def _release(self, key, nbytes):
        if self._live.pop(key, None) is not None:
            self.live_bytes -= nbytes


# ---- activation -------------------------------------------------------------------------


def activate(guard: Guard):
    """Make `guard` the one in force for the running thread/context; returns a token."""
    global on, floor
    token = _current.set(guard)
    _active.append(guard)  # (list operations are atomic: no lock on this per-statement path)
    floor = _floor()
    on = True
    return token


def deactivate(token) -> None:
    """Undo `activate(...)` (the token it returned)."""
    global on, floor
    guard = _current.get()
    _current.reset(token)
    _active.remove(guard)
    if not _active:
        on = False
        floor = 1 << 62
        if _active:  # another thread activated meanwhile: it must stay on
            floor = _floor()
            on = True
    else:
        floor = _floor()


def _floor() -> int:
    out = LARGE
    for g in _active:
        m = g.max_elements
        if m is not None and m < out:
            out = m
    return out


def current() -> Guard | None:
    """The Guard in force here, or None."""
    return _current.get()


# ---- call-site checks (each a no-op without a guard) -------------------------------------


def admit(data) -> None:
    """After an allocation: `data` is becoming a tensor (the tensor constructors call this)."""
    g = _current.get()
    if g is not None:
        g.admit(data)


def check(shape, itemsize: int = 8, what: str = "the result") -> None:
    """Before allocating an array of `shape` (ints) and `itemsize` bytes per element."""
    g = _current.get()
    if g is None:
        return
    n = 1
    for s in shape:
        n *= max(int(s), 0)
    g.elements(n, what)
    g.memory(n * itemsize, what)


def check_numel(n: int, itemsize: int = 8, what: str = "the result") -> None:
    """Before allocating `n` elements of `itemsize` bytes."""
    g = _current.get()
    if g is not None:
        g.elements(n, what)
        g.memory(n * itemsize, what)


def check_broadcast(op, *operands) -> None:
    """Before an elementwise op (a name, or the function it applies) of arrays or numbers:
    the size of their broadcast result."""
    g = _current.get()
    if g is None:
        return
    shapes = [getattr(v, "shape", ()) for v in operands]
    first = shapes[0]
    if all(s == first for s in shapes):
        return
    shape = first
    for s in shapes[1:]:
        shape = broadcast_shape(shape, s)
        if shape is None:
            return  # the op reports the mismatch
    name = op if isinstance(op, str) else _OP_NAMES.get(op.__name__, op.__name__)
    check(shape, max(_itemsize(v) for v in operands), f"{name}()")


#: names of the functions elementwise ops apply, as PyTorch calls those ops
_OP_NAMES = {"truediv": "div", "floordiv": "floor_divide", "power": "pow", "arctan2": "atan2",
             "mod": "remainder", "and_": "bitwise_and", "or_": "bitwise_or",
             "xor": "bitwise_xor", "greater": "gt", "less": "lt", "equal": "eq",
             "not_equal": "ne", "greater_equal": "ge", "less_equal": "le"}


def check_matmul(sa, sb, itemsize: int, what: str = "matmul()") -> None:
    """Before a matrix product of shapes `sa` @ `sb`: its result size and its work."""
    g = _current.get()
    if g is None:
        return
    if not sa or not sb:
        return
    a = (1,) + tuple(sa) if len(sa) == 1 else tuple(sa)
    b = tuple(sb) + (1,) if len(sb) == 1 else tuple(sb)
    batch = broadcast_shape(a[:-2], b[:-2]) or ()
    n = 1
    for s in batch:
        n *= s
    m, k, p = a[-2], a[-1], b[-1]
    g.elements(n * m * p, what)
    g.memory(n * m * p * itemsize, what)
    g.flops(2.0 * n * m * k * p, what)


def check_flops(n: float, what: str) -> None:
    """Before a call of about `n` matmul-equivalent floating-point operations."""
    g = _current.get()
    if g is not None:
        g.flops(n, what)


def check_python(n: int, what: str = "tolist()") -> None:
    """Before building `n` Python numbers in lists (tolist)."""
    g = _current.get()
    if g is not None:
        g.elements(n, what)
        g.memory(n * PY_ELEMENT_BYTES, what)


def check_index(data, index) -> None:
    """Before `data[index]` with integer index arrays (advanced indexing): its result size."""
    g = _current.get()
    if g is None:
        return
    arrays = [i for i in index if getattr(i, "ndim", None) is not None]
    if any(a.dtype.kind == "b" for a in arrays):
        return  # a mask selects at most the elements there are
    indexed = len(arrays)
    if not indexed:
        return
    bshape = ()
    for a in arrays:
        bshape = broadcast_shape(bshape, a.shape)
        if bshape is None:
            return
    rest = 1
    for k, size in enumerate(data.shape):
        if k >= len(index) or getattr(index[k], "ndim", None) is None:
            rest *= size
    n = rest
    for s in bshape:
        n *= s
    g.elements(n, "indexing")
    g.memory(n * data.dtype.itemsize, "indexing")


# ---- helpers ----------------------------------------------------------------------------


def repeat_shape(shape, reps) -> tuple:
    """The shape of `repeat(*reps)` of a tensor of `shape`."""
    full = (1,) * (len(reps) - len(shape)) + tuple(shape)
    return tuple(int(r) * s for r, s in zip(reps, full))


def padded_shape(shape, pad) -> tuple:
    """The shape of F.pad(x, pad) for x of `shape` (pairs from the last dimension back)."""
    out = list(shape)
    for i in range(min(len(pad) // 2, len(out))):
        out[-1 - i] += int(pad[2 * i]) + int(pad[2 * i + 1])
    return tuple(out)



def broadcast_shape(sa, sb):
    """The broadcast of two shapes, or None if they do not broadcast (the op reports it)."""
    n = max(len(sa), len(sb))
    sa = (1,) * (n - len(sa)) + tuple(sa)
    sb = (1,) * (n - len(sb)) + tuple(sb)
    out = []
    for x, y in zip(sa, sb):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out)


def _itemsize(v) -> int:
    dt = getattr(v, "dtype", None)
    return dt.itemsize if dt is not None else 8


def too_big(what: str, n: int, limit: int) -> LimitError:
    """The error for a result of `n` elements over the limit."""
    return LimitError(f"{what} would have {n:,} elements, over the limit of {limit:,}",
                      limit="max_elements")


def size_text(nbytes: float) -> str:
    """Bytes as people read them: 512 B, 3.0 KiB, 2.0 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(nbytes) < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} GiB"


_statm = [-1, -1]  # [fd of /proc/self/statm, pid that opened it]
_PAGE = [0]


def _rss() -> int | None:
    """Resident memory of this process in bytes (Linux); None where it cannot be read."""
    try:
        pid = os.getpid()
        if _statm[1] != pid:
            _statm[0] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
            _statm[1] = pid
            _PAGE[0] = os.sysconf("SC_PAGE_SIZE")
        return int(os.pread(_statm[0], 80, 0).split()[1]) * _PAGE[0]
    except (OSError, ValueError, IndexError, AttributeError):
        _statm[1] = os.getpid()
        _statm[0] = -1
        return None
