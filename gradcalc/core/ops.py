"""Core op table, elementwise part: forward and backward of each op side by side.

Each op: a Node subclass named as PyTorch names its grad_fn (the suffix is PyTorch's
overload number), the local derivative of each input in `formula`, and a forward
function registered once as `gradcalc.<name>` and/or `Tensor.<name>`.
Backward formulas use differentiable tensor ops, so create_graph gives higher orders.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ..errors import GradError, GradcalcTypeError, ShapeError, TorchRuntimeError
from . import alloc as _alloc
from . import autograd as _ag
from .autograd import FREED, FREED_MESSAGE, Node
from .backend import CPU, to_device, xp_for
from .dtypes import _FROM_NP, as_dtype, get_default_dtype, result_type
from .graph import broadcast_error, device_of, new, record, result1, save_out, unpack_out
from .registry import op
from .convert import _NUMBERS
from .tensor import Tensor, _make

_SCALARS = (int, float, bool, complex)


def _num(v):
    """Reject non-numbers early with PyTorch's wording; NumPy scalars count as Python numbers
    (as in PyTorch: `float32_tensor * np.float64(2)` stays float32)."""
    if isinstance(v, np.generic):  # (before the Python types: np.float64 is a float)
        return v.item()
    if isinstance(v, (Tensor, *_SCALARS)):
        return v
    raise GradcalcTypeError(
        f"unsupported operand type: expected a Tensor or a number, got {type(v).__name__}"
    )


def _both_cpu(a: Tensor, b: Tensor) -> bool:
    """Whether two tensors are on the CPU (no extras, or extras saying so: a parameter, a view,
    a leaf holding a .grad)."""
    ax, bx = a._x, b._x
    return (ax is None or ax.device is CPU) and (bx is None or bx.device is CPU)


def _prep(a, b, *, true_div=False, float_only=False):
    """Promote two operands PyTorch's way; returns (a_data, b_data, device)."""
    if not isinstance(a, Tensor):
        a = _num(a)
    if not isinstance(b, Tensor):
        b = _num(b)
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        ad, bd = a._data, b._data
        dev = device_of(a, b) if (a._x is not None or b._x is not None) else None
        if dev is not None and dev is not CPU:
            # a 0-d CPU tensor joining a device op: move it explicitly (no implicit transfer)
            ad, bd = _on(a, dev), _on(b, dev)
        if ad.dtype is bd.dtype or ad.dtype == bd.dtype:
            if (true_div or float_only) and ad.dtype.kind in "biu":
                ft = get_default_dtype().np
                return ad.astype(ft), bd.astype(ft), dev
            return ad, bd, dev
    elif ta:
        ad, bd = a._data, b
        dev = None if a._x is None else a._x.device
        k = ad.dtype.kind
        if (k == "f" and type(b) in (float, int)) or (k in "iu" and type(b) is int):
            if (true_div or float_only) and k != "f":
                return ad.astype(get_default_dtype().np), bd, dev
            return ad, bd, dev
    else:
        ad, bd = a, b._data
        dev = None if b._x is None else b._x.device
        k = bd.dtype.kind
        if (k == "f" and type(a) in (float, int)) or (k in "iu" and type(a) is int):
            if (true_div or float_only) and k != "f":
                return ad, bd.astype(get_default_dtype().np), dev
            return ad, bd, dev
    rt = result_type(a, b)
    if (true_div or float_only) and rt.kind < 2:
        rt = get_default_dtype()
    npdt = rt.np
    if ta and ad.dtype != npdt:
        ad = ad.astype(npdt)
    if tb and bd.dtype != npdt:
        bd = bd.astype(npdt)
    if not ta:
        ad = _scalar_as(ad, rt)
    if not tb:
        bd = _scalar_as(bd, rt)
    return ad, bd, dev


def _on(t, dev):
    """`t`'s data on `dev` (explicit transfer when it lives elsewhere)."""
    return t._data if t.device is dev else to_device(t._data, dev)


def _kind(v) -> str:
    """dtype kind of an array or a Python number, without touching device data."""
    dt = getattr(v, "dtype", None)
    return dt.kind if dt is not None else np.asarray(v).dtype.kind


def _scalar_as(v, rt):
    if rt.kind == 2 and isinstance(v, (bool, int)):
        return float(v)
    if rt.kind == 1 and isinstance(v, bool):
        return int(v)
    return v


def _xp(dev):
    return np if dev is None or dev is CPU else xp_for(dev)


def _out(data, dev):
    if dev is None or dev is CPU:
        return _make(data)
    return new(data, dev)


def _apply2(fn, ad, bd, a, b):
    if _alloc.on and _size(ad) * _size(bd) > _alloc.floor:
        _alloc.check_broadcast(fn, ad, bd)
    try:
        return fn(ad, bd)
    except ValueError as e:
        if "broadcast" in str(e):
            raise broadcast_error(_shape(a), _shape(b)) from None
        raise


def _shape(v):
    return v._data.shape if isinstance(v, Tensor) else ()


def _size(v):
    """Elements of an operand's data (1 for a Python number): their product bounds the size
    of a broadcast, so small operands skip the allocation guard's exact check."""
    return 1 if isinstance(v, _SCALARS) else v.size



# --- arithmetic -------------------------------------------------------------------------------


class AddBackward0(Node):
    __slots__ = ()
    formula = ("grad", "grad * alpha")
    saved_names = ("alpha",)
    saved_defaults = {"alpha": 1}

    def apply(self, g):
        alpha = self._saved[0] if self._saved else 1
        return g, (g if alpha == 1 else g * alpha)

    _raw = apply  # operators and numbers only: the same formula on arrays

    _frees = False


@op("add")
def add(input, other, *, alpha=1, out=None):
    if out is not None:
        return write_out(out, "add", (input, other), lambda: add(input, other, alpha=alpha),
                         exact_dtype=False)
    if isinstance(input, Tensor) and alpha == 1:
        d = input._data
        t = type(other)
        if (t is float or t is int) and (input._requires_grad or d.dtype.kind == "f"):
            # fast path: float tensor + Python number keeps the tensor's dtype (NEP 50 = PyTorch);
            # only float tensors can require grad, so that flag alone proves a float tensor
            if input._requires_grad and _ag._enabled:
                return result1(d + other, AddScalarBackward0, input, (), 2)
            return _make(d + other, input)
        if isinstance(other, Tensor) and _both_cpu(input, other) and d.dtype is other._data.dtype:
            # fast path: two CPU tensors of one dtype
            if _alloc.on and d.size * other._data.size > _alloc.floor:
                _alloc.check_broadcast("add", d, other._data)
            try:
                r = _make(d + other._data)
            except ValueError:
                raise broadcast_error(d.shape, other._data.shape) from None
            if _ag._enabled and (input._requires_grad or other._requires_grad):
                record(r, AddBackward0, (input, other))
            return r
    ad, bd, dev = _prep(input, other)
    if alpha != 1:
        bd = bd * alpha
    data = _apply2(operator.add, ad, bd, input, other)
    r = _out(data, dev)
    if _ag._enabled and (
        (isinstance(input, Tensor) and input._requires_grad)
        or (isinstance(other, Tensor) and other._requires_grad)
    ):
        if not isinstance(input, Tensor):
            input, other = other, input
        record(r, AddBackward0, (input, other), (alpha,) if alpha != 1 else ())
    return r


class AddScalarBackward0(AddBackward0):
    """AddBackward0 for tensor + Python number (saves nothing)."""

    __slots__ = ()

    def apply(self, g):
        return g, None

    def _raw(self, g):
        return g, None


AddScalarBackward0.__name__ = AddScalarBackward0.__qualname__ = "AddBackward0"


class SubBackward0(Node):
    __slots__ = ()
    formula = ("grad", "-grad * alpha")
    saved_names = ("alpha",)
    saved_defaults = {"alpha": 1}

    def apply(self, g):
        alpha = self._saved[0] if self._saved else 1
        return g, (-g if alpha == 1 else g * -alpha)

    _raw = apply  # operators and numbers only: the same formula on arrays

    _frees = False


class RsubBackward0(Node):
    __slots__ = ()
    formula = ("-grad * alpha", "grad")
    saved_names = ("alpha",)
    saved_defaults = {"alpha": 1}

    def apply(self, g):
        alpha = self._saved[0] if self._saved else 1
        return (-g if alpha == 1 else g * -alpha), g

    _raw = apply

    _frees = False


class RsubBackward1(Node):
    __slots__ = ()
    formula = ("-grad * alpha",)
    saved_names = ("alpha",)
    saved_defaults = {"alpha": 1}

    def apply(self, g):
        alpha = self._saved[0] if self._saved else 1
        return (-g if alpha == 1 else g * -alpha),

    _raw = apply

    _frees = False


