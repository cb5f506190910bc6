# CLI layer: what a new user meets in the first minutes (issue 12's defects), each through the
# real command in a subprocess: matrix products of ordinary size, values that are not tensors
# on a terminal, expressions that start with '-', large results, one form for errors.
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
GRADCALC = [sys.executable, "-m", "gradcalc"]


def gradcalc(*args, stdin=None, terminal=False, columns=80, env=None):
    """Run the real command; `terminal` makes it draw its terminal (Rich) view."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "GRADCALC_DEBUG")}
    e.update(PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS=str(columns))
    if terminal:
        e.update(NO_COLOR="", TTY_COMPATIBLE="1", TERM="xterm")
    e.update(env or {})
    return subprocess.run(GRADCALC + list(args), check=False, input=stdin, capture_output=True, text=True,
                          env=e, timeout=120, cwd=ROOT)


# ---- defect 1: matrix products are checked by the size of their result -------------------------

def test_matrix_products_of_ordinary_size_work():
    r = gradcalc("eval", "(randn(100,100) @ randn(100,100)).shape; "
                 "(randn(64,784) @ randn(784,256)).shape; matmul(randn(64,784), randn(784,256)).shape; "
                 "mm(randn(64,784), randn(784,256)).shape; bmm(randn(4,64,78), randn(4,78,256)).shape; "
                 "einsum('ij,jk->ik', randn(64,784), randn(784,256)).shape; "
                 "tensordot(randn(64,784), randn(784,256), 1).shape")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("expression: " + r.stdout.split("\n")[0][len("expression: "):] + "\n"
                        "output:\n"
                        "  torch.Size([100, 100])\n  torch.Size([64, 256])\n"
                        "  torch.Size([64, 256])\n  torch.Size([64, 256])\n"
                        "  torch.Size([4, 64, 256])\n  torch.Size([64, 256])\n"
                        "value:\n  torch.Size([64, 256])\n")
