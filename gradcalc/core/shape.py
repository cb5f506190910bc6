"""Core op table, shape part: views, reshapes, joins and splits, gather/scatter, indexing."""

from __future__ import annotations

import numpy as np

from ..errors import GradcalcIndexError, GradcalcTypeError, GradcalcValueError, ShapeError, TorchRuntimeError
from . import alloc as _alloc
from . import autograd as _ag
from .autograd import Node
from .backend import to_host
from .convert import is_plain_data
from .dtypes import _FROM_NP
from .graph import device_of, record, result1
from .ops import _out, inplace, _snapshot
from .registry import op
from .tensor import Size, Tensor, _make, _TensorExtras, _wrap_dim


def _view_out(data, base: Tensor) -> Tensor:
    """A result that shares `base`'s storage: same version counter, `base` remembered."""
    return _as_view(_out(data, base.device), base)


def _as_view(r: Tensor, base: Tensor) -> Tensor:
    """Make `r` a view of `base`: one version counter, `base` (or its own base) remembered."""
    vc = base._vc
    if vc is None:
        vc = base._vc = [0]
    r._vc = vc
    bx = base._x
    x = r._x
    if x is None:
        x = r._x = _TensorExtras()
    x.base = bx.base if bx is not None and bx.base is not None else base
    return r


def _shape_args(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise GradcalcTypeError(
                f"view(): argument 'size' must be tuple of ints, but found element of type "
                f"{type(s).__name__}"
            )
        out.append(int(s))
    return tuple(out)


def _infer(shape, numel):
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise TorchRuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise TorchRuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise TorchRuntimeError(
                f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {numel}"
            )
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise TorchRuntimeError(
            f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {numel}"
        )
    return shape


class ViewBackward0(Node):
    __slots__ = ()
    formula = ("grad.reshape(self.shape)",)
    saved_names = ("self_sym_sizes",)

    def apply(self, g):
        return (g.reshape(self._saved[0]),)

    def _raw(self, g):
        return (np.reshape(g, self._saved[0]),)

    _frees = False


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


class ReshapeAliasBackward0(ViewBackward0):
    """reshape of a non-contiguous tensor that can still be viewed (PyTorch's _reshape_alias)."""

    __slots__ = ()


def _try_view(d, shape):
    if isinstance(d, np.generic):
        return np.asarray(d).reshape(shape)
    try:
        return d.reshape(shape, copy=False)
    except (ValueError, TypeError):
        if isinstance(d, np.ndarray):
            v = d.view()
            try:
                v.shape = shape
                return v
            except AttributeError:
                return None
        # a device array: a view exactly where NumPy could view the same strided layout
        probe = np.lib.stride_tricks.as_strided(np.empty(1, d.dtype), d.shape, d.strides)
        try:
            probe.reshape(shape, copy=False)
        except ValueError:
            return None
        return d.reshape(shape)


@op("view")
def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, Size, np.integer, Tensor)):
        from .dtypes import as_dtype

        dt = as_dtype(shape[0])
        return _out(input._data.view(dt.np), input.device)
    d = input._data
    shape = _infer(_shape_args(shape), d.size)
    v = _try_view(d, shape)
    if v is None:
        raise ShapeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    r = _view_out(v, input)
    if _ag._enabled and input._requires_grad:
        record(r, ViewBackward0, (input,), (d.shape,))
    return r


@op("reshape")
def reshape(input, *shape):
    d = input._data
    shape = _infer(_shape_args(shape), d.size)
    v = _try_view(d, shape)
    if v is not None:
        r = _view_out(v, input)  # the same shape too: a view, ViewBackward0 (not an alias)
        if _ag._enabled and input._requires_grad:
            # PyTorch views a contiguous tensor; a strided one that needs no copy is aliased
            record(r, ViewBackward0 if input.is_contiguous() else ReshapeAliasBackward0,
                   (input,), (d.shape,))
        return r
    r = _out(input._xp().reshape(input._xp().ascontiguousarray(d), shape), input.device)
    if _ag._enabled and input._requires_grad:
        r0 = clone_for_reshape(input)
        record(r, UnsafeViewBackward0, (r0,), (d.shape,))
    return r


def clone_for_reshape(input):
    """reshape of a non-contiguous tensor is clone + view in PyTorch: UnsafeView(Clone(..))."""
    from .ops import CloneBackward0

    c = _make(input._data, input)
    record(c, CloneBackward0, (input,))
    return c


def _alias(self):
    r = _view_out(self._data, self)
    if _ag._enabled and self._requires_grad:
        record(r, AliasBackward0, (self,))
    return r


Tensor._alias = _alias


class AliasBackward0(Node):
    __slots__ = ()
    formula = ("grad",)

    def apply(self, g):
        return (g,)


@op("view_as", differentiable=False)
def view_as(input, other):
    return view(input, other.shape)


@op("reshape_as", differentiable=False)
def reshape_as(input, other):
    return reshape(input, other.shape)


@op("flatten")
def flatten(input, start_dim=0, end_dim=-1):
    nd = input.dim()
    if nd == 0:
        return reshape(input, 1)
    s = _wrap_dim(start_dim, nd)
    e = _wrap_dim(end_dim, nd)
    if s > e:
        raise TorchRuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shp = input.shape
    n = 1
    for k in shp[s : e + 1]:
        n *= k
    return reshape(input, tuple(shp[:s]) + (n,) + tuple(shp[e + 1 :]))


@op("ravel", differentiable=False)
def ravel(input):
    # PyTorch: contiguous().view(-1) -> View(Clone(..)) for a strided input
    return view(input.contiguous(), -1)


@op("unflatten")
def unflatten(input, dim, sizes):
    dim = _wrap_dim(dim, input.dim())
    shp = tuple(input.shape)
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes = tuple(shp[dim] // known if s == -1 else s for s in sizes)
    n = 1
    for s in sizes:
        n *= s
    if n != shp[dim]:
        raise TorchRuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({shp[dim]}) in the input tensor"
        )
    return view(input, shp[:dim] + sizes + shp[dim + 1 :])


class SqueezeBackward0(Node):
    __slots__ = ()
    formula = ("grad.reshape(self.shape)",)
    saved_names = ("self_sym_sizes",)

    def apply(self, g):
        return (g.reshape(self._saved[0]),)

    def _raw(self, g):
        return (np.reshape(g, self._saved[0]),)

    _frees = False


class SqueezeBackward1(SqueezeBackward0):
    __slots__ = ()
    formula = ("grad.unsqueeze(dim)",)


class SqueezeBackward2(SqueezeBackward0):
    __slots__ = ()