@op("sub", aliases=("subtract",))
def sub(input, other, *, alpha=1, out=None):
    if out is not None:
        return write_out(out, "sub", (input, other), lambda: sub(input, other, alpha=alpha),
                         exact_dtype=False)
    if (isinstance(input, Tensor) and isinstance(other, Tensor) and alpha == 1
            and _both_cpu(input, other)):
        d, e = input._data, other._data
        if d.dtype is e.dtype and d.dtype.kind == "f":
            # fast path: two CPU float tensors of one dtype
            if _alloc.on and d.size * e.size > _alloc.floor:
                _alloc.check_broadcast("sub", d, e)
            try:
                r = _make(d - e)
            except ValueError:
                raise broadcast_error(d.shape, e.shape) from None
            if _ag._enabled and (input._requires_grad or other._requires_grad):
                record(r, SubBackward0, (input, other))
            return r
    if isinstance(input, Tensor) and input._data.dtype == np.bool_ and isinstance(other, Tensor) and other._data.dtype == np.bool_:
        raise TorchRuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead."
        )
    ad, bd, dev = _prep(input, other)
    if alpha != 1:
        bd = bd * alpha
    data = _apply2(operator.sub, ad, bd, input, other)
    r = _out(data, dev)
    if _ag._enabled:
        if isinstance(input, Tensor):
            if input._requires_grad or (isinstance(other, Tensor) and other._requires_grad):
                record(r, SubBackward0, (input, other), (alpha,) if alpha != 1 else ())
        elif other._requires_grad:  # torch.sub(2, x): the number is a wrapped tensor
            record(r, SubBackward0, (input, other), (alpha,) if alpha != 1 else ())
    return r


@op("rsub", method=False)
def rsub(input, other, *, alpha=1):
    """other - alpha * input (what `number - tensor` calls)."""
    if not isinstance(input, Tensor):
        raise GradcalcTypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                                f"{type(input).__name__}")
    ad, bd, dev = _prep(input, other)
    if alpha != 1:
        ad = ad * alpha
    r = _out(_apply2(operator.sub, bd, ad, other, input), dev)
    if _ag._enabled:
        saved = (alpha,) if alpha != 1 else ()
        if isinstance(other, Tensor):
            if input._requires_grad or other._requires_grad:
                record(r, RsubBackward0, (input, other), saved)
        elif input._requires_grad:
            record(r, RsubBackward1, (input,), saved)
    return r


def _raw_operands(node, dt):
    """A two-tensor node's saved operands as arrays (None where not saved), or None unless every
    saved one is a tensor of dtype `dt` (then NumPy's arithmetic is PyTorch's)."""
    out = []
    for v in node._unpack():
        if v is None:
            out.append(None)
        elif isinstance(v, Tensor) and v._data.dtype is dt:
            out.append(v._data)
        else:
            return None
    return out


class MulBackward0(Node):
    __slots__ = ()
    formula = ("grad * other", "grad * self")
    saved_names = ("self", "other")
    pack_order = (1, 0)  # saved_tensors_hooks see `other` first, as PyTorch saves it

    def apply(self, g):
        a, b = self._unpack()
        return (
            g * b if self._next[0] is not None else None,
            g * a if self._next[1] is not None else None,
        )

    def _raw(self, g):
        ops = _raw_operands(self, g.dtype)
        if ops is None:
            return self._raw_via_apply(g)
        a, b = ops
        return (
            g * b if self._next[0] is not None else None,
            g * a if self._next[1] is not None else None,
        )


class MulScalarBackward0(MulBackward0):
    """MulBackward0 for tensor * Python number: the saved scalar needs no version check."""

    __slots__ = ()

    def apply(self, g):
        saved = self._saved
        if saved is FREED:
            raise GradError(FREED_MESSAGE)
        return g * saved[1], None

    def _raw(self, g):
        saved = self._saved
        if saved is FREED:
            raise GradError(FREED_MESSAGE)
        return g * saved[1], None


MulScalarBackward0.__name__ = MulScalarBackward0.__qualname__ = "MulBackward0"


@op("mul", aliases=("multiply",))
def mul(input, other, *, out=None):
    if out is not None:
        return write_out(out, "mul", (input, other), lambda: mul(input, other), exact_dtype=False)
    if isinstance(input, Tensor):
        d = input._data
        t = type(other)
        if (t is float or t is int) and (input._requires_grad or d.dtype.kind == "f"):
            # fast path: float tensor * Python number keeps the tensor's dtype (as in add)
            if input._requires_grad and _ag._enabled:
                return result1(d * other, MulScalarBackward0, input, (None, other), 2)
            return _make(d * other, input)
        if isinstance(other, Tensor) and _both_cpu(input, other):
            bd = other._data
            if d.dtype is bd.dtype:
                # fast path: two CPU tensors of one dtype
                if _alloc.on and d.size * bd.size > _alloc.floor:
                    _alloc.check_broadcast("mul", d, bd)
                try:
                    r = _make(d * bd)
                except ValueError:
                    raise broadcast_error(d.shape, bd.shape) from None
                if _ag._enabled and (input._requires_grad or other._requires_grad):
                    record(r, MulBackward0, (input, other), (
                        input if other._requires_grad else None,
                        other if input._requires_grad else None))
                return r
    ad, bd, dev = _prep(input, other)
    data = _apply2(operator.mul, ad, bd, input, other)
    r = _out(data, dev)
    if _ag._enabled:
        ra = isinstance(input, Tensor) and input._requires_grad
        rb = isinstance(other, Tensor) and other._requires_grad
        if ra or rb:
            if not isinstance(input, Tensor):
                input, other = other, input
                ra, rb = rb, ra
            # PyTorch saves `self` only when `other` needs a gradient, and vice versa
            record(r, MulBackward0, (input, other), (input if rb else None, other if ra else None))
    return r


class DivBackward0(Node):
    __slots__ = ()
    formula = ("grad / other", "-grad * self / other**2")
    saved_names = ("self", "other")

    def apply(self, g):
        a, b = self._unpack()
        ga = g / b if self._next[0] is not None else None
        gb = -g * a / (b * b) if self._next[1] is not None else None
        return ga, gb

    def _raw(self, g):
        ops = _raw_operands(self, g.dtype)
        if ops is None:
            return self._raw_via_apply(g)
        a, b = ops
        ga = g / b if self._next[0] is not None else None
        gb = -g * a / (b * b) if self._next[1] is not None else None
        return ga, gb


@op("div", aliases=("divide", "true_divide"))
def div(input, other, *, rounding_mode=None, out=None):
    if out is not None:
        return write_out(out, "div", (input, other),
                         lambda: div(input, other, rounding_mode=rounding_mode), exact_dtype=False)
    if rounding_mode in ("floor", "trunc"):
        return _rounded_div(input, other, rounding_mode)
    if not isinstance(input, Tensor):
        # scalar / tensor is recorded as PyTorch does: mul(reciprocal(tensor), scalar)
        return mul(reciprocal(other), input)
    ad, bd, dev = _prep(input, other, true_div=True)
    data = _apply2(operator.truediv, ad, bd, input, other)
    r = _out(data, dev)
    if _ag._enabled:
        ra = input._requires_grad
        rb = isinstance(other, Tensor) and other._requires_grad
        if ra or rb:
            record(r, DivBackward0, (input, other), (input if rb else None, other))
    return r


class DivBackward1(Node):
    """tensor / Scalar from inside an op (PyTorch's div.Scalar overload, e.g. a loss's mean)."""

    __slots__ = ()
    formula = ("grad / other",)
    saved_names = ("other",)

    def apply(self, g):
        return (g / self._saved[0],)

    _frees = False


class MulBackward1(Node):
    """tensor * Scalar from inside an op (PyTorch's mul.Scalar overload)."""

    __slots__ = ()
    formula = ("grad * other",)
    saved_names = ("other",)

    def apply(self, g):
        return (g * self._saved[0],)

    _frees = False


class AddBackward1(Node):
    """tensor + Scalar from inside an op (PyTorch's add.Scalar overload)."""

    __slots__ = ()
    formula = ("grad",)

    def apply(self, g):
        return (g,)

    _frees = False


def _scalar_overload(fn, cls, input, other, saved):
    with _ag.no_grad():
        r = fn(input, other)
    if _ag._enabled and input._requires_grad:
        record(r, cls, (input,), saved)
    return r


def div_scalar(input, other):
    """input / other for a Python number, recorded as DivBackward1 (not DivBackward0).

    PyTorch records the Scalar overloads (DivBackward1, MulBackward1, AddBackward1) where its
    C++ code combines a tensor with a number; Python's `t / 2` records DivBackward0.
    """
    return _scalar_overload(div, DivBackward1, input, other, (other,))


