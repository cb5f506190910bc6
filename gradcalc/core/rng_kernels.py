"""Core: PyTorch 2.13's CPU random-number kernels as pure NumPy functions of mt19937 words.

Each function turns 32-bit words (or uniforms made from them) into values bit for bit as
torch's AVX2/AVX512 kernels do: the FMAs GCC fuses there are emulated exactly, and where
torch calls glibc's scalar libm, so does this module (through `math`).
"""

from __future__ import annotations

import math

import numpy as np

F32, F64, U64 = np.float32, np.float64, np.uint64
TWO_PI = 2.0 * math.pi
_CHUNK = 1 << 15  # lanes per step of the float32 Box-Muller (its buffers stay in cache)

# --- uniforms -----------------------------------------------------------------------------------


def u24(words):
    """float32 uniforms in [0, 1): the low 24 bits of each word, times 2**-24 (words are reused)."""
    words &= 0xFFFFFF
    return np.multiply(words, F32(2.0**-24), out=np.empty(words.shape, F32), casting="unsafe")


def u53(words):
    """float64 uniforms in [0, 1) from word pairs, the first word giving the top 21 bits."""
    w = words.reshape(-1, 2)
    bits = w[:, 0] & 0x1FFFFF
    bits <<= U64(32)
    bits |= w[:, 1]
    return np.multiply(bits, 2.0**-53, out=np.empty(bits.shape, F64), casting="unsafe")


def words64(words):
    """random64(): word pairs joined as (first << 32) | second, as uint64."""
    w = words.reshape(-1, 2)
    return (w[:, 0] << U64(32)) | w[:, 1]


# --- exact fused multiply-add -------------------------------------------------------------------


def _round_sum32(s, p, c):
    # s = p + c rounded to double; its cast to float32 rounds a second time, which is wrong only
    # where s lies exactly halfway between two float32s and the double sum was inexact. There,
    # nudge s one double ulp towards the exact sum before the cast.
    out = s.astype(F32)
    mid = (s.view(U64) & 0x1FFFFFFF) == 0x10000000
    if mid.any():
        sm, pm, cm = s[mid], p[mid], c[mid]
        bb = sm - pm
        err = (pm - (sm - bb)) + (cm - bb)
        nudged = np.where(err == 0, sm, np.nextafter(sm, np.where(err > 0, np.inf, -np.inf)))
        out[mid] = nudged.astype(F32)
    return out


def fma32(a, b, c, subnormal=True):
    """float32 fma(a, b, c), correctly rounded, as an array of the broadcast shape."""
    a, b, c = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32), np.asarray(c, F32))
    p = np.multiply(a, b, dtype=F64)  # exact: 24 x 24 bits
    cd = c.astype(F64)
    s = np.atleast_1d(p + cd)
    out = _round_sum32(s, np.atleast_1d(p), np.atleast_1d(cd))
    if subnormal:
        tiny = (np.abs(s) < 2.0**-126) & (s != 0)
        if tiny.any():  # results in float32's subnormal range round at 2**-149
            ta, tb, tc = (np.atleast_1d(x)[tiny] for x in (a, b, c))
            out[tiny] = [_fma32_exact(x, y, z) for x, y, z in zip(ta, tb, tc)]
    return out.reshape(s.shape if a.ndim else ())


def _fma32_exact(a, b, c):
    from fractions import Fraction

    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    return F32(math.ldexp(round(exact * 2**149), -149))  # round(): half to even, as IEEE


def _split(a):
    t = a * 134217729.0  # 2**27 + 1 (Veltkamp)
    hi = t - (t - a)
    return hi, a - hi


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fma64(a, b, c):
    """float64 fma(a, b, c) correctly rounded (Boldo-Melquiond: error-free terms, round to odd)."""
    a, b, c = (np.asarray(x, dtype=F64) for x in (a, b, c))
    ph = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl
    th, tl = _two_sum(c, ph)
    v, ve = _two_sum(tl, pl)
    # round v to odd: an inexact even result moves one ulp towards the exact sum
    inexact = (ve != 0) & ((v.view(U64) & 1) == 0)
    v = np.where(inexact, np.nextafter(v, np.where(ve > 0, np.inf, -np.inf)), v)
    return th + v


