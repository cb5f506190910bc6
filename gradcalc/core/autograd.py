"""Core: graph nodes, grad modes and the backward engine.

The engine is iterative (no recursion in walking, ordering or freeing), counts
dependencies so each node runs once, reduces broadcast gradients to each input's
shape in one place, accumulates into leaves and frees saved tensors after use.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import sys
import warnings

import numpy as _np

from ..errors import GradError, ShapeError
from .dtypes import _FROM_NP

# --- grad modes -------------------------------------------------------------------------------

_enabled = True  # read by every op; set only through the functions below
_inference = False


def is_grad_enabled() -> bool:
    """Whether ops record the graph."""
    return _enabled


def _set_enabled(flag: bool) -> None:
    global _enabled
    _enabled = bool(flag)


class _GradModeBase:
    """Context manager and decorator that sets grad mode on entry and restores it on exit."""

    _target = True

    def __enter__(self):
        global _enabled
        self._prev = _enabled
        _enabled = self._target
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self._prev
        return False

    def __call__(self, fn):
        import functools

        mode = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeBase):
    """Disable graph recording (context manager or decorator)."""

    _target = False


class enable_grad(_GradModeBase):
    """Enable graph recording inside a no_grad block."""

    _target = True


class set_grad_enabled(_GradModeBase):
    """Set grad mode: as a call it applies at once; as a context manager it restores on exit."""

    def __init__(self, mode: bool):
        global _enabled
        self._prev = _enabled
        self._target = bool(mode)
        _enabled = self._target

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self._prev
        return False

    def __call__(self, fn):
        global _enabled
        _enabled = self._prev
        target = self._target

        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(target):
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(_GradModeBase):
    """Like no_grad; tensors made inside are inference tensors."""

    def __init__(self, mode: bool = True):
        self._mode = bool(mode)
        self._target = not self._mode

    def __enter__(self):
        global _enabled, _inference
        self._prev = _enabled
        self._prev_inf = _inference
        _enabled = self._target
        _inference = self._mode
        return self

    def __exit__(self, *exc):
        global _enabled, _inference
        _enabled = self._prev
        _inference = self._prev_inf
        return False

    def __call__(self, fn):
        import functools

        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    return _inference


# --- nodes ------------------------------------------------------------------------------------

_next_seq = itertools.count().__next__

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


class _Freed:
    __slots__ = ()

    def __repr__(self):
        return "<freed>"


FREED = _Freed()


class RemovableHandle:
    """Returned by register_hook; `remove()` takes the hook off again."""

    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks: dict, key):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_hook_ids = itertools.count()


class _NodeExtras:
    __slots__ = ("hooks", "pre_hooks", "tensor_pre_hooks", "retain", "metadata", "versions",
                 "packed")

    def __init__(self):
        self.hooks = None
        self.pre_hooks = None
        self.tensor_pre_hooks = None  # {output_nr: {id: fn}} from Tensor.register_hook
        self.retain = None  # {output_nr: weakref to tensor} from retain_grad()
        self.metadata = None
        self.versions = None  # {index in saved: version at save time}, when not 0
        self.packed = False  # whether saved_tensors_hooks packed what the node saved


# --- saved-tensor hooks (torch.autograd.graph.saved_tensors_hooks) ---------------------------

#: the active hooks, innermost last: (pack, unpack), or (None, message) where disabled
_saved_hooks: list = []


class Packed:
    """A saved tensor as its pack hook returned it; `unpack(value)` gives the tensor back."""

    __slots__ = ("value", "unpack", "output")

    def __init__(self, value, unpack, output):
        self.value, self.unpack, self.output = value, unpack, output

    def tensor(self):
        t = self.unpack(self.value)
        if not isinstance(t, _Tensor):
            raise GradError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(t).__name__}")
        return t


def push_saved_hooks(pack, unpack, disabled_message=None) -> None:
    """Enter a saved_tensors_hooks block (or, with a message, a block where they are refused)."""
    for p, msg in _saved_hooks:
        if p is None and disabled_message is None:
            raise GradError(msg)
    _saved_hooks.append((pack, unpack) if disabled_message is None else (None, disabled_message))


def pop_saved_hooks() -> None:
    _saved_hooks.pop()


def pack_saved(node, output_of) -> None:
    """Store each tensor `node` saved as the innermost pack hook's result (record() calls this
    while hooks are active); `output_of(saved_output)` is the output tensor a SavedOutput is."""
    pack, unpack = _saved_hooks[-1]
    if pack is None:
        return
    saved = list(node._saved)
    order = getattr(type(node), "pack_order", None) or range(len(saved))
    packed = False
    for i in order:
        v = saved[i]
        if type(v) is SavedOutput:
            saved[i] = Packed(pack(output_of(v)), unpack, True)
            packed = True
        elif isinstance(v, _Tensor):
            saved[i] = Packed(pack(v), unpack, False)
            packed = True
    if packed:
        node._saved = tuple(saved)
        node._extras().packed = True


def _unpack_saved(node, saved) -> tuple:
    """`saved` with each Packed value unpacked (in the order they were packed), for one run
    of the node's backward."""
    out = list(saved)
    for i in getattr(type(node), "pack_order", None) or range(len(saved)):
        v = saved[i]
        if type(v) is Packed:
            t = v.tensor()
            if v.output:
                vc = t._vc if t._vc is not None else [0]
                x = t._x
                v = SavedOutput(t._data, vc, None if x is None or x.device.type == "cpu"
                                else x.device)
            else:
                v = t
        out[i] = v
    return tuple(out)