def mul_scalar(input, other):
    """input * other for a Python number, recorded as MulBackward1."""
    return _scalar_overload(mul, MulBackward1, input, other, (other,))


def add_scalar(input, other):
    """input + other for a Python number, recorded as AddBackward1."""
    return _scalar_overload(add, AddBackward1, input, other, ())


def _int_zero_check(bd):
    xp = np if isinstance(bd, (np.ndarray, np.generic, int)) else None
    if xp is not None and np.any(np.asarray(bd) == 0):
        raise TorchRuntimeError("ZeroDivisionError")


class NotImplementedNode(Node):
    """PyTorch's grad_fn for an op without a derivative: it records, and backward refuses."""

    __slots__ = ()
    formula = ("not implemented",)
    saved_names = ("op",)

    def apply(self, g):
        raise TorchRuntimeError(f"derivative for aten::{self._saved[0]} is not implemented")

    _frees = False


NotImplementedNode.__name__ = NotImplementedNode.__qualname__ = "NotImplemented"


def _record_not_implemented(r, op_name, *operands):
    ts = tuple(t for t in operands if isinstance(t, Tensor))
    if _ag._enabled and any(t._requires_grad for t in ts):
        record(r, NotImplementedNode, ts, (op_name,))
    return r


class DivBackward2(Node):
    """div with a rounding mode: a step function, so zero gradients (PyTorch's DivBackward2)."""

    __slots__ = ()
    formula = ("0", "0")
    saved_names = ("rounding_mode",)

    def apply(self, g):
        return tuple(None if e is None else g * 0 for e in self._next)

    _raw = apply  # operators only
    _frees = False


@op("floor_divide", differentiable=False)
def floor_divide(input, other):
    # PyTorch records NotImplemented: backward through // raises
    return _record_not_implemented(_floor_div(input, other), "floor_divide", input, other)


def _floor_div(input, other):
    ad, bd, dev = _prep(input, other)
    if _kind(ad) in "biu" and _kind(bd) in "biu":
        _int_zero_check(bd)
    with np.errstate(divide="ignore", invalid="ignore"):
        data = _apply2(np.floor_divide if dev is None else _xp(dev).floor_divide, ad, bd, input, other)
    return _out(data, dev)


def _trunc_div(input, other):
    ad, bd, dev = _prep(input, other)
    xp = _xp(dev)
    with np.errstate(divide="ignore", invalid="ignore"):
        if _kind(ad) in "biu" and _kind(bd) in "biu":
            _int_zero_check(bd)
            q = xp.trunc(xp.true_divide(ad, bd)).astype(np.result_type(ad, bd))
        else:
            q = xp.trunc(xp.true_divide(ad, bd))
    return _out(q, dev)


def _rounded_div(input, other, mode):
    """div(input, other, rounding_mode=mode), recorded as PyTorch's DivBackward2."""
    r = _floor_div(input, other) if mode == "floor" else _trunc_div(input, other)
    ts = tuple(t for t in (input, other) if isinstance(t, Tensor))
    if _ag._enabled and any(t._requires_grad for t in ts):
        record(r, DivBackward2, ts, (mode,))
    return r


class RemainderBackward0(Node):
    # remainder(Tensor, Scalar): PyTorch's overload 0, one input edge
    __slots__ = ()
    formula = ("grad",)

    def apply(self, g):
        return (g,)

    def _release(self):
        pass


class RemainderBackward1(Node):
    __slots__ = ()
    formula = ("grad", "-grad * floor(self / other)")
    saved_names = ("self", "other")

    def apply(self, g):
        a, b = self._unpack()
        gb = None
        if self._next[1] is not None:
            gb = -g * _rounded_div(a, b, "floor")  # PyTorch: self.div(other, "floor")
        return g, gb


@op("remainder")
def remainder(input, other):
    ad, bd, dev = _prep(input, other)
    if _kind(ad) in "biu" and _kind(bd) in "biu":
        _int_zero_check(bd)
    with np.errstate(divide="ignore", invalid="ignore"):
        data = _apply2(np.remainder if dev is None else _xp(dev).remainder, ad, bd, input, other)
    r = _out(data, dev)
    if _ag._enabled and isinstance(input, Tensor) and (
        input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
    ):
        if isinstance(other, Tensor):
            record(r, RemainderBackward1, (input, other), (input, other))
        else:
            record(r, RemainderBackward0, (input,))
    elif not isinstance(input, Tensor):  # number % tensor: PyTorch has no derivative for it
        _record_not_implemented(r, "remainder", other)
    return r


class FmodBackward0(RemainderBackward0):
    # fmod(Tensor, Scalar)
    __slots__ = ()


class FmodBackward1(Node):
    __slots__ = ()
    formula = ("grad", "-grad * trunc(self / other)")
    saved_names = ("self", "other")

    def apply(self, g):
        a, b = self._unpack()
        gb = None
        if self._next[1] is not None:
            gb = -g * _rounded_div(a, b, "trunc")
        return g, gb


@op("fmod")
def fmod(input, other):
    ad, bd, dev = _prep(input, other)
    r = _out(_apply2(_xp(dev).fmod, ad, bd, input, other), dev)
    if _ag._enabled and isinstance(input, Tensor) and (
        input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
    ):
        if isinstance(other, Tensor):
            record(r, FmodBackward1, (input, other), (input, other))
        else:
            record(r, FmodBackward0, (input,))
    return r


class PowBackward0(Node):
    __slots__ = ()
    formula = ("grad * exponent * self**(exponent - 1)",)
    saved_names = ("self", "exponent")

    def apply(self, g):
        a, e = self._unpack()
        if e == 0:
            return (g * 0,)
        if e == 2:
            return (g * (a * 2),)
        return (g * (pow(a, e - 1) * e),)

    def _raw(self, g):
        a, e = self._unpack()
        if type(e) not in (int, float) or not isinstance(a, Tensor) or a._data.dtype is not g.dtype:
            return self._raw_via_apply(g)
        if e == 0:
            return (g * 0,)
        if e == 2:
            return (g * (a._data * 2),)
        return (g * (np.power(a._data, e - 1) * e),)


class PowBackward1(Node):
    __slots__ = ()
    formula = ("grad * exponent * self**(exponent - 1)", "grad * self**exponent * log(self)")
    saved_names = ("self", "exponent", "result")

    def apply(self, g):
        a, e, res = self._unpack()
        ga = gb = None
        if self._next[0] is not None:
            ga = g * e * pow(a, e - 1)
            ga = where(e == 0, zeros_like_(ga), ga)
        if self._next[1] is not None:
            r = unpack_out(self, res)
            gb = g * r * log(a)
            gb = where((a == 0) & (e >= 0), zeros_like_(gb), gb)
        return ga, gb


class PowBackward2(Node):
    __slots__ = ()
    formula = ("grad * self**exponent * log(self)",)
    saved_names = ("self", "result")

    def apply(self, g):
        base, res = self._unpack()
        r = unpack_out(self, res)
        if base > 0:
            return (g * r * math.log(base),)
        if base < 0:
            return (g * math.nan,)  # log of a negative base (PyTorch: nan)
        # base 0: PyTorch masks exponent >= 0 to 0; a negative exponent gives inf * log(0)
        return (where(r > 1, g * -math.inf, g * 0),)


def zeros_like_(t):
    return _make(_xp(t.device).zeros_like(t._data), t)


@op("pow")
def pow(input, exponent):
    if not isinstance(input, Tensor):
        return _rpow(input, exponent)
    ad, bd, dev = _prep(input, exponent)
    if isinstance(exponent, Tensor) is False and _kind(ad) in "iu" and isinstance(bd, int) and bd < 0:
        raise TorchRuntimeError("Integers to negative integer powers are not allowed.")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        data = _apply2(np.power if dev is None else _xp(dev).power, ad, bd, input, exponent)
    r = _out(data, dev)
    if _ag._enabled:
        if isinstance(exponent, Tensor):
            if input._requires_grad or exponent._requires_grad:
                record(r, PowBackward1, (input, exponent), (input, exponent, save_out(r)))
        elif input._requires_grad:
            record(r, PowBackward0, (input,), (input, exponent))
    return r


