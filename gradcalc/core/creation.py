"""Core: tensor creation — tensor(), factories, random numbers and the legacy constructors."""

from __future__ import annotations

import numpy as np

from ..errors import GradcalcTypeError, GradcalcValueError, LimitError, TorchRuntimeError
from . import alloc as _alloc
from . import autograd as _ag
from . import random as _random
from .backend import CPU, as_device, to_device, to_host
from .dtypes import _FROM_NP, as_dtype, bool_, float32, get_default_dtype, int64
from .registry import op
from .tensor import Tensor, _TensorExtras

#: the device factory functions create on when none is given (torch.set_default_device)
_default_device = [CPU]


def set_default_device(device) -> None:
    """The device tensors are created on when a factory function is given none."""
    _default_device[0] = CPU if device is None else as_device(device)


def get_default_device():
    """The device set by set_default_device (cpu unless changed)."""
    return _default_device[0]


def _finish(data, device, requires_grad, cls=Tensor):
    if _alloc.on and data.nbytes >= _alloc.floor:
        _alloc.admit(data)
    dev = _default_device[0] if device is None else as_device(device)
    if dev is not CPU:
        data = to_device(data, dev)
    t = object.__new__(cls)
    t._data = data
    t._grad_fn = None
    t._requires_grad = False
    t._vc = None
    t._x = None
    if dev is not CPU:
        t._x = _TensorExtras()
        t._x.device = dev
    if _ag._inference:
        t._extras().inference = True
    if requires_grad:
        if data.dtype.kind not in "fc":
            from ..errors import GradError

            raise GradError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        if data.dtype.kind == "c":
            from ..errors import GradError
            from .tensor import COMPLEX_GRAD_MESSAGE

            raise GradError(COMPLEX_GRAD_MESSAGE)
        t._requires_grad = True
    return t


def _check_size(shape, what="the tensor", itemsize=8):
    n = 1
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise GradcalcTypeError(
                f"empty(): argument 'size' must be tuple of ints, but found element of type "
                f"{type(s).__name__} at pos 0"
            )
        if s < 0:
            raise TorchRuntimeError(
                f"Trying to create tensor with negative dimension {s}: {list(shape)}"
            )
        n *= int(s)
    if _alloc.on:
        _alloc.check_numel(n, itemsize, what)
    return tuple(int(s) for s in shape)


def _size(size, what="the tensor", itemsize=8):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return _check_size(tuple(int(s) if isinstance(s, Tensor) else s for s in size), what,
                       itemsize)


_NUMBER_KIND = {bool: 0, int: 1, float: 2, complex: 3}


def _plain_kind(obj):
    """The kind (bool 0 < int 1 < float 2 < complex 3; -1 empty) of nested lists/tuples of
    Python numbers only, found at C speed; None when anything else is inside."""
    if type(obj) not in (list, tuple):
        return None
    types = set(map(type, obj))
    if types <= _NUMBER_KIND.keys():
        return max((_NUMBER_KIND[t] for t in types), default=-1)
    if types <= {list, tuple}:
        kind = -1
        for o in obj:
            k = _plain_kind(o)
            if k is None:
                return None
            kind = max(kind, k)
        return kind
    return None


def _infer_dtype(obj):
    """PyTorch's inference for nested Python data: bool < int < float < complex."""
    kind = _plain_kind(obj)
    stack = [obj] if kind is None else []
    kind = -1 if kind is None else kind
    while stack:
        o = stack.pop()
        if isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, Tensor):
            d = o.dtype
            kind = max(kind, d.kind if d.kind < 2 else 2 if not d.is_complex else 3)
            if d.kind >= 2 and kind == d.kind:
                pass
        elif isinstance(o, (bool, np.bool_)):
            kind = max(kind, 0)
        elif isinstance(o, (int, np.integer)):
            kind = max(kind, 1)
        elif isinstance(o, (float, np.floating)):
            kind = max(kind, 2)
        elif isinstance(o, (complex, np.complexfloating)):
            kind = max(kind, 3)
        elif type(o) is np.ndarray and o.dtype.kind in "biufc":
            k = "biufc".index(o.dtype.kind)
            kind = max(kind, (0, 1, 1, 2, 3)[k])
        else:
            raise GradcalcTypeError(
                f"Could not infer dtype of {type(o).__name__}"
            )
    if kind == 0:
        return bool_
    if kind == 1:
        return int64
    if kind == 3:
        return as_dtype("complex128") if get_default_dtype().name == "float64" else as_dtype("complex64")
    return get_default_dtype()