class Node:
    """A backward function: one per differentiable op application (PyTorch's grad_fn)."""

    # _epoch/_deps/_buf are the engine's scratch space: the backward pass that last reached
    # this node, its count of unfinished consumers, and the gradient summed so far.
    __slots__ = ("_next", "_saved", "_shape", "_npdt", "_seq", "_x", "_epoch", "_deps", "_buf",
                 "__weakref__")
    #: the local derivative for each input, in words (used by --trace)
    formula: tuple = ()
    #: names of the saved values, as PyTorch's `_saved_<name>` attributes
    saved_names: tuple = ()
    #: values a node leaves unsaved when they are the default
    saved_defaults: dict = {}
    n_outputs = 1
    #: whether the engine keeps this node's gradients as a list, one per output (a multi-output
    #: node, even one that happens to have a single output: split into one piece)
    _multi = False

    def __init__(self, next_edges, shape, npdt, saved=()):
        self._next = next_edges
        self._shape = shape
        self._npdt = npdt  # the NumPy dtype of the output
        self._saved = saved
        self._seq = _next_seq()
        self._x = None
        self._epoch = 0

    @property
    def _dtype(self):
        """The gradcalc dtype of this node's output."""
        return _FROM_NP[self._npdt]

    # -- PyTorch's public node API
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        out = []
        for e in self._next:
            if e is None:
                out.append((None, 0))
            elif type(e) is tuple:
                out.append(e)
            else:
                out.append((e, 0))
        return tuple(out)

    @property
    def metadata(self) -> dict:
        x = self._extras()
        if x.metadata is None:
            x.metadata = {}
        return x.metadata

    def _extras(self) -> _NodeExtras:
        x = self._x
        if x is None:
            x = self._x = _NodeExtras()
        return x

    def register_hook(self, fn) -> RemovableHandle:
        """fn(grad_inputs, grad_outputs) runs after this node; a non-None result replaces grad_inputs."""
        x = self._extras()
        if x.hooks is None:
            x.hooks = {}
        k = next(_hook_ids)
        x.hooks[k] = fn
        return RemovableHandle(x.hooks, k)

    def register_prehook(self, fn) -> RemovableHandle:
        """fn(grad_outputs) runs before this node; a non-None result replaces grad_outputs."""
        x = self._extras()
        if x.pre_hooks is None:
            x.pre_hooks = {}
        k = next(_hook_ids)
        x.pre_hooks[k] = fn
        return RemovableHandle(x.pre_hooks, k)

    def __init_subclass__(cls, **kwargs):
        # PyTorch's `_saved_<name>` attributes, one property per saved value. (Properties, not
        # a __getattr__: a class with __getattr__ pays for it on every attribute the engine reads.)
        super().__init_subclass__(**kwargs)
        if cls.n_outputs > 1:
            cls._multi = True
        for i, name in enumerate(cls.__dict__.get("saved_names", ())):
            setattr(cls, "_saved_" + name, _saved_property(i, name))

    def saved_items(self) -> list:
        """(name, value) of each value saved for backward ([] once freed)."""
        saved = self._saved
        if saved is FREED or not saved:
            return []
        return [(n, _public_saved(self, v)) for n, v in zip(type(self).saved_names, saved)]

    # -- engine interface
    def apply(self, grads):
        """Gradients for each input edge, given the gradient(s) of the output(s)."""
        raise NotImplementedError

    #: `_raw(node, g)`: the backward on raw CPU arrays (g a NumPy array or scalar; returns NumPy
    #: arrays or scalars, or None, per edge), used when no graph is recorded (no create_graph)
    #: and no node hook watches. Must compute bit for bit what `apply` computes (a test checks
    #: every op row). None: the engine calls `apply`.
    _raw = None

    def _raw_via_apply(self, g):
        """`_raw` by way of `apply`, for a case a raw formula leaves to the tensor one."""
        return tuple(None if t is None else t._data for t in self.apply(_make(g)))

    #: whether backward frees what this node saved (False when it saved only sizes and flags,
    #: as PyTorch's nodes that save no tensors, which can be backwarded twice)
    _frees = True

    def _unpack(self):
        saved = self._saved
        if saved is FREED:
            raise GradError(FREED_MESSAGE)
        x = self._x
        if x is None:
            expected = None
        elif x.packed:
            return saved  # the unpack hooks' tensors: PyTorch checks no versions of these
        else:
            expected = x.versions
        if not expected:
            # every saved tensor was at version 0 when saved: any bump is a modification
            for s in saved:
                vc = getattr(s, "_vc", None)
                if vc is not None and vc[0]:
                    _version_error(self, s, vc[0], 0)
            return saved
        for i, s in enumerate(saved):
            vc = getattr(s, "_vc", None)
            if vc is not None:
                want = expected.get(i, 0)
                if vc[0] != want:
                    _version_error(self, s, vc[0], want)
        return saved


