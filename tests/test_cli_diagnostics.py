# CLI diagnostics: errors and warnings point at the right line and column in every nesting
# (run, eval, the REPL), warnings never show gradcalc's own file paths, limit messages name
# the option that raises the limit, and the trace and Mermaid details found writing the tour.
import io
import json

import pytest
from typer.testing import CliRunner

from gradcalc import cli

runner = CliRunner()
PLAIN = {"NO_COLOR": "1", "TTY_COMPATIBLE": "", "FORCE_COLOR": ""}


def invoke(*args, input=None):
    return runner.invoke(cli.app, list(args), input=input, env=PLAIN)


# ---- error positions -------------------------------------------------------------------------


def test_error_inside_a_function_points_at_the_body_line_not_the_call(tmp_path):
    (tmp_path / "rec.gc").write_text("def f(n):\n    return f(n+1)\nf(0)\n")
    result = invoke("run", str(tmp_path / "rec.gc"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"{tmp_path / 'rec.gc'}:2:12: maximum recursion depth exceeded: more than 200 nested "
        "calls of script functions (raise it with --max-recursion N)\n"
        "        return f(n+1)\n"
        "               ^\n")


NESTED = """\
x = 1

def f(a):
    b = a
    return b + undefined_a
class C:
    def m(self):
        return self.nope
for i in range(1):
    y = i
    z = undefined_b
f(1)
C().m()
w = [k / 0 for k in [1]]
g = lambda t: t.bogus
g(1)
while x < 3:
    x = x + undefined_c
v = (1 +
     [2])
"""


def test_errors_in_every_nesting_keep_their_own_line_and_column(tmp_path):
    (tmp_path / "n.gc").write_text(NESTED)
    result = invoke("run", str(tmp_path / "n.gc"), "--keep-going", "--json")
    errors = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["line"], e["column"]) for e in errors] == [
        (11, 9),   # loop body
        (5, 16),   # function body, called from line 12
        (8, 21),   # method body, called from line 13
        (14, 8),   # comprehension
        (15, 17),  # lambda body, called from line 16
        (18, 13),  # while body
        (19, 8),   # a statement over two lines
    ]
    assert f"{tmp_path / 'n.gc'}:5:16: name 'undefined_a' is not defined\n" \
           "        return b + undefined_a\n                   ^\n" in result.stderr
    assert f"{tmp_path / 'n.gc'}:8:21: 'C' object has no attribute 'nope'\n" \
           "            return self.nope\n                        ^\n" in result.stderr


def test_syntax_errors_later_in_a_file_count_lines_from_the_file():
    result = invoke("run", input="x = 1\n\ny = (1 +\n  2]\n")
    assert result.stderr == ("<stdin>:4:4: closing ']' does not match opening '(' at 3:5\n"
                             "      2]\n       ^\n")


def test_fstring_field_error_column():
    result = invoke("eval", 'f"{qq}"')
    assert result.stderr.startswith("<expr>:1:4: name 'qq' is not defined")
    result = invoke("run", input='x = 1\n\nprint(f"{x} {qq}")\n')
    assert result.stderr.startswith("<stdin>:3:14: name 'qq' is not defined")


def test_eval_statements_keep_columns_and_lines():
    result = invoke("eval", "a = x*2; f = lambda t: t / zz; f(a)", "--at", "x=1")
    assert result.stderr.startswith("<expr>:1:28: name 'zz' is not defined")
    result = invoke("eval", "def g(t):\n    return t.nope2\ng(x)", "--at", "x=1")
    assert result.stderr == ("<expr>:2:14: 'Tensor' object has no attribute 'nope2'\n"
                             "        return t.nope2\n                 ^\n")


def test_repl_positions_are_lines_of_the_entry_that_holds_the_code():
    from gradcalc.repl import Repl

    out, err = io.StringIO(), io.StringIO()
    repl = Repl(cli.defaults("repl"), out=out, err=err)
    repl.execute("def f(n):\n    return n.nope\n")
    repl.execute("y = 1\n\nf(y)")
    repl.execute("for i in range(1):\n    qq")
    assert err.getvalue() == (
        "<stdin>:2:14: 'int' object has no attribute 'nope'\n        return n.nope\n"
        "                 ^\n"
        "<stdin>:2:5: name 'qq' is not defined\n        qq\n        ^\n")


def test_underscore_attribute_error_points_at_the_attribute():
    result = invoke("run", input="x = tensor(2., requires_grad=True)\ny = x*2\ny.grad_fn._saved_self\n")
    assert result.stderr == (
        "<stdin>:3:11: access to '_saved_self' is not allowed (gradcalc scripts cannot reach "
        "underscore attributes)\n    y.grad_fn._saved_self\n              ^\n")
    result = invoke("run", input="x = tensor(2.)\nx._foo = 1\n")
    assert result.stderr.startswith("<stdin>:2:3: setting '_foo' is not allowed")


