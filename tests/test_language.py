# The gradcalc language: precedence, every statement form, echo rule, error positions.
import itertools

import pytest

from gradcalc.errors import (
    AttributeNotFound,
    EvalError,
    GradcalcError,
    IncompleteInput,
    LimitError,
    NameNotFound,
    ParseError,
    SecurityError,
)
from gradcalc.lang import NO_ECHO, Limits, Session, is_complete, parse


def run(text, **kw):
    out = []
    s = Session(write=out.append, **kw)
    echoed = []
    s.run(text, "<t>", on_echo=echoed.append)
    return s, "".join(out), echoed


def value(text):
    s = Session(write=lambda t: None)
    return s.evaluate(text)


# ---- precedence: every pair of binary operators, checked against Python itself ----

BINOPS = ["**", "*", "/", "//", "%", "+", "-", "<<", ">>", "&", "^", "|",
          "<", "<=", "==", "!=", ">", ">=", "and", "or"]
OPERANDS = (7, 3, 2)


@pytest.mark.parametrize("op1,op2", list(itertools.product(BINOPS, BINOPS)))
def test_precedence_pairs(op1, op2):
    a, b, c = OPERANDS
    text = f"{a} {op1} {b} {op2} {c}"
    try:
        expected = eval(text)
    except TypeError:  # float << int: gradcalc reports the same TypeError
        with pytest.raises(GradcalcError, match="TypeError: unsupported operand"):
            value(text)
        return
    assert value(text) == expected


@pytest.mark.parametrize("unary,op", list(itertools.product(["-", "+", "~", "not "], BINOPS)))
def test_unary_against_binary(unary, op):
    for text in (f"{unary}7 {op} 3", f"7 {op} {unary}3"):
        if op == "**" and unary == "not " and text.startswith("7"):
            continue  # `7 ** not 3` is a syntax error in Python too
        try:
            expected = eval(text)
        except SyntaxError:
            with pytest.raises(ParseError):
                parse(text)
            continue
        except (TypeError, ValueError) as e:
            with pytest.raises(GradcalcError, match=type(e).__name__):
                value(text)
            continue
        assert value(text) == expected, text


@pytest.mark.parametrize("text,expected", [
    ("-2**2", -4), ("2**3**2", 512), ("2**-1", 0.5), ("(-2)**2", 4), ("not 1 == 2", True),
    ("1 < 2 < 3", True), ("3 > 2 > 2", False), ("1 if 0 else 2 if 0 else 3", 3),
    ("-3 // 2", -2), ("-5 % 3", 1), ("2 * 3 ** 2", 18), ("1 + 2 * 3 - 4 / 2", 5.0),
    ("[1, 2][0] ** 2", 1), ("-[1, 2][1]", -2), ("(lambda x: x * 2)(4)", 8),
    ("1 or 2 and 0", 1), ("not 0 or 0", True), ("1 is None", False), ("2 in [1, 2]", True),
    ("3 not in (1, 2)", True), ("1e-3 * 1000", 1.0), ("0x10 + 0b11 + 0o7", 26),
    ("1_000 + 1", 1001), ("'ab' 'cd'", "abcd"), ("3 & 5 | 2 ^ 1", (3 & 5) | (2 ^ 1)),
])
def test_precedence_examples(text, expected):
    assert value(text) == expected


def test_matmul_precedence_with_tensors():
    s = Session(write=lambda t: None)
    s.run("import torch\na = torch.tensor([[1., 2.], [3., 4.]])\nb = 2.\nc = torch.eye(2)")
    got = s.evaluate("a*b@c")
    assert got.tolist() == [[2.0, 4.0], [6.0, 8.0]]
    assert s.evaluate("-a[0]").tolist() == [-1.0, -2.0]


# ---- statement forms ----

def test_assignment_forms():
    s, out, _ = run("""
x = y = 3
a, b = 1, 2
(c, d), e = (3, 4), 5
first, *rest = [1, 2, 3, 4]
l = [0, 0, 0]
l[1] = 5
l[0] += 2
x += 1
x *= 2
""")
    ns = s.namespace
    assert (ns["x"], ns["y"], ns["a"], ns["b"], ns["c"], ns["d"], ns["e"]) == (8, 3, 1, 2, 3, 4, 5)
    assert ns["rest"] == [2, 3, 4] and ns["l"] == [2, 5, 0]


