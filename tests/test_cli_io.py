# The command's input and output at the edges: a reader that goes away (`| head`) ends the
# command quietly (exit 0, nothing on stderr), script files are read as Python reads source
# (UTF-8, a byte order mark skipped, other bytes a usage error naming the file and offset),
# and an indented first statement is Python's "unexpected indent". All through the real
# command in a subprocess.
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GRADCALC = [sys.executable, "-m", "gradcalc"]
FLOOD = "for i in range(100000):\n    print(i)\n"


def _env():
    return dict(os.environ, NO_COLOR="1", PYTHONPATH=str(ROOT))


def _into_head(args, stdin_text=None, cwd=None):
    """`gradcalc ARGS | head -1`: (gradcalc's exit code, its stderr, what head printed)."""
    gc = subprocess.Popen(GRADCALC + args, stdin=subprocess.PIPE if stdin_text else None,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=cwd)
    head = subprocess.Popen(["head", "-1"], stdin=gc.stdout, stdout=subprocess.PIPE)
    gc.stdout.close()  # head holds the only read end: when it exits, the pipe is broken
    if stdin_text:
        try:
            gc.stdin.write(stdin_text.encode())
            gc.stdin.close()
        except BrokenPipeError:  # gradcalc stopped reading (it ended): that is fine
            pass
    out, _ = head.communicate(timeout=120)
    err = gc.stderr.read().decode()
    return gc.wait(timeout=120), err, out.decode()


def _into_closed_pipe(args):
    """gradcalc writing to a pipe whose reader has already gone."""
    r, w = os.pipe()
    os.close(r)
    try:
        result = subprocess.run(GRADCALC + args, stdout=w, stderr=subprocess.PIPE, env=_env(),
                                timeout=120, stdin=subprocess.DEVNULL)
    finally:
        os.close(w)
    return result.returncode, result.stderr.decode()


@pytest.mark.parametrize("body", [
    FLOOD,
    "def f():\n    for i in range(100000):\n        print(i)\nf()\n",
    "with no_grad():\n    for i in range(100000):\n        print(i, end='\\n')\n",
])
def test_run_printing_into_head_ends_quietly(tmp_path, body):
    script = tmp_path / "flood.py"
    script.write_text(body, encoding="utf-8")
    assert _into_head(["run", str(script)]) == (0, "", "0\n")


def test_echoed_results_into_head_end_quietly(tmp_path):
    script = tmp_path / "echo.gc"
    script.write_text("x = tensor(1.5)\n" + "x * 2\n" * 20000, encoding="utf-8")
    assert _into_head(["run", str(script)]) == (0, "", "tensor(3.)\n")


@pytest.mark.parametrize("args", [[], ["run", "-"], ["repl"]])
def test_a_piped_script_into_head_ends_quietly(args):
    # bare `gradcalc` and `gradcalc repl` read a pipe as a script
    assert _into_head(args, stdin_text=FLOOD + "\n") == (0, "", "0\n")


@pytest.mark.parametrize("args", [
    ["eval", "list(range(10))", "--plain"],
    ["eval", "x * 2", "--at", "x=3", "--json"],
    ["eval", "print(7); 1", "--plain"],
])
def test_output_to_a_closed_pipe_ends_quietly(args):
    assert _into_closed_pipe(args) == (0, "")


