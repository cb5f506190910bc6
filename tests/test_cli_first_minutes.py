# CLI layer: what a new user meets in the first minutes (issue 12's defects), each through the
# real command in a subprocess: matrix products of ordinary size, values that are not tensors
# on a terminal, expressions that start with '-', large results, one form for errors.
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


# ---- defect 5: an expression may start with '-' ------------------------------------------------

@pytest.mark.parametrize("args", [
    ["eval", "-x**2", "--at", "x=2"],
    ["eval", "--at", "x=2", "-x**2"],
    ["eval", "--at", "x=2", "--", "-x**2"],
])
def test_an_expression_starting_with_minus_is_the_expression(args):
    r = gradcalc(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("expression: -x**2\ninputs:\n  x = tensor(2., requires_grad=True)\n"
                        "value:\n  tensor(-4., grad_fn=<NegBackward0>)\n"
                        "gradients:\n  d/dx = tensor(-4.)\n")


def test_a_minus_expression_with_a_usage_error_elsewhere_reports_that_error():
    r = gradcalc("eval", "-x**2", "--dtype", "float16")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("gradcalc: error: Invalid value for '--dtype': 'float16' is not one of "
                        "'float32', 'float64'.\n(see 'gradcalc eval --help')\n")


def test_a_mistyped_long_option_stays_an_option_error():
    r = gradcalc("eval", "x", "--bogus")
    assert r.returncode == 2
    assert r.stderr == "gradcalc: error: No such option: --bogus\n(see 'gradcalc eval --help')\n"


def test_eval_help_says_how_dashes_work():
    r = gradcalc("eval", "--help")
    assert "It may start with '-' ('-x**2'): an argument that is not an option is EXPR; " \
           "after '--' every argument is." in " ".join(r.stdout.split())


# ---- defect 9: one form for errors; eval --json reports errors as JSON --------------------------

def test_usage_errors_of_click_and_of_gradcalc_read_alike():
    bad_at = gradcalc("eval", "x", "--at", "y")
    assert bad_at.stderr == ("gradcalc: error: Invalid value for '--at' / '-a': expected "
                             "NAME=VALUE, got 'y'\n(see 'gradcalc eval --help')\n")
    unbound = gradcalc("eval", "x", "--at", "x=1", "--wrt", "z")
    assert unbound.stderr == "gradcalc: error: --wrt: 'z' is not bound; bind it with --at z=VALUE\n"
    assert bad_at.returncode == unbound.returncode == 2


def test_a_grad_output_error_names_the_option():
    r = gradcalc("eval", "x * 2", "--at", "x=[1, 2]", "--grad-output", "qqq_undefined")
    assert r.returncode == 1
    assert r.stderr == ("--grad-output:1:1: name 'qqq_undefined' is not defined\n"
                        "    qqq_undefined\n    ^\n")


def test_eval_json_reports_an_error_as_json():
    r = gradcalc("eval", "print(1); 1/0", "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"expression": "print(1); 1/0",
                                    "error": "ZeroDivisionError: division by zero",
                                    "source": "<expr>", "line": 1, "column": 12, "output": "1\n"}
    assert r.stderr.startswith("<expr>:1:12: ZeroDivisionError: division by zero\n")
    usage = gradcalc("eval", "x", "--at", "x=1", "--wrt", "z", "--json")
    assert usage.returncode == 2
    assert json.loads(usage.stdout) == {
        "expression": "x", "error": "--wrt: 'z' is not bound; bind it with --at z=VALUE"}


def test_graph_of_a_value_that_is_not_a_tensor_says_so():
    r = gradcalc("graph", "'s'")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("gradcalc: error: graph: the value is a str, not a tensor: it has no "
                        "graph to draw\n")


# ---- defect 8: a large non-scalar result shows its value ----------------------------------------

def test_a_large_result_is_shown_with_a_note_instead_of_an_error():
    r = gradcalc("eval", "x * 2", "--at", "x=ones(10000)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(
        "value:\n  tensor([2., 2., 2.,  ..., 2., 2., 2.], grad_fn=<MulBackward0>)\n"
        "note: derivatives skipped: the Jacobian would have 100,000,000 elements (limit "
        "1,000,000); give --grad-output V for the vector-Jacobian product backward(V), or raise "
        "the limit with --max-jacobian N\n")
    vjp = gradcalc("eval", "x * 2", "--at", "x=ones(10000)", "--grad-output", "ones(10000)")
    assert "  d/dx = tensor([2., 2., 2.,  ..., 2., 2., 2.])\n" in vjp.stdout


# ---- defects 3 and 4: the terminal view fits the terminal and shows any value -------------------

ANSI = __import__("re").compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("args, shown", [
    (["eval", "x", "--at", "x='s'"], "  x  str  's'\n"),
    (["eval", "lambda: 1"], "value\n<function <lambda>>\n"),
    (["eval", "1j"], "value\n1j\n"),
    (["eval", "nn.Linear(2, 2)"], "value\nLinear(in_features=2, out_features=2, bias=True)\n"),
])
def test_the_terminal_view_shows_values_that_are_not_tensors(args, shown):
    r = gradcalc(*args, terminal=True)
    assert r.returncode == 0, r.stderr
    assert shown in ANSI.sub("", r.stdout)


@pytest.mark.parametrize("columns", [80, 40])
def test_trace_and_saved_values_are_never_cropped(columns):
    r = gradcalc("eval", "(W@v).sum()", "--at", "W=ones(4, 6)*1.25", "--at",
                 "v=[1, 2, 3, 4, 5, 6]", "--trace", terminal=True, columns=columns)
    out = ANSI.sub("", r.stdout)
    assert max(len(line) for line in out.splitlines()) <= columns
    # every number is there: W.grad's four rows [1., 2., ..., 6.] and v.grad's six 5. three
    # times in the trace (sent, received, accumulated) and once in the gradients, and v's 5.
    fives = __import__("re").findall(r"(?<![\d.])5\.(?!\d)", out)
    assert len(fives) == 3 * 4 + 3 * 6 + 4 + 6 + 1
    g = gradcalc("graph", "exp(x)", "--at", "x=ones(3, 8)", "--saved", terminal=True,
                 columns=columns)
    pictured = ANSI.sub("", g.stdout)
    assert max(len(line) for line in pictured.splitlines()) <= columns
    assert pictured.count("2.7183") == 3 * 8  # the saved result, all 24 numbers


# ---- defect 10: Python's habits --------------------------------------------------------------

def test_gradcalc_file_runs_the_file_as_python_does(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("x = tensor(2., requires_grad=True)\n(x**2).backward()\nprint(x.grad)\n")
    r = gradcalc(str(script))
    assert (r.returncode, r.stdout, r.stderr) == (0, "tensor(4.)\n", "")
    missing = gradcalc(str(tmp_path / "missing.py"))
    assert missing.returncode == 2
    assert missing.stderr == f"gradcalc: error: cannot read '{tmp_path / 'missing.py'}': No such file or directory\n"


def test_bare_gradcalc_takes_runs_options_on_a_pipe():
    r = gradcalc("--keep-going", "--json", stdin="1 + 1\nqqq_undefined\n3\n")
    assert r.returncode == 1
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"line": 1, "value": 2},
        {"line": 2, "column": 1, "error": "name 'qqq_undefined' is not defined"},
        {"line": 3, "value": 3}]


