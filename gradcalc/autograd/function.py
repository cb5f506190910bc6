"""Core facade: torch.autograd.Function — custom ops with a forward and a backward of your own.

Both of PyTorch's styles: `forward(ctx, *args)`, or (PyTorch 2) `forward(*args)` with
`setup_context(ctx, inputs, output)`. One or many outputs; gradients of non-tensor arguments
are None; saved tensors are version-checked and freed after backward as PyTorch's are, and a
saved output comes back with this node as its grad_fn (double backward works). Each Function
gets one node class, printed `<torch.autograd.function.NameBackward object at 0x...>`.
"""

from __future__ import annotations

import functools
import weakref

from ..core import autograd as _engine
from ..core.autograd import FREED, Node, no_grad
from ..core.tensor import Tensor, _make
from ..errors import GradcalcNotImplementedError, GradcalcTypeError, GradError

LEGACY_MESSAGE = (
    "Legacy autograd function with non-static forward method is deprecated. Please use "
    "new-style autograd function with static forward method. (Example: "
    "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")


class FunctionCtx:
    """The `ctx` of a custom Function: what forward leaves for backward."""

    def __init__(self):
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._to_save = ()
        self._dirty = ()
        self._non_differentiable = ()
        self._node = None  # a weak reference to the node, once recorded
        self._saved_nr = {}  # index in saved -> output number, for saved outputs past the first

    def save_for_backward(self, *tensors):
        """Keep these tensors (or None) for backward, where `saved_tensors` gives them back."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise GradcalcTypeError("save_for_backward can only save variables, but argument "
                                        f"{tensors.index(t)} is of type {type(t).__name__}")
        self._to_save = tensors

    save_for_forward = save_for_backward

    @property
    def saved_tensors(self) -> tuple:
        """The tensors save_for_backward kept (an error once backward has freed them)."""
        node = self._node() if self._node is not None else None
        if node is None:
            return tuple(self._to_save)
        saved = node._unpack()
        out = []
        for k, v in enumerate(saved):
            if type(v) is _engine.SavedOutput:
                v = Tensor._wrap_saved_output(v, node, _engine._enabled)
                nr = self._saved_nr.get(k, 0)
                if nr and v._grad_fn is node:
                    v._extras().output_nr = nr  # which output of the node this one is
            out.append(v)
        return tuple(out)

    saved_variables = saved_tensors

    def mark_dirty(self, *tensors):
        """Inputs forward modified in place (they become its outputs)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs that need no gradient (indices, masks)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool):
        """Whether backward gets zeros (True, the default) or None for unused outputs."""
        self.materialize_grads = bool(value)