# ---- warnings ----------------------------------------------------------------------------------

NON_LEAF = ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
            ".grad attribute won't be populated during autograd.backward().")


def test_warnings_are_positioned_and_the_script_goes_on():
    result = invoke("run", input="x = tensor(2., requires_grad=True)\ny = x*2\ny.grad\nprint('after')\n")
    assert result.exit_code == 0 and result.stdout == "after\n"
    first, caret_line, caret = result.stderr.splitlines()
    assert first.startswith(f"<stdin>:3:3: warning: {NON_LEAF}")
    assert (caret_line, caret) == ("    y.grad", "      ^")
    assert "gradcalc/" not in result.stderr and "UserWarning" not in result.stderr


def test_warnings_inside_functions_and_loops_once_per_place():
    script = ("x = tensor(2., requires_grad=True)\ny = x*2\ndef f(t):\n    return t.grad\n"
              "for i in range(3):\n    f(y)\nz = x*x\nz.backward(create_graph=True)\n")
    result = invoke("run", input=script)
    assert result.exit_code == 0
    heads = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert len(heads) == 2
    assert heads[0].startswith(f"<stdin>:4:14: warning: {NON_LEAF}")
    assert heads[1].startswith("<stdin>:8:1: warning: Using backward() with create_graph=True")
    assert "compiler.py" not in result.stderr and "safety.py" not in result.stderr


def test_warnings_in_json_mode():
    result = invoke("run", "--json", input="x = tensor(2., requires_grad=True)\ny = x*2\ny.grad\n")
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["line"] == 3 and record["column"] == 3
    assert record["warning"].startswith(NON_LEAF)
    assert result.stderr.startswith("<stdin>:3:3: warning: ")
    obj = json.loads(invoke("eval", "y = x*2; y.grad; y", "--at", "x=1", "--json").stdout)
    (w,) = obj["warnings"]
    assert (w["source"], w["line"], w["column"]) == ("<expr>", 1, 12)
    assert w["warning"].startswith(NON_LEAF)


def test_a_warning_category_other_than_userwarning_is_named():
    from gradcalc.lang.runtime import ScriptWarning

    w = ScriptWarning("overflow", RuntimeWarning, "<stdin>", 2, 3, "a = b")
    assert w.format() == "<stdin>:2:3: warning: RuntimeWarning: overflow\n    a = b\n      ^"


def test_repl_reports_warnings_and_goes_on():
    from gradcalc.repl import Repl

    out, err = io.StringIO(), io.StringIO()
    repl = Repl(cli.defaults("repl"), out=out, err=err)
    repl.execute("x = tensor(2., requires_grad=True)")
    repl.execute("y = x*2\ny.grad")
    repl.execute("y.grad is None")
    assert out.getvalue() == "True\n"
    heads = [line for line in err.getvalue().splitlines() if ": warning: " in line]
    assert heads[0].startswith("<stdin>:2:3: warning: The .grad attribute")
    assert heads[1].startswith("<stdin>:1:3: warning: The .grad attribute")  # a new entry


# ---- limits --------------------------------------------------------------------------------------


def test_limit_messages_name_the_option_that_raises_them():
    result = invoke("eval", "zeros(10**9)")
    assert result.stderr == ("<expr>:1:1: zeros() would have 1,000,000,000 elements, over the "
                             "limit of 67,108,864 (raise it with --max-elements N)\n"
                             "    zeros(10**9)\n    ^\n")
    result = invoke("run", "--max-iterations", "10", input="n = 0\nwhile True:\n    n += 1\n")
    assert result.stderr.startswith(
        "<stdin>:2:1: the script ran more than 10 steps (loop iterations, comprehension items "
        "and script function calls, counted together) (raise it with --max-iterations N)\n")


def test_limit_options_raise_and_lower_the_limits():
    deep = "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nf(300)\n"
    assert invoke("run", input=deep).exit_code == 1
    result = invoke("run", "--max-recursion", "400", input=deep)
    assert result.exit_code == 0 and result.stdout == "300\n"
    result = invoke("eval", "zeros(2000).sum()", "--max-elements", "1000")
    assert "over the limit of 1,000 (raise it with --max-elements N)" in result.stderr
    assert invoke("graph", "zeros(200).sum()", "--max-elements", "100").exit_code == 1
    result = invoke("run", "--max-iterations", "5", input="for i in range(5):\n    pass\ni\n")
    assert result.exit_code == 0 and result.stdout == "4\n"


def test_at_the_recursion_cap_the_message_gives_no_way_up():
    result = invoke("run", "--max-recursion", str(cli.MAX_RECURSION_CAP),
                    input="def f(n):\n    return f(n+1)\nf(0)\n")
    assert "more than 1,000 nested calls of script functions\n" in result.stderr


