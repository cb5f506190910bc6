"""Benchmark: the cost of the isolated mode (--isolate, Session(isolate=True)) per eval.

Each row is the time an isolated eval adds over the same eval in-process, measured side by
side in the same run (the in-process time is the floor; ratio = isolated/in-process; target:
at most 10 ms added per eval):

- the whole command `gradcalc eval 'x**3+3*x**2+5' --at x=2 --plain [--isolate]`, both with
  OPENBLAS_NUM_THREADS=1 (which --isolate sets for its parent: unset, the in-process command
  also pays OpenBLAS's thread start-up, and the isolated one comes out faster);
- the library, one fresh isolated session per eval (fork, limits, filter, run, close) against
  `Session().run` of the same text;
- the library, one eval in a running isolated session (the request and its reply).

`python bench/bench_isolate.py` prints the rows.
"""

from __future__ import annotations

import time

from bench_cli import best_pair, gradcalc_cmd, process_env

EXPR = "x**3+3*x**2+5"
TEXT = "x = tensor(2., requires_grad=True)\ny = x**3 + 3*x**2 + 5\ny.backward()\nx.grad\n"
TARGET_MS = 10.0


def _row(name: str, isolated: float, floor: float, what: str) -> dict:
    added = (isolated - floor) * 1e3
    return {"name": name, "value": added, "floor": floor * 1e3, "ratio": isolated / floor,
            "target": f"<= {TARGET_MS:g} ms", "unit": f"ms added per eval ({what})",
            "ok": added <= TARGET_MS}


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _library(repeat: int) -> list[dict]:
    from gradcalc.lang import Session

    sink: list[str] = []

    def in_process():
        Session(write=sink.append).run(TEXT)

    def fresh_isolated():
        with Session(write=sink.append, isolate=True) as s:
            s.run(TEXT)

    in_process()
    fresh_isolated()  # imports and caches on both sides
    t_local = t_fresh = float("inf")
    for _ in range(repeat):  # alternating, so both see the same machine load
        t_local = min(t_local, _best(in_process, 3))
        t_fresh = min(t_fresh, _best(fresh_isolated, 3))
    local = Session(write=sink.append)
    with Session(write=sink.append, isolate=True) as s:
        s.run(TEXT)
        t_run = t_run_local = float("inf")
        for _ in range(repeat):
            t_run = min(t_run, _best(lambda: s.run(TEXT), 10))
            t_run_local = min(t_run_local, _best(lambda: local.run(TEXT), 10))
    return [
        _row("Session(isolate=True): a fresh child per eval", t_fresh, t_local,
             "fork, limits, filter, run, close; floor: Session().run"),
        _row("Session(isolate=True): an eval in a running child", t_run, t_run_local,
             "request and reply; floor: the same run in-process"),
    ]


def run(repeat: int = 10) -> list[dict]:
    """Rows for bench/run.py (see the module doc)."""
    env = dict(process_env(), OPENBLAS_NUM_THREADS="1")
    plain = gradcalc_cmd() + ["eval", EXPR, "--at", "x=2", "--plain"]
    isolated = plain + ["--isolate"]
    t_plain, t_isolated = best_pair(plain, isolated, 1, env=env)  # warm-up: bytecode, caches
    t_plain, t_isolated = best_pair(plain, isolated, repeat, env=env)
    rows = [_row(f"eval {EXPR} --plain --isolate (whole process)", t_isolated, t_plain,
                 "floor: the same command in-process")]
    rows.extend(_library(repeat))
    return rows


def main() -> int:
    for r in run():
        print(f"{r['name']:<56} {r['value']:8.2f} ms added  (in-process {r['floor']:.2f} ms, "
              f"ratio {r['ratio']:.2f}x, target {r['target']}: {'yes' if r['ok'] else 'NO'})")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