def test_suggestions_are_for_real_names():
    r = gradcalc("run", "-", stdin="x = tensor(1.)\nx.gard\n")
    assert r.stderr == ("<stdin>:2:3: 'Tensor' object has no attribute 'gard'; did you mean "
                        "'grad'?\n    x.gard\n      ^\n")
    r = gradcalc("run", "-", stdin="np.sin(1.)\n")
    assert r.stderr.startswith("<stdin>:1:1: name 'np' is not defined (import numpy as np first)\n")
    r = gradcalc("eval", "math.sin(1.)")
    assert r.stderr.startswith("<expr>:1:1: name 'math' is not defined (import math first)\n")


def test_unicode_names_bind_with_at():
    r = gradcalc("eval", "α * 2", "--at", "α=3", "--wrt", "α")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("gradients:\n  d/dα = tensor(2.)\n")


# ---- defect 11: the calculator's bare functions answer for Python numbers -----------------------

@pytest.mark.parametrize("expr, shown", [
    ("sqrt(2)", "tensor(1.4142)"),
    ("sin(pi)", "tensor(-8.7423e-08)"),
    ("exp(1)", "tensor(2.7183)"),
    ("atan2(1, 2)", "tensor(0.4636)"),
    ("sigmoid(0)", "tensor(0.5000)"),
])
def test_bare_functions_take_python_numbers(expr, shown):
    r = gradcalc("eval", expr)
    assert (r.returncode, r.stdout) == (0, f"expression: {expr}\nvalue:\n  {shown}\n"), r.stderr


