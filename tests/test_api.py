# Application layer: gradcalc.api as a Python user calls it (the real Session and core):
# evaluate with its derivatives of each kind, the limits on Jacobians, the trace, the graph model.
import pytest

import gradcalc
from gradcalc import api
from gradcalc.errors import GradError, NameNotFound, UsageError
from gradcalc.lang import Session


def test_evaluate_a_scalar_gives_gradients():
    r = api.evaluate("x**3 + 3*x**2 + 5", at={"x": 2})
    assert r.has_value and repr(r.value) == "tensor(25., grad_fn=<AddBackward0>)"
    assert r.kind == "gradients" and repr(r.derivatives["x"]) == "tensor(24.)"
    assert r.graph is None and r.trace is None and r.note is None


def test_evaluate_takes_expression_text_and_cli_style_bindings():
    r = api.evaluate("(W@v).sum()", ["W=ones(2, 3)", "v=[1, 2, 3]"], wrt="v")
    assert list(r.derivatives) == ["v"]
    assert r.derivatives["v"].tolist() == [2.0, 2.0, 2.0]
    assert r.inputs["W"].requires_grad is False


def test_evaluate_a_vector_gives_jacobians_by_functional():
    r = api.evaluate("x**2", at={"x": [1.0, 2.0]})
    assert r.kind == "jacobians" and r.derivatives["x"].tolist() == [[2.0, 0.0], [0.0, 4.0]]
    # the same numbers as torch.autograd.functional.jacobian
    j = gradcalc.autograd.functional.jacobian(lambda x: x**2, gradcalc.tensor([1.0, 2.0]))
    assert j.tolist() == r.derivatives["x"].tolist()


def test_evaluate_grad_output_gives_the_vjp():
    r = api.evaluate("x * y", at={"x": [1.0, 2.0], "y": 3}, grad_output="[1, 0]")
    assert r.kind == "vjp" and r.grad_output.tolist() == [1.0, 0.0]
    assert r.derivatives["x"].tolist() == [3.0, 0.0] and r.derivatives["y"].item() == 1.0


def test_evaluate_hessians_of_a_scalar():
    r = api.evaluate("x**2 * y", at={"x": 1, "y": 3}, hessian=True)
    assert {(a, b): h.item() for a, row in r.hessians.items() for b, h in row.items()} == {
        ("x", "x"): 6.0, ("x", "y"): 2.0, ("y", "x"): 2.0, ("y", "y"): 0.0}
    with pytest.raises(GradError, match=r"--hessian needs a scalar result; this one has shape \(2,\)"):
        api.evaluate("x**2", at={"x": [1, 2]}, hessian=True)


def test_a_large_jacobian_is_skipped_with_a_note():
    r = api.evaluate("x * 2", at={"x": [1.0, 2.0, 3.0]}, max_jacobian=8)
    assert r.kind is None and r.derivatives == {} and r.has_value
    assert r.note == ("derivatives skipped: the Jacobian would have 9 elements (limit 8); give "
                      "--grad-output V for the vector-Jacobian product backward(V), or raise the "
                      "limit with --max-jacobian N")


def test_no_grad_and_values_without_a_graph():
    assert api.evaluate("x * 2", at={"x": 1}, no_grad=True).kind is None
    r = api.evaluate("'s'", at={"x": 1})
    assert r.value == "s" and r.note == ("the value does not depend on the inputs through a "
                                         "graph: no derivatives")


def test_printed_output_and_echoes_before_the_last_value():
    printed: list[str] = []
    r = api.evaluate("print('hi'); x; x + 1", at={"x": 1}, printed=printed)
    assert r.output == "hi\ntensor(1., requires_grad=True)\n"


def test_bindings_errors_are_usage_errors():
    with pytest.raises(UsageError, match=r"--wrt: 'z' is not bound; bind it with --at z=VALUE"):
        api.evaluate("x", at={"x": 1}, wrt="z")
    with pytest.raises(UsageError, match=r"--at: expected NAME=VALUE, got 'y'"):
        api.evaluate("x", ["y"])
    with pytest.raises(NameNotFound, match=r"name 'qqq_undefined' is not defined \(bind it with --at qqq_undefined=VALUE\)"):
        api.evaluate("qqq_undefined * 2")


def test_unicode_names_bind():
    r = api.evaluate("α * 2", ["α=3"])
    assert r.derivatives["α"].item() == 2.0
    assert api.split_bindings("α=1,β=[1, 2]") == ["α=1", "β=[1, 2]"]


def test_trace_in_engine_order_leaves_grad_alone():
    s = Session(write=lambda t: None)
    s.run("x = tensor(2., requires_grad=True)\nz = x * x + x")
    steps, grads = api.trace(s.namespace["z"], s.labels())
    assert [st.name for st in steps] == ["AddBackward0", "MulBackward0", "AccumulateGrad"]
    assert steps[0].labels == ["z"] and steps[-1].labels == ["x"]
    assert grads["x"].item() == 5.0 and s.namespace["x"].grad is None
    with pytest.raises(GradError, match="the value does not require grad"):
        api.trace(gradcalc.tensor(1.0))


def test_graph_model_of_a_tensor_and_of_something_else():
    r = api.evaluate("a = x * y; a", at={"x": 1, "y": 2}, graph=True)
    assert r.graph.nodes[0].name == "MulBackward0"
    assert r.graph.nodes[0].labels == ["a"]
    with pytest.raises(UsageError, match="the value is a str, not a tensor: it has no graph"):
        api.graph_model("s")
