"""Core op table, reductions: sum, mean, prod, max/min, var/std, norm, logsumexp, cumulative ops."""

from __future__ import annotations

import numpy as np

from ..errors import TorchRuntimeError
from . import autograd as _ag
from .autograd import Node
from .dtypes import _FROM_NP, as_dtype, get_default_dtype
from .graph import record, save_out, unpack_out
from .ops import _out, where
from .shape import masked_fill
from .registry import op
from .tensor import Tensor, _make, _wrap_dim


class _ReturnTypes(tuple):
    """A (values, indices) pair with named fields, as PyTorch's torch.return_types."""

    _fields = ("values", "indices")

    def __new__(cls, values, indices, name="max"):
        obj = tuple.__new__(cls, (values, indices))
        obj._name = name
        return obj

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return (
            f"torch.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"
        )


def _dims(dim, ndim):
    """Normalise `dim` (int, tuple, list or None) to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return tuple(range(ndim))
        return tuple(sorted({_wrap_dim(d, ndim) for d in dim}))
    return (_wrap_dim(dim, ndim),)


def _axes(dims, ndim):
    return None if ndim == 0 else dims


def np_reduce(ufunc, d, axes, keepdims=False):
    """`ufunc.reduce(d, axis=axes, keepdims=keepdims)` on a NumPy array, faster on a short last axis.

    NumPy reduces a short last axis of many rows several times slower than the same numbers laid
    out as rows (1024x3: 15 us against 3 us here), so such a reduction runs on the transposed
    copy. Every CPU sum over dims goes through here, so formulas that sum agree bit for bit.
    """
    axis = axes[0] if type(axes) is tuple and len(axes) == 1 else axes
    nd = d.ndim
    if type(axis) is int and nd >= 2 and axis in (-1, nd - 1):
        c = d.shape[-1]
        if c <= 16 and d.size >= 128 * c:
            t = d.T if nd == 2 else np.moveaxis(d, -1, 0)
            r = ufunc.reduce(np.ascontiguousarray(t), axis=0)
            return r[..., None] if keepdims else r
    return ufunc.reduce(d, axis=axes, keepdims=keepdims)


def expand_grad(g, shape, dims, keepdim):
    """Undo a reduction over `dims` for the gradient: unsqueeze the reduced dims, expand."""
    if not keepdim and len(shape) > 0:
        for d in dims:
            g = g.unsqueeze(d)
    return g.expand(shape)


def _expand_grad_raw(g, shape, dims, keepdim):
    """`expand_grad` on a raw array."""
    if not keepdim and len(shape) > 0:
        for d in dims:
            g = np.expand_dims(g, d)
    return np.broadcast_to(g, shape)


class SumBackward0(Node):
    __slots__ = ()
    formula = ("grad.expand(self.shape)",)
    saved_names = ("self_sym_sizes",)

    def apply(self, g):
        (shape,) = self._saved
        return (g.expand(shape),)

    def _raw(self, g):
        return (np.broadcast_to(g, self._saved[0]),)

    _frees = False


class SumBackward1(Node):
    __slots__ = ()
    formula = ("grad.unsqueeze(dim).expand(self.shape)",)
    saved_names = ("self_sym_sizes", "dim", "keepdim")

    def apply(self, g):
        shape, dims, keepdim = self._saved
        return (expand_grad(g, shape, dims, keepdim),)

    def _raw(self, g):
        shape, dims, keepdim = self._saved
        return (_expand_grad_raw(g, shape, dims, keepdim),)

    _frees = False


def _sum_dtype(d, dtype):
    if dtype is not None:
        return as_dtype(dtype).np
    if d.dtype.kind in "bui":
        return np.int64
    return None


@op("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None):
    d = input._data
    xp = input._xp()
    sdt = _sum_dtype(d, dtype)
    if dim is None:
        data = xp.sum(d, dtype=sdt)
        if sdt is None and data.dtype != d.dtype:
            data = data.astype(d.dtype)
        r = _out(data, input.device)
        if _ag._enabled and input._requires_grad:
            record(r, SumBackward0, (input,), (d.shape,))
        return r
    dims = _dims(dim, d.ndim)
    if xp is np and sdt is None:
        data = np_reduce(np.add, d, _axes(dims, d.ndim), keepdim)  # skips np.sum's wrapper
    else:
        data = xp.sum(d, axis=_axes(dims, d.ndim), keepdims=keepdim, dtype=sdt)
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, SumBackward1, (input,), (d.shape, dims, keepdim))
    return r


class NansumBackward0(Node):
    __slots__ = ()
    formula = ("grad.expand(self.shape) * self.isnan().logical_not()",)
    saved_names = ("self", "dim", "keepdim")

    def apply(self, g):
        s, dims, keepdim = self._unpack()
        return (expand_grad(g, s.shape, dims, keepdim) * s.isnan().logical_not(),)


@op("nansum")
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    d = input._data
    xp = input._xp()
    sdt = _sum_dtype(d, dtype)
    dims = _dims(dim, d.ndim)
    data = xp.nansum(d, axis=_axes(dims, d.ndim), keepdims=keepdim, dtype=sdt)
    if sdt is None and data.dtype != d.dtype:
        data = data.astype(d.dtype)
    r = _out(xp.asarray(data), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, NansumBackward0, (input,), (input, dims, keepdim))
    return r


class MeanBackward0(Node):
    __slots__ = ()
    formula = ("grad.expand(self.shape) / self.numel()",)
    saved_names = ("self_sym_sizes", "self_sym_numel")

    def apply(self, g):
        shape, n = self._saved
        return (g.expand(shape) / n,)

    def _raw(self, g):
        shape, n = self._saved
        return (np.broadcast_to(g, shape) / n,)

    _frees = False


class MeanBackward1(Node):
    __slots__ = ()
    formula = ("grad.unsqueeze(dim).expand(self.shape) / N",)
    saved_names = ("self_sym_sizes", "dim", "keepdim", "self_sym_numel")

    def apply(self, g):
        shape, dims, keepdim, n = self._saved
        return (expand_grad(g, shape, dims, keepdim) / n,)

    def _raw(self, g):
        shape, dims, keepdim, n = self._saved
        return (_expand_grad_raw(g, shape, dims, keepdim) / n,)

    _frees = False


@op("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None):
    d = input._data
    if dtype is not None:
        d = d.astype(as_dtype(dtype).np)
    elif d.dtype.kind in "biu":
        raise TorchRuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_FROM_NP[d.dtype].scalar_name}"
        )
    xp = input._xp()
    if dim is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            data = xp.mean(d) if d.size else xp.asarray(np.nan, dtype=d.dtype)
        r = _out(data.astype(d.dtype, copy=False), input.device)
        if _ag._enabled and input._requires_grad:
            record(r, MeanBackward0, (input,), (d.shape, d.size))
        return r
    dims = _dims(dim, d.ndim)
    n = 1
    for a in dims:
        n *= d.shape[a] if d.ndim else 1
    with np.errstate(invalid="ignore", divide="ignore"):
        data = xp.mean(d, axis=_axes(dims, d.ndim), keepdims=keepdim)
    r = _out(data.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, MeanBackward1, (input,), (d.shape, dims, keepdim, n))
    return r


class ProdBackward0(Node):
    __slots__ = ()
    formula = ("grad * result / self",)
    saved_names = ("self", "result")

    def apply(self, g):
        s, res = self._unpack()
        return (_prod_grad(g, s, None, False),)


class ProdBackward1(Node):
    __slots__ = ()
    formula = ("grad * result / self",)
    saved_names = ("self", "dim", "keepdim", "result")

    def apply(self, g):
        s, dim, keepdim, res = self._unpack()
        return (_prod_grad(g, s, dim, keepdim),)


def _prod_grad(g, s, dim, keepdim):
    # product of all other elements, exact with zeros: exclusive cumprods from both sides
    if dim is None:
        flat = s.reshape(-1)
        others = _prod_others(flat, 0).reshape(s.shape)
        return g * others
    others = _prod_others(s, dim)
    if not keepdim and s.dim() > 0:
        g = g.unsqueeze(dim)
    return g * others


def _prod_others(s, dim):
    from .shape import cat, narrow

    n = s.shape[dim] if s.dim() else 1
    if s.dim() == 0:
        return s * 0 + 1
    one = (narrow(s, dim, 0, 1) * 0) + 1
    left = cat([one, narrow(s, dim, 0, n - 1)], dim).cumprod(dim) if n > 1 else one
    rs = s.flip([dim])
    right = cat([one, narrow(rs, dim, 0, n - 1)], dim).cumprod(dim).flip([dim]) if n > 1 else one
    return left * right


@op("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None):
    d = input._data
    xp = input._xp()
    sdt = _sum_dtype(d, dtype)
    if dim is None:
        r = _out(xp.prod(d, dtype=sdt).astype(sdt or d.dtype), input.device)
        if _ag._enabled and input._requires_grad:
            record(r, ProdBackward0, (input,), (input, save_out(r)))
        return r
    dim = _wrap_dim(dim, d.ndim)
    r = _out(xp.prod(d, axis=dim if d.ndim else None, keepdims=keepdim, dtype=sdt), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, ProdBackward1, (input,), (input, dim, keepdim, save_out(r)))
    return r


# --- max / min --------------------------------------------------------------------------------


class _GlobalExtremumBackward(Node):
    __slots__ = ()
    saved_names = ("self", "result")

    def apply(self, g):
        # NOTE: ties split the gradient evenly, as PyTorch's max()/min() do.
        s, res = self._unpack()
        mask = _make(s._data == res.data, s)
        n = mask.sum()
        return (mask * (g / n),)


class MaxBackward1(_GlobalExtremumBackward):
    __slots__ = ()
    formula = ("grad / count where self == max",)


class MinBackward1(_GlobalExtremumBackward):
    __slots__ = ()
    formula = ("grad / count where self == min",)


class _DimExtremumBackward(Node):
    __slots__ = ()
    saved_names = ("self_sym_sizes", "dim", "keepdim", "indices")

    def apply(self, g):
        shape, dim, keepdim, idx = self._saved
        return (_index_grad(g, shape, dim, keepdim, idx),)

    _frees = False


def _index_grad(g, shape, dim, keepdim, idx):
    """Scatter `g` into zeros of `shape` at `idx` along `dim` (one index per reduced row)."""
    from .shape import scatter

    if len(shape) == 0:
        return g
    if not keepdim:
        g = g.unsqueeze(dim)
        idx = idx.unsqueeze(dim)
    z = _make(g._xp().zeros(shape, dtype=g._data.dtype), g)
    return scatter(z, dim, idx, g)


class MaxBackward0(_DimExtremumBackward):
    __slots__ = ()
    formula = ("grad at argmax(self, dim)",)


class MinBackward0(_DimExtremumBackward):
    __slots__ = ()
    formula = ("grad at argmin(self, dim)",)


def _extremum(input, dim, keepdim, other, is_max):
    from .ops import maximum, minimum

    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return maximum(input, other) if is_max else minimum(input, other)
    d = input._data
    xp = input._xp()
    name = "max" if is_max else "min"
    if dim is None:
        if d.size == 0:
            raise TorchRuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        r = _out(xp.max(d) if is_max else xp.min(d), input.device)
        if _ag._enabled and input._requires_grad:
            record(r, MaxBackward1 if is_max else MinBackward1, (input,), (input, save_out(r)))
        return r
    dim = _wrap_dim(dim, d.ndim)
    ax = dim if d.ndim else None
    idx = (xp.argmax if is_max else xp.argmin)(d, axis=ax, keepdims=keepdim)
    vals = (xp.max if is_max else xp.min)(d, axis=ax, keepdims=keepdim)
    v = _out(vals, input.device)
    i = _out(idx.astype(np.int64), input.device)
    if _ag._enabled and input._requires_grad:
        record(v, MaxBackward0 if is_max else MinBackward0, (input,), (d.shape, dim, keepdim, i))
    return _ReturnTypes(v, i, name)


@op("max")
def max(input, dim=None, keepdim=False, *, other=None):
    return _extremum(input, dim, keepdim, other, True)


@op("min")
def min(input, dim=None, keepdim=False, *, other=None):
    return _extremum(input, dim, keepdim, other, False)


class AmaxBackward0(Node):
    __slots__ = ()
    formula = ("grad / count where self == amax(self, dim)",)
    saved_names = ("self", "dim", "keepdim", "result")

    def apply(self, g):
        s, dims, keepdim, res = self._unpack()
        r = _make(res.data, s)
        if not keepdim and s.dim() > 0:
            for d in dims:
                r = r.unsqueeze(d)
                g = g.unsqueeze(d)
        mask = (s == r)
        count = mask.sum(dim=list(dims), keepdim=True) if s.dim() else mask.sum()
        return (mask * (g / count),)


class AminBackward0(AmaxBackward0):
    __slots__ = ()
    formula = ("grad / count where self == amin(self, dim)",)


def _amax(input, dim, keepdim, is_max):
    d = input._data
    xp = input._xp()
    dims = _dims(dim, d.ndim)
    fn = xp.max if is_max else xp.min
    r = _out(fn(d, axis=_axes(dims, d.ndim), keepdims=keepdim), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, AmaxBackward0 if is_max else AminBackward0, (input,),
               (input, dims, keepdim, save_out(r)))
    return r


@op("amax")
def amax(input, dim=(), keepdim=False):
    return _amax(input, dim, keepdim, True)


@op("amin")
def amin(input, dim=(), keepdim=False):
    return _amax(input, dim, keepdim, False)


@op("argmax", differentiable=False)
def argmax(input, dim=None, keepdim=False):
    d = input._data
    xp = input._xp()
    if dim is None:
        r = xp.argmax(d)
        if keepdim:
            r = xp.reshape(r, (1,) * d.ndim)
        return _out(xp.asarray(r).astype(np.int64), input.device)
    return _out(xp.argmax(d, axis=_wrap_dim(dim, d.ndim) if d.ndim else None, keepdims=keepdim).astype(np.int64), input.device)


@op("argmin", differentiable=False)
def argmin(input, dim=None, keepdim=False):
    d = input._data
    xp = input._xp()
    if dim is None:
        r = xp.argmin(d)
        if keepdim:
            r = xp.reshape(r, (1,) * d.ndim)
        return _out(xp.asarray(r).astype(np.int64), input.device)
    return _out(xp.argmin(d, axis=_wrap_dim(dim, d.ndim) if d.ndim else None, keepdims=keepdim).astype(np.int64), input.device)


# --- var, std, norm, logsumexp ----------------------------------------------------------------


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


def _var_args(input, dim, unbiased, correction, name):
    """(dims or None for all, correction, n, dof) of var/std, with PyTorch's checks."""
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    if unbiased is not None and correction is not None:
        raise TorchRuntimeError(
            f"{name}: Cannot specify both unbiased and correction"
        )
    c = _correction(unbiased, correction)
    d = input._data
    if d.dtype.kind not in "fc":
        raise TorchRuntimeError("std and var only support floating point and complex dtypes")
    dims = None if dim is None or d.ndim == 0 else _dims(dim, d.ndim)
    n = 1
    for a in dims if dims is not None else range(d.ndim):
        n *= d.shape[a]
    if n - c <= 0:
        import warnings

        warnings.warn(
            f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "reduction factor (input numel divided by output numel).",
            UserWarning,
            stacklevel=3,
        )
    return dims, c, n


