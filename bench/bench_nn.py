"""Benchmark: one training step of the tutorial's 50-30-20-3 MLP against a hand-written NumPy floor.

A step is `zero_grad(); loss = CrossEntropyLoss()(model(x), y); loss.backward(); SGD.step()` on
float32 rows, at batch 1 and batch 1024. The floor computes the same forward, loss, backward and
SGD update by hand in raw NumPy, measured in the same run. Targets: at most 4x the floor at
batch 1 (PyTorch CPU: 6.7x), at most 1.3x at batch 1024 (PyTorch: 1.6x).

`run()` returns rows {name, value, floor, ratio, target, unit, ok}; `python bench/bench_nn.py`
prints them as a table.
"""

from __future__ import annotations

import gc
import itertools
import time

import numpy as np

SIZES = (50, 30, 20, 3)
TARGETS = {1: 4.0, 1024: 1.3}
LR = 0.01


def _calls_per_round(step, round_time: float) -> int:
    step()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        if time.perf_counter() - t0 > round_time:
            return n
        n *= 2


def _round(step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def _compare(steps, min_time: float = 0.4, repeats: int = 7) -> list:
    """Best mean seconds per call of each step, their rounds interleaved so all see one load."""
    ns = [_calls_per_round(s, min_time / repeats) for s in steps]
    best = [float("inf")] * len(steps)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for i, (s, n) in enumerate(zip(steps, ns)):
                best[i] = min(best[i], _round(s, n))
    finally:
        if gc_was:
            gc.enable()
    return best


N_BATCHES = 64


def _data(batch: int):
    # N_BATCHES batches with random labels, cycled: the model cannot fit them in the run, so the
    # logits never grow to where exp() underflows to subnormal floats (which would time the CPU's
    # subnormal arithmetic instead of the framework).
    rng = np.random.default_rng(batch)
    xs = rng.standard_normal((N_BATCHES, batch, SIZES[0])).astype(np.float32)
    ys = rng.integers(0, SIZES[-1], (N_BATCHES, batch))
    return list(zip(xs, ys))


def numpy_step(batch: int):
    """The floor: forward, cross-entropy, backward and SGD written out in NumPy."""
    rng = np.random.default_rng(0)
    ws = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        b = 1 / np.sqrt(i)
        ws.append(rng.uniform(-b, b, (o, i)).astype(np.float32))
        ws.append(rng.uniform(-b, b, o).astype(np.float32))
    w1, b1, w2, b2, w3, b3 = ws
    batches = itertools.cycle(_data(batch))
    rows = np.arange(batch)

    def step():
        x, y = next(batches)
        h1 = x @ w1.T + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w2.T + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ w3.T + b3
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        s = e.sum(1, keepdims=True)
        loss = np.log(s[:, 0]).mean() - z[rows, y].mean()
        dz = e / s
        dz[rows, y] -= 1
        dz /= batch
        dw3, db3 = dz.T @ a2, dz.sum(0)
        dh2 = (dz @ w3) * (h2 > 0)
        dw2, db2 = dh2.T @ a1, dh2.sum(0)
        dh1 = (dh2 @ w2) * (h1 > 0)
        dw1, db1 = dh1.T @ x, dh1.sum(0)
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2), (w3, dw3), (b3, db3)):
            p -= LR * g
        return loss

    return step


def gradcalc_step(batch: int):
    """The same step through gradcalc's nn, loss, autograd and optim."""
    import gradcalc as torch
    from gradcalc import nn, optim

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(),
                          nn.Linear(20, 3))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=LR)
    batches = itertools.cycle([(torch.tensor(x), torch.tensor(y)) for x, y in _data(batch)])

    def step():
        x, y = next(batches)
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def run() -> list[dict]:
    """Rows {name, value, floor, ratio, target, unit, ok} for batch 1 and 1024 (µs per step)."""
    rows = []
    for batch, target in TARGETS.items():
        floor, value = _compare([numpy_step(batch), gradcalc_step(batch)], 1.0, 15)
        ratio = value / floor
        rows.append({
            "name": f"mlp 50-30-20-3 train step, batch {batch} (float32)",
            "value": value * 1e6, "floor": floor * 1e6, "ratio": ratio, "target": target,
            "unit": "us", "ok": ratio <= target,
        })
    return rows


def main() -> None:
    rows = run()
    print(f"{'benchmark':<48} {'gradcalc':>10} {'numpy floor':>12} {'ratio':>7} {'target':>7}")
    for r in rows:
        print(f"{r['name']:<48} {r['value']:>8.1f}us {r['floor']:>10.1f}us "
              f"{r['ratio']:>6.2f}x {'<=' + format(r['target'], 'g') + 'x':>7}"
              f"  {'ok' if r['ok'] else 'MISSED'}")


if __name__ == "__main__":
    main()
