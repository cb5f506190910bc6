"""Core op table, linear algebra: matmul in every rank case with PyTorch's chains, mm, bmm,
mv, dot, outer, addmm, einsum, inv, det, solve."""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError, TorchRuntimeError
from . import alloc as _alloc
from . import autograd as _ag
from .autograd import Node
from .backend import CPU
from .dtypes import _FROM_NP
from .graph import device_of, record, save_out, unpack_out
from .ops import _both_cpu, _out, write_out
from .registry import op
from .tensor import Tensor, _make



def _tname(t):
    return t.dtype.scalar_name


def _same_dtype(a, b, opname):
    if a._data.dtype != b._data.dtype:
        if opname == "dot":
            raise DTypeError(
                f"dot : expected both vectors to have same dtype, but found {_tname(a)} and {_tname(b)}"
            )
        raise DTypeError(
            f"expected m1 and m2 to have the same dtype, but got: {a.dtype.cpp_name} != {b.dtype.cpp_name}"
            if opname != "mm" else
            f"expected mat1 and mat2 to have the same dtype, but got: {a.dtype.cpp_name} != {b.dtype.cpp_name}"
        )


def _dims(t):
    return "x".join(str(s) for s in t.shape)


class MmBackward0(Node):
    __slots__ = ()
    formula = ("grad @ mat2.T", "self.T @ grad")
    saved_names = ("self", "mat2")

    def apply(self, g):
        a, b = self._unpack()
        ga = mm(g, b.t()) if self._next[0] is not None else None
        gb = mm(a.t(), g) if self._next[1] is not None else None
        return ga, gb

    def _raw(self, g):
        a, b = self._unpack()
        return (g @ b._data.T if self._next[0] is not None else None,
                a._data.T @ g if self._next[1] is not None else None)


@op("mm")
def mm(input, mat2, *, out=None):
    if out is not None:
        return write_out(out, "mm", (input, mat2), lambda: mm(input, mat2))
    a, b = input._data, mat2._data
    sa, sb = a.shape, b.shape
    if len(sa) != 2 or len(sb) != 2:
        raise TorchRuntimeError(f"{'self' if len(sa) != 2 else 'mat2'} must be a matrix")
    if sa[1] != sb[0]:
        raise ShapeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_dims(input)} and {_dims(mat2)})"
        )
    if a.dtype is not b.dtype:
        _same_dtype(input, mat2, "mm")
    if _alloc.on and a.size * b.size > _alloc.floor:
        _alloc.check_matmul(sa, sb, a.dtype.itemsize, "mm()")
    if _both_cpu(input, mat2):
        r = _make(a @ b)
    else:
        dev = device_of(input, mat2)  # before computing: mixed devices are PyTorch's error
        r = _out(input._xp().matmul(a, b), dev)
    if _ag._enabled and (input._requires_grad or mat2._requires_grad):
        record(r, MmBackward0, (input, mat2),
               (input if mat2._requires_grad else None, mat2 if input._requires_grad else None))
    return r


class BmmBackward0(Node):
    __slots__ = ()
    formula = ("grad @ mat2.mT", "self.mT @ grad")
    saved_names = ("self", "mat2")

    def apply(self, g):
        a, b = self._unpack()
        ga = bmm(g, b.transpose(1, 2)) if self._next[0] is not None else None
        gb = bmm(a.transpose(1, 2), g) if self._next[1] is not None else None
        return ga, gb


@op("bmm")
def bmm(input, mat2, *, out=None):
    if out is not None:
        return write_out(out, "bmm", (input, mat2), lambda: bmm(input, mat2))
    if input.dim() != 3 or mat2.dim() != 3:
        raise TorchRuntimeError(
            f"batch{'1' if input.dim() != 3 else '2'} must be a 3D tensor"
        )
    if mat2.shape[0] != input.shape[0] or mat2.shape[1] != input.shape[2]:
        raise ShapeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}]."
        )
    _same_dtype(input, mat2, "bmm")
    dev = device_of(input, mat2)
    if _alloc.on and input._data.size * mat2._data.size > _alloc.floor:
        _alloc.check_matmul(input._data.shape, mat2._data.shape, input._data.dtype.itemsize,
                            "bmm()")
    r = _out(input._xp().matmul(input._data, mat2._data), dev)
    if _ag._enabled and (input._requires_grad or mat2._requires_grad):
        record(r, BmmBackward0, (input, mat2),
               (input if mat2._requires_grad else None, mat2 if input._requires_grad else None))
    return r


class MvBackward0(Node):
    __slots__ = ()
    formula = ("outer(grad, vec)", "self.T @ grad")
    saved_names = ("self", "vec")

    def apply(self, g):
        a, v = self._unpack()
        ga = outer_raw(g, v) if self._next[0] is not None else None
        gv = mv(a.t(), g) if self._next[1] is not None else None
        return ga, gv


def outer_raw(a, b):
    return a.unsqueeze(1) * b.unsqueeze(0)


