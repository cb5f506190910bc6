"""Test helpers: plain NumPy (float64, loop-per-output) references for convolution, pooling,
adaptive pooling and batch norm, written from the definitions, independent of gradcalc."""

from __future__ import annotations

import itertools
import math

import numpy as np


def _t(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o, p] = b[o] + sum_{c, k} x[n, g*C/G + c, p*s - pad + k*d] * w[o, c, k]."""
    n = x.ndim - 2
    st, pd, dl = _t(stride, n), _t(padding, n), _t(dilation, n)
    N = x.shape[0]
    O, Cg = w.shape[:2]
    k = w.shape[2:]
    size = x.shape[2:]
    out_size = [(s + 2 * p - d * (kk - 1) - 1) // t + 1 for s, p, d, kk, t in
                zip(size, pd, dl, k, st)]
    out = np.zeros((N, O, *out_size))
    og = O // groups
    for o in range(O):
        g = o // og
        for pos in itertools.product(*(range(m) for m in out_size)):
            acc = np.zeros(N)
            for c in range(Cg):
                for off in itertools.product(*(range(kk) for kk in k)):
                    idx = [p * t - q + f * d for p, t, q, f, d in zip(pos, st, pd, off, dl)]
                    if all(0 <= i < s for i, s in zip(idx, size)):
                        acc += x[(slice(None), g * Cg + c, *idx)] * w[(o, c, *off)]
            out[(slice(None), o, *pos)] = acc + (b[o] if b is not None else 0.0)
    return out


def conv_transpose(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Each input element scatters x * w into the output window it came from."""
    n = x.ndim - 2
    st, pd, op, dl = _t(stride, n), _t(padding, n), _t(output_padding, n), _t(dilation, n)
    N, Cin = x.shape[:2]
    Cog = w.shape[1]
    k = w.shape[2:]
    size = x.shape[2:]
    out_size = [(s - 1) * t - 2 * p + d * (kk - 1) + o + 1 for s, t, p, d, kk, o in
                zip(size, st, pd, dl, k, op)]
    out = np.zeros((N, Cog * groups, *out_size))
    cg = Cin // groups
    for ci in range(Cin):
        g = ci // cg
        for pos in itertools.product(*(range(m) for m in size)):
            for co in range(Cog):
                for off in itertools.product(*(range(kk) for kk in k)):
                    idx = [p * t - q + f * d for p, t, q, f, d in zip(pos, st, pd, off, dl)]
                    if all(0 <= i < s for i, s in zip(idx, out_size)):
                        out[(slice(None), g * Cog + co, *idx)] += (
                            x[(slice(None), ci, *pos)] * w[(ci, co, *off)])
    if b is not None:
        out += b.reshape((1, -1) + (1,) * n)
    return out


def _windows(size, k, st, pd, ceil, dil=1):
    o = (size + 2 * pd - dil * (k - 1) - 1 + (st - 1 if ceil else 0)) // st + 1
    if ceil and (o - 1) * st >= size + pd:
        o -= 1
    return [(i * st - pd, i * st - pd + dil * (k - 1) + 1) for i in range(o)]


def max_pool2d(x, k, stride=None, padding=0, dilation=1, ceil_mode=False):
    k, st = _t(k, 2), _t(stride if stride is not None else k, 2)
    pd, dl = _t(padding, 2), _t(dilation, 2)
    H, W = x.shape[-2:]
    wh = _windows(H, k[0], st[0], pd[0], ceil_mode, dl[0])
    ww = _windows(W, k[1], st[1], pd[1], ceil_mode, dl[1])
    out = np.empty(x.shape[:-2] + (len(wh), len(ww)))
    for i, (h0, h1) in enumerate(wh):
        for j, (w0, w1) in enumerate(ww):
            rows = [h for h in range(h0, h1, dl[0]) if 0 <= h < H]
            cols = [c for c in range(w0, w1, dl[1]) if 0 <= c < W]
            out[..., i, j] = x[..., rows, :][..., cols].max(axis=(-1, -2))
    return out


def avg_pool2d(x, k, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    k, st, pd = _t(k, 2), _t(stride if stride is not None else k, 2), _t(padding, 2)
    H, W = x.shape[-2:]
    wh = _windows(H, k[0], st[0], pd[0], ceil_mode)
    ww = _windows(W, k[1], st[1], pd[1], ceil_mode)
    out = np.empty(x.shape[:-2] + (len(wh), len(ww)))
    for i, (h0, h1) in enumerate(wh):
        for j, (w0, w1) in enumerate(ww):
            he, we = min(h1, H + pd[0]), min(w1, W + pd[1])
            rows = range(max(h0, 0), min(he, H))
            cols = range(max(w0, 0), min(we, W))
            total = x[..., list(rows), :][..., list(cols)].sum(axis=(-1, -2))
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = (he - h0) * (we - w0)
            else:
                div = len(rows) * len(cols)
            out[..., i, j] = total / div
    return out


def _bins(s, o):
    return [((i * s) // o, -((-(i + 1) * s) // o)) for i in range(o)]


def adaptive_pool2d(x, out, reduce):
    oh, ow = _t(out, 2)
    H, W = x.shape[-2:]
    res = np.empty(x.shape[:-2] + (oh, ow))
    for i, (h0, h1) in enumerate(_bins(H, oh)):
        for j, (w0, w1) in enumerate(_bins(W, ow)):
            res[..., i, j] = reduce(x[..., h0:h1, w0:w1], axis=(-1, -2))
    return res


def batch_norm(x, mean=None, var=None, w=None, b=None, eps=1e-5):
    """Normalised over every dim but 1 with the batch's (or the given) mean and variance."""
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.mean(axes) if mean is None else np.asarray(mean)
    v = x.var(axes) if var is None else np.asarray(var)
    out = (x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + eps)
    if w is not None:
        out = out * w.reshape(shape)
    if b is not None:
        out = out + b.reshape(shape)
    return out


def lower_median(x, axis=None):
    s = np.sort(x.reshape(-1) if axis is None else x, axis=0 if axis is None else axis)
    n = s.shape[0 if axis is None else axis]
    return np.take(s, (n - 1) // 2, axis=0 if axis is None else axis)


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, g, o = np.split(gates, 4, axis=-1)
    sig = lambda v: 1 / (1 + np.exp(-v))
    c2 = sig(f) * c + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c2), c2


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    ir, iz, inn = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    sig = lambda v: 1 / (1 + np.exp(-v))
    r, z = sig(ir + hr), sig(iz + hz)
    n = np.tanh(inn + r * hn)
    return (1 - z) * n + z * h


def normal_log_prob(v, loc, scale):
    return -((v - loc) ** 2) / (2 * scale**2) - np.log(scale) - math.log(math.sqrt(2 * math.pi))