def test_spelled_out_names_keep_pytorchs_type_error():
    r = gradcalc("eval", "torch.sqrt(2)")
    assert r.returncode == 1
    assert r.stderr.startswith("<expr>:1:1: sqrt(): argument 'input' (position 1) must be "
                               "Tensor, not int\n")
    assert gradcalc("eval", "sin(pi)", "--dtype", "float64").stdout.endswith("tensor(1.2246e-16)\n")


# ---- defect 12: carets, unclosed brackets, long flat expressions ------------------------------

def test_the_caret_lands_under_the_column_after_wide_characters_and_tabs():
    r = gradcalc("eval", '"αβγ全角" + 1')
    assert r.stderr == ('<expr>:1:9: TypeError: can only concatenate str (not "int") to str\n'
                        '    "αβγ全角" + 1\n'
                        "              ^\n")  # 全 and 角 take two columns each on a terminal
    r = gradcalc("run", "-", stdin='if 1:\n\tx = "s" + 1\n')
    assert r.stderr.endswith('    \tx = "s" + 1\n    \t        ^\n')


def test_an_unclosed_bracket_is_reported_where_it_opens():
    r = gradcalc("run", "-", stdin="x = (1,\n  2\ny = 3\n")
    assert r.returncode == 1
    assert r.stderr == "<stdin>:1:5: '(' was never closed\n    x = (1,\n        ^\n"
    # a bracket closed later is not the problem: the missing comma is
    r = gradcalc("run", "-", stdin="x = [1,\n  2 3]\n")
    assert r.stderr.startswith("<stdin>:2:5: invalid syntax: unexpected number 3 after '2'")


@pytest.mark.parametrize("terms", [1000, 3000])
def test_a_flat_sum_of_thousands_of_terms_evaluates(terms):
    r = gradcalc("run", "-", stdin="+".join(["1"] * terms) + "\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{terms}\n", "")


def test_a_value_too_deep_to_print_is_an_error_not_a_crash():
    r = gradcalc("run", "-", stdin="[" * 1000 + "]" * 1000 + "\n")
    assert r.returncode == 1
    assert r.stderr.startswith("<stdin>:1:1: RecursionError: maximum recursion depth exceeded "
                               "while getting the repr of an object\n")


# ---- defect 13: every example gradcalc runs is runnable; Python programs are marked ------------

def test_examples_are_scripts_or_marked_python_programs():
    scripts = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "examples").glob("*.gc"))
    for path in scripts:  # each has its golden output (tests/test_cli.py runs them)
        assert path.with_name(path.name + ".out").exists(), path
    programs = sorted((ROOT / "examples" / "python").glob("*.py"))
    assert programs and (ROOT / "examples" / "python" / "README.md").exists()
    for path in programs:
        assert "A Python program using gradcalc as a library" in path.read_text()
    r = gradcalc("run", str(ROOT / "examples" / "python" / "mlp_50_30_20_3.py"))
    assert r.returncode == 1
    assert ("import of 'gradcalc' is not supported: gradcalc scripts import torch (this file is a "
            "Python program using gradcalc as a library: run it with python)") in r.stderr


# ---- conventions: shell completion, a --help that serves as the man page, NO_COLOR/FORCE_COLOR --

def test_shell_completion_scripts_and_answers():
    script = gradcalc("--show-completion", "bash")
    assert script.returncode == 0 and "_GRADCALC_COMPLETE=complete_bash" in script.stdout
    words = gradcalc(env={"_GRADCALC_COMPLETE": "complete_bash", "COMP_WORDS": "gradcalc ev",
                          "COMP_CWORD": "1"})
    assert words.stdout.split() == ["eval"]
    formats = gradcalc(env={"_GRADCALC_COMPLETE": "complete_bash",
                            "COMP_WORDS": "gradcalc graph x --format ", "COMP_CWORD": "4"})
    assert formats.stdout.split() == ["tree", "dot", "mermaid", "json", "svg", "png", "pdf"]


def test_help_has_what_a_man_page_has():
    out = gradcalc("--help").stdout
    for section in ("Examples:", "Environment:", "Exit status:", "NO_COLOR", "FORCE_COLOR",
                    "XDG_STATE_HOME", "0 success, 1 a syntax or evaluation error, 2 a usage error, "
                    "130 interrupted", "gradcalc --install-completion"):
        assert section in out, section


def test_force_color_and_no_color():
    forced = gradcalc("eval", "x * 2", "--at", "x=1", env={"NO_COLOR": "", "FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stdout and "gradients" in ANSI.sub("", forced.stdout)
    plain = gradcalc("eval", "x * 2", "--at", "x=1", terminal=True, env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout and plain.stdout.startswith("expression: x * 2\n")