def _var_data(input, dims, c, n, keepdim):
    d = input._data
    xp = input._xp()
    ax = None if dims is None else dims
    with np.errstate(invalid="ignore", divide="ignore"):
        m = xp.mean(d, axis=ax, keepdims=True)
        dev = d - m
        ss = xp.sum(dev * dev, axis=ax, keepdims=keepdim and dims is not None)
        data = ss / builtin_max(n - c, 0)
    if keepdim and dims is None and d.ndim:
        data = xp.reshape(data, (1,) * d.ndim)
    return xp.asarray(data).astype(d.dtype, copy=False), m


def _var_grad(g, s, dims, c, keepdim):
    """PyTorch's var_backward: 2 / (n - correction) * grad * (self - self.mean(dim))."""
    if dims is None:
        dof = s.numel() - c
        if dof <= 0:
            nan_inf = where(s == s.mean(), float("nan"), float("inf"))
            return g * nan_inf.to(s.dtype)
        return (2.0 / dof) * g * (s - s.mean())
    if not keepdim and s.dim() > 1:
        for k in dims:
            g = g.unsqueeze(k)
    n = 1
    for k in dims:
        n *= s.shape[k]
    dof = n - c
    f = 2.0 / dof if dof != 0 else float("inf")
    return f * g * (s - s.mean(list(dims), keepdim=True))


