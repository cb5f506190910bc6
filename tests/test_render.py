# Render layer: graph model, text tree, DOT, Mermaid, JSON and Rich views, as exact strings,
# of graphs and results the real core builds.
import json

import numpy as np
import pytest
from rich.console import Console

import gradcalc

from gradcalc.render import graph as g
from gradcalc.render.report import (
    EvalResult,
    TraceEdge,
    TraceStep,
    eval_json,
    eval_text,
    trace_text,
)
from gradcalc.render.values import array_json, shape_str, tensor_json, value_json


def T(value, requires_grad=False, dtype=None):
    return gradcalc.tensor(value, requires_grad=requires_grad, dtype=dtype)


def cubic_graph():
    # x**3 + 3*x**2 + 5, on the real core (its graph is PyTorch's: pytorch-semantics.md 1a).
    x = T(2.0, requires_grad=True)
    y = x**3 + 3 * x**2 + 5
    return x, y, {id(x): ["x"], id(y.grad_fn): ["y"]}


CUBIC_TREE = """\
y = AddBackward0  () float32
└── AddBackward0  () float32
    ├── PowBackward0  () float32
    │   └── x = AccumulateGrad #1  () float32
    └── MulBackward0  () float32
        └── PowBackward0  () float32
            └── x = AccumulateGrad #1 (see above)"""


def test_graph_model_numbers_nodes_in_preorder_and_shares_the_leaf():
    x, y, labels = cubic_graph()
    model = g.build_graph(y, labels)
    assert [n.name for n in model.nodes] == [
        "AddBackward0", "AddBackward0", "PowBackward0", "AccumulateGrad", "MulBackward0", "PowBackward0"]
    assert model.nodes[3].labels == ["x"] and model.nodes[3].leaf and model.nodes[3].refs == 2
    assert sorted(model.edges) == [(1, 0, 0), (2, 1, 0), (3, 2, 0), (3, 5, 0), (4, 1, 0), (5, 4, 0)]


def test_graph_text_tree_labels_and_shared_reference():
    x, y, labels = cubic_graph()
    assert g.graph_text(g.build_graph(y, labels)) == CUBIC_TREE


def test_graph_text_saved_tensors():
    x, y, labels = cubic_graph()
    text = g.graph_text(g.build_graph(y.grad_fn.next_functions[0][0], labels, saved=True))
    assert text == """\
AddBackward0  () float32
├── PowBackward0  () float32
│   │   saved self = tensor(2., requires_grad=True)
│   │   saved exponent = 3
│   └── x = AccumulateGrad #1  () float32
└── MulBackward0  () float32
    │   saved self = None
    │   saved other = 3
    └── PowBackward0  () float32
        │   saved self = tensor(2., requires_grad=True)
        │   saved exponent = 2
        └── x = AccumulateGrad #1 (see above)"""


def test_graph_of_a_leaf_and_of_a_constant():
    x = T([1.0, 2.0], requires_grad=True)
    assert g.graph_text(g.build_graph(x, {id(x): ["x"]})) == "x = AccumulateGrad  (2,) float32"
    c = T(1.0)
    assert g.graph_text(g.build_graph(c, {})) == "(no graph: the value does not require grad)"


def test_graph_walk_is_iterative_on_a_deep_chain():
    x = T(0.0, requires_grad=True)
    t = x
    for _ in range(20000):
        t = t.sin()
    model = g.build_graph(t, {id(x): ["x"]})
    assert len(model.nodes) == 20001 and model.nodes[-1].labels == ["x"]
    assert g.graph_text(model).count("\n") == 20000


def test_graph_dot_is_valid_and_escapes_labels():
    x, y, labels = cubic_graph()
    labels[id(x)] = ['x"1']
    dot = g.graph_dot(g.build_graph(y, labels))
    assert dot.splitlines()[0] == "digraph gradcalc {"
    assert '  n0 [label="y\\nAddBackward0\\n() float32", fillcolor=darkolivegreen1];' in dot
    assert '  n3 [label="x\\"1\\nAccumulateGrad\\n() float32", fillcolor=lightblue];' in dot
    assert "  n3 -> n2;" in dot and "  n3 -> n5;" in dot and dot.endswith("}")
    assert dot.count("->") == 6


def test_graph_mermaid():
    x, y, labels = cubic_graph()
    text = g.graph_mermaid(g.build_graph(y, labels))
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    assert '  n0["y<br/>AddBackward0<br/>() float32"]' in lines
    assert '  n3(["x<br/>AccumulateGrad<br/>() float32"])' in lines
    assert "  n3 --> n2" in lines and "  class n3 leaf" in lines


