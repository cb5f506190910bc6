# The sandbox: escape attempts and resource bombs each end in a GradcalcError, quickly.
import time

import pytest

from gradcalc.errors import GradcalcError, LimitError, ParseError, SecurityError
from gradcalc.lang import Limits, Session

ESCAPES = [
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "print.__self__",
    "x = torch.tensor(1., requires_grad=True)\n(x * 2).grad_fn.__class__.__mro__",
    "x = torch.tensor(1., requires_grad=True)\n(x * 2).grad_fn.__class__()",
    "x = torch.tensor(1.)\nx.__dict__",
    "torch.tensor(1.).__class__.__mro__",
    "open('/etc/passwd')",
    "exec('import os')",
    "eval('1 + 1')",
    "compile('1', 'f', 'eval')",
    "__import__('os')",
    "__builtins__",
    "globals()",
    "locals()",
    "vars()",
    "dir()",
    "getattr(torch, 'sin')",
    "setattr(torch, 'sin', 1)",
    "breakpoint()",
    "input()",
    "import os\nos.system('true')",
    "import sys",
    "import subprocess",
    "from os import system",
    "import torch.utils.cpp_extension",
    "from importlib import import_module",
    "import numpy.ctypeslib",
    "'{0.__class__.__bases__}'.format(1)",
    "'{0.__init__.__globals__}'.format(torch)",
    "'{0.real.__class__.__base__}'.format(1)",
    "(lambda: 1).__globals__",
    "(lambda: 1).__code__",
    "def f(): pass\nf.__globals__",
    "class A:\n    def __getattr__(self, n):\n        return 1",
    "class A:\n    def __del__(self):\n        pass",
    "class A:\n    __slots__ = ()",
    "class A(int):\n    pass",
    "class A(torch.Tensor.__class__):\n    pass",
    "type(int)",
    "type(type(1))",
    "isinstance.__call__",
    "(1).__add__(2)",
    "int.__subclasses__()",
    "str.__dict__",
    "torch.core",
    "torch.lang",
    "torch.errors",
    "torch.save(torch.ones(1), 'x.pt')",
    "torch.load('x.pt')",
    "torch._C",
    "nn.functional._reduction",
    "torch.tensor(1.).numpy().tofile('x')",
    "torch.tensor(1.).numpy().ctypes",
    "np.random.__dict__",
    "F.relu.__module__",
    "x = torch.tensor(1.)\nx._data",
    "x = torch.tensor(1.)\nx._version",
    "object.__subclasses__()",
    "super(int, 1)",
    "print('x', file=1)",
    "'%s' % ().__class__.__subclasses__()",
    "[c for c in ().__class__.__bases__]",
    "x = torch.tensor(1.)\nx._grad = 1",
    "m = nn.Linear(1, 1)\nm._parameters",
    "m = nn.Linear(1, 1)\nm.__dict__",
    "m = nn.Linear(1, 1)\nm._modules = {}",
    "b'\\x00'",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_escape_attempts_fail_cleanly(text):
    s = Session(write=lambda t: None, limits=Limits(timeout=5))
    with pytest.raises(GradcalcError) as e:
        s.run("import torch\nimport torch.nn as nn\nimport numpy as np\n" + text, "<attack>")
    assert e.value.line is not None
    assert e.value.message
    assert isinstance(e.value, (SecurityError, ParseError)) or "not" in e.value.message \
        or "has no attribute" in e.value.message


BOMBS = [
    "zeros(10**12)",
    "torch.ones(10**6, 10**6)",
    "torch.randn(10**5, 10**5)",
    "torch.full((10**6, 10**6), 1.)",
    "torch.arange(10**12)",
    "torch.linspace(0, 1, 10**12)",
    "torch.eye(10**7)",
    "x = torch.ones(10**5)\ny = x[:, None] * x",
    "x = torch.ones(10**5)\ny = torch.outer(x, x)",
    "x = torch.ones(10**5)\nx.repeat(10**5)",
    "x = torch.ones(10)\nx.new_zeros(10**6, 10**6)",
    "'a' * 10**10",
    "[0] * 10**10",
    "(1,) * 10**10",
    "10**10**10",
    "2**10**9",
    "pow(10, 10**10)",
    "1 << 10**10",
    "x = 2**100000\ny = x * x * x * x * x * x * x * x * x * x * x",
    "x = [1]\nfor i in range(100):\n    x = x + x",
    "s = 'a'\nwhile True:\n    s = s + s",
    "while True:\n    pass",
    "for i in range(10**12):\n    pass",
    "def f(n):\n    return f(n + 1)\nf(0)",
    "def f():\n    return [f() for _ in range(2)]\nf()",
    "sum(range(10**12))",
    "list(range(10**12))",
    "sorted(range(10**12))",
    "max(range(10**12))",
    "''.join('a' for _ in range(10**12))",
    "l = []\nl.extend(iter(int, 1))",
    "'a'.replace('a', 'b' * 10**9)",
    "'ab'.zfill(10**10)",
    "'ab'.center(10**10)",
    "f'{1:100000000000}'",
    "'{:10000000000}'.format(1)",
    "format(1, '10000000000')",
    "x = [c for c in range(10**12)]",
    "x = {i: i for i in range(10**12)}",
    "a, *b = range(10**12)",
    "print(*range(10**12))",
    "import math\nmath.factorial(10**7)",
    "torch.tensor(range(10**12))",
    "x = " + "[" * 5000 + "1" + "]" * 5000,
    "x = " + "-" * 100000 + "1",
    "l = [1]\nl *= 10**10",
]


@pytest.mark.parametrize("text", BOMBS)
def test_resource_bombs_are_limited(text):
    s = Session(write=lambda t: None, limits=Limits(timeout=1.0, max_elements=10**7))
    t0 = time.monotonic()
    with pytest.raises(GradcalcError) as e:
        s.run("import torch\n" + text, "<bomb>")
    assert time.monotonic() - t0 < 20
    assert isinstance(e.value, (LimitError, ParseError)) or "too" in e.value.message \
        or "limit" in e.value.message


def test_redundant_parentheses_do_not_nest():
    # 5,000 parentheses around one number are no bomb: the tree holds only the number
    s = Session(write=lambda t: None)
    s.run("x = " + "(" * 5000 + "1" + ")" * 5000)
    assert s.namespace["x"] == 1


def test_limits_leave_normal_work_alone():
    s = Session(write=lambda t: None, limits=Limits(max_elements=10**6))
    s.run("import torch\nx = torch.zeros(1000, 1000)\ny = (x + 1).sum()\ns = 'ab' * 1000")
    assert s.namespace["y"].item() == 10**6