def _std_grad(g, s, res, dims, c, keepdim):
    """PyTorch's std_backward: var_backward(grad / (2 * result), masked where result == 0)."""
    if dims is not None and not keepdim and s.dim() > 1:
        for k in dims:
            g = g.unsqueeze(k)
            res = res.unsqueeze(k)
        keepdim = True
    gv = masked_fill(g / (res * 2), res == 0, 0.0)
    return _var_grad(gv, s, dims, c, keepdim)


class VarBackward0(Node):
    __slots__ = ()
    formula = ("2 / (N - correction) * grad * (self - self.mean(dim))",)
    saved_names = ("self", "dim", "correction", "keepdim")

    def apply(self, g):
        s, dims, c, keepdim = self._unpack()
        return (_var_grad(g, s, dims, c, keepdim),)


class StdBackward0(Node):
    __slots__ = ()
    formula = ("var_backward(grad / (2 * result), ..)",)
    saved_names = ("self", "dim", "correction", "keepdim", "result")

    def apply(self, g):
        s, dims, c, keepdim, res = self._unpack()
        return (_std_grad(g, s, unpack_out(self, res), dims, c, keepdim),)


@op("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dims, c, n = _var_args(input, dim, unbiased, correction, "var")
    data, _ = _var_data(input, dims, c, n, keepdim)
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, VarBackward0, (input,), (input, dims, c, keepdim))
    return r