@op("mv")
def mv(input, vec, *, out=None):
    if out is not None:
        return write_out(out, "mv", (input, vec), lambda: mv(input, vec))
    if input.dim() != 2 or vec.dim() != 1:
        raise TorchRuntimeError(
            f"vector + matrix @ vector expected, got {input.dim()}, {vec.dim()}, {vec.dim()}"
        )
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(
            f"size mismatch, got input ({input.shape[0]}), mat ({_dims(input)}), vec ({vec.shape[0]})"
        )
    _same_dtype(input, vec, "mv")
    dev = device_of(input, vec)
    r = _out(input._xp().matmul(input._data, vec._data), dev)
    if _ag._enabled and (input._requires_grad or vec._requires_grad):
        record(r, MvBackward0, (input, vec),
               (input if vec._requires_grad else None, vec if input._requires_grad else None))
    return r


class DotBackward0(Node):
    __slots__ = ()
    formula = ("grad * tensor", "grad * self")
    saved_names = ("self", "tensor")

    def apply(self, g):
        a, b = self._unpack()
        return (
            g * b if self._next[0] is not None else None,
            g * a if self._next[1] is not None else None,
        )


class VdotBackward0(DotBackward0):
    __slots__ = ()
    formula = ("grad.conj() * other", "grad * self")
    saved_names = ("self", "other")


def _dot(input, tensor, cls):
    if input.dim() != 1 or tensor.dim() != 1:
        raise TorchRuntimeError(
            f"1D tensors expected, but got {input.dim()}D and {tensor.dim()}D tensors"
        )
    if input.shape[0] != tensor.shape[0]:
        raise ShapeError(
            f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{tensor.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
            f"and {tensor.shape[0]} elements respectively"
        )
    _same_dtype(input, tensor, "dot")
    dev = device_of(input, tensor)
    r = _out(input._xp().dot(input._data, tensor._data), dev)
    if _ag._enabled and (input._requires_grad or tensor._requires_grad):
        record(r, cls, (input, tensor),
               (input if tensor._requires_grad else None, tensor if input._requires_grad else None))
    return r


@op("dot")
def dot(input, tensor, *, out=None):
    if out is not None:
        return write_out(out, "dot", (input, tensor), lambda: dot(input, tensor))
    return _dot(input, tensor, DotBackward0)


@op("vdot")
def vdot(input, other, *, out=None):
    if out is not None:
        return write_out(out, "vdot", (input, other), lambda: vdot(input, other))
    return _dot(input, other, VdotBackward0)


@op("tensordot", method=False)
def tensordot(a, b, dims=2, out=None):
    """PyTorch's tensordot: permute, reshape, mm (dot when nothing is left uncontracted)."""
    if out is not None:
        return write_out(out, "tensordot", (a, b), lambda: tensordot(a, b, dims))
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise TorchRuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise TorchRuntimeError(
                f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}"
            )
        d1 = list(range(a.dim() - dims, a.dim()))
        d2 = list(range(dims))
    else:
        d1, d2 = dims
        d1 = [d1] if isinstance(d1, int) else list(d1)
        d2 = [d2] if isinstance(d2, int) else list(d2)
    if len(d1) != len(d2):
        raise TorchRuntimeError("both dimension lists should have same length")
    if a._data.dtype != b._data.dtype:
        raise TorchRuntimeError("both inputs should have same dtype")
    from .tensor import _wrap_dim

    d1 = [_wrap_dim(k, a.dim()) for k in d1]
    d2 = [_wrap_dim(k, b.dim()) for k in d2]
    csize = 1
    t1, t2 = a, b
    for i, j in zip(d1, d2):
        s1, s2 = a.shape[i], b.shape[j]
        if s2 == 1:  # broadcast dimensions are summed right away
            t1 = t1.sum(i, keepdim=True)
        elif s1 == 1:
            t2 = t2.sum(j, keepdim=True)
        else:
            if s1 != s2:
                raise ShapeError(
                    f"contracted dimensions need to match, but first has size {s1} in dim {i} "
                    f"and second has size {s2} in dim {j}"
                )
            csize *= s1
    p1, p2, rsizes = [], list(d2), []
    size1 = size2 = 1
    for i in range(a.dim()):
        if i not in d1:
            p1.append(i)
            size1 *= t1.shape[i]
            rsizes.append(t1.shape[i])
    p1 += d1
    for i in range(b.dim()):
        if i not in d2:
            p2.append(i)
            size2 *= t2.shape[i]
            rsizes.append(t2.shape[i])
    t1, t2 = t1.permute(p1), t2.permute(p2)
    if size1 == 1 and size2 == 1:
        if t1.is_contiguous() and t2.is_contiguous():
            r = dot(t1 if t1.dim() == 1 else t1.reshape(-1), t2 if t2.dim() == 1 else t2.reshape(-1))
        else:
            r = (t1.squeeze() * t2.squeeze()).sum()
        return r.reshape(rsizes)
    return mm(t1.reshape(size1, csize), t2.reshape(csize, size2)).reshape(rsizes)