class SavedOutput:
    """The output of a node saved for its own backward, without a reference cycle."""

    __slots__ = ("data", "_vc", "device")

    def __init__(self, data, vc, device=None):
        self.data, self._vc, self.device = data, vc, device  # device None: the CPU


def _public_saved(node, v):
    if type(v) is SavedOutput:
        return _Tensor._wrap_saved_output(v, node, False)
    return v


def _op_name(node) -> str:
    """A node's name as PyTorch's version error gives it: the op, without `Backward0`."""
    name = node.name()
    i = name.rfind("Backward")
    return name[:i] if i > 0 and name[i + 8:].isdigit() else name


def _version_error(node, s, now, want):
    if type(s) is SavedOutput:
        shape, dname, where = node._shape, node._dtype.name, f"output 0 of {_op_name(node)}"
    else:
        shape, dname = s.shape, s.dtype.name
        fn = s.grad_fn
        where = f"output 0 of {_op_name(fn)}" if fn is not None else None
    desc = f"[{_legacy_type(dname)} [{', '.join(str(d) for d in shape)}]]"
    mid = f", which is {where}," if where else ""
    raise GradError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {desc}{mid} is at version {now}; expected version {want} instead. Hint: "
        "enable anomaly detection to find the operation that failed to compute its gradient, "
        "with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )


def _legacy_type(name: str) -> str:
    from .dtypes import ALIASES

    return ALIASES[name].legacy_name


# gradcalc.core.tensor imports this module first, then binds its Tensor class and `_make` here.
_Tensor = None
_make = None


def _bind_tensor(tensor_cls, make) -> None:
    global _Tensor, _make
    _Tensor, _make = tensor_cls, make


_WRAPPED_NUMBER_DTYPES = {bool: _np.bool_, int: _np.int64, float: _np.float64}