def builtin_max(a, b):
    return a if a > b else b


@op("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dims, c, n = _var_args(input, dim, unbiased, correction, "std")
    data, _ = _var_data(input, dims, c, n, keepdim)
    r = _out(input._xp().sqrt(data), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, StdBackward0, (input,), (input, dims, c, keepdim, save_out(r)))
    return r


class VarMeanBackward0(Node):
    __slots__ = ()
    formula = ("var_backward(grad_var) + mean_backward(grad_mean)",)
    saved_names = ("self", "dim", "correction", "keepdim")
    n_outputs = 2

    def apply(self, g):
        s, dims, c, keepdim = self._unpack()
        return (_var_mean_grad(g[0], g[1], s, dims, keepdim, lambda gv: _var_grad(gv, s, dims, c, keepdim)),)


class StdMeanBackward0(Node):
    __slots__ = ()
    formula = ("std_backward(grad_std) + mean_backward(grad_mean)",)
    saved_names = ("self", "dim", "correction", "keepdim", "result0")
    n_outputs = 2

    def apply(self, g):
        s, dims, c, keepdim, res = self._unpack()
        return (_var_mean_grad(g[0], g[1], s, dims, keepdim,
                               lambda gs: _std_grad(gs, s, unpack_out(self, res), dims, c, keepdim)),)


def _var_mean_grad(g0, g1, s, dims, keepdim, first):
    out = None
    if g0 is not None:
        out = first(g0)
    if g1 is not None:
        n = s.numel()
        if dims is not None:
            n = 1
            for k in dims:
                n *= s.shape[k]
        aux = expand_grad(g1, s.shape, dims if dims is not None else tuple(range(s.dim())),
                          keepdim if dims is not None else False) / n
        out = aux if out is None else out + aux
    return out


def _two_outputs(input, a, b, cls, saved):
    if _ag._enabled and input._requires_grad:
        from .graph import edges

        node = cls(edges((input,)), input._data.shape, input._data.dtype, saved)
        for i, o in enumerate((a, b)):
            o._grad_fn = node
            o._requires_grad = True
            if i:
                o._extras().output_nr = i
    return a, b


@op("var_mean")
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dims, c, n = _var_args(input, dim, unbiased, correction, "var_mean")
    data, m = _var_data(input, dims, c, n, keepdim)
    xp = input._xp()
    if not keepdim:
        m = xp.reshape(m, data.shape)
    v, mt = _out(data, input.device), _out(xp.asarray(m).astype(data.dtype, copy=False), input.device)
    return _two_outputs(input, v, mt, VarMeanBackward0, (input, dims, c, keepdim))


@op("std_mean")
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dims, c, n = _var_args(input, dim, unbiased, correction, "std_mean")
    data, m = _var_data(input, dims, c, n, keepdim)
    xp = input._xp()
    if not keepdim:
        m = xp.reshape(m, data.shape)
    sd = _out(xp.sqrt(data), input.device)
    mt = _out(xp.asarray(m).astype(data.dtype, copy=False), input.device)
    saved = (input, dims, c, keepdim, save_out(sd)) if _ag._enabled and input._requires_grad else ()
    return _two_outputs(input, sd, mt, StdMeanBackward0, saved)


class LinalgVectorNormBackward0(Node):
    __slots__ = ()
    formula = ("grad * self / result (ord 2; PyTorch's norm_backward for other orders)",)
    saved_names = ("self", "ord", "dim", "keepdim", "result")

    def apply(self, g):
        s, p, dims, keepdim, res = self._unpack()
        norm = unpack_out(self, res)
        from .ops import abs as _abs

        if not keepdim and s.dim() != 0 and dims is not None:
            for d in dims:
                norm = norm.unsqueeze(d)
                g = g.unsqueeze(d)
        if p == 0:
            return (None,)
        if p == 1:
            return (s.sgn() * g,)
        if p == 2:
            return (g * masked_fill(s / norm, norm == 0, 0.0),)
        if p in (float("inf"), float("-inf")):
            a = _abs(s)
            mask = (a == norm).logical_or(a.isnan())
            cnt = mask.sum(list(dims), keepdim=True) if dims is not None else mask.sum()
            return (s.sgn() * ((g / cnt) * mask),)
        if p < 1:
            scaled = s.sgn() * masked_fill(_abs(s) ** (p - 1), s == 0, 0.0)
            return (scaled * g * norm ** (1 - p),)
        scaled = s.sgn() * _abs(s) ** (p - 1) if p < 2 else s * _abs(s) ** (p - 2)
        scale = masked_fill(g / norm ** (p - 1), norm == 0, 0.0)
        return (scaled * scale,)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """linalg.vector_norm: one LinalgVectorNormBackward0 node for every ord and dim."""
    d = x._data
    if d.dtype.kind not in "fc":
        raise TorchRuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{_FROM_NP[d.dtype].scalar_name}"
        )
    if isinstance(ord, Tensor):
        ord = ord.item()
    p = float(ord)
    xp = x._xp()
    if dtype is not None:
        d = d.astype(as_dtype(dtype).np)
    dims = None if dim is None or d.ndim == 0 else _dims(dim, d.ndim)
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dims = None
    ax = dims
    a = xp.abs(d)
    if p == float("inf"):
        data = xp.max(a, axis=ax, keepdims=keepdim)
    elif p == float("-inf"):
        data = xp.min(a, axis=ax, keepdims=keepdim)
    elif p == 0:
        data = xp.sum(a != 0, axis=ax, keepdims=keepdim).astype(d.dtype)
    elif p == 1:
        data = xp.sum(a, axis=ax, keepdims=keepdim)
    elif p == 2:
        data = xp.sqrt(xp.sum(a * a, axis=ax, keepdims=keepdim))
    else:
        data = xp.sum(a ** p, axis=ax, keepdims=keepdim) ** (1.0 / p)
    r = _out(xp.asarray(data).astype(d.dtype, copy=False), x.device)
    if _ag._enabled and x._requires_grad:
        ordv = int(p) if p.is_integer() else p
        record(r, LinalgVectorNormBackward0, (x,), (x, ordv, dims, keepdim, save_out(r)))
    return r