def _to_host_nested(obj):
    if isinstance(obj, Tensor):
        return to_host(obj._data)
    if isinstance(obj, (list, tuple)):
        return [_to_host_nested(o) for o in obj]
    return obj


@op("tensor", method=False, differentiable=False)
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor holding a copy of `data` (nested lists, numbers, arrays, tensors)."""
    if isinstance(data, Tensor):
        arr = to_host(data._data).copy()
        dt = as_dtype(dtype) if dtype is not None else data.dtype
    elif type(data) is np.ndarray and data.dtype.kind in "biufc":
        arr = data.copy()
        dt = as_dtype(dtype) if dtype is not None else _FROM_NP.get(arr.dtype) or as_dtype(arr.dtype)
    else:
        inferred = _infer_dtype(data)  # also refuses objects that are not data
        dt = as_dtype(dtype) if dtype is not None else inferred
        src = data if _plain_kind(data) is not None else _to_host_nested(data)
        _check_int_range(src, dt)
        try:
            arr = np.array(src, dtype=dt.np)
        except ValueError as e:
            msg = str(e)
            if "inhomogeneous" in msg or "sequence" in msg:
                raise GradcalcValueError(_ragged_message(data)) from None
            raise GradcalcValueError(msg) from None
        except OverflowError:  # PyTorch 2.13 raises ValueError here
            raise GradcalcValueError("Overflow when unpacking long long") from None
        except TypeError as e:
            raise GradcalcTypeError(str(e)) from None
    if arr.dtype != dt.np:
        arr = arr.astype(dt.np)
    _check_size(arr.shape, "tensor()")
    return _finish(arr, device, requires_grad)


def _check_int_range(src, dt):
    if dt.kind != 1:
        return
    stack = [src]
    while stack:
        o = stack.pop()
        if isinstance(o, list):
            stack.extend(o)
        elif isinstance(o, int) and not isinstance(o, bool) and not (-(2**63) <= o < 2**63):
            raise GradcalcValueError("Overflow when unpacking long long")


def _ragged_message(data):
    lens = []
    for i, o in enumerate(data if isinstance(data, (list, tuple)) else []):
        lens.append(len(o) if isinstance(o, (list, tuple)) else None)
    if lens and lens[0] is not None:
        for i, n in enumerate(lens):
            if n != lens[0]:
                return f"expected sequence of length {lens[0]} at dim 1 (got {n})"
    return "setting an array element with a sequence"


@op("as_tensor", method=False, differentiable=False)
def as_tensor(data, dtype=None, device=None):
    """Share data where possible (a tensor or NumPy array of the right dtype and device)."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None or device is not None:
            out = data.to(device=device, dtype=dtype)
        return out
    if type(data) is np.ndarray and data.dtype.kind in "biufc" and (dtype is None or as_dtype(dtype).np == data.dtype) and device in (None, "cpu"):
        return _finish(data, None, False)
    return tensor(data, dtype=dtype, device=device)


@op("from_numpy", method=False, differentiable=False)
def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise GradcalcTypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _FROM_NP.get(ndarray.dtype) or as_dtype(ndarray.dtype)
    return _finish(ndarray, None, False)


def _factory(fill, name):
    def make(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False, memory_format=None, **kwargs):
        if kwargs:  # size=(2, 3), as PyTorch's parser takes it
            if "size" not in kwargs or size or len(kwargs) > 1:
                bad = next(k for k in kwargs if k != "size" or size)
                raise GradcalcTypeError(f"{name}() got an unexpected keyword argument '{bad}'")
            size = (kwargs["size"],)
        dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
        shape = _size(size, f"{name}()", dt.np.itemsize)
        return _finish(fill(shape, dt.np), device, requires_grad)

    return make


zeros = op("zeros", method=False, differentiable=False)(_factory(np.zeros, "zeros"))
ones = op("ones", method=False, differentiable=False)(_factory(np.ones, "ones"))
empty = op("empty", method=False, differentiable=False)(_factory(np.zeros, "empty"))


@op("full", method=False, differentiable=False)
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None):
    shape = _size((size,) if not isinstance(size, (int, np.integer)) else ((size,),), "full()")
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        dt = _infer_dtype(fill_value)
    else:
        dt = as_dtype(dtype)
    return _finish(np.full(shape, fill_value, dtype=dt.np), device, requires_grad)


def _like(fn):
    def make(input, *, dtype=None, device=None, requires_grad=False, layout=None,
             memory_format=None):
        return fn(tuple(input.shape), dtype=dtype or input.dtype, device=device or input.device,
                  requires_grad=requires_grad)

    return make


