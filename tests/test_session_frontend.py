# Language layer, the Session's front-end API as the REPL and `run` use it (the real Session):
# help on every kind of name, one rule for "is this entry complete", syntax errors with their
# position, statements chunked from a stream as they arrive; and none of it runs script code.
import pytest

from gradcalc.errors import ParseError
from gradcalc.lang import Session


def session(script=""):
    s = Session(write=lambda t: None)
    if script:
        s.run(script)
    return s


@pytest.mark.parametrize("name, text", [
    ("sigmoid", "sigmoid(input)\n\nAn op of gradcalc's op table (differentiable), as "
                "torch.sigmoid; PyTorch's documentation applies (docs/differences.md lists "
                "where gradcalc differs)."),
    ("torch.sin", "torch.sin(input)\n\nElementwise sin."),
    ("F.relu", "F.relu(input)\n\nAn op of gradcalc's op table (differentiable), as torch.relu; "
               "PyTorch's documentation applies (docs/differences.md lists where gradcalc "
               "differs)."),
    ("nn.Linear", "class nn.Linear(in_features, out_features, bias=True, device=None, "
                  "dtype=None)\n\ny = x Aᵀ + b, with PyTorch's default initialisation "
                  "(Kaiming-uniform, a=√5)."),
    ("len", "len(obj, /)\n\nReturn the number of items in a container.\n\n(Python's builtin)"),
])
def test_help_on_builtins_and_namespaces(name, text):
    assert session().help(name) == text


def test_help_on_the_scripts_own_names():
    s = session('def f(x, y=2, *rest, k=1, **kw):\n    """Square x.\n\n    More."""\n'
                '    return x * x\ng = lambda t: t\nx = tensor([1., 2.], requires_grad=True)\n'
                'class Net(nn.Module):\n    def __init__(self, n):\n        """A net."""\n'
                '        super().__init__()\nnet = Net(2)')
    assert s.help("f") == "f(x, y=2, *rest, k=1, **kw)\n\nSquare x."
    assert s.help("g") == "g(t)\n\n(a lambda defined in this session; it has no docstring)"
    assert s.help("x") == "x: a tensor of shape (2,) float32, requires_grad"
    assert s.help("x.sum").startswith("x.sum(dim=None, keepdim=False, *, dtype=None)\n\n")
    assert s.help("Net") == "class Net(Module)\n\nNet(n): a class defined in this session\n\nA net."
    assert s.help("net") == "net: an instance of Net, a class defined in this session"


def test_help_never_runs_a_property_a_script_defined():
    s = session("calls = []\nclass Spy(object):\n    def __init__(self):\n        pass\n"
                "    def get(self):\n        calls.append(1)\n        return 1\n"
                "    boom = property(get)\nspy = Spy()")
    with pytest.raises(KeyError):
        s.help("spy.boom")
    assert s.help("spy") == "spy: an instance of Spy, a class defined in this session"
    assert s.namespace["calls"] == []


def test_help_on_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        session().help("qqq_undefined")
    with pytest.raises(KeyError):
        session().help("torch.qqq_undefined")


@pytest.mark.parametrize("text, complete", [
    ("x = 1", True),
    ("", True),
    ("x = (1,", False),
    ("s = '''a", False),
    ("def f(x):", False),
    ("for i in range(3):\n    print(i)", False),
    ("for i in range(3):\n    print(i)\n", True),
    ("for i in range(3):\n    print(i)\n    ", True),  # the REPL's auto-indent, then Enter
    ("if x:\n    y = 1\nelse:", False),
    ("d = {1:\n 2}", True),  # a colon at a line's end inside a dict is not a block
    ("x = )", True),  # a syntax error is complete: running it reports the error
])
def test_one_rule_for_a_complete_entry(text, complete):
    assert Session.is_complete(text) is complete


def test_syntax_error_with_its_position_or_none():
    e = Session.syntax_error("x = 1 +* 2")
    assert isinstance(e, ParseError) and (e.line, e.column) == (1, 8)
    assert Session.syntax_error("x = (1,") is None
    assert Session.syntax_error("x = 1") is None


def test_chunks_of_a_stream():
    text = iter(["a = 1\n", "\n", "def f(x):\n", "    return x\n", "\n", "b = [1,\n", "2]\n",
                 "if a:\n", "    c = 1\n", "else:\n", "    c = 2\n", ""])
    assert list(Session.chunks(lambda: next(text))) == [
        (1, "a = 1\n"), (3, "def f(x):\n    return x\n\n"), (6, "b = [1,\n2]\n"),
        (8, "if a:\n    c = 1\nelse:\n    c = 2\n")]


def test_bind_and_variables():
    s = session("x = 1\n2")
    s.bind("Out", {1: 2})
    assert s.variables() == {"x": 1, "Out": {1: 2}}
    assert s.evaluate("Out[1] + x") == 3
