"""Core: the Tensor — data on a backend array, autograd metadata, PyTorch's attributes.

Ops attach themselves as methods from the op modules (one op, one place); this
module holds what belongs to the tensor itself.
"""

from __future__ import annotations

from weakref import ref as _weakref

import numpy as np

from ..errors import GradError, GradcalcTypeError, GradcalcValueError
from . import alloc as _alloc
from . import autograd as _ag
from .backend import CPU, as_device, to_host, xp_for
from .dtypes import _FROM_NP, as_dtype, bool_, float32

_onew = object.__new__


class _TensorExtras:
    """Rarely-set tensor state, kept out of the hot path (one object, made on first use).

    Class attributes are the defaults, so making one costs a bare object.
    """

    grad = None
    hooks = None
    post_acc_hooks = None
    accum = None
    retains_grad = False
    base = None
    device = CPU
    output_nr = 0
    inference = False
    is_param = False
    name = None


#: PyTorch differentiates complex tensors (Wirtinger calculus, conjugated gradients); gradcalc's
#: backward formulas are written for real numbers, so it refuses rather than give wrong gradients.
COMPLEX_GRAD_MESSAGE = (
    "gradcalc does not support autograd on complex tensors (see docs/differences.md); complex "
    "tensors work without requires_grad"
)


class _TorchClass(type):
    """The class of Tensor and Size: they print as PyTorch's (`<class 'torch.Tensor'>`)."""

    def __repr__(cls):
        if cls.__name__ in ("Tensor", "Size") and cls.__module__ == __name__:
            return f"<class 'torch.{cls.__name__}'>"
        mod = cls.__module__ or ""
        if mod == "gradcalc" or mod.startswith("gradcalc."):
            mod = "torch" + mod[len("gradcalc"):]
        return f"<class '{mod}.{cls.__qualname__}'>"


class Size(tuple, metaclass=_TorchClass):
    """A tensor shape, printed as PyTorch prints it: `torch.Size([2, 3])`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r


def _make(data, like=None):
    """A new tensor without autograd history; on `like`'s device."""
    if _alloc.on and data.nbytes >= _alloc.floor:
        _alloc.admit(data)
    t = _onew(Tensor)
    t._data = data
    t._grad_fn = None
    t._requires_grad = False
    t._vc = None
    if like is not None and like._x is not None and like._x.device is not CPU:
        x = t._x = _TensorExtras()
        x.device = like._x.device
    else:
        t._x = None
        if _ag._inference:
            t._extras().inference = True
    return t


