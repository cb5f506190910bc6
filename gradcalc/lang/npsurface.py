"""Language layer: NumPy inside scripts (`import numpy as np`): real NumPy arrays and dtypes
through a curated surface, so tutorial code computes what NumPy computes.

Each name here wraps one NumPy function: its arguments are vetted (numbers, strings, arrays
and tensors, and lists or tuples of those: never a script's own object, a callable or a
file), the size of its result is checked against the session's limits before NumPy
allocates, and what it returns must be numbers or arrays of a numeric or bool dtype. Nothing
that reads or writes files, loads pickles, or runs Python code from C (vectorize,
apply_along_axis, frompyfunc) is offered.
"""

from __future__ import annotations

import math

import numpy as np  # the language imports this module when a script first uses NumPy

from gradcalc.core import alloc
from gradcalc.errors import GradcalcTypeError, SecurityError

#: elementwise functions (ufuncs and the like): their result is the broadcast of their arrays
ELEMENTWISE = (
    "abs absolute add subtract multiply divide true_divide floor_divide power float_power mod "
    "remainder fmod negative positive reciprocal square sqrt cbrt exp exp2 expm1 log log2 "
    "log10 log1p sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh "
    "arctanh hypot degrees radians deg2rad rad2deg sign floor ceil trunc rint round around "
    "fix maximum minimum fmax fmin clip where isnan isinf isfinite isclose greater "
    "greater_equal less less_equal equal not_equal logical_and logical_or logical_not "
    "logical_xor heaviside copysign nan_to_num real imag conj conjugate angle signbit "
    "sinc i0 interp"
).split()
#: functions whose result is no larger than their inputs (reductions, views, reorderings)
BOUNDED = (
    "sum prod mean average std var max min amax amin argmax argmin nansum nanmean nanmax "
    "nanmin median percentile quantile cumsum cumprod diff all any count_nonzero allclose "
    "array_equal reshape ravel transpose swapaxes moveaxis squeeze expand_dims flip fliplr "
    "flipud roll sort argsort unique nonzero argwhere shape size ndim trace diagonal "
    "triu tril copy asarray array ascontiguousarray atleast_1d atleast_2d atleast_3d "
    "searchsorted digitize dtype result_type can_cast "
    "iscomplexobj isrealobj isscalar isfortran zeros_like ones_like empty_like full_like "
    "rot90 take choose compress extract select piecewise"
).split()
#: creation functions whose first argument (or `shape`) is the shape of the result
SHAPED = ("zeros", "ones", "empty", "full")
_LINALG = ("norm det inv solve pinv eig eigh eigvals eigvalsh svd qr cholesky matrix_rank "
           "matrix_power lstsq slogdet cond").split()
_RANDOM = ("seed rand randn randint random random_sample normal uniform "
           "standard_normal choice permutation shuffle binomial poisson exponential beta "
           "gamma multinomial laplace logistic lognormal geometric standard_exponential "
           "standard_gamma").split()
DTYPES = ("float16 float32 float64 double single half int8 int16 int32 int64 uint8 uint16 "
          "uint32 uint64 bool_ complex64 complex128 intp longlong").split()
#: values a script may hand to NumPy as they are
_PLAIN = (bool, int, float, complex, str, type(None), slice, type(Ellipsis), np.generic,
          np.dtype)
_NUMERIC = frozenset("biufc")
_MAX_NAME = 32  # the longest string a NumPy function takes (an option's or a dtype's name)
_ARRAY_OBJECT = 112  # bytes of one ndarray object without its data (what split hands back)


def numpy_names(linalg, random) -> dict:
    """The names of `numpy` in a script (`linalg` and `random`: its two sub-namespaces)."""
    extra: dict = {}
    for name in ELEMENTWISE:
        extra[name] = _wrap(name, _broadcast_check)
    for name in BOUNDED:
        extra[name] = _wrap(name, None)
    for name in SHAPED:
        extra[name] = _wrap(name, _shape_check)
    for name, check in _SIZED.items():
        extra[name] = _wrap(name, check)
    for name in DTYPES:
        extra[name] = getattr(np, name)
    extra.update(pi=np.pi, e=np.e, inf=np.inf, nan=np.nan, newaxis=None,
                 euler_gamma=np.euler_gamma, linalg=linalg, random=random)
    return extra


