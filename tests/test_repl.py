# CLI layer, REPL: completion, Enter's run-or-continue rule, the validator and :commands as
# units; the whole loop through prompt_toolkit's pipe input with paced keystrokes; and once in
# a real pseudo-terminal (pexpect).
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from gradcalc import repl as R


def real_session(script=""):
    from gradcalc.lang.session import Session

    s = Session(write=lambda t: None)
    if script:
        s.run(script)
    return s


def test_completion_of_names_from_namespace_builtins_and_keywords():
    s = real_session("xavier_var = 1\nx = 2")
    assert R.completions(s, "y = xa") == (2, ["xavier_var"])
    assert R.completions(s, "expa") == (4, ["expand", "expand_as"])
    assert R.completions(s, "sigm") == (4, ["sigmoid"])
    assert R.completions(s, "wh") == (2, ["where", "while"])


def test_completion_of_torch_f_and_nn_attributes():
    s = real_session("import torch\nimport torch.nn.functional as F")
    start, names = R.completions(s, "torch.sigm")
    assert (start, names) == (4, ["sigmoid"])
    assert "relu" in R.completions(s, "F.rel")[1]
    assert R.completions(s, "torch.nn.Lin") == (3, ["Linear"])
    # internals of the modules behind the namespaces are not offered
    assert "record" not in R.completions(s, "F.")[1]
    assert "op" not in R.completions(s, "F.")[1]


def test_completion_of_attributes_of_the_value_left_of_the_dot():
    s = real_session("class Thing(object):\n    def __init__(self):\n        self.shape = (2,)\n"
                     "        self.weight = 1\n    def backward(self):\n        pass\n"
                     "t = Thing()\nx = torch.ones(2, requires_grad=True)")
    assert R.completions(s, "t.") == (0, ["backward", "shape", "weight"])
    assert R.completions(s, "(t.ba") == (2, ["backward"])
    assert R.completions(s, "t._") == (1, [])
    assert R.completions(s, "nothing.x") == (0, [])
    assert R.completions(s, "x.requires_g") == (10, ["requires_grad", "requires_grad_"])


def test_completion_of_commands():
    assert R.completions(real_session(), ":h") == (2, [":help", ":history"])


def test_completion_never_calls_anything():
    s = real_session("calls = []\nclass Spy(object):\n    def __init__(self):\n        pass\n"
                     "    def get(self):\n        calls.append(1)\n        return 1\n"
                     "    boom = property(get)\nspy = Spy()")
    assert R.completions(s, "spy.boom.") == (0, [])
    assert R.completions(s, "f(spy).") == (0, [])
    assert s.namespace["calls"] == []
    assert "boom" in R.completions(s, "spy.")[1]


@pytest.mark.parametrize("line, col, offset", [(1, 1, 0), (1, 5, 4), (2, 3, 9), (None, None, 11)])
def test_error_offset(line, col, offset):
    assert R.error_offset("abcdef\nghij", line, col) == offset


def test_history_path_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert R.history_path() == tmp_path / "gradcalc" / "history"
    assert R.history_path({"history_file": "/x/h"}) == Path("/x/h")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert R.history_path() == tmp_path / ".local" / "state" / "gradcalc" / "history"


# ---- the whole loop through prompt_toolkit's pipe input (paced keystrokes) -------------------

UP, CTRL_C, CTRL_D, TAB, ENTER = "\x1b[A", "\x03", "\x04", "\t", "\r"


def drive(keys, tmp_path, capsys, gap=0.06, extra=None):
    """Run the REPL on keystrokes sent one group at a time; returns (exit code, stdout, stderr)."""
    pytest.importorskip("prompt_toolkit")
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from gradcalc import cli

    opts = {**cli.defaults("repl"), "history_file": str(tmp_path / "history"), **(extra or {})}
    with create_pipe_input() as inp:
        done = threading.Event()

        def feed():
            for k in keys:
                time.sleep(gap)
                inp.send_text(k)
            if not done.wait(10):  # a stuck prompt must fail the test, not hang the suite
                inp.send_text(CTRL_C + CTRL_D)

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        code = R.run_repl(opts, version=cli.version(), input=inp, output=DummyOutput())
        done.set()
        t.join(5)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_typing_and_echo(tmp_path, capsys):
    code, out, err = drive(["x = tensor(2., requires_grad=True)", ENTER, "x**2", ENTER, CTRL_D],
                           tmp_path, capsys)
    assert code == 0 and err == ""
    assert out.splitlines()[1:] == ["tensor(4., grad_fn=<PowBackward0>)"]