def test_tensor_attribute_and_item_assignment():
    s, out, _ = run("""
import torch
x = torch.tensor([1., 2.], requires_grad=True)
(x * x).sum().backward()
g = x.grad.clone()
x.grad = None
x.requires_grad = False
x[0] = 5
values, idx = torch.tensor([[1., 5.], [7., 2.]]).max(0)
""")
    ns = s.namespace
    assert ns["g"].tolist() == [2.0, 4.0]
    assert ns["x"].grad is None and ns["x"].requires_grad is False
    assert ns["x"].tolist() == [5.0, 2.0]
    assert ns["values"].tolist() == [7.0, 5.0] and ns["idx"].tolist() == [1, 0]


def test_inplace_on_leaf_is_pytorch_error():
    with pytest.raises(GradcalcError, match="a leaf Variable that requires grad") as e:
        run("import torch\nx = torch.tensor([1.], requires_grad=True)\nx += 1")
    assert e.value.line == 3


def test_del():
    s, _, _ = run("a = 1\nb = [1, 2, 3]\ndel a, b[0]")
    assert "a" not in s.namespace and s.namespace["b"] == [2, 3]
    with pytest.raises(NameNotFound, match="name 'zz' is not defined"):
        run("del zz")


def test_if_elif_else():
    _, out, _ = run("""
for v in [-1, 0, 1]:
    if v < 0:
        print('neg')
    elif v == 0:
        print('zero')
    else:
        print('pos')
""")
    assert out == "neg\nzero\npos\n"


def test_for_over_range_list_tensor_zip_enumerate():
    _, out, _ = run("""
import torch
for i in range(2): print(i)
for s in ['a', 'b']: print(s)
for t in torch.tensor([1., 2.]): print(t)
for i, (p, q) in enumerate(zip([1, 2], [3, 4])): print(i, p + q)
""")
    assert out == "0\n1\na\nb\ntensor(1.)\ntensor(2.)\n0 4\n1 6\n"


def test_while_break_continue_else():
    _, out, _ = run("""
n = 0
while n < 10:
    n += 1
    if n % 2:
        continue
    if n > 6:
        break
    print(n)
else:
    print('no break')
for i in range(2):
    pass
else:
    print('done')
""")
    assert out == "2\n4\n6\ndone\n"


def test_def_defaults_keywords_closures_recursion():
    s, out, _ = run("""
def f(a, b=2, *args, c=3, **kw):
    return a + b + c + sum(args) + len(kw)
def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)
def make_adder(k):
    def add(x):
        return x + k
    return add
def counter():
    n = 0
    def inc():
        nonlocal n
        n += 1
        return n
    return inc
total = 0
def bump():
    global total
    total += 10
bump()
inc = counter()
inc()
""")
    ns = s.namespace
    assert s.evaluate("f(1)") == 6 and s.evaluate("f(1, 1, 1, 1, c=0, z=9)") == 5
    assert s.evaluate("fact(10)") == 3628800
    assert s.evaluate("make_adder(5)(1)") == 6
    assert s.evaluate("inc()") == 2 and ns["total"] == 10
    with pytest.raises(GradcalcError, match=r"f\(\) missing 1 required argument: 'a'"):
        s.evaluate("f()")
    with pytest.raises(GradcalcError, match="unexpected keyword argument 'q'"):
        s.evaluate("fact(1, q=2)")


def test_lambda_comprehensions_generators():
    s, _, _ = run("""
sq = lambda x, p=2: x ** p
a = [x * y for x in range(3) for y in range(3) if x != y if y > 0]
b = {k: v for k, v in zip('ab', [1, 2])}
c = {x % 3 for x in range(10)}
d = sum(x for x in range(5))
e = list(i for i in range(3))
""")
    ns = s.namespace
    assert ns["sq"](3) == 9 and ns["sq"](2, p=3) == 8
    assert ns["a"] == [x * y for x in range(3) for y in range(3) if x != y if y > 0]
    assert ns["b"] == {"a": 1, "b": 2} and ns["c"] == {0, 1, 2}
    assert ns["d"] == 10 and ns["e"] == [0, 1, 2]
    assert "x" not in ns  # comprehension variables do not leak