def linalg_names() -> dict:
    """The names of `numpy.linalg` in a script."""
    return {n: _wrap(n, _cubic_check, getattr(np.linalg, n)) for n in _LINALG}


# ---- vetting ----------------------------------------------------------------------------


def _vet(value, what: str, depth: int = 0):
    """`value` if NumPy may receive it from a script, else SecurityError."""
    if isinstance(value, str):
        # a mode or dtype name ('C', 'stable', 'float32'), never array data: a string array
        # is refused anyway, and NumPy would allocate it (4 bytes a character) before we see it
        if depth or len(value) > _MAX_NAME:
            raise SecurityError(f"{what}: gradcalc scripts use arrays of numbers only (a "
                                "string is taken as an option's name, not as data)")
        return value
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC:
            raise SecurityError(f"{what}: gradcalc scripts use arrays of numbers only")
        return value
    if isinstance(value, type) and issubclass(value, np.generic):
        return value  # a dtype: np.float32
    if isinstance(value, (list, tuple)):
        if depth > 32:
            raise SecurityError(f"{what}: lists nested more than 32 deep")
        for item in value:
            _vet(item, what, depth + 1)
        return value
    if _is_tensor(value):
        return value  # NumPy reads it through Tensor.__array__
    raise SecurityError(f"{what}: a '{type(value).__name__}' object cannot be converted to an "
                        "array (NumPy functions take numbers, arrays and tensors in scripts)")


def _is_tensor(value) -> bool:
    import gradcalc

    return isinstance(value, gradcalc.Tensor)


def _vet_result(value, what: str):
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC:
            raise SecurityError(f"{what} would give an array of {value.dtype}: gradcalc "
                                "scripts use arrays of numbers only")
        return value
    if isinstance(value, tuple):
        return tuple(_vet_result(v, what) for v in value)
    if isinstance(value, list):
        return [_vet_result(v, what) for v in value]
    if isinstance(value, (bool, int, float, complex, np.generic, np.dtype, type(None), str)):
        if isinstance(value, np.generic) and value.dtype.kind not in _NUMERIC:
            raise SecurityError(f"{what} gives a {value.dtype} value: numbers only")
        return value
    if isinstance(value, type) and issubclass(value, np.generic):
        return value
    raise SecurityError(f"{what} returns a '{type(value).__name__}' object, which gradcalc "
                        "scripts do not receive")


def _wrap(name: str, check, fn=None):
    fn = fn if fn is not None else getattr(np, name)
    what = f"numpy.{name}()"
    wraps_tensors = check is _broadcast_check  # a ufunc hands a tensor's result back as one

    def call(*args, **kwargs):
        for a in args:
            _vet(a, what)
        for v in kwargs.values():
            _vet(v, what)
        if "dtype" in kwargs and kwargs["dtype"] is not None:
            check_dtype(kwargs["dtype"], what)
        if check is not None:
            check(name, args, kwargs)
        out = _vet_result(fn(*args, **kwargs), what)
        if wraps_tensors and isinstance(out, np.ndarray) and any(map(_is_tensor, args)):
            import gradcalc

            return gradcalc.from_numpy(out)
        return out

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"numpy.{name} for scripts (arguments vetted, result size checked)."
    return call


# ---- size checks before NumPy allocates -------------------------------------------------


def _shape_of(x) -> tuple:
    if hasattr(x, "shape"):
        return tuple(x.shape)
    if isinstance(x, (list, tuple)):
        return np.shape(x)
    return ()


def _itemsize(kwargs) -> int:
    dt = kwargs.get("dtype")
    try:
        return np.dtype(dt).itemsize if dt is not None else 8
    except TypeError:
        return 8