class Tensor(metaclass=_TorchClass):
    """A multi-dimensional array that records the operations applied to it."""

    __slots__ = ("_data", "_grad_fn", "_requires_grad", "_vc", "_x", "__weakref__")
    __array_priority__ = 1000  # NumPy scalars on the left defer to our reflected operators

    def __new__(cls, *args, **kwargs):
        from .creation import legacy_constructor

        return legacy_constructor(cls, float32 if cls is Tensor else None, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        pass

    # -- internals --------------------------------------------------------------------------
    def _extras(self) -> _TensorExtras:
        x = self._x
        if x is None:
            x = self._x = _TensorExtras()
        return x

    def _xp(self):
        x = self._x
        return np if x is None or x.device is CPU else xp_for(x.device)

    def _host(self) -> np.ndarray:
        return to_host(self._data)

    def _output_nr(self) -> int:
        x = self._x
        return 0 if x is None else x.output_nr

    def _grad_accumulator(self):
        # PyTorch's leaf keeps its AccumulateGrad weakly (the node holds the leaf): a new one
        # after each freed graph
        x = self._x
        if x is None:
            x = self._x = _TensorExtras()
        ref = x.accum
        acc = ref() if ref is not None else None
        if acc is None:
            acc = _ag.AccumulateGrad(self)
            x.accum = _weakref(acc)
        return acc

    def _bump_version(self) -> None:
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    def _detached_copy(self) -> "Tensor":
        d = self._data
        xp = self._xp()
        return _make(xp.array(d, copy=True), self)

    @staticmethod
    def _wrap_owned(g: "Tensor") -> "Tensor":
        """A detached tensor over g's array (which nothing else references)."""
        return _make(g._data, g)

    def _accumulate_inplace(self, gd) -> None:
        """self += array `gd`, in place where the array allows (AccumulateGrad)."""
        d = self._data
        if isinstance(d, np.ndarray) or not isinstance(d, np.generic):
            try:
                d += gd
                return
            except (TypeError, ValueError):
                pass
        self._data = self._xp().asarray(d + gd)

    @classmethod
    def _wrap_saved_output(cls, saved, node, create_graph):
        from .graph import unpack_out

        t = unpack_out(node, saved)
        if not create_graph:
            t._grad_fn = None
            t._requires_grad = False
        return t

    # -- PyTorch attributes -----------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        t = _make(self._data, self)
        t._vc = self._share_vc()
        return t

    @data.setter
    def data(self, other: "Tensor") -> None:
        if not isinstance(other, Tensor):
            raise GradcalcTypeError(
                f"Variable data has to be a tensor, but got {type(other).__name__}")
        self._data = other._data

    def _share_vc(self):
        if self._vc is None:
            self._vc = [0]
        return self._vc

    @property
    def dtype(self):
        return _FROM_NP[self._data.dtype]

    @property
    def device(self):
        x = self._x
        return CPU if x is None else x.device

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format=None) -> bool:
        d = self._data
        flags = getattr(d, "flags", None)
        return flags is None or isinstance(d, np.generic) or flags.c_contiguous or d.size <= 1

    def stride(self, dim=None):
        d = self._data
        if isinstance(d, np.generic) or d.size == 0:
            st = _contiguous_strides(d.shape)
        else:
            st = tuple(s // d.dtype.itemsize for s in d.strides)
        return st if dim is None else st[_wrap_dim(dim, d.ndim)]

    @property
    def _version(self) -> int:
        return 0 if self._vc is None else self._vc[0]

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag) -> None:
        if self._grad_fn is not None:
            if not flag:
                raise GradError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return
        if flag:
            self._check_can_require_grad(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self._requires_grad = bool(flag)

    def _check_can_require_grad(self, message: str) -> None:
        kind = self._data.dtype.kind
        if kind not in "fc":
            raise GradError(message)
        if kind == "c":
            raise GradError(COMPLEX_GRAD_MESSAGE)
        x = self._x
        if x is not None and x.inference and not _ag._inference:
            raise GradError(
                "Setting requires_grad=True on inference tensor outside InferenceMode is not "
                "allowed."
            )

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self._grad_fn is not None and not requires_grad:
            raise GradError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and self._grad_fn is None:
            self._check_can_require_grad(
                "only Tensors of floating point dtype can require gradients"
            )
        if self._grad_fn is None:
            self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def grad(self):
        x = self._x
        if self._grad_fn is not None and not (x is not None and x.retains_grad):
            _ag.warn_nonleaf_grad()
        return None if x is None else x.grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise GradcalcTypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if tuple(value.shape) != tuple(self.shape):
                raise GradError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the tensor "
                    "are the same size"
                )
            if value.dtype is not self.dtype:
                raise GradError(
                    f"attempting to assign a gradient with dtype '{value.dtype.cpp_name}' "
                    f"to a tensor with dtype '{self.dtype.cpp_name}'. Please ensure that "
                    "the gradient and the tensor have the same dtype"
                )
            if value.device is not self.device:
                raise GradError(
                    f"attempting to assign a gradient located on device with index "
                    f"'{value.device.index}' to a tensor located on device with index "
                    f"'{self.device.index}'. Please ensure that the gradient and the tensor are "
                    "on the same device"
                )
        self._extras().grad = value

    @property
    def retains_grad(self) -> bool:
        x = self._x
        return x is not None and x.retains_grad

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise GradError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None:
            return
        import weakref

        x = self._extras()
        if x.retains_grad:
            return
        x.retains_grad = True
        nx = self._grad_fn._extras()
        if nx.retain is None:
            nx.retain = {}
        nx.retain[self._output_nr()] = weakref.ref(self)

    def register_hook(self, hook):
        """hook(grad) runs when the gradient of this tensor is computed; a return value replaces it."""
        if not self._requires_grad:
            raise GradError("cannot register a hook on a tensor that doesn't require gradient")
        k = next(_ag._hook_ids)
        if self._grad_fn is None:
            x = self._extras()
            if x.hooks is None:
                x.hooks = {}
            x.hooks[k] = hook
            return _ag.RemovableHandle(x.hooks, k)
        nx = self._grad_fn._extras()
        if nx.tensor_pre_hooks is None:
            nx.tensor_pre_hooks = {}
        hooks = nx.tensor_pre_hooks.setdefault(self._output_nr(), {})
        hooks[k] = hook
        return _ag.RemovableHandle(hooks, k)

    def register_post_accumulate_grad_hook(self, hook):
        if self._grad_fn is not None:
            raise GradError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        x = self._extras()
        if x.post_acc_hooks is None:
            x.post_acc_hooks = {}
        k = next(_ag._hook_ids)
        x.post_acc_hooks[k] = hook
        return _ag.RemovableHandle(x.post_acc_hooks, k)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute gradients of this tensor with respect to graph leaves."""
        d = self._data
        if gradient is None and not create_graph and inputs is None and d.size == 1 and (
            d.dtype.kind == "f"
        ):
            # the common `loss.backward()`: seed with ones and run the engine directly
            _ag.run_backward((self,), (_make(self._xp().ones(d.shape, d.dtype), self),),
                             retain_graph)
            return
        from ..autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> "Tensor":
        t = _make(self._data, self)
        t._vc = self._share_vc()
        return t

    def detach_(self) -> "Tensor":
        self._grad_fn = None
        self._requires_grad = False
        return self

    # -- host transfer ----------------------------------------------------------------------
    def item(self):
        if self._data.size != 1:
            from ..errors import GradcalcValueError as VE

            raise VE(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return to_host(self._data).reshape(()).item()

    def tolist(self):
        if _alloc.on:
            _alloc.check_python(self._data.size)
        return to_host(self._data).tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise GradError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if self.device is not CPU and not force:
            from ..errors import GradcalcTypeError as TE

            raise TE(
                f"can't convert {self.device.type}:{self.device.index} device type tensor to "
                "numpy. Use Tensor.cpu() to copy the tensor to host memory first."
            )
        d = to_host(self._data)
        return np.asarray(d) if isinstance(d, np.generic) else d

    def __array__(self, dtype=None, copy=None):
        a = self.numpy(force=True) if not self._requires_grad else to_host(self._data)
        return a if dtype is None else a.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "biu" or self._data.size != 1:
            raise GradcalcTypeError(
                "only integer tensors of a single element can be converted to an index"
            )
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __bool__(self) -> bool:
        n = self._data.size
        if n != 1:
            if n == 0:
                raise GradcalcValueError("Boolean value of Tensor with no values is ambiguous")
            raise GradError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise GradcalcTypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise GradcalcTypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __repr__(self) -> str:
        from .printing import format_tensor

        return format_tensor(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (to_host(self._data), self._requires_grad))

    def __deepcopy__(self, memo):
        t = _make(self._xp().array(self._data, copy=True), self)
        t._requires_grad = self._requires_grad
        if type(self) is not Tensor:
            t.__class__ = type(self)
        memo[id(self)] = t
        return t

    # -- device and dtype conversion --------------------------------------------------------
    def to(self, *args, **kwargs) -> "Tensor":
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif _is_dtype(a):
                dt = a
            elif a is not None:
                dev = a
        from .ops import to_copy

        return to_copy(self, dtype=None if dt is None else as_dtype(dt),
                       device=None if dev is None else as_device(dev), copy=copy)

    def type(self, dtype=None, non_blocking=False, **kwargs):
        if dtype is None:
            return _ag._legacy_type(self.dtype.name)
        legacy = getattr(dtype, "_dt", None)  # torch.FloatTensor, torch.LongTensor ...
        if legacy is not None:
            return self.to(legacy)
        if isinstance(dtype, str):  # 'torch.FloatTensor'
            from .dtypes import ALL

            for d in ALL:
                if d.legacy_name == dtype:
                    return self.to(d)
            raise GradcalcValueError(f"invalid type: {dtype!r}")
        return self.to(as_dtype(dtype))

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device=None) -> "Tensor":
        return self.to(as_device("cuda" if device is None else device))

    def float(self) -> "Tensor":
        return self.to(float32)

    def double(self) -> "Tensor":
        return self.to(as_dtype("float64"))

    def half(self) -> "Tensor":
        return self.to(as_dtype("float16"))

    def long(self) -> "Tensor":
        return self.to(as_dtype("int64"))

    def int(self) -> "Tensor":
        return self.to(as_dtype("int32"))

    def short(self) -> "Tensor":
        return self.to(as_dtype("int16"))

    def bool(self) -> "Tensor":
        return self.to(bool_)

    def byte(self) -> "Tensor":
        return self.to(as_dtype("uint8"))

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import tensor

        return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from .creation import zeros

        return zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                     requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from .creation import ones

        return ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        from .creation import full

        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _is_dtype(a) -> bool:
    from .dtypes import dtype

    return isinstance(a, dtype)


def _rebuild(arr, requires_grad):
    t = _make(arr)
    t._requires_grad = requires_grad
    return t


def _contiguous_strides(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(st))


def _wrap_dim(dim, ndim: int) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise GradcalcTypeError(f"dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if dim < -n or dim >= n:
        from ..errors import GradcalcIndexError

        raise GradcalcIndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n




_ag._bind_tensor(Tensor, _make)