@op("norm")
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    # torch.norm: 'fro' and numbers are linalg.vector_norm (PyTorch 2.x's Python wrapper)
    if isinstance(dim, int):
        dim = [dim]
    if isinstance(p, str):
        if p == "fro" and (dim is None or len(dim) <= 2):
            return vector_norm(input, 2, dim, keepdim, dtype=dtype)
        raise TorchRuntimeError(f"gradcalc: the matrix norm {p!r} is not supported")
    if out is not None:
        raise TorchRuntimeError("gradcalc: norm(out=...) is not supported")
    return vector_norm(input, 2.0 if p is None else p, dim, keepdim, dtype=dtype)


class LogsumexpBackward0(Node):
    __slots__ = ()
    formula = ("grad * exp(self - result)",)
    saved_names = ("self", "dim", "keepdim", "result")

    def apply(self, g):
        from .ops import exp

        s, dims, keepdim, res = self._unpack()
        r = unpack_out(self, res)
        if not keepdim and s.dim() > 0:
            for d in dims:
                r = r.unsqueeze(d)
                g = g.unsqueeze(d)
        return (g * exp(s - r),)


@op("logsumexp")
def logsumexp(input, dim=None, keepdim=False):
    d = input._data
    if d.dtype.kind in "biu":
        d = d.astype(get_default_dtype().np)
    xp = input._xp()
    dims = _dims(dim, d.ndim)
    ax = _axes(dims, d.ndim)
    m = xp.max(d, axis=ax, keepdims=True) if d.size else xp.zeros((1,) * d.ndim, d.dtype)
    m = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        data = xp.log(xp.sum(xp.exp(d - m), axis=ax, keepdims=True)) + m
    if not keepdim:
        data = data.reshape([s for i, s in enumerate(d.shape) if i not in dims]) if d.ndim else data.reshape(())
    r = _out(data.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, LogsumexpBackward0, (input,), (input, dims, keepdim, save_out(r)))
    return r