def _count(shape) -> int:
    if isinstance(shape, (int, np.integer)):
        return max(int(shape), 0)
    n = 1
    for s in shape:
        n *= max(int(s), 0)
    return n


def _numel(n: int, kwargs, what: str) -> None:
    alloc.check_numel(int(n), _itemsize(kwargs), what)


def _broadcast_check(name, args, kwargs) -> None:
    arrays = [a for a in (*args, *kwargs.values()) if not isinstance(a, (str, type, np.dtype))]
    shape: tuple | None = ()
    for a in arrays:
        shape = alloc.broadcast_shape(shape, _shape_of(a))
        if shape is None:
            return  # NumPy reports the mismatch
    alloc.check(shape, 8, f"numpy.{name}()")


def _shape_check(name, args, kwargs) -> None:
    shape = kwargs.get("shape", args[0] if args else ())
    if name == "full" and isinstance(kwargs.get("fill_value", args[1] if len(args) > 1 else 0),
                                     str):
        raise SecurityError("numpy.full(): gradcalc scripts use arrays of numbers only")
    _numel(_count(shape), kwargs, f"numpy.{name}()")


def _split_check(name, args, kwargs) -> None:
    """split/array_split hand back one array object per section, however small."""
    sections = kwargs.get("indices_or_sections", args[1] if len(args) > 1 else None)
    if isinstance(sections, (int, np.integer)):
        alloc.check_numel(int(sections), _ARRAY_OBJECT, f"numpy.{name}()")


def _arange_check(name, args, kwargs) -> None:
    nums = [a for a in args if isinstance(a, (int, float, np.number))]
    start, stop, step = 0, None, 1
    if len(nums) == 1:
        stop = nums[0]
    elif len(nums) >= 2:
        start, stop = nums[0], nums[1]
        if len(nums) >= 3:
            step = nums[2]
    start = kwargs.get("start", start)
    stop = kwargs.get("stop", stop)
    step = kwargs.get("step", step)
    if stop is None or not step:
        return
    _numel(max(math.ceil((stop - start) / step), 0), kwargs, "numpy.arange()")


def _num_check(name, args, kwargs) -> None:
    num = kwargs.get("num", args[2] if len(args) > 2 else 50)
    _numel(_count(num), kwargs, f"numpy.{name}()")


def _eye_check(name, args, kwargs) -> None:
    n = kwargs.get("N", args[0] if args else 0)
    m = kwargs.get("M", args[1] if len(args) > 1 and name == "eye" else None)
    _numel(_count(n) * _count(m if m is not None else n), kwargs, f"numpy.{name}()")


def product_check(name, args, kwargs) -> None:
    """Before numpy.dot/matmul/outer/kron/inner (or ndarray.dot): the product's size, work."""
    if len(args) < 2:
        return
    sa, sb = _shape_of(args[0]), _shape_of(args[1])
    if name == "outer":
        _numel(_count(sa) * _count(sb), {}, "numpy.outer()")
    elif name == "kron":
        _numel(_count(sa) * _count(sb), {}, "numpy.kron()")
    elif name == "dot" and len(sa) > 2 and len(sb) >= 2:
        _numel(_count(sa[:-1]) * _count(sb[:-2] + sb[-1:]), {}, "numpy.dot()")
    elif name == "inner":
        _numel(_count(sa[:-1]) * _count(sb[:-1]), {}, "numpy.inner()")
    elif sa and sb:
        alloc.check_matmul(sa, sb, 8, f"numpy.{name}()")


def _joined_check(name, args, kwargs) -> None:
    seq = args[0] if args else kwargs.get("arrays", kwargs.get("tup", ()))
    if isinstance(seq, (list, tuple)):
        _numel(sum(_count(_shape_of(a)) for a in seq), kwargs, f"numpy.{name}()")


def _repeat_check(name, args, kwargs) -> None:
    if len(args) < 2:
        return
    n = _count(_shape_of(args[0]))
    reps = args[1]
    if name == "tile":
        reps = (reps,) if isinstance(reps, (int, np.integer)) else reps
        _numel(n * _count(reps), kwargs, "numpy.tile()")
    elif isinstance(reps, (int, np.integer)):
        _numel(n * max(int(reps), 0), kwargs, "numpy.repeat()")