class SqueezeBackward4(SqueezeBackward0):
    __slots__ = ()


@op("squeeze")
def squeeze(input, dim=None):
    d = input._data
    if dim is None:
        shape = tuple(s for s in d.shape if s != 1)
        cls = SqueezeBackward0
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {_wrap_dim(k, d.ndim) for k in dims}
        shape = tuple(s for i, s in enumerate(d.shape) if not (i in dims and s == 1))
        cls = SqueezeBackward1 if not isinstance(dim, (tuple, list)) else SqueezeBackward2
    r = _view_out(d.reshape(shape), input)
    if _ag._enabled and input._requires_grad:
        record(r, cls, (input,), (d.shape,))
    return r


class UnsqueezeBackward0(Node):
    __slots__ = ()
    formula = ("grad.squeeze(dim)",)
    saved_names = ("dim",)

    def apply(self, g):
        return (g.squeeze(self._saved[0]),)

    _frees = False


@op("unsqueeze")
def unsqueeze(input, dim):
    d = input._data
    dim = _wrap_dim(dim, d.ndim + 1)
    shape = d.shape[:dim] + (1,) + d.shape[dim:]
    r = _view_out(d.reshape(shape), input)
    if _ag._enabled and input._requires_grad:
        record(r, UnsqueezeBackward0, (input,), (dim,))
    return r


class ExpandBackward0(Node):
    __slots__ = ()
    formula = ("grad.sum_to_size(self.shape)",)
    saved_names = ("self_sym_sizes",)

    def apply(self, g):
        return (g.sum_to_size(self._saved[0]),)

    _frees = False


@op("expand")
def expand(input, *sizes):
    sizes = _shape_args(sizes)
    d = input._data
    if len(sizes) < d.ndim:
        raise TorchRuntimeError(
            f"expand({_FROM_NP[d.dtype].legacy_name}{{[{', '.join(map(str, d.shape))}]}}, "
            f"size=[{', '.join(map(str, sizes))}]): the number of sizes provided ({len(sizes)}) "
            f"must be greater or equal to the number of dimensions in the tensor ({d.ndim})"
        )
    lead = len(sizes) - d.ndim
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise TorchRuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                    "non-existing dimension 0"
                )
            shape.append(s)
            continue
        cur = d.shape[i - lead]
        if s == -1:
            s = cur
        if cur != s and cur != 1:
            raise ShapeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {i}.  Target sizes: [{', '.join(map(str, sizes))}].  "
                f"Tensor sizes: [{', '.join(map(str, d.shape))}]"
            )
        shape.append(s)
    shape = tuple(shape)
    if shape == d.shape:
        v = d if not isinstance(d, np.generic) else np.asarray(d)
    else:
        if _alloc.on:
            _alloc.check(shape, 0, "expand()")  # a view: elements only, no memory
        v = input._xp().broadcast_to(d, shape)
    r = _view_out(v, input)
    if _ag._enabled and input._requires_grad:
        record(r, ExpandBackward0, (input,), (d.shape,))
    return r


@op("expand_as", differentiable=False)
def expand_as(input, other):
    return expand(input, other.shape)


@op("broadcast_to", differentiable=False)
def broadcast_to(input, size):
    return expand(input, size)


@op("broadcast_tensors", method=False, differentiable=False)
def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*[tuple(t.shape) for t in tensors])
    # PyTorch hands back a tensor that already has the shape itself (no ExpandBackward0)
    return tuple(t if tuple(t.shape) == shape else expand(t, shape) for t in tensors)


@op("sum_to_size", function=False)
def sum_to_size(input, *size):
    shape = _shape_args(size)
    d = input._data
    if d.shape == shape:
        return input
    lead = d.ndim - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and d.shape[lead + i] != 1]
    if not (_ag._enabled and input._requires_grad):
        # no graph to record: one reduction straight to the target shape
        xp = input._xp()
        red = np.add.reduce(d, axis=tuple(dims)) if xp is np else xp.sum(d, axis=tuple(dims))
        return _out(red.reshape(shape), input.device)
    r = input.sum(dims, keepdim=True) if dims else input
    if lead:
        r = r.view(shape)
    return r


class RepeatBackward0(Node):
    __slots__ = ()
    formula = ("sum of grad over the repeated tiles",)
    saved_names = ("self_sym_sizes", "repeats")

    def apply(self, g):
        shape, reps = self._saved
        lead = len(reps) - len(shape)
        full = (1,) * lead + tuple(shape)
        split = []
        for r_, s in zip(reps, full):
            split += [r_, s]
        gg = g.reshape(split).sum(list(range(0, 2 * len(reps), 2)))
        return (gg.reshape(shape),)

    _frees = False


@op("repeat", function=False)
def repeat(input, *repeats):
    reps = _shape_args(repeats)
    d = input._data
    if len(reps) < d.ndim:
        raise TorchRuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
            "tensor"
        )
    if _alloc.on:
        _alloc.check(_alloc.repeat_shape(d.shape, reps), d.dtype.itemsize, "repeat()")
    r = _out(input._xp().tile(d, reps), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, RepeatBackward0, (input,), (d.shape, reps))
    return r


class PermuteBackward0(Node):
    __slots__ = ()
    formula = ("grad.permute(inverse(dims))",)
    saved_names = ("dims",)

    def apply(self, g):
        dims = self._saved[0]
        inv = [0] * len(dims)
        for i, p in enumerate(dims):
            inv[p] = i
        return (g.permute(inv),)

    _frees = False


@op("permute")
def permute(input, *dims):
    dims = _shape_args(dims)
    nd = input.dim()
    if len(dims) != nd:
        raise TorchRuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal to "
            f"len(dims) = {len(dims)}"
        )
    dims = tuple(_wrap_dim(k, nd) for k in dims)
    if len(set(dims)) != nd:
        raise TorchRuntimeError("permute(): duplicate dims are not allowed.")
    r = _view_out(input._xp().transpose(input._data, dims), input)
    if _ag._enabled and input._requires_grad:
        record(r, PermuteBackward0, (input,), (dims,))
    return r


class TransposeBackward0(Node):
    __slots__ = ()
    formula = ("grad.transpose(dim0, dim1)",)
    saved_names = ("dim0", "dim1")

    def apply(self, g):
        a, b = self._saved
        return (g.transpose(a, b),)

    _frees = False


class TBackward0(Node):
    __slots__ = ()
    formula = ("grad.t()",)

    def apply(self, g):
        return (g.t(),)

    def _raw(self, g):
        return (g.T if g.ndim == 2 else g,)