def _saved_property(i: int, name: str) -> property:
    wraps_numbers = name in ("self", "other")  # tensor arguments (not Scalar ones like alpha)

    def get(self):
        saved = self._saved
        if saved is FREED:
            raise GradError(FREED_MESSAGE)
        if i >= len(saved):  # a default left unsaved (alpha=1 of add and sub)
            return type(self).saved_defaults[name]
        v = saved[i]
        if type(v) is Packed:
            return v.tensor()  # saved_tensors_hooks: the unpack hook's tensor, on each access
        if type(v) is SavedOutput:
            # PyTorch unpacks a saved output with this node as its grad_fn
            t = _Tensor._wrap_saved_output(v, self, False)
            t._grad_fn = self
            t._requires_grad = True
            return t
        if wraps_numbers and type(v) in _WRAPPED_NUMBER_DTYPES:
            # a Python number in a tensor argument is saved as a 0-dim tensor (int64, float64)
            return _make(_np.asarray(v, dtype=_WRAPPED_NUMBER_DTYPES[type(v)]))
        return v

    return property(get, doc=f"The value saved for backward as `{name}`.")


class AccumulateGrad(Node):
    """The sink node of a leaf tensor: adds the incoming gradient into `.grad`."""

    __slots__ = ("variable",)
    formula = ("accumulate into .grad",)

    def __init__(self, variable):
        Node.__init__(self, (), variable._data.shape, variable._data.dtype)
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"


# --- the engine -------------------------------------------------------------------------------


def _edge_of(t):
    """The (node, output_nr) a tensor's gradient flows into, or None."""
    fn = t._grad_fn
    if fn is not None:
        nr = t._output_nr()
        return fn if nr == 0 else (fn, nr)
    if t._requires_grad:
        return t._grad_accumulator()
    return None


def _reduce_to(g, node, shape, dtype):
    """Sum a broadcast gradient back to `shape` and cast it to `dtype` (the engine's one place)."""
    gd = g._data
    if gd.shape != shape:
        if not _enabled and type(gd) is _np.ndarray:
            return _make(_reduce_raw(gd, node, shape, dtype.np))
        _check_reducible(gd.shape, node, shape)
        g = g.sum_to_size(shape)
    if g._data.dtype != dtype.np:
        g = g.to(dtype)
    return g


def _reduce_raw(gd, node, shape, npdt):
    """`_reduce_to` on a raw CPU array, when no graph is recorded."""
    gs = gd.shape
    if gs != shape and gs[1:] == shape:
        # a batch of rows to one row (a bias): the common case; a batch of one is a reshape
        gd = _np.add.reduce(gd, axis=0) if gs[0] != 1 else gd.reshape(shape)
    elif gs != shape:
        _check_reducible(gs, node, shape)
        # one raw reduction: leading dims, then broadcast 1-dims
        lead = len(gs) - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and gs[lead + i] != 1)
        gd = _np.add.reduce(gd, axis=axes).reshape(shape)
    if gd.dtype != npdt:
        gd = gd.astype(npdt)
    return gd


def _check_reducible(gs, node, shape):
    if len(gs) < len(shape) or not _expandable(shape, gs):
        raise ShapeError(
            f"Function {node.name()} returned an invalid gradient at index 0 - got "
            f"[{', '.join(map(str, gs))}] but expected shape compatible with "
            f"[{', '.join(map(str, shape))}]"
        )


def _expandable(shape, target) -> bool:
    for a, b in zip(reversed(shape), reversed(target)):
        if a != b and a != 1:
            return False
    return True


_epochs = itertools.count(1).__next__