def _rpow(base, t):
    ad, bd, dev = _prep(base, t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        data = _apply2(_xp(dev).power, ad, bd, base, t)
    r = _out(data, dev)
    if _ag._enabled and t._requires_grad:
        record(r, PowBackward2, (t,), (base, save_out(r)))
    return r


@op("float_power")
def float_power(input, exponent):
    a = input.to(as_dtype("float64")) if isinstance(input, Tensor) else float(input)
    e = exponent.to(as_dtype("float64")) if isinstance(exponent, Tensor) else exponent
    return pow(a, e)


class NegBackward0(Node):
    __slots__ = ()
    formula = ("-grad",)

    def apply(self, g):
        return (-g,)

    _raw = apply


def _unary_same(x, fn_name, node_cls, saved_fn=None):
    d = x._data
    xp = np if x._x is None else x._xp()
    r = _out(getattr(xp, fn_name)(d), None if x._x is None else x._x.device)
    if _ag._enabled and x._requires_grad:
        record(r, node_cls, (x,), saved_fn(x, r) if saved_fn else ())
    return r


@op("neg", aliases=("negative",))
def neg(input):
    if input._data.dtype == np.bool_:
        raise TorchRuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return _unary_same(input, "negative", NegBackward0)


@op("positive", differentiable=False)
def positive(input):
    return input


# --- unary math -------------------------------------------------------------------------------


def _float_input(x):
    d = x._data
    if d.dtype.kind in "biu":
        d = d.astype(get_default_dtype().np)
    return d


def _unary_type_error(x, node_cls):
    return GradcalcTypeError(
        f"{node_cls.__name__[:-9].lower()}(): argument 'input' (position 1) must be Tensor, "
        f"not {type(x).__name__}"
    )


_UNARY = []


def _unary_op(name, npname, grad, formula, save, aliases=(), raw=None):
    """Define one float unary op from its derivative (a function of grad, self, result).

    `raw` is the same derivative on NumPy arrays, for the engine's no-graph path (True: the
    formula itself, when it uses only arithmetic operators, which arrays and tensors share).
    """
    if raw is True:
        raw = grad

    def apply(self, g):
        (s,) = self._unpack() if save else (None,)
        if save == 2:
            return (grad(g, None, unpack_out(self, s)),)
        return (grad(g, s, None),)

    ns = {"__slots__": (), "formula": (formula,), "apply": apply,
          "saved_names": ("self",) if save == 1 else ("result",) if save == 2 else ()}
    if raw is not None:
        if save == 2:
            def _raw(self, g):
                (s,) = self._unpack()
                return (raw(g, None, s.data),)
        else:
            def _raw(self, g):
                (s,) = self._unpack()
                return (raw(g, s._data, None),)
        ns["_raw"] = _raw
    cls = type(f"{name.capitalize()}Backward0" if name != "log1p" else "Log1PBackward0", (Node,), ns)
    npfn = getattr(np, npname)

    def fn(input):
        # A float-valued unary op: ints promote to the default dtype, as in PyTorch. (The body
        # is written out here rather than calling a shared helper: one Python call less on
        # every unary op, forward and backward.)
        if (isinstance(input, Tensor) and input._requires_grad and _ag._enabled
                and (input._x is None or input._x.device is CPU)):
            # the hot path: a float CPU tensor that records (only float tensors require grad)
            if save == 1:
                return result1(npfn(input._data), cls, input, (input,), 1)
            return result1(npfn(input._data), cls, input, (), 1, save == 2)
        if not isinstance(input, Tensor):
            raise _unary_type_error(input, cls)
        d = input._data
        if d.dtype.kind in "biu":
            d = d.astype(get_default_dtype().np)
        xx = input._x
        data = npfn(d) if xx is None or xx.device is CPU else getattr(input._xp(), npname)(d)
        if input._requires_grad and _ag._enabled:
            if save == 1:
                return result1(data, cls, input, (input,), 1)
            return result1(data, cls, input, (), 1, save == 2)
        return _make(data, input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name}."
    op(name, aliases=aliases)(fn)
    _UNARY.append(name)
    globals()[name] = fn
    globals()[cls.__name__] = cls
    return fn


_unary_op("exp", "exp", lambda g, s, r: g * r, "grad * result", 2, raw=True)
_unary_op("exp2", "exp2", lambda g, s, r: g * r * math.log(2.0), "grad * result * ln 2", 2,
          raw=True)
_unary_op("expm1", "expm1", lambda g, s, r: g * (r + 1), "grad * (result + 1)", 2, raw=True)
_unary_op("log", "log", lambda g, s, r: g / s, "grad / self", 1, raw=True)
_unary_op("log2", "log2", lambda g, s, r: g / (s * math.log(2.0)), "grad / (self * ln 2)", 1,
          raw=True)
_unary_op("log10", "log10", lambda g, s, r: g / (s * math.log(10.0)), "grad / (self * ln 10)", 1,
          raw=True)
_unary_op("log1p", "log1p", lambda g, s, r: g / (s + 1), "grad / (self + 1)", 1, raw=True)
_unary_op("sqrt", "sqrt", lambda g, s, r: g / (r * 2), "grad / (2 * result)", 2, raw=True)
_unary_op("sin", "sin", lambda g, s, r: g * cos(s), "grad * cos(self)", 1,
          raw=lambda g, s, r: g * np.cos(s))
_unary_op("cos", "cos", lambda g, s, r: g * -sin(s), "grad * -sin(self)", 1,
          raw=lambda g, s, r: g * -np.sin(s))
_unary_op("tan", "tan", lambda g, s, r: g * (r * r + 1), "grad * (1 + result**2)", 2, raw=True)
_unary_op("asin", "arcsin", lambda g, s, r: g * rsqrt(-(s * s) + 1), "grad / sqrt(1 - self**2)", 1, ("arcsin",),
          raw=lambda g, s, r: g * (1 / np.sqrt(-(s * s) + 1)))
_unary_op("acos", "arccos", lambda g, s, r: g * -rsqrt(-(s * s) + 1), "-grad / sqrt(1 - self**2)", 1, ("arccos",),
          raw=lambda g, s, r: g * -(1 / np.sqrt(-(s * s) + 1)))
_unary_op("atan", "arctan", lambda g, s, r: g / (s * s + 1), "grad / (1 + self**2)", 1, ("arctan",),
          raw=True)
_unary_op("sinh", "sinh", lambda g, s, r: g * cosh(s), "grad * cosh(self)", 1,
          raw=lambda g, s, r: g * np.cosh(s))
_unary_op("cosh", "cosh", lambda g, s, r: g * sinh(s), "grad * sinh(self)", 1,
          raw=lambda g, s, r: g * np.sinh(s))
_unary_op("tanh", "tanh", lambda g, s, r: g * (-(r * r) + 1), "grad * (1 - result**2)", 2,
          raw=True)
_unary_op("asinh", "arcsinh", lambda g, s, r: g * rsqrt(s * s + 1), "grad / sqrt(self**2 + 1)", 1, ("arcsinh",),
          raw=lambda g, s, r: g * (1 / np.sqrt(s * s + 1)))
_unary_op("acosh", "arccosh", lambda g, s, r: g * rsqrt(s * s - 1), "grad / sqrt(self**2 - 1)", 1, ("arccosh",),
          raw=lambda g, s, r: g * (1 / np.sqrt(s * s - 1)))
_unary_op("atanh", "arctanh", lambda g, s, r: g / (-(s * s) + 1), "grad / (1 - self**2)", 1, ("arctanh",),
          raw=True)


class RsqrtBackward0(Node):
    __slots__ = ()
    formula = ("-0.5 * grad * result**3",)
    saved_names = ("result",)

    def apply(self, g):
        (s,) = self._unpack()
        r = unpack_out(self, s)
        return (g * (r * r * r) * -0.5,)


@op("rsqrt")
def rsqrt(input):
    d = _float_input(input)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = _out(1 / input._xp().sqrt(d), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, RsqrtBackward0, (input,), (save_out(r),))
    return r


class ReciprocalBackward0(Node):
    __slots__ = ()
    formula = ("-grad * result**2",)
    saved_names = ("result",)

    def apply(self, g):
        (s,) = self._unpack()
        r = unpack_out(self, s)
        return (-g * (r * r),)


@op("reciprocal")
def reciprocal(input):
    d = _float_input(input)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = _out(input._xp().reciprocal(d), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, ReciprocalBackward0, (input,), (save_out(r),))
    return r


@op("square")
def square(input):
    if input._data.dtype == np.bool_:
        input = input.to(as_dtype("int64"))
    return pow(input, 2)


class SigmoidBackward0(Node):
    __slots__ = ()
    formula = ("grad * result * (1 - result)",)
    saved_names = ("result",)

    def apply(self, g):
        (s,) = self._unpack()
        r = unpack_out(self, s)
        return (g * (r * (-r + 1)),)

    def _raw(self, g):
        (s,) = self._unpack()
        r = s.data
        return (g * (r * (-r + 1)),)


@op("sigmoid")
def sigmoid(input):
    d = _float_input(input)
    xp = input._xp()
    with np.errstate(over="ignore"):
        data = xp.exp(-xp.logaddexp(0, -d)) if d.dtype.kind == "f" else 1 / (1 + xp.exp(-d))
    r = _out(data.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, SigmoidBackward0, (input,), (save_out(r),))
    return r


class AbsBackward0(Node):
    __slots__ = ()
    formula = ("grad * sign(self)",)
    saved_names = ("self",)

    def apply(self, g):
        (s,) = self._unpack()
        return (g * sign(s),)


@op("abs", aliases=("absolute",))
def abs(input):
    return _unary_same(input, "abs", AbsBackward0, lambda x, r: (x,))


class SignBackward0(Node):
    __slots__ = ()
    formula = ("0",)

    def apply(self, g):
        return (g * 0,)


@op("sign")
def sign(input):
    if input._data.dtype == np.bool_:
        return input.clone()
    return _unary_same(input, "sign", SignBackward0)


class SgnBackward0(SignBackward0):
    __slots__ = ()


@op("sgn")
def sgn(input):
    if input._data.dtype == np.bool_:
        return input.clone()
    return _unary_same(input, "sign", SgnBackward0)


def _rounding(name, npname):
    cls = type(f"{name.capitalize()}Backward0", (Node,), {
        "__slots__": (), "formula": ("0",), "apply": lambda self, g: (g * 0,)})

    def fn(input):
        if input._data.dtype.kind in "biu":
            return input.clone()
        return _unary_same(input, npname, cls)

    fn.__name__ = name
    op(name)(fn)
    globals()[cls.__name__] = cls
    globals()[name] = fn


_rounding("floor", "floor")
_rounding("ceil", "ceil")
_rounding("trunc", "trunc")


class RoundBackward0(Node):
    __slots__ = ()
    formula = ("0",)

    def apply(self, g):
        return (g * 0,)


class RoundBackward1(RoundBackward0):
    """round(decimals=..): PyTorch's overload with decimals records its own node."""

    __slots__ = ()
    saved_names = ("decimals",)
    _frees = False


@op("round")
def round(input, *, decimals=None):
    if decimals is None:
        if input._data.dtype.kind in "biu":
            return input.clone()
        cls, decimals = RoundBackward0, 0
    else:
        if input._data.dtype.kind in "biu":
            from ..errors import GradcalcNotImplementedError

            name = _FROM_NP[input._data.dtype].scalar_name
            raise GradcalcNotImplementedError(f"\"round_cpu\" not implemented for '{name}'")
        cls = RoundBackward1
    r = _out(input._xp().round(input._data, decimals), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, cls, (input,), (decimals,) if cls is RoundBackward1 else ())
    return r


class FracBackward0(Node):
    __slots__ = ()
    formula = ("grad",)

    def apply(self, g):
        return (g,)


@op("frac")
def frac(input):
    d = input._data
    r = _out(d - input._xp().trunc(d), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, FracBackward0, (input,))
    return r


# --- activations ------------------------------------------------------------------------------


class ReluBackward0(Node):
    __slots__ = ()
    formula = ("grad * (result > 0)",)
    saved_names = ("result",)

    def apply(self, g):
        # NOTE: relu'(0) = 0, as in PyTorch (the mask is taken on the result), and a +0 where
        # the input was cut (PyTorch's threshold_backward selects 0, never -g * 0 = -0).
        (s,) = self._unpack()
        xp = g._xp()
        return (where(_make(s.data > 0, g), g, _make(xp.zeros((), dtype=g._data.dtype), g)),)

    def _raw(self, g):
        (s,) = self._unpack()
        r = np.multiply(g, s.data > 0, dtype=np.result_type(g))
        r += 0.0  # -0 (a negative g times the mask's 0) becomes +0: NumPy's where is 3x slower
        return (r,)


@op("relu")
def relu(input):
    d = input._data
    xp = input._xp()
    r = _out(xp.maximum(d, 0).astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, ReluBackward0, (input,), (save_out(r),))
    return r


class LeakyReluBackward0(Node):
    __slots__ = ()
    formula = ("grad * (self > 0 ? 1 : negative_slope)",)
    saved_names = ("self", "negative_slope")

    def apply(self, g):
        s, slope = self._unpack()
        return (where(s > 0, g, g * slope),)


@op("leaky_relu", method=False)
def leaky_relu(input, negative_slope=0.01, inplace=False):
    d = input._data
    xp = input._xp()
    r = _out(xp.where(d > 0, d, d * negative_slope).astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, LeakyReluBackward0, (input,), (input, negative_slope))
    return r


class EluBackward0(Node):
    __slots__ = ()
    formula = ("grad * (self > 0 ? 1 : alpha * exp(self))",)
    saved_names = ("self", "alpha")

    def apply(self, g):
        s, alpha = self._unpack()
        return (g * where(s > 0, ones_like_(s), exp(s) * alpha),)


def ones_like_(t):
    return _make(_xp(t.device).ones_like(t._data), t)


@op("elu", method=False)
def elu(input, alpha=1.0, inplace=False):
    d = input._data
    xp = input._xp()
    with np.errstate(over="ignore"):
        r = _out(xp.where(d > 0, d, alpha * xp.expm1(d)).astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, EluBackward0, (input,), (input, alpha))
    return r


class GeluBackward0(Node):
    __slots__ = ()
    formula = ("grad * (Phi(self) + self * phi(self))",)
    saved_names = ("self", "approximate")

    def apply(self, g):
        s, approx = self._unpack()
        if approx == "tanh":
            k = math.sqrt(2 / math.pi)
            inner = (s + s * s * s * 0.044715) * k
            t = tanh(inner)
            dinner = (s * s * 0.134145 + 1) * k
            return (g * ((t + 1) * 0.5 + s * 0.5 * (-(t * t) + 1) * dinner),)
        cdf = (erf(s * (1 / math.sqrt(2))) + 1) * 0.5
        pdf = exp(s * s * -0.5) * (1 / math.sqrt(2 * math.pi))
        return (g * (cdf + s * pdf),)


def _erf_np(d):
    try:
        from math import erf as _e

        v = np.vectorize(_e, otypes=[np.float64])(d)
        return v.astype(d.dtype) if hasattr(d, "dtype") else v
    except Exception:  # pragma: no cover
        raise


class ErfBackward0(Node):
    __slots__ = ()
    formula = ("grad * 2 / sqrt(pi) * exp(-self**2)",)
    saved_names = ("self",)

    def apply(self, g):
        (s,) = self._unpack()
        return (g * exp(-(s * s)) * (2 / math.sqrt(math.pi)),)


@op("erf")
def erf(input):
    d = _float_input(input)
    xp = input._xp()
    if xp is np:
        data = np.asarray(_erf_np(d), dtype=d.dtype)
    else:
        import cupyx.scipy.special as sp  # noqa: PLC0415

        data = sp.erf(d)
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, ErfBackward0, (input,), (input,))
    return r