@op("transpose", aliases=("swapaxes", "swapdims"))
def transpose(input, dim0, dim1):
    nd = input.dim()
    a = _wrap_dim(dim0, nd)
    b = _wrap_dim(dim1, nd)
    d = input._data
    r = _view_out(input._xp().swapaxes(d, a, b) if nd else d, input)
    if _ag._enabled and input._requires_grad:
        record(r, TransposeBackward0, (input,), (a, b))
    return r


@op("t")
def t(input):
    d = input._data
    nd = d.ndim
    if nd > 2:
        raise TorchRuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    if input._requires_grad and _ag._enabled:
        return _as_view(result1(d.T if nd == 2 else d, TBackward0, input, (), 1), input)
    return _view_out(d.T if nd == 2 else d, input)


@op("adjoint", differentiable=False)
def adjoint(input):
    return transpose(input, -2, -1)


_T_WARNED = []


def _T(self):
    nd = self.dim()
    if nd not in (0, 2) and not _T_WARNED:  # PyTorch's TORCH_WARN_ONCE
        import warnings

        _T_WARNED.append(True)
        warnings.warn(
            "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
            "deprecated and it will throw an error in a future release. Consider `x.mT` to "
            "transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` "
            "to reverse the dimensions of a tensor.", UserWarning, stacklevel=2)
    return permute(self, tuple(range(nd - 1, -1, -1)))


def _mT(self):
    if self.dim() < 2:
        raise TorchRuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(self, -2, -1)


Tensor.T = property(_T)
Tensor.mT = property(_mT)
Tensor.H = property(_T)
Tensor.mH = property(_mT)


@op("movedim", aliases=("moveaxis",), differentiable=False)
def movedim(input, source, destination):
    nd = input.dim()
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_wrap_dim(s, nd) for s in src]
    dst = [_wrap_dim(s, nd) for s in dst]
    order = [n for n in range(nd) if n not in src]
    for dd, s in sorted(zip(dst, src)):
        order.insert(dd, s)
    return permute(input, order)


# --- joins and splits -------------------------------------------------------------------------


class CatBackward0(Node):
    __slots__ = ()
    formula = ("grad.narrow(dim, offset_i, size_i) for each input",)
    saved_names = ("dim", "sizes")

    def apply(self, g):
        dim, sizes = self._saved
        out, off = [], 0
        for s in sizes:
            out.append(narrow(g, dim, off, s) if s is not None else None)
            off += s or 0
        return tuple(out)

    _frees = False


@op("cat", method=False, aliases=("concat", "concatenate"))
def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise TorchRuntimeError("torch.cat(): expected a non-empty list of Tensors")
    from .dtypes import result_type

    rt = result_type(*tensors)
    dev = device_of(*tensors)
    parts = [t for t in tensors if not (t.dim() == 1 and t.shape[0] == 0)] or tensors[:1]
    ref = parts[0]
    nd = ref.dim()
    if nd == 0:
        raise TorchRuntimeError(
            "zero-dimensional tensor (at position 0) cannot be concatenated"
        )
    dim = _wrap_dim(dim, nd)
    for i, t in enumerate(tensors):
        if t.dim() == 1 and t.shape[0] == 0 and nd != 1:
            continue
        if t.dim() != nd:
            raise TorchRuntimeError(
                f"Tensors must have same number of dimensions: got {nd} and {t.dim()}"
            )
        for k in range(nd):
            if k != dim and t.shape[k] != ref.shape[k]:
                raise ShapeError(
                    f"Sizes of tensors must match except in dimension {dim}. Expected size "
                    f"{ref.shape[k]} but got size {t.shape[k]} for tensor number {i} in the list."
                )
    xp = ref._xp()
    if _alloc.on:
        _alloc.check_numel(sum(t._data.size for t in parts), rt.np.itemsize, "cat()")
    data = xp.concatenate([t._data.astype(rt.np, copy=False) for t in parts], axis=dim)
    r = _out(data, dev)
    if _ag._enabled and any(t._requires_grad for t in tensors):
        kept = {id(t) for t in parts}  # identity: `t in parts` would compare values with ==
        sizes = tuple(t.shape[dim] if id(t) in kept else 0 for t in tensors)
        record(r, CatBackward0, tensors, (dim, sizes))
    return r


class StackBackward0(Node):
    __slots__ = ()
    formula = ("grad.select(dim, i) for each input",)
    saved_names = ("dim", "n")

    def apply(self, g):
        dim, n = self._saved
        return tuple(select(g, dim, i) for i in range(n))

    _frees = False


@op("stack", method=False)
def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise TorchRuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]
    for i, t in enumerate(tensors):
        if t.shape != ref.shape:
            raise ShapeError(
                f"stack expects each tensor to be equal size, but got {list(ref.shape)} at entry 0 "
                f"and {list(t.shape)} at entry {i}"
            )
    from .dtypes import result_type

    rt = result_type(*tensors)
    dev = device_of(*tensors)
    dim = _wrap_dim(dim, ref.dim() + 1)
    if _alloc.on:
        _alloc.check_numel(ref._data.size * len(tensors), rt.np.itemsize, "stack()")
    data = ref._xp().stack([t._data.astype(rt.np, copy=False) for t in tensors], axis=dim)
    r = _out(data, dev)
    if _ag._enabled and any(t._requires_grad for t in tensors):
        record(r, StackBackward0, tensors, (dim, len(tensors)))
    return r


@op("hstack", method=False, differentiable=False)
def hstack(tensors):
    tensors = [t if t.dim() else t.reshape(1) for t in tensors]
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


@op("vstack", method=False, differentiable=False)
def vstack(tensors):
    return cat([t.reshape(1, -1) if t.dim() < 2 else t for t in tensors], 0)


class _MultiOutput(Node):
    __slots__ = ()
    _multi = True

    def _grads_or_zeros(self, g):
        shapes = self._saved[-1]
        like = next(gi for gi in g if gi is not None)  # the engine calls apply with at least one
        xp = like._xp()
        return [gi if gi is not None else _make(xp.zeros(shp, dtype=self._npdt), like)
                for gi, shp in zip(g, shapes)]

    _frees = False


class SplitBackward0(_MultiOutput):
    __slots__ = ()
    formula = ("cat(grads, dim)",)
    saved_names = ("dim", "split_sizes")

    def apply(self, g):
        return (cat(self._grads_or_zeros(g), self._saved[0]),)


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


class UnbindBackward0(_MultiOutput):
    __slots__ = ()
    formula = ("stack(grads, dim)",)
    saved_names = ("dim", "shapes")

    def apply(self, g):
        return (stack(self._grads_or_zeros(g), self._saved[0]),)