zeros_like = op("zeros_like", method=False, differentiable=False)(_like(zeros))
ones_like = op("ones_like", method=False, differentiable=False)(_like(ones))
empty_like = op("empty_like", method=False, differentiable=False)(_like(empty))


@op("full_like", method=False, differentiable=False)
def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(tuple(input.shape), fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


@op("eye", method=False, differentiable=False)
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    _check_size((n, n if m is None else m), "eye()")
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    return _finish(np.eye(n, m, dtype=dt.np), device, requires_grad)


def _num(v):
    return v.item() if isinstance(v, Tensor) else v


@op("arange", method=False, differentiable=False)
def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise TorchRuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise TorchRuntimeError(
            "upper bound and larger bound inconsistent with step sign"
        )
    if dtype is not None:
        dt = as_dtype(dtype)
    elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step)):
        dt = int64
    else:
        dt = get_default_dtype()
    n = int(np.ceil((end - start) / step))
    _check_size((max(n, 0),), "arange()")
    if dt.kind == 2:
        data = (start + np.arange(n, dtype=np.float64) * step).astype(dt.np)
    else:
        data = np.arange(start, end, step).astype(dt.np)
    return _finish(data, device, requires_grad)


@op("range", method=False, differentiable=False)
def range_(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    return arange(start, end + (step if end is not None else 0) if end is not None else start + 1,
                  step, dtype=dtype or get_default_dtype(), device=device,
                  requires_grad=requires_grad)


@op("linspace", method=False, differentiable=False)
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    _check_size((steps,), "linspace()")
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    start, end = _num(start), _num(end)
    data = _torch_linspace(start, end, steps, dt.np)
    return _finish(data.astype(dt.np, copy=False), device, requires_grad)


def _torch_linspace(start, end, steps, npdt):
    """PyTorch's CPU linspace bit for bit: the first half counted up from `start`, the rest
    down from `end`, each value one fused multiply-add (ATen's AVX2/AVX-512 kernels contract
    `start + step * i`) in the dtype's precision (integers: in double, truncated)."""
    from . import rng_kernels as K

    if steps == 0:
        return np.empty(0, dtype=npdt)
    kind = np.dtype(npdt).kind
    if kind == "c":  # complex: float64 arithmetic, as before
        if steps == 1:
            return np.array([start], dtype=np.complex128)
        step = (end - start) / (steps - 1)
        i = np.arange(steps, dtype=np.float64)
        return np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i))
    single = kind == "f" and np.dtype(npdt).itemsize <= 4
    if single:
        f = np.float32
        s, e = f(start), f(end)
        if steps == 1:
            return np.array([s])
        step = f(f(e - s) / f(steps - 1))
        fma = K.fma32
    else:
        f = np.float64
        s, e = (f(start), f(end)) if kind == "f" else (f(int(start)), f(int(end)))
        if steps == 1:
            return np.array([s])
        step = (e - s) / (steps - 1)
        fma = K.fma64
    i = np.arange(steps)
    lo = fma(step, i.astype(f), s)
    hi = fma(-step, (steps - 1 - i).astype(f), e)
    out = np.where(i < steps // 2, lo, hi)
    return np.trunc(out) if kind in "iub" else out


@op("logspace", method=False, differentiable=False)
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    _check_size((steps,), "logspace()")
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    data = _torch_logspace(_num(start), _num(end), steps, float(base), dt.np)
    return _finish(data.astype(dt.np, copy=False), device, requires_grad)


def _torch_logspace(start, end, steps, base, npdt):
    """PyTorch's CPU logspace bit for bit: exponents in double from a step taken in the dtype,
    each raised with the C library's pow (NumPy's own vectorised pow differs in the last bit)."""
    import math

    if steps == 0:
        return np.empty(0, dtype=npdt)
    kind = np.dtype(npdt).kind
    if kind == "c":
        return np.power(base, _torch_linspace(start, end, steps, npdt))
    if steps == 1:
        return np.array([math.pow(base, float(start))])
    f = np.float32 if kind == "f" and np.dtype(npdt).itemsize <= 4 else np.float64
    s, e = (f(start), f(end)) if kind == "f" else (np.int64(int(start)), np.int64(int(end)))
    step = np.float64(e - s) / (steps - 1)
    i = np.arange(steps)
    ex = np.where(i < steps // 2, np.float64(s) + step * i,
                  np.float64(e) - step * (steps - i - 1))
    if kind in "iu":
        base = float(np.float32(base))  # PyTorch raises a float base for integer results
    return np.fromiter((math.pow(base, x) for x in ex.tolist()), np.float64, count=steps)


# --- random numbers (PyTorch's CPU generator and kernels: core/random.py) ---------------------

Generator = _random.Generator
default_generator = _random.default_generator


@op("manual_seed", method=False, differentiable=False)
def manual_seed(seed):
    """Seed the default generator as torch.manual_seed does: PyTorch's numbers follow."""
    return _random.manual_seed(seed)


@op("seed", method=False, differentiable=False)
def seed():
    """Reseed the default generator from the OS and return the seed."""
    return default_generator.seed()


@op("initial_seed", method=False, differentiable=False)
def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def _gen(generator):
    return _random.generator_of(generator)


def _float_dt(dtype):
    return as_dtype(dtype) if dtype is not None else get_default_dtype()


def _shape_arg(args, size, what="the tensor"):
    return _size(args if size is None else (size,), what)


@op("rand", method=False, differentiable=False)
def rand(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    shape = _shape_arg(args, size, "rand()")
    data = _random.uniform_array(_gen(generator), shape, _float_dt(dtype).np)
    return _finish(data, device, requires_grad)


@op("randn", method=False, differentiable=False)
def randn(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False):
    shape = _shape_arg(args, size, "randn()")
    data = _random.normal_array(_gen(generator), shape, _float_dt(dtype).np)
    return _finish(data, device, requires_grad)


@op("randint", method=False, differentiable=False)
def randint(*args, size=None, low=None, high=None, generator=None, out=None, dtype=None,
            layout=None, device=None, requires_grad=False, pin_memory=False):
    args = list(args)
    if size is None and args:
        size = args.pop()
    if high is None and args:
        high = args.pop()
    if low is None:
        low = args.pop() if args else 0
    if args or high is None or size is None:
        raise GradcalcTypeError("randint() missing required arguments: 'high' and 'size'")
    if not isinstance(size, (tuple, list)):
        raise GradcalcTypeError(
            f"randint(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    shape = _size((tuple(size),), "randint()")
    dt = as_dtype(dtype) if dtype is not None else int64
    data = _random.random_array(_gen(generator), shape, dt.np, low, high, to_given=True)
    return _finish(data, device, requires_grad)


@op("randperm", method=False, differentiable=False)
def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    _check_size((n,), "randperm()")
    dt = as_dtype(dtype) if dtype is not None else int64
    data = _random.randperm_values(_gen(generator), int(n))
    return _finish(data.astype(dt.np, copy=False), device, requires_grad)


@op("rand_like", method=False, differentiable=False)
def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad=False, memory_format=None):
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


@op("randn_like", method=False, differentiable=False)
def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad=False, memory_format=None):
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype,
                 device=device or input.device, requires_grad=requires_grad)


