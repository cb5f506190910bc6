# Render layer, the terminal view: real results of gradcalc.api drawn by Rich at 80 and 40
# columns. Nothing is cropped (no line wider than the terminal, every number of every tensor
# still there), a tensor's rows wrap between elements as PyTorch wraps them at that width, a
# line that cannot fit is folded with a marker, and values that are not tensors are shown too.
import re

import pytest
from rich.console import Console
from rich.text import Text

import gradcalc
from gradcalc import api
from gradcalc.core.printing import printoptions
from gradcalc.render.richview import FOLD, Fitted, Hanging, eval_view, fold, graph_tree, trace_tree

NUMBER = re.compile(r"-?\d+\.\d*(?:e[+-]\d+)?")


def draw(renderable, width):
    console = Console(width=width, color_system=None, highlight=False)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


def numbers(text):
    return NUMBER.findall(text.replace(FOLD + "\n", ""))


def result(expr, *at, **kw):
    gradcalc.manual_seed(0)
    return api.evaluate(expr, list(at), graph=True, **kw)


@pytest.mark.parametrize("width", [80, 60, 40, 30])
def test_no_line_is_wider_than_the_terminal_and_no_number_is_lost(width):
    r = result("(W@v).sum()", "W=randn(4, 6)", "v=[1, 2, 3, 4, 5, 6]", trace=True)
    out = draw(eval_view(r), width)
    assert max(len(line) for line in out.splitlines()) <= width
    for t in (r.inputs["W"], r.inputs["v"], r.derivatives["W"], r.derivatives["v"]):
        shown = numbers(repr(t))
        drawn = numbers(out)
        for n in shown:
            assert n in drawn


def test_at_80_columns_a_matrix_keeps_pytorchs_rows():
    r = result("(W*2).sum()", "W=randn(4, 6)")
    out = draw(eval_view(r), 80)
    rows = repr(r.inputs["W"]).splitlines()
    assert "  W  (4, 6) float32\n" in out
    for row in rows[:4]:  # each row of the matrix whole, under the caption
        assert "  " + row in out


def test_at_40_columns_rows_wrap_between_elements_as_pytorch_wraps_them():
    r = result("x * 2", "x=linspace(0, 1, 8)", no_grad=True)
    out = draw(eval_view(r), 40)
    with printoptions(linewidth=38):
        expected = repr(r.inputs["x"])
    assert "  x  (8,) float32\n" + "\n".join("  " + line for line in expected.split("\n")) in out
    assert FOLD not in out


def test_the_trace_at_80_columns_puts_a_long_gradient_under_its_edge():
    r = result("(W@v).sum()", "W=ones(4, 6)", "v=[1, 2, 3, 4, 5, 6]", trace=True)
    out = draw(trace_tree(r.trace, r.leaf_grads), 80)
    assert ("│   ├── → W (AccumulateGrad, step 4): outer(grad, vec) =\n"
            "│   │     tensor([[1., 2., 3., 4., 5., 6.],\n"
            "│   │             [1., 2., 3., 4., 5., 6.],\n"
            "│   │             [1., 2., 3., 4., 5., 6.],\n"
            "│   │             [1., 2., 3., 4., 5., 6.]])\n") in out
    assert "│   ├── grad in: tensor([1., 1., 1., 1.])\n" in out


def test_saved_values_fit_in_the_graph():
    gradcalc.manual_seed(0)
    x = gradcalc.randn(3, 8, requires_grad=True)
    y = x.exp()
    out = draw(graph_tree(api.graph_model(y, {id(x): ["x"]}, saved=True)), 40)
    assert max(len(line) for line in out.splitlines()) <= 40
    for n in numbers(repr(y.detach())):
        assert n in numbers(out)


@pytest.mark.parametrize("expr, meta, shown", [
    ("x", "str", "'s'"),
    ("lambda: 1", None, "<function <lambda>>"),
    ("1j", None, "1j"),
    ("nn.Linear(2, 2)", None, "Linear(in_features=2, out_features=2, bias=True)"),
])
def test_values_that_are_not_tensors(expr, meta, shown):
    r = api.evaluate(expr, ["x='s'"], graph=True)
    out = draw(eval_view(r), 80)
    assert f"value\n{shown}\n" in out
    if meta:
        assert f"  x  {meta}  's'\n" in out


def test_a_line_that_cannot_fit_is_folded_with_a_marker():
    assert fold("abcdefghijk", 4) == ["abc" + FOLD, "def" + FOLD, "ghi" + FOLD, "jk"]
    assert fold("abcd", 4) == ["abcd"]
    assert fold("in_features=2, out_features=2, bias=True", 20) == [
        "in_features=2, " + FOLD, "out_features=2, " + FOLD, "bias=True"]
    assert fold("全角全角全角", 5) == ["全角" + FOLD, "全角" + FOLD, "全角"]  # by cells
    assert draw(Fitted(text="x" * 50), 20) == "x" * 19 + FOLD + "\n" + "x" * 19 + FOLD + "\n" + "x" * 12 + "\n"


def test_hanging_goes_under_the_caption_when_it_does_not_fit_beside():
    value = gradcalc.ones(2, 6)
    beside = draw(Hanging(Text("g = "), Fitted(value)), 80)
    assert beside == "g = tensor([[1., 1., 1., 1., 1., 1.],\n            [1., 1., 1., 1., 1., 1.]])\n"
    under = draw(Hanging(Text("a long caption of a gradient = "), Fitted(value)), 40)
    assert under == ("a long caption of a gradient =\n"
                     "  tensor([[1., 1., 1., 1., 1., 1.],\n"
                     "          [1., 1., 1., 1., 1., 1.]])\n")


def test_vjp_section_shows_the_vector_first():
    r = api.evaluate("W@v", ["W=ones(2, 2)", "v=[1, 2]"], grad_output="[1, 0]")
    out = draw(eval_view(r), 80)
    assert ("vector-Jacobian products\n"
            "  grad_output  (2,) float32    tensor([1., 0.])\n"
            "  d/dW         (2, 2) float32  tensor([[1., 2.],\n"
            "                                       [0., 0.]])\n"
            "  d/dv         (2,) float32    tensor([1., 1.])\n") in out