# --- libm ---------------------------------------------------------------------------------------


def libm(fn, x):
    """glibc's scalar `fn` (math.log, math.log1p, ...) over an array, element by element."""
    flat = np.ravel(x)
    out = np.fromiter(map(fn, flat.tolist()), F64, count=flat.size)
    return out.reshape(np.shape(x))


_TRIG_OK = []


def _trig():
    # NumPy's float64 sin/cos equal glibc's on this machine? (checked once; else per element)
    if not _TRIG_OK:
        x = np.linspace(0.0, TWO_PI, 8192)
        _TRIG_OK.append(bool(np.array_equal(np.sin(x), libm(math.sin, x))
                             and np.array_equal(np.cos(x), libm(math.cos, x))))
    return _TRIG_OK[0]


def sin64(x):
    """sin as glibc computes it."""
    return np.sin(x) if _trig() else libm(math.sin, x)


def cos64(x):
    """cos as glibc computes it."""
    return np.cos(x) if _trig() else libm(math.cos, x)


# --- uniform, normal ----------------------------------------------------------------------------


def uniform_from(u, low, high, np_dtype):
    """uniform_(low, high): u*(high-low)+low fused, in float (float32/16) or double, clamped."""
    if np_dtype == F64:
        lo, hi = F64(low), F64(high)
        v = u if (lo, hi) == (0.0, 1.0) else fma64(u, hi - lo, lo)
    else:
        lo, hi = F32(low), F32(high)
        v = u if (lo, hi) == (0.0, 1.0) else fma32(u, F32(hi - lo), lo)
    v = np.asarray(v).astype(np_dtype, copy=False)
    to_s, from_s = np_dtype.type(high), np_dtype.type(low)
    return np.where(v == to_s, from_s, v) if (v == to_s).any() else v


def normal_pairs(u, mean, std):
    """torch's cached Box-Muller over double uniforms (u1, u2, u1, u2, ...): 2 values per pair."""
    u1, u2 = u[0::2], u[1::2]
    r = np.sqrt(-2.0 * libm(math.log1p, -u2))
    theta = TWO_PI * u1
    out = np.empty(u.size, F64)
    out[0::2] = r * cos64(theta)
    out[1::2] = r * sin64(theta)
    return scale64(out, mean, std)


def scale64(x, mean, std):
    """value*std + mean in double, fused."""
    if (mean, std) == (0.0, 1.0):
        return x + 0.0  # fma(x, 1, +0) turns -0 into +0
    return fma64(x, F64(std), F64(mean))


def normal_fill64(u, mean, std):
    """normal_fill's 16-blocks in double: the normals from n uniforms (n % 16 == 0)."""
    blk = u.reshape(-1, 16)
    radius = np.sqrt(-2.0 * libm(math.log, 1.0 - blk[:, :8]))
    theta = TWO_PI * blk[:, 8:]
    out = np.empty_like(blk)
    out[:, :8] = radius * cos64(theta)
    out[:, 8:] = radius * sin64(theta)
    return scale64(out.reshape(-1), mean, std)