@op("randint_like", method=False, differentiable=False)
def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad=False, memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator,
                   dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad)


@op("normal", method=False, differentiable=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False, pin_memory=False):
    g = _gen(generator)
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        shape = _size((tuple(size),), "normal()") if size is not None else ()
        data = _random.normal_array(g, shape, _float_dt(dtype).np, mean, std)
        return _finish(data, device, requires_grad)
    # PyTorch draws N(0, 1) (N(0, std) for a float std) at the broadcast shape, in the dtype of
    # the tensor argument, then multiplies by std and adds mean as two rounded steps
    m = to_host(mean._data) if isinstance(mean, Tensor) else mean
    s = to_host(std._data) if isinstance(std, Tensor) else std
    ref = mean if isinstance(mean, Tensor) else std
    if isinstance(std, Tensor):
        if s.size and not (s >= 0).all():
            raise TorchRuntimeError("normal expects all elements of std >= 0.0")
        dt = ref._data.dtype
        data = np.empty(np.broadcast_shapes(np.shape(m), s.shape), dtype=dt)
        _random.fill_normal(g, data)
        data = (data * s).astype(dt, copy=False)
        data = (data + (m if isinstance(mean, Tensor) else dt.type(m))).astype(dt, copy=False)
    else:
        data = np.empty(np.shape(m), dtype=m.dtype)
        _random.fill_normal(g, data, 0.0, std)
        data = (data + m).astype(m.dtype, copy=False)
    return _finish(data, ref.device, requires_grad)


def _host_like(t):
    # an uninitialised host array laid out as t (empty_like keeps the strides' order); an
    # expanded tensor (a zero stride) is not dense, so its result is contiguous, as in PyTorch
    d = t._data
    if isinstance(d, np.ndarray) and t.device is CPU and all(
            s or n < 2 for s, n in zip(d.strides, d.shape)):
        return np.empty_like(d)
    return np.empty(np.shape(d), dtype=d.dtype)