@op("gelu", method=False)
def gelu(input, approximate="none"):
    d = _float_input(input)
    with _ag.no_grad():
        x = _make(d, input)
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            data = (x * 0.5 * (tanh((x + x * x * x * 0.044715) * k) + 1))._data
        else:
            data = (x * 0.5 * (erf(x * (1 / math.sqrt(2))) + 1))._data
    r = _out(data.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, GeluBackward0, (input,), (input, approximate))
    return r


class SiluBackward0(Node):
    __slots__ = ()
    formula = ("grad * sigmoid(self) * (1 + self * (1 - sigmoid(self)))",)
    saved_names = ("self",)

    def apply(self, g):
        (s,) = self._unpack()
        sg = sigmoid(s)
        return (g * (sg * (s * (-sg + 1) + 1)),)


@op("silu", method=False)
def silu(input, inplace=False):
    with _ag.no_grad():
        data = (input * sigmoid(input))._data
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, SiluBackward0, (input,), (input,))
    return r


class SoftplusBackward0(Node):
    __slots__ = ()
    formula = ("grad * sigmoid(beta * self)",)
    saved_names = ("self", "beta", "threshold")

    def apply(self, g):
        s, beta, threshold = self._unpack()
        z = s * beta
        return (g * where(z > threshold, ones_like_(s), sigmoid(z)),)


@op("softplus", method=False)
def softplus(input, beta=1.0, threshold=20.0):
    d = _float_input(input)
    xp = input._xp()
    z = d * beta
    with np.errstate(over="ignore"):
        data = xp.where(z > threshold, d, xp.log1p(xp.exp(xp.minimum(z, threshold))) / beta)
    r = _out(data.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, SoftplusBackward0, (input,), (input, beta, threshold))
    return r


# --- clamp, minimum, maximum, where, lerp -----------------------------------------------------


