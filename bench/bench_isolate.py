"""Benchmark: the cost of the isolated mode (--isolate, Session(isolate=True)) per eval.

Each row is the time an isolated eval adds over the same eval in-process, measured side by
side in the same run (the in-process time is the floor; ratio = isolated/in-process; target:
at most 10 ms added per eval):

- the whole command `gradcalc eval 'x**3+3*x**2+5' --at x=2 --plain [--isolate]`, both with
  OPENBLAS_NUM_THREADS=1 (unset, both also pay OpenBLAS's thread start-up). It may come out
  below the in-process command: the child loads what the parent has not, then leaves by
  os._exit, and Python's finalization, which the in-process command runs over everything it
  loaded, then runs only over what the parent holds;
- for reference, a bare fork at the point --isolate takes over (the command line has parsed
  its options, so NumPy and the core are loaded): the child runs the command, the parent
  waits, no limits, no JSON; against the same command unforked. Both pay for the fork in
  page faults: the child on the pages it writes, the parent on every page its finalization
  writes (why the isolated child, not the parent, imports the rest);
- the library, one fresh isolated session per eval (fork, limits, filter, run, close) against
  `Session().run` of the same text;
- the library, one eval in a running isolated session (the request and its reply).

`python bench/bench_isolate.py` prints the rows.
"""

from __future__ import annotations

import time

from bench_cli import PY, gradcalc_cmd, process_env, wall

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


ARGS = ["eval", EXPR, "--at", "x=2", "--plain"]
#: the command unforked, and forked bare where --isolate takes over (see the module doc)
UNFORKED = f"import sys\nfrom gradcalc import cli\nsys.exit(cli.main({ARGS!r}))\n"
FORKED = (f"import os, sys\nfrom gradcalc import api, cli, Tensor\nsys.stdout.flush()\n"
          f"pid = os.fork()\nif pid == 0:\n    code = cli.main({ARGS!r})\n"
          f"    sys.stdout.flush()\n    os._exit(code)\n"
          f"sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n")


def _whole_process(repeat: int) -> list[dict]:
    env = dict(process_env(), OPENBLAS_NUM_THREADS="1")
    cmds = {"plain": gradcalc_cmd() + ARGS, "isolated": gradcalc_cmd() + ARGS + ["--isolate"],
            "unforked": [PY, "-c", UNFORKED], "forked": [PY, "-c", FORKED]}
    best = dict.fromkeys(cmds, float("inf"))
    for round_ in range(repeat + 1):  # round 0 warms up (bytecode, caches); all alternate
        for name, cmd in cmds.items():
            t = wall(cmd, env=env)
            if round_:
                best[name] = min(best[name], t)
    fork = _row("reference: a bare fork at that point", best["forked"],
                best["unforked"], "fork, the child runs it, wait; floor: unforked")
    fork.update(target="-", ok=None)
    return [_row(f"eval {EXPR} --plain --isolate (whole process)", best["isolated"],
                 best["plain"], "floor: the same command in-process"), fork]


def run(repeat: int = 15) -> list[dict]:
    """Rows for bench/run.py (see the module doc)."""
    return _whole_process(repeat) + _library(repeat)


def main() -> int:
    for r in run():
        print(f"{r['name']:<56} {r['value']:8.2f} ms added  (floor {r['floor']:.2f} ms, "
              f"ratio {r['ratio']:.2f}x, target {r['target']}: {'yes' if r['ok'] else 'NO'})")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
