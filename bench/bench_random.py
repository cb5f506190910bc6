"""Benchmark: 10^6 draws from gradcalc's PyTorch-exact generator against NumPy's own generator.

Each row times one call making 10^6 values (`torch.rand`, `randn`, `randint(0, 1000)`,
`randperm`, float32 unless named, and float64 `randn`, `bernoulli_`, `multinomial`) beside the
NumPy call producing the same amount with `np.random.default_rng()` (PCG64: `random`,
`standard_normal`, `integers`, `permutation` ...), the rounds interleaved so both see one load,
each the best CPU time of 9 rounds.
Target: at most 3x NumPy for rand/randn/randint/randperm (issue 11); the others are reported.

`run()` returns rows {name, value, unit, floor, ratio, target}; `python bench/bench_random.py`
prints them as a table.
"""

from __future__ import annotations

import gc
import time

import numpy as np

N = 10**6


def _best(fns, repeats=9, clock=time.process_time):
    # CPU time of this process (the machine may be shared), best of the interleaved rounds
    best = [float("inf")] * len(fns)
    for f in fns:
        f()  # warm: first-use imports and allocations
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for i, f in enumerate(fns):
                t0 = clock()
                f()
                best[i] = min(best[i], clock() - t0)
    finally:
        if gc_was:
            gc.enable()
    return best


def _cases(torch):
    rng = np.random.default_rng(0)
    probs = torch.rand(100)
    probs_np = probs.numpy().astype(np.float64) / probs.numpy().sum(dtype=np.float64)
    target = 3.0
    return [
        ("rand(10^6)", lambda: torch.rand(N), lambda: rng.random(N, dtype=np.float32), target),
        ("randn(10^6)", lambda: torch.randn(N),
         lambda: rng.standard_normal(N, dtype=np.float32), target),
        ("randint(0, 1000, (10^6,))", lambda: torch.randint(0, 1000, (N,)),
         lambda: rng.integers(0, 1000, N), target),
        ("randperm(10^6)", lambda: torch.randperm(N), lambda: rng.permutation(N), target),
        ("randn(10^6, float64)", lambda: torch.randn(N, dtype=torch.float64),
         lambda: rng.standard_normal(N), None),
        ("empty(10^6).bernoulli_(0.5)", lambda: torch.empty(N).bernoulli_(0.5),
         lambda: rng.random(N) < 0.5, None),
        ("multinomial(100 categories, 10^6, replacement)",
         lambda: torch.multinomial(probs, N, True), lambda: rng.choice(100, N, p=probs_np), None),
    ]


def run(quick: bool = False) -> list:
    """Rows of gradcalc's time per 10^6 draws against NumPy's generator."""
    import gradcalc as torch

    torch.manual_seed(0)
    rows = []
    for name, ours, floor, target in _cases(torch):
        f, o = _best([floor, ours], repeats=3 if quick else 9)
        row = dict(name=name, value=o * 1e3, unit="ms", floor=f * 1e3, ratio=o / f)
        if target is not None:
            row["target"] = f"<= {target:g}x"
        else:
            row["target"] = "reported"
            row["met"] = None
        rows.append(row)
    return rows


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run import table

    print(table(run()))