def _multi(input, pieces, cls, saved, shape_of=None):
    """Outputs of one multi-output node, each with its output number."""
    outs = [_view_out(p, input) for p in pieces]
    if _ag._enabled and input._requires_grad:
        from .graph import edges

        node = cls(edges((input,)), input._data.shape, input._data.dtype,
                   saved + (tuple(o._data.shape for o in outs),))
        for i, o in enumerate(outs):
            o._grad_fn = node
            o._requires_grad = True
            o._extras().output_nr = i
    return tuple(outs)


SplitBackward0.n_outputs = 1
_multi_n = {}


def _node_with_outputs(cls, n):
    key = (cls, n)
    sub = _multi_n.get(key)
    if sub is None:
        sub = type(cls.__name__, (cls,), {"__slots__": (), "n_outputs": n})
        _multi_n[key] = sub
    return sub


@op("split")
def split(tensor, split_size_or_sections, dim=0):
    dim = _wrap_dim(dim, tensor.dim())
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        sizes = [min(s, n - i) for i in range(0, n, s)] if s > 0 else [n]
        if n == 0:
            sizes = [0]
        cls = SplitBackward0
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise TorchRuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {dim}), but got split_sizes={sizes}"
            )
        cls = SplitWithSizesBackward0
    d = tensor._data
    if isinstance(d, np.generic):
        d = np.asarray(d)
    pieces, off = [], 0
    for s in sizes:
        idx = [slice(None)] * d.ndim
        idx[dim] = slice(off, off + s)
        pieces.append(d[tuple(idx)])
        off += s
    return _multi(tensor, pieces, _node_with_outputs(cls, len(pieces)), (dim, tuple(sizes)))


@op("split_with_sizes", differentiable=False)
def split_with_sizes(tensor, split_sizes, dim=0):
    return split(tensor, list(split_sizes), dim)


@op("chunk")
def chunk(input, chunks, dim=0):
    dim = _wrap_dim(dim, input.dim())
    n = input.shape[dim]
    size = -(-n // chunks) if chunks > 0 else n
    return split(input, max(size, 1), dim)


@op("tensor_split", differentiable=False)
def tensor_split(input, indices_or_sections, dim=0):
    # PyTorch: one slice per piece (each its own SliceBackward0), not one split node
    if input.dim() == 0:
        raise TorchRuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    dim = _wrap_dim(dim, input.dim())
    n = input.shape[dim]
    s = indices_or_sections
    if isinstance(s, Tensor):
        s = int(s.item()) if s.dim() == 0 else [int(v) for v in s.tolist()]
    if isinstance(s, (int, np.integer)):
        s = int(s)
        if s <= 0:
            raise TorchRuntimeError(f"number of sections must be larger than 0, got {s}")
        q, rem = divmod(n, s)
        bounds, b = [], 0
        for i in range(s - 1):
            b += q + (1 if i < rem else 0)
            bounds.append(b)
    else:
        bounds = [int(v) for v in s]
    out, start = [], 0
    for end in bounds + [n]:
        a, e, _ = slice(start, end).indices(n)
        out.append(_basic_index(input, (slice(None),) * dim + (slice(a, max(a, e)),),
                                SliceBackward0))
        start = end
    return tuple(out)


@op("unbind")
def unbind(input, dim=0):
    d = input._data
    if isinstance(d, np.generic) or d.ndim == 0:
        raise GradcalcIndexError("Dimension specified as 0 but tensor has no dimensions")
    dim = _wrap_dim(dim, d.ndim)
    pieces = [np.take(d, i, axis=dim) if isinstance(d, np.ndarray) else d.take(i, axis=dim) for i in range(d.shape[dim])]
    idx = [slice(None)] * d.ndim
    pieces = []
    for i in range(d.shape[dim]):
        idx[dim] = i
        pieces.append(d[tuple(idx) + (Ellipsis,)])
    return _multi(input, pieces, _node_with_outputs(UnbindBackward0, len(pieces)), (dim,))


class FlipBackward0(Node):
    __slots__ = ()
    formula = ("grad.flip(dims)",)
    saved_names = ("dims",)

    def apply(self, g):
        return (g.flip(self._saved[0]),)

    _frees = False


@op("flip")
def flip(input, *dims):
    dims = _shape_args(dims)
    dims = tuple(_wrap_dim(k, input.dim()) for k in dims)
    d = input._data
    data = input._xp().flip(d, axis=dims).copy() if d.ndim else d
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, FlipBackward0, (input,), (dims,))
    return r


@op("fliplr", differentiable=False)
def fliplr(input):
    return flip(input, 1)


@op("flipud", differentiable=False)
def flipud(input):
    return flip(input, 0)


class RollBackward0(Node):
    __slots__ = ()
    formula = ("grad.roll(-shifts, dims)",)
    saved_names = ("shifts", "dims")

    def apply(self, g):
        shifts, dims = self._saved
        neg = tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts
        return (g.roll(neg, dims),)

    _frees = False


@op("roll")
def roll(input, shifts, dims=None):
    if isinstance(shifts, list):
        shifts = tuple(shifts)
    if isinstance(dims, list):
        dims = tuple(dims)
    r = _out(input._xp().roll(input._data, shifts, axis=dims), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, RollBackward0, (input,), (shifts, dims))
    return r


class SliceBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape) with grad at [start:end:step]",)
    saved_names = ("self_sym_sizes", "index")

    def apply(self, g):
        shape, idx = self._saved
        return (_embed(g, shape, idx, SliceBackwardBackward0),)

    _frees = False


class SelectBackward0(SliceBackward0):
    __slots__ = ()
    formula = ("zeros(self.shape) with grad at [index]",)

    def apply(self, g):
        shape, idx = self._saved
        return (_embed(g, shape, idx, SelectBackwardBackward0),)


class IndexBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape).index_put_(indices, grad, accumulate=True)",)
    saved_names = ("self_sym_sizes", "indices")

    def apply(self, g):
        shape, idx = self._saved
        return (_embed(g, shape, idx, IndexPutBackward0, accumulate=True),)

    _frees = False


class _EmbedBackward(Node):
    __slots__ = ()
    formula = ("grad[index]",)
    saved_names = ("index",)

    def apply(self, g):
        (idx,) = self._saved
        return (_getitem_raw(g, idx),)

    _frees = False


class SliceBackwardBackward0(_EmbedBackward):
    __slots__ = ()


class SelectBackwardBackward0(_EmbedBackward):
    __slots__ = ()


class IndexPutBackward0(_EmbedBackward):
    __slots__ = ()


