# CLI layer: every command, option and exit code through Typer's CliRunner, the fast path
# against the Typer app, and the golden transcripts in examples/.
import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcalc import api, cli
from gradcalc.lang import Session

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
PLAIN = {"NO_COLOR": "1", "TTY_COMPATIBLE": "", "FORCE_COLOR": ""}


def invoke(*args, input=None, env=None):
    return runner.invoke(cli.app, list(args), input=input, env={**PLAIN, **(env or {})})


# ---- the option table, the fast path and the Typer app agree ---------------------------------

FAST_CASES = [
    ["eval", "x**2", "--at", "x=2"],
    ["eval", "x*y", "--at", "x=1,y=2", "--wrt", "x", "--json"],
    ["eval", "x*y", "-a", "x=1", "-a", "y=[1, 2]", "--hessian", "--plain", "--precision", "6"],
    ["eval", "x", "--at=x=3", "--dtype", "float64", "--device", "cpu", "--trace", "--graph"],
    ["eval", "--at", "x=2", "--", "-x**2"],
    ["eval", "W@v", "--at", "W=randn(2, 2)", "--grad-output", "[1, 0]", "--timeout", "2.5"],
    ["run"],
    ["run", "-", "--keep-going", "--json", "--no-echo"],
    ["run", "f.gc", "--echo", "--timeout", "1", "--plain", "--dtype=float64"],
    ["graph", "x**2", "--at", "x=1", "--format", "dot", "--saved"],
    ["graph", "x**2", "--at", "x=1", "-f", "mermaid"],
    ["repl", "--precision", "2"],
]


@pytest.mark.parametrize("argv", FAST_CASES, ids=lambda a: " ".join(a))
def test_fast_path_parses_like_typer(argv, monkeypatch):
    fast = cli.fast_parse(argv)
    assert fast is not None
    seen = []
    monkeypatch.setattr(cli, "execute", lambda cmd, opts: seen.append((cmd, opts)) or 0)
    result = runner.invoke(cli.build_app(), argv)
    assert result.exit_code == 0, result.output
    assert seen == [fast]