class CumsumBackward0(Node):
    __slots__ = ()
    formula = ("reverse cumsum of grad along dim",)
    saved_names = ("dim",)

    def apply(self, g):
        (dim,) = self._saved
        if g.dim() == 0:
            return (g,)
        return (g.flip([dim]).cumsum(dim).flip([dim]),)

    _frees = False


@op("cumsum")
def cumsum(input, dim, *, dtype=None):
    d = input._data
    sdt = _sum_dtype(d, dtype)
    dim = _wrap_dim(dim, d.ndim)
    data = input._xp().cumsum(d, axis=dim if d.ndim else None, dtype=sdt)
    if d.ndim == 0:
        data = data.reshape(())
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, CumsumBackward0, (input,), (dim,))
    return r


class CumprodBackward0(Node):
    __slots__ = ()
    formula = ("sum_{j>=i} grad_j * result_j / self_i",)
    saved_names = ("self", "dim", "result")

    def apply(self, g):
        s, dim, res = self._unpack()
        if s.dim() == 0:
            return (g,)
        # exact for zeros: d out_j / d x_i = prod_{k<=j, k!=i} x_k
        n = s.shape[dim]
        from .shape import narrow

        cols = []
        for i in range(n):
            before = narrow(s, dim, 0, i).prod(dim, keepdim=True) if i else None
            after_g = narrow(g, dim, i, n - i)
            after = narrow(s, dim, i + 1, n - i - 1)
            if n - i - 1 > 0:
                from .shape import cat

                ones = narrow(s, dim, 0, 1) * 0 + 1
                tail = cat([ones, after], dim).cumprod(dim)
            else:
                tail = narrow(s, dim, 0, 1) * 0 + 1
            term = (after_g * tail).sum(dim, keepdim=True)
            cols.append(term * before if before is not None else term)
        from .shape import cat

        return (cat(cols, dim),)