def _embed(g, shape, idx, cls, accumulate=False):
    """zeros(shape) with `g` placed at `idx` (differentiable in g)."""
    xp = g._xp()
    z = xp.zeros(shape, dtype=g._data.dtype)
    if accumulate:
        _add_at(xp, z, _raw_index(idx), g._data)
    else:
        z[_raw_index(idx)] = g._data
    r = _out(z, g.device)
    if _ag._enabled and g._requires_grad:
        record(r, cls, (g,), (idx,))
    return r


def _add_at(xp, z, idx, v):
    if xp is np:
        np.add.at(z, idx, v)
    else:
        xp.add.at(z, idx, v)


def _raw_index(idx):
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    return idx._data if isinstance(idx, Tensor) else idx


def _getitem_raw(t, idx):
    """t[idx] for an index already normalised by _normalise_index (records the right node)."""
    return t[idx]


@op("narrow")
def narrow(input, dim, start, length):
    dim = _wrap_dim(dim, input.dim())
    n = input.shape[dim]
    if isinstance(start, Tensor):
        start = int(start.item())
    if start < 0:
        start += n
    if start < 0 or start + length > n or length < 0:
        raise GradcalcIndexError(
            f"start ({start}) + length ({length}) exceeds dimension size ({n})."
        )
    idx = (slice(None),) * dim + (slice(start, start + length),)
    return _basic_index(input, idx, SliceBackward0)


@op("select")
def select(input, dim, index):
    dim = _wrap_dim(dim, input.dim())
    n = input.shape[dim]
    if index < -n or index >= n:
        raise GradcalcIndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
            f"dimension {dim}"
        )
    idx = (slice(None),) * dim + (index % n,)
    return _basic_index(input, idx, SelectBackward0)


def _basic_index(input, idx, cls):
    d = input._data
    if isinstance(d, np.generic):
        d = np.asarray(d)
    r = _view_out(d[idx + (Ellipsis,)], input)
    if _ag._enabled and input._requires_grad:
        record(r, cls, (input,), (d.shape, idx))
    return r


# --- gather / scatter / index_select / masked_fill ---------------------------------------------


def _along(xp, index_data, dim):
    """Full index tuple that addresses `index_data` positions along `dim`."""
    grids = list(xp.indices(index_data.shape, sparse=True))
    grids[dim] = index_data
    return tuple(grids)


class GatherBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape).scatter_add(dim, index, grad)",)
    saved_names = ("self_sym_sizes", "dim", "index")

    def apply(self, g):
        shape, dim, index = self._saved
        z = _make(g._xp().zeros(shape, dtype=g._data.dtype), g)
        return (scatter_add(z, dim, index, g),)

    _frees = False


def _check_index(index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise TorchRuntimeError(f"{name}(): Expected dtype int64 for index")


@op("gather")
def gather(input, dim, index, *, sparse_grad=False):
    _check_index(index, "gather")
    device_of(input, index)  # PyTorch's device error, not the array library's TypeError
    dim = _wrap_dim(dim, input.dim())
    d = input._data
    xp = input._xp()
    n = d.shape[dim] if d.ndim else 1
    idx = index._data
    if idx.size:
        lo, hi = (int(to_host(v)) for v in (idx.min(), idx.max()))  # explicit sync, as CUDA asserts
        if lo < -n or hi >= n:
            raise TorchRuntimeError(f"index {hi} is out of bounds for dimension {dim} with size {n}")
    if d.ndim:  # the output has index's shape: no broadcasting of index over the other dims
        d = d[tuple(slice(None) if i == dim else slice(0, s) for i, s in enumerate(idx.shape))]
    r = _out(xp.take_along_axis(d, idx, axis=dim) if d.ndim else d, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, GatherBackward0, (input,), (input._data.shape, dim, index))
    return r


class ScatterBackward0(Node):
    __slots__ = ()
    formula = ("grad.masked_fill(scattered, 0)", "grad.gather(dim, index)")
    saved_names = ("dim", "index")

    def apply(self, g):
        dim, index = self._saved
        ga = gs = None
        if self._next[0] is not None:
            z = _make(g._xp().zeros(index._data.shape, dtype=g._data.dtype), g)
            ga = scatter(g, dim, index, z)
        if len(self._next) > 1 and self._next[1] is not None:
            gs = gather(g, dim, index)
        return ga, gs

    _frees = False


class ScatterAddBackward0(Node):
    __slots__ = ()
    formula = ("grad", "grad.gather(dim, index)")
    saved_names = ("dim", "index")

    def apply(self, g):
        dim, index = self._saved
        gs = gather(g, dim, index) if self._next[1] is not None else None
        return g, gs

    _frees = False


@op("scatter")
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    _check_index(index, "scatter")
    if src is None:
        src = value
    dim = _wrap_dim(dim, input.dim())
    xp = input._xp()
    out = xp.array(input._data, copy=True)
    idx = _along(xp, index._data, dim)
    if isinstance(src, Tensor):
        sd = src._data[tuple(slice(0, s) for s in index._data.shape)]
        out[idx] = sd
    else:
        out[idx] = src
    r = _out(out, input.device)
    if _ag._enabled and (input._requires_grad or (isinstance(src, Tensor) and src._requires_grad)):
        record(r, ScatterBackward0, (input, src if isinstance(src, Tensor) else None), (dim, index))
    return r


@op("scatter_add")
def scatter_add(input, dim, index, src):
    _check_index(index, "scatter_add")
    dim = _wrap_dim(dim, input.dim())
    xp = input._xp()
    out = xp.array(input._data, copy=True)
    idx = _along(xp, index._data, dim)
    sd = src._data[tuple(slice(0, s) for s in index._data.shape)]
    _add_at(xp, out, idx, sd)
    r = _out(out, input.device)
    if _ag._enabled and (input._requires_grad or src._requires_grad):
        record(r, ScatterAddBackward0, (input, src), (dim, index))
    return r


def _scatter_inplace(name, fn):
    def method(self, *args, **kw):
        return inplace(self, fn(_snapshot(self), *args, **kw))

    method.__name__ = name
    op(name, function=False, differentiable=False)(method)


_scatter_inplace("scatter_", scatter)
_scatter_inplace("scatter_add_", scatter_add)


class IndexSelectBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape).index_add(dim, index, grad)",)
    saved_names = ("self_sym_sizes", "dim", "index")

    def apply(self, g):
        shape, dim, index = self._saved
        z = _make(g._xp().zeros(shape, dtype=g._data.dtype), g)
        return (index_add(z, dim, index, g),)

    _frees = False