def test_tab_completes_a_name(tmp_path, capsys):
    code, out, err = drive(["xavier_var = 7", ENTER, "xav", TAB, ENTER, CTRL_D], tmp_path, capsys)
    assert out.splitlines()[1:] == ["7"], err


def test_tab_completes_an_attribute(tmp_path, capsys):
    code, out, err = drive(["t = tensor([1., 2.])", ENTER, "t.nume", TAB, "()", ENTER, CTRL_D],
                           tmp_path, capsys)
    assert out.splitlines()[1:] == ["2"], err


def test_history_persists_across_two_sessions(tmp_path, capsys):
    drive(["40 + 2", ENTER, CTRL_D], tmp_path, capsys)
    code, out, err = drive([UP, ENTER, CTRL_D], tmp_path, capsys)
    assert out.splitlines()[1:] == ["42"]
    assert "40 + 2" in (tmp_path / "history").read_text()


def test_up_searches_history_by_prefix(tmp_path, capsys):
    code, out, err = drive(["a = 1", ENTER, "b = 2", ENTER, "a", UP, ENTER, CTRL_D], tmp_path, capsys)
    assert code == 0 and err == ""
    assert (tmp_path / "history").read_text().count("+a = 1") == 2


def test_multiline_def_ends_with_an_empty_line(tmp_path, capsys):
    code, out, err = drive(["def f(x):", ENTER, "return x * 2", ENTER, ENTER, "f(21)", ENTER, CTRL_D],
                           tmp_path, capsys)
    assert out.splitlines()[1:] == ["42"], err


def test_open_bracket_continues(tmp_path, capsys):
    code, out, err = drive(["[1,", ENTER, "2]", ENTER, CTRL_D], tmp_path, capsys)
    assert out.splitlines()[1:] == ["[1, 2]"], err


def test_ctrl_c_clears_the_line_and_the_session_goes_on(tmp_path, capsys):
    code, out, err = drive(["garbage here", CTRL_C, "1 + 1", ENTER, CTRL_D], tmp_path, capsys)
    assert code == 0 and out.splitlines()[1:] == ["2"] and err == ""


def test_an_error_then_a_good_line(tmp_path, capsys):
    code, out, err = drive(["nope * 2", ENTER, "2 * 3", ENTER, CTRL_D], tmp_path, capsys)
    assert code == 0
    assert "<stdin>:1:1: name 'nope' is not defined" in err
    assert out.splitlines()[1:] == ["6"]


def test_syntax_error_is_marked_and_not_run(tmp_path, capsys):
    code, out, err = drive(["1 +* 2", ENTER, CTRL_C, "5", ENTER, CTRL_D], tmp_path, capsys)
    assert out.splitlines()[1:] == ["5"] and err == ""


def test_underscore_is_the_last_value(tmp_path, capsys):
    code, out, err = drive(["6 * 7", ENTER, "_ + 1", ENTER, CTRL_D], tmp_path, capsys)
    assert out.splitlines()[1:] == ["42", "43"], err


def test_commands(tmp_path, capsys):
    keys = ["x = tensor(2., requires_grad=True)", ENTER, "z = x**3 + 3*x**2 + 5", ENTER,
            ":vars", ENTER, ":graph z", ENTER, ":trace z", ENTER, "x.grad is None", ENTER,
            ":help", ENTER, ":reset", ENTER, ":vars", ENTER, ":bogus", ENTER, ":quit", ENTER]
    code, out, err = drive(keys, tmp_path, capsys)
    assert code == 0
    assert ("x  tensor  ()  float32  requires_grad\n"
            "z  tensor  ()  float32  requires_grad grad_fn=AddBackward0\n") in out
    assert "z = AddBackward0  () float32\n└── AddBackward0  () float32" in out
    assert "x = AccumulateGrad #1  () float32" in out
    assert "6. x = AccumulateGrad  () float32\n   grad in: tensor(24.)\n   x.grad = tensor(24.)" in out
    assert "x.grad = tensor(24.)\nTrue\n" in out  # :trace leaves x.grad as it was (None)
    assert ":graph NAME" in out and "(a fresh session)\n(no names yet)" in out
    assert all(len(line) <= 80 for line in out.split("Type a statement")[1].splitlines()[1:12])
    assert err == ":bogus: unknown command; :help lists them\n"