@op("inner")
def inner(input, other, *, out=None):
    """PyTorch's inner: contract the last dims (tensordot(self, other, [-1], [-1]))."""
    if out is not None:
        return write_out(out, "inner", (input, other), lambda: inner(input, other))
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input.shape)} and {list(other.shape)}"
        )
    return tensordot(input, other, ([-1], [-1]))


@op("outer", aliases=("ger",))
def outer(input, vec2):
    # PyTorch: mul(view(self, [n, 1]), vec2) -> MulBackward0(ViewBackward0(..), ..)
    return input.reshape(input.shape[0], 1) * vec2


@op("matmul")
def matmul(input, other, *, out=None):
    if out is not None:
        return write_out(out, "matmul", (input, other), lambda: matmul(input, other))
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        from ..errors import GradcalcTypeError

        raise GradcalcTypeError(
            f"matmul(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )
    da, db = input.dim(), other.dim()
    if da == 0 or db == 0:
        raise TorchRuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
        )
    if _alloc.on and input._data.size * other._data.size > _alloc.floor:
        _alloc.check_matmul(input._data.shape, other._data.shape, input._data.dtype.itemsize)
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return mm(input.unsqueeze(0), other).squeeze_dim4(0)
    if da == 2 and db == 2:
        return mm(input, other)
    if da >= 3 and db <= 2:
        # fold the batch into rows: UnsafeView(Mm(View(a), b))
        if db == 1:
            if input.shape[-1] != other.shape[0]:
                raise ShapeError(
                    f"size mismatch, got input ({input.shape[-2]}), mat ({_dims(input)}), vec ({other.shape[0]})"
                )
            folded = input.reshape(-1, input.shape[-1])
            return mv(folded, other)._unsafe_view(tuple(input.shape[:-1]))
        if input.shape[-1] != other.shape[0]:
            raise ShapeError(
                f"mat1 and mat2 shapes cannot be multiplied ({input.numel() // input.shape[-1]}x"
                f"{input.shape[-1]} and {_dims(other)})"
            )
        folded = input.reshape(-1, input.shape[-1])
        return mm(folded, other)._unsafe_view(tuple(input.shape[:-1]) + (other.shape[-1],))
    if db >= 3 and da <= 2 and _fold_transposed(input, other):
        # PyTorch folds other.mT into rows too (when input requires grad, or that fold is a
        # view): 2-D@3-D is Clone(Transpose(UnsafeView(Mm(UnsafeView(Clone(Transpose(b))), T(a)))))
        t1 = other.mT
        t1f = t1.reshape(-1, t1.shape[-1])
        if da == 1:
            return mv(t1f, input)._unsafe_view(tuple(t1.shape[:-1]))
        res = mm(t1f, input.t())._unsafe_view(tuple(t1.shape[:-1]) + (input.shape[0],))
        return res.mT.contiguous()
    # general batched case: UnsafeView(Bmm(View(Expand(a)), View(Expand(b))))
    a, b = input, other
    if da == 1:
        a = a.unsqueeze(0)
    if db == 1:
        b = b.unsqueeze(-1)
    n, m = a.shape[-2], a.shape[-1]
    m2, p = b.shape[-2], b.shape[-1]
    try:
        batch = tuple(np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
    except ValueError:
        from .graph import broadcast_error

        raise broadcast_error(tuple(a.shape[:-2]), tuple(b.shape[:-2])) from None
    nb = int(np.prod(batch)) if batch else 1
    if m != m2:  # bmm's check, on the expanded batch (as PyTorch reports it)
        raise ShapeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{nb}, {m}] but got: [{nb}, {m2}]."
        )
    ae = a.expand(batch + (n, m)).reshape(nb, n, m)
    be = b.expand(batch + (m, p)).reshape(nb, m, p)
    out = bmm(ae, be)._unsafe_view(batch + (n, p))
    if da == 1:
        out = out.squeeze(-2)
    if db == 1:
        out = out.squeeze(-1)
    return out


def _fold_transposed(input, other) -> bool:
    """PyTorch's should_fold for a 1-D/2-D input and a >=3-D other (folding other.mT)."""
    if input._requires_grad and _ag._enabled:
        return True
    d = other._data
    if d.size == 0:
        return True
    shape = d.shape[:-2] + (d.shape[-1], d.shape[-2])
    strides = d.strides[:-2] + (d.strides[-1], d.strides[-2])
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _unsafe_view(self, shape):
    from .shape import UnsafeViewBackward0, _view_out

    r = _view_out(self._data.reshape(shape), self)
    if _ag._enabled and self._requires_grad:
        record(r, UnsafeViewBackward0, (self,), (self._data.shape,))
    return r


def _squeeze_dim4(self, dim):
    from .shape import SqueezeBackward4, _view_out

    d = self._data
    shape = d.shape[:dim] + d.shape[dim + 1 :]
    r = _view_out(d.reshape(shape), self)
    if _ag._enabled and self._requires_grad:
        record(r, SqueezeBackward4, (self,), (d.shape,))
    return r


