# Hypothesis against the Session API: programs built from hostile pieces (dunder and private
# names, builtins, torch names, attribute chains, calls, class bodies, loops) either run or
# end in a GradcalcError: never another exception, never an internal error, never a hang,
# never a file written.
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcalc.errors import GradcalcError
from gradcalc.lang import Limits, Session

NAMES = ["x", "t", "m", "f", "g", "P", "torch", "nn", "F", "np", "math", "print", "type",
         "len", "iter", "range", "list", "dict", "super", "object", "isinstance", "format",
         "str", "sum", "sorted", "zip", "map", "tensor", "zeros", "ones", "randn", "exec",
         "open", "eval", "getattr", "__import__", "__builtins__", "__name__", "id", "vars"]
ATTRS = ["__class__", "__dict__", "__globals__", "__init__", "__name__", "__reduce__",
         "__subclasses__", "__mro__", "__base__", "__code__", "__closure__", "_data",
         "_grad_fn", "gi_frame", "f_globals", "grad", "grad_fn", "shape", "numpy", "T",
         "data", "next_functions", "sum", "backward", "weight", "parameters", "format",
         "join", "keys", "update", "astype", "tolist", "item", "get", "names", "_module",
         "nn", "functional", "Linear", "autograd", "register_hook", "apply", "storage"]
LITERALS = ["0", "1", "-1", "2.5", "10**6", "'s'", "'{0.__class__}'", "'%d'", "None",
            "True", "[]", "[1, 2]", "()", "(1,)", "{}", "{'a': 1}", "x", "t", "P()",
            "lambda a: a", "(i for i in [1])", "iter(int, 1)", "range(10**9)"]

atoms = st.sampled_from(NAMES + LITERALS)


def _extend(children):
    return st.one_of(
        st.builds(lambda e, a: f"{e}.{a}", children, st.sampled_from(ATTRS)),
        st.builds(lambda e, args: f"{e}({', '.join(args)})", children,
                  st.lists(children, max_size=3)),
        st.builds(lambda e, k: f"{e}[{k}]", children, children),
        st.builds(lambda a, op, b: f"({a} {op} {b})", children,
                  st.sampled_from(["+", "*", "%", "in", "==", "@", "**"]), children),
        st.builds(lambda e: f"type({e})", children),
    )


exprs = st.recursive(atoms, _extend, max_leaves=6)

PRELUDE = ("x = torch.ones(2, requires_grad=True)\nt = x * 2\nm = nn.Linear(2, 1)\n"
           "f = lambda a: a\ng = (i for i in [1])\nclass P(object):\n    def __init__(self):\n"
           "        self.v = 1\n")

statements = st.one_of(
    exprs,
    st.builds(lambda e: f"y = {e}", exprs),
    st.builds(lambda e: f"for i in {e}:\n    pass", exprs),
    st.builds(lambda a, e: f"class Q(object):\n    {a} = {e}", st.sampled_from(
        ["__del__", "__eq__", "__array_interface__", "__len__", "forward", "_x"]), exprs),
    st.builds(lambda e: f"x.{e} = 1", st.sampled_from(ATTRS)),
    st.builds(lambda e: f"print({e})", exprs),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(statements, min_size=1, max_size=3))
def test_no_program_escapes_or_breaks_the_session(tmp_path, program):
    before = set(os.listdir(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        s = Session(write=lambda text: None,
                    limits=Limits(max_elements=10_000, timeout=2, max_memory=2**28))
        s.run(PRELUDE)
        try:
            s.run("\n".join(program), source="fuzz.py")
        except GradcalcError as e:
            assert "internal error" not in str(e)
            assert e.line is not None, str(e)
    finally:
        os.chdir(cwd)
    assert set(os.listdir(tmp_path)) == before