@pytest.mark.parametrize(
    "argv",
    [
        ["eval"],  # missing EXPR
        ["eval", "x", "--at", "y"],  # not NAME=VALUE
        ["eval", "x", "--dtype", "float16"],
        ["eval", "x", "--device", "tpu"],
        ["eval", "x", "--precision", "-1"],
        ["eval", "x", "--precision", "many"],
        ["eval", "x", "--wrt", "1x"],
        ["eval", "x", "--bogus"],
        ["eval", "x", "y"],
        ["run", "--timeout", "0"],
        ["graph", "x", "--format", "gif"],
        ["eval", "x", "--help"],
        ["qqq_undefined"],
    ],
    ids=lambda a: " ".join(a),
)
def test_fast_path_leaves_help_and_usage_errors_to_typer(argv):
    assert cli.fast_parse(argv) is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "x", "--at", "y"], "Invalid value for '--at' / '-a': expected NAME=VALUE, got 'y'"),
        (["eval", "x", "--dtype", "float16"], "'float16' is not one of 'float32', 'float64'"),
        (["eval", "x", "--device", "tpu"], "expected cpu, cuda or cuda:N, got 'tpu'"),
        (["eval", "x", "--precision", "99"], "expected 0 to 20 digits, got 99"),
        (["eval", "x", "--wrt", "1x"], "expected comma-separated names, got '1x'"),
        (["eval", "x", "--bogus"], "No such option: --bogus"),
        (["run", "--timeout", "-1"], "expected a positive number of seconds, got -1.0"),
        (["graph", "x", "--format", "gif"],
         "'gif' is not one of 'tree', 'dot', 'mermaid', 'json', 'svg', 'png', 'pdf'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(argv, message):
    result = invoke(*argv)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_main_routes_usage_errors_through_typer(capsys):
    assert cli.main(["eval", "x", "--at", "nonsense"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(
    "item, parts",
    [
        ("x=1", ["x=1"]),
        ("x=1,y=2", ["x=1", "y=2"]),
        ("v=[1, 2, 3],w=tensor([1., 2.])", ["v=[1, 2, 3]", "w=tensor([1., 2.])"]),
        ("x=randn(3, 3),y=linspace(0, 1, 5)", ["x=randn(3, 3)", "y=linspace(0, 1, 5)"]),
        ("x=f(a, b=2)", ["x=f(a, b=2)"]),
        ("s='a,b=c',t=1", ["s='a,b=c'", "t=1"]),
        ("x=1,y==2", ["x=1,y==2"]),
    ],
)
def test_split_bindings(item, parts):
    assert api.split_bindings(item) == parts


def test_version():
    for flag in ("--version", "-V"):
        result = invoke(flag)
        assert result.exit_code == 0
        assert re.fullmatch(r"gradcalc \d+\.\d+\.\d+\S*\n", result.stdout)


def test_version_fast_path(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("gradcalc ")


def test_help_lists_commands_and_examples():
    result = invoke("--help")
    assert result.exit_code == 0
    for word in ("eval", "run", "graph", "repl", "Examples:", "$ gradcalc eval 'x**3+3*x**2+5' --at x=2"):
        assert word in result.stdout


@pytest.mark.parametrize("command", ["eval", "run", "graph", "repl"])
def test_each_command_has_help_with_examples(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    for example in cli.COMMANDS[command].examples:
        assert f"$ {example}" in result.stdout
    for opt in cli.COMMANDS[command].opts:
        assert opt.names[0] in result.stdout


# ---- golden transcripts: examples/NAME.gc (or .py) with NAME.gc.out (and .err for errors) ----

EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*") if p.suffix in (".gc", ".py")
                  and p.with_name(p.name + ".out").exists())


def test_there_are_golden_transcripts():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_golden_transcript(script, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("run", f"examples/{script.name}")
    out_file = script.with_name(script.name + ".out")
    err_file = script.with_name(script.name + ".err")
    if os.environ.get("GRADCALC_REGEN") == "1":
        out_file.write_text(result.stdout)
        if result.stderr or err_file.exists():
            err_file.write_text(result.stderr)
    assert result.stdout == out_file.read_text()
    expected_err = err_file.read_text() if err_file.exists() else ""
    assert result.stderr == expected_err
    failed = re.search(r"^\S+:\d+:\d+: (?!warning: )", expected_err, re.MULTILINE)
    assert result.exit_code == (1 if failed else 0)  # warnings alone: the script went on


# ---- eval --------------------------------------------------------------------------------------

CUBIC_PLAIN = """\
expression: x**3+3*x**2+5
inputs:
  x = tensor(2., requires_grad=True)
value:
  tensor(25., grad_fn=<AddBackward0>)
gradients:
  d/dx = tensor(24.)
"""


def test_eval_plain():
    result = invoke("eval", "x**3+3*x**2+5", "--at", "x=2")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == CUBIC_PLAIN


def test_eval_plain_flag_wins_over_a_forced_terminal():
    result = invoke("eval", "x**3+3*x**2+5", "--at", "x=2", "--plain", env={"NO_COLOR": "", "TTY_COMPATIBLE": "1"})
    assert result.stdout == CUBIC_PLAIN


def test_eval_json_is_design_md():
    result = invoke("eval", "x**3+3*x**2+5", "--at", "x=2", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "expression": "x**3+3*x**2+5",
        "inputs": {"x": {"value": 2.0, "shape": [], "dtype": "float32"}},
        "value": {"value": 25.0, "shape": [], "dtype": "float32", "grad_fn": "AddBackward0"},
        "gradients": {"x": {"value": 24.0, "shape": [], "dtype": "float32"}},
    }
    assert result.stdout.count("\n") == 1


def test_eval_rich_on_a_terminal_shows_tree_and_tables_and_no_markup():
    result = invoke("eval", "z = x*2; z[0] + x[1]", "--at", "x=[1, 2]",
                    env={"NO_COLOR": "", "TTY_COMPATIBLE": "1", "COLUMNS": "120"})
    assert result.exit_code == 0, result.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert "z = x*2; z[0] + x[1]" in text
    assert "AddBackward0  () float32" in text and "├── SelectBackward0  () float32" in text
    assert "z = MulBackward0  (2,) float32" in text and "x = AccumulateGrad #1  (2,) float32" in text
    assert "gradients" in text and "d/dx" in text and "tensor([2., 1.])" in text


def test_eval_integers_become_the_default_float_and_dtype_option():
    result = invoke("eval", "x", "--at", "x=[1, 2]", "--json")
    assert json.loads(result.stdout)["inputs"]["x"] == {"value": [1.0, 2.0], "shape": [2], "dtype": "float32"}
    result = invoke("eval", "x*y", "--at", "x=1,y=2", "--dtype", "float64", "--json")
    obj = json.loads(result.stdout)
    assert obj["value"]["dtype"] == "float64" and obj["gradients"]["x"]["value"] == 2.0


def test_eval_at_values_are_expressions_and_may_use_earlier_bindings():
    result = invoke("eval", "x + y", "--at", "x=linspace(0, 1, 3)", "--at", "y=x*2", "--json")
    obj = json.loads(result.stdout)
    assert obj["value"]["value"] == [0.0, 1.5, 3.0]
    assert obj["jacobians"]["y"]["shape"] == [3, 3]


def test_eval_wrt_narrows_the_inputs():
    result = invoke("eval", "x*y", "--at", "x=3,y=4", "--wrt", "y")
    assert "  x = tensor(3.)\n  y = tensor(4., requires_grad=True)\n" in result.stdout
    assert result.stdout.endswith("gradients:\n  d/dy = tensor(3.)\n")


def test_eval_wrt_an_unbound_name_is_a_usage_error():
    result = invoke("eval", "x*y", "--at", "x=3", "--wrt", "z")
    assert result.exit_code == 2
    assert result.stderr == "gradcalc: error: --wrt: 'z' is not bound; bind it with --at z=VALUE\n"


def test_eval_jacobian_of_a_vector_result():
    result = invoke("eval", "x**2", "--at", "x=[1, 2, 3]")
    assert result.stdout.endswith(
        "jacobians (shape: out.shape + in.shape):\n"
        "  d/dx = tensor([[2., 0., 0.],\n"
        "                 [0., 4., 0.],\n"
        "                 [0., 0., 6.]])\n")


def test_eval_jacobian_shape_is_out_plus_in():
    result = invoke("eval", "W@v", "--at", "W=ones(2, 3)", "--at", "v=[1, 2, 3]", "--json")
    obj = json.loads(result.stdout)
    assert obj["jacobians"]["W"]["shape"] == [2, 2, 3] and obj["jacobians"]["v"]["value"] == [[1.0] * 3] * 2


def test_eval_large_jacobian_shows_the_value_and_says_how_to_get_derivatives():
    # defect 8: the value is shown; the derivatives are skipped with a note, exit 0
    result = invoke("eval", "x*2", "--at", "x=zeros(2000)")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(
        "value:\n  tensor([0., 0., 0.,  ..., 0., 0., 0.], grad_fn=<MulBackward0>)\n"
        "note: derivatives skipped: the Jacobian would have 4,000,000 elements (limit "
        "1,000,000); give --grad-output V for the vector-Jacobian product backward(V), or "
        "raise the limit with --max-jacobian N\n")
    obj = json.loads(invoke("eval", "x*2", "--at", "x=zeros(2000)", "--json").stdout)
    assert "jacobians" not in obj and obj["note"].startswith("derivatives skipped: the Jacobian")
    assert obj["value"]["shape"] == [2000]


def test_eval_too_many_backward_passes_are_skipped_too():
    result = invoke("eval", "x.expand(20000)", "--at", "x=1")
    assert result.exit_code == 0
    assert result.stdout.endswith(
        "note: derivatives skipped: the Jacobian would take 20,000 backward passes (limit "
        "10,000); give --grad-output V for the vector-Jacobian product backward(V)\n")


def test_eval_max_jacobian_raises_the_limit():
    result = invoke("eval", "x*2", "--at", "x=[1, 2, 3]", "--max-jacobian", "8")
    assert "the Jacobian would have 9 elements (limit 8)" in result.stdout
    result = invoke("eval", "x*2", "--at", "x=[1, 2, 3]", "--max-jacobian", "9")
    assert "d/dx = tensor([[2., 0., 0.]," in result.stdout


def test_eval_no_grad_gives_only_the_value():
    result = invoke("eval", "x**2", "--at", "x=3", "--no-grad")
    assert result.exit_code == 0
    assert result.stdout == ("expression: x**2\ninputs:\n  x = tensor(3., requires_grad=True)\n"
                             "value:\n  tensor(9., grad_fn=<PowBackward0>)\n")
    assert "gradients" not in json.loads(invoke("eval", "x**2", "--at", "x=3", "--no-grad",
                                                "--json").stdout)


def test_eval_grad_output_gives_the_vjp():
    result = invoke("eval", "W@v", "--at", "W=ones(2, 3)", "--at", "v=[1, 2, 3]", "--grad-output", "[1, 0]")
    assert result.stdout.endswith(
        "vector-Jacobian products (grad_output = tensor([1., 0.])):\n"
        "  d/dW = tensor([[1., 2., 3.],\n"
        "                 [0., 0., 0.]])\n"
        "  d/dv = tensor([1., 1., 1.])\n")


def test_eval_hessian():
    result = invoke("eval", "x**2*y", "--at", "x=1,y=3", "--hessian")
    assert result.stdout.endswith(
        "hessians:\n  d2/dx2 = tensor(6.)\n  d2/dx dy = tensor(2.)\n"
        "  d2/dy dx = tensor(2.)\n  d2/dy2 = tensor(0.)\n")
    obj = json.loads(invoke("eval", "x**2*y", "--at", "x=1,y=3", "--hessian", "--json").stdout)
    assert obj["hessians"]["x"]["y"]["value"] == 2.0


def test_eval_hessian_needs_a_scalar():
    result = invoke("eval", "x**2", "--at", "x=[1, 2]", "--hessian")
    assert result.exit_code == 1 and "--hessian needs a scalar result; this one has shape (2,)" in result.stderr


def test_eval_unused_input_gets_zeros():
    result = invoke("eval", "x*2", "--at", "x=1,y=[5, 6]")
    assert result.stdout.endswith("  d/dx = tensor(2.)\n  d/dy = tensor([0., 0.])\n")


def test_eval_statements_and_output():
    result = invoke("eval", 'a = x*y; print("a is", a.item()); a; a**2', "--at", "x=1,y=2")
    assert "output:\n  a is 2.0\n  tensor(2., grad_fn=<MulBackward0>)\nvalue:\n  tensor(4., grad_fn=<PowBackward0>)\n" in result.stdout


def test_eval_free_name_names_it_and_says_how_to_bind_it():
    result = invoke("eval", "x*y", "--at", "x=2")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "<expr>:1:3: name 'y' is not defined (bind it with --at y=VALUE)\n    x*y\n      ^\n"


def test_eval_syntax_error_is_positioned():
    result = invoke("eval", "x**", "--at", "x=1")
    assert result.exit_code == 1
    assert result.stderr == "<expr>:1:4: expected an expression after '**'\n    x**\n       ^\n"


def test_eval_error_in_a_binding_names_the_binding():
    result = invoke("eval", "x", "--at", "x=[1,2")
    assert result.exit_code == 1
    assert result.stderr.startswith("--at x:1:5: ")


def test_eval_graph_in_plain_text():
    result = invoke("eval", "a = x*y; a**2", "--at", "x=1,y=2", "--graph")
    assert "graph:\n  PowBackward0  () float32\n  └── a = MulBackward0  () float32\n" \
           "      ├── x = AccumulateGrad  () float32\n      └── y = AccumulateGrad  () float32\n" in result.stdout


def test_eval_trace_shows_the_chain_rule_in_engine_order():
    result = invoke("eval", "x**3+3*x**2+5", "--at", "x=2", "--trace")
    trace = result.stdout.split("backward trace (engine order):\n")[1]
    assert trace == """\
  1. AddBackward0  () float32
     grad in: tensor(1.)
     → AddBackward0 (step 2): grad = tensor(1.)
  2. AddBackward0  () float32
     grad in: tensor(1.)
     → PowBackward0 (step 5): grad = tensor(1.)
     → MulBackward0 (step 3): grad = tensor(1.)
  3. MulBackward0  () float32
     grad in: tensor(1.)
     → PowBackward0 (step 4): grad * other = tensor(3.)
  4. PowBackward0  () float32
     grad in: tensor(3.)
     → x (AccumulateGrad, step 6): grad * exponent * self**(exponent - 1) = tensor(12.)
  5. PowBackward0  () float32
     grad in: tensor(1.)
     → x (AccumulateGrad, step 6): grad * exponent * self**(exponent - 1) = tensor(12.)
  6. x = AccumulateGrad  () float32
     grad in: tensor(24.)
     x.grad = tensor(24.)
"""
    assert trace.count("x.grad") == 1  # the leaf's .grad ends the trace once
    obj = json.loads(invoke("eval", "x**3+3*x**2+5", "--at", "x=2", "--trace", "--json").stdout)
    assert [s["node"] for s in obj["trace"]["steps"]] == [
        "AddBackward0", "AddBackward0", "MulBackward0", "PowBackward0", "PowBackward0", "AccumulateGrad"]
    assert obj["trace"]["leaf_grads"]["x"]["value"] == 24.0


def test_eval_precision():
    result = invoke("eval", "x/3", "--at", "x=1", "--precision", "2")
    assert "  tensor(0.33, grad_fn=<DivBackward0>)\n" in result.stdout


def test_eval_non_tensor_value_has_no_derivatives():
    result = invoke("eval", "1 + 2")
    assert result.stdout == "expression: 1 + 2\nvalue:\n  3\n"


def test_eval_constant_result_notes_no_derivatives():
    result = invoke("eval", "x.detach() * 2", "--at", "x=1")
    assert result.stdout.endswith("note: the value does not depend on the inputs through a graph: no derivatives\n")


def test_eval_device_cuda_without_cupy_is_an_error():
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed")
    except ImportError:
        pass
    result = invoke("eval", "x", "--at", "x=1", "--device", "cuda")
    assert result.exit_code == 1 and "CuPy" in result.stderr


def test_eval_markup_in_user_text_is_printed_as_is():
    result = invoke("eval", "[x][0]", "--at", "x=1", env={"NO_COLOR": "", "TTY_COMPATIBLE": "1"})
    assert "[x][0]" in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)


def test_no_traceback_without_debug_and_one_with_it(monkeypatch):
    def broken(opts):
        raise ValueError("boom")

    monkeypatch.setitem(cli.IMPLS, "eval", broken)
    result = invoke("eval", "1")
    assert result.exit_code == 1
    assert result.stderr == "gradcalc: internal error: ValueError: boom (run with --debug for the traceback)\n"
    result = invoke("eval", "1", "--debug")
    assert "Traceback (most recent call last)" in result.stderr and result.exit_code == 1


def test_keyboard_interrupt_exits_130(monkeypatch):
    def interrupted(opts):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.IMPLS, "eval", interrupted)
    assert invoke("eval", "1").exit_code == 130


# ---- run ---------------------------------------------------------------------------------------

SCRIPT = "x = tensor(2., requires_grad=True)\ny = x**2\ny\ny.backward()\nx.grad\nprint('done')\n"


def test_run_stdin_echoes_expressions():
    result = invoke("run", "-", input=SCRIPT)
    assert result.exit_code == 0
    assert result.stdout == "tensor(4., grad_fn=<PowBackward0>)\ntensor(4.)\ndone\n"


def test_bare_gradcalc_on_a_pipe_runs_stdin():
    result = invoke(input="1 + 1\n")
    assert result.exit_code == 0 and result.stdout == "2\n"


def test_run_file_and_py_files_do_not_echo(tmp_path):
    (tmp_path / "s.gc").write_text(SCRIPT)
    (tmp_path / "s.py").write_text(SCRIPT)
    assert invoke("run", str(tmp_path / "s.gc")).stdout.count("\n") == 3
    assert invoke("run", str(tmp_path / "s.py")).stdout == "done\n"
    assert invoke("run", str(tmp_path / "s.py"), "--echo").stdout.count("\n") == 3
    assert invoke("run", str(tmp_path / "s.gc"), "--no-echo").stdout == "done\n"


def test_run_missing_file_is_a_usage_error(tmp_path):
    result = invoke("run", str(tmp_path / "qqq_undefined.gc"))
    assert result.exit_code == 2
    assert result.stderr == f"gradcalc: error: cannot read '{tmp_path / 'qqq_undefined.gc'}': No such file or directory\n"


def test_run_stops_at_the_first_error_with_its_line():
    result = invoke("run", input="1\nqqq_undefined\n2\n")
    assert result.exit_code == 1 and result.stdout == "1\n"
    assert result.stderr == "<stdin>:2:1: name 'qqq_undefined' is not defined\n    qqq_undefined\n    ^\n"


def test_run_keep_going():
    result = invoke("run", "--keep-going", input="1\nqqq_undefined\n2\n1 +* 2\n3\n")
    assert result.exit_code == 1 and result.stdout == "1\n2\n3\n"
    assert result.stderr.count("<stdin>:") == 2 and "<stdin>:4:" in result.stderr


def test_run_blocks_and_brackets_across_lines():
    text = "def f(x):\n    y = x * 2\n\n    return y\nf(3)\nv = [1,\n  2]\nv\nfor i in range(2):\n    print(i)\nelse:\n    print('end')\n"
    result = invoke("run", input=text)
    assert result.stdout == "6\n[1, 2]\n0\n1\nend\n", result.stderr


def test_run_error_line_numbers_count_from_the_file(tmp_path):
    (tmp_path / "s.gc").write_text("a = 1\n\n# c\nif a:\n    b = 2\nb\nb +\n")
    result = invoke("run", str(tmp_path / "s.gc"))
    assert result.stdout == "2\n"
    assert result.stderr.startswith(f"{tmp_path / 's.gc'}:7:")


def test_run_json_lines():
    result = invoke("run", "--json", "--keep-going", input="x = 2\nprint('hi')\nx * 3\nqqq_undefined\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {"line": 2, "output": "hi\n"},
        {"line": 3, "value": 6},
        {"line": 4, "column": 1, "error": "name 'qqq_undefined' is not defined"},
    ]


def test_run_json_tensor_values():
    result = invoke("run", "--json", input="tensor([1., float('nan')])\n")
    assert json.loads(result.stdout) == {"line": 1, "value": {"value": [1.0, "nan"], "shape": [2], "dtype": "float32"}}


def test_run_timeout():
    result = invoke("run", "--timeout", "0.2", input="x = 0\nwhile True:\n    x = x + 1\n")
    assert result.exit_code == 1
    assert "<stdin>:" in result.stderr and "time" in result.stderr


def test_run_interrupt_exits_130(monkeypatch):
    def interrupted(opts):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.IMPLS, "run", interrupted)
    assert invoke("run", input="1\n").exit_code == 130


def test_statement_chunks_yield_as_soon_as_a_statement_is_whole():
    lines = iter(["x = 1\n", "def f():\n", "    return 1\n", "y = [1,\n", "2]\n", ""])
    seen = []

    def readline():
        line = next(lines)
        seen.append(line)
        return line

    chunks = Session.chunks(readline)
    assert next(chunks) == (1, "x = 1\n") and len(seen) == 1  # no read-ahead: it streams
    assert next(chunks) == (2, "def f():\n    return 1\n")
    assert next(chunks) == (4, "y = [1,\n2]\n")


# ---- graph -------------------------------------------------------------------------------------

def test_graph_tree_plain_with_variable_labels():
    result = invoke("graph", "a = x*y; z = a**2*y; z", "--at", "x=1,y=2")
    assert result.exit_code == 0
    assert result.stdout == """\
z = MulBackward0  () float32
├── PowBackward0  () float32
│   └── a = MulBackward0  () float32
│       ├── x = AccumulateGrad  () float32
│       └── y = AccumulateGrad #1  () float32
└── y = AccumulateGrad #1 (see above)
"""


def test_graph_saved():
    result = invoke("graph", "x**3", "--at", "x=2", "--saved")
    assert result.stdout == ("PowBackward0  () float32\n│   saved self = tensor(2., requires_grad=True)\n"
                             "│   saved exponent = 3\n└── x = AccumulateGrad  () float32\n")


def test_graph_dot_and_mermaid_and_json():
    dot = invoke("graph", "z = x*2; z", "--at", "x=1", "--format", "dot").stdout
    assert dot.startswith("digraph gradcalc {") and '[label="z\\nMulBackward0\\n() float32"' in dot
    assert "n1 -> n0;" in dot
    mermaid = invoke("graph", "z = x*2; z", "--at", "x=1", "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart TB\n") and '  n1(["x<br/>AccumulateGrad<br/>() float32"])' in mermaid
    obj = json.loads(invoke("graph", "z = x*2; z", "--at", "x=1", "--format", "json").stdout)
    assert obj["nodes"][0]["labels"] == ["z"] and obj["edges"] == [{"from": 1, "to": 0, "input_nr": 0}]


def test_graph_of_a_statement_without_value_is_a_usage_error():
    result = invoke("graph", "z = x*2", "--at", "x=1")
    assert result.exit_code == 2 and "graph: EXPR has no value to draw" in result.stderr


def test_graph_rich_tree_on_a_terminal():
    result = invoke("graph", "z = x*2; z", "--at", "x=1", env={"NO_COLOR": "", "TTY_COMPATIBLE": "1"})
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert text == "z = MulBackward0  () float32\n└── x = AccumulateGrad  () float32\n"


def test_run_streams_a_pipe_statement_by_statement():
    # `tail -f log | gradcalc run -`: each result comes out before the next line is written.
    import subprocess
    import sys

    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "gradcalc", "run", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        proc.stdin.write("x = tensor(3.)\n")
        proc.stdin.write("x * 2\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "tensor(6.)\n"
        proc.stdin.write("def f(v):\n    return v + 1\n")
        proc.stdin.write("f(x)\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "tensor(4.)\n"
        proc.stdin.close()
        assert proc.wait(20) == 0
    finally:
        proc.kill()