def normal_fill32(u, mean, std):
    """normal_fill's 16-blocks in float32 (the AVX2 kernel: avx_mathfun's log and sincos)."""
    blk = u.reshape(-1, 16)
    scratch = _Scratch(min(blk.shape[0], _CHUNK // 8) * 8)
    for i in range(0, blk.shape[0], _CHUNK // 8):
        d = blk[i:i + _CHUNK // 8]
        n = d.size // 2
        u1 = scratch.f[0][:n]
        np.subtract(F32(1.0), d[:, :8], out=u1.reshape(-1, 8))
        radius = radius32(u1, scratch)
        theta = scratch.f[0][:n]
        np.multiply(d[:, 8:], F32(TWO_PI), out=theta.reshape(-1, 8))
        sin, cos = sincos32(theta, scratch)
        np.multiply(radius.reshape(-1, 8), cos.reshape(-1, 8), out=d[:, :8])
        np.multiply(radius.reshape(-1, 8), sin.reshape(-1, 8), out=d[:, 8:])
    if (F32(mean), F32(std)) == (0.0, 1.0):
        u += F32(0.0)  # fma(x, 1, +0) turns -0 into +0
        return u
    return fma32(u, F32(std), F32(mean))


class _Scratch:
    # reused buffers for one chunk of lanes: float32, float64 and int32 work arrays
    def __init__(self, n):
        self.f = [np.empty(n, F32) for _ in range(7)]
        self.d = [np.empty(n, F64) for _ in range(2)]
        self.i = [np.empty(n, np.int32) for _ in range(3)]


# avx_mathfun.h constants (Cephes), as float32
_LOG_P = [F32(v) for v in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                           1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                           3.3333331174e-1)]
_LOG_Q1, _LOG_Q2, _SQRTHF = F32(-2.12194440e-4), F32(0.693359375), F32(0.707106781186547524)
_DP = [F32(-0.78515625), F32(-2.4187564849853515625e-4), F32(-3.77489497744594108e-8)]
_SIN_P = [F32(-1.9515295891e-4), F32(8.3321608736e-3), F32(-1.6666654611e-1)]
_COS_P = [F32(2.443315711809948e-005), F32(-1.388731625493765e-003),
          F32(4.166664568298827e-002)]
_FOPI = F32(1.27323954473516)

# GCC contracts a*b + c into one FMA in these kernels. For every float32 input the Box-Muller
# can feed them (2**24 each, checked exhaustively by tests/test_random.py), the double sum
# a*b + c of the float32 operands is exact or lands off a float32 midpoint, so its cast to
# float32 is the FMA's result: _fma below needs no midpoint correction.


def _fma(y, x64, c, t64):
    # y <- fma(y, x, c) in float32, in place; x given as float64 (exact), c float32 scalar/array
    np.copyto(t64, y)
    t64 *= x64
    t64 += c
    np.copyto(y, t64, casting="same_kind")


def _poly(z64, p, y, t64):
    # y <- fma(fma(p0, z, p1), z, p2): the two fused Horner steps of a 3-term polynomial
    np.multiply(z64, float(p[0]), out=t64)
    t64 += p[1]
    np.copyto(y, t64, casting="same_kind")
    _fma(y, z64, p[2], t64)


def radius32(u1, s):
    """sqrt(-2 * log256_ps(u1)) for float32 u1 in (0, 1] (returns a scratch array)."""
    n = u1.size
    t64, x64 = s.d[0][:n], s.d[1][:n]
    bits = u1.view(np.int32)
    e_i, m_i = s.i[0][:n], s.i[1][:n]
    np.right_shift(bits, 23, out=e_i)
    np.bitwise_and(bits, 0x007FFFFF, out=m_i)
    m_i |= 0x3F000000  # the mantissa, scaled into [0.5, 1)
    m = m_i.view(F32)
    small = m < _SQRTHF
    e_i -= 126  # (exponent - 127) + 1
    np.subtract(e_i, small, out=e_i)
    e = s.f[1][:n]
    np.copyto(e, e_i, casting="unsafe")
    x = s.f[2][:n]
    np.subtract(m, F32(1.0), out=x)
    np.add(x, m, out=x, where=small)  # x + x - 1 below sqrt(1/2), exact
    z = s.f[3][:n]
    np.multiply(x, x, out=z)
    np.copyto(x64, x)
    y = s.f[4][:n]
    np.multiply(x64, float(_LOG_P[0]), out=t64)
    t64 += _LOG_P[1]
    np.copyto(y, t64, casting="same_kind")
    for p in _LOG_P[2:]:
        _fma(y, x64, p, t64)
    y *= x
    t = s.f[5][:n]
    np.multiply(e, _LOG_Q1, out=t)
    np.copyto(x64, z)
    _fma(y, x64, t, t64)  # (y*x)*z + e*q1, fused on the product with z
    np.multiply(z, F32(0.5), out=t)
    y -= t
    x += y
    np.multiply(e, _LOG_Q2, out=t)
    x += t
    x *= F32(-2.0)
    return np.sqrt(x, out=x)


def sincos32(theta, s):
    """sincos256_ps(theta) for float32 theta >= 0: (sin, cos) as scratch arrays."""
    n = theta.size
    t64, y64 = s.d[0][:n], s.d[1][:n]
    j = s.i[0][:n]
    y = s.f[1][:n]
    np.multiply(theta, _FOPI, out=y)
    np.copyto(j, y, casting="unsafe")  # truncation, as cvttps
    j += 1
    j &= ~1
    np.copyto(y64, j, casting="unsafe")
    x = theta
    for dp in _DP:  # x + y*DP1 + y*DP2 + y*DP3, each fused
        np.multiply(y64, float(dp), out=t64)
        t64 += x
        np.copyto(x, t64, casting="same_kind")
    z = s.f[3][:n]
    np.multiply(x, x, out=z)
    z64 = y64
    np.copyto(z64, z)
    yc = s.f[4][:n]
    _poly(z64, _COS_P, yc, t64)
    yc *= z
    half = s.f[5][:n]
    np.multiply(z, F32(-0.5), out=half)
    _fma(yc, z64, half, t64)  # yc*z - z/2, fused
    yc += F32(1.0)
    ys = s.f[6][:n]
    _poly(z64, _SIN_P, ys, t64)
    ys *= z
    np.copyto(z64, x)
    _fma(ys, z64, x, t64)  # ys*x + x, fused
    # select the polynomials by octant and set the signs, on the bits as the kernel does
    mask, diff = s.i[1][:n], s.i[2][:n]
    np.bitwise_and(j, 2, out=mask)
    mask >>= 1
    mask -= 1  # all ones where (j & 2) == 0: sin from the sine polynomial
    c_bits, s_bits = yc.view(np.int32), ys.view(np.int32)
    np.bitwise_xor(c_bits, s_bits, out=diff)
    diff &= mask
    c_bits ^= diff  # now the sine
    s_bits ^= diff  # now the cosine
    np.bitwise_and(j, 4, out=diff)
    diff <<= 29
    c_bits ^= diff
    j -= 2
    np.invert(j, out=j)
    j &= 4
    j <<= 29
    s_bits ^= j
    return yc, ys


# --- integers, permutations ---------------------------------------------------------------------


def _stable_order(keys, n):
    # argsort(keys, kind="stable") for 0 <= keys < n < 2**32: LSD radix sort in 16-bit passes
    # (NumPy radix-sorts 16-bit keys; 32-bit ones would take its much slower timsort)
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if n > 1 << 16:
        hi = (keys >> 16).astype(np.uint16)[order]
        order = order[np.argsort(hi, kind="stable")]
    return order


def randperm(words, n):
    """randperm(n) for n < 214748364: Fisher-Yates forward, swap a[i] with a[i + w_i % (n-i)].

    Vectorised. Step k swaps positions k and j_k >= k, so position k is final after step k, and
    out[k] is what sat at j_k just before: what the previous step into j_k left there, or j_k
    itself. A step leaves V(k), the value at k when step k starts: what the last earlier step
    into k left, or k. These backward pointers resolve by pointer jumping.
    """
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    steps = np.arange(n, dtype=np.int64)
    target = np.empty(n, dtype=np.int64)
    np.remainder(words, np.subtract(n, steps[:-1]).view(U64), out=target[:-1].view(U64))
    target[:-1] += steps[:-1]
    target[-1] = n - 1  # the last step swaps nothing; it lets every position be a step
    ks = _stable_order(target, n)  # steps grouped by target, each group in step order
    ts = target[ks]  # the targets in that order
    counts = np.bincount(target, minlength=n)
    end = np.cumsum(counts)
    end -= 1  # where each target's group ends in ks
    last = ks[end]
    # ptr[p]: the last step before p into p (p itself when there is none)
    self_last = last == steps
    ptr = np.where(self_last, ks[end - 1], last)
    none = counts == 0
    none |= self_last & (counts == 1)
    ptr = np.where(none, steps, ptr)
    todo = np.flatnonzero(ptr != steps)
    while todo.size:  # pointer jumping on the entries not yet at a root
        p = ptr[todo]
        pp = ptr[p]
        ptr[todo] = pp
        todo = todo[pp != p]
    out_sorted = np.empty(n, dtype=np.int64)
    out_sorted[0] = ts[0]
    out_sorted[1:] = np.where(ts[1:] == ts[:-1], ptr[ks[:-1]], ts[1:])
    out = np.empty(n, dtype=np.int64)
    out[ks] = out_sorted
    return out
