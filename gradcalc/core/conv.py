"""Core op table, windows: convolution (1-3 spatial dims, transposed too), max and average
pooling, adaptive pooling, on im2col kernels (one strided slice per kernel offset, one batched
matmul), with PyTorch's grad_fn names and backward formulas that are ops themselves.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import GradcalcTypeError, TorchRuntimeError
from . import alloc as _alloc
from . import autograd as _ag
from .autograd import Node
from .graph import device_of, record
from .ops import _out
from .registry import op
from .tensor import Tensor

# --- windows on arrays ------------------------------------------------------------------------


class Win:
    """The geometry of a sliding window over the last `n` dims: kernel `k`, `stride`,
    `dil`ation, `pads` ((lo, hi) per dim, hi possibly widened for ceil_mode), input `size`
    and output `out` spatial sizes."""

    __slots__ = ("dil", "k", "out", "pads", "size", "stride")

    def __init__(self, k, stride, dil, pads, size, out):
        self.k, self.stride, self.dil = tuple(k), tuple(stride), tuple(dil)
        self.pads, self.size, self.out = tuple(pads), tuple(size), tuple(out)

    @property
    def n(self) -> int:
        return len(self.k)

    @property
    def K(self) -> int:
        return math.prod(self.k)

    def offsets(self, reverse=False):
        """Kernel offsets in row-major order (or its reverse)."""
        offs = list(itertools.product(*(range(k) for k in self.k)))
        return offs[::-1] if reverse else offs

    def slices(self, off) -> tuple:
        """The strided slice of the padded input that kernel offset `off` reads."""
        return tuple(slice(o * d, o * d + s * (m - 1) + 1, s)
                     for o, d, s, m in zip(off, self.dil, self.stride, self.out))


def _conv_out(size, k, stride, dil, pads):
    return tuple((s + lo + hi - d * (kk - 1) - 1) // st + 1
                 for s, kk, st, d, (lo, hi) in zip(size, k, stride, dil, pads))


def padded(xp, d, w: Win, fill=0):
    """`d` with `w.pads` of `fill` around its last `w.n` dims (itself when there are none)."""
    if not any(lo or hi for lo, hi in w.pads):
        return d
    n = w.n
    shape = d.shape[:-n] + tuple(s + lo + hi for s, (lo, hi) in zip(d.shape[-n:], w.pads))
    out = xp.full(shape, fill, dtype=d.dtype)
    out[(Ellipsis, *(slice(lo, lo + s) for s, (lo, _) in zip(d.shape[-n:], w.pads)))] = d
    return out


def im2col(xp, d, w: Win, fill=0):
    """(..., *size) -> (..., K, *out): the input under each kernel offset."""
    p = padded(xp, d, w, fill)
    return xp.stack([p[(Ellipsis, *w.slices(off))] for off in w.offsets()], axis=-w.n - 1)


def col2im(xp, cols, w: Win):
    """The transpose of im2col: (..., K, *out) summed back into (..., *size).

    Offsets run in reverse, so each input element adds its contributions in the order of the
    output positions, as PyTorch's pooling backward kernels do.
    """
    n = w.n
    lead = cols.shape[:-n - 1]
    full = tuple(s + lo + hi for s, (lo, hi) in zip(w.size, w.pads))
    acc = xp.zeros(lead + full, dtype=cols.dtype)
    rest = (slice(None),) * n
    for i, off in zip(range(w.K - 1, -1, -1), w.offsets(reverse=True)):
        acc[(Ellipsis, *w.slices(off))] += cols[(Ellipsis, i, *rest)]
    if any(lo or hi for lo, hi in w.pads):
        acc = acc[(Ellipsis, *(slice(lo, lo + s) for s, (lo, _) in zip(w.size, w.pads)))]
    return acc


def _guard(numel, itemsize, what, flops=0.0):
    if _alloc.on:
        _alloc.check_numel(numel, itemsize, what)
        if flops:
            _alloc.check_flops(flops, what)


# --- convolution on arrays ---------------------------------------------------------------------
# The columns are laid out channel-major, (C, K, N, *out): each group's product is then one GEMM
# over every batch element and position, whose operands need no further copy.


def _cols(xp, x, w: Win):
    """(N, C, *size) -> (C, K, N, *out): the input under each kernel offset."""
    p = padded(xp, x, w)
    return xp.stack([p[(Ellipsis, *w.slices(off))].swapaxes(0, 1) for off in w.offsets()], axis=1)


def _uncols(xp, cols, w: Win):
    """The transpose of _cols: (C, K, N, *out) summed back into (N, C, *size)."""
    C, _, N = cols.shape[:3]
    full = tuple(s + lo + hi for s, (lo, hi) in zip(w.size, w.pads))
    acc = xp.zeros((C, N) + full, dtype=cols.dtype)
    for i, off in enumerate(w.offsets()):
        acc[(Ellipsis, *w.slices(off))] += cols[:, i]
    if any(lo or hi for lo, hi in w.pads):
        acc = acc[(Ellipsis, *(slice(lo, lo + s) for s, (lo, _) in zip(w.size, w.pads)))]
    return xp.ascontiguousarray(acc.swapaxes(0, 1))


def _per_group(xp, a, b):
    """a[i] @ b[i] for each group i (2-D products: BLAS takes transposed operands as they are)."""
    if a.shape[0] == 1:
        return xp.matmul(a[0], b[0])[None]
    return xp.stack([xp.matmul(a[i], b[i]) for i in range(a.shape[0])])


def _by_group(xp, g, groups):
    """(N, O, *out) -> (groups, O/groups, N*L), channel-major."""
    N, O = g.shape[:2]
    return xp.ascontiguousarray(g.reshape(N, O, -1).swapaxes(0, 1)).reshape(groups, O // groups, -1)


def conv_array(xp, x, wt, w: Win, groups):
    """Convolution of x (N, C, *size) with wt (O, C/groups, *k): (N, O, *out)."""
    N, C = x.shape[:2]
    O = wt.shape[0]
    L = math.prod(w.out)
    ck = (C // groups) * w.K
    _guard(N * C * w.K * L, x.itemsize, "conv()", 2.0 * N * O * ck * L)
    _guard(N * O * L, x.itemsize, "conv()")  # the result, before the matmul makes it
    cols = _cols(xp, x, w).reshape(groups, ck, N * L)
    out = _per_group(xp, wt.reshape(groups, O // groups, ck), cols)
    return xp.ascontiguousarray(out.reshape((O, N) + w.out).swapaxes(0, 1))


def conv_t_array(xp, g, wt, w: Win, groups):
    """The transpose of conv_array in its input: g (N, O, *out) -> (N, C, *size)."""
    N, O = g.shape[:2]
    C = wt.shape[1] * groups
    L = math.prod(w.out)
    ck = (C // groups) * w.K
    _guard(N * C * w.K * L, g.itemsize, "conv_transpose()", 2.0 * N * O * ck * L)
    # the result, padded as _uncols builds it
    _guard(N * C * math.prod(s + lo + hi for s, (lo, hi) in zip(w.size, w.pads)), g.itemsize,
           "conv_transpose()")
    wm = wt.reshape(groups, O // groups, ck)
    cols = _per_group(xp, wm.swapaxes(-1, -2), _by_group(xp, g, groups))
    return _uncols(xp, cols.reshape((C, w.K, N) + w.out), w)


def conv_w_array(xp, x, g, w: Win, groups):
    """The transpose of conv_array in its weight: (x, g) -> (O, C/groups, *k)."""
    N, C = x.shape[:2]
    O = g.shape[1]
    L = math.prod(w.out)
    ck = (C // groups) * w.K
    _guard(N * C * w.K * L, x.itemsize, "conv()", 2.0 * N * O * ck * L)
    _guard(N * O * L, x.itemsize, "conv()")  # the result, before the matmul makes it
    cols = _cols(xp, x, w).reshape(groups, ck, N * L)
    gw = _per_group(xp, _by_group(xp, g, groups), cols.swapaxes(-1, -2))
    return gw.reshape((O, C // groups) + w.k)


# --- convolution ops ---------------------------------------------------------------------------


class ConvolutionBackward0(Node):
    __slots__ = ("_groups", "_win")
    formula = ("conv_transpose(grad, weight)", "conv_weight_grad(input, grad)",
               "grad.sum(0, 2, ...)")
    saved_names = ("input", "weight", "stride", "padding", "dilation", "transposed",
                   "output_padding", "groups")

    def apply(self, g):
        x, wt, _, _, _, transposed = self._unpack()[:6]
        w, groups = self._win, self._groups
        nx = self._next
        gx = gw = gb = None
        if not transposed:
            if nx[0] is not None:
                gx = convolution(g, wt, None, w, groups, True)
            if nx[1] is not None:
                gw = conv_weight(x, g, w, groups)
        else:
            if nx[0] is not None:
                gx = convolution(g, wt, None, w, groups, False)
            if nx[1] is not None:
                gw = conv_weight(g, x, w, groups)
        if nx[2] is not None:
            gb = g.sum([0, *range(2, g.dim())])
        return gx, gw, gb


class ConvolutionBackwardBackward0(Node):
    """The weight gradient of a convolution as an op (first seen in double backward)."""

    __slots__ = ("_groups", "_win")
    formula = ("conv_transpose(grad_output, grad)", "conv(input, grad)")
    saved_names = ("input", "grad_output")

    def apply(self, u):
        x, g = self._unpack()
        w, groups = self._win, self._groups
        gx = convolution(g, u, None, w, groups, True) if self._next[0] is not None else None
        gg = convolution(x, u, None, w, groups, False) if self._next[1] is not None else None
        return gx, gg


def _record_win(r, cls, inputs, saved, win, groups):
    record(r, cls, inputs, saved)
    node = r._grad_fn
    node._win, node._groups = win, groups
    return r


def convolution(input, weight, bias, w: Win, groups, transposed):
    """A convolution (or its transpose) with checked geometry `w`: the op behind conv*d."""
    xp = input._xp()
    dev = device_of(input, weight, bias)
    if transposed:
        data = conv_t_array(xp, input._data, weight._data, w, groups)
    else:
        data = conv_array(xp, input._data, weight._data, w, groups)
    if bias is not None:
        data += bias._data.reshape((1, -1) + (1,) * w.n)
    r = _out(data, dev)
    if _ag._enabled and (input._requires_grad or weight._requires_grad
                         or (bias is not None and bias._requires_grad)):
        pads = tuple(lo for lo, _ in w.pads)
        _record_win(r, ConvolutionBackward0, (input, weight, bias),
                    (input, weight, w.stride, pads, w.dil, transposed, (0,) * w.n, groups),
                    w, groups)
    return r


def conv_weight(input, grad, w: Win, groups):
    """The gradient of a convolution in its weight, as a differentiable op."""
    xp = input._xp()
    r = _out(conv_w_array(xp, input._data, grad._data, w, groups), device_of(input, grad))
    if _ag._enabled and (input._requires_grad or grad._requires_grad):
        _record_win(r, ConvolutionBackwardBackward0, (input, grad), (input, grad), w, groups)
    return r


def _ints(v, n, name, fn):
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    if isinstance(v, (tuple, list)) and all(isinstance(e, (int, np.integer)) for e in v):
        if len(v) == 1:
            return (int(v[0]),) * n
        if len(v) == n:
            return tuple(int(e) for e in v)
        raise TorchRuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                                f"values to match the convolution dimensions, but got "
                                f"{name}={list(v)}")
    raise GradcalcTypeError(f"{fn}(): argument '{name}' must be tuple of ints, not "
                            f"{type(v).__name__}")


def _legacy(t) -> str:
    return t.dtype.legacy_name


def _check_dtypes(input, weight, bias, n):
    a, b = input._data.dtype, weight._data.dtype
    if a != b:
        if a.itemsize > b.itemsize or a.kind != "f":
            raise TorchRuntimeError(f"expected scalar type {input.dtype.scalar_name} but found "
                                    f"{weight.dtype.scalar_name}")
        raise TorchRuntimeError(f"Input type ({_legacy(input)}) and weight type "
                                f"({_legacy(weight)}) should be the same or input should be a "
                                "MKLDNN tensor and weight is a dense tensor")
    if bias is not None and bias._data.dtype != a:
        raise TorchRuntimeError(f"Input type ({input.dtype.cpp_name}) and bias type "
                                f"({bias.dtype.cpp_name}) should be the same")


def _dims_text(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def conv_nd(n, input, weight, bias, stride, padding, dilation, groups, name):
    """F.conv{n}d: checks PyTorch's way, unbatched input included, then `convolution`."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise GradcalcTypeError(f"{name}() received an invalid combination of arguments: "
                                "input and weight must be Tensors")
    if input.dim() not in (n + 1, n + 2):
        raise TorchRuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got "
            f"input of size: {_dims_text(input.shape)}")
    if weight.dim() != n + 2:
        raise TorchRuntimeError(
            "weight should have at least three dimensions" if weight.dim() < 3 else
            f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional input "
            f"{_dims_text(input.shape)}, but got {weight.dim()}-dimensional weight of size "
            f"{_dims_text(weight.shape)} instead")
    batched = input.dim() == n + 2
    x = input if batched else input.unsqueeze(0)
    stride = _ints(stride, n, "stride", name)
    dilation = _ints(dilation, n, "dilation", name)
    if any(s <= 0 for s in stride):
        raise TorchRuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise TorchRuntimeError("dilation should be greater than zero")
    k = tuple(weight.shape[2:])
    size = tuple(x.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise TorchRuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for kk, d in zip(k, dilation):
                total = d * (kk - 1)
                pads.append((total // 2, total - total // 2))
            if any(lo != hi for lo, hi in pads):
                import warnings

                warnings.warn(
                    "Using padding='same' with even kernel lengths and odd dilation may require "
                    "a zero-padded copy of the input be created", UserWarning, stacklevel=3)
        else:
            raise TorchRuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _ints(padding, n, "padding", name)
        if any(v < 0 for v in p):
            raise TorchRuntimeError("negative padding is not supported")
        pads = tuple((v, v) for v in p)
    if groups <= 0:
        raise TorchRuntimeError("non-positive groups is not supported")
    C = x.shape[1]
    O = weight.shape[0]
    if O % groups:
        raise TorchRuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size [{_dims_text(weight.shape)}] instead")
    if weight.shape[1] * groups != C:
        raise TorchRuntimeError(
            f"Given groups={groups}, weight of size {_dims_text(weight.shape)}, expected "
            f"input{_dims_text(x.shape)} to have {weight.shape[1] * groups} channels, but got "
            f"{C} channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != O):
        raise TorchRuntimeError(
            f"Given weight of size {_dims_text(weight.shape)}, expected bias to be "
            f"1-dimensional with {O} elements, but got bias of size {_dims_text(bias.shape)} "
            "instead")
    _check_dtypes(x, weight, bias, n)
    eff = [s + lo + hi for s, (lo, hi) in zip(size, pads)]
    if any(e < d * (kk - 1) + 1 for e, kk, d in zip(eff, k, dilation)):
        raise TorchRuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, eff))}). Kernel "
            f"size: ({' x '.join(str(d * (kk - 1) + 1) for kk, d in zip(k, dilation))}). "
            "Kernel size can't be greater than actual input size")
    w = Win(k, stride, dilation, pads, size, _conv_out(size, k, stride, dilation, pads))
    r = convolution(x, weight, bias, w, groups, False)
    return r if batched else r.squeeze(0)


