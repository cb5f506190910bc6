"""Core op table, nn.functional: activations, softmax family, dropout and the losses."""

from __future__ import annotations

import numpy as np

from ..errors import GradcalcIndexError, GradcalcValueError, TorchRuntimeError
from ..core import alloc as _alloc
from ..core import autograd as _ag
from ..core.autograd import Node
from ..core.conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d,
                         avg_pool1d, avg_pool2d, conv1d, conv2d, conv3d, conv_transpose1d,
                         conv_transpose2d, max_pool1d, max_pool2d)
from ..core.norm import batch_norm
from ..core.backend import to_host
from ..core.graph import record, save_out, unpack_out
from ..core.linalg import addmm, matmul
from ..core.ops import (_out, add_scalar, div_scalar, elu, gelu, leaky_relu, mul_scalar, relu,
                        sigmoid, silu, softplus, tanh, where)
from ..core.reduce import np_reduce
from ..core.registry import op
from ..core.tensor import _make, _wrap_dim

__all__ = [
    "linear", "bilinear", "threshold", "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "softplus",
    "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "smooth_l1_loss", "huber_loss", "one_hot", "normalize", "pad", "embedding", "layer_norm", "hardtanh",
    "logsigmoid", "softmin", "cosine_similarity", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "batch_norm",
]


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, recorded as PyTorch does (Addmm on 2-D input)."""
    if input.dim() == 2 and bias is not None:
        return addmm(bias, input, weight.t())
    if bias is None:
        return matmul(input, weight.t())
    if input.dim() == 1:
        return addmm(bias, input.reshape(1, -1), weight.t()).view(weight.shape[0])
    lead = tuple(input.shape[:-1])
    out = addmm(bias, input.reshape(-1, input.shape[-1]), weight.t())
    return out.view(lead + (weight.shape[0],))


def bilinear(input1, input2, weight, bias=None):
    from ._functional import bilinear as _bilinear  # the one nn.Bilinear uses (any batch dims)

    return _bilinear(input1, input2, weight, bias)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


class HardtanhBackward0(Node):
    __slots__ = ()
    formula = ("grad where min_val < self < max_val, else 0",)
    saved_names = ("self", "min_val", "max_val")

    def apply(self, g):
        s, lo, hi = self._unpack()
        inside = _make((s._data > lo) & (s._data < hi), s)
        return (where(inside, g, 0.0),)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise GradcalcValueError("min_val cannot be greater than max_val")
    if inplace:
        from ..core import ops

        return ops.inplace(input, hardtanh(ops._snapshot(input), min_val, max_val))
    d = input._data
    xp = input._xp()
    r = _out(xp.clip(d, min_val, max_val).astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, HardtanhBackward0, (input,), (input, min_val, max_val))
    return r


def logsigmoid(input):
    return -softplus(-input)


# --- softmax family ---------------------------------------------------------------------------


def _softmax_dim(dim, ndim, name):
    if dim is None:
        import warnings

        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=3,
        )
        dim = 0 if ndim in (0, 1, 3) else 1
    return _wrap_dim(dim, ndim)


class SoftmaxBackward0(Node):
    __slots__ = ()
    formula = ("result * (grad - (grad * result).sum(dim))",)
    saved_names = ("dim", "result")

    def apply(self, g):
        dim, s = self._unpack()
        y = unpack_out(self, s)
        if y.dim() == 0:
            return (g * 0,)
        return (y * (g - (g * y).sum(dim, keepdim=True)),)

    def _raw(self, g):
        dim, s = self._unpack()
        y = s.data
        if y.ndim == 0:
            return (g * 0,)
        return (y * (g - np_reduce(np.add, g * y, (dim,), True)),)


class LogSoftmaxBackward0(Node):
    __slots__ = ()
    formula = ("grad - exp(result) * grad.sum(dim)",)
    saved_names = ("dim", "result")

    def apply(self, g):
        dim, s = self._unpack()
        y = unpack_out(self, s)
        if y.dim() == 0:
            return (g * 0,)
        return (g - y.exp() * g.sum(dim, keepdim=True),)

    def _raw(self, g):
        dim, s = self._unpack()
        y = s.data
        if y.ndim == 0:
            return (g * 0,)
        return (g - np.exp(y) * np_reduce(np.add, g, (dim,), True),)


def _float(input, dtype):
    d = input._data
    if dtype is not None:
        from ..core.dtypes import as_dtype

        input = input.to(as_dtype(dtype))
        d = input._data
    if d.dtype.kind in "biu":
        raise TorchRuntimeError('"softmax_lastdim_kernel_impl" not implemented for \'Long\'')
    return input


@op("softmax", aliases=())
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input = _float(input, dtype)
    dim = _softmax_dim(dim, input.dim(), "softmax")
    d = input._data
    xp = input._xp()
    if d.ndim == 0:
        data = xp.ones_like(d)
    elif xp is np:
        m = np_reduce(np.maximum, d, dim, True) if d.size else d
        e = np.exp(d - m)
        data = e / np_reduce(np.add, e, dim, True)
    else:
        m = xp.max(d, axis=dim, keepdims=True) if d.size else d
        e = xp.exp(d - m)
        data = e / xp.sum(e, axis=dim, keepdims=True)
    r = _out(data.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, SoftmaxBackward0, (input,), (dim, save_out(r)))
    return r


@op("log_softmax")
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input = _float(input, dtype)
    dim = _softmax_dim(dim, input.dim(), "log_softmax")
    d = input._data
    xp = input._xp()
    if d.ndim == 0:
        data = xp.zeros_like(d)
    elif xp is np:
        z = d - np_reduce(np.maximum, d, dim, True) if d.size else d
        data = z - np.log(np_reduce(np.add, np.exp(z), dim, True))
    else:
        z = d - d.max(axis=dim, keepdims=True) if d.size else d
        data = z - xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
    if data.dtype is not d.dtype:
        data = data.astype(d.dtype)
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, LogSoftmaxBackward0, (input,), (dim, save_out(r)))
    return r


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


# --- dropout ----------------------------------------------------------------------------------


@op("dropout")
def dropout(input, p=0.5, training=True, inplace=False):
    if p < 0 or p > 1:
        raise GradcalcValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    from ..core import random as _random

    # PyTorch: noise = empty_like(x).bernoulli_(1 - p); noise.div_(1 - p); x * noise
    noise = np.empty(np.shape(input._data), dtype=input._data.dtype)
    _random.fill_bernoulli(_random.default_generator, noise, 1 - p)
    opmath = np.float32 if noise.dtype == np.float16 else noise.dtype.type
    noise = (noise.astype(opmath) / opmath(1 - p)).astype(noise.dtype, copy=False)
    mask = _make(input._xp().asarray(noise), input)
    return input * mask


# --- losses -----------------------------------------------------------------------------------


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise GradcalcValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_same_size(input, target, name):
    if tuple(input.shape) != tuple(target.shape):
        import warnings

        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )


class MseLossBackward0(Node):
    __slots__ = ()
    formula = ("grad * 2 * (self - target) / N", "-grad * 2 * (self - target) / N")
    saved_names = ("self", "target", "reduction")

    def apply(self, g):
        s, t, red = self._unpack()
        diff = s - t
        gi = diff * 2
        if red == "mean":
            gi = gi * (g / diff.numel())
        else:
            gi = gi * g  # 'sum': a scalar g; 'none': g elementwise
        return (gi if self._next[0] is not None else None,
                -gi if len(self._next) > 1 and self._next[1] is not None else None)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "mse_loss")
    if reduction not in ("mean", "sum", "none"):
        raise GradcalcValueError(f"{reduction} is not a valid value for reduction")
    if input.shape != target.shape:
        d = input - target
        return _reduce(d * d, reduction)
    with _ag.no_grad():
        diff = input._data - target._data
        sq = diff * diff
        v = sq if reduction == "none" else sq.mean() if reduction == "mean" else sq.sum()
    r = _out(input._xp().asarray(v).astype(input._data.dtype), input.device)
    if _ag._enabled and (input._requires_grad or target._requires_grad):
        record(r, MseLossBackward0, (input, target), (input, target, reduction))
    return r


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


class SmoothL1LossBackward0(Node):
    __slots__ = ()
    formula = ("grad * where(|self - target| < beta, (self - target) / beta, sign(self - target))",
               "-(the same)")
    saved_names = ("self", "target", "reduction", "beta")

    def apply(self, g):
        s, t, red, beta = self._unpack()
        d = s - t
        gi = where(d.abs() < beta, d / beta, d.sign()) * g
        if red == "mean":
            gi = gi / d.numel()
        return (gi if self._next[0] is not None else None,
                -gi if self._next[1] is not None else None)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "smooth_l1_loss")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    if beta < 0:
        raise TorchRuntimeError("smooth_l1_loss does not support negative values for beta.")
    if reduction not in ("mean", "sum", "none"):
        raise GradcalcValueError(f"{reduction} is not a valid value for reduction")
    from ..core.shape import broadcast_tensors

    try:
        input, target = broadcast_tensors(input, target)
    except ValueError:
        from ..core.graph import broadcast_error

        raise broadcast_error(tuple(input.shape), tuple(target.shape)) from None
    xp = input._xp()
    d = input._data - target._data
    a = xp.abs(d)
    with np.errstate(invalid="ignore"):
        loss = xp.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    if reduction == "mean":
        loss = xp.mean(loss)
    elif reduction == "sum":
        loss = xp.sum(loss)
    r = _out(xp.asarray(loss).astype(input._data.dtype, copy=False), input.device)
    if _ag._enabled and (input._requires_grad or target._requires_grad):
        record(r, SmoothL1LossBackward0, (input, target), (input, target, reduction, beta))
    return r


class HuberLossBackward0(Node):
    __slots__ = ()
    formula = ("grad * clamp(self - target, -delta, delta)", "-(the same)")
    saved_names = ("self", "target", "reduction", "delta")

    def apply(self, g):
        s, t, red, delta = self._unpack()
        d = s - t
        gi = d.clamp(-delta, delta) * g
        if red == "mean":
            gi = gi / d.numel()
        return (gi if self._next[0] is not None else None,
                -gi if self._next[1] is not None else None)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _check_same_size(input, target, "huber_loss")
    if reduction not in ("mean", "sum", "none"):
        raise GradcalcValueError(f"{reduction} is not a valid value for reduction")
    if input.shape != target.shape:
        d = input - target
        a = d.abs()
        return _reduce(where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)
    xp = input._xp()
    d = input._data - target._data
    a = xp.abs(d)
    with np.errstate(invalid="ignore"):
        loss = xp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    if reduction == "mean":
        loss = xp.mean(loss)
    elif reduction == "sum":
        loss = xp.sum(loss)
    r = _out(xp.asarray(loss).astype(input._data.dtype, copy=False), input.device)
    if _ag._enabled and (input._requires_grad or target._requires_grad):
        record(r, HuberLossBackward0, (input, target), (input, target, reduction, delta))
    return r


class ThresholdBackward0(Node):
    __slots__ = ()
    formula = ("self <= threshold ? 0 : grad",)
    saved_names = ("self", "threshold")

    def apply(self, g):
        s, th = self._unpack()
        zero = _make(g._xp().zeros((), dtype=g._data.dtype), g)
        return (where(s > th, g, zero),)  # +0 where the input was thresholded, as PyTorch


def threshold(input, threshold, value, inplace=False):
    """`value` where input <= threshold, else input (ThresholdBackward0: +0 gradients)."""
    d = input._data
    xp = input._xp()
    r = _out(xp.where(d > threshold, d, xp.asarray(value, dtype=d.dtype)).astype(
        d.dtype, copy=False), input.device)
    if inplace:
        from ..core.ops import inplace as _inplace

        if _ag._enabled and input._requires_grad:
            record(r, ThresholdBackward0, (input,), (input.detach().clone(), threshold))
        return _inplace(input, r)
    if _ag._enabled and input._requires_grad:
        record(r, ThresholdBackward0, (input,), (input, threshold))
    return r


class BinaryCrossEntropyBackward0(Node):
    __slots__ = ()
    formula = ("grad * (self - target) / (self * (1 - self))",
               "grad * (log(1 - self) - log(self))")
    saved_names = ("self", "target", "weight", "reduction")

    def apply(self, g):
        s, t, w, red = self._unpack()
        if red == "mean":
            g = g / s.numel()
        gi = gt = None
        if self._next[0] is not None:
            gi = (s - t) / ((s * (-s + 1)).clamp(min=1e-12)) * g
            gi = gi if w is None else gi * w
        if len(self._next) > 1 and self._next[1] is not None:
            gt = ((-s).log1p().clamp(min=-100) - s.log().clamp(min=-100)) * g
            gt = gt if w is None else gt * w
        return gi, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise GradcalcValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    xp = input._xp()
    x = input._data
    if xp is np and x.size and (np.any(x < 0) or np.any(x > 1)):
        raise TorchRuntimeError("all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        lx = xp.maximum(xp.log(x), -100)
        l1x = xp.maximum(xp.log1p(-x), -100)
    loss = -(target._data * lx + (1 - target._data) * l1x)
    if weight is not None:
        loss = loss * weight._data
    if reduction == "mean":
        v = loss.mean()
    elif reduction == "sum":
        v = loss.sum()
    else:
        v = loss
    r = _out(xp.asarray(v).astype(x.dtype), input.device)
    if _ag._enabled and (input._requires_grad or target._requires_grad):
        record(r, BinaryCrossEntropyBackward0, (input, target), (input, target, weight, reduction))
    return r


class BinaryCrossEntropyWithLogitsBackward0(Node):
    __slots__ = ()
    formula = ("grad * (sigmoid(self) - target)", "-grad * self")
    saved_names = ("self", "target", "weight", "pos_weight", "reduction")

    def apply(self, g):
        s, t, w, pw, red = self._unpack()
        sg = sigmoid(s)
        if pw is not None:
            gi = (pw * t + 1 - t) * sg - pw * t
        else:
            gi = sg - t
        if w is not None:
            gi = gi * w
        if red == "mean":
            gi = gi * (g / s.numel())
        else:
            gi = gi * g
        gt = None
        if len(self._next) > 1 and self._next[1] is not None:
            # d/dtarget of (1 - t) * x + (1 + (pw - 1) * t) * softplus(-x)
            lw = -s if pw is None else (pw - 1) * softplus(-s) - s
            gt = lw * (g / s.numel() if red == "mean" else g)
            if w is not None:
                gt = gt * w
        return gi, gt


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise GradcalcValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    xp = input._xp()
    x, t = input._data, target._data
    sp = xp.logaddexp(0, -x)  # log(1 + exp(-x)), stable
    if pos_weight is not None:
        lw = 1 + (pos_weight._data - 1) * t
        loss = (1 - t) * x + lw * sp
    else:
        loss = (1 - t) * x + sp
    if weight is not None:
        loss = loss * weight._data
    v = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    r = _out(xp.asarray(v).astype(x.dtype), input.device)
    if _ag._enabled and (input._requires_grad or target._requires_grad):
        record(r, BinaryCrossEntropyWithLogitsBackward0, (input, target),
               (input, target, weight, pos_weight, reduction))
    return r


class NllLossBackward0(Node):
    __slots__ = ()
    formula = ("-grad * weight[target] at target (/ total weight for 'mean')",)
    saved_names = ("target", "weight", "reduction", "ignore_index", "total_weight", "self_sym_sizes")

    def apply(self, g):
        # d loss / d input is a constant matrix K (-coef at each row's target, 0 elsewhere)
        # times the incoming gradient, so the formula stays differentiable in `g`.
        K, unsqueeze = self._coefficients(g._xp(), g._data.dtype)
        if unsqueeze:
            g = g.unsqueeze(1)
        return (_make(K, g) * g,)

    def _raw(self, g):
        K, unsqueeze = self._coefficients(np, g.dtype)
        return (K * (np.expand_dims(g, 1) if unsqueeze else g),)

    def _coefficients(self, xp, dt):
        """K, in the input's shape, and whether the gradient needs a class dimension."""
        tgt, w, red, ignore, total, shape = self._unpack()
        tt = tgt._data.reshape(-1)
        C = shape[1] if len(shape) > 1 else shape[0]
        if w is None and xp is np and (
                ignore not in tt.tolist() if tt.size <= 64 else not (tt == ignore).any()):
            # the common case: every target counts with weight 1 (a scalar coefficient, the
            # same number the general case computes)
            K = np.zeros((tt.size, C), dtype=dt)
            K[np.arange(tt.size), tt] = -(dt.type(1) / total) if red == "mean" else -1.0
        else:
            valid = tt != ignore
            safe = xp.where(valid, tt, 0)
            coef = valid.astype(dt)
            if w is not None:
                coef = coef * w._data[safe]
            if red == "mean":
                coef = coef / total
            K = xp.zeros((tt.size, C), dtype=dt)
            # ignored rows stay +0 (PyTorch never writes them; 0/0 there would be nan)
            K[xp.arange(tt.size), safe] = xp.where(valid, -coef, 0)
        if len(shape) == 1:
            K = K.reshape(C)
        elif len(shape) > 2:
            K = xp.moveaxis(K.reshape((shape[0],) + tuple(shape[2:]) + (C,)), -1, 1)
        return K, red == "none" and len(shape) > 1