class ClampBackward1(Node):
    __slots__ = ()
    formula = ("grad * (min <= self <= max)",)
    saved_names = ("self", "min", "max")

    def apply(self, g):
        # NOTE: at the bounds the gradient passes (PyTorch: clamp(0,1)' at 0 or 1 is 1).
        s, lo, hi = self._unpack()
        mask = np.ones(s._data.shape, dtype=bool) if s._xp() is np else s._xp().ones(s._data.shape, dtype=bool)
        d = s._data
        if lo is not None:
            mask = mask & (d >= lo)
        if hi is not None:
            mask = mask & (d <= hi)
        return (g * _make(mask, s),)


class ClampBackward0(Node):
    __slots__ = ()
    formula = ("grad * (min <= self <= max)", "grad * (self < min)", "grad * (self > max)")
    saved_names = ("self", "min", "max")

    def apply(self, g):
        s, lo, hi = self._unpack()
        inside = ones_like_(s).bool()
        glo = ghi = None
        if lo is not None:
            inside = inside & (s >= lo)
            if self._next[1] is not None:
                glo = g * (s < lo)
        if hi is not None:
            inside = inside & (s <= hi)
            if self._next[2] is not None:
                ghi = g * (s > hi)
        return g * inside, glo, ghi


@op("clamp", aliases=("clip",))
def clamp(input, min=None, max=None, *, _node_cls=None):
    _node_cls = _node_cls or ClampBackward1
    if min is None and max is None:
        raise TorchRuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, (Tensor, *_NUMBERS)):
            raise GradcalcTypeError(
                f"clamp(): argument 'min' and 'max' must be Number or Tensor, not "
                f"{type(bound).__name__}")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        d = input._data
        xp = input._xp()
        lo = min._data if isinstance(min, Tensor) else min
        hi = max._data if isinstance(max, Tensor) else max
        out = d
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        r = _out(out.astype(d.dtype, copy=False), input.device)
        if _ag._enabled and any(isinstance(t, Tensor) and t._requires_grad for t in (input, min, max)):
            record(r, ClampBackward0, (input, min, max), (input, min, max))
        return r
    d = input._data
    xp = input._xp()
    if d.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        d = d.astype(get_default_dtype().np)
    out = xp.clip(d, min, max)
    r = _out(out.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, _node_cls, (input,), (input, min, max))
    return r


class ClampMinBackward0(ClampBackward1):
    __slots__ = ()


class ClampMaxBackward0(ClampBackward1):
    __slots__ = ()


@op("clamp_min")
def clamp_min(input, min):
    if isinstance(min, Tensor):
        return clamp(input, min=min)
    return clamp(input, min=min, _node_cls=ClampMinBackward0)


@op("clamp_max")
def clamp_max(input, max):
    if isinstance(max, Tensor):
        return clamp(input, max=max)
    return clamp(input, max=max, _node_cls=ClampMaxBackward0)


class MaximumBackward0(Node):
    __slots__ = ()
    formula = ("grad * (self > other) + grad/2 * (self == other)",
               "grad * (other > self) + grad/2 * (self == other)")
    saved_names = ("self", "other")

    def apply(self, g):
        # NOTE: ties split the gradient evenly, as PyTorch does.
        a, b = self._unpack()
        tie = (a == b) * 0.5
        ga = g * ((a > b) + tie) if self._next[0] is not None else None
        gb = g * ((b > a) + tie) if self._next[1] is not None else None
        return ga, gb


class MinimumBackward0(Node):
    __slots__ = ()
    formula = ("grad * (self < other) + grad/2 * (self == other)",
               "grad * (other < self) + grad/2 * (self == other)")
    saved_names = ("self", "other")

    def apply(self, g):
        a, b = self._unpack()
        tie = (a == b) * 0.5
        ga = g * ((a < b) + tie) if self._next[0] is not None else None
        gb = g * ((b < a) + tie) if self._next[1] is not None else None
        return ga, gb


def _tensors_only(name, input, other):
    """PyTorch's TypeError for ops whose two operands must both be tensors."""
    for pos, (arg, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise GradcalcTypeError(f"{name}(): argument '{arg}' (position {pos}) must be "
                                    f"Tensor, not {type(value).__name__}")


@op("maximum")
def maximum(input, other):
    _tensors_only("maximum", input, other)
    ad, bd, dev = _prep(input, other)
    r = _out(_apply2(_xp(dev).maximum, ad, bd, input, other), dev)
    if _ag._enabled and (input._requires_grad or other._requires_grad):
        record(r, MaximumBackward0, (input, other), (input, other))
    return r


@op("minimum")
def minimum(input, other):
    _tensors_only("minimum", input, other)
    ad, bd, dev = _prep(input, other)
    r = _out(_apply2(_xp(dev).minimum, ad, bd, input, other), dev)
    if _ag._enabled and (input._requires_grad or other._requires_grad):
        record(r, MinimumBackward0, (input, other), (input, other))
    return r


class FmaxBackward0(Node):
    # NOTE: unlike maximum, a tie sends the whole gradient to self (PyTorch's formula)
    __slots__ = ()
    formula = ("grad * (self >= other or other is nan)", "grad * !(self >= other or other is nan)")
    saved_names = ("self", "other")
    _pick_self = staticmethod(lambda a, b: (a >= b) | b.isnan())

    def apply(self, g):
        a, b = self._unpack()
        keep = type(self)._pick_self(a, b)
        ga = g * keep if self._next[0] is not None else None
        gb = g * keep.logical_not() if self._next[1] is not None else None
        return ga, gb


class FminBackward0(FmaxBackward0):
    __slots__ = ()
    formula = ("grad * (self <= other or other is nan)", "grad * !(self <= other or other is nan)")
    _pick_self = staticmethod(lambda a, b: (a <= b) | b.isnan())


def _fext(input, other, name, node_cls):
    _tensors_only(name, input, other)
    ad, bd, dev = _prep(input, other)
    r = _out(_apply2(getattr(_xp(dev), name), ad, bd, input, other), dev)
    if _ag._enabled and (input._requires_grad or other._requires_grad):
        record(r, node_cls, (input, other), (input, other))
    return r


@op("fmax")
def fmax(input, other):
    return _fext(input, other, "fmax", FmaxBackward0)


@op("fmin")
def fmin(input, other):
    return _fext(input, other, "fmin", FminBackward0)


class WhereBackward0(Node):
    __slots__ = ()
    formula = ("grad * condition", "grad * !condition")
    saved_names = ("condition",)

    def apply(self, g):
        (c,) = self._unpack()
        z = zeros_like_(g)
        return (
            where(c, g, z) if self._next[0] is not None else None,
            where(c, z, g) if self._next[1] is not None else None,
        )


@op("where")
def where(condition, input=None, other=None):
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        condition = _make(np.asarray(condition, dtype=bool))
    cd = condition._data
    if cd.dtype != np.bool_:
        raise TorchRuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{_FROM_NP[cd.dtype].scalar_name}"
        )
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        # two Python scalars: a 0-d tensor of their promoted type (the default float for floats)
        input = _make(np.asarray(input, dtype=result_type(input, other).np))
    ad, bd, dev = _prep(input, other)
    dev = device_of(condition, *(t for t in (input, other) if isinstance(t, Tensor)))
    if dev is not CPU:
        # host operands (a 0-d CPU tensor, a list condition) move explicitly
        cd, ad, bd = (to_device(v, dev) if isinstance(v, (np.ndarray, np.generic)) else v
                      for v in (cd, ad, bd))
    if _alloc.on and cd.size * _size(ad) * _size(bd) > _alloc.floor:
        _alloc.check_broadcast("where", cd, ad, bd)
    try:
        data = _xp(dev).where(cd, ad, bd)
    except ValueError:
        sa, sb = _shape(input), _shape(other)
        raise broadcast_error(cd.shape, sa if sa != cd.shape else sb) from None
    rt = result_type(input, other)
    if data.dtype != rt.np:
        data = data.astype(rt.np)
    r = _out(data, dev)
    if _ag._enabled and (
        (isinstance(input, Tensor) and input._requires_grad)
        or (isinstance(other, Tensor) and other._requires_grad)
    ):
        record(r, WhereBackward0, (input, other), (condition,))
    return r


class LerpBackward0(Node):
    __slots__ = ()
    formula = ("grad * (1 - weight)", "grad * weight")
    saved_names = ("weight",)

    def apply(self, g):
        (w,) = self._unpack()
        return g * (-w + 1) if isinstance(w, Tensor) else g * (1 - w), g * w


class LerpBackward1(Node):
    __slots__ = ()
    formula = ("grad * (1 - weight)", "grad * weight", "grad * (end - self)")
    saved_names = ("self", "end", "weight")

    def apply(self, g):
        s, e, w = self._unpack()
        return g * (-w + 1), g * w, g * (e - s)