Tensor._unsafe_view = _unsafe_view
Tensor.squeeze_dim4 = _squeeze_dim4
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda a, b: matmul(b, a)


class AddmmBackward0(Node):
    __slots__ = ()
    formula = ("grad * beta", "grad @ mat2.T * alpha", "mat1.T @ grad * alpha")
    saved_names = ("mat1", "mat2", "alpha", "beta")

    def apply(self, g):
        m1, m2, alpha, beta = self._unpack()
        gi = None
        if self._next[0] is not None:
            gi = g if beta == 1 else g * beta
        g1 = g2 = None
        if self._next[1] is not None:
            g1 = mm(g, m2.t())
            if alpha != 1:
                g1 = g1 * alpha
        if self._next[2] is not None:
            g2 = mm(m1.t(), g)
            if alpha != 1:
                g2 = g2 * alpha
        return gi, g1, g2

    def _raw(self, g):
        m1, m2, alpha, beta = self._unpack()
        nx = self._next
        gi = (g if beta == 1 else g * beta) if nx[0] is not None else None
        g1 = g2 = None
        if nx[1] is not None:
            g1 = g @ m2._data.T
            if alpha != 1:
                g1 = g1 * alpha
        if nx[2] is not None:
            g2 = m1._data.T @ g
            if alpha != 1:
                g2 = g2 * alpha
        return gi, g1, g2


@op("addmm")
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    if out is not None:
        return write_out(out, "addmm", (input, mat1, mat2),
                         lambda: addmm(input, mat1, mat2, beta=beta, alpha=alpha))
    a, b, c = mat1._data, mat2._data, input._data
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        if a.ndim != 2 or b.ndim != 2:
            raise TorchRuntimeError(f"{'mat1' if a.ndim != 2 else 'mat2'} must be a matrix")
        raise ShapeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_dims(mat1)} and {_dims(mat2)})"
        )
    if a.dtype is not b.dtype:
        _same_dtype(mat1, mat2, "mm")
    if _alloc.on and a.size * b.size > _alloc.floor:
        _alloc.check_matmul(a.shape, b.shape, a.dtype.itemsize, "addmm()")
    if _both_cpu(mat1, mat2) and (input._x is None or input._x.device is CPU):
        prod = a @ b
        dev = None
    else:
        dev = device_of(input, mat1, mat2)
        prod = mat1._xp().matmul(a, b)
    if alpha != 1:
        prod = prod * alpha
    bias = c if beta == 1 else c * beta
    try:
        data = prod + bias
    except ValueError:
        from .graph import broadcast_error

        raise broadcast_error(c.shape, prod.shape) from None
    if data.shape != prod.shape:
        raise ShapeError(
            f"The expanded size of the tensor ({prod.shape[-1]}) must match the existing size "
            f"({c.shape[-1]}) at non-singleton dimension 1"
        )
    if data.dtype is not prod.dtype:
        data = data.astype(prod.dtype)
    r = _make(data) if dev is None else _out(data, dev)
    if _ag._enabled and (input._requires_grad or mat1._requires_grad or mat2._requires_grad):
        record(r, AddmmBackward0, (input, mat1, mat2),
               (mat1 if mat2._requires_grad else None, mat2 if mat1._requires_grad else None,
                alpha, beta))
    return r


class AddmvBackward0(Node):
    __slots__ = ()
    formula = ("grad * beta", "outer(grad, vec) * alpha", "mat.T @ grad * alpha")
    saved_names = ("mat", "vec", "alpha", "beta")

    def apply(self, g):
        m, v, alpha, beta = self._unpack()
        gi = gm = gv = None
        if self._next[0] is not None:
            gi = g if beta == 1 else g * beta
        if self._next[1] is not None:
            gm = outer_raw(g, v)
            if alpha != 1:
                gm = gm * alpha
        if self._next[2] is not None:
            gv = mv(m.t(), g)
            if alpha != 1:
                gv = gv * alpha
        return gi, gm, gv


def _bias_into(prod, input, beta, mismatch):
    """beta * input + prod, input broadcast to prod's shape (ignored when beta == 0)."""
    c = input._data
    if not _broadcastable(c.shape, prod.shape) or np.broadcast_shapes(c.shape, prod.shape) != prod.shape:
        mismatch()
        raise ShapeError(
            f"The expanded size of the tensor must match the existing size: target sizes "
            f"{list(prod.shape)}, tensor sizes {list(c.shape)}"
        )
    if beta == 0:
        return prod
    data = prod + (c if beta == 1 else c * beta)
    return data.astype(prod.dtype, copy=False) if data.dtype != prod.dtype else data


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


