"""Core op table, tiling and order statistics: tile, repeat_interleave, unsafe_split/
unsafe_chunk, median/nanmedian and unique, built on the shape and reduction ops where PyTorch
builds them so (their grad_fn chains are PyTorch's)."""

from __future__ import annotations

import numpy as np

from ..errors import GradcalcTypeError, TorchRuntimeError
from . import autograd as _ag
from .autograd import Node
from .backend import to_device, to_host
from .graph import record
from .ops import _out, where
from .reduce import _index_grad, _ReturnTypes
from .registry import op
from .shape import SplitBackward0, _multi, _node_with_outputs, _shape_args, index_select
from .tensor import Tensor, _make, _wrap_dim

# --- tile, repeat_interleave -------------------------------------------------------------------


@op("tile")
def tile(input, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    elif len(dims) == 1 and not isinstance(input, Tensor):
        raise GradcalcTypeError("tile(): argument 'input' (position 1) must be Tensor")
    dims = _shape_args(dims)
    if len(dims) < input.dim():
        dims = (1,) * (input.dim() - len(dims)) + dims
    return input.repeat(dims)


def _repeats_index(counts, dev):
    """repeat_interleave of a count vector (host array): 0 repeated counts[0] times, 1
    counts[1] times..., as an int64 tensor on `dev`."""
    if counts.ndim > 1:
        raise TorchRuntimeError("repeat_interleave only accept 1D vector as repeat")
    if counts.dtype.kind not in "iu":
        raise TorchRuntimeError("repeats has to be Long or Int tensor")
    if counts.size and (counts < 0).any():
        raise TorchRuntimeError("repeats can not be negative")
    idx = np.repeat(np.arange(counts.size, dtype=np.int64), counts.reshape(-1))
    return _out(to_device(idx, dev), dev)


@op("repeat_interleave")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # torch.repeat_interleave(counts)
        return _repeats_index(to_host(input._data), input.device)
    if isinstance(repeats, Tensor) and repeats.dim() == 0:
        repeats = int(repeats.item())
    if isinstance(repeats, Tensor):
        x = input.flatten() if dim is None else input
        d = 0 if dim is None else _wrap_dim(dim, x.dim())
        n = x.shape[d] if x.dim() else 1
        counts = to_host(repeats._data)  # (the output's size depends on them: a sync)
        if counts.ndim == 1 and counts.shape[0] == 1 and n != 1:
            counts = np.full((n,), counts[0])
        if counts.ndim == 1 and counts.shape[0] != n:
            raise TorchRuntimeError(
                "repeats must have the same size as input along dim, but got repeats.size(0) = "
                f"{counts.shape[0]} and input.size({d}) = {n}")
        return index_select(x, d, _repeats_index(counts, input.device))
    if not isinstance(repeats, (int, np.integer)) or isinstance(repeats, bool):
        raise GradcalcTypeError("repeat_interleave(): argument 'repeats' must be Tensor or int, "
                                f"not {type(repeats).__name__}")
    if repeats < 0:
        raise TorchRuntimeError("Repeats must be non-negative")
    x = input.flatten() if dim is None else input
    d = 0 if dim is None else _wrap_dim(dim, x.dim())
    shape = list(x.shape)
    grown = x.unsqueeze(d + 1)
    big = list(grown.shape)
    big[d + 1] = int(repeats)
    shape[d] *= int(repeats)
    return grown.expand(big).contiguous().view(shape)  # (a CloneBackward0, as PyTorch)


# --- unsafe_split / unsafe_chunk: split without views (PyTorch's RNN cells use them) ------------


class UnsafeSplitBackward0(SplitBackward0):
    __slots__ = ()


@op("unsafe_split")
def unsafe_split(tensor, split_size, dim=0):
    dim = _wrap_dim(dim, tensor.dim())
    n = tensor.shape[dim]
    sizes = [min(split_size, n - i) for i in range(0, n, split_size)] if split_size > 0 else [n]
    d = tensor._data
    pieces, off = [], 0
    for s in sizes:
        idx = [slice(None)] * d.ndim
        idx[dim] = slice(off, off + s)
        pieces.append(d[tuple(idx)])
        off += s
    return _multi(tensor, pieces, _node_with_outputs(UnsafeSplitBackward0, len(pieces)),
                  (dim, tuple(sizes)))


@op("unsafe_chunk")
def unsafe_chunk(input, chunks, dim=0):
    dim = _wrap_dim(dim, input.dim())
    n = input.shape[dim]
    size = -(-n // chunks) if chunks > 0 else n
    return unsafe_split(input, max(size, 1), dim)


# --- median, nanmedian -------------------------------------------------------------------------


class MedianBackward0(Node):
    __slots__ = ()
    formula = ("grad / count where self == result",)
    saved_names = ("self", "result")

    def apply(self, g):
        # NOTE: ties share the gradient evenly (PyTorch's evenly_distribute_backward)
        s, res = self._saved
        sd, rd = s._data, res._data
        xp = s._xp()
        mask = xp.isnan(sd) if bool(to_host(xp.isnan(rd))) else sd == rd
        m = _make(mask, s)
        return (where(m, g / m.sum(), 0.0),)


class NanmedianBackward0(MedianBackward0):
    __slots__ = ()


class MedianBackward1(Node):
    __slots__ = ()
    formula = ("grad at indices(self, dim)",)
    saved_names = ("self_sym_sizes", "dim", "keepdim", "indices")

    def apply(self, g):
        shape, dim, keepdim, idx = self._saved
        return (_index_grad(g, shape, dim, keepdim, idx),)

    _frees = False


class NanmedianBackward1(MedianBackward1):
    __slots__ = ()


def _median_pos(xp, d, axis, ignore_nan):
    """Per row along `axis`: the index of the lower median (NaN rows: a NaN, unless ignored)."""
    order = xp.argsort(d, axis=axis, kind="stable")  # NaNs sort last
    n = d.shape[axis]
    nan = xp.isnan(d) if d.dtype.kind == "f" else xp.zeros(d.shape, dtype=bool)
    if ignore_nan:
        valid = n - nan.sum(axis=axis, keepdims=True)
        k = xp.maximum(valid - 1, 0) // 2
    else:
        k = xp.full(order.shape[:axis] + (1,) + order.shape[axis + 1:], (n - 1) // 2)
    pos = xp.take_along_axis(order, k.astype(np.int64), axis=axis)
    if not ignore_nan:
        has_nan = nan.any(axis=axis, keepdims=True)
        first_nan = xp.argmax(nan, axis=axis, keepdims=True)
        pos = xp.where(has_nan, first_nan, pos)
    return pos


def _median(input, dim, keepdim, ignore_nan, name):
    d = input._data
    xp = input._xp()
    if dim is None:
        if d.size == 0:
            return _out(xp.asarray(np.nan, dtype=d.dtype), input.device)
        flat = d.reshape(-1)
        pos = _median_pos(xp, flat, 0, ignore_nan)
        r = _out(xp.take(flat, pos).reshape(()), input.device)
        if _ag._enabled and input._requires_grad:
            cls = NanmedianBackward0 if ignore_nan else MedianBackward0
            record(r, cls, (input,), (input, r.detach()))
        return r
    dim = _wrap_dim(dim, input.dim())
    if d.ndim == 0:
        v = _out(d.copy(), input.device)
        i = _out(xp.asarray(0, dtype=np.int64), input.device)
    else:
        if d.shape[dim] == 0:
            raise TorchRuntimeError(f"{name}() cannot compute median for a dimension of size 0 "
                                    "because the operation does not have an identity.")
        pos = _median_pos(xp, d, dim, ignore_nan)
        vals = xp.take_along_axis(d, pos, axis=dim)
        if not keepdim:
            vals, pos = vals.squeeze(dim), pos.squeeze(dim)
        v = _out(vals, input.device)
        i = _out(pos.astype(np.int64), input.device)
    if _ag._enabled and input._requires_grad:
        cls = NanmedianBackward1 if ignore_nan else MedianBackward1
        record(v, cls, (input,), (d.shape, dim, keepdim, i))
    return _ReturnTypes(v, i, name)


@op("median")
def median(input, dim=None, keepdim=False):
    return _median(input, dim, keepdim, False, "median")


@op("nanmedian")
def nanmedian(input, dim=None, keepdim=False):
    return _median(input, dim, keepdim, True, "nanmedian")


# --- unique ------------------------------------------------------------------------------------


@op("unique", differentiable=False)
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    host = to_host(input._data)
    if dim is None:
        vals, inv, counts = np.unique(host.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(host.shape)
    else:
        dim = _wrap_dim(dim, input.dim())
        if host.ndim and host.shape[dim] == 0 and host.size == 0 and host.ndim > 1:
            raise TorchRuntimeError("Number of zero sized dimensions is more than one, so "
                                    "unique cannot be applied")
        vals, inv, counts = np.unique(host, return_inverse=True, return_counts=True, axis=dim)
        inv = inv.reshape(-1)
    dev = input.device
    out = _out(to_device(np.ascontiguousarray(vals), dev), dev)
    extra = []
    if return_inverse:
        extra.append(_out(to_device(inv.astype(np.int64), dev), dev))
    if return_counts:
        extra.append(_out(to_device(counts.astype(np.int64), dev), dev))
    return (out, *extra) if extra else out