def test_graph_json():
    x, y, labels = cubic_graph()
    obj = g.graph_json(g.build_graph(y, labels))
    json.dumps(obj)
    assert obj["root"] == 0
    assert obj["nodes"][3] == {"id": 3, "name": "AccumulateGrad", "shape": [], "dtype": "float32",
                               "labels": ["x"], "leaf": True}
    assert {"from": 3, "to": 5, "input_nr": 0} in obj["edges"]


def test_rich_tree_matches_the_plain_tree():
    from gradcalc.render.richview import graph_tree

    x, y, labels = cubic_graph()
    console = Console(color_system=None, width=100, file=None, record=True, soft_wrap=True)
    with console.capture() as cap:
        console.print(graph_tree(g.build_graph(y, labels)))
    assert cap.get().rstrip("\n") == CUBIC_TREE


def test_rich_tree_never_reads_labels_as_markup():
    from gradcalc.render.richview import graph_tree

    x = T(1.0, requires_grad=True)
    console = Console(color_system=None, width=100)
    with console.capture() as cap:
        console.print(graph_tree(g.build_graph(x, {id(x): ["[bold]w[/bold]"]})))
    assert cap.get() == "[bold]w[/bold] = AccumulateGrad  () float32\n"


@pytest.mark.parametrize(
    "arr, dtype, expected",
    [
        (0.1, "float32", 0.1),
        ([1.5, float("nan")], "float64", [1.5, "nan"]),
        ([[float("inf"), -float("inf")]], "float32", [["inf", "-inf"]]),
        ([[1, 2, 3], [4, 5, 6]], "int64", [[1, 2, 3], [4, 5, 6]]),
        (np.zeros((0, 3)), "float32", []),
        ([True, False], "bool", [True, False]),
    ],
)
def test_array_json(arr, dtype, expected):
    assert array_json(np.asarray(arr, dtype=dtype)) == expected


def test_tensor_and_value_json():
    t = T([0.5, 1.0], requires_grad=True) * 2
    assert tensor_json(t) == {"value": [1.0, 2.0], "shape": [2], "dtype": "float32", "grad_fn": "MulBackward0"}
    assert tensor_json(t, grad_fn=False) == {"value": [1.0, 2.0], "shape": [2], "dtype": "float32"}
    assert tensor_json(T([1, 2])) == {"value": [1, 2], "shape": [2], "dtype": "int64"}
    assert value_json((1, 2.5, None, "s", float("nan"))) == [1, 2.5, None, "s", "nan"]
    assert value_json(t.grad_fn)["repr"].startswith("<MulBackward0 object at ")


def test_shape_str():
    assert [shape_str(s) for s in [(), (3,), (2, 3)]] == ["()", "(3,)", "(2, 3)"]


def cubic_result():
    x, y, labels = cubic_graph()
    grad = T(24.0)
    return EvalResult("x**3+3*x**2+5", {"x": x}, y, True, kind="gradients", derivatives={"x": grad})


def test_eval_text_sections():
    assert eval_text(cubic_result()) == """\
expression: x**3+3*x**2+5
inputs:
  x = tensor(2., requires_grad=True)
value:
  tensor(25., grad_fn=<AddBackward0>)
gradients:
  d/dx = tensor(24.)"""


def test_eval_text_hangs_multiline_values_under_their_first_line():
    r = EvalResult("W", {"W": T([[1.0, 2.0], [3.0, 4.0]])})
    assert eval_text(r).splitlines()[2:4] == ["  W = tensor([[1., 2.],", "              [3., 4.]])"]


def test_eval_json_matches_design_md():
    obj = eval_json(cubic_result())
    assert obj == {
        "expression": "x**3+3*x**2+5",
        "inputs": {"x": {"value": 2.0, "shape": [], "dtype": "float32"}},
        "value": {"value": 25.0, "shape": [], "dtype": "float32", "grad_fn": "AddBackward0"},
        "gradients": {"x": {"value": 24.0, "shape": [], "dtype": "float32"}},
    }


def test_trace_text():
    one = T(1.0)
    steps = [
        TraceStep("AddBackward0", ["y"], (), "float32", [one],
                  [TraceEdge("AddBackward0", "grad", one)]),
        TraceStep("AccumulateGrad", ["x"], (), "float32", [T(24.0)], leaf=True,
                  leaf_grad=T(24.0)),
    ]
    assert trace_text(steps, {"x": T(24.0)}) == """\
1. y = AddBackward0  () float32
   grad in: tensor(1.)
   → AddBackward0: grad = tensor(1.)
2. x = AccumulateGrad  () float32
   grad in: tensor(24.)
   x.grad = tensor(24.)"""
    # a leaf the backward pass never reached is listed after the steps (once)
    assert trace_text(steps, {"x": T(24.0), "w": None}).endswith(
        "   x.grad = tensor(24.)\nleaf gradients:\n  w.grad = None")