@op("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    if out is not None:
        return write_out(out, "addmv", (input, mat, vec),
                         lambda: addmv(input, mat, vec, beta=beta, alpha=alpha))
    if mat.dim() != 2 or vec.dim() != 1 or input.dim() > 1:
        raise TorchRuntimeError(
            f"vector + matrix @ vector expected, got {input.dim()}, {mat.dim()}, {vec.dim()}"
        )

    def mismatch():
        raise ShapeError(
            f"size mismatch, got input ({input.shape[0] if input.dim() else 1}), mat "
            f"({_dims(mat)}), vec ({vec.shape[0]})"
        )

    if mat.shape[1] != vec.shape[0]:
        mismatch()
    dts = (input._data.dtype, mat._data.dtype, vec._data.dtype)
    if len(set(dts)) != 1:
        n = [_FROM_NP[d].scalar_name for d in dts]
        raise DTypeError(
            f"addmv input tensors must have the same dtype, but got {n[0]}, {n[1]}, and {n[2]}"
        )
    dev = device_of(input, mat, vec)
    prod = mat._xp().matmul(mat._data, vec._data)
    if alpha != 1:
        prod = prod * alpha
    r = _out(_bias_into(prod, input, beta, mismatch), dev)
    if _ag._enabled and (input._requires_grad or mat._requires_grad or vec._requires_grad):
        record(r, AddmvBackward0, (input, mat, vec),
               (mat if vec._requires_grad else None, vec if mat._requires_grad else None,
                alpha, beta))
    return r


class BaddbmmBackward0(Node):
    __slots__ = ()
    formula = ("grad * beta", "grad @ batch2.mT * alpha", "batch1.mT @ grad * alpha")
    saved_names = ("batch1", "batch2", "alpha", "beta")

    def apply(self, g):
        b1, b2, alpha, beta = self._unpack()
        gi = g1 = g2 = None
        if self._next[0] is not None:
            gi = g if beta == 1 else g * beta
        if self._next[1] is not None:
            g1 = bmm(g, b2.transpose(1, 2))
            if alpha != 1:
                g1 = g1 * alpha
        if self._next[2] is not None:
            g2 = bmm(b1.transpose(1, 2), g)
            if alpha != 1:
                g2 = g2 * alpha
        return gi, g1, g2


@op("baddbmm")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    if out is not None:
        return write_out(out, "baddbmm", (input, batch1, batch2),
                         lambda: baddbmm(input, batch1, batch2, beta=beta, alpha=alpha))
    with _ag.no_grad():
        p = bmm(batch1, batch2)  # bmm's checks and messages
    prod = p._data
    if alpha != 1:
        prod = prod * alpha

    def mismatch():
        input.detach().expand(prod.shape)  # PyTorch's expand message

    r = _out(_bias_into(prod, input, beta, mismatch), device_of(input, batch1, batch2))
    if _ag._enabled and (input._requires_grad or batch1._requires_grad or batch2._requires_grad):
        record(r, BaddbmmBackward0, (input, batch1, batch2),
               (batch1 if batch2._requires_grad else None,
                batch2 if batch1._requires_grad else None, alpha, beta))
    return r


# --- einsum: PyTorch's algorithm (align by permute/unsqueeze, contract pairs with bmm) ----------

_ELL = 52


def _label(c):
    o = ord(c)
    if 65 <= o <= 90:
        return o - 65
    if 97 <= o <= 122:
        return o - 97 + 26
    return -1


def _letter(s):
    return chr(s + 65) if s < 26 else chr(s - 26 + 97)


@op("einsum", method=False)
def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TorchRuntimeError("gradcalc: einsum's sublist format is not supported")
    if not operands:
        raise TorchRuntimeError("einsum(): must provide at least one operand")
    num_ops = len(operands)
    arrow = equation.find("->")
    lhs = equation if arrow < 0 else equation[:arrow]

    # 1. parse the labels of each operand (52 letters, plus the ellipsis)
    op_labels = [[] for _ in range(num_ops)]
    ell_in_input = False
    cur = 0
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == " ":
            pass
        elif c == ".":
            if ell_in_input:
                raise TorchRuntimeError(
                    f"einsum(): found '.' for operand {cur} for which an ellipsis was already found"
                )
            if not (i + 2 < len(lhs) and lhs[i + 1] == "." and lhs[i + 2] == "."):
                raise TorchRuntimeError(
                    f"einsum(): found '.' for operand {cur} that is not part of any ellipsis"
                )
            i += 2
            op_labels[cur].append(_ELL)
            ell_in_input = True
        elif c == ",":
            cur += 1
            if cur >= num_ops:
                raise TorchRuntimeError(
                    "einsum(): fewer operands were provided than specified in the equation"
                )
            ell_in_input = False
        else:
            s_ = _label(c)
            if s_ < 0:
                raise TorchRuntimeError(
                    f"einsum(): invalid subscript given at index {i} in the equation string, "
                    "subscripts must be in [a-zA-Z]"
                )
            op_labels[cur].append(s_)
        i += 1
    if cur != num_ops - 1:
        raise TorchRuntimeError(
            "einsum(): more operands were provided than specified in the equation"
        )

    label_count = [0] * _ELL
    ell_num_dim = 0
    for k, t in enumerate(operands):
        labels = op_labels[k]
        ndims = t.dim()
        nlabels = len(labels)
        has_ell = False
        for lb in labels:
            if lb == _ELL:
                nlabels -= 1
                has_ell = True
                ell_num_dim = builtins_max(ell_num_dim, ndims - nlabels)
            else:
                label_count[lb] += 1
        if (nlabels > ndims) if has_ell else (nlabels != ndims):
            raise TorchRuntimeError(
                f"einsum(): the number of subscripts in the equation ({nlabels}) "
                + ("is more than" if has_ell else "does not match")
                + f" the number of dimensions ({ndims}) for operand {k}"
                + ("" if has_ell else " and no ellipsis was given")
            )

    # 2. where each label goes: output dims first, then the contracted ones
    label_perm_index = [-1] * _ELL
    perm_index = 0
    ell_index = 0
    ell_in_output = False
    if arrow < 0:
        perm_index = ell_num_dim
        ell_in_output = True
        for lb in range(_ELL):
            if label_count[lb] == 1:
                label_perm_index[lb] = perm_index
                perm_index += 1
    else:
        rhs = equation[arrow + 2:]
        i = 0
        while i < len(rhs):
            c = rhs[i]
            if c == " ":
                pass
            elif c == ".":
                if ell_in_output:
                    raise TorchRuntimeError(
                        "einsum(): found '.' for output but an ellipsis (...) was already found"
                    )
                if not (i + 2 < len(rhs) and rhs[i + 1] == "." and rhs[i + 2] == "."):
                    raise TorchRuntimeError(
                        "einsum(): found '.' for output that is not part of any ellipsis (...)"
                    )
                i += 2
                ell_index = perm_index
                perm_index += ell_num_dim
                ell_in_output = True
            else:
                s_ = _label(c)
                if s_ < 0:
                    raise TorchRuntimeError(
                        f"einsum(): invalid subscript given at index {len(lhs) + 2 + i} in the "
                        "equation string, subscripts must be in [a-zA-Z]"
                    )
                if not (label_count[s_] > 0 and label_perm_index[s_] == -1):
                    raise TorchRuntimeError(
                        f"einsum(): output subscript {c}"
                        + (" appears more than once in the output" if label_perm_index[s_] > -1
                           else " does not appear in the equation for any input operand")
                    )
                label_perm_index[s_] = perm_index
                perm_index += 1
            i += 1
    out_num_dim = perm_index
    if not ell_in_output:
        ell_index = perm_index
        perm_index += ell_num_dim
    for lb in range(_ELL):
        if label_count[lb] > 0 and label_perm_index[lb] == -1:
            label_perm_index[lb] = perm_index
            perm_index += 1

    # 3. diagonals for repeated labels, unsqueeze missing dims, permute into place
    label_size = [1] * _ELL
    ell_sizes = [1] * ell_num_dim
    dim_counts = [0] * perm_index
    ops = []
    for k in range(num_ops):
        t = operands[k]
        permutation = [-1] * perm_index
        dim = 0
        for s_ in op_labels[k]:
            if s_ == _ELL:
                ndim = operands[k].dim() - (len(op_labels[k]) - 1)
                for j in range(ell_num_dim - ndim, ell_num_dim):
                    if t.shape[dim] != 1:
                        if not (ell_sizes[j] == 1 or ell_sizes[j] == t.shape[dim]):
                            raise ShapeError(
                                f"einsum(): dimension {dim} covered by ellipsis in operand {k}"
                                f"has size {t.shape[dim]} which does not broadcast with previously "
                                f"seen ellipsis with size {ell_sizes[j]} for the respective "
                                "dimension"
                            )
                        ell_sizes[j] = t.shape[dim]
                        dim_counts[ell_index + j] += 1
                    permutation[ell_index + j] = dim
                    dim += 1
            elif permutation[label_perm_index[s_]] == -1:
                if t.shape[dim] != 1:
                    if not (label_size[s_] == 1 or label_size[s_] == t.shape[dim]):
                        raise ShapeError(
                            f"einsum(): subscript {_letter(s_)} has size {t.shape[dim]} for "
                            f"operand {k} which does not broadcast with previously seen size "
                            f"{label_size[s_]}"
                        )
                    label_size[s_] = t.shape[dim]
                    dim_counts[label_perm_index[s_]] += 1
                permutation[label_perm_index[s_]] = dim
                dim += 1
            else:
                prev = permutation[label_perm_index[s_]]
                if t.shape[dim] != t.shape[prev]:
                    raise ShapeError(
                        f"einsum(): subscript {_letter(s_)} is repeated for operand {k} but the "
                        f"sizes don't match, {t.shape[dim]} != {t.shape[prev]}"
                    )
                t = t.diagonal(0, prev, dim).movedim(-1, prev)
        for p in range(perm_index):
            if permutation[p] == -1:
                t = t.unsqueeze(dim)
                permutation[p] = dim
                dim += 1
        ops.append(t.permute(permutation))

    # 4. contract left to right, summing a dim as soon as no later operand has it
    while len(ops) > 1:
        a, b = ops[0], ops[1]
        del ops[:2]
        sum_dims, a_sum, b_sum = [], [], []
        for dim in range(out_num_dim, perm_index):
            if a.shape[dim] != 1 and b.shape[dim] != 1:
                dim_counts[dim] -= 1
                if dim_counts[dim] == 1:
                    sum_dims.append(dim)
                    dim_counts[dim] = 0
            elif dim_counts[dim] == 1:
                if a.shape[dim] != 1:
                    a_sum.append(dim)
                    dim_counts[dim] = 0
                elif b.shape[dim] != 1:
                    b_sum.append(dim)
                    dim_counts[dim] = 0
        if a_sum:
            a = a.sum(a_sum, keepdim=True)
        if b_sum:
            b = b.sum(b_sum, keepdim=True)
        ops.insert(0, _sumproduct_pair(a, b, sum_dims))

    # 5. drop the contracted dims
    if perm_index - out_num_dim > 0:
        if num_ops > 1:
            sizes = list(ops[0].shape)
            del sizes[out_num_dim:perm_index]
            return ops[0].view(sizes)
        return ops[0].sum(list(range(out_num_dim, perm_index)))
    return ops[0]


def _sumproduct_pair(left, right, sum_dims_):
    """(left * right).sum(sum_dims, keepdim=True) through permute/reshape/bmm, as PyTorch."""
    if not sum_dims_:
        return left * right
    ndim = left.dim()
    sum_set = set(sum_dims_)
    lro, lo, ro = [], [], []
    lro_size = lo_size = ro_size = sum_size = 1
    for i in range(ndim):
        sl, sr = left.shape[i] != 1, right.shape[i] != 1
        if i in sum_set:
            if sl and sr:
                if left.shape[i] != right.shape[i]:
                    raise ShapeError("non-broadcast dimensions must match")
                sum_size *= left.shape[i]
            elif sl:
                left = left.sum(i, keepdim=True)
            elif sr:
                right = right.sum(i, keepdim=True)
        elif sl and sr:
            if left.shape[i] != right.shape[i]:
                raise ShapeError("non-broadcast dimensions must match")
            lro.append(i)
            lro_size *= left.shape[i]
        elif sl:
            lo.append(i)
            lo_size *= left.shape[i]
        else:
            ro.append(i)
            ro_size *= right.shape[i]
    out_size = ([left.shape[d] for d in lro] + [left.shape[d] for d in lo]
                + [1] * len(sum_dims_) + [right.shape[d] for d in ro])
    lperm = lro + lo + list(sum_dims_) + ro
    rperm = lro + list(sum_dims_) + ro + lo
    operm = [-1] * len(out_size)
    for i, d in enumerate(lro + lo + list(sum_dims_) + ro):
        operm[d] = i
    left = left.permute(lperm).reshape(lro_size, lo_size, sum_size)
    right = right.permute(rperm).reshape(lro_size, sum_size, ro_size)
    return bmm(left, right).view(out_size).permute(operm)


def builtins_max(a, b):
    return a if a >= b else b


# --- inverse, determinant, solve --------------------------------------------------------------


class LinalgInvExBackward0(Node):
    __slots__ = ()
    formula = ("-inv.mT @ grad @ inv.mT",)
    saved_names = ("inverse",)

    def apply(self, g):
        (s,) = self._unpack()
        inv_ = unpack_out(self, s)
        it = inv_.transpose(-2, -1)
        return (-(it @ g @ it),)


def _check_square(t, name):
    if t.dim() < 2 or t.shape[-1] != t.shape[-2]:
        raise TorchRuntimeError(
            f"linalg.{name}: A must be batches of square matrices, but they are "
            f"{t.shape[-2] if t.dim() >= 2 else 1} by {t.shape[-1] if t.dim() else 1} matrices"
        )
    if t._data.dtype.kind not in "fc":
        raise TorchRuntimeError(
            f"linalg.{name}: Expected a floating point or complex tensor as input. Got {_tname(t)}"
        )
    if _alloc.on:  # LAPACK's O(n^3), in matmul-equivalent operations (measured: inv 6x)
        _alloc.check_flops(_CUBIC.get(name, 2) * t._data.size * t.shape[-1], f"linalg.{name}()")


#: matmul-equivalent operations of each decomposition, per n**3 of one n x n matrix
_CUBIC = {"inv": 6, "det": 2, "solve": 2, "slogdet": 2}


def inv(A):
    """linalg.inv: the inverse of a square matrix (batched)."""
    _check_square(A, "inv")
    xp = A._xp()
    try:
        data = xp.linalg.inv(A._data)
    except np.linalg.LinAlgError:
        raise TorchRuntimeError(
            "linalg.inv: The diagonal element 1 is zero, the inversion could not be completed "
            "because the input matrix is singular."
        ) from None
    r = _out(data.astype(A._data.dtype, copy=False), A.device)
    if _ag._enabled and A._requires_grad:
        record(r, LinalgInvExBackward0, (A,), (save_out(r),))
    return r


class LinalgDetBackward0(Node):
    __slots__ = ()
    formula = ("grad * det * inv(A).mT",)
    saved_names = ("A", "result")

    def apply(self, g):
        a, s = self._unpack()
        d = unpack_out(self, s)
        return ((g * d).unsqueeze(-1).unsqueeze(-1) * inv(a).transpose(-2, -1),)


def det(A):
    """linalg.det: the determinant of a square matrix (batched)."""
    _check_square(A, "det")
    r = _out(A._xp().asarray(A._xp().linalg.det(A._data)).astype(A._data.dtype), A.device)
    if _ag._enabled and A._requires_grad:
        record(r, LinalgDetBackward0, (A,), (A, save_out(r)))
    return r


class LinalgSolveExBackward0(Node):
    __slots__ = ()
    formula = ("-solve(A.mT, grad) @ result.mT", "solve(A.mT, grad)")
    saved_names = ("A", "result", "vector")

    def apply(self, g):
        a, s, vec = self._unpack()
        x = unpack_out(self, s)
        gb = solve(a.transpose(-2, -1), g)
        ga = None
        if self._next[0] is not None:
            if vec:
                ga = -(gb.unsqueeze(-1) * x.unsqueeze(-2))
            else:
                ga = -(gb @ x.transpose(-2, -1))
        return ga, (gb if self._next[1] is not None else None)


def solve(A, B, *, left=True):
    """linalg.solve: X with A @ X = B."""
    _check_square(A, "solve")
    xp = A._xp()
    vec = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    bd = B._data[..., None] if vec else B._data
    if A.shape[-1] != bd.shape[-2]:
        raise ShapeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({_dims(A).replace('x', 'x')} and {_dims(B)})"
        )
    try:
        data = xp.linalg.solve(A._data, bd)
    except np.linalg.LinAlgError:
        raise TorchRuntimeError(
            "torch.linalg.solve: The solver failed because the input matrix is singular."
        ) from None
    if vec:
        data = data[..., 0]
    r = _out(data.astype(A._data.dtype, copy=False), device_of(A, B))
    if _ag._enabled and (A._requires_grad or B._requires_grad):
        record(r, LinalgSolveExBackward0, (A, B), (A, save_out(r), vec))
    return r