def conv_transpose_nd(n, input, weight, bias, stride, padding, output_padding, groups,
                      dilation, name):
    """F.conv_transpose{n}d: the transpose of conv{n}d in its input."""
    if input.dim() not in (n + 1, n + 2):
        raise TorchRuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got "
            f"input of size: {_dims_text(input.shape)}")
    batched = input.dim() == n + 2
    x = input if batched else input.unsqueeze(0)
    stride = _ints(stride, n, "stride", name)
    dilation = _ints(dilation, n, "dilation", name)
    p = _ints(padding, n, "padding", name)
    op_ = _ints(output_padding, n, "output_padding", name)
    if any(s <= 0 for s in stride):
        raise TorchRuntimeError("non-positive stride is not supported")
    if any(v < 0 for v in p):
        raise TorchRuntimeError("negative padding is not supported")
    for o, s, d in zip(op_, stride, dilation):
        if o >= s and o >= d:
            raise TorchRuntimeError("output padding must be smaller than either stride or "
                                    "dilation, but got output_padding: " + str(o))
    Cin = x.shape[1]
    if weight.shape[0] != Cin:
        raise TorchRuntimeError(
            f"Given transposed=1, weight of size {_dims_text(weight.shape)}, expected "
            f"input{_dims_text(x.shape)} to have {weight.shape[0]} channels, but got {Cin} "
            "channels instead")
    Cout = weight.shape[1] * groups
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != Cout):
        raise TorchRuntimeError(
            f"Given transposed=1, weight of size {_dims_text(weight.shape)}, expected bias to "
            f"be 1-dimensional with {Cout} elements, but got bias of size "
            f"{_dims_text(bias.shape)} instead")
    _check_dtypes(x, weight, bias, n)
    k = tuple(weight.shape[2:])
    src = tuple(x.shape[2:])
    size = tuple((s - 1) * st - 2 * pp + d * (kk - 1) + o + 1
                 for s, st, pp, d, kk, o in zip(src, stride, p, dilation, k, op_))
    if any(s <= 0 for s in size):
        raise TorchRuntimeError(f"Given input size per channel: ({' x '.join(map(str, src))}). "
                                f"Calculated output size per channel: "
                                f"({' x '.join(map(str, size))}). Output size is too small")
    w = Win(k, stride, dilation, tuple((v, v) for v in p), size, src)
    r = convolution(x, weight, bias, w, groups, True)
    return r if batched else r.squeeze(0)