@op("cumprod")
def cumprod(input, dim, *, dtype=None):
    d = input._data
    sdt = _sum_dtype(d, dtype)
    dim = _wrap_dim(dim, d.ndim)
    data = input._xp().cumprod(d, axis=dim if d.ndim else None, dtype=sdt)
    if d.ndim == 0:
        data = data.reshape(())
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, CumprodBackward0, (input,), (input, dim, save_out(r)))
    return r


@op("all", differentiable=False)
def all(input, dim=None, keepdim=False):
    xp = input._xp()
    ax = None if dim is None else _wrap_dim(dim, input.dim()) if input.dim() else None
    return _out(xp.all(input._data, axis=ax, keepdims=keepdim), input.device)


@op("any", differentiable=False)
def any(input, dim=None, keepdim=False):
    xp = input._xp()
    ax = None if dim is None else _wrap_dim(dim, input.dim()) if input.dim() else None
    return _out(xp.any(input._data, axis=ax, keepdims=keepdim), input.device)


@op("count_nonzero", differentiable=False)
def count_nonzero(input, dim=None):
    xp = input._xp()
    return _out(xp.asarray(xp.count_nonzero(input._data, axis=dim)).astype(np.int64), input.device)


class SortBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape).scatter(dim, indices, grad)",)
    saved_names = ("dim", "indices", "self_sym_sizes")

    def apply(self, g):
        from .shape import scatter

        dim, indices, shape = self._saved
        if g.dim() == 0:
            return (g,)
        z = _make(g._xp().zeros(shape, dtype=g._data.dtype), g)
        return (scatter(z, dim, indices, g),)

    _frees = False