@op("bernoulli", differentiable=False)
def bernoulli(input, p=None, *, generator=None, out=None):
    g = _gen(generator)
    data = _host_like(input)
    if p is None:
        # draws happen on the host: read device probabilities through an explicit transfer
        _random.fill_bernoulli_tensor(g, data, np.asarray(to_host(input._data)))
    else:
        _random.fill_bernoulli(g, data, p)
    return _finish(data, input.device, False)


@op("multinomial", differentiable=False)
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise GradcalcTypeError("multinomial(): argument 'num_samples' (position 2) must be int, "
                                f"not {type(num_samples).__name__}")
    probs = np.asarray(to_host(input._data))
    data = _random.multinomial_values(_gen(generator), probs, int(num_samples), replacement)
    return _finish(data, input.device, False)


def _inplace_random(name, fill):
    def method(self, *args, generator=None, **kw):
        from .graph import check_inplace

        check_inplace(self)
        g = _gen(generator)
        d = self._data
        if self.device is CPU and isinstance(d, np.ndarray):
            fill(g, d, *args, **kw)
        else:
            host = np.empty(np.shape(d), dtype=d.dtype)
            fill(g, host, *args, **kw)
            if self.device is not CPU:
                d[...] = to_device(host, self.device)
            else:
                self._data = host
        self._bump_version()
        return self

    method.__name__ = name
    op(name, function=False, differentiable=False)(method)


def _random_(g, d, *args, **kw):
    # random_(), random_(to), random_(from, to), random_(from, None); `from`/`to` by keyword too
    names = ("from", "to")
    if len(args) > 2 or set(kw) - set(names):
        bad = next(iter(set(kw) - set(names)), None)
        raise GradcalcTypeError(f"random_() got an unexpected keyword argument '{bad}'" if bad
                                else "random_() takes at most 2 positional arguments")
    if len(args) == 1 and not kw:
        return _random.fill_random(g, d, 0, args[0], to_given=True)
    given = dict(zip(names, args), **kw)
    if not given:
        return _random.fill_random(g, d)
    return _random.fill_random(g, d, given.get("from", 0), given.get("to"), to_given=True)


def _bernoulli_(g, d, p=0.5):
    if isinstance(p, Tensor):
        return _random.fill_bernoulli_tensor(g, d, np.asarray(to_host(p._data)))
    return _random.fill_bernoulli(g, d, p)


_inplace_random("uniform_", _random.fill_uniform)
_inplace_random("normal_", _random.fill_normal)
_inplace_random("random_", _random_)
_inplace_random("bernoulli_", _bernoulli_)
_inplace_random("exponential_", _random.fill_exponential)
_inplace_random("cauchy_", _random.fill_cauchy)
_inplace_random("log_normal_", _random.fill_log_normal)
_inplace_random("geometric_", _random.fill_geometric)


# --- legacy constructors ----------------------------------------------------------------------


def legacy_constructor(cls, dtype, *args, **kwargs):
    """torch.Tensor(...) / FloatTensor(...) / LongTensor(...) as PyTorch accepts them."""
    dt = dtype or getattr(cls, "_legacy_dtype", None) or get_default_dtype()
    device = kwargs.pop("device", None)
    if kwargs:
        raise GradcalcTypeError(f"new() received an invalid combination of arguments - got {sorted(kwargs)}")
    if not args:
        return _finish(np.zeros((0,), dtype=dt.np), device, False, cls if cls is Tensor else Tensor)
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray, Tensor)):
        # one sequence is data (torch.Tensor((2, 3)) is tensor([2., 3.])); sizes come as ints
        t = tensor(args[0], dtype=dt)
        return t if device is None else t.to(device)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        return _finish(np.zeros(_check_size(args), dtype=dt.np), device, False)
    raise GradcalcTypeError(
        "new(): invalid data type '" + type(args[0]).__name__ + "'"
    )


class _LegacyMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls._dt

    def __call__(cls, *args, **kwargs):
        return legacy_constructor(Tensor, cls._dt, *args, **kwargs)


def _legacy(name, dt):
    return _LegacyMeta(name, (), {"_dt": dt})


FloatTensor = _legacy("FloatTensor", float32)
DoubleTensor = _legacy("DoubleTensor", as_dtype("float64"))
HalfTensor = _legacy("HalfTensor", as_dtype("float16"))
LongTensor = _legacy("LongTensor", int64)
IntTensor = _legacy("IntTensor", as_dtype("int32"))
ShortTensor = _legacy("ShortTensor", as_dtype("int16"))
CharTensor = _legacy("CharTensor", as_dtype("int8"))
ByteTensor = _legacy("ByteTensor", as_dtype("uint8"))
BoolTensor = _legacy("BoolTensor", bool_)
