# The corpus through the real entry points: the installed command reports each refusal as
# one positioned line (with the source line and a caret) and exit 1; a REPL in a real
# terminal survives a stream of attacks and keeps its state.
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .corpus import CASES

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}

# one script per attack class, and the issue's own repros
SAMPLE = [CASES[kind][i] for kind, i in [
    ("dunder", 0), ("format", 1), ("builtins", 0), ("frames", 0), ("classes", 11),
    ("numpy", 0), ("imports", 7), ("internals", 0), ("internals", 1), ("unicode", 0)]]
E1 = ("repl = type(torch)('r', 'gradcalc.repl')\nclass S(object):\n    def __init__(self, d):\n"
      "        self.namespace = d\ng = (i for i in [1])\n"
      "fr = repl.lookup(S({'g': g}), 'g.gi_frame')\n"
      "b = repl.lookup(S({'f': fr}), 'f.f_globals')['__builtins__']\n"
      "b['exec'](\"open('pwned.txt','w').write('pwned')\")\n")
E6 = ("iface = {'shape': (32,), 'typestr': '|u1', 'data': (8, True), 'version': 3}\n"
      "class P(object):\n    if True:\n        __array_interface__ = iface\n"
      "print(torch.tensor(P(), dtype=torch.uint8).tolist())\n")


def gradcalc(*args, cwd, stdin=None):
    return subprocess.run([sys.executable, "-m", "gradcalc", *args], cwd=cwd, env=ENV,
                          input=stdin, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("text, pattern", SAMPLE + [(E1, r"cannot be called in gradcalc"),
                                                    (E6, r"a script class may define")])
def test_the_command_refuses_in_one_positioned_line(text, pattern, tmp_path):
    (tmp_path / "attack.py").write_text(text)
    result = gradcalc("run", "attack.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert re.match(r"attack\.py:\d+:\d+: ", lines[0]), result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert len(lines) == 3 and lines[2].strip() == "^", result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attack.py"]


def test_eval_refuses_the_same_way(tmp_path):
    result = gradcalc("eval", "type(torch)('s', 'sys').executable", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "<expr>:1:1: <class 'module'> cannot be called in gradcalc scripts (type() of this "
        "object names its class only)")
    assert sys.executable not in result.stdout + result.stderr


def test_keep_going_reports_every_refusal_and_runs_the_rest(tmp_path):
    script = "x = 1\n().__class__.__base__\nopen('f')\nimport sys\nprint(x + 1)\n"
    result = gradcalc("run", "--keep-going", "-", cwd=tmp_path, stdin=script)
    assert result.returncode == 1
    assert result.stdout == "2\n"
    firsts = [ln for ln in result.stderr.splitlines() if ln.startswith("<stdin>:")]
    assert [ln.split(": ", 1)[0] for ln in firsts] == ["<stdin>:2:14", "<stdin>:3:1",
                                                       "<stdin>:4:1"]


@pytest.mark.pty
def test_a_repl_survives_every_attack_class(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**ENV, "TERM": "dumb", "XDG_STATE_HOME": str(tmp_path)}
    child = pexpect.spawn(sys.executable, ["-m", "gradcalc"], env=env, encoding="utf-8",
                          timeout=30, dimensions=(24, 200), cwd=str(tmp_path))
    try:
        child.expect(">>> ")
        child.send("keep = 41\r")
        child.expect(">>> ")
        for text, pattern in SAMPLE:
            if "\n" in text:  # the REPL takes one line at a time: blocks end with a blank line
                continue
            child.send(text + "\r")
            child.expect(pattern)
            child.expect(">>> ")
        child.send("type(torch)('r', 'gradcalc.repl')\r")
        child.expect("cannot be called in gradcalc scripts")
        child.expect(">>> ")
        child.send("keep + 1\r")
        child.expect("42")
        child.send("\x04")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")