@op("conv1d", method=False)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return conv_nd(1, input, weight, bias, stride, padding, dilation, groups, "conv1d")


@op("conv2d", method=False)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return conv_nd(2, input, weight, bias, stride, padding, dilation, groups, "conv2d")


@op("conv3d", method=False)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return conv_nd(3, input, weight, bias, stride, padding, dilation, groups, "conv3d")


@op("conv_transpose1d", method=False)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return conv_transpose_nd(1, input, weight, bias, stride, padding, output_padding, groups,
                             dilation, "conv_transpose1d")


@op("conv_transpose2d", method=False)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return conv_transpose_nd(2, input, weight, bias, stride, padding, output_padding, groups,
                             dilation, "conv_transpose2d")


# --- pooling geometry --------------------------------------------------------------------------


def _pool_out(s, k, st, p, d, ceil):
    """PyTorch's pooling_output_shape."""
    num = s + 2 * p - d * (k - 1) - 1 + (st - 1 if ceil else 0)
    o = num // st + 1
    if ceil and (o - 1) * st >= s + p:
        o -= 1
    return o


def pool_win(input, n, kernel_size, stride, padding, dilation, ceil_mode, name):
    """The window of a pooling op over the last `n` dims, checked as PyTorch checks it."""
    k = _ints(kernel_size, n, "kernel_size", name)
    st = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _ints(stride, n, "stride", name)
    p = _ints(padding, n, "padding", name)
    d = _ints(dilation, n, "dilation", name)
    if any(v <= 0 for v in k):
        raise TorchRuntimeError("kernel size should be greater than zero, but got "
                                + ", ".join(f"k{'HW'[i] if n == 2 else ''}: {v}"
                                            for i, v in enumerate(k)))
    if any(v <= 0 for v in st):
        raise TorchRuntimeError("stride should not be zero")
    if any(v <= 0 for v in d):
        raise TorchRuntimeError("dilation should be greater than zero")
    for pp, kk, dd in zip(p, k, d):
        if pp > (dd * (kk - 1) + 1) // 2:
            raise TorchRuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={pp}, "
                f"kernel_size={kk} and dilation={dd}")
    size = tuple(input.shape[-n:])
    out = tuple(_pool_out(s, kk, ss, pp, dd, ceil_mode) for s, kk, ss, pp, dd in
                zip(size, k, st, p, d))
    if any(o <= 0 for o in out):
        lead = input.shape[-n - 1] if input.dim() > n else 1
        raise TorchRuntimeError(
            f"Given input size: ({'x'.join(map(str, (lead, *size)))}). Calculated output size: "
            f"({'x'.join(map(str, (lead, *out)))}). Output size is too small")
    # ceil_mode windows may reach past the padding: widen the padding on the high side
    pads = tuple((pp, max(pp, (o - 1) * ss + dd * (kk - 1) + 1 - s - pp))
                 for s, kk, ss, pp, dd, o in zip(size, k, st, p, d, out))
    return Win(k, st, d, pads, size, out), p