@op("lerp")
def lerp(input, end, weight):
    if isinstance(weight, Tensor):
        with _ag.no_grad():
            data = (input + weight * (end - input))._data
        r = _out(data, input.device)
        if _ag._enabled and any(isinstance(t, Tensor) and t._requires_grad for t in (input, end, weight)):
            record(r, LerpBackward1, (input, end, weight), (input, end, weight))
        return r
    with _ag.no_grad():
        data = (input + (end - input) * weight)._data
    r = _out(data, input.device)
    if _ag._enabled and (input._requires_grad or end._requires_grad):
        record(r, LerpBackward0, (input, end), (weight,))
    return r


class Atan2Backward0(Node):
    __slots__ = ()
    formula = ("grad * other / (self**2 + other**2)", "-grad * self / (self**2 + other**2)")
    saved_names = ("self", "other")

    def apply(self, g):
        a, b = self._unpack()
        den = a * a + b * b
        return g * b / den, -g * a / den


@op("atan2", aliases=("arctan2",))
def atan2(input, other):
    ad, bd, dev = _prep(input, other, float_only=True)
    r = _out(_apply2(_xp(dev).arctan2, ad, bd, input, other), dev)
    if _ag._enabled and (input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        record(r, Atan2Backward0, (input, other), (input, other))
    return r


class HypotBackward0(Node):
    __slots__ = ()
    formula = ("grad * self / result", "grad * other / result")
    saved_names = ("self", "other", "result")

    def apply(self, g):
        a, b, s = self._unpack()
        r = unpack_out(self, s)
        return g * a / r, g * b / r


@op("hypot")
def hypot(input, other):
    _tensors_only("hypot", input, other)
    ad, bd, dev = _prep(input, other, float_only=True)
    r = _out(_xp(dev).hypot(ad, bd), dev)
    if _ag._enabled and (input._requires_grad or other._requires_grad):
        record(r, HypotBackward0, (input, other), (input, other, save_out(r)))
    return r


# --- comparisons and logic (no gradient) ------------------------------------------------------


def _compare(name, npname):
    def fn(input, other):
        ad, bd, dev = _prep(input, other)
        return _out(_apply2(getattr(_xp(dev), npname), ad, bd, input, other), dev)

    fn.__name__ = name
    op(name, differentiable=False)(fn)
    globals()[name] = fn


for _n, _np_n in [("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                  ("gt", "greater"), ("ge", "greater_equal"), ("logical_and", "logical_and"),
                  ("logical_or", "logical_or"), ("logical_xor", "logical_xor")]:
    _compare(_n, _np_n)
for _alias, _target in [("greater", "gt"), ("less", "lt"), ("greater_equal", "ge"),
                        ("less_equal", "le"), ("not_equal", "ne")]:
    op(_alias, differentiable=False)(globals()[_target])


def _bitwise(name, npname):
    def fn(input, other):
        ad, bd, dev = _prep(input, other)
        if _kind(ad) == "f" or _kind(bd) == "f":
            raise TorchRuntimeError(f'"{name}_cpu" not implemented for \'Float\'')
        return _out(getattr(_xp(dev), npname)(ad, bd), dev)

    fn.__name__ = name
    op(name, differentiable=False)(fn)
    globals()[name] = fn


_bitwise("bitwise_and", "bitwise_and")
_bitwise("bitwise_or", "bitwise_or")
_bitwise("bitwise_xor", "bitwise_xor")


@op("logical_not", differentiable=False)
def logical_not(input):
    return _out(input._xp().logical_not(input._data), input.device)


@op("bitwise_not", differentiable=False)
def bitwise_not(input):
    d = input._data
    if d.dtype.kind == "f":
        raise TorchRuntimeError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return _out(input._xp().invert(d), input.device)


@op("isnan", differentiable=False)
def isnan(input):
    return _out(input._xp().isnan(input._data), input.device)


@op("isinf", differentiable=False)
def isinf(input):
    return _out(input._xp().isinf(input._data), input.device)


@op("isfinite", differentiable=False)
def isfinite(input):
    return _out(input._xp().isfinite(input._data), input.device)


@op("equal", differentiable=False)
def equal(input, other) -> bool:
    if input.shape != other.shape:
        return False
    return bool(to_bool(_xp(input.device).all(input._data == other._data)))


def to_bool(d) -> bool:
    from .backend import to_host

    return bool(to_host(d))


@op("allclose", differentiable=False)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return to_bool(input._xp().allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@op("isclose", differentiable=False)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    od = other._data if isinstance(other, Tensor) else other
    return _out(input._xp().isclose(input._data, od, rtol=rtol, atol=atol, equal_nan=equal_nan), input.device)


@op("nonzero", differentiable=False)
def nonzero(input, *, as_tuple=False):
    xp = input._xp()
    idx = xp.nonzero(input._data if input._data.ndim else input._data.reshape(1))
    if as_tuple:
        return tuple(_out(i.astype(np.int64), input.device) for i in idx)
    return _out(xp.stack(idx, axis=1).astype(np.int64) if idx else xp.zeros((0, 0), np.int64), input.device)


# --- copies and dtype/device changes -----------------------------------------------------------


class ToCopyBackward0(Node):
    __slots__ = ()
    formula = ("grad.to(self.dtype, self.device)",)
    saved_names = ("self_dtype", "self_device")

    def apply(self, g):
        dt, dev = self._saved
        return (g.to(dtype=dt, device=dev),)

    _frees = False


def to_copy(t, dtype=None, device=None, copy=False):
    """Tensor.to: the same tensor when nothing changes, else a ToCopyBackward0 result."""
    from .backend import to_device

    src_dt = _FROM_NP[t._data.dtype]
    src_dev = t.device
    dt = src_dt if dtype is None else dtype
    dev = src_dev if device is None else device
    if dt is src_dt and dev is src_dev and not copy:
        return t
    data = t._data
    if dev is not src_dev:
        data = to_device(data, dev)
    if dt is not src_dt:
        data = data.astype(dt.np)
    elif data is t._data:
        data = _xp(dev).array(data, copy=True)
    r = _out(data, dev)
    if _ag._enabled and t._requires_grad:
        if dt.kind >= 2:
            record(r, ToCopyBackward0, (t,), (src_dt, src_dev))
    return r


class CloneBackward0(Node):
    __slots__ = ()
    formula = ("grad",)

    def apply(self, g):
        return (g,)


@op("clone")
def clone(input, *, memory_format=None):
    r = _out(input._xp().array(input._data, copy=True), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, CloneBackward0, (input,))
    return r


@op("contiguous", function=False, differentiable=False)
def contiguous(input, memory_format=None):
    if input.is_contiguous():
        return input
    # clone keeps the layout (preserve_format); contiguous() must give a C-ordered copy
    r = _out(input._xp().ascontiguousarray(input._data), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, CloneBackward0, (input,))
    return r


# --- in-place ops -----------------------------------------------------------------------------


VIEW_INPLACE_MESSAGE = (
    "gradcalc does not support in-place operations that need a gradient on a view (a slice, "
    "reshape or transpose of another tensor), because the base tensor's history would not be "
    "updated (see docs/differences.md); use the out-of-place op, or index assignment on the "
    "base tensor itself"
)


def inplace(t, result):
    """Make `t` hold `result`: data written in place, history re-pointed, version bumped."""
    from .graph import as_array, check_inplace

    check_inplace(t)
    if result._grad_fn is not None:
        x = t._x
        if x is not None and x.base is not None:
            # NOTE: PyTorch would rebase the base tensor's history (CopySlices); refuse before
            # writing anything rather than leave the base with silently wrong gradients.
            raise TorchRuntimeError(VIEW_INPLACE_MESSAGE)
    d = t._data
    rd = result._data
    if rd.dtype != d.dtype:
        if rd.dtype.kind == "f" and d.dtype.kind in "biu":
            raise TorchRuntimeError(
                f"result type {_FROM_NP[rd.dtype].scalar_name} can't be cast to the desired "
                f"output type {_FROM_NP[d.dtype].scalar_name}"
            )
        rd = rd.astype(d.dtype)
    if rd.shape != d.shape:
        raise ShapeError(
            f"output with shape [{', '.join(map(str, d.shape))}] doesn't match the broadcast "
            f"shape [{', '.join(map(str, rd.shape))}]"
        )
    if isinstance(d, np.generic):
        t._data = as_array(rd).copy() if isinstance(rd, np.generic) else rd
    else:
        d[...] = rd
    if result._grad_fn is not None:
        t._grad_fn = result._grad_fn
        t._requires_grad = True
    t._bump_version()
    return t


def write_out(out, name, inputs, compute, exact_dtype=True):
    """PyTorch's `out=` contract: no autograd, resize (warning when out had elements), write.

    `compute()` runs the op; its result is written into `out`, which is returned.
    """
    if not isinstance(out, Tensor):
        raise GradcalcTypeError(
            f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}"
        )
    if _ag._enabled and (out._requires_grad or any(
            isinstance(t, Tensor) and t._requires_grad for t in inputs)):
        raise TorchRuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    r = compute()
    rd, od = r._data, out._data
    if rd.dtype != od.dtype:
        rt, ot = _FROM_NP[rd.dtype], _FROM_NP[od.dtype]
        if exact_dtype:
            raise TorchRuntimeError(
                f"Expected out tensor to have dtype {rt.cpp_name}, but got {ot.cpp_name} instead"
            )
        rk, ok = rd.dtype.kind, od.dtype.kind
        if (rk == "c" and ok != "c") or (rk == "f" and ok in "biu") or (rk != "b" and ok == "b"):
            raise TorchRuntimeError(
                f"result type {rt.scalar_name} can't be cast to the desired output type "
                f"{ot.scalar_name}"
            )
        rd = rd.astype(od.dtype)
    if out.device != r.device:
        raise TorchRuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{r.device} and {out.device}!"
        )
    if rd.shape != od.shape:
        if od.size:
            import warnings

            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"[{', '.join(map(str, od.shape))}], which does not match the required output "
                f"shape [{', '.join(map(str, rd.shape))}]. This behavior is deprecated, and in a "
                "future PyTorch release outputs will not be resized unless they have zero "
                "elements. You can explicitly reuse an out tensor t by resizing it, inplace, to "
                "zero elements with t.resize_(0).",
                UserWarning,
                stacklevel=3,
            )
        out._data = r._xp().array(rd, copy=True)
    elif isinstance(od, np.generic):
        out._data = np.array(rd, copy=True)
    else:
        od[...] = rd
    out._bump_version()
    return out


