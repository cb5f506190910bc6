"""Core: PyTorch's torch.autograd — backward, grad, Variable, gradcheck and friends."""

from __future__ import annotations

from ..core import autograd as _engine
from ..core.autograd import (  # noqa: F401
    Node,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ..core.tensor import Tensor
from ..errors import GradcalcTypeError, GradError, ShapeError
from . import functional  # noqa: F401
from . import graph  # noqa: F401
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401

__all__ = ["backward", "grad", "Variable", "Function", "gradcheck", "gradgradcheck", "functional",
           "graph", "once_differentiable"]


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs, create_graph):
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._data.size != 1:
                raise GradError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind not in "fc":
                raise GradError(
                    "grad can be implicitly created only for real scalar outputs but got "
                    f"torch.{out.dtype.name}"
                )
            g = out._make_ones_like()
        else:
            if not isinstance(g, Tensor):
                from ..core.creation import tensor

                g = tensor(g, dtype=out.dtype)
            if tuple(g.shape) != tuple(out.shape):
                raise ShapeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                    f"has a shape of {out.shape}."
                )
        grads.append(g)
    return grads


def _ones_like(self):
    from ..core.tensor import _make

    return _make(self._xp().ones_like(self._data), self)


Tensor._make_ones_like = _ones_like


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate gradients of `tensors` into the leaves' `.grad`."""
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    grads = _as_tuple(grad_tensors) if grad_tensors is not None else (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise GradError(
            f"got {len(grads)} tensors and {len(tensors)} gradients"
        )
    grads = _make_grads(tensors, grads, create_graph)
    if create_graph:
        import warnings

        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the "
            "parameter and its gradient which can cause a memory leak. We recommend using "
            "autograd.grad when creating the graph to avoid this. If you have to use this "
            "function, make sure to reset the .grad fields of your parameters to None after use "
            "to break the cycle and avoid the leak.",
            UserWarning,
            stacklevel=3,
        )
    inp = _as_tuple(inputs) if inputs is not None else None
    _engine.run_backward(tensors, grads, retain_graph, create_graph, inputs=inp,
                         accumulate=True, allow_unused=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs`, as a tuple; `.grad` is left alone."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
            "allow_unused=False."
        )
    go = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs)
    grads = _make_grads(outputs, go, create_graph)
    for t in inputs:
        if not t._requires_grad:
            raise GradError("One of the differentiated Tensors does not require grad")
    res = _engine.run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                               accumulate=False, allow_unused=allow_unused)
    out = []
    for t, r in zip(inputs, res):
        if r is None and materialize_grads:
            from ..core.creation import zeros_like

            r = zeros_like(t)
        out.append(r)
    return tuple(out)


def Variable(data, requires_grad=False, volatile=False):
    """The old Variable wrapper: a new tensor sharing `data`'s values (detached), as PyTorch's."""
    if not isinstance(data, Tensor):
        raise GradcalcTypeError(f"Variable data has to be a tensor, but got "
                                f"{type(data).__name__}")
    return data.detach().requires_grad_(requires_grad)