class TopkBackward0(SortBackward0):
    __slots__ = ()


def _sorted(input, dim, descending):
    xp = input._xp()
    d = input._data
    idx = xp.argsort(-d if descending else d, axis=dim if d.ndim else None, kind="stable")
    if d.ndim == 0:
        return d.copy(), idx.reshape(()).astype(np.int64)
    return xp.take_along_axis(d, idx, axis=dim), idx.astype(np.int64)


@op("sort", differentiable=False)
def sort(input, dim=-1, descending=False, stable=False):
    dim = _wrap_dim(dim, input.dim())
    v, idx = _sorted(input, dim, descending)
    i = _out(idx, input.device)
    values = _out(v, input.device)
    if _ag._enabled and input._requires_grad:
        record(values, SortBackward0, (input,), (dim, i, input._data.shape))
    return _ReturnTypes(values, i, "sort")


@op("argsort", differentiable=False)
def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable)[1]


@op("topk", differentiable=False)
def topk(input, k, dim=-1, largest=True, sorted=True):
    dim = _wrap_dim(dim, input.dim())
    size = input.shape[dim] if input.dim() else 1
    if not 0 <= k <= size:
        raise TorchRuntimeError("selected index k out of range")
    v, idx = _sorted(input, dim, largest)
    if input.dim():
        keep = [slice(None)] * v.ndim
        keep[dim] = slice(0, k)
        v, idx = v[tuple(keep)].copy(), idx[tuple(keep)].copy()
    i = _out(idx, input.device)
    values = _out(v, input.device)
    if _ag._enabled and input._requires_grad:
        record(values, TopkBackward0, (input,), (dim, i, input._data.shape))
    return _ReturnTypes(values, i, "topk")