def test_a_file_that_is_not_utf8_is_a_usage_error(tmp_path):
    script = tmp_path / "latin1.gc"
    script.write_bytes(b"print('ran')\nname = 'caf\xe9'\n")
    result = subprocess.run(GRADCALC + ["run", str(script)], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert (result.returncode, result.stdout) == (2, "")  # nothing ran
    assert result.stderr == (f"gradcalc: error: cannot read {str(script)!r}: not UTF-8 text "
                             "(byte 0xe9 at offset 24, line 2)\n")


def test_piped_bytes_that_are_not_utf8_are_a_usage_error():
    result = subprocess.run(GRADCALC + ["run", "-"], input=b"1 + 1\n\xff\xfe\n",
                            capture_output=True, env=_env(), timeout=120)
    assert result.returncode == 2
    assert result.stderr.decode() == ("gradcalc: error: cannot read '<stdin>': not UTF-8 text "
                                      "(byte 0xff at offset 6, line 2)\n")


BOM = "\ufeff"


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_byte_order_mark_is_skipped(tmp_path, how):
    text = BOM + "def f(x):\n    return x + 1\n\nf(2)\n"
    if how == "file":
        script = tmp_path / "bom.gc"
        script.write_text(text, encoding="utf-8")
        result = subprocess.run(GRADCALC + ["run", str(script)], capture_output=True,
                                text=True, env=_env(), timeout=120)
    else:
        result = subprocess.run(GRADCALC + ["run", "-"], input=text.encode(),
                                capture_output=True, env=_env(), timeout=120)
        result.stdout, result.stderr = result.stdout.decode(), result.stderr.decode()
    assert (result.returncode, result.stdout, result.stderr) == (0, "3\n", "")


def test_a_byte_order_mark_inside_the_text_is_still_an_invalid_character(tmp_path):
    script = tmp_path / "inner.gc"
    script.write_text("x = 1\n" + BOM + "x\n", encoding="utf-8")
    result = subprocess.run(GRADCALC + ["run", str(script)], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"{script}:2:1: invalid character '{BOM}' (U+FEFF)"


@pytest.mark.parametrize("text, where", [
    ("  x = 1\nx\n", "1:3"),
    ("# a comment\n\n\tx = 1\n", "3:2"),
    ("x = 1\n\n    y = 2\n", "3:5"),
])
def test_an_unexpected_indent_is_a_syntax_error(tmp_path, text, where):
    script = tmp_path / "indent.gc"
    script.write_text(text, encoding="utf-8")
    result = subprocess.run(GRADCALC + ["run", str(script)], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines()[0] == f"{script}:{where}: unexpected indent"


def test_indented_comments_and_blank_lines_before_the_first_statement_are_fine(tmp_path):
    script = tmp_path / "ok.gc"
    script.write_text("   # a comment\n  \n1 + 1\n", encoding="utf-8")
    result = subprocess.run(GRADCALC + ["run", str(script)], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "2\n", "")


# ---- the REPL's history file, in a real terminal -----------------------------------------

def _history_case(tmp_path, case):
    """(environment changes, the history path the REPL will try, the warning's reason)."""
    if case == "full disk":  # every write fails with ENOSPC
        (tmp_path / "gradcalc").mkdir()
        (tmp_path / "gradcalc" / "history").symlink_to("/dev/full")
        return {"XDG_STATE_HOME": str(tmp_path)}, "write", "No space left on device"
    if case == "read-only home":  # sysfs refuses every mkdir, whoever asks (root too)
        return {"HOME": "/sys", "XDG_STATE_HOME": None}, "open", "Operation not permitted"
    if case == "file in the way":
        (tmp_path / "state").write_text("")
        return {"XDG_STATE_HOME": str(tmp_path / "state")}, "open", "Not a directory"
    (tmp_path / "gradcalc" / "history").mkdir(parents=True)  # a directory where the file goes
    return {"XDG_STATE_HOME": str(tmp_path)}, "open", "Is a directory"


@pytest.mark.pty
@pytest.mark.parametrize("case", ["full disk", "read-only home", "file in the way", "directory"])
def test_an_unusable_history_file_leaves_history_in_memory_with_one_warning(tmp_path, case):
    import re

    import pexpect

    changes, what, reason = _history_case(tmp_path, case)
    env = {**_env(), "TERM": "dumb"}
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    base = Path(env["XDG_STATE_HOME"]) if "XDG_STATE_HOME" in env else Path("/sys/.local/state")
    child = pexpect.spawn(sys.executable, ["-m", "gradcalc"], env=env, encoding="utf-8",
                          timeout=20, dimensions=(24, 200), cwd=str(tmp_path))
    seen = []
    try:
        child.expect(">>> ")
        seen.append(child.before)
        child.send("6 * 7\r")
        child.expect("\n42\r?\n")  # (a temporary path may hold a 42 too)
        seen.append(child.before)
        child.send("x = 5\r")
        child.expect(">>> ")
        seen.append(child.before)
        child.send(":history\r")
        child.expect(r"2  x = 5")  # Up and :history still work, from memory
        seen.append(child.before)
        child.send("\x04")
        child.expect(pexpect.EOF)
        seen.append(child.before)
    finally:
        child.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", "".join(seen)).replace("\r", "")
    warning = (f"gradcalc: warning: cannot {what} the history file "
               f"{base / 'gradcalc' / 'history'}: {reason}; history is kept in memory for this "
               "session")
    assert text.count("gradcalc: warning:") == 1 and warning in text, text
    assert "Traceback" not in text and "Press ENTER" not in text
    assert child.exitstatus == 0


@pytest.mark.pty
def test_a_usable_history_file_keeps_each_entry_once(tmp_path):
    import pexpect

    (tmp_path / "gradcalc").mkdir()
    (tmp_path / "gradcalc" / "history").write_text("\n# old\n+old = 1\n", encoding="utf-8")
    env = {**_env(), "TERM": "dumb", "XDG_STATE_HOME": str(tmp_path)}
    child = pexpect.spawn(sys.executable, ["-m", "gradcalc"], env=env, encoding="utf-8",
                          timeout=20, dimensions=(24, 200), cwd=str(tmp_path))
    try:
        child.expect(">>> ")
        child.send("y = 2\r")
        child.expect(">>> ")
        child.send(":history\r")
        child.expect(r":history\r*\n")  # the typed line
        child.expect(">>> ")
        listing = child.before
        child.send("\x04")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    rows = [ln.strip() for ln in listing.replace("\r", "").splitlines() if ln.strip()]
    assert rows == ["1  old = 1", "2  y = 2", "3  :history"]
    assert child.exitstatus == 0
    lines = (tmp_path / "gradcalc" / "history").read_text(encoding="utf-8").splitlines()
    assert [ln for ln in lines if ln.startswith("+")] == ["+old = 1", "+y = 2", "+:history"]
