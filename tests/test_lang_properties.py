# Property tests: random scalar expressions agree with Python's eval; random bytes never
# raise anything but a GradcalcError.
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcalc.errors import GradcalcError, ParseError
from gradcalc.lang import Limits, Session

_session = Session(write=lambda t: None, limits=Limits(timeout=2.0))

numbers = st.one_of(
    st.integers(min_value=0, max_value=50).map(str),
    st.floats(min_value=0.0, max_value=50.0, allow_nan=False).map(lambda f: repr(round(f, 3))),
)
small_exponents = st.one_of(
    st.integers(min_value=0, max_value=3).map(str),
    st.floats(min_value=0.0, max_value=3.0, allow_nan=False).map(lambda f: repr(round(f, 3))),
)
BINARY = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", "and", "or"]


@st.composite
def expressions(draw, depth=0):
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        return draw(numbers)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return f"({draw(expressions(depth + 1))})"
    if kind == 1:
        return f"-{draw(expressions(depth + 1))}"
    if kind == 2:
        return f"not {draw(expressions(depth + 1))}"
    if kind == 3:
        a, b, c = (draw(expressions(depth + 1)) for _ in range(3))
        return f"{a} if {b} else {c}"
    op = draw(st.sampled_from(BINARY))
    if op == "**":
        # a small literal exponent: the oracle itself (Python's eval) would otherwise spend
        # minutes on an integer like 50 ** 50 ** 50
        return f"{draw(expressions(depth + 1))} ** {draw(small_exponents)}"
    return f"{draw(expressions(depth + 1))} {op} {draw(expressions(depth + 1))}"


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_scalar_expressions_match_python(text):
    try:
        expected = eval(text, {"__builtins__": {}})  # the oracle: Python on floats and ints
    except SyntaxError:
        try:
            _session.evaluate(text)
        except ParseError:
            return
        raise AssertionError(f"{text!r}: Python found a syntax error, gradcalc did not")
    except (ArithmeticError, ValueError, TypeError, MemoryError) as e:
        try:
            _session.evaluate(text)
        except GradcalcError as got:
            assert type(e).__name__ in got.message or "too large" in got.message
            return
        raise AssertionError(f"{text!r}: Python raised {e!r}, gradcalc did not")
    try:
        got = _session.evaluate(text)
    except GradcalcError as e:
        # only a size limit may refuse what Python computes (huge integer powers)
        assert "too large" in e.message, (text, e.message)
        return
    assert _same(got, expected), (text, got, expected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_gradcalc_errors(data):
    text = data.decode("utf-8", errors="replace")
    s = Session(write=lambda t: None, limits=Limits(timeout=1.0, max_elements=10**6))
    try:
        s.run(text, "<fuzz>")
    except GradcalcError:
        pass


TOKENS = ["x", "1", "2.5", "(", ")", "[", "]", ":", ",", "+", "-", "*", "**", "=", "if",
          "else", "for", "in", "def", "f", "lambda", "\n", "    ", "'s'", ".", "sum", "print",
          "torch", "tensor", "not", "==", "{", "}", "return", "class", "@", "#c", "\\\n"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_random_token_soup_raises_only_gradcalc_errors(tokens):
    text = " ".join(tokens)
    s = Session(write=lambda t: None, limits=Limits(timeout=1.0, max_elements=10**6))
    try:
        s.run("x = 1\n" + text, "<fuzz>")
    except GradcalcError as e:
        assert e.line is not None or e.message