@op("index_select")
def index_select(input, dim, index):
    _check_index(index, "index_select")
    device_of(input, index)
    dim = _wrap_dim(dim, input.dim())
    d = input._data
    if _alloc.on and d.ndim:
        _alloc.check_numel(d.size // max(d.shape[dim], 1) * index._data.size, d.dtype.itemsize,
                           "index_select()")
    r = _out(input._xp().take(d, index._data.reshape(-1), axis=dim) if d.ndim else d, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, IndexSelectBackward0, (input,), (d.shape, dim, index))
    return r


class IndexAddBackward0(Node):
    __slots__ = ()
    formula = ("grad", "grad.index_select(dim, index) * alpha")
    saved_names = ("dim", "index", "alpha")

    def apply(self, g):
        dim, index, alpha = self._saved
        gs = index_select(g, dim, index) if self._next[1] is not None else None
        if gs is not None and alpha != 1:
            gs = gs * alpha
        return g, gs

    _frees = False


@op("index_add")
def index_add(input, dim, index, source, *, alpha=1):
    dim = _wrap_dim(dim, input.dim())
    xp = input._xp()
    out = xp.array(input._data, copy=True)
    sel = [slice(None)] * out.ndim
    sel[dim] = index._data.reshape(-1)
    _add_at(xp, out, tuple(sel), source._data * alpha if alpha != 1 else source._data)
    r = _out(out, input.device)
    if _ag._enabled and (input._requires_grad or source._requires_grad):
        record(r, IndexAddBackward0, (input, source), (dim, index, alpha))
    return r


class MaskedFillBackward0(Node):
    __slots__ = ()
    formula = ("grad.masked_fill(mask, 0)",)
    saved_names = ("mask",)

    def apply(self, g):
        (mask,) = self._saved
        return (masked_fill(g, mask, 0.0),)

    _frees = False


@op("masked_fill")
def masked_fill(input, mask, value):
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise TorchRuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype " + (
            _FROM_NP[mask._data.dtype].name if isinstance(mask, Tensor) else type(mask).__name__))
    device_of(input, mask)
    v = value._data if isinstance(value, Tensor) else value
    xp = input._xp()
    try:
        data = xp.where(mask._data, xp.asarray(v, dtype=input._data.dtype), input._data)
    except ValueError:
        from .graph import broadcast_error

        raise broadcast_error(input._data.shape, mask._data.shape) from None
    if data.shape != input._data.shape:
        raise ShapeError(
            f"The size of tensor a ({input._data.shape[-1] if input._data.ndim else 1}) must match "
            "the size of tensor b at non-singleton dimension"
        )
    r = _out(data, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, MaskedFillBackward0, (input,), (mask,))
    return r


_scatter_inplace("masked_fill_", masked_fill)
_scatter_inplace("index_add_", index_add)


class MaskedSelectBackward0(Node):
    __slots__ = ()
    formula = ("zeros(broadcast shape).masked_scatter(mask, grad)",)
    saved_names = ("self_sym_sizes", "mask")

    def apply(self, g):
        shape, mask = self._saved
        return (_embed(g, shape, (mask,), MaskedScatterBackward0),)

    _frees = False


class MaskedScatterBackward0(_EmbedBackward):
    __slots__ = ()


@op("masked_select")
def masked_select(input, mask):
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise TorchRuntimeError("masked_select: expected BoolTensor for mask")
    device_of(input, mask)
    xp = input._xp()
    d, m = input._data, mask._data
    if d.shape != m.shape:
        try:
            d, m = xp.broadcast_arrays(d, m)
        except ValueError:
            from .graph import broadcast_error

            raise broadcast_error(input._data.shape, mask._data.shape) from None
    r = _out(xp.asarray(d)[m] if isinstance(d, np.generic) else d[m], input.device)
    if _ag._enabled and input._requires_grad:
        record(r, MaskedSelectBackward0, (input,), (d.shape, _make(m, mask)))
    return r


class TakeBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape).put_(index, grad, accumulate=True)",)
    saved_names = ("self_sym_sizes", "index")

    def apply(self, g):
        shape, index = self._saved
        n = 1
        for k in shape:
            n *= k
        flat = _embed(g.reshape(-1), (n,), (index.reshape(-1),), IndexPutBackward0, accumulate=True)
        return (flat.reshape(shape),)

    _frees = False


@op("take")
def take(input, index):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        got = _FROM_NP[index._data.dtype].scalar_name if isinstance(index, Tensor) else type(index).__name__
        raise TorchRuntimeError(f"take(): Expected a long tensor for index, but got {got}")
    device_of(input, index)
    d = input._data
    n = d.size
    idx = index._data
    if idx.size:
        lo, hi = (int(to_host(v)) for v in (idx.min(), idx.max()))  # explicit sync, as CUDA asserts
        if lo < -n or hi >= n:
            raise GradcalcIndexError(
                f"out of range: tried to access index {hi if hi >= n else lo} on a tensor of {n} "
                "elements."
            )
    xp = input._xp()
    r = _out(xp.reshape(d, (-1,))[idx], input.device)
    if _ag._enabled and input._requires_grad:
        record(r, TakeBackward0, (input,), (d.shape, index))
    return r


class TrilBackward0(Node):
    __slots__ = ()
    formula = ("grad.tril(diagonal)",)
    saved_names = ("diagonal",)

    def apply(self, g):
        return (tril(g, self._saved[0]),)

    _frees = False


class TriuBackward0(Node):
    __slots__ = ()
    formula = ("grad.triu(diagonal)",)
    saved_names = ("diagonal",)

    def apply(self, g):
        return (triu(g, self._saved[0]),)

    _frees = False


def _tri(input, diagonal, name, cls):
    d = input._data
    if d.ndim < 2:
        raise TorchRuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    xp = input._xp()
    r = _out(getattr(xp, name)(d, diagonal), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, cls, (input,), (diagonal,))
    return r


@op("tril")
def tril(input, diagonal=0):
    return _tri(input, diagonal, "tril", TrilBackward0)


@op("triu")
def triu(input, diagonal=0):
    return _tri(input, diagonal, "triu", TriuBackward0)


def _diag_view(d, offset, dim1, dim2):
    """A writable view of the diagonal (NumPy hands out read-only ones)."""
    v = d.diagonal(offset, dim1, dim2)
    try:
        v.flags.writeable = True
    except (AttributeError, ValueError):
        pass
    return v


class DiagonalBackward0(Node):
    __slots__ = ()
    formula = ("zeros(self.shape) with its diagonal set to grad",)
    saved_names = ("self_sym_sizes", "offset", "dim1", "dim2")

    def apply(self, g):
        shape, offset, dim1, dim2 = self._saved
        z = g._xp().zeros(shape, dtype=g._data.dtype)
        _diag_view(z, offset, dim1, dim2)[...] = g._data
        r = _out(z, g.device)
        if _ag._enabled and g._requires_grad:
            record(r, DiagonalBackwardBackward0, (g,), (offset, dim1, dim2))
        return (r,)

    _frees = False