def _snapshot(t):
    """A stand-in for `t` before an in-place op: same history, its own copy of the data."""
    if not (_ag._enabled and t._requires_grad):
        return t
    s = _make(t._xp().array(t._data, copy=True), t)
    s._grad_fn = t._grad_fn
    s._requires_grad = t._requires_grad
    if t._x is not None:
        s._extras().output_nr = t._x.output_nr
    return s


def _inplace_binary(fn, name):
    def method(self, other, **kw):
        return inplace(self, fn(_snapshot(self), other, **kw))

    method.__name__ = name
    op(name, function=False, differentiable=False)(method)


_inplace_binary(add, "add_")
_inplace_binary(sub, "sub_")
_inplace_binary(mul, "mul_")
_inplace_binary(div, "div_")
_inplace_binary(pow, "pow_")
_inplace_binary(remainder, "remainder_")
_inplace_binary(floor_divide, "floor_divide_")
_inplace_binary(lerp, "lerp_")
_inplace_binary(maximum, "maximum_")
_inplace_binary(minimum, "minimum_")


def _inplace_unary(fn, name):
    def method(self, *args, **kw):
        return inplace(self, fn(_snapshot(self), *args, **kw))

    method.__name__ = name
    op(name, function=False, differentiable=False)(method)


for _n in ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg",
           "reciprocal", "floor", "ceil", "round", "trunc", "sign", "clamp", "square", "rsqrt",
           "log1p", "expm1", "tan", "atan", "sinh", "cosh"]:
    _inplace_unary(globals()[_n], _n + "_")
_inplace_unary(clamp, "clip_")


@op("zero_", function=False, differentiable=False)
def zero_(self):
    from .graph import check_inplace

    check_inplace(self)
    return _fill(self, 0, ZeroBackward0)


@op("fill_", function=False, differentiable=False)
def fill_(self, value):
    from .graph import check_inplace

    check_inplace(self)
    node = FillBackward2  # PyTorch's fill_.Scalar; fill_.Tensor is FillBackward3
    if isinstance(value, Tensor):
        value = value.item()
        node = FillBackward3
    elif not isinstance(value, _NUMBERS):
        raise GradcalcTypeError(
            f"fill_(): argument 'value' (position 1) must be Number, not {type(value).__name__}")
    return _fill(self, value, node)


def _fill(t, value, node_cls):
    from .graph import as_array, edges

    d = t._data
    if isinstance(d, np.generic):
        d = t._data = as_array(d).copy()
    if t._grad_fn is not None and _ag._enabled:
        x = t._x
        if x is not None and x.base is not None:
            raise TorchRuntimeError(VIEW_INPLACE_MESSAGE)  # the base's history (CopySlices)
        # the result is a constant: its node sends zeros to the old history, as PyTorch's
        node = _ag.Node.__new__(node_cls)
        _ag.Node.__init__(node, edges((t,)), d.shape, d.dtype)
        d[...] = value
        t._grad_fn = node
        if t._x is not None:
            t._x.output_nr = 0
    else:
        d[...] = value
    t._bump_version()
    return t


class FillBackward2(Node):
    __slots__ = ()
    formula = ("zeros_like(grad)",)

    def apply(self, g):
        return (_make(g._xp().zeros_like(g._data), g),)

    _frees = False


class FillBackward3(FillBackward2):
    __slots__ = ()


class ZeroBackward0(FillBackward2):
    __slots__ = ()


@op("copy_", function=False, differentiable=False)
def copy_(self, src, non_blocking=False):
    from .backend import to_device

    from .graph import check_inplace

    check_inplace(self)
    if not isinstance(src, Tensor):
        raise GradcalcTypeError(
            f"copy_(): argument 'src' (position 1) must be Tensor, not {type(src).__name__}")
    with _ag.no_grad():
        sd = src._data
        if isinstance(src, Tensor) and src.device is not self.device:
            sd = to_device(sd, self.device)
        data = self._xp().broadcast_to(sd, self._data.shape).astype(self._data.dtype)
    r = _out(data, self.device)
    if _ag._enabled and isinstance(src, Tensor) and src._requires_grad:
        record(r, CopyBackwards, (None, src), ())
    return inplace(self, r)


class CopyBackwards(Node):
    __slots__ = ()
    formula = ("0", "grad")

    def apply(self, g):
        return None, g


# --- Python operators -------------------------------------------------------------------------


def _install_operators():
    T = Tensor
    T.__add__ = add
    T.__radd__ = lambda a, b: add(b, a)
    T.__iadd__ = lambda a, b: inplace(a, add(_snapshot(a), b))
    T.__sub__ = sub
    T.__rsub__ = lambda a, b: rsub(a, b)
    T.__isub__ = lambda a, b: inplace(a, sub(_snapshot(a), b))
    T.__mul__ = mul
    T.__rmul__ = lambda a, b: mul(b, a)
    T.__imul__ = lambda a, b: inplace(a, mul(_snapshot(a), b))
    T.__truediv__ = div
    T.__rtruediv__ = lambda a, b: div(b, a)
    T.__itruediv__ = lambda a, b: inplace(a, div(_snapshot(a), b))
    T.__floordiv__ = floor_divide
    T.__rfloordiv__ = lambda a, b: floor_divide(b, a)
    T.__ifloordiv__ = lambda a, b: inplace(a, floor_divide(a, b))
    T.__mod__ = remainder
    T.__rmod__ = lambda a, b: remainder(b, a)
    T.__imod__ = lambda a, b: inplace(a, remainder(_snapshot(a), b))
    T.__pow__ = pow
    T.__rpow__ = lambda a, b: pow(b, a)
    T.__ipow__ = lambda a, b: inplace(a, pow(_snapshot(a), b))
    T.__neg__ = neg
    T.__pos__ = lambda a: a
    T.__abs__ = abs
    T.__invert__ = lambda a: logical_not(a) if a._data.dtype == np.bool_ else bitwise_not(a)
    T.__eq__ = lambda a, b: eq(a, b) if isinstance(b, (Tensor, *_SCALARS, np.generic)) else False
    T.__ne__ = lambda a, b: ne(a, b) if isinstance(b, (Tensor, *_SCALARS, np.generic)) else True
    T.__lt__ = lt
    T.__le__ = le
    T.__gt__ = gt
    T.__ge__ = ge
    T.__and__ = lambda a, b: logical_and(a, b) if _is_bool(a, b) else bitwise_and(a, b)
    T.__rand__ = lambda a, b: T.__and__(a, b)
    T.__or__ = lambda a, b: logical_or(a, b) if _is_bool(a, b) else bitwise_or(a, b)
    T.__ror__ = lambda a, b: T.__or__(a, b)
    T.__xor__ = lambda a, b: logical_xor(a, b) if _is_bool(a, b) else bitwise_xor(a, b)
    T.__rxor__ = lambda a, b: T.__xor__(a, b)
    T.__hash__ = lambda a: id(a)


def _is_bool(a, b) -> bool:
    def isb(v):
        return (isinstance(v, Tensor) and v._data.dtype == np.bool_) or isinstance(v, bool)

    return isb(a) and isb(b)


_install_operators()
