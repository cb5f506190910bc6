"""Core: PyTorch 2.13's CPU generator — mt19937 seeded as torch seeds it, its state bytes — and
the fills (uniform, normal, random_, bernoulli, exponential, ...) that draw from it.

The fills write NumPy arrays in place, in memory order, with torch's draw counts; the factories
and tensor methods in `creation` call them.
"""

from __future__ import annotations

import math
import os
import struct
import warnings

import numpy as np

from ..errors import (
    GradcalcNotImplementedError,
    GradcalcTypeError,
    GradcalcValueError,
    TorchRuntimeError,
)
from . import rng_kernels as K
from .backend import as_device

#: the seed of a new torch.Generator() (c10::default_rng_seed_val)
DEFAULT_SEED = 67280421310721
STATE_SIZE = 5056
_STATE_HEAD = struct.Struct("<QiiQ")
_STATE_TAIL = struct.Struct("<dddi4xfB3x")


def _init_key(seed32: int):
    # init_genrand: key[j] = 1812433253 * (key[j-1] ^ (key[j-1] >> 30)) + j  (mod 2**32)
    key = [seed32]
    for j in range(1, 624):
        seed32 = (1812433253 * (seed32 ^ (seed32 >> 30)) + j) & 0xFFFFFFFF
        key.append(seed32)
    return np.array(key, dtype=np.uint32)


def _seed64(seed) -> int:
    if seed >= 2**64 or seed < -(2**63):
        raise GradcalcValueError("Overflow when unpacking long long")
    return seed & 0xFFFFFFFFFFFFFFFF


