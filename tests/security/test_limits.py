# Resource limits: every bomb is refused before it allocates or runs long, with its own
# positioned one-line message, through the real Session and the real `gradcalc` command; a
# Session (and the REPL) survives each one; ordinary sizes still work. None of these tests
# allocates more than a few hundred MB: the point is that the checks come first.
import io
import os
import shutil
import subprocess
import sys
import time

import pytest

import gradcalc
from gradcalc import cli
from gradcalc.errors import GradcalcError, LimitError
from gradcalc.lang import Limits, Session

GRADCALC = shutil.which("gradcalc") or os.path.join(os.path.dirname(sys.executable), "gradcalc")

ELEMENTS = "over the limit of 67,108,864"  # the default max_elements, 2**26


def session(**limits) -> Session:
    return Session(write=lambda text: None, limits=Limits(**limits))


def refused(text: str, pattern: str, kind=LimitError, **limits) -> GradcalcError:
    """Run `text` in a fresh Session: it must raise a positioned `kind` of error matching
    `pattern`, and the Session must still evaluate afterwards (after a timeout it still
    answers, with the timeout: its time is spent)."""
    s = session(**limits)
    with pytest.raises(kind, match=pattern) as e:
        s.run("import torch\nimport torch.nn.functional as F\nimport math\n" + text, "bomb.py")
    err = e.value
    assert err.line is not None and err.column is not None
    head = err.format().splitlines()[0]
    assert head.startswith(f"bomb.py:{err.line}:{err.column}: ")
    assert "internal error" not in head and "Traceback" not in err.format()
    if "timed out" in err.message:
        with pytest.raises(LimitError, match="timed out"):
            s.evaluate("1 + 1")
    else:
        assert s.evaluate("1 + 1") == 2
    return err