class _SlogdetResult(tuple):
    """(sign, logabsdet), as torch.return_types.slogdet / linalg_slogdet."""

    _fields = ("sign", "logabsdet")

    def __new__(cls, sign, logabsdet, name):
        obj = tuple.__new__(cls, (sign, logabsdet))
        obj._name = name
        return obj

    @property
    def sign(self):
        return self[0]

    @property
    def logabsdet(self):
        return self[1]

    def __repr__(self):
        return f"torch.return_types.{self._name}(\nsign={self[0]!r},\nlogabsdet={self[1]!r})"


class LinalgSlogdetBackward0(Node):
    __slots__ = ()
    formula = ("grad_logabsdet * inv(A).mT",)
    saved_names = ("A",)
    n_outputs = 2

    def apply(self, g):
        (a,) = self._unpack()
        gl = g[1]
        if gl is None:  # the sign has no gradient
            return (None,)
        return (gl.unsqueeze(-1).unsqueeze(-1) * inv(a).transpose(-2, -1),)


def _slogdet(A, name, prefix):
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        raise TorchRuntimeError(
            f"{prefix}: A must be batches of square matrices, but they are "
            f"{A.shape[-2] if A.dim() >= 2 else 1} by {A.shape[-1] if A.dim() else 1} matrices"
        )
    if A._data.dtype.kind not in "fc":
        raise TorchRuntimeError(
            f"{prefix}: Expected a floating point or complex tensor as input. Got {_tname(A)}"
        )
    xp = A._xp()
    sign, logabs = xp.linalg.slogdet(A._data)
    dt = A._data.dtype
    sign = _out(xp.asarray(sign).astype(dt, copy=False), A.device)
    logabs = _out(xp.asarray(logabs).astype(dt, copy=False), A.device)
    if _ag._enabled and A._requires_grad:
        from .graph import edges

        node = LinalgSlogdetBackward0(edges((A,)), A._data.shape, dt, (A,))
        for t in (sign, logabs):  # sign is an output too, whose gradient is ignored
            t._grad_fn = node
            t._requires_grad = True
        logabs._extras().output_nr = 1
    return _SlogdetResult(sign, logabs, name)


def slogdet(A):
    """linalg.slogdet: (sign, log|det|); only log|det| carries a gradient."""
    return _slogdet(A, "linalg_slogdet", "linalg.slogdet")


op("inverse")(inv)
op("det")(det)
op("slogdet")(lambda A: _slogdet(A, "slogdet", "linalg.slogdet"))


@op("logdet")
def logdet(A):
    """PyTorch: where(sign == -1, nan, logabsdet) over linalg.slogdet."""
    sign, logabs = _slogdet(A, "slogdet", "logdet")
    from .ops import where

    return where(sign == -1, float("nan"), logabs)