class Generator:
    """PyTorch's CPU generator: mt19937 with torch's seeding, cached normal and state bytes."""

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self._reseed(DEFAULT_SEED)

    def _reseed(self, seed: int) -> None:
        self._seed = seed
        self._key = _init_key(seed & 0xFFFFFFFF)
        self._pos = 624
        self._mt = None  # NumPy's MT19937, made at the first draw (numpy.random loads lazily)
        self._fresh = True  # seeded, nothing drawn: the state bytes say next = 0
        self._normal = None  # the cached double normal sample (unscaled)
        self._normal_f = None  # the float one: no CPU kernel uses it, the state bytes carry it

    def manual_seed(self, seed) -> Generator:
        """Seed with a 64-bit integer (only its low 32 bits reach mt19937, as in PyTorch)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TorchRuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        self._reseed(_seed64(int(seed)))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self._reseed(s)
        return s

    def initial_seed(self) -> int:
        """The seed of the last manual_seed/seed (all 64 bits)."""
        return self._seed

    def get_state(self):
        """The state as PyTorch's 5056-byte uint8 tensor (torch.get_rng_state's layout)."""
        from .creation import tensor

        key, pos = self._key_pos()
        left, nxt = (1, 0) if self._fresh else (625 - pos, pos)
        head = _STATE_HEAD.pack(self._seed, left, 1, nxt)
        words = np.asarray(key, dtype="<u8").tobytes()
        d, f = self._normal, self._normal_f
        tail = _STATE_TAIL.pack(0.0, d or 0.0, 0.0, d is not None, f or 0.0, f is not None)
        data = np.frombuffer(head + words + tail, dtype=np.uint8).copy()
        from .dtypes import uint8

        return tensor(data, dtype=uint8)

    def set_state(self, new_state) -> Generator:
        """Restore a state made by get_state (or by PyTorch's torch.get_rng_state)."""
        from .tensor import Tensor

        if not isinstance(new_state, Tensor):
            raise GradcalcTypeError(
                f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype.name != "uint8":
            raise GradcalcTypeError("RNG state must be a torch.ByteTensor")
        raw = np.ascontiguousarray(new_state.numpy()).tobytes()
        if len(raw) != STATE_SIZE:
            raise TorchRuntimeError(
                f"Expected a CPUGeneratorImplState of size {STATE_SIZE} but found the input RNG "
                f"state size to be {len(raw)}")
        seed, left, seeded, nxt = _STATE_HEAD.unpack_from(raw, 0)
        if seeded != 1 or not 0 < left <= 624 or not 0 <= nxt <= 624:
            raise TorchRuntimeError("Invalid mt19937 state")
        _, d, _, d_ok, f, f_ok = _STATE_TAIL.unpack_from(raw, 24 + 624 * 8)
        key = (np.frombuffer(raw, dtype="<u8", count=624, offset=24) & 0xFFFFFFFF)
        self._seed = seed
        self._key = key.astype(np.uint32)
        self._fresh = left == 1 and nxt == 0
        self._pos = 625 - left
        self._mt = None
        self._normal = d if d_ok else None
        self._normal_f = f if f_ok else None
        return self

    def _key_pos(self):
        if self._mt is None:
            return self._key, self._pos
        st = self._mt.state["state"]
        return st["key"], st["pos"]

    def words(self, n: int):
        """The next n 32-bit words of the stream, as uint64."""
        if self._mt is None:
            self._mt = np.random.MT19937()
            self._mt.state = {"bit_generator": "MT19937",
                              "state": {"key": self._key, "pos": self._pos}}
        if n:
            self._fresh = False
        return self._mt.random_raw(n)

    def __repr__(self) -> str:
        return f"<torch._C.Generator object at {id(self):#x}>"


default_generator = Generator()
default_generator._reseed(int.from_bytes(os.urandom(8), "little"))


def generator_of(generator) -> Generator:
    """The generator a call draws from: its `generator=` argument or the default one."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise GradcalcTypeError(
            f"expected a torch.Generator, but got {type(generator).__name__}")
    return generator


def manual_seed(seed) -> Generator:
    """torch.manual_seed: seed the default generator (floats are truncated by int())."""
    return default_generator.manual_seed(int(seed))


def get_rng_state():
    """torch.get_rng_state: the default generator's state bytes."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """torch.set_rng_state: restore the default generator's state bytes."""
    default_generator.set_state(new_state)


# --- fills ------------------------------------------------------------------------------------


def _real(v, fn: str, name: str, pos: int) -> float:
    # a float argument as PyTorch's binding takes it: numbers and one-element tensors
    if isinstance(v, (int, float, np.integer, np.floating)) or hasattr(v, "item"):
        return float(v)
    raise GradcalcTypeError(
        f"{fn}(): argument '{name}' (position {pos}) must be float, not {type(v).__name__}")


def _integer(v, fn: str, name: str, pos: int) -> int:
    if isinstance(v, (int, np.integer)) or (hasattr(v, "item") and isinstance(v.item(), int)):
        return int(v)
    raise GradcalcTypeError(
        f"{fn}(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")


def _fmt(x) -> str:
    # a double as C++'s ostream prints it in PyTorch's messages (6 significant digits)
    return f"{float(x):g}"


def _scalar_name(arr) -> str:
    from .dtypes import from_numpy

    return from_numpy(np.dtype(getattr(arr, "dtype", arr))).scalar_name


def _write(arr, values) -> None:
    # torch fills in memory order: walk the axes from the largest stride to the smallest
    if arr.ndim > 1 and not arr.flags.c_contiguous:
        order = sorted(range(arr.ndim), key=lambda i: -abs(arr.strides[i]))
        arr = arr.transpose(order)
    arr[...] = values.reshape(arr.shape)


def _cast(values, dt):
    # C++ converts double and int64 to Half through float: round twice, as torch does
    if dt == np.float16 and values.dtype.itemsize == 8:
        values = values.astype(np.float32)
    return values.astype(dt, copy=False)


_CHUNK = 1 << 16  # words per step when converting a long stream (no stream-sized temporaries)


def _uniforms(gen, n, np_dtype):
    # n uniforms: 24-bit floats from one word each, or 53-bit doubles from two
    double = np_dtype == np.float64
    if n <= _CHUNK:
        return K.u53(gen.words(2 * n)) if double else K.u24(gen.words(n))
    out = np.empty(n, dtype=np.float64 if double else np.float32)
    for i in range(0, n, _CHUNK):
        m = min(_CHUNK, n - i)
        out[i:i + m] = K.u53(gen.words(2 * m)) if double else K.u24(gen.words(m))
    return out


def _real_dtype(dt):
    return np.dtype(np.float32 if dt == np.complex64 else np.float64)


def uniform_array(gen, shape, dt, low=0.0, high=1.0):
    """A new C-ordered array of `shape`, as torch.empty(shape, dtype).uniform_(low, high)."""
    dt = np.dtype(dt)
    if dt.kind == "c":
        return uniform_array(gen, (*shape, 2), _real_dtype(dt), low, high).view(dt).reshape(shape)
    if dt.kind != "f":
        raise GradcalcNotImplementedError(
            f"\"check_uniform_bounds\" not implemented for '{_scalar_name(dt)}'")
    low, high = _real(low, "uniform_", "from", 1), _real(high, "uniform_", "to", 2)
    info = np.finfo(dt)
    for v, name in ((low, "from"), (high, "to")):
        if not float(info.min) <= v <= float(info.max):
            raise TorchRuntimeError(f"{name} is out of bounds for {_dtype_cpp(dt)}")
    if low > high:
        raise TorchRuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={_fmt(low)} > "
            f"to={_fmt(high)}")
    n = math.prod(shape)
    if not n:
        return np.empty(shape, dtype=dt)
    return K.uniform_from(_uniforms(gen, n, dt), low, high, dt).reshape(shape)


def fill_uniform(gen, arr, low=0.0, high=1.0) -> None:
    """Tensor.uniform_(low, high)."""
    _write(arr, uniform_array(gen, arr.shape, arr.dtype, low, high))


def _dtype_cpp(dt) -> str:
    from .dtypes import from_numpy

    return from_numpy(np.dtype(dt)).cpp_name


def normal_values(gen, n, mean, std):
    """n values of torch's per-element normal sampler (double, with the cached sample)."""
    out = np.empty(n, dtype=np.float64)
    start = 0
    if n and gen._normal is not None:
        out[0] = K.scale64(np.array([gen._normal]), mean, std)[0]
        gen._normal = None
        start = 1
    m = n - start
    pairs = (m + 1) // 2
    if pairs:
        u = _uniforms(gen, 2 * pairs, np.float64)
        vals = K.normal_pairs(u, 0.0, 1.0)
        out[start:] = K.scale64(vals[:m], mean, std)
        if m % 2:
            gen._normal = float(vals[m])
    return out


def normal_array(gen, shape, dt, mean=0.0, std=1.0, contiguous=True):
    """A new C-ordered array, as normal_(mean, std) fills a tensor of `shape`: per element below
    16 elements or when the tensor is not contiguous (with the cached sample), else 16-blocks."""
    dt = np.dtype(dt)
    mean, std = _real(mean, "normal_", "mean", 1), _real(std, "normal_", "std", 2)
    if not std >= 0.0:
        raise TorchRuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    n = math.prod(shape)
    if not n:
        return np.empty(shape, dtype=dt)
    if dt.kind == "c":
        real = normal_array(gen, (*shape, 2), _real_dtype(dt), mean, std / math.sqrt(2),
                            contiguous)
        return real.view(dt).reshape(shape)
    if dt.kind != "f":
        raise GradcalcNotImplementedError(
            f"\"normal_kernel_cpu\" not implemented for '{_scalar_name(dt)}'")
    if n < 16 or not contiguous:
        return _cast(normal_values(gen, n, mean, std), dt).reshape(shape)
    full = n // 16 * 16
    if dt == np.float64:
        fill, ut = K.normal_fill64, np.float64
    else:
        fill, ut = K.normal_fill32, np.float32
    # float and double draw all n uniforms first; half draws only the full blocks' (in float)
    u = _uniforms(gen, n if dt != np.float16 else full, ut)
    if n == full:
        return _cast(fill(u, mean, std), dt).reshape(shape)
    out = u if u.size == n else np.empty(n, dtype=ut)
    out[:full] = fill(u[:full], mean, std)
    out[n - 16:] = fill(_uniforms(gen, 16, ut), mean, std)  # the tail block, drawn afresh
    return _cast(out, dt).reshape(shape)


def fill_normal(gen, arr, mean=0.0, std=1.0) -> None:
    """Tensor.normal_(mean, std)."""
    _write(arr, normal_array(gen, arr.shape, arr.dtype, mean, std, arr.flags.c_contiguous))


def _int_info(arr):
    if arr.dtype == np.bool_:
        return 0, 1
    i = np.iinfo(arr.dtype)
    return int(i.min), int(i.max)


def _update_from(frm: int, digits: int, np_dtype) -> int:
    # torch nudges `from` up (and `to` down) so the cast to a float dtype stays in [from, to)
    plus1 = int(np_dtype.type(frm + 1))
    if plus1 < frm:
        n = abs(frm + 1).bit_length() - 1
        frm = plus1 + (1 << (n - digits + 1))
    return frm


def _update_to(to: int, digits: int, np_dtype) -> int:
    minus1 = int(np_dtype.type(to - 1))
    if minus1 >= to:
        n = abs(to - 1).bit_length() - 1
        to = minus1 - (1 << (n - digits + 1))
    return to


def _check_range(arr, frm: int, to_inc: int) -> None:
    if arr.dtype.kind == "f":
        info = np.finfo(arr.dtype)
        lo, hi = float(info.min), float(info.max)
    else:
        lo, hi = _int_info(arr)
    for v, name in ((frm, "from"), (to_inc, "to - 1")):
        if not lo <= v <= hi:
            raise TorchRuntimeError(f"{name} is out of bounds for {_dtype_cpp(arr.dtype)}")
    if arr.dtype.kind == "f":
        digits = _digits(arr)
        for v, name in ((frm, "from"), (to_inc, "to - 1")):
            if not -(1 << digits) <= v <= 1 << digits:
                warnings.warn(
                    f"{name} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                    f"limitations {_dtype_cpp(arr.dtype)} can support discrete uniform "
                    "distribution only within this range. This warning will become an error in version 1.7 release, "
                    "please fix the code in advance", UserWarning, stacklevel=4)


def _from_range(gen, n, rng: int, base: int):
    # (word % range) + base in uint64 arithmetic, one word each below 2**28, else random64
    w = K.words64(gen.words(2 * n)) if rng >= 1 << 28 else gen.words(n)
    np.remainder(w, np.uint64(rng), out=w)
    w += np.uint64(base & 0xFFFFFFFFFFFFFFFF)
    return w.view(np.int64)


def _digits(arr) -> int:
    return {np.dtype(np.float16): 11, np.dtype(np.float32): 24}.get(arr.dtype, 53)


def fill_random(gen, arr, frm=None, to=None, *, to_given=False) -> None:
    """Tensor.random_(), random_(to), random_(from, to), random_(from, None)."""
    _write(arr, random_array(gen, arr.shape, arr.dtype, frm, to, to_given=to_given))


def random_array(gen, shape, dt, frm=None, to=None, *, to_given=False):
    """A new C-ordered array, as torch.empty(shape, dtype).random_(...) (randint's draws)."""
    arr = np.empty(0, dtype=dt)  # carries the dtype for the checks below
    n = math.prod(shape)
    if arr.dtype.kind == "c":
        raise GradcalcNotImplementedError(
            f"\"random_kernel_cpu\" not implemented for '{_scalar_name(arr)}'")
    if frm is None and not to_given:
        return _random_full(gen, arr, n).reshape(shape)
    frm = 0 if frm is None else _integer(frm, "random_", "from", 1)
    is_float = arr.dtype.kind == "f"
    if to is not None:
        to = _integer(to, "random_", "to", 2)
        if frm >= to:
            raise TorchRuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={frm} >= to={to}")
        if is_float:
            frm = _update_from(frm, _digits(arr), arr.dtype)
            to = _update_to(to, _digits(arr), arr.dtype)
            if frm >= to:
                raise TorchRuntimeError(
                    "random_ expects 'from' casted to dtype to be less than 'to' casted to "
                    f"dtype, but got from={frm} >= to={to}")
        _check_range(arr, frm, to - 1)
        if not n:
            return np.empty(shape, dtype=arr.dtype)
        vals = _from_range(gen, n, (to - frm) % 2**64, frm)
    elif frm != -(2**63):
        if is_float:
            to_inc = min(1 << _digits(arr), 2**63 - 1)
            frm = _update_from(frm, _digits(arr), arr.dtype)
            if frm >= to_inc:
                raise TorchRuntimeError(
                    "random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' "
                    f"casted to dtype, but got from={frm} > to_inc={to_inc}")
        else:
            to_inc = _int_info(arr)[1]
        _check_range(arr, frm, to_inc)
        if not n:
            return np.empty(shape, dtype=arr.dtype)
        vals = _from_range(gen, n, (to_inc - frm + 1) % 2**64, frm)
    else:
        if not n:
            return np.empty(shape, dtype=arr.dtype)
        vals = K.words64(gen.words(2 * n)).view(np.int64)
    return _cast(vals, arr.dtype).reshape(shape)


def _random_full(gen, arr, n):
    dt = arr.dtype
    if dt == np.bool_:
        return (gen.words(n) & 1).astype(np.bool_)
    if dt in (np.int64, np.float64):
        mod = 2**63 if dt == np.int64 else 2**53 + 1
        return (K.words64(gen.words(2 * n)) % np.uint64(mod)).astype(dt)
    if dt.kind == "f":
        return (gen.words(n) % np.uint64((1 << _digits(arr)) + 1)).astype(dt)
    return (gen.words(n) % np.uint64(int(np.iinfo(dt).max) + 1)).astype(dt)


def fill_bernoulli(gen, arr, p) -> None:
    """Tensor.bernoulli_(p) with a float p: one double uniform per element, 1 where u < p."""
    p = _real(p, "bernoulli_", "p", 1)
    if not 0 <= p <= 1:
        raise TorchRuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")
    if arr.size:
        _write(arr, _cast((_uniforms(gen, arr.size, np.float64) < p), arr.dtype))


def fill_bernoulli_tensor(gen, arr, probs) -> None:
    """Tensor.bernoulli_(P) / torch.bernoulli(P): P broadcast to arr; float uniforms unless P is
    float64."""
    if not arr.size:
        return
    if probs.dtype.kind != "f":
        raise GradcalcNotImplementedError(
            f"\"bernoulli_tensor_cpu_p_\" not implemented for '{_scalar_name(probs)}'")
    p = np.broadcast_to(probs, arr.shape)
    if arr.ndim > 1 and not arr.flags.c_contiguous:
        order = sorted(range(arr.ndim), key=lambda i: -abs(arr.strides[i]))
        p = p.transpose(order)
    flat = np.ravel(p)
    bad = np.flatnonzero((flat < 0) | (flat > 1) | np.isnan(flat))
    if bad.size:  # torch checks each p as it draws: the elements before the first bad one drew
        gen.words(int(bad[0]) * (2 if probs.dtype == np.float64 else 1))
        raise TorchRuntimeError(
            "Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)")
    if probs.dtype == np.float64:
        u = _uniforms(gen, arr.size, np.float64)
    else:
        u = _uniforms(gen, arr.size, np.float32)
        flat = flat.astype(np.float32)
    _write(arr, _cast((u < flat), arr.dtype))


def _check_float(arr, what: str) -> None:
    if arr.dtype.kind != "f":
        from .dtypes import from_numpy

        raise TorchRuntimeError(
            f"{what} distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {from_numpy(arr.dtype).scalar_name}")


def exponential_values(gen, n, lambd):
    """n values of exponential_(lambd) in double: (-1/lambd) * log1p(-u)."""
    return (-1.0 / lambd) * K.libm(math.log1p, -_uniforms(gen, n, np.float64))


def fill_exponential(gen, arr, lambd=1.0) -> None:
    """Tensor.exponential_(lambd)."""
    lambd = _real(lambd, "exponential_", "lambd", 1)
    if not lambd > 0.0:
        raise TorchRuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}")
    _check_float(arr, "Exponential")
    if arr.size:
        _write(arr, _cast(exponential_values(gen, arr.size, lambd), arr.dtype))


def fill_cauchy(gen, arr, median=0.0, sigma=1.0) -> None:
    """Tensor.cauchy_(median, sigma): median + sigma*tan(pi*(u - 0.5)), fused."""
    median, sigma = _real(median, "cauchy_", "median", 1), _real(sigma, "cauchy_", "sigma", 2)
    if not sigma > 0.0:
        raise TorchRuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    _check_float(arr, "Cauchy")
    if arr.size:
        t = K.libm(math.tan, math.pi * (_uniforms(gen, arr.size, np.float64) - 0.5))
        _write(arr, _cast(K.fma64(np.float64(sigma), t, np.float64(median)), arr.dtype))


def fill_log_normal(gen, arr, mean=1.0, std=2.0) -> None:
    """Tensor.log_normal_(mean, std): exp of the per-element normal sampler, at every size."""
    mean, std = _real(mean, "log_normal_", "mean", 1), _real(std, "log_normal_", "std", 2)
    if not std > 0.0:
        raise TorchRuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    if arr.size:
        vals = K.libm(math.exp, normal_values(gen, arr.size, mean, std))
        _write(arr, _cast(vals, arr.dtype))


def fill_geometric(gen, arr, p) -> None:
    """Tensor.geometric_(p): ceil(log(u) / log1p(-p))."""
    p = _real(p, "geometric_", "p", 1)
    if not 0 < p < 1:
        raise TorchRuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    if arr.size:
        u = _uniforms(gen, arr.size, np.float64)
        logs = K.libm(lambda v: math.log(v) if v else -math.inf, u)
        _write(arr, _cast(np.ceil(logs / math.log1p(-p)), arr.dtype))


def randperm_values(gen, n: int):
    """randperm(n) as int64 (torch's forward Fisher-Yates for n < 214748364)."""
    if n >= (2**32 - 1) // 20:
        return _randperm_large(gen, n)
    return K.randperm(gen.words(max(n - 1, 0)), n)


def _randperm_large(gen, n: int):
    # torch's 'inside-out' variant for huge n: a[i] = a[z]; a[z] = i with z = random64 % (i + 1)
    z = (K.words64(gen.words(2 * n)) % (np.arange(1, n + 1, dtype=np.uint64))).astype(np.int64)
    a = np.empty(n, dtype=np.int64)
    for i in range(n):
        a[i] = a[z[i]]
        a[z[i]] = i
    return a


def multinomial_values(gen, probs, k: int, replacement: bool):
    """multinomial(P, k, replacement) for a 1-D or 2-D float array P, as int64 indices."""
    from .dtypes import from_numpy

    if probs.ndim not in (1, 2):
        raise TorchRuntimeError("prob_dist must be 1 or 2 dim")
    if probs.dtype.kind != "f":
        raise TorchRuntimeError(
            "multinomial only supports floating-point dtypes for input, got: "
            f"{from_numpy(probs.dtype).scalar_name}")
    if k <= 0:
        raise TorchRuntimeError("cannot sample n_sample <= 0 samples")
    cats = probs.shape[-1]
    if not replacement and k > cats:
        raise TorchRuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if cats > 2**24:
        raise TorchRuntimeError("number of categories cannot exceed 2^24")
    rows = probs.reshape(-1, cats)
    if not rows.size:
        return np.zeros(probs.shape[:-1] + (k,), dtype=np.int64)
    if not replacement or k == 1:
        if not (np.isfinite(rows).all() and (rows >= 0).all()):
            raise TorchRuntimeError(
                "probability tensor contains either `inf`, `nan` or element < 0")
        if (rows.sum(axis=1) == 0).any():
            raise TorchRuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        q = _cast(exponential_values(gen, rows.size, 1.0), rows.dtype).reshape(rows.shape)
        q = rows / q
        if k == 1:
            out = np.argmax(q, axis=1)[:, None]
        else:
            out = np.argsort(-q, axis=1, kind="stable")[:, :k]
        return out.astype(np.int64).reshape(probs.shape[:-1] + (k,))
    acc = np.float32 if rows.dtype == np.float16 else rows.dtype
    out = np.empty((rows.shape[0], k), dtype=np.int64)
    for i, row in enumerate(rows.astype(acc)):
        if (row < 0).any():
            raise TorchRuntimeError(
                "invalid multinomial distribution (encountering probability entry < 0)")
        if not np.isfinite(row).all():
            raise TorchRuntimeError("invalid multinomial distribution (encountering probability "
                                    "entry = infinity or NaN)")
        cum = np.cumsum(row, dtype=acc)
        total = cum[-1]
        if not total > 0:
            raise TorchRuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        cum = cum / total
        cum[-1] = 1
        out[i] = np.searchsorted(cum, _uniforms(gen, k, np.float64), side="left")
    return out.reshape(probs.shape[:-1] + (k,))


def draw_seed(generator) -> int:
    """torch.empty((), dtype=torch.int64).random_(generator=...).item(): a 63-bit seed."""
    return int(K.words64(generator_of(generator).words(2))[0] % np.uint64(2**63))