def gradcalc_cmd(*args, stdin=None):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([GRADCALC, *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120, check=False)


# ---- A: every allocation is checked by its result's size, before it happens ------------------

SIZE_BOMBS = [
    ("zeros(1).expand(20000, 20000).contiguous()",
     rf"expand\(\) would have 400,000,000 elements, {ELEMENTS}"),
    ("zeros(tensor(20000), tensor(20000))", r"zeros\(\) would have 400,000,000 elements"),
    ("F.pad(zeros(1, 1), (0, 20000, 0, 20000))", r"pad\(\) would have 400,040,001 elements"),
    ("F.one_hot(tensor([20000 * 20000 - 1]))", r"one_hot\(\) would have 400,000,000 elements"),
    ("x = zeros(2**25)\ntorch.cat([x, x, x])", r"cat\(\) would have 100,663,296 elements"),
    ("x = zeros(2**25)\ntorch.stack([x, x, x])", r"stack\(\) would have 100,663,296 elements"),
    ("zeros(10000).repeat(10000)", r"repeat\(\) would have 100,000,000 elements"),
    ("torch.diag(zeros(20000))", r"diag\(\) would have 400,000,000 elements"),
    ("zeros_like(zeros(1).expand(20000, 20000))", r"expand\(\) would have 400,000,000"),
    ("torch.randperm(300000000)", r"randperm\(\) would have 300,000,000 elements"),
    ("x = randn(20000, 1)\ntorch.add(x, x.t())", r"add\(\) would have 400,000,000 elements"),
    ("x = randn(20000, 1)\nx * x.t()", r"mul\(\) would have 400,000,000 elements"),
    ("x = randn(20000, 1)\ntorch.where(x > 0, x, x.t())", r"where\(\) would have 400,000,000"),
    ("x = randn(20000, 1)\nx < x.t()", r"lt\(\) would have 400,000,000 elements"),
    ("x = randn(1, 20000)\nx[zeros(20000, dtype=torch.long)]",
     r"indexing would have 400,000,000 elements"),
    ("torch.index_select(randn(20000, 1), 1, zeros(20000, dtype=torch.long))",
     r"index_select\(\) would have 400,000,000 elements"),
    ("randn(20000, 1) @ randn(1, 20000)", r"matmul\(\) would have 400,000,000 elements"),
    ("torch.mm(randn(20000, 1), randn(1, 20000))", r"mm\(\) would have 400,000,000 elements"),
    ("torch.arange(10**12)", r"arange\(\) would have 1,000,000,000,000 elements"),
    ("torch.eye(10**5)", r"eye\(\) would have 10,000,000,000 elements"),
    ("x = torch.ones(10)\nx.new_zeros(10**6, 10**6)",
     r"zeros\(\) would have 1,000,000,000,000 elements"),
    ("torch.tensor([[0] * 10**4] * 10**4)", r"tensor\(\) would have 100,000,000 elements"),
]


@pytest.mark.parametrize("text, pattern", SIZE_BOMBS, ids=[t for t, _ in SIZE_BOMBS])
def test_size_bombs_are_refused_by_result_size(text, pattern):
    err = refused(text, pattern)
    assert err.message.endswith("(raise it with Limits(max_elements=...))")


@pytest.mark.parametrize("text", ["zeros(2**26).tolist()", "zeros(2**26).numpy().tolist()"])
def test_tolist_is_refused_by_the_memory_its_python_numbers_need(text):
    # 2**26 float32 elements are 256 MiB as a tensor, about 2 GiB as a list of Python floats
    refused(text,
            r"tolist\(\) would need 2\.0 GiB more memory, with 256\.0 MiB already in use: "
            r"over the memory limit of 2\.0 GiB \(raise it with Limits\(max_memory=\.\.\.\)\)")


PYTHON_BOMBS = [
    ("'%2000000000d' % 1", rf"format width 2,000,000,000 is {ELEMENTS}"),
    ("'%*d' % (10**9, 1)", r"format width 1,000,000,000 is over the limit"),
    ("'%.*f' % (10**9, 1.5)", r"format width 1,000,000,000 is over the limit"),
    ("'{:{}}'.format(1, 10**9)", r"format width 1,000,000,000 is over the limit"),
    ("f'{1:{10**9}}'", r"format width 1,000,000,000 is over the limit"),
    ("format(1, '10000000000')", r"format width 10,000,000,000 is over the limit"),
    ("'a'.ljust(tensor(10**10))", r"the string would have 10,000,000,000 characters"),
    ("'a'.center(True + 10**10)", r"the string would have 10,000,000,001 characters"),
    ("'ab'.zfill(10**10)", r"the string would have 10,000,000,000 characters"),
    ("'a'.replace('', 'b' * 10**4) .replace('b', 'c' * 10**4)",
     r"the string would have 200,000,001 characters"),
    ("s = 'a' * 10**7\n'{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format(s)",
     r"the string would have more than 67,108,864 characters"),
    ("s = 'a' * 10**7\n'%s%s%s%s%s%s%s' % (s, s, s, s, s, s, s)",
     r"the formatted string would have 70,000,014 elements"),
    ("s = 'a' * 10**7\nf'{s}{s}{s}{s}{s}{s}{s}'", r"the f-string would have 70,000,000 characters"),
    ("[0] * tensor(10**10)", r"the repetition would have 10,000,000,000 elements"),
    ("'a' * 10**10", r"the repetition would have 10,000,000,000 elements"),
    ("x = [0]\nx *= 10**10", r"the repetition would have 10,000,000,000 elements"),
    ("l = [1, 2]\nl.extend(range(10**8))", r"list.extend\(\) would have 100,000,000 elements"),
]


@pytest.mark.parametrize("text, pattern", PYTHON_BOMBS, ids=[t for t, _ in PYTHON_BOMBS])
def test_python_object_bombs_are_refused_before_they_are_built(text, pattern):
    refused(text, pattern)


@pytest.mark.parametrize("text, pattern", [
    ("l = []\nl.extend(iter(int, 1))", r"list.extend\(\) would have more than 100,000 "),
    ("''.join(str(i) for i in iter(int, 1))", r"str.join\(\) would have more than 100,000 "),
    ("x = [i for i in iter(int, 1)]", r"the comprehension would have 100,352 elements"),
    ("x = [0] * 10**4\ny = x + x + x + x + x + x + x + x + x + x + x",
     r"the concatenation would have 110,000 elements, over the limit of 100,000"),
    ("sum([[0] * 1000] * 1000, [])", r"sum\(\) would have 101,000 elements"),
])
def test_endless_iterators_are_cut_at_the_element_limit(text, pattern):
    # (a small limit: the interpreter needs a few microseconds per item to get there)
    refused(text, pattern, max_elements=10**5, max_iterations=None)


def test_astype_to_huge_strings_is_refused():
    from gradcalc.errors import SecurityError

    refused("zeros(2**25).numpy().astype('S1000000000')", r"numeric and bool dtypes only",
            kind=SecurityError)


MEMORY_BOMBS = [
    # untouched zeros are counted by their bytes (the guard tracks live tensors)
    ("xs = [zeros(2**24) for i in range(100)]", {},
     (r"zeros\(\) would need 64\.0 MiB more memory, with [\d.]+ GiB already in use: over the "
     r"memory limit of 2\.0 GiB")),
    # touched memory: tensors, lists and strings, counted by the process's resident memory
    ("xs = [ones(2**20) + i for i in range(100)]", {"max_memory": 64 * 2**20},
     (r"((ones|add)\(\) would need 4\.0 MiB more memory, with [\d.]+ MiB already in use|"
     r"the (script|session) holds [\d.]+ MiB): over the memory limit of 64\.0 MiB")),
    ("xs = [[0] * 10**6 for i in range(100)]", {"max_memory": 64 * 2**20},
     (r"the repetition would need 7\.6 MiB more memory, with [\d.]+ MiB already in use: over "
     r"the memory limit of 64\.0 MiB")),
    ("xs = ['ab' * 5 * 10**6 for i in range(100)]", {"max_memory": 64 * 2**20},
     (r"the repetition would need 9\.5 MiB more memory, with [\d.]+ MiB already in use: over "
     r"the memory limit of 64\.0 MiB")),
]


@pytest.mark.parametrize("text, limits, pattern", MEMORY_BOMBS, ids=[t for t, _, _ in MEMORY_BOMBS])
def test_many_live_objects_hit_the_session_memory_budget(text, limits, pattern):
    err = refused(text, pattern, **limits)
    assert err.message.endswith("(raise it with Limits(max_memory=...))")


def test_memory_is_given_back_when_tensors_die():
    s = session(max_memory=256 * 2**20)
    for _ in range(20):  # 20 x 128 MiB, one alive at a time
        s.run("x = zeros(2**25)")
    s.run("del x\nys = [zeros(2**24) for i in range(3)]")
    assert len(s.namespace["ys"]) == 3


# ---- issue 12, defect 1: matrix products are sized by their result ----------------------------

@pytest.mark.parametrize("text, shape", [
    ("(randn(100, 100) @ randn(100, 100)).shape", [100, 100]),
    ("(randn(64, 784) @ randn(784, 256)).shape", [64, 256]),
    ("torch.matmul(randn(64, 784), randn(784, 256)).shape", [64, 256]),
    ("torch.mm(randn(64, 784), randn(784, 256)).shape", [64, 256]),
    ("torch.bmm(randn(8, 64, 784), randn(8, 784, 256)).shape", [8, 64, 256]),
    ("torch.einsum('ij,jk->ik', randn(64, 784), randn(784, 256)).shape", [64, 256]),
    ("torch.tensordot(randn(64, 784), randn(784, 256), dims=1).shape", [64, 256]),
    ("(randn(8, 1, 64, 784) @ randn(3, 784, 256)).shape", [8, 3, 64, 256]),
    ("torch.addmm(zeros(256), randn(64, 784), randn(784, 256)).shape", [64, 256]),
])
def test_ordinary_matrix_products_work(text, shape):
    s = session()
    s.run("import torch")
    assert list(s.evaluate(text)) == shape


def test_matrix_products_at_the_limit_work_and_over_it_are_refused():
    s = session(max_elements=10_000)
    assert list(s.evaluate("(randn(100, 50) @ randn(50, 100)).shape")) == [100, 100]
    with pytest.raises(LimitError, match=r"matmul\(\) would have 10,100 elements, over the "
                                         r"limit of 10,000"):
        s.evaluate("randn(101, 1) @ randn(1, 100)")


# ---- B: time ----------------------------------------------------------------------------------

NESTED = "n = 0\nfor i in range(10**5):\n    for j in range(10**5):\n        n += 1\n"


def test_nested_loops_share_one_step_budget():
    err = refused(NESTED, r"the script ran more than 100,000 steps \(loop iterations, "
                          r"comprehension items and script function calls, counted together\) "
                          r"\(raise it with Limits\(max_iterations=\.\.\.\)\)",
                  max_iterations=10**5)
    assert (err.line, err.column) == (6, 5)  # the inner loop


def test_the_step_budget_spans_statements_comprehensions_and_calls():
    s = session(max_iterations=1000)
    s.run("for i in range(600):\n    pass")
    with pytest.raises(LimitError, match="more than 1,000 steps"):
        s.run("for i in range(600):\n    pass")
    s = session(max_iterations=1000)
    with pytest.raises(LimitError, match="more than 1,000 steps"):
        s.run("x = [[j for j in range(100)] for i in range(100)]")
    s = session(max_iterations=10_000)
    with pytest.raises(LimitError, match="more than 10,000 steps") as e:
        s.run("def f(n):\n    return 1 if n == 0 else f(n - 1) + f(n - 1)\nf(30)")
    assert e.value.line == 2


def test_work_under_the_budget_runs():
    s = session(max_iterations=1100)  # 10 outer + 1,000 inner iterations
    s.run("n = 0\nfor i in range(10):\n    for j in range(100):\n        n += 1")
    assert s.namespace["n"] == 1000
    s = session()
    s.run("n = sum(1 for i in range(1000) for j in range(1000))")
    assert s.namespace["n"] == 10**6


def test_timeout_stops_nested_loops():
    refused(NESTED, r"timed out: the script ran longer than the time limit of 0\.3 s "
                    r"\(raise it with Limits\(timeout=\.\.\.\)\)", timeout=0.3)


C_LEVEL_BOMBS = [
    ("math.prod(range(1, 400000))",
     (r"integer result too large: the product would have about [\d,]+ bits \(the limit is "
     r"1,000,000\)")),
    ("pow(3, 2**999999, 7**350000)",
     r"pow\(\) with a 1,000,000-bit exponent and a 982,575-bit modulus would take too long"),
    ("x = 10**300000\ny = x * x * x * x", r"the product would have about 1,993,158 bits"),
    ("x = 10**900000", r"10\*\*900000 would have about 2,989,735 bits"),
    ("x = 7\nx << 10**9", r"the shift would have about 1,000,000,003 bits"),
    ("round(1, -10**8)", r"integer result too large: 10\*\*100000000 \(to round to\)"),
    ("torch.linalg.inv(zeros(5000, 5000))",
     (r"linalg\.inv\(\) would take about 7\.5e\+11 floating-point operations, over the limit "
     r"of 1e\+11 \(raise it with Limits\(max_flops=\.\.\.\)\)")),
    ("torch.einsum('ij,jk->ik', zeros(5000, 5000), zeros(5000, 5000))",
     r"bmm\(\) would take about 2\.5e\+11 floating-point operations, over the limit of 1e\+11"),
]


@pytest.mark.parametrize("text, pattern", C_LEVEL_BOMBS, ids=[t for t, _ in C_LEVEL_BOMBS])
def test_long_c_level_calls_are_refused_up_front(text, pattern):
    refused(text, pattern)


def test_a_call_that_cannot_finish_in_the_time_left_is_refused():
    refused("torch.linalg.inv(zeros(5000, 5000))",
            r"linalg\.inv\(\) would take about 7\.5e\+11 floating-point operations: more than "
            r"the [\d.]+ s left of the time limit allow \(raise it with Limits\(timeout=",
            timeout=2, max_flops=None)


def test_small_ints_and_products_keep_their_values():
    s = session()
    s.run("import math\na = 3 * 4\nb = 2 ** 10\nc = 1 << 70\nd = (10**150000 * 10**150000).bit_length()\n"
          "e = math.prod([2, 3, 4])\nf = pow(3, 200, 1000)\ng = round(1234, -2)\n"
          "h = math.prod(range(1, 21))")
    ns = s.namespace
    assert (ns["a"], ns["b"], ns["c"], ns["d"]) == (12, 1024, 2**70, (10**300000).bit_length())
    assert (ns["e"], ns["f"], ns["g"]) == (24, pow(3, 200, 1000), 1200)
    assert ns["h"] == 2432902008176640000


def test_timeout_counts_running_time_not_idle_time():
    s = session(timeout=0.5)
    s.run("x = 1")
    time.sleep(0.7)  # idle, as a REPL waiting for its next line
    s.run("y = x + 1")
    assert s.namespace["y"] == 2
    with pytest.raises(LimitError, match=r"timed out: .* time limit of 0\.5 s"):
        s.run("while True:\n    pass")
    with pytest.raises(LimitError, match=r"timed out"):  # the budget is spent
        s.run("z = 1")


def test_limits_and_the_default_dtype_are_per_session():
    small, big = session(max_elements=1000), session()
    with pytest.raises(LimitError, match=r"format width 2,000 is over the limit of 1,000"):
        small.run("'{:2000}'.format(1)")
    assert len(big.evaluate("'{:2000}'.format(1)")) == 2000
    with pytest.raises(LimitError, match=r"the string would have 2,000 characters"):
        small.run("'a'.ljust(2000)")  # a later Session did not change this one's limit
    small.run("import torch\ntorch.set_default_dtype(torch.float64)\na = tensor(1.).dtype")
    big.run("b = tensor(1.).dtype")
    small.run("c = tensor(1.).dtype")
    assert small.namespace["a"] is small.namespace["c"] is gradcalc.float64
    assert big.namespace["b"] is gradcalc.float32
    assert gradcalc.get_default_dtype() is gradcalc.float32


def test_the_library_is_unlimited_outside_a_session():
    s = session(max_elements=10)
    with pytest.raises(LimitError):
        s.run("zeros(1).expand(100, 100)")
    view = gradcalc.zeros(1).expand(20000, 20000)  # a view: no memory, no limit
    assert list(view.shape) == [20000, 20000]
    assert (gradcalc.randn(100, 1) + gradcalc.randn(1, 100)).shape == (100, 100)


# ---- C: one positioned line, exit 1, through the real command and the REPL --------------------

@pytest.mark.parametrize("args, stdin, expected", [
    (["eval", "zeros(1).expand(20000, 20000).contiguous()"], None,
     ("<expr>:1:1: expand() would have 400,000,000 elements, over the limit of 67,108,864 "
     "(raise it with --max-elements N)\n    zeros(1).expand(20000, 20000).contiguous()\n    ^\n")),
    (["eval", "(randn(100, 1) @ randn(1, 100)).shape", "--max-elements", "1000"], None,
     ("<expr>:1:16: matmul() would have 10,000 elements, over the limit of 1,000 (raise it with "
     "--max-elements N)\n    (randn(100, 1) @ randn(1, 100)).shape\n                   ^\n")),
    (["run", "-", "--max-iterations", "1000"], NESTED,
     ("<stdin>:3:5: the script ran more than 1,000 steps (loop iterations, comprehension items "
     "and script function calls, counted together) (raise it with --max-iterations N)\n"
     "        for j in range(10**5):\n        ^\n")),
    (["eval", "zeros(2**26).tolist()", "--max-memory", "64M"], None,
     ("<expr>:1:1: zeros() would need 256.0 MiB more memory, with 0 B already in use: over the "
     "memory limit of 64.0 MiB (raise it with --max-memory SIZE)\n"
     "    zeros(2**26).tolist()\n    ^\n")),
    (["eval", "pow(3, 2**999999, 7**350000)"], None,
     ("<expr>:1:1: pow() with a 1,000,000-bit exponent and a 982,575-bit modulus would take "
     "too long (about 1.1e+15 digit operations, the limit is 3e+08)\n"
     "    pow(3, 2**999999, 7**350000)\n    ^\n")),
    (["eval", "torch.linalg.inv(zeros(5000, 5000))"], None,
     ("<expr>:1:1: linalg.inv() would take about 7.5e+11 floating-point operations, over the "
     "limit of 1e+11 (raise it with --max-flops N)\n"
     "    torch.linalg.inv(zeros(5000, 5000))\n    ^\n")),
    (["run", "-", "--timeout", "0.5"], "while True:\n    pass\n",
     ("<stdin>:1:1: timed out: the script ran longer than the time limit of 0.5 s "
     "(raise it with --timeout S)\n    while True:\n    ^\n")),
    (["eval", "'%2000000000d' % 1"], None,
     ("<expr>:1:16: format width 2,000,000,000 is over the limit of 67,108,864 (raise it with "
     "--max-elements N)\n    '%2000000000d' % 1\n                   ^\n")),
])
def test_the_command_reports_a_bomb_in_one_positioned_line(args, stdin, expected):
    out = gradcalc_cmd(*args, stdin=stdin)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", expected)


def test_the_memory_and_flops_options_raise_the_limits():
    out = gradcalc_cmd("eval", "len(zeros(2**20).tolist())", "--max-memory", "16M")
    assert out.returncode == 1 and "over the memory limit of 16.0 MiB" in out.stderr
    out = gradcalc_cmd("eval", "len(zeros(2**20).tolist())", "--max-memory", "1G", "--plain")
    assert out.returncode == 0 and "1048576" in out.stdout
    out = gradcalc_cmd("eval", "(randn(300, 300) @ randn(300, 300)).shape", "--max-flops",
                       "1e7")
    assert out.returncode == 1 and "over the limit of 1e+07 (raise it with --max-flops N)" \
        in out.stderr
    assert gradcalc_cmd("eval", "1", "--max-memory", "lots").returncode == 2
    assert gradcalc_cmd("eval", "1", "--max-flops", "0").returncode == 2


def test_the_repl_survives_every_bomb():
    from gradcalc.repl import Repl

    out, err = io.StringIO(), io.StringIO()
    repl = Repl({**cli.defaults("repl"), "max_iterations": 10**5}, out=out, err=err)
    bombs = [t for t, _ in SIZE_BOMBS[:6] + PYTHON_BOMBS[:6] + C_LEVEL_BOMBS[:3]] + [NESTED]
    for text in bombs:
        repl.execute("import torch\nimport torch.nn.functional as F\nimport math\n" + text)
    heads = [line for line in err.getvalue().splitlines() if ": " in line and
             line.startswith("<")]
    assert len(heads) == len(bombs), err.getvalue()
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    repl.execute("1 + 1")
    assert out.getvalue().rstrip().endswith("2")