def _check_pool_input(input, n, name):
    if input.dim() not in (n + 1, n + 2) or input.numel() == 0:
        raise TorchRuntimeError(
            f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input")


# --- max pooling -------------------------------------------------------------------------------


class MaxPool2DWithIndicesBackward0(Node):
    __slots__ = ("_local", "_win")
    formula = ("grad scattered to the argmax of each window",)
    saved_names = ("self", "indices", "kernel_size", "stride", "padding", "dilation", "ceil_mode")

    def apply(self, g):
        return (max_unpool(g, self._local, self._saved[1], self._win),)

    _frees = False


class MaxPool2DWithIndicesBackwardBackward0(Node):
    __slots__ = ()
    formula = ("grad.gather(indices)",)
    saved_names = ("indices",)

    def apply(self, u):
        idx = self._saved[0]
        flat = u.flatten(-2)
        picked = flat.gather(-1, idx.flatten(-2).expand(*flat.shape[:-1], -1))
        return (picked.view(idx.shape),)

    _frees = False


def max_unpool(g, local, indices, w: Win):
    """The gradient of max pooling: each output's gradient added at its window's argmax."""
    xp = g._xp()
    d = g._data
    hit = local[..., None, :, :] == xp.arange(w.K).reshape(w.K, 1, 1)
    cols = xp.where(hit, d[..., None, :, :], 0).astype(d.dtype, copy=False)
    r = _out(col2im(xp, cols, w), g.device)
    if _ag._enabled and g._requires_grad:
        record(r, MaxPool2DWithIndicesBackwardBackward0, (g,), (indices,))
    return r


def max_pool(input, n, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
             name):
    """Max pooling over the last 2 dims (1-D pooling goes through it with a unit height)."""
    _check_pool_input(input, 2, name)
    w, p = pool_win(input, 2, kernel_size, stride, padding, dilation, ceil_mode, name)
    xp = input._xp()
    d = input._data
    if d.dtype.kind not in "fiu":
        raise TorchRuntimeError(f'"max_pool2d" not implemented for \'{input.dtype.scalar_name}\'')
    _guard(d.size // math.prod(w.size) * w.K * math.prod(w.out), d.itemsize, f"{name}()")
    low = -np.inf if d.dtype.kind == "f" else np.iinfo(d.dtype).min
    cols = im2col(xp, d, w, low)
    local = xp.argmax(cols, axis=-3)
    vals = xp.take_along_axis(cols, local[..., None, :, :], axis=-3)[..., 0, :, :]
    # flat index into the (unpadded) input plane, PyTorch's `indices`
    W = w.size[1]
    kh, kw = local // w.k[1], local % w.k[1]
    oh = xp.arange(w.out[0]).reshape(-1, 1)
    ow = xp.arange(w.out[1]).reshape(1, -1)
    ih = oh * w.stride[0] - p[0] + kh * w.dil[0]
    iw = ow * w.stride[1] - p[1] + kw * w.dil[1]
    idx = _out((ih * W + iw).astype(np.int64), input.device)
    r = _out(vals, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, MaxPool2DWithIndicesBackward0, (input,),
               (input, idx, w.k, w.stride, p, w.dil, ceil_mode))
        r._grad_fn._win, r._grad_fn._local = w, local
    return (r, idx) if return_indices else r


@op("max_pool2d", method=False)
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                    "max_pool2d")


@op("max_pool1d", method=False)
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    _check_pool_input(input, 1, "max_pool1d")
    one = lambda v, d: (d, v[0] if isinstance(v, (tuple, list)) else v)
    st = None if stride is None or stride == [] else one(stride, 1)
    out = max_pool(input.unsqueeze(-2), 1, one(kernel_size, 1), st, one(padding, 0),
                   one(dilation, 1), ceil_mode, True, "max_pool1d")
    r, idx = out[0].squeeze(-2), out[1].squeeze(-2)
    return (r, idx) if return_indices else r


# --- average pooling ---------------------------------------------------------------------------


def _avg_divisor(xp, w: Win, p, count_include_pad, divisor_override, dtype):
    """The divisor of each output position, PyTorch's rule, as an array of shape `w.out`."""
    if divisor_override:
        return xp.full(w.out, divisor_override, dtype=dtype)
    div = None
    for s, k, st, pp, o in zip(w.size, w.k, w.stride, p, w.out):
        start = np.arange(o) * st - pp
        end = np.minimum(start + k, s + pp)
        n = end - start if count_include_pad else np.minimum(end, s) - np.maximum(start, 0)
        div = n if div is None else np.multiply.outer(div, n)
    return xp.asarray(div.astype(dtype))


class AvgPool2DBackward0(Node):
    __slots__ = ("_div", "_win")
    formula = ("grad / divisor spread over each window",)
    saved_names = ("self_sym_sizes", "kernel_size", "stride", "padding", "ceil_mode",
                   "count_include_pad", "divisor_override")

    def apply(self, g):
        return (avg_spread(g, self._win, self._div),)

    _frees = False


class AvgPool2DBackwardBackward0(Node):
    __slots__ = ("_div", "_win")
    formula = ("avg_pool2d(grad)",)

    def apply(self, u):
        return (avg_window(u, self._win, self._div),)

    _frees = False


def _sum_windows(xp, d, w: Win):
    """Each window's sum, added element by element in row-major kernel order (as PyTorch)."""
    p = padded(xp, d, w)
    acc = xp.zeros(d.shape[:-w.n] + w.out, dtype=d.dtype)
    for off in w.offsets():
        acc += p[(Ellipsis, *w.slices(off))]
    return acc


def avg_window(input, w: Win, div):
    """Average pooling with window `w` and divisors `div` (a differentiable op)."""
    xp = input._xp()
    r = _out(_sum_windows(xp, input._data, w) / div, input.device)
    if _ag._enabled and input._requires_grad:
        record(r, AvgPool2DBackward0, (input,), (tuple(w.size),))
        r._grad_fn._win, r._grad_fn._div = w, div
    return r


def avg_spread(g, w: Win, div):
    """The transpose of avg_window: each output's grad / divisor added over its window."""
    xp = g._xp()
    q = g._data / div
    cols = xp.broadcast_to(q[..., None, :, :], q.shape[:-2] + (w.K,) + w.out)
    r = _out(col2im(xp, cols, w), g.device)
    if _ag._enabled and g._requires_grad:
        record(r, AvgPool2DBackwardBackward0, (g,))
        r._grad_fn._win, r._grad_fn._div = w, div
    return r


def avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
             divisor_override, name):
    _check_pool_input(input, 2, name)
    w, p = pool_win(input, 2, kernel_size, stride, padding, 1, ceil_mode, name)
    d = input._data
    if d.dtype.kind not in "fiu":
        raise TorchRuntimeError(f'"avg_pool2d" not implemented for \'{input.dtype.scalar_name}\'')
    if divisor_override is not None and divisor_override == 0:
        raise TorchRuntimeError("divisor must be not zero")
    xp = input._xp()
    _guard(d.size // math.prod(w.size) * math.prod(w.out), d.itemsize, f"{name}()")
    if d.dtype.kind != "f":
        s = _sum_windows(xp, d, w)
        div = _avg_divisor(xp, w, p, count_include_pad, divisor_override, np.int64)
        q = xp.where(s >= 0, s // div, -((-s) // div))  # C++ integer division truncates
        return _out(q.astype(d.dtype), input.device)
    div = _avg_divisor(xp, w, p, count_include_pad, divisor_override, d.dtype)
    return avg_window(input, w, div)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, "avg_pool2d")


@op("avg_pool1d", method=False)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    _check_pool_input(input, 1, "avg_pool1d")
    one = lambda v, d: (d, v[0] if isinstance(v, (tuple, list)) else v)
    st = None if stride is None or stride == [] else one(stride, 1)
    r = avg_pool(input.unsqueeze(-2), one(kernel_size, 1), st, one(padding, 0), ceil_mode,
                 count_include_pad, None, "avg_pool1d")
    return r.squeeze(-2)


# --- adaptive pooling --------------------------------------------------------------------------


def _adaptive_size(output_size, input, n, name):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * n
    output_size = tuple(output_size)
    if len(output_size) != n:
        raise TorchRuntimeError(f"{name}: output_size must be {n}")
    return tuple(int(input.shape[-n + i]) if o is None else int(o)
                 for i, o in enumerate(output_size))


class _Bins:
    """Adaptive windows along each dim: start = floor(i*S/O), end = ceil((i+1)*S/O); the
    j-th element of every window as an index (clipped) and a mask of real elements."""

    __slots__ = ("kmax", "lens", "out", "size", "starts")

    def __init__(self, size, out):
        self.size, self.out = tuple(size), tuple(out)
        self.starts, self.lens = [], []
        for s, o in zip(size, out):
            i = np.arange(o)
            start = (i * s) // o
            end = -((-(i + 1) * s) // o)
            self.starts.append(start)
            self.lens.append(end - start)
        self.kmax = tuple(int(n.max()) if n.size else 0 for n in self.lens)

    def offsets(self, reverse=False):
        offs = list(itertools.product(*(range(k) for k in self.kmax)))
        return offs[::-1] if reverse else offs

    def gather(self, xp, d, off):
        """(the elements at window offset `off` of every window, their mask)."""
        v, mask = d, None
        for axis, (j, start, n, s) in enumerate(zip(off, self.starts, self.lens, self.size)):
            idx = np.minimum(start + j, s - 1)
            v = xp.take(v, xp.asarray(idx), axis=axis - len(self.size))
            m = (j < n).reshape((-1,) + (1,) * (len(self.size) - axis - 1))
            mask = m if mask is None else mask & m
        return v, xp.asarray(mask)

    def divide(self, xp, d):
        """`d` (..., *out) divided by each window's height, then by its width (as PyTorch)."""
        kh, kw = (xp.asarray(n.astype(d.dtype)) for n in self.lens)
        return d / kh.reshape(-1, 1) / kw


class AdaptiveAvgPool2DBackward0(Node):
    __slots__ = ("_bins",)
    formula = ("grad / window size spread over each window",)
    saved_names = ("self",)

    def apply(self, g):
        return (adaptive_spread(g, self._bins),)

    _frees = False


class AdaptiveAvgPool2DBackwardBackward0(Node):
    __slots__ = ("_bins",)
    formula = ("adaptive_avg_pool2d(grad)",)

    def apply(self, u):
        return (adaptive_window(u, self._bins),)

    _frees = False


def adaptive_window(input, bins: _Bins):
    """Adaptive average pooling (a differentiable op): window sums over their sizes."""
    xp = input._xp()
    d = input._data
    acc = xp.zeros(d.shape[:-2] + bins.out, dtype=d.dtype)
    for off in bins.offsets():
        v, m = bins.gather(xp, d, off)
        acc += xp.where(m, v, 0)
    r = _out(bins.divide(xp, acc), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, AdaptiveAvgPool2DBackward0, (input,), (tuple(d.shape),))
        r._grad_fn._bins = bins
    return r


def adaptive_spread(g, bins: _Bins):
    """The transpose of adaptive_window."""
    xp = g._xp()
    q = bins.divide(xp, g._data)
    lead = q.shape[:-2]
    H, W = bins.size
    acc = xp.zeros(lead + (H * W,), dtype=q.dtype)
    for off in bins.offsets(reverse=True):  # each input adds in output order, as PyTorch
        ih = np.minimum(bins.starts[0] + off[0], H - 1)
        iw = np.minimum(bins.starts[1] + off[1], W - 1)
        flat = (ih[:, None] * W + iw[None, :]).reshape(-1)
        mask = ((off[0] < bins.lens[0])[:, None] & (off[1] < bins.lens[1])[None, :]).reshape(-1)
        src = q.reshape(lead + (-1,))[..., xp.asarray(np.nonzero(mask)[0])]
        flat = flat[mask]
        if np.unique(flat).size == flat.size:
            acc[..., xp.asarray(flat)] += src
        else:  # windows that start at one place (more outputs than inputs)
            a2 = acc.reshape(-1, H * W)
            xp.add.at(a2, (slice(None), xp.asarray(flat)), src.reshape(-1, flat.size))
            acc = a2.reshape(acc.shape)
    r = _out(acc.reshape(lead + (H, W)), g.device)
    if _ag._enabled and g._requires_grad:
        record(r, AdaptiveAvgPool2DBackwardBackward0, (g,))
        r._grad_fn._bins = bins
    return r


def adaptive_avg_pool(input, output_size, name):
    if input.dim() not in (3, 4):
        raise TorchRuntimeError(f"{name}(): Expected 3D or 4D tensor, but got "
                                f"{_dims_text(input.shape)}")
    out = _adaptive_size(output_size, input, 2, name)
    if out == (1, 1):
        return input.mean((-1, -2), keepdim=True)  # PyTorch's shortcut (MeanBackward1)
    if any(o < 0 for o in out):
        raise TorchRuntimeError(f"{name}: elements of output_size must be greater than or "
                                "equal to 0")
    if any(s == 0 for s in input.shape[-2:]):
        raise TorchRuntimeError(f"{name}(): Expected input to have non-zero size for non-batch "
                                f"dimensions, but input has sizes {_dims_text(input.shape)}")
    return adaptive_window(input, _Bins(input.shape[-2:], out))


def adaptive_avg_pool2d(input, output_size):
    return adaptive_avg_pool(input, output_size, "adaptive_avg_pool2d")


@op("adaptive_avg_pool1d", method=False)
def adaptive_avg_pool1d(input, output_size):
    if input.dim() not in (2, 3):
        raise TorchRuntimeError(f"adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got "
                                f"{_dims_text(input.shape)}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise TorchRuntimeError("adaptive_avg_pool1d: output_size must be 1")
        output_size = output_size[0]
    r = adaptive_avg_pool(input.unsqueeze(-2), (1, output_size), "adaptive_avg_pool2d")
    return r.squeeze(-2)


class AdaptiveMaxPool2DBackward0(Node):
    __slots__ = ()
    formula = ("grad scattered to the argmax of each window",)
    saved_names = ("self", "result1")

    def apply(self, g):
        x, idx = self._saved
        flat = g.new_zeros(tuple(x.shape[:-2]) + (x.shape[-2] * x.shape[-1],))
        out = flat.scatter_add(-1, idx.flatten(-2), g.flatten(-2))
        return (out.view(tuple(x.shape)),)

    _frees = False


def adaptive_max_pool2d(input, output_size, return_indices=False):
    if input.dim() not in (3, 4):
        raise TorchRuntimeError(f"adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: "
                                f"{_dims_text(input.shape)}")
    out = _adaptive_size(output_size, input, 2, "adaptive_max_pool2d")
    bins = _Bins(input.shape[-2:], out)
    xp = input._xp()
    d = input._data
    low = -np.inf if d.dtype.kind == "f" else np.iinfo(d.dtype).min
    best = idx = None
    W = bins.size[1]
    for off in bins.offsets():
        v, m = bins.gather(xp, d, off)
        v = xp.where(m, v, low)
        ih = np.minimum(bins.starts[0] + off[0], bins.size[0] - 1)
        iw = np.minimum(bins.starts[1] + off[1], W - 1)
        at = xp.asarray(ih[:, None] * W + iw[None, :])
        if best is None:
            best, idx = v, xp.broadcast_to(at, v.shape).copy()
        else:
            take = (v > best) | xp.isnan(v) if d.dtype.kind == "f" else v > best
            best = xp.where(take, v, best)
            idx = xp.where(take, at, idx)
    r = _out(best, input.device)
    ind = _out(idx.astype(np.int64), input.device)
    if _ag._enabled and input._requires_grad:
        record(r, AdaptiveMaxPool2DBackward0, (input,), (input, ind))
    return (r, ind) if return_indices else r
