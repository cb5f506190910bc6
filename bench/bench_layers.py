"""Benchmark: the tutorials' layers, one training step each, against the arithmetic they cannot
avoid, in raw NumPy in the same run.

- CNN: Conv2d(1, 16, 3, padding=1) - ReLU - MaxPool2d(2) - Conv2d(16, 32, 3, padding=1) - ReLU -
  MaxPool2d(2) - Linear(1568, 10), cross-entropy, backward, on a batch of 64 float32 28x28 images.
  Floor: the step's matrix products alone (each convolution's forward, input-gradient and
  weight-gradient GEMM on ready-made columns, the linear layer's three), the lower bound of any
  im2col implementation.
- LSTM(32, 64), 20 steps, batch 16, forward and backward of out.sum(). Floor: the forward pass
  written out in NumPy (the same products and gate functions, no graph, no backward).
Both are reported (no target): the layers are new, the figures record where they stand.

`run()` returns rows {name, value, unit, floor, ratio, target}; `python bench/bench_layers.py`
prints them.
"""

from __future__ import annotations


import numpy as np


def _best(fns, repeats=7):
    # the interleaved best-of-rounds CPU timer of bench_random (one copy for both suites)
    from bench_random import _best as best

    return best(fns, repeats=repeats)


def _cnn_gradcalc():
    import gradcalc as torch
    from gradcalc import nn
    from gradcalc.nn import functional as F

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(32 * 7 * 7, 10))
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))

    def step():
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()

    return step


def _cnn_floor():
    rng = np.random.default_rng(0)
    f32 = np.float32
    shapes = [(16, 9, 64 * 784), (32, 144, 64 * 196), (10, 1568, 64)]  # (out, ck, positions)
    mats = [(rng.standard_normal((o, k)).astype(f32), rng.standard_normal((k, n)).astype(f32),
             rng.standard_normal((o, n)).astype(f32)) for o, k, n in shapes]

    def step():
        for w, cols, g in mats:
            w @ cols  # forward
            w.T @ g  # input gradient (columns)
            g @ cols.T  # weight gradient

    return step


def _lstm_gradcalc():
    import gradcalc as torch
    from gradcalc import nn

    torch.manual_seed(0)
    lstm = nn.LSTM(32, 64)
    s = torch.randn(20, 16, 32)

    def step():
        lstm.zero_grad()
        out, _ = lstm(s)
        out.sum().backward()

    return step


def _lstm_floor():
    rng = np.random.default_rng(0)
    f32 = np.float32
    w_ih = rng.standard_normal((256, 32)).astype(f32)
    w_hh = rng.standard_normal((256, 64)).astype(f32)
    b = rng.standard_normal(256).astype(f32)
    s = rng.standard_normal((20, 16, 32)).astype(f32)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    def step():
        pre = s @ w_ih.T + b
        h = np.zeros((16, 64), f32)
        c = np.zeros((16, 64), f32)
        for t in range(20):
            i, f, g, o = np.split(pre[t] + h @ w_hh.T, 4, axis=1)
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
        return h

    return step


def run() -> list[dict]:
    """Rows for the CNN and LSTM steps (ms per step)."""
    rows = []
    for name, ours, floor in (
            ("CNN train step (2 conv, 2 max-pool, linear), batch 64 (float32)", _cnn_gradcalc,
             _cnn_floor),
            ("LSTM(32, 64) forward+backward, 20 steps, batch 16 (float32)", _lstm_gradcalc,
             _lstm_floor)):
        value, base = _best([ours(), floor()])
        rows.append({"name": name, "value": value * 1e3, "floor": base * 1e3,
                     "ratio": value / base, "target": "reported", "unit": "ms"})
    return rows


def main() -> None:
    for r in run():
        print(f"{r['name']:<66} {r['value']:>8.2f} ms {r['floor']:>8.2f} ms {r['ratio']:>6.2f}x")


if __name__ == "__main__":
    main()