def run_backward(
    roots,
    grads,
    retain_graph=None,
    create_graph=False,
    inputs=None,
    accumulate=True,
    allow_unused=False,
    trace=None,
):
    """Run the backward pass from `roots` seeded with `grads`.

    With `inputs` and `accumulate=False` (autograd.grad) returns the gradient at each
    input instead of touching `.grad`. `trace(node, grads_in, grads_out)` sees each
    node as it runs.
    """
    global _enabled
    if retain_graph is None:
        retain_graph = create_graph

    # root edges and seeds
    root_edges = []
    for i, (t, g) in enumerate(zip(roots, grads)):
        e = _edge_of(t)
        if e is None:
            raise GradError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        root_edges.append((e, g))

    # capture points for autograd.grad / backward(inputs=...)
    capture = None
    if inputs is not None:
        capture = {}
        for t in inputs:
            if _edge_of(t) is None:
                raise GradError("One of the differentiated Tensors does not require grad")
        for i, t in enumerate(inputs):
            e = _edge_of(t)
            node, nr = (e if type(e) is tuple else (e, 0))
            capture.setdefault(node, []).append((nr, i))

    ep = _epochs()
    nodes = _count_dependencies([e for e, _ in root_edges], ep, capture is not None)
    needed = _needed_nodes(nodes, capture) if capture is not None else None

    # seed buffers
    ready = []
    for e, g in root_edges:
        n, nr = (e if type(e) is tuple else (e, 0))
        _add_to_buffer(n, nr, g)
    nxt = None
    if len(root_edges) == 1:
        e = root_edges[0][0]
        nxt = e[0] if type(e) is tuple else e  # one root: it runs first, no queue needed
    else:
        seen = set()
        for e, _ in root_edges:
            n = e[0] if type(e) is tuple else e
            if n._deps == 0 and n not in seen:
                seen.add(n)
                heapq.heappush(ready, (-n._seq, id(n), n))

    results = [None] * len(inputs) if inputs is not None else None
    free = not retain_graph
    prev_enabled = _enabled
    _enabled = bool(create_graph)
    seeds = [g for _, g in root_edges]
    # The backward pass makes no reference cycles (nodes never point at their outputs), so
    # Python's cyclic collector has nothing to find while it runs; at a million nodes its
    # full-heap scans would otherwise cost as much as the pass itself.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    heappop, heappush = heapq.heappop, heapq.heappush
    Acc = AccumulateGrad
    Tensor = _Tensor
    wrap = _make
    rawmode = not create_graph and trace is None
    accs = []  # AccumulateGrad nodes that are ready: they run first (PyTorch gives them top priority)
    try:
        while True:
            if accs:
                node = accs.pop()
            elif nxt is not None:
                node = nxt
                nxt = None
            elif ready:
                node = heappop(ready)[2]
            else:
                break
            g = node._buf
            node._buf = None
            x = node._x
            packed = None
            if x is not None and x.packed and node._saved is not FREED:
                packed = node._saved  # saved_tensors_hooks: unpacked for this run only
                node._saved = _unpack_saved(node, packed)
            if x is not None and (x.tensor_pre_hooks or x.retain or x.pre_hooks):
                if g is not None and type(g) is not Tensor and type(g) is not list:
                    g = wrap(g)
                g = _run_pre_hooks(node, x, g)
            if capture is not None:
                if node in capture:
                    for nr, i in capture[node]:
                        gi = g[nr] if type(g) is list else g
                        results[i] = wrap(gi) if gi is not None and type(gi) is not Tensor else gi
                if node not in needed:
                    _release_children(node, ready)
                    continue
            if type(node) is Acc:
                if g is not None and accumulate and (capture is None or node in capture):
                    var = node.variable
                    if type(g) is Tensor:
                        _accumulate(var, g, create_graph, seeds)
                    elif var._x is None or not (var._x.hooks or var._x.post_acc_hooks):
                        _accumulate_raw(var, g, seeds)  # (g: a raw array)
                    else:
                        _accumulate(var, wrap(g), create_graph, seeds)
                    var = None
                if trace is not None:
                    trace(node, (g,), ())
                continue
            # raw: a raw array in, raw arrays out (see Node._raw)
            raw = node._raw if rawmode and (x is None or not (x.hooks or x.packed)) else None
            if g is None:
                outs = (None,) * len(node._next)
                raw = x = None
            elif type(g) is Tensor:
                if raw is not None and g._x is None:
                    outs = raw(g._data)
                else:
                    raw = None
                    outs = node.apply(g)
            elif type(g) is list:
                raw = None
                if all(v is None for v in g):
                    outs = (None,) * len(node._next)
                    x = None
                else:
                    g = [v if v is None or type(v) is Tensor else wrap(v) for v in g]
                    outs = node.apply(g)
            elif raw is not None:
                outs = raw(g)
            else:
                g = wrap(g)
                outs = node.apply(g)
            if raw is None and x is not None and x.hooks:
                for h in list(x.hooks.values()):
                    r = h(tuple(outs), g if type(g) is list else (g,))
                    if r is not None:
                        outs = tuple(r)
            if trace is not None:
                trace(node, tuple(g) if type(g) is list else (g,), tuple(outs))
            if packed is not None:
                node._saved = packed
            if free and node._frees and node._saved:
                node._saved = FREED
            became = None
            for e, gi in zip(node._next, outs):
                if e is None:
                    continue
                if type(e) is tuple:
                    child, nr = e
                else:
                    child, nr = e, 0
                if gi is not None:
                    if raw is not None:
                        # a raw array: reduced raw and kept raw in a single-output buffer
                        # (a multi-output node's buffer is a list of tensors)
                        old = child._buf
                        if type(old) is list:
                            gi = wrap(gi)
                        else:
                            if gi.shape != child._shape or gi.dtype is not child._npdt:
                                gi = _reduce_raw(gi, child, child._shape, child._npdt)
                            if old is None:
                                child._buf = gi
                            elif type(old) is Tensor:
                                child._buf = old + wrap(gi)
                            else:
                                child._buf = old + gi
                            gi = None
                    if gi is not None:
                        gd = gi._data
                        if (gd.shape != child._shape or gd.dtype is not child._npdt) and not child._multi:
                            gi = _reduce_to(gi, child, child._shape, child._dtype)
                        gd = None  # hold no extra reference: a leaf may keep the array uncopied
                        old = child._buf
                        if old is None:
                            child._buf = gi  # multi-output nodes start with a list, never None
                        elif type(old) is Tensor or type(old) is list:
                            _add_to_buffer(child, nr, gi)
                        else:
                            child._buf = wrap(old) + gi
                c = child._deps - 1
                child._deps = c
                if c == 0:
                    if type(child) is Acc:
                        accs.append(child)
                    elif became is None and not ready:
                        # the common case in a chain: exactly one child became ready
                        became = child
                    else:
                        heappush(ready, (-child._seq, id(child), child))
            outs = None  # hold no reference to a gradient array a leaf may keep uncopied
            if became is not None:
                if ready:
                    heappush(ready, (-became._seq, id(became), became))
                else:
                    nxt = became
    finally:
        _enabled = prev_enabled
        if gc_was_enabled:
            gc.enable()

    if results is not None:
        for i, r in enumerate(results):
            if r is None and not allow_unused:
                raise GradError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
    return results


