"""Core: gradcheck and gradgradcheck — analytic gradients against float64 central differences."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, _make
from ..errors import GradError


def _numeric_jacobian(fn, inputs, eps):
    outs = fn(*inputs)
    outs = (outs,) if isinstance(outs, Tensor) else tuple(outs)
    jac = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            jac.append(None)
            continue
        d = x._data
        cols = []
        flat = d.reshape(-1)
        for k in range(flat.size):
            orig = flat[k].copy()
            flat[k] = orig + eps
            plus = [o.detach()._host().astype(np.float64).copy() for o in _out(fn(*inputs))]
            flat[k] = orig - eps
            minus = [o.detach()._host().astype(np.float64).copy() for o in _out(fn(*inputs))]
            flat[k] = orig
            cols.append(np.concatenate([((p - m) / (2 * eps)).reshape(-1) for p, m in zip(plus, minus)]))
        jac.append(np.stack(cols, 1) if cols else np.zeros((0, 0)))
    return jac


def _out(o):
    return (o,) if isinstance(o, Tensor) else tuple(o)


def _analytic_jacobian(fn, inputs):
    from . import grad

    outs = _out(fn(*inputs))
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    rows = []
    for o in outs:
        flat = o.reshape(-1)
        for k in range(flat.numel()):
            if not flat.requires_grad:
                rows.append([np.zeros(x.numel()) for x in diff])
                continue
            gs = grad(flat[k], diff, retain_graph=True, allow_unused=True)
            rows.append([np.zeros(x.numel()) if g is None else g._host().astype(np.float64).reshape(-1) for g, x in zip(gs, diff)])
    return [np.stack([r[j] for r in rows], 0) if rows else np.zeros((0, 0)) for j in range(len(diff))]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_):
    """Compare analytic gradients with central differences; True or raise GradError."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    num = [j for j in _numeric_jacobian(func, inputs, eps) if j is not None]
    ana = _analytic_jacobian(func, inputs)
    for i, (n, a) in enumerate(zip(num, ana)):
        if n.shape != a.shape or not np.allclose(a, n, atol=atol, rtol=rtol):
            if raise_exception:
                raise GradError(
                    f"Jacobian mismatch for output 0 with respect to input {i},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                )
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **_):
    """gradcheck of the first derivative (built with create_graph=True), with respect to the
    inputs and the grad_outputs, as PyTorch checks it.

    Without `grad_outputs`, draws them as PyTorch does: uniform in [-1, 1) from the default
    generator, in each differentiable output's dtype (later random draws then match PyTorch's).
    """
    from . import grad
    from ..core import creation
    from ..core.dtypes import float64

    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None:
        outs = [o for o in _out(func(*inputs)) if o.requires_grad]
        grad_outputs = tuple(
            creation.empty(tuple(o.shape), dtype=o.dtype if o.is_floating_point()
                           or o.is_complex() else float64)
            .uniform_(-1, 1).requires_grad_(True) for o in outs)
    else:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else \
            tuple(grad_outputs)
    n = len(grad_outputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first(*args):
        xs, gos = args[:-n] if n else args, args[-n:] if n else ()
        os_ = [o for o in _out(func(*xs)) if o.requires_grad]
        gs = grad(os_, [xs[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