class BackwardCFunction(Node):
    """The node of one custom Function application; each Function has its own subclass."""

    __slots__ = ("_ctx",)
    _fn = None
    _frees = True

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<torch.autograd.function.{type(self).__name__} object at {id(self):#x}>"

    def apply(self, g):
        ctx = self._ctx
        grads = list(g) if self._multi else [g]
        if ctx.materialize_grads:
            for i, gi in enumerate(grads):
                if gi is None:
                    shape, npdt, like = ctx._outputs[i]
                    grads[i] = _make(like._xp().zeros(shape, dtype=npdt), like)
        fn = type(self)._fn
        r = fn.backward(ctx, *grads)
        if not isinstance(r, tuple):
            r = (r,)
        nargs, positions = ctx._nargs, ctx._tensor_positions
        name = type(self).__name__
        if len(r) < nargs or any(x is not None for x in r[nargs:]):
            raise GradError(f"function {name} returned an incorrect number of gradients "
                            f"(expected {nargs}, got {len(r)})")
        out = []
        for i in positions:
            gi = r[i]
            if gi is not None and not isinstance(gi, Tensor):
                raise GradcalcTypeError(f"function {name} returned a gradient different than "
                                        f"None at position {i + 1}, but the corresponding "
                                        "forward input was not a Variable")
            out.append(gi)
        return tuple(out)


_node_classes: dict = {}


def _node_class(fn, n_outputs: int):
    key = (fn, n_outputs)
    cls = _node_classes.get(key)
    if cls is None:
        cls = type(f"{fn.__name__}Backward", (BackwardCFunction,),
                   {"__slots__": (), "_fn": fn, "n_outputs": n_outputs,
                    "__module__": __name__, "__qualname__": f"{fn.__name__}Backward"})
        _node_classes[key] = cls
    return cls


def _is_base(method, base) -> bool:
    return getattr(method, "__func__", method) is getattr(base, "__func__", base)


class Function:
    """Custom autograd functions: subclass with static forward and backward, call `apply`."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise GradError(LEGACY_MESSAGE)

    @staticmethod
    def forward(*args, **kwargs):
        raise GradcalcNotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise GradcalcNotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise GradcalcNotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward without recording, then attach one node for backward to the outputs."""
        ctx = FunctionCtx()
        grad_on = _engine._enabled
        ctx.needs_input_grad = tuple(
            grad_on and isinstance(a, Tensor) and a._requires_grad for a in args)
        separate = not _is_base(cls.setup_context, Function.setup_context)
        with no_grad():
            if separate:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        if not any(ctx.needs_input_grad):
            return out
        return _record(cls, ctx, args, out)


def _record(cls, ctx, args, out):
    from ..core.graph import edges, save_out

    single = not isinstance(out, (tuple, list))
    outs = [out] if single else list(out)
    tensors = [(i, o) for i, o in enumerate(outs) if isinstance(o, Tensor)]
    if not tensors:
        return out
    inputs = [a for a in args if isinstance(a, Tensor)]
    dirty = {id(t) for t in ctx._dirty}
    non_diff = {id(t) for t in ctx._non_differentiable}
    for i, o in tensors:
        if id(o) not in dirty and any(o is a for a in inputs):
            outs[i] = _make(o._data, o)  # an input returned as it is: a new tensor, as PyTorch
    tensors = [(i, outs[i]) for i, _ in tensors]
    node_cls = _node_class(cls, len(tensors))
    first = tensors[0][1]._data
    node = node_cls(edges(inputs), first.shape, first.dtype)
    node._ctx = ctx
    ctx._node = weakref.ref(node)
    ctx._nargs = len(args)
    ctx._tensor_positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
    for nr, (i, o) in enumerate(tensors):
        if id(o) in non_diff or o._data.dtype.kind not in "fc":
            o._requires_grad = False
            continue
        o._grad_fn = node
        o._requires_grad = True
        if nr:
            o._extras().output_nr = nr
    # what backward needs to make zeros for an output without a gradient: its shape, dtype
    # and device (an empty tensor there: no reference to the output itself)
    ctx._outputs = [(o._data.shape, o._data.dtype, _make(o._xp().zeros((0,), o._data.dtype), o))
                    for _, o in tensors]
    saved = []
    versions = {}
    final = {id(o): nr for nr, (_, o) in enumerate(tensors)}
    for k, t in enumerate(ctx._to_save):
        if t is not None and id(t) in final and t._grad_fn is node:
            saved.append(save_out(t))  # an output: kept without a reference cycle
            ctx._saved_nr[k] = final[id(t)]
        else:
            saved.append(t)
            vc = getattr(t, "_vc", None)
            if vc is not None and vc[0]:
                versions[k] = vc[0]
    node._saved = tuple(saved)
    if versions:
        node._extras().versions = versions
    if _engine._saved_hooks and node._saved:
        by_data = {id(o._data): o for _, o in tensors}
        _engine.pack_saved(node, lambda v: by_data[id(v.data)])
    ctx._to_save = ()
    if single:
        return outs[0]
    return tuple(outs)


def once_differentiable(fn):
    """Mark a backward that is not itself differentiable: it runs without recording."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)

    return wrapper


__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable", "FREED"]