def test_history_command(tmp_path, capsys):
    code, out, err = drive(["1 + 1", ENTER, ":history", ENTER, CTRL_D], tmp_path, capsys)
    assert "   1  1 + 1" in out


def test_help_on_builtins_namespaces_and_script_functions(tmp_path, capsys):
    keys = [":help sigmoid", ENTER, "help(torch.sigmoid)", ENTER, "def f(x):", ENTER,
            '"""Square x."""', ENTER, "return x * x", ENTER, ENTER, ":help f", ENTER,
            "help(nn.Linear)", ENTER, ":help qqq_undefined", ENTER, CTRL_D]
    code, out, err = drive(keys, tmp_path, capsys)
    assert code == 0
    assert ("sigmoid(input)\n\nAn op of gradcalc's op table (differentiable), as torch.sigmoid"
            in out)
    assert "torch.sigmoid(input)\n\nAn op of gradcalc's op table" in out
    assert "f(x)\n\nSquare x.\n" in out
    assert "class nn.Linear(in_features, out_features, bias=True, device=None, dtype=None)" in out
    assert err == ":help: 'qqq_undefined' is not a name this session knows\n"


@pytest.mark.parametrize("word", ["exit", "quit", "exit()", "quit()", ":quit"])
def test_exit_and_quit_leave(word, tmp_path, capsys):
    code, out, err = drive([word, ENTER, "1 + 1", ENTER, CTRL_D], tmp_path, capsys)
    assert code == 0 and err == ""
    assert out.splitlines()[1:] == []  # nothing ran after it


def test_a_name_the_script_binds_is_not_a_habit(tmp_path, capsys):
    code, out, err = drive(["exit = 5", ENTER, "exit", ENTER, "help = 2", ENTER, "help", ENTER,
                            CTRL_D], tmp_path, capsys)
    assert out.splitlines()[1:] == ["5", "2"], err


def test_banner_fits_80_columns(tmp_path, capsys):
    code, out, err = drive([CTRL_D], tmp_path, capsys)
    banner = out.splitlines()[0]
    assert banner.startswith("gradcalc ") and len(banner) <= 80


def test_out_and_numbered_underscores(tmp_path, capsys):
    keys = ["6 * 7", ENTER, "x = 1", ENTER, "[1, 2]", ENTER, "Out[1] + _2[0]", ENTER,
            "__", ENTER, ":out", ENTER, CTRL_D]
    code, out, err = drive(keys, tmp_path, capsys)
    assert out.splitlines()[1:] == ["42", "[1, 2]", "43", "[1, 2]",
                                    "Out[1]: 42", "Out[2]: [1, 2]", "Out[3]: 43",
                                    "Out[4]: [1, 2]"], err


def test_vars_columns_align(tmp_path, capsys):
    keys = ["weights = zeros(2, 3, requires_grad=True)", ENTER, "n = 3", ENTER,
            "y = (weights * 2).sum()", ENTER, ":vars", ENTER, CTRL_D]
    code, out, err = drive(keys, tmp_path, capsys)
    assert out.splitlines()[1:] == [
        "weights  tensor  (2, 3)  float32  requires_grad",
        "n        int",
        "y        tensor  ()      float32  requires_grad grad_fn=SumBackward0",
    ], err


def test_graph_and_trace_of_a_value_that_is_not_a_tensor_say_so(tmp_path, capsys):
    code, out, err = drive(["s = 'x'", ENTER, ":graph s", ENTER, ":trace s", ENTER, CTRL_D],
                           tmp_path, capsys)
    assert err == (":graph: s is a str, not a tensor: it has no graph\n"
                   ":trace: s does not require grad: there is no backward pass to show\n")


