# The lean parser (gradcalc's own lexer + LALR loop over the tables Lark exports) must build
# exactly the trees Lark's own loop builds, accept exactly what Lark accepts, and leave Lark
# unimported on the success path.
import ast
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcalc.lang import larkparser, parser
from gradcalc.lang.ast import Node

ROOT = Path(__file__).resolve().parent.parent


def _corpus() -> list[str]:
    """Every string constant in the tests (most are snippets of the language), the examples,
    and some cases chosen for the lexer, the Indenter and the tree shaping."""
    texts = set()
    for f in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and len(node.value) < 4000:
                texts.add(node.value)
    for f in sorted((ROOT / "examples").iterdir()):
        if f.suffix in (".gc", ".py"):
            texts.add(f.read_text(encoding="utf-8"))
    texts.update(EXTRA)
    return sorted(texts)


EXTRA = [
    "", "\n", "# only a comment", "x  # trailing comment", "\n\n  \n",
    "x = 1; y = 2;", "a, *b = c", "(a, b), c = d", "del a, b[0], c.d", "x **= 2", "x //= 3",
    "x[:]", "x[::2]", "x[1:]", "x[:, None]", "x[..., 0]", "x[1:2, ::-1]", "x[a, b,]",
    "f(*a, **k)", "f(x for x in y)", "f(a, b=1, *c, **d)", "f(a,)\n", "f()()[0].g",
    "lambda: 0", "lambda x, *a, y=1, **k: x", "lambda *, k: k",
    "a if b else c if d else e", "not not a", "a < b <= c is not d not in e in f",
    "-+~x", "2 ** -1 ** 2", "a @ b @ c", "a << 1 >> 2 & 3 | 4 ^ 5",
    "0x1F + 0o17 + 0b101 + 1_000 + 1.5e-3 + 2j + .5 + 5. + 1e5j + 00",
    "'a' 'b' \"c\"", "f'{x!r:>{w}} {y=} {{z}}'", "rb'x'", "'''long\nstring'''",
    "f'{a[\"k\"]}'", "f'{f\"{x}\"}'", "x = \\\n  1",
    "[a for a in b if c for d in e]", "{k: v for k, v in d.items()}", "{a, *b}", "{**a, 'b': 1}",
    "(x for x in y)", "()", "(1,)", "[]", "{}", "[1, 2,]", "[\n  1,\n  2\n]",
    "if a:\n    b\nelif c:\n    d\nelse:\n    e\n",
    "for i in range(3):\n    if i:\n        continue\n    break\nelse:\n    pass\n",
    "while x:\n\tx -= 1\n", "with a as b, c:\n    pass\n",
    "def f(a, b=1, *args, c, **kw) -> int:\n    global g\n    return a\n",
    "def f(*, k=1):\n    def g():\n        nonlocal k\n        return\n    return g\n",
    "@dec\n@dec2(1)\ndef f():\n    pass\n", "class A(B, metaclass=M):\n    x = 1\n",
    "import a.b as c, d\nfrom e.f import g as h, i\nfrom j import *\nfrom k import (l, m,)",
    "assert x, 'msg'", "raise E", "raise", "return", "pass; pass",
    "if x:\n    y\n  z\n", "if x:\ny", "x = (1,\n", "x = [1, 2)", "x = 1 +", "f(a b)",
    "[a for a inb]", "def None(): pass", "x.if", "x = 1 if 2", "@", "a ->", "1if x else 2",
    "x\r\ny\r\n", "x\ry", "  x", "x\n  y", "def f():\n\n    return 1\n\n", "f'{'", "f'}'",
    "'unterminated", "x = $", "0777", "1__0", "\t\tx", "a.b.c(d)[e].f", "print(*[1, 2], sep='')",
]


def _same(a, b, path="tree"):
    """Deep equality of two trees, positions and value types included."""
    assert type(a).__name__ != "Token", f"{path}: a token left in the lean tree"
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Node):
        assert (a.kind, a.line, a.column) == (b.kind, b.line, b.column), f"{path}: {a} != {b}"
        _same(list(a.args), list(b.args), f"{path}.{a.kind}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _both(text: str, start: str):
    """(lean result or exception, Lark result or exception) for one text."""
    prepared = parser._prepare(text)
    out = []
    for run in (lambda: lean().parse(prepared, start), lambda: larkparser.raw_parse(prepared, start)):
        try:
            out.append((run(), None))
        except RecursionError:
            raise
        except Exception as e:  # noqa: BLE001 - any rejection counts as one
            out.append((None, e))
    return out


def lean():
    driver = parser._lean()
    assert driver is not None, "the lean tables were not exported"
    return driver


def _check(text: str, start: str) -> bool:
    (a, ea), (b, eb) = _both(text, start)
    assert (ea is None) == (eb is None), (
        f"{start} {text!r}: lean {'rejects' if ea else 'accepts'}, Lark "
        f"{'rejects' if eb else 'accepts'} ({ea or eb!r})")
    if ea is None:
        _same(a, b)
    return ea is None


def test_corpus_parses_the_same_both_ways():
    corpus = _corpus()
    accepted = 0
    for text in corpus:
        for start in ("file_input", "eval_input"):
            accepted += _check(text, start)
    assert len(corpus) > 1000 and accepted > 1500  # the corpus really exercises the parser


VOCAB = ["x", "y", "f", "None", "True", "if", "else", "for", "in", "inb", "not", "and", "or",
         "is", "lambda", "def", "return", "pass", "import", "from", "as", "0", "1", "0x1f",
         "1.5e3", "2j", "'s'", '"t"', "f'{x}'", "...", "(", ")", "[", "]", "{", "}", ",", ":",
         ";", ".", "=", "==", "+", "-", "*", "**", "/", "//", "%", "@", "<", ">", "!=", "<<",
         "&", "|", "^", "~", "->", "+=", "**=", "\n", "\n    ", "\n  ", "#c\n", "\\\n", "\t"]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(VOCAB), max_size=14), st.lists(st.booleans(), max_size=14),
       st.sampled_from(["file_input", "eval_input"]))
def test_token_soup_is_accepted_and_built_the_same(tokens, spaces, start):
    text = "".join(t + (" " if i < len(spaces) and spaces[i] else "") for i, t in enumerate(tokens))
    _check(text, start)


def test_parse_does_not_import_lark_and_errors_read_as_lark_gives_them(tmp_path):
    code = (
        "import sys\n"
        "from gradcalc.errors import ParseError\n"
        "from gradcalc.lang import parse\n"
        "parse('def f(x):\\n    return [v**2 for v in x if v]\\nf(range(3))')\n"
        "print('lark' in sys.modules)\n"
        "try:\n"
        "    parse('x = (1,\\n2]')\n"
        "except ParseError as e:\n"
        "    print(e.format().splitlines()[0])\n"
        "print('lark' in sys.modules)\n"
    )
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "False",
        "<input>:2:2: closing ']' does not match opening '(' at 1:5",
        "True",
    ]


def test_lean_driver_matches_lark_on_deep_nesting():
    text = "(" * 60 + "x" + ")" * 60 + " + [" * 30 + "1" + "]" * 30
    assert _check(text, "eval_input")


@pytest.mark.parametrize("text", ["x = 1\n" * 2000, "f(" + ", ".join(["a"] * 3000) + ")"])
def test_long_inputs_parse_the_same(text):
    assert _check(text, "file_input")