def _count_dependencies(root_edges, ep, collect=False):
    """Count each reachable node's consumers into its `_deps` (iterative DFS, marked `ep`).

    Returns the list of reached nodes when `collect` is true (autograd.grad needs them).
    """
    stack = []
    for e in root_edges:
        n = e[0] if type(e) is tuple else e
        if n._epoch != ep:
            n._epoch = ep
            n._deps = 0
            n._buf = [None] * n.n_outputs if n._multi else None
            stack.append(n)
    nodes = list(stack) if collect else None
    while stack:
        n = stack.pop()
        for e in n._next:
            if e is None:
                continue
            if type(e) is tuple:
                e = e[0]
            if e._epoch == ep:
                e._deps += 1
            else:
                e._epoch = ep
                e._deps = 1
                e._buf = [None] * e.n_outputs if e._multi else None
                stack.append(e)
                if collect:
                    nodes.append(e)
    return nodes


def _needed_nodes(nodes, capture):
    """Nodes from which some captured node is reachable (PyTorch runs only these)."""
    parents = {}
    for n in nodes:
        for e in n._next:
            if e is None:
                continue
            c = e[0] if type(e) is tuple else e
            parents.setdefault(c, []).append(n)
    needed = set()
    known = set(nodes)
    stack = list(capture)
    while stack:
        n = stack.pop()
        if n in needed or n not in known:
            continue
        needed.add(n)
        stack.extend(parents.get(n, ()))
    return needed