def _meshgrid_check(name, args, kwargs) -> None:
    n = 1
    for a in args:
        n *= _count(_shape_of(a))
    _numel(n * max(len(args), 1), kwargs, "numpy.meshgrid()")


def _diag_check(name, args, kwargs) -> None:
    if args and len(_shape_of(args[0])) == 1:
        k = abs(int(kwargs.get("k", args[1] if len(args) > 1 else 0)))
        n = _count(_shape_of(args[0])) + k
        _numel(n * n, kwargs, "numpy.diag()")


def _cubic_check(name, args, kwargs) -> None:
    if args:
        shape = _shape_of(args[0])
        n = max(shape[-2:], default=1)
        alloc.check_flops(float(_count(shape[:-2]) or 1) * n ** 3, f"numpy.linalg.{name}()")


def _stacked_check(name, args, kwargs) -> None:
    _joined_check(name, args, kwargs)


_SIZED = {
    "arange": _arange_check, "linspace": _num_check, "logspace": _num_check,
    "geomspace": _num_check, "eye": _eye_check, "identity": _eye_check,
    "dot": product_check, "matmul": product_check, "vdot": None, "inner": product_check,
    "outer": product_check, "kron": product_check, "tensordot": None,
    "concatenate": _joined_check, "stack": _stacked_check, "vstack": _stacked_check,
    "hstack": _stacked_check, "dstack": _stacked_check, "column_stack": _stacked_check,
    "append": None, "tile": _repeat_check, "repeat": _repeat_check,
    "meshgrid": _meshgrid_check, "diag": _diag_check, "diagflat": _diag_check,
}


def _tensordot_check(name, args, kwargs) -> None:
    if len(args) >= 2:
        _numel(_count(_shape_of(args[0])) * _count(_shape_of(args[1])), {}, "numpy.tensordot()")


def _append_check(name, args, kwargs) -> None:
    _numel(sum(_count(_shape_of(a)) for a in args[:2]), {}, "numpy.append()")


_SIZED.update(vdot=None, tensordot=_tensordot_check, append=_append_check,
              split=_split_check, array_split=_split_check)


# ---- numpy.random: NumPy's legacy generator (np.random.seed), one per session -----------


def _size_arg(name, args, kwargs) -> int:
    if name in ("rand", "randn"):
        return _count(args) if args else 1
    size = kwargs.get("size")
    positional = {"randint": 2, "normal": 2, "uniform": 2, "random": 0, "random_sample": 0,
                  "standard_normal": 0, "choice": 1, "binomial": 2,
                  "poisson": 1, "exponential": 1, "beta": 2, "gamma": 2, "laplace": 2,
                  "logistic": 2, "lognormal": 2, "geometric": 1, "standard_exponential": 0,
                  "standard_gamma": 1, "multinomial": 2}
    i = positional.get(name)
    if size is None and i is not None and len(args) > i:
        size = args[i]
    if size is None:
        return 1
    return _count(size)


def random_names() -> dict:
    """`numpy.random` in a script: NumPy's legacy generator, one per session."""
    state = np.random.RandomState()
    return {name: _random_call(name, getattr(state, name)) for name in _RANDOM}


def _random_call(name: str, method):
    what = f"numpy.random.{name}()"

    def call(*args, **kwargs):
        for a in args:
            _vet(a, what)
        for v in kwargs.values():
            _vet(v, what)
        _numel(_size_arg(name, args, kwargs), {}, what)
        return _vet_result(method(*args, **kwargs), what)

    call.__name__ = call.__qualname__ = name
    return call


def check_dtype(dtype, what: str):
    """np.dtype(dtype) when it is numeric or bool, else a one-line error."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise GradcalcTypeError(f"{what}: data type {dtype!r} not understood") from None
    if dt.kind not in _NUMERIC:
        raise SecurityError(f"{what}: gradcalc scripts use numeric and bool dtypes only")
    return dt
