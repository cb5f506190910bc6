"""Dev-only: record PyTorch 2.13's own output of every corpus program (tests/corpus/real/).

Run with a Python that has torch==2.13.0 (never the project's venv):

    /tmp/torchvenv3/bin/python tests/corpus/record_torch.py [NAME ...]

Each program runs in a fresh temporary directory (programs that save checkpoints write
there), with PYTHONHASHSEED=0, under the mode its `# Run:` header names: `--echo` shows
each top-level bare expression's repr as a notebook does, anything else runs as a plain
script. Writes NAME.out (stdout, byte for byte) and, when the program fails, NAME.err (the
last line of its traceback: the exception type and message).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "real"

#: runs a file showing top-level bare expressions' reprs (the echo rule of `gradcalc run --echo`)
ECHO_RUNNER = r"""
import ast, sys
path = sys.argv[1]
src = open(path, encoding="utf-8").read()
tree = ast.parse(src, path)
env = {"__name__": "__main__", "__file__": path}
for node in tree.body:
    if isinstance(node, ast.Expr):
        value = eval(compile(ast.Expression(node.value), path, "eval"), env)
        if value is not None:
            print(repr(value))
    else:
        exec(compile(ast.Module([node], []), path, "exec"), env)
"""


def run_options(path: Path) -> list[str]:
    """The `# Run:` options of a corpus program (empty when it has none)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Run:"):
            return line[len("# Run:"):].split()
        if line and not line.startswith("#"):
            break
    return []


def record(path: Path) -> None:
    opts = run_options(path)
    env = dict(os.environ, PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory() as cwd:
        if "--echo" in opts:
            cmd = [sys.executable, "-c", ECHO_RUNNER, str(path)]
        else:
            cmd = [sys.executable, str(path)]
        proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True,
                              timeout=600)
    path.with_suffix(".out").write_bytes(proc.stdout)
    err = path.with_suffix(".err")
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1]
        err.write_text(last + "\n", encoding="utf-8")
    elif err.exists():
        err.unlink()
    print(f"{path.stem}: exit {proc.returncode}, {len(proc.stdout)} bytes")


def main(names: list[str]) -> None:
    import torch

    assert torch.__version__.startswith("2.13.0"), torch.__version__
    paths = [HERE / f"{n}.py" for n in names] if names else sorted(HERE.glob("*.py"))
    for path in paths:
        record(path)


if __name__ == "__main__":
    main(sys.argv[1:])