def _embed_rows(vals, shape, rows, cols):
    from ..core.shape import IndexPutBackward0, _embed

    return _embed(vals, shape, (_make(rows.astype(np.int64)), _make(cols.astype(np.int64))),
                  IndexPutBackward0, accumulate=True)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target._data.dtype.kind not in "iu":
        raise TorchRuntimeError(
            f"expected scalar type Long but found {target.dtype.scalar_name}"
        )
    x = input._data
    xp = input._xp()
    if x.ndim == 1:
        xs = x.reshape(1, -1)
        t = target._data.reshape(1)
    elif x.ndim == 2:
        xs, t = x, target._data
        if t.shape[0] != xs.shape[0]:
            raise GradcalcValueError(
                f"Expected input batch_size ({xs.shape[0]}) to match target batch_size "
                f"({t.shape[0]})."
            )
    else:
        xs = xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
        t = target._data.reshape(-1)
    C = xs.shape[1]
    if xp is np and t.size <= 64:
        # small batches: checking a short Python list beats four NumPy calls
        tl = t.tolist()
        all_valid = ignore_index not in tl
        vals = tl if all_valid else [v for v in tl if v != ignore_index] or [0]
        lo, hi = (min(vals), max(vals)) if vals else (0, 0)
        valid = None if all_valid else t != ignore_index
    elif xp is np:
        # a large batch: its range first, then the ignored entries only if it could hold one
        lo, hi = (int(np.minimum.reduce(t)), int(np.maximum.reduce(t))) if t.size else (0, 0)
        all_valid = not (lo <= ignore_index <= hi and (t == ignore_index).any())
        valid = None
        if not all_valid:
            valid = t != ignore_index
            checked = np.where(valid, t, 0)
            lo, hi = int(np.minimum.reduce(checked)), int(np.maximum.reduce(checked))
    else:
        valid = t != ignore_index
        all_valid = bool(to_host(valid.all())) if valid.size else True  # explicit sync
        lo = hi = 0
        if t.size:
            checked = t if all_valid else xp.where(valid, t, 0)
            lo, hi = (int(to_host(v)) for v in (checked.min(), checked.max()))  # explicit sync
    if lo < 0 or hi >= C:
        raise GradcalcIndexError(f"Target {hi if hi >= C else lo} is out of bounds.")
    safe = t if all_valid else xp.where(valid, t, 0)
    picked = xs[xp.arange(xs.shape[0]), safe]
    if all_valid and weight is None:
        w = None
        losses = -picked
        total = x.dtype.type(picked.size)
    else:
        w = valid.astype(x.dtype) if valid is not None else xp.ones(t.shape, dtype=x.dtype)
        if weight is not None:
            w = w * weight._data[safe]
        losses = -picked * w
        total = w.sum()
    if reduction == "mean":
        v = losses.sum() / total
    elif reduction == "sum":
        v = losses.sum()
    else:
        v = losses.reshape(target._data.shape) if x.ndim != 1 else losses.reshape(())
    r = _out(xp.asarray(v).astype(x.dtype), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, NllLossBackward0, (input,),
               (target, weight, reduction, ignore_index, total, x.shape))
    return r


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    cdim = 0 if input.dim() == 1 else 1
    if tuple(input.shape) == tuple(target.shape):
        # class probabilities (PyTorch: same shapes means soft targets)
        if target._data.dtype.kind != "f":
            from ..core.dtypes import _FROM_NP

            raise TorchRuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{_FROM_NP[target._data.dtype].scalar_name}"
            )
        if ignore_index >= 0:
            raise TorchRuntimeError("ignore_index is not supported for floating point target")
        if not 0.0 <= label_smoothing <= 1.0:
            raise TorchRuntimeError(
                f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
            )
        if reduction not in ("mean", "sum", "none"):
            raise GradcalcValueError(f"{reduction} is not a valid value for reduction")
        lsm = log_softmax(input, cdim)
        C = input.shape[cdim]
        tgt = target
        if label_smoothing > 0:
            tgt = add_scalar(mul_scalar(tgt, 1 - label_smoothing), label_smoothing / C)
        prod = lsm * tgt
        if weight is not None:
            if input.dim() > 1:
                shape = [1] * input.dim()
                shape[1] = weight.shape[0]
                weight = weight.view(shape)
            prod = prod * weight
        if reduction == "none":
            return -prod.sum(cdim)
        total = -prod.sum()
        if reduction == "sum":
            return total
        if input.numel() == 0:
            return total * float("nan")
        return div_scalar(total, input.numel() // C)
    lsm = log_softmax(input, cdim)
    nll = nll_loss(lsm, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0:
        return nll
    # PyTorch's cross_entropy_loss_label_smoothing, op for op
    C = input.shape[cdim]
    if weight is not None:
        shape = [1] * input.dim()
        shape[cdim] = weight.shape[0]
        smooth = -(lsm * weight.view(shape)).sum(cdim)
    else:
        smooth = -lsm.sum(cdim)
    ignore_mask = target == ignore_index
    smooth = smooth.masked_fill(ignore_mask, 0.0)
    if reduction == "mean":
        if weight is not None:
            ret = smooth.sum() / weight.gather(0, target.masked_select(~ignore_mask).flatten()).sum()
        else:
            ret = smooth.sum() / (~ignore_mask).sum()
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    return mul_scalar(nll, 1 - label_smoothing) + mul_scalar(ret, label_smoothing / C)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target * (target.clamp(min=1e-45).log() - input)
        loss = where(target > 0, loss, loss * 0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction)


def one_hot(tensor, num_classes=-1):
    t = tensor._data
    n = int(to_host(t.max())) + 1 if num_classes == -1 else num_classes
    if _alloc.on:
        _alloc.check_numel(t.size * n, 8, "one_hot()")
    xp = tensor._xp()
    out = (t[..., None] == xp.arange(n)).astype(np.int64)
    return _out(out, tensor.device)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    n = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / n


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    num = (x1 * x2).sum(dim)
    den = (x1.norm(2, dim) * x2.norm(2, dim)).clamp(min=eps)
    return num / den


class ConstantPadNdBackward0(Node):
    __slots__ = ()
    formula = ("constant_pad_nd(grad, -pad)",)
    saved_names = ("pad",)

    def apply(self, g):
        (p,) = self._saved
        return (_constant_pad(g, [-x for x in p], 0.0),)

    _frees = False


def pad(input, pad, mode="constant", value=None):
    if mode != "constant":
        raise TorchRuntimeError(f"gradcalc: pad mode '{mode}' is not supported")
    if len(pad) % 2:
        raise TorchRuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise TorchRuntimeError("Padding length should be less than or equal to two times the "
                                "input dimension but got padding length "
                                f"{len(pad)} and input of dimension {input.dim()}")
    if _alloc.on:
        _alloc.check(_alloc.padded_shape(input.shape, pad), input._data.dtype.itemsize, "pad()")
    return _constant_pad(input, [int(x) for x in pad], 0.0 if value is None else value)


def _constant_pad(input, pad, value):
    """constant_pad_nd: `pad` pairs from the last dimension back; negative widths crop."""
    d = input._data
    xp = input._xp()
    crop = [slice(None)] * d.ndim
    widths = [(0, 0)] * d.ndim
    for i in range(len(pad) // 2):
        dim = d.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        size = d.shape[dim]
        if size + min(lo, 0) + min(hi, 0) < 0:
            raise TorchRuntimeError(
                f"The input size {size}, plus negative padding {lo} and {hi} resulted in a "
                f"negative output size, which is invalid. Check dimension {dim} of your input.")
        crop[dim] = slice(-lo if lo < 0 else 0, size + hi if hi < 0 else size)
        widths[dim] = (max(lo, 0), max(hi, 0))
    out = xp.pad(d[tuple(crop)], widths, constant_values=value)
    r = _out(out.astype(d.dtype, copy=False), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, ConstantPadNdBackward0, (input,), (tuple(pad),))
    return r


class EmbeddingBackward0(Node):
    __slots__ = ()
    formula = ("embedding_dense_backward(grad, indices, num_weights, padding_idx, "
               "scale_grad_by_freq)",)
    saved_names = ("indices", "weight_sym_argsize_0", "padding_idx", "scale_grad_by_freq",
                   "sparse")

    def apply(self, g):
        from ..core.shape import index_add

        indices, n, padding_idx, by_freq, _ = self._saved
        flat = indices._data.reshape(-1)
        g = g.reshape(flat.size, g.shape[-1])
        xp = g._xp()
        if by_freq:  # each row's gradient divided by how often its index occurs
            counts = xp.bincount(flat, minlength=n)[flat].astype(g._data.dtype)
            g = g / _make(counts.reshape(-1, 1), g)
        if padding_idx >= 0:  # no gradient for the padding row
            keep = (flat != padding_idx).reshape(-1, 1)
            g = g * _make(keep.astype(g._data.dtype), g)
        z = _make(xp.zeros((n, g.shape[-1]), dtype=g._data.dtype), g)
        return (index_add(z, 0, _make(flat, indices), g),)

    _frees = False


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` for the integer indices in `input` (EmbeddingBackward0, as PyTorch)."""
    d = input._data
    if d.dtype.kind not in "iu":
        from ..core.autograd import _legacy_type

        raise TorchRuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {_legacy_type(input.dtype.name)} instead (while "
            "checking arguments for embedding)")
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= n or padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    if d.size and (d.min() < 0 or d.max() >= n):
        raise GradcalcIndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, d, max_norm, norm_type)
    w = weight._data
    if _alloc.on:
        _alloc.check_numel(d.size * w.shape[1], w.dtype.itemsize, "embedding()")
    out = _out(weight._xp().take(w, d, axis=0), weight.device)
    if _ag._enabled and weight._requires_grad:
        record(out, EmbeddingBackward0, (weight,),
               (input, n, -1 if padding_idx is None else padding_idx,
                bool(scale_grad_by_freq), bool(sparse)))
    return out


def _embedding_renorm(weight, d, max_norm, norm_type):
    """Rows of `weight` that `d` picks scaled in place to norm at most `max_norm` (PyTorch's
    embedding_renorm_, done without recording)."""
    xp = weight._xp()
    w = weight._data
    rows = xp.unique(d.reshape(-1))
    norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] *= scale.reshape(-1, 1)


class NativeLayerNormBackward0(Node):
    __slots__ = ()
    formula = ("layer_norm_backward(grad, input, mean, rstd, weight)",)
    saved_names = ("input", "normalized_shape", "weight", "bias", "eps")

    def apply(self, g):
        x, shape, w, b, eps = self._unpack()
        dims = list(range(x.dim() - len(shape), x.dim()))
        # mean and rstd recomputed from the input (so double backward sees them depend on it)
        mu = x.mean(dims, keepdim=True)
        xc = x - mu
        rstd = ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
        xhat = xc * rstd
        gx = g * w if w is not None else g
        gi = rstd * (gx - gx.mean(dims, keepdim=True)
                     - xhat * (gx * xhat).mean(dims, keepdim=True))
        lead = list(range(x.dim() - len(shape)))
        gw = (g * xhat).sum(lead) if w is not None and self._next[1] is not None else None
        gb = g.sum(lead) if b is not None and self._next[2] is not None else None
        return gi if self._next[0] is not None else None, gw, gb


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """PyTorch's native_layer_norm: one NativeLayerNormBackward0 node."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    n = len(normalized_shape)
    if tuple(input.shape[input.dim() - n:]) != normalized_shape:
        raise TorchRuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size"
            f"{list(input.shape)}")
    d = input._data
    xp = input._xp()
    axes = tuple(range(d.ndim - n, d.ndim))
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = d.mean(axis=axes, keepdims=True)
        xc = d - mu
        rstd = 1 / xp.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
        out = (xc * rstd).astype(d.dtype, copy=False)
        if weight is not None:
            out = out * weight._data
        if bias is not None:
            out = out + bias._data
    r = _out(out.astype(d.dtype, copy=False), input.device)
    tensors = [t for t in (input, weight, bias) if t is not None]
    if _ag._enabled and any(t._requires_grad for t in tensors):
        record(r, NativeLayerNormBackward0, (input, weight, bias),
               (input, normalized_shape, weight, bias, eps))
    return r