class DiagonalBackward0_copy(DiagonalBackward0):  # noqa: N801  (PyTorch's name for diag of a matrix)
    __slots__ = ()


class DiagonalBackwardBackward0(Node):
    __slots__ = ()
    formula = ("grad.diagonal(offset, dim1, dim2)",)
    saved_names = ("offset", "dim1", "dim2")

    def apply(self, g):
        return (diagonal(g, *self._saved),)

    _frees = False


class DiagEmbedBackward0(Node):
    __slots__ = ()
    formula = ("grad.diagonal(offset, dim1, dim2)",)
    saved_names = ("offset", "dim1", "dim2")

    def apply(self, g):
        return (diagonal(g, *self._saved),)

    _frees = False


@op("diagonal")
def diagonal(input, offset=0, dim1=0, dim2=1):
    d = input._data
    nd = d.ndim
    a, b = _wrap_dim(dim1, nd), _wrap_dim(dim2, nd)
    if a == b:
        raise TorchRuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    r = _view_out(_diag_view(d, offset, a, b), input)
    if _ag._enabled and input._requires_grad:
        record(r, DiagonalBackward0, (input,), (d.shape, offset, a, b))
    return r


diagonal_ = diagonal


@op("diag")
def diag(input, diagonal=0):
    d = input._data
    xp = input._xp()
    if d.ndim == 1:
        k = diagonal
        n = d.shape[0] + abs(k)
        if _alloc.on:
            _alloc.check((n, n), d.dtype.itemsize, "diag()")
        z = xp.zeros((n, n), dtype=d.dtype)
        _diag_view(z, k, 0, 1)[...] = d
        r = _out(z, input.device)
        if _ag._enabled and input._requires_grad:
            record(r, DiagEmbedBackward0, (input,), (k, 0, 1))
        return r
    if d.ndim != 2:
        raise TorchRuntimeError(f"diag(): Supports 1D or 2D tensors. Got {d.ndim}D")
    r = _out(d.diagonal(diagonal).copy(), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, DiagonalBackward0_copy, (input,), (d.shape, diagonal, 0, 1))
    return r


class TraceBackward0(Node):
    __slots__ = ()
    formula = ("grad * eye(self.shape)",)
    saved_names = ("self_sym_sizes",)

    def apply(self, g):
        (shape,) = self._saved
        eye = _make(g._xp().eye(shape[0], shape[1], dtype=g._data.dtype), g)
        return (g * eye,)

    _frees = False


@op("trace")
def trace(input):
    d = input._data
    if d.ndim != 2:
        raise TorchRuntimeError(f"trace: expected a matrix, but got tensor with dim {d.ndim}")
    xp = input._xp()
    data = xp.trace(d, dtype=np.int64 if d.dtype.kind in "biu" else None)
    r = _out(xp.asarray(data), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, TraceBackward0, (input,), (d.shape,))
    return r


# --- indexing ---------------------------------------------------------------------------------


def _normalise_index(t, idx):
    """Split an index into a list of (kind, value) steps: PyTorch's applySlicing order."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tensor):
            if i._data.dtype.kind not in "biu":
                raise GradcalcIndexError(
                    "tensors used as indices must be long, int, byte or bool tensors"
                )
            if i._data.ndim == 0 and i._data.dtype.kind in "iu":
                out.append(int(i.item()))
                continue
            out.append(i)
        elif isinstance(i, (list, tuple)):
            arr = np.asarray(i)
            if arr.dtype.kind == "f" or (arr.dtype == object):
                raise GradcalcIndexError(
                    "tensors used as indices must be long, int, byte or bool tensors"
                )
            out.append(_make(arr.astype(np.int64) if arr.dtype.kind in "iu" or arr.size == 0 else arr))
        elif isinstance(i, (bool, np.bool_)):
            out.append(_make(np.asarray(bool(i))))
        elif isinstance(i, (int, np.integer)):
            out.append(int(i))
        elif i is None or i is Ellipsis or isinstance(i, slice):
            if isinstance(i, slice):
                for part in (i.start, i.stop, i.step):
                    if part is not None and not isinstance(part, (int, np.integer, Tensor)):
                        raise GradcalcTypeError(
                            "slice indices must be integers or None or have an __index__ method"
                        )
                if i.step is not None and int(i.step) <= 0:
                    raise GradcalcValueError("step must be greater than zero")
                i = slice(*(int(p) if isinstance(p, Tensor) else p for p in (i.start, i.stop, i.step)))
            out.append(i)
        else:
            raise GradcalcIndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                "are valid indices (got " + type(i).__name__ + ")"
            )
    return tuple(out)


def _count_dims(idx):
    n = 0
    for i in idx:
        if i is None or i is Ellipsis:
            continue
        if isinstance(i, Tensor) and i._data.dtype == np.bool_:
            n += max(i._data.ndim, 0)
        else:
            n += 1
    return n


ZERO_DIM_INDEX_MESSAGE = (
    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
    "C++ to convert a 0-dim tensor to a number"
)


def _zero_dim_index_error(idx):
    """PyTorch's errors for indexing a 0-dim tensor with one integer or slice."""
    if len(idx) == 1:
        i = idx[0]
        if isinstance(i, int):
            if i == 0:
                raise GradcalcIndexError(ZERO_DIM_INDEX_MESSAGE)
            raise GradcalcIndexError(f"index {i} is out of bounds for dimension 0 with size 0")
        if isinstance(i, slice):
            raise GradcalcIndexError("slice() cannot be applied to a 0-dim tensor.")
    raise GradcalcIndexError("too many indices for tensor of dimension 0")


def _split_advanced(idx):
    """(basic, advanced) parts of an index holding tensors and integers or None, or (None, idx).

    The basic part selects, slices and unsqueezes; the advanced part indexes its result, with
    a full slice for every dim the basic part kept or added.
    """
    if not any(isinstance(i, int) or i is None for i in idx):
        return None, idx
    basic, adv = [], []
    for i in idx:
        if isinstance(i, Tensor):
            n = i._data.ndim if i._data.dtype == np.bool_ else 1
            basic.extend([slice(None)] * n)
            adv.append(i)
        elif isinstance(i, int):
            basic.append(i)
        else:  # a slice or None
            basic.append(i)
            adv.append(slice(None))
    return tuple(basic), tuple(adv)