def test_with_no_grad_and_enable_grad():
    s, _, _ = run("""
import torch
x = torch.tensor(2., requires_grad=True)
with torch.no_grad():
    y = x * 2
    with torch.enable_grad():
        z = x * 3
w = x * 4
""")
    ns = s.namespace
    assert ns["y"].requires_grad is False and ns["z"].requires_grad is True
    assert ns["w"].grad_fn.name() == "MulBackward0"


def test_class_module_registers_parameters():
    s, out, _ = run("""
import torch
import torch.nn as nn
import torch.nn.functional as F
class Net(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.fc1 = nn.Linear(3, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        self.scale = 2.0
    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x))) * self.scale
    def count(self):
        return sum(p.numel() for p in self.parameters())
model = Net()
out = model(torch.randn(5, 3))
out.sum().backward()
""")
    ns = s.namespace
    import gradcalc

    assert isinstance(ns["model"], gradcalc.nn.Module)
    assert s.evaluate("model.count()") == 3 * 4 + 4 + 4 + 1
    assert tuple(ns["out"].shape) == (5, 1)
    assert ns["model"].fc1.weight.grad is not None
    assert s.evaluate("len(list(model.parameters()))") == 4


def test_old_style_super_and_plain_class():
    s, _, _ = run("""
import torch.nn as nn
class A(nn.Module):
    def __init__(self):
        super(A, self).__init__()
        self.lin = nn.Linear(2, 2)
class P:
    def __init__(self, v):
        self.v = v
    def double(self):
        return self.v * 2
""")
    assert s.evaluate("len(list(A().parameters()))") == 2
    assert s.evaluate("P(21).double()") == 42


def test_custom_autograd_function():
    s, _, _ = run("""
import torch
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x ** 2
x = torch.tensor(2., requires_grad=True)
y = Cube.apply(x)
y.backward()
""")
    assert s.namespace["x"].grad.item() == 12.0


def test_pass_assert_print_sep_end():
    _, out, _ = run("pass\nassert 1 == 1\nprint(1, 2, sep='-', end='!\\n')\nprint()")
    assert out == "1-2!\n\n"
    with pytest.raises(EvalError, match="AssertionError: boom") as e:
        run("x = 1\nassert x == 2, 'boom'")
    assert (e.value.line, e.value.column) == (2, 1)


def test_builtins_used_by_tutorials():
    assert value("(len([1, 2]), sum([1, 2]), min(3, 1), max([1, 5]), abs(-2), round(2.567, 2))") \
        == (2, 3, 1, 5, 2, 2.57)
    assert value("(float('inf'), int('7'), bool(0), str(1.5), list('ab'), tuple([1]))") == \
        (float("inf"), 7, False, "1.5", ["a", "b"], (1,))
    assert value("sorted([3, 1, 2], reverse=True)") == [3, 2, 1]
    assert value("isinstance(torch.tensor(1.), torch.Tensor)") is True
    assert value("isinstance(nn.Linear(1, 1), nn.Module)") is True


def test_fstrings_and_format():
    s, out, _ = run("""
import torch
a = torch.tensor(12.0)
x = 3.14159
print(f"{a} {x:.2f} {x!r:>10} {'q'} {{}} {x=:.1f} {a:.3f}")
print("{} and {:.1f}".format(1, 2.0))
w = 6
print(f"{x:{w}.{2}f}|")
""")
    assert out == "12.0 3.14    3.14159 q {} x=3.1 12.000\n1 and 2.0\n  3.14|\n"


def test_imports_accepted_and_others_refused():
    s, _, _ = run("""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import grad, Variable
from torch import nn as nn2, optim
import numpy as np
import math
""")
    import gradcalc

    assert s.evaluate("F.relu") is gradcalc.nn.functional.relu
    assert s.evaluate("torch.sin is sin") is True
    import numpy

    assert s.evaluate("np.array([1., 2.]).dtype") == numpy.dtype("float64")  # NumPy arrays
    assert s.evaluate("math.pi") == pytest.approx(3.141592653589793)
    with pytest.raises(EvalError, match="import of 'subprocess' is not supported") as e:
        run("x = 1\nimport subprocess")
    assert e.value.line == 2
    with pytest.raises(EvalError, match="cannot import name 'nothing' from 'torch'"):
        run("from torch import nothing")