def _release_children(node, ready):
    for e in node._next:
        if e is None:
            continue
        child = e[0] if type(e) is tuple else e
        c = child._deps - 1
        child._deps = c
        if c == 0:
            heapq.heappush(ready, (-child._seq, id(child), child))


def _add_to_buffer(node, nr, g):
    if g is None:
        return
    if not node._multi:
        old = node._buf
        node._buf = g if old is None else old + g
        return
    buf = node._buf
    old = buf[nr]
    buf[nr] = g if old is None else old + g


def _run_pre_hooks(node, x, g):
    if x.tensor_pre_hooks:
        for nr, hooks in x.tensor_pre_hooks.items():
            gi = g[nr] if type(g) is list else g
            if gi is None:
                continue
            for h in list(hooks.values()):
                r = h(gi)
                if r is not None:
                    gi = r
            if type(g) is list:
                g[nr] = gi
            else:
                g = gi
    if x.retain:
        for nr, ref in x.retain.items():
            t = ref()
            gi = g[nr] if type(g) is list else g
            if t is not None and gi is not None:
                if t._x is not None and t._x.grad is not None:
                    t._x.grad = t._x.grad + gi.detach()
                else:
                    t._extras().grad = gi.detach().clone() if not _enabled else gi
    if x.pre_hooks:
        for h in list(x.pre_hooks.values()):
            r = h(tuple(g) if type(g) is list else (g,))
            if r is not None:
                g = list(r) if type(g) is list else r[0]
    return g


def _owned(d, seeds, refs) -> bool:
    """Whether the engine may keep array `d` as a leaf's .grad without copying it.

    True only for a fresh array that nothing else references: not a seed the caller passed in
    (nor a view of one), and with no more than `refs` references, the ones the calling frames
    and this call hold (PyTorch checks the use count likewise).
    """
    base = getattr(d, "base", 0)
    if base is not None:
        # a view (a transposed gradient, as TBackward0 returns) of a fresh array that only
        # the view references
        if type(base) is not _np.ndarray or base.base is not None or sys.getrefcount(base) > 3:
            return False  # (d.base, the local `base` and getrefcount's argument)
    for s in seeds:
        if s._data is d:
            return False
    try:
        if not d.flags.writeable:  # (no local for the flags object: it references the array)
            return False
    except AttributeError:
        return False
    return sys.getrefcount(d) <= refs


def _accumulate(var, g, create_graph, seeds=()):
    """AccumulateGrad: leaf hooks run first, then `.grad` is set or added to."""
    xx = var._x
    if xx is not None and xx.hooks:
        for h in list(xx.hooks.values()):
            r = h(g)
            if r is not None:
                g = r
    old = xx.grad if xx is not None else None
    if old is None:
        if create_graph:
            # PyTorch: new_empty_strided(...).copy_(grad), so .grad has grad_fn CopyBackwards
            fresh = _Tensor._wrap_owned(g)
            fresh._data = g._xp().empty_like(g._data)
            var._extras().grad = fresh.copy_(g)
        elif _owned(g._data, seeds, 3):  # g._data, _owned's `d`, getrefcount's argument
            var._extras().grad = _Tensor._wrap_owned(g)
        else:
            var._extras().grad = g._detached_copy()
    elif create_graph or _enabled:
        xx.grad = old + g
    else:
        old._accumulate_inplace(g._data)
    if xx is not None and xx.post_acc_hooks:
        for h in list(xx.post_acc_hooks.values()):
            h(var)


def _accumulate_raw(var, d, seeds):
    """AccumulateGrad for a raw CPU array, when no graph is recorded and the leaf has no hooks."""
    xx = var._x
    old = xx.grad if xx is not None else None
    if old is None:
        # the engine's local, this frame's `d`, _owned's `d` and getrefcount's argument
        if not _owned(d, seeds, 4):
            d = _np.array(d, copy=True)
        var._extras().grad = _make(d)
    else:
        old._accumulate_inplace(d)


def warn_nonleaf_grad():
    warnings.warn(
        "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
        "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
        "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
        "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
        "instead. See github.com/pytorch/pytorch/pull/30531 for more information.",
        UserWarning,
        stacklevel=3,
    )