def getitem(self, idx):
    idx = _normalise_index(self, idx)
    nd = self.dim()
    used = _count_dims(idx)
    if nd == 0 and used:
        _zero_dim_index_error(idx)
    if used > nd:
        raise GradcalcIndexError(
            f"too many indices for tensor of dimension {nd}"
        )
    # expand the ellipsis
    if any(i is Ellipsis for i in idx):
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (nd - used) + idx[k + 1 :]
    advanced = any(isinstance(i, Tensor) for i in idx)
    if advanced:
        basic, adv = _split_advanced(idx)
        if basic is not None:
            # PyTorch applies integers and None first (select, unsqueeze), then indexes with
            # the tensors: x[0, :, [0, 1]] has shape [3, 2] where NumPy's rule gives [2, 3]
            return _advanced_getitem(getitem(self, basic), adv)
        return _advanced_getitem(self, idx)
    # basic indexing, one view op per non-trivial step, as PyTorch's applySlicing
    out = self
    dim = 0
    did = False
    for i in idx:
        if i is None:
            out = unsqueeze(out, dim)
            dim += 1
            did = True
        elif isinstance(i, int):
            n = out.shape[dim]
            if i < -n or i >= n:
                raise GradcalcIndexError(
                    f"index {i} is out of bounds for dimension {dim} with size {n}"
                )
            out = select(out, dim, i)
            did = True
        else:
            n = out.shape[dim]
            start, stop, step = i.indices(n)
            if not (start == 0 and stop == n and step == 1):
                sl = (slice(None),) * dim + (slice(start, max(start, stop) if step > 0 else stop, step),)
                out = _basic_index(out, sl, SliceBackward0)
                did = True
            dim += 1
    if not did:
        return self._alias()
    return out


def _mask_shape_error(raw, shape):
    """PyTorch's message for a boolean mask whose shape does not fit the indexed dims."""
    pos = 0
    for i in raw:
        if i is Ellipsis:
            return
        if i is None:
            continue
        dt = getattr(i, "dtype", None)
        if dt is not None and dt.kind == "b" and getattr(i, "ndim", 0) > 0:
            for j, n in enumerate(i.shape):
                if pos + j < len(shape) and n != shape[pos + j]:
                    raise GradcalcIndexError(
                        f"The shape of the mask {list(i.shape)} at index {j} does not match the "
                        f"shape of the indexed tensor {list(shape)} at index {pos + j}"
                    )
            pos += i.ndim
        else:
            pos += 1


def _advanced_getitem(self, idx):
    raw = []
    for i in idx:
        if isinstance(i, Tensor):
            raw.append(i._data)
        else:
            raw.append(i)
    d = self._data
    if isinstance(d, np.generic):
        d = np.asarray(d)
    if _alloc.on:
        _alloc.check_index(d, raw)
    try:
        data = d[tuple(raw)]
    except IndexError as e:
        _mask_shape_error(raw, d.shape)
        raise GradcalcIndexError(str(e).replace("axis", "dimension")) from None
    r = _out(self._xp().array(data, copy=False) if not isinstance(data, np.generic) else np.asarray(data), self.device)
    if _ag._enabled and self._requires_grad:
        record(r, IndexBackward0, (self,), (d.shape, tuple(idx)))
    return r


class CopySlices(Node):
    __slots__ = ()
    formula = ("grad with grad[index] = 0", "grad[index] summed to value's shape")
    saved_names = ("index",)

    def name(self) -> str:
        return "torch::autograd::CopySlices"

    def apply(self, g):
        (idx,) = self._saved
        ga = gv = None
        if self._next[0] is not None:
            ga = _zero_at(g, idx)
        if self._next[1] is not None:
            gv = g[idx]
        return ga, gv

    _frees = False


class IndexPutSetBackward(CopySlices):
    """The node of `x[index_tensor] = v`: PyTorch's index_put_ (IndexPutBackward0), with the
    backward of CopySlices (no gradient to the written places; v's from them)."""

    __slots__ = ()

    def name(self) -> str:
        return "IndexPutBackward0"

    def __repr__(self) -> str:
        return f"<IndexPutBackward0 object at {id(self):#x}>"


def _zero_at(g, idx):
    mask_data = g._xp().ones(g._data.shape, dtype=bool)
    mask_data[_raw_index(_normalise_index(g, idx))] = False
    return g * _make(mask_data, g)


def setitem(self, idx, value):
    from .graph import check_inplace

    # x[i] = v writes through a view of x: PyTorch reports the view, not the leaf
    if _ag._enabled and self._requires_grad and self._grad_fn is None:
        raise TorchRuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    check_inplace(self)
    nidx = _normalise_index(self, idx)
    if self._data.ndim == 0 and _count_dims(nidx):
        _zero_dim_index_error(nidx)
    raw = _raw_index(tuple(i for i in nidx))
    d = self._data
    if isinstance(d, np.generic):
        d = self._data = np.asarray(d).copy()
    if not isinstance(value, Tensor) and not is_plain_data(value):
        raise GradcalcTypeError(
            f"can't assign a {type(value).__name__} to a {self.type()}")
    v = value._data if isinstance(value, Tensor) else value
    if isinstance(value, Tensor) and value.device is not self.device:
        raise TorchRuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, {value.device} and {self.device}!"
        )
    needs = _ag._enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    if needs and self._x is not None and self._x.base is not None:
        from .ops import VIEW_INPLACE_MESSAGE

        raise TorchRuntimeError(VIEW_INPLACE_MESSAGE)
    basic, adv = _split_advanced(nidx) if any(isinstance(i, Tensor) for i in nidx) else (None, None)
    try:
        if basic is not None:
            # integers first, as PyTorch (see getitem): write through NumPy's basic view
            d[_raw_index(basic)][_raw_index(adv)] = v
        else:
            d[raw] = v
    except ValueError as e:
        raise ShapeError(str(e)) from None
    except IndexError as e:
        # NumPy says "axis", PyTorch "dimension"
        raise GradcalcIndexError(str(e).replace(" for axis ", " for dimension ")) from None
    if needs:
        prev = _make(d, self)
        prev._grad_fn, prev._requires_grad = self._grad_fn, self._requires_grad
        if self._x is not None:
            prev._extras().output_nr = self._x.output_nr
        holder = _make(d, self)
        node = IndexPutSetBackward if basic is not None or any(
            isinstance(i, Tensor) for i in nidx) else CopySlices
        record(holder, node, (prev, value if isinstance(value, Tensor) else None), (idx,))
        self._grad_fn = holder._grad_fn
        self._requires_grad = True
        if self._x is not None:
            self._x.output_nr = 0
    self._bump_version()


Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem
