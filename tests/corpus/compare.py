"""Test helpers: run a corpus program through the real `gradcalc run` and compare its output
with PyTorch 2.13's recorded output (tests/corpus/real/NAME.out, NAME.err).

Comparison rule (docs/compatibility.md states it for readers):
- object addresses (`0x7f3a...`) are replaced by `0x?` on both sides;
- *exact*: stdout is byte for byte PyTorch's, and when PyTorch failed, gradcalc fails too
  with the same message (its `file:line:col: ` prefix aside, and the exception's class name,
  which gradcalc prints for Python's own errors only);
- *numeric*: the same, except that numbers may differ: the text between numbers must be
  identical up to spaces and newlines (NumPy pads and wraps arrays by
  the width of their numbers) and each number within one unit of its last printed digit, a
  relative 1e-4 or an absolute 1e-6 of PyTorch's (float32 sums in another order differ in
  the last bits, training loops carry that on, and a quantity that should be zero comes out
  as float32 rounding noise, 1e-9 in one library and 7e-10 in the other).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REAL = Path(__file__).resolve().parent / "real"

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)")
_LOCATION = re.compile(r"^.*?:\d+:\d+: ")
_EXC_NAME = re.compile(r"^[A-Za-z_.]*(?:Error|Exception|Warning): ")
RTOL = 1e-4
ATOL = 1e-6
_WS = re.compile(r"\s+")


@dataclass
class Result:
    """What one run of a corpus program printed."""

    stdout: str
    error: str | None  # the exception line, None when the program succeeded


def programs() -> list[str]:
    """Names of the corpus programs that have a recorded PyTorch output."""
    return sorted(p.stem for p in REAL.glob("*.out"))


def run_options(name: str) -> list[str]:
    """The `# Run:` options of program `name` (before its first line of code)."""
    for line in (REAL / f"{name}.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("# Run:"):
            return line[len("# Run:"):].split()
        if line and not line.startswith("#"):
            break
    return []


def expected(name: str) -> Result:
    """PyTorch 2.13's recorded output of program `name`."""
    err = REAL / f"{name}.err"
    return Result((REAL / f"{name}.out").read_text(encoding="utf-8"),
                  err.read_text(encoding="utf-8").strip() if err.exists() else None)


def gradcalc_command() -> list[str]:
    """The installed `gradcalc` command (beside this Python), as tests run it."""
    exe = Path(sys.executable).with_name("gradcalc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gradcalc"]


def run_gradcalc(name: str, timeout: float = 600, trusted: bool = False) -> Result:
    """Run program `name` through `gradcalc run` in a fresh directory, as a user would
    (`trusted`: with --trusted, whatever its header says)."""
    opts = run_options(name) + (["--trusted"] if trusted else [])
    path = str(REAL / f"{name}.py")
    with tempfile.TemporaryDirectory() as cwd:
        args = ["run"]
        if "--trusted" in opts:
            args.append("--trusted")
        if "--echo" in opts:
            args.append("--echo")
        if "--allow-files" in opts:
            args += ["--allow-files", cwd]
        env = dict(os.environ, NO_COLOR="1", PYTHONHASHSEED="0")
        proc = subprocess.run(gradcalc_command() + args + [path], check=False, cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
    error = None
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        if not lines:
            error = f"exit {proc.returncode}"
        elif "--trusted" in opts:  # a Python traceback: its last line is the exception
            error = lines[-1]
        else:  # gradcalc's positioned one-line message
            error = _LOCATION.sub("", lines[0])
    return Result(proc.stdout, error)


def _tokens(text: str) -> tuple[list[str], list[str]]:
    text = _ADDR.sub("0x?", text)
    return _NUM.split(text), _NUM.findall(text)


def _close(got: str, want: str) -> bool:
    if got == want:
        return True
    try:
        a, b = float(got), float(want)
    except ValueError:
        return False
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    digits = len(want.split("e")[0].split("E")[0].partition(".")[2])
    scale = 10.0 ** _exponent(want)
    return abs(a - b) <= max(RTOL * abs(b), ATOL, 10.0 ** -digits * scale * 1.0000001)


def _exponent(number: str) -> int:
    m = re.search(r"[eE]([-+]?\d+)$", number)
    return int(m.group(1)) if m else 0


def verdict(got: Result, want: Result) -> str:
    """'exact', 'numeric' or 'differs: <the first difference>' for one run."""
    if (got.error is None) != (want.error is None):
        if want.error is None:
            return f"differs: gradcalc failed: {got.error}"
        return f"differs: PyTorch fails with {want.error!r}, gradcalc does not"
    if got.error is not None and _EXC_NAME.sub("", got.error) != _EXC_NAME.sub("", want.error):
        return f"differs: error {got.error!r}, PyTorch {want.error!r}"
    if _ADDR.sub("0x?", got.stdout) == _ADDR.sub("0x?", want.stdout):
        return "exact"
    gtext, gnums = _tokens(got.stdout)
    wtext, wnums = _tokens(want.stdout)
    if [_WS.sub("", t) for t in gtext] != [_WS.sub("", t) for t in wtext] or \
            len(gnums) != len(wnums):
        return "differs: " + _first_text_difference(got.stdout, want.stdout)
    for g, w in zip(gnums, wnums):
        if not _close(g, w):
            return f"differs: number {g} where PyTorch prints {w}"
    return "numeric"


def _first_text_difference(got: str, want: str) -> str:
    glines, wlines = got.splitlines(), want.splitlines()
    for i, (g, w) in enumerate(zip(glines, wlines)):
        if _ADDR.sub("0x?", g) != _ADDR.sub("0x?", w):
            return f"line {i + 1}: {g!r} where PyTorch prints {w!r}"
    return f"{len(glines)} lines where PyTorch prints {len(wlines)}"


def source(name: str) -> str:
    """`repo path` from program `name`'s `# Corpus:` header line."""
    for line in (REAL / f"{name}.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("# Corpus:"):
            return line[len("# Corpus:"):].strip()
    return "?"


def main(argv: list[str]) -> None:
    """Print each program's verdict and the match rate:

        python tests/corpus/compare.py [--markdown] [--trusted] [NAME ...]
    """
    markdown = "--markdown" in argv
    trusted = "--trusted" in argv
    names = [a for a in argv if not a.startswith("--")] or programs()
    ok = 0
    if markdown:
        print("| program | source | status |\n|---|---|---|")
    for name in names:
        v = verdict(run_gradcalc(name, trusted=trusted), expected(name))
        ok += not v.startswith("differs")
        if markdown:
            cell = v.replace("|", "\\|")
            print(f"| {name} | {source(name)} | {cell} |", flush=True)
        else:
            print(f"{name:40s} {v}", flush=True)
    print(f"{ok}/{len(names)} match ({100 * ok / len(names):.0f}%)")


if __name__ == "__main__":
    main(sys.argv[1:])
