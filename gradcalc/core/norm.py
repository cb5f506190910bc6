"""Core op table, normalisation: batch norm as one node (NativeBatchNormBackward0), with
PyTorch's CPU arithmetic (statistics summed in float64, output = x * alpha + beta) and a
backward made of differentiable ops."""

from __future__ import annotations

import numpy as np

from ..errors import GradcalcValueError, TorchRuntimeError
from . import autograd as _ag
from .autograd import Node
from .graph import device_of, record
from .ops import _out
from .tensor import Tensor


class NativeBatchNormBackward0(Node):
    __slots__ = ()
    formula = ("(grad - mean(grad) - xhat * mean(grad * xhat)) * invstd * weight",
               "sum(grad * xhat)", "sum(grad)")
    saved_names = ("input", "weight", "running_mean", "running_var", "train", "eps")

    def apply(self, g):
        x, w, rm, rv, train, eps = self._unpack()
        nd = x.dim()
        axes = [0, *range(2, nd)]
        shape = (1, -1) + (1,) * (nd - 2)
        if train:
            mean = x.mean(axes, keepdim=True)
            xc = x - mean
            invstd = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
        else:
            xc = x - rm.view(shape)
            invstd = (rv.view(shape) + eps).rsqrt()
        xhat = xc * invstd
        nx = self._next
        gx = gw = gb = None
        if nx[0] is not None:
            scale = invstd if w is None else invstd * w.view(shape)
            if train:
                gm = g.mean(axes, keepdim=True)
                proj = (g * xhat).mean(axes, keepdim=True)
                gx = (g - gm - xhat * proj) * scale
            else:
                gx = g * scale
        if nx[1] is not None:
            gw = (g * xhat).sum(axes)
        if nx[2] is not None:
            gb = g.sum(axes)
        return gx, gw, gb


def _stats(xp, d, axes):
    """PyTorch's per-channel statistics: the mean and the sum of squared deviations, each
    accumulated in float64 and rounded to the input's dtype."""
    n = d.size // d.shape[1]
    mean = (xp.sum(d, axis=axes, dtype=np.float64) / n).astype(d.dtype)
    dev = d - mean.reshape((1, -1) + (1,) * (d.ndim - 2))
    var_sum = xp.sum(dev * dev, axis=axes, dtype=np.float64).astype(d.dtype)
    return mean, var_sum, n


def _fma(xp, a, b, c):
    """a * b + c rounded once, as PyTorch's vectorised CPU kernels compute it (on the host;
    elsewhere rounded twice)."""
    if xp is not np:
        return a * b + c
    from .rng_kernels import fma32, fma64

    a, b, c = np.broadcast_arrays(a, b, c)
    return fma32(a, b, c) if a.dtype == np.float32 else fma64(a, b, c)


def _check(input, running_mean, running_var, weight, bias):
    c = input.shape[1] if input.dim() > 1 else 0
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise TorchRuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """F.batch_norm: normalise over every dim but the channel dim (1)."""
    if input.dim() < 2:
        raise TorchRuntimeError(f"batch_norm: expected input with at least 2 dims, got "
                                f"{input.dim()}")
    _check(input, running_mean, running_var, weight, bias)
    if not training and (running_mean is None or running_var is None):
        raise TorchRuntimeError("running_mean and running_var must be defined in evaluation "
                                "mode")
    if training and input.numel() // input.shape[1] <= 1:
        raise GradcalcValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape}")
    xp = input._xp()
    d = input._data
    axes = (0, *range(2, d.ndim))
    shape = (1, -1) + (1,) * (d.ndim - 2)
    dt = d.dtype
    if dt.kind != "f":
        raise TorchRuntimeError(f'"batch_norm" not implemented for \'{input.dtype.scalar_name}\'')
    if training:
        mean, var_sum, n = _stats(xp, d, axes)
        invstd = (1.0 / xp.sqrt((var_sum / dt.type(n)).astype(np.float64) + eps)).astype(dt)
        m = dt.type(momentum)
        if running_mean is not None:
            rm = running_mean._data
            rm[...] = (m * mean + (1 - m) * rm).astype(rm.dtype)
        if running_var is not None:
            rv = running_var._data
            unbiased = (var_sum / dt.type(n - 1)).astype(np.float64)
            rv[...] = (np.float64(m) * unbiased + (1 - m) * rv).astype(rv.dtype)
        for t in (running_mean, running_var):
            if t is not None and t._vc is not None:
                t._vc[0] += 1
    else:
        mean = running_mean._data.astype(dt, copy=False)
        invstd = (1 / xp.sqrt(running_var._data.astype(dt) + dt.type(eps))).astype(dt)
    # out = x * alpha + beta per channel (PyTorch's linear and constant terms)
    alpha = invstd if weight is None else (invstd * weight._data).astype(dt)
    zero = xp.zeros_like(alpha)
    beta = _fma(xp, -mean, alpha, zero if bias is None else bias._data.astype(dt))
    out = _fma(xp, d, alpha.reshape(shape), beta.reshape(shape))
    r = _out(out.astype(dt, copy=False), device_of(input, weight, bias))
    if _ag._enabled and any(isinstance(t, Tensor) and t._requires_grad
                            for t in (input, weight, bias)):
        rm = running_mean.detach().clone() if (running_mean is not None and not training) else None
        rv = running_var.detach().clone() if (running_var is not None and not training) else None
        record(r, NativeBatchNormBackward0, (input, weight, bias),
               (input, weight, rm, rv, bool(training), eps))
    return r
