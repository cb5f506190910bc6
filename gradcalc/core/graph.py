"""Core: recording ops in the graph — edges, saved values and output tensors, in one place."""

from __future__ import annotations

import numpy as np

from ..errors import DeviceError, GradError, ShapeError
from . import alloc as _alloc
from . import autograd as _ag
from .autograd import SavedOutput
from .backend import CPU
from .tensor import Tensor, _make, _TensorExtras

__all__ = ["record", "save_out", "edges", "device_of", "check_inplace", "broadcast_error"]


def edges(inputs) -> tuple:
    out = []
    for t in inputs:
        if isinstance(t, Tensor) and t._requires_grad:
            fn = t._grad_fn
            if fn is not None:
                x = t._x
                nr = 0 if x is None else x.output_nr
                out.append(fn if nr == 0 else (fn, nr))
            else:
                out.append(t._grad_accumulator())
        else:
            out.append(None)
    return tuple(out)


def record(out: Tensor, node_cls, inputs, saved=()) -> Tensor:
    """Attach a new `node_cls` node to `out` if grad mode is on and an input requires grad.

    (`edges` and `Node.__init__` written out: every recorded op passes here.)
    """
    nxt = []
    for t in inputs:
        if isinstance(t, Tensor) and t._requires_grad:
            fn = t._grad_fn
            if fn is not None:
                x = t._x
                nxt.append(fn if x is None or x.output_nr == 0 else (fn, x.output_nr))
            else:
                nxt.append(t._grad_accumulator())
        else:
            nxt.append(None)
    node = _onew(node_cls)
    node._next = tuple(nxt)
    d = out._data
    node._shape = d.shape
    node._npdt = d.dtype
    node._saved = saved
    node._seq = _next_seq()
    node._x = None
    node._epoch = 0
    out._grad_fn = node
    out._requires_grad = True
    if saved:
        versions = None
        for i, s in enumerate(saved):
            vc = getattr(s, "_vc", None)
            if vc is not None and vc[0] != 0:
                if versions is None:
                    versions = {}
                versions[i] = vc[0]
        if versions:
            node._extras().versions = versions
        if _ag._saved_hooks:
            _ag.pack_saved(node, lambda v: out)
    return out


_onew = object.__new__
_next_seq = _ag._next_seq


def result1(data, node_cls, t: Tensor, saved, nargs: int, save_result: bool = False) -> Tensor:
    """The recorded result of a one-tensor op (the hot path of every unary and scalar op).

    Builds the node and the output tensor directly, without intermediate calls: this is
    `record(_make(data, t), ...)` unrolled. `save_result` saves the output for backward.
    """
    if _alloc.on and data.nbytes >= _alloc.floor:
        _alloc.admit(data)
    fn = t._grad_fn
    tx = t._x
    if fn is not None:
        e = fn if tx is None or tx.output_nr == 0 else (fn, tx.output_nr)
    else:
        e = t._grad_accumulator()
    node = _onew(node_cls)
    node._next = (e,) if nargs == 1 else (e, None)
    node._shape = data.shape
    node._npdt = data.dtype
    node._seq = _next_seq()
    node._x = None
    node._epoch = 0
    out = _onew(Tensor)
    out._data = data
    out._grad_fn = node
    out._requires_grad = True
    if save_result:
        vc = out._vc = [0]
        node._saved = (SavedOutput(data, vc, None if tx is None or tx.device is CPU else tx.device),)
    else:
        out._vc = None
        node._saved = saved
        vc = t._vc
        if vc is not None and vc[0] != 0 and saved:
            node._extras().versions = {i: vc[0] for i, s in enumerate(saved) if s is t}
    if tx is not None and tx.device is not CPU:
        x = out._x = _TensorExtras()
        x.device = tx.device
    else:
        out._x = None
    if _ag._saved_hooks and node._saved:
        _ag.pack_saved(node, lambda v: out)
    return out


def save_out(out: Tensor) -> SavedOutput:
    """Save an op's own output for its backward (no reference cycle; version-checked)."""
    vc = out._vc
    if vc is None:
        vc = out._vc = [0]
    x = out._x
    return SavedOutput(out._data, vc, None if x is None or x.device is CPU else x.device)


def unpack_out(node, saved: SavedOutput) -> Tensor:
    """The saved output as a tensor; part of the graph (grad_fn = node) under create_graph."""
    t = _make(saved.data) if saved.device is None else new(saved.data, saved.device)
    if _ag._enabled:
        t._grad_fn = node
        t._requires_grad = True
    return t


def requires(*ts) -> bool:
    if not _ag._enabled:
        return False
    for t in ts:
        if isinstance(t, Tensor) and t._requires_grad:
            return True
    return False


def device_of(*ts):
    """The common device of the tensor operands (a 0-d CPU tensor may join any device)."""
    dev = None
    for t in ts:
        if not isinstance(t, Tensor):
            continue
        x = t._x
        d = CPU if x is None else x.device
        if dev is None or dev is d:
            dev = d
            continue
        if d is CPU and t._data.ndim == 0:
            continue
        if dev is CPU and _first_cpu_is_scalar(ts):
            dev = d
            continue
        a, b = (dev, d) if dev is not CPU else (d, dev)
        raise DeviceError(
            "Expected all tensors to be on the same device, but found at least two devices, "
            f"{a} and {b}!"
        )
    return CPU if dev is None else dev


def _first_cpu_is_scalar(ts) -> bool:
    for t in ts:
        if isinstance(t, Tensor):
            x = t._x
            if x is None or x.device is CPU:
                return t._data.ndim == 0
    return False


def new(data, dev) -> Tensor:
    """A result tensor on `dev`."""
    t = _make(data)
    if dev is not CPU:
        x = t._x = _TensorExtras()
        x.device = dev
    return t


def check_inplace(t: Tensor) -> None:
    """PyTorch's checks before an in-place op on `t`."""
    x = t._x
    if x is not None and x.inference and not _ag._inference:
        raise GradError(
            "Inplace update to inference tensor outside InferenceMode is not allowed.You can make "
            "a clone to get a normal tensor before doing inplace update.See "
            "https://github.com/pytorch/rfcs/pull/17 for more details."
        )
    if not _ag._enabled:
        return
    if t._requires_grad and t._grad_fn is None:
        raise GradError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    x = t._x
    if x is not None and x.base is not None:
        b = x.base
        if b._requires_grad and b._grad_fn is None:
            raise GradError(
                "a view of a leaf Variable that requires grad is being used in an in-place "
                "operation."
            )


def broadcast_error(sa, sb) -> ShapeError:
    """PyTorch's message for shapes that do not broadcast."""
    n = max(len(sa), len(sb))
    pa = (1,) * (n - len(sa)) + tuple(sa)
    pb = (1,) * (n - len(sb)) + tuple(sb)
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            return ShapeError(
                f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                f"non-singleton dimension {i}"
            )
    return ShapeError(f"shapes {list(sa)} and {list(sb)} are not broadcastable")


def as_array(d):
    """Make sure `d` is an array (NumPy scalars become 0-d arrays) so it can be written in place."""
    if isinstance(d, np.generic):
        return np.asarray(d)
    return d
