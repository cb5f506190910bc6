"""Run every benchmark and print one table: each figure beside the floor measured in the same run.

    python bench/run.py            # everything (a few minutes)
    python bench/run.py --quick    # skip the million-op chain
    python bench/run.py core nn    # only some suites

Suites are the bench_*.py modules beside this file; each exposes run() -> list of rows
(name, value, unit, floor, ratio, target).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

SUITES = ["core", "lang", "cli", "nn", "layers", "plot", "isolate", "random"]


def _fmt(v, unit=""):
    unit = unit.split(" ")[0]
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.3g}"
    return f"{s} {unit}".strip()


def table(rows) -> str:
    """A Markdown table of benchmark rows."""
    head = "| benchmark | gradcalc | floor | ratio | target | met |\n|---|---:|---:|---:|---|:-:|"
    lines = [head]
    for r in rows:
        ratio = r.get("ratio")
        met = r.get("met", r.get("ok"))
        if met is None:
            met = _meets(r)
        target = r.get("target", "")
        if isinstance(target, (int, float)):
            target = f"{'>=' if 'at least' in str(r.get('unit', '')) else '<='} {target:g}x"
        lines.append(
            f"| {r['name']} | {_fmt(r.get('value'), r.get('unit', ''))} | "
            f"{_fmt(r.get('floor'), r.get('unit', ''))} | "
            f"{'-' if ratio is None else f'{ratio:.2f}x'} | {target} | "
            f"{'yes' if met else 'NO' if met is False else '?'} |"
        )
    return "\n".join(lines)


def _meets(r):
    t = str(r.get("target", ""))
    try:
        if isinstance(r.get("target"), (int, float)) and r.get("ratio") is not None:
            return r["ratio"] <= r["target"]
        if t.startswith("<=") and t.endswith("x") and r.get("ratio") is not None:
            return r["ratio"] <= float(t[2:-1])
        if t.startswith(">=") and t.endswith("x") and r.get("ratio") is not None:
            return r["ratio"] >= float(t[2:-1])
        if t.startswith("<=") and r.get("value") is not None:
            return r["value"] <= float(t[2:].split()[0].replace(",", ""))
        if t.startswith(">=") and r.get("value") is not None:
            return r["value"] >= float(t[2:].split()[0].replace(",", ""))
    except ValueError:
        return None
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suites", nargs="*", default=SUITES)
    ap.add_argument("--quick", action="store_true", help="skip the slowest figures")
    ap.add_argument("--write", metavar="FILE", help="also write the table into FILE (between "
                    "the <!-- bench:begin --> and <!-- bench:end --> markers)")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.time()
    for name in args.suites:
        mod = importlib.import_module(f"bench_{name}")
        kw = {}
        if args.quick and "quick" in inspect.signature(mod.run).parameters:
            kw["quick"] = True
        print(f"running bench_{name} ...", file=sys.stderr, flush=True)
        for r in mod.run(**kw):
            r.setdefault("suite", name)
            rows.append(r)
    stamp = (f"{time.strftime('%Y-%m-%d')}, {platform.python_implementation()} "
             f"{platform.python_version()}, NumPy {_numpy_version()}, {os.cpu_count()} cores, "
             f"{time.time() - t0:.0f} s")
    text = f"<!-- {stamp} -->\n{table(rows)}"
    print(text)
    if args.write:
        _write(args.write, text, " ".join(["python bench/run.py", *(argv or sys.argv[1:])]))
    return 0


def _numpy_version() -> str:
    import numpy

    return numpy.__version__


def _write(path, text, command) -> None:
    """Replace the table between the bench markers in `path`."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    head, _, rest = doc.partition(begin)
    _, _, tail = rest.partition(end)
    block = f"{begin}\nProduced by `{command.replace(' --write ' + path, '')}`:\n\n{text}\n{end}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + block + tail)


if __name__ == "__main__":
    sys.exit(main())