def test_colors_none_and_vi_mode_start(tmp_path, capsys):
    code, out, err = drive(["1 + 1", ENTER, CTRL_D], tmp_path, capsys,
                           extra={"colors": "none", "vi": True})
    assert code == 0 and out.splitlines()[1:] == ["2"], err
    for colors in ("dark", "light", "auto"):
        code, out, err = drive(["2 + 2", ENTER, CTRL_D], tmp_path, capsys,
                               extra={"colors": colors})
        assert out.splitlines()[1:] == ["4"], err


def test_vi_mode_from_inputrc(tmp_path, monkeypatch):
    inputrc = tmp_path / "inputrc"
    inputrc.write_text("set bell-style none\nset editing-mode vi\n")
    monkeypatch.setenv("INPUTRC", str(inputrc))
    assert R.wants_vi({}) is True
    inputrc.write_text("set editing-mode vi\nset editing-mode emacs\n")
    assert R.wants_vi({}) is False
    assert R.wants_vi({"vi": True}) is True


def test_no_color_turns_highlighting_off(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert R.color_choice({"colors": "dark"}) == "none"
    monkeypatch.delenv("NO_COLOR")
    assert R.color_choice({"colors": "dark"}) == "dark" and R.color_choice({}) == "auto"


# ---- a real pseudo-terminal --------------------------------------------------------------------

@pytest.mark.pty
def test_repl_in_a_real_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "XDG_STATE_HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = pexpect.spawn(sys.executable, ["-m", "gradcalc"], env=env, encoding="utf-8", timeout=20,
                          dimensions=(24, 120))
    try:
        child.expect(">>> ")
        child.send("x = tensor(3., requires_grad=True)\r")
        child.expect(">>> ")
        child.send("y = x**2\r")
        child.expect(">>> ")
        child.send("y.backward(); x.gr")
        time.sleep(0.2)
        child.send("\t")
        time.sleep(0.2)
        child.send("ad\r")
        child.expect(r"tensor\(6\.\)")
        child.send("undefined_name\r")
        child.expect("name 'undefined_name' is not defined")
        child.send("abc")
        child.send("\x03")
        child.send("7 * 6\r")
        child.expect("42")
        child.send("\x04")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "y = x**2" in (tmp_path / "gradcalc" / "history").read_text()


@pytest.mark.pty
def test_completion_help_and_a_trace_that_fits_in_a_real_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR",
                                                            "TTY_COMPATIBLE", "COLUMNS")}
    env.update(TERM="xterm", XDG_STATE_HOME=str(tmp_path), INPUTRC=os.devnull,
               PROMPT_TOOLKIT_NO_CPR="1",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    child = pexpect.spawn(sys.executable, ["-m", "gradcalc", "repl", "--colors", "none"],
                          env=env, encoding="utf-8", timeout=20, dimensions=(40, 80))
    ansi = __import__("re").compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
    try:
        child.expect(">>>")
        child.send("sigm")
        time.sleep(0.3)
        child.send("\t")
        time.sleep(0.3)
        child.send("(tensor(0.))\r")
        child.expect(r"tensor\(0\.5000\)")
        child.send("help(sigmoid)\r")
        child.expect("An op of gradcalc's op table")
        child.send("W = ones(4, 6, requires_grad=True)\r")
        child.expect(">>>")
        child.send("v = tensor([1., 2., 3., 4., 5., 6.])\r")
        child.expect(">>>")
        child.send("y = (W @ v).sum()\r")
        child.expect(">>>")
        child.send(":trace y\r")
        child.expect("W.grad = [^>]*>>>")
        shown = ansi.sub("", child.before + child.after).split("backward pass", 1)[1]
        child.send("\x04")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    # W's gradient, sent along MvBackward0's edge, received and accumulated: its four rows
    # whole each time (the edge's line is longer than 80 columns: it goes under its caption)
    assert shown.count("[1., 2., 3., 4., 5., 6.]") == 12, shown
    assert "outer(grad, vec) =" in shown