def test_the_library_message_names_limits():
    from gradcalc.errors import LimitError
    from gradcalc.lang import Limits, Session

    with pytest.raises(LimitError, match=r"raise it with Limits\(max_elements=\.\.\.\)"):
        Session(write=lambda t: None, limits=Limits(max_elements=10)).run("zeros(100)")


@pytest.mark.parametrize("argv", [
    ["eval", "x", "--at", "x=1", "--max-elements", "100", "--max-recursion", "50",
     "--max-iterations", "7"],
    ["run", "-", "--max-recursion", "500"],
    ["graph", "x", "--at", "x=1", "--max-iterations", "3"],
    ["repl", "--max-elements", "1000"],
])
def test_limit_options_parse_alike_in_the_fast_path_and_typer(argv, monkeypatch):
    fast = cli.fast_parse(argv)
    assert fast is not None
    seen = []
    monkeypatch.setattr(cli, "execute", lambda cmd, opts: seen.append((cmd, opts)) or 0)
    result = runner.invoke(cli.build_app(), argv)
    assert result.exit_code == 0, result.output
    assert seen == [fast]


@pytest.mark.parametrize("argv", [
    ["eval", "x", "--max-elements", "0"],
    ["run", "--max-iterations", "-1"],
    ["eval", "x", "--max-recursion", "1001"],
    ["repl", "--max-recursion", "many"],
])
def test_bad_limit_values_are_usage_errors(argv):
    assert cli.fast_parse(argv) is None
    assert invoke(*argv).exit_code == 2


def test_repl_session_takes_the_limit_options():
    from gradcalc.repl import Repl

    out, err = io.StringIO(), io.StringIO()
    repl = Repl({**cli.defaults("repl"), "max_elements": 10}, out=out, err=err)
    repl.execute("zeros(20)")
    assert "over the limit of 10 (raise it with --max-elements N)" in err.getvalue()


# ---- trace and Mermaid -------------------------------------------------------------------------


def _edges(result):
    return [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("→")]


def test_trace_shows_alpha_only_when_it_is_not_one():
    assert _edges(invoke("eval", "x + y", "--at", "x=2,y=3", "--trace")) == [
        "→ x (AccumulateGrad, step 3): grad = tensor(1.)",
        "→ y (AccumulateGrad, step 2): grad = tensor(1.)"]
    assert _edges(invoke("eval", "x.add(y, alpha=2)", "--at", "x=2,y=3", "--trace"))[1] == \
        "→ y (AccumulateGrad, step 2): grad * 2 = tensor(2.)"
    assert _edges(invoke("eval", "x - y", "--at", "x=2,y=3", "--trace"))[1] == \
        "→ y (AccumulateGrad, step 2): -grad = tensor(-1.)"
    assert _edges(invoke("eval", "x.sub(y, alpha=0.5)", "--at", "x=2,y=3", "--trace"))[1] == \
        "→ y (AccumulateGrad, step 2): -grad * 0.5 = tensor(-0.5000)"


def test_trace_of_the_cubic_reads_as_the_chain_rule():
    result = invoke("eval", "x**3+3*x**2+5", "--at", "x=2", "--trace")
    trace = result.stdout.split("backward trace (engine order):\n")[1]
    assert "grad * alpha" not in trace and trace.count("x.grad = tensor(24.)") == 1
    assert trace.startswith("  1. AddBackward0  () float32\n     grad in: tensor(1.)\n")
    assert "  3. MulBackward0  () float32\n     grad in: tensor(1.)\n" \
           "     → PowBackward0 (step 4): grad * other = tensor(3.)\n" in trace
    assert trace.count("self**(exponent - 1) = tensor(12.)") == 2
    assert trace.endswith("  6. x = AccumulateGrad  () float32\n     grad in: tensor(24.)\n"
                          "     x.grad = tensor(24.)\n")


def test_trace_lists_leaves_it_never_reached():
    trace = invoke("eval", "x*2", "--at", "x=1,y=2", "--trace").stdout
    assert trace.endswith("     x.grad = tensor(2.)\n  leaf gradients:\n    y.grad = None\n")


def test_mermaid_marks_the_result_like_dot():
    lines = invoke("graph", "z = x*2; z", "--at", "x=1", "--format", "mermaid").stdout.splitlines()
    assert lines[-2:] == ["  classDef result fill:#caff70,stroke:#333,stroke-width:2px",
                          "  class n0 result"]
    lines = invoke("graph", "x", "--at", "x=1", "--format", "mermaid").stdout.splitlines()
    assert "result" not in "\n".join(lines)  # a leaf result stays a leaf, as in DOT


def test_numpy_inf_and_nan_stay_silent_as_in_pytorch():
    result = invoke("eval", "log(x) + x/0 + sqrt(-x-1)", "--at", "x=0")
    assert result.exit_code == 0 and result.stderr == ""