def test_name_spellings_resolve_to_same_objects():
    s, _, _ = run("import torch")
    for a, b in [("sin", "torch.sin"), ("relu", "torch.nn.functional.relu"),
                 ("F.relu", "torch.nn.functional.relu"), ("grad", "torch.autograd.grad"),
                 ("nn.Linear", "torch.nn.Linear"), ("tensor", "torch.tensor")]:
        assert s.evaluate(f"{a} is {b}") is True, (a, b)


def test_variable():
    s, _, _ = run("from torch.autograd import Variable\nimport torch\n"
                  "v = Variable(torch.ones(2), requires_grad=True)")
    assert s.namespace["v"].requires_grad is True


# ---- echo rule and _ ----

def test_echo_rule_and_underscore():
    s, out, echoed = run("1 + 1\nx = 3\nNone\nprint('p')\nx * 2\n_ + 1")
    assert echoed == [2, 6, 7] and out == "p\n"
    assert s.namespace["_"] == 7


def test_no_echo_session_writes_nothing():
    out = []
    s = Session(echo=False, write=out.append)
    s.run("1 + 1\nprint('p')")
    assert out == ["p\n"]


def test_execute_returns_value_or_no_echo():
    s = Session(write=lambda t: None)
    stmts = list(s.statements("x = 1\nx + 1\nNone", "<t>"))
    assert [st.line for st in stmts] == [1, 2, 3]
    assert [s.execute(st) for st in stmts] == [NO_ECHO, 2, NO_ECHO]


def test_labels_name_graph_nodes_and_leaves():
    s, _, _ = run("import torch\nx = torch.tensor(2., requires_grad=True)\nz = x * 3")
    labels = s.labels()
    assert labels[id(s.namespace["x"])] == ["x"]
    assert labels[id(s.namespace["z"].grad_fn)] == ["z"]


# ---- syntax errors: positions and words ----

@pytest.mark.parametrize("text,line,col,message", [
    ("1 +", 1, 4, "expected an expression after '+'"),
    ("x = 1 +* 2", 1, 8, "expected an expression after '+'"),
    ("(1, 2]", 1, 6, "closing ']' does not match opening '(' at 1:1"),
    (")", 1, 1, "unmatched ')'"),
    ("x = $", 1, 5, "invalid character '$' (U+0024)"),
    ("'abc", 1, 1, "unterminated string literal"),
    ("if x\n  y", 1, 5, "expected ':'"),
    ("for i in range(3):\nprint(i)", 2, 1, "expected an indented block after line 1"),
    ("x = 1\n  y = 2", 2, 3, "unexpected indent"),
    ("if 1:\n    a\n  b", 3, 3, "unindent does not match any outer indentation level"),
    ("1 = x", 1, 1, "cannot assign to literal"),
    ("f() = 3", 1, 1, "cannot assign to function call"),
    ("try:\n  pass", 1, 1, "'try' statements are not supported"),
    ("x y", 1, 3, "invalid syntax: unexpected name 'y' after 'x' (perhaps a missing operator "
              "or comma?)"),
    ("break", 1, 1, "'break' outside loop"),
    ("return 1", 1, 1, "'return' outside function"),
    ("f'{}'", 1, 4, "f-string: empty expression not allowed"),
])
def test_syntax_error_messages(text, line, col, message):
    s = Session(write=lambda t: None)
    with pytest.raises(ParseError) as e:
        s.run(text, "<t>")
    err = e.value
    assert (err.message, err.line, err.column) == (message, line, col)
    assert err.source == "<t>"
    for bad in ("__ANON", "$END", "_NEWLINE", "LPAR", "RSQB"):
        assert bad not in err.message


@pytest.mark.parametrize("text,message", [
    ("x = (1 +", "unclosed '(' opened at 1:5"),
    ("f(1,\n  2", "unclosed '(' opened at 1:2"),
    ("if x:", "expected an indented block"),
    ('s = """abc', "unterminated triple-quoted string literal"),
    ("x = 1 + \\", "expected an expression after '+'"),
])
def test_incomplete_input(text, message):
    with pytest.raises(IncompleteInput) as e:
        parse(text)
    assert e.value.message == message
    assert is_complete(text) is False


