"""Benchmark: `gradcalc plot` of a 2,000-point f, f′, f″, each figure beside a floor measured in
the same run (alternating with the plot command, best of several fresh processes).

The start-up floor is `gradcalc eval x --at x=1 --plain`: starting gradcalc with its core
loaded. Each row's value is the plot command's wall time *beyond* its floor (target: at most
0.5 s); its ratio is the whole command over the floor.

- `--json`: the sampling alone (one vectorised forward, one backward per order);
- the terminal chart on a pipe (plotext);
- an SVG file, beyond the smallest picture (`gradcalc graph x --output x.svg`: start-up plus
  matplotlib's import, about 0.4 s on its own), and, with no target, beyond plain start-up;
- the sampling in-process, against NumPy evaluating the three closed forms on the same grid.

`python bench/bench_plot.py` prints the rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from bench_cli import best_pair, gradcalc_cmd, process_env

EXPR = "sin(x)*exp(-x**2/4) + x**3/10"
POINTS = 2000
TARGET = 0.5  # seconds beyond start-up


def _row(name: str, t_cmd: float, floor: float, what: str, target: bool = True) -> dict:
    beyond = t_cmd - floor
    return {"name": name, "value": beyond, "floor": floor, "ratio": t_cmd / floor,
            "target": f"<= {TARGET} s" if target else "-",
            "unit": f"s beyond the floor ({what}; ratio = whole command/floor)",
            "ok": beyond <= TARGET if target else None}


def _in_process(repeat: int) -> dict:
    import numpy as np

    import gradcalc
    from gradcalc import lang, plotting

    session = lang.Session()
    best = best_np = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        plotting.plot_expression(session, EXPR, "x=-3:3", points=POINTS, order=2)
        best = min(best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        x = np.linspace(-3, 3, POINTS, dtype=np.float32)
        s, c, e = np.sin(x), np.cos(x), np.exp(-x**2 / 4)
        _ = (s * e + x**3 / 10, (c - x * s / 2) * e + 3 * x**2 / 10,
             (-1.5 * s - x * c + x**2 * s / 4) * e + 6 * x / 10)
        best_np = min(best_np, time.perf_counter() - t0)
    del gradcalc
    return {"name": f"sample {POINTS:,} points f, f′, f″ in-process", "value": best,
            "floor": best_np, "ratio": best / best_np, "target": "<= 0.05 s",
            "unit": "s (floor: NumPy on the closed forms)", "ok": best <= 0.05}


def run(repeat: int = 5) -> list[dict]:
    env = process_env()
    work = tempfile.mkdtemp(prefix="gradcalc-bench-")
    start = gradcalc_cmd() + ["eval", "x", "--at", "x=1", "--plain"]
    picture = gradcalc_cmd() + ["graph", "x", "--at", "x=1", "--output",
                                os.path.join(work, "x.svg")]
    plot = gradcalc_cmd() + ["plot", EXPR, "--over", "x=-3:3", "--points", str(POINTS),
                             "--order", "2"]
    svg = plot + ["--output", os.path.join(work, "plot.svg")]
    cases = [
        ("plot 2,000 points f, f′, f″ --json", plot + ["--json"], start, "start-up", {}, True),
        ("plot 2,000 points f, f′, f″, chart on a pipe (plotext)", plot, start, "start-up",
         {"COLUMNS": "100", "LINES": "30"}, True),
        ("plot 2,000 points f, f′, f″ --output f.svg", svg, picture,
         "start-up and matplotlib: the smallest picture", {}, True),
        ("plot 2,000 points f, f′, f″ --output f.svg, all of it", svg, start, "start-up", {},
         False),
    ]
    rows = []
    for name, cmd, floor_cmd, what, extra, judged in cases:
        case_env = {**env, **extra}
        for warm in (floor_cmd, cmd):  # the parser cache, bytecode, matplotlib's font cache
            subprocess.run(warm, stdout=subprocess.DEVNULL, env=case_env, check=True)
        floor, t_cmd = best_pair(floor_cmd, cmd, repeat, env=case_env)
        rows.append(_row(name, t_cmd, floor, what, judged))
    rows.append(_in_process(repeat))
    return rows


def main() -> int:
    rows = run()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r["ok"]]
        print(f"{r['name']:<{width}}  {r['value']:>8.3f}  floor {r['floor']:>7.3f}  "
              f"ratio {r['ratio']:>6.2f}  {r['target']:>10}  {met}")
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