def test_error_format_has_caret():
    with pytest.raises(ParseError) as e:
        parse("y = 2 * (3 +", "calc")
    assert e.value.format() == "calc:1:13: unclosed '(' opened at 1:9\n    y = 2 * (3 +\n" \
                               "                ^"


def test_is_complete_for_repl():
    assert is_complete("x = 1")
    assert not is_complete("for i in range(3):\n    print(i)")
    assert is_complete("for i in range(3):\n    print(i)\n\n")
    assert is_complete("x = )")  # a syntax error is complete: the REPL reports it


# ---- runtime errors: positions, words, close matches ----

def test_unknown_name_suggests_close_match():
    with pytest.raises(NameNotFound) as e:
        run("x = 1\ny = sigmod(x)")
    assert e.value.message == "name 'sigmod' is not defined; did you mean 'sigmoid'?"
    assert (e.value.line, e.value.column) == (2, 5)


def test_unknown_attribute_names_type():
    with pytest.raises(AttributeNotFound, match="'Tensor' object has no attribute 'foo'"):
        run("import torch\ntorch.tensor(1.).foo")
    with pytest.raises(AttributeNotFound, match="module 'torch' has no attribute 'sine'; "
                                                 "did you mean 'torch.sin'"):
        run("import torch\ntorch.sine(1.)")


def test_python_exceptions_are_wrapped_with_position():
    with pytest.raises(EvalError, match="ZeroDivisionError: division by zero") as e:
        run("a = 1\nb = 2 + a / 0")
    assert (e.value.line, e.value.column) == (2, 11)  # the operator
    with pytest.raises(GradcalcError, match="TypeError: unsupported operand"):
        run("1 + 'a'")
    with pytest.raises(GradcalcError, match="IndexError: list index out of range"):
        run("[1][5]")
    with pytest.raises(GradcalcError, match="KeyError"):
        run("{}['a']")


def test_pytorch_message_with_statement_position():
    with pytest.raises(GradcalcError) as e:
        run("import torch\na = torch.ones(3)\nb = torch.ones(4)\nc = a + b")
    assert "The size of tensor a (3) must match the size of tensor b (4)" in e.value.message
    assert e.value.line == 4


def test_error_inside_function_points_inside():
    with pytest.raises(GradcalcError) as e:
        run("def f(x):\n    return x / 0\nf(1)")
    assert (e.value.line, e.value.column) == (2, 14)


def test_keep_going_collects_errors():
    out = []
    s = Session(write=out.append)
    errors = s.run("print(1)\n1/0\nprint(2)", keep_going=True)
    assert len(errors) == 1 and "".join(out) == "1\n2\n"


# ---- limits ----

def test_recursion_limit():
    with pytest.raises(LimitError, match="maximum recursion depth exceeded"):
        run("def f(n):\n    return f(n + 1)\nf(0)")


def test_deep_recursion_within_limit_works():
    s, _, _ = run("def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nr = f(150)")
    assert s.namespace["r"] == 150


def test_timeout():
    with pytest.raises(LimitError, match="timed out"):
        run("while True:\n    pass", limits=Limits(timeout=0.3))


def test_iteration_limit():
    with pytest.raises(LimitError, match=r"more than 1,000 steps \(loop iterations, "):
        run("for i in range(10**9):\n    pass", limits=Limits(max_iterations=1000))


def test_tensor_size_limit_before_allocation():
    with pytest.raises(LimitError, match="zeros\\(\\) would have 1,000,000,000,000 elements"):
        run("zeros(10**12)")
    with pytest.raises(LimitError):
        run("import torch\ntorch.ones(1000, 1000)", limits=Limits(max_elements=10_000))
    with pytest.raises(LimitError):
        run("import torch\nx = torch.ones(100000)\ny = x[:, None] * x",
            limits=Limits(max_elements=10**6))


def test_security_errors_are_gradcalc_errors():
    for text in ("().__class__.__base__", "open('x')",
                 "x = torch.tensor(1., requires_grad=True)\n(x * 2).grad_fn.__class__()"):
        with pytest.raises(SecurityError):
            run(text)
