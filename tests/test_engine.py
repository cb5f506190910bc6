# The autograd engine and tensor semantics, read off PyTorch 2.13 (issue 2 and
# shared/reference/pytorch-semantics.md §1b, §1e): exact values, grad_fn names and errors.
import math
import re
import time
import warnings

import numpy as np
import pytest

import gradcalc as torch
from gradcalc.errors import GradcalcError

FREED = re.escape(
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)
NONLEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information."
)


def leaf(v, dtype=None):
    return torch.tensor(v, dtype=dtype, requires_grad=True)


def names(t):
    return t.grad_fn.name()


# --- golden values from the PyTorch tutorials ------------------------------------------------


def test_tutorial_polynomial():
    x = leaf(2.0)
    y = x**3 + 3 * x**2 + 5
    assert repr(y) == "tensor(25., grad_fn=<AddBackward0>)"
    assert x.grad is None
    # the chain: Add(Add(Pow, Mul(Pow, None)), None)
    (add1, n1), (none, n2) = y.grad_fn.next_functions
    assert (add1.name(), n1, none, n2) == ("AddBackward0", 0, None, 0)
    (pow3, _), (mul, _) = add1.next_functions
    assert pow3.name() == "PowBackward0" and mul.name() == "MulBackward0"
    (pow2, _), (none, _) = mul.next_functions
    assert pow2.name() == "PowBackward0" and none is None
    acc3, acc2 = pow3.next_functions[0][0], pow2.next_functions[0][0]
    assert acc3 is acc2 and acc3.variable is x
    assert acc3.name() == "torch::autograd::AccumulateGrad"
    assert pow3._saved_exponent == 3 and pow3._saved_self is x
    assert add1._saved_alpha == 1  # left unsaved at its default, reported as PyTorch does
    with pytest.raises(AttributeError, match="^'AddBackward0' object has no attribute '_saved_x'$"):
        add1._saved_x
    y.backward()
    assert repr(x.grad) == "tensor(24.)"
    with pytest.raises(GradcalcError, match=FREED):
        pow3._saved_self


def test_tutorial_two_inputs():
    a, b = leaf(2.0), leaf(3.0)
    z = a**2 * b + b**3
    z.backward()
    assert repr(a.grad) == "tensor(12.)" and repr(b.grad) == "tensor(31.)"


def test_tutorial_vector_sum():
    w = leaf([1.0, 2.0])
    z = (w**2 * 2).sum()
    assert repr(z) == "tensor(10., grad_fn=<SumBackward0>)"
    z.backward()
    assert repr(w.grad) == "tensor([4., 8.])"


def test_tutorial_mean_of_ones():
    x = torch.ones(4, 3, requires_grad=True)
    out = ((x + 5) * (x + 5) * 5).mean()
    assert repr(out) == "tensor(180., grad_fn=<MeanBackward0>)"
    out.backward()
    assert x.grad.shape == torch.Size([4, 3]) and x.grad.tolist() == [[5.0] * 3] * 4


def test_tutorial_exp_log_sin():
    x = leaf([1.0, 2.0, 3.0])
    y = torch.exp(-torch.log(1 + torch.sum(torch.sin(x))))
    y.backward()
    assert repr(x.grad) == "tensor([-0.0646,  0.0498,  0.1184])"


# --- accumulation, retain_graph, freed graphs ------------------------------------------------


def test_accumulation_with_retain_graph():
    x = leaf(2.0)
    y = x**3 + 3 * x**2 + 5
    y.backward(retain_graph=True)
    assert x.grad.item() == 24.0
    y.backward()
    assert x.grad.item() == 48.0
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


def test_grad_zero_and_none():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    g = x.grad
    x.grad.zero_()
    assert x.grad is g and x.grad.tolist() == [0.0, 0.0]
    x.grad = None
    assert x.grad is None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_backward_of_several_outputs_sums():
    a = leaf(1.0)
    torch.autograd.backward([a * 2, a * 3])
    assert a.grad.item() == 5.0


def test_freed_graph_error_and_the_subtlety():
    x = leaf([1.0, 2.0])
    y = (x + 1).sum()  # Add and Sum save no tensors: a second backward is fine
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
    for make in (lambda: (x**2).sum(), lambda: x.exp().sum()):
        y = make()
        y.backward()
        with pytest.raises(RuntimeError, match="^" + FREED + "$"):
            y.backward()


def test_freed_saved_tensor_access():
    x = leaf([1.0, 2.0])
    y = x**2
    assert y.grad_fn._saved_self is x
    y.sum().backward()
    with pytest.raises(RuntimeError, match=FREED):
        y.grad_fn._saved_self


def test_autograd_grad_frees_too():
    x = leaf(2.0)
    y = x.exp()
    torch.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match=FREED):
        torch.autograd.grad(y, x)


# --- create_graph and higher order -----------------------------------------------------------


def test_grad_of_grad():
    x = leaf(2.0)
    (g1,) = torch.autograd.grad(x**3, x, create_graph=True)
    assert repr(g1) == "tensor(12., grad_fn=<MulBackward0>)"
    (g2,) = torch.autograd.grad(g1, x, create_graph=True)
    assert g2.item() == 12.0 and g2.requires_grad
    (g3,) = torch.autograd.grad(g2, x)
    assert repr(g3) == "tensor(6.)"


def test_backward_create_graph_warns_and_builds_graph():
    x = leaf(2.0)
    with pytest.warns(UserWarning, match=r"^Using backward\(\) with create_graph=True will create "
                      r"a reference cycle"):
        (x**3).backward(create_graph=True)
    assert x.grad.item() == 12.0 and x.grad.requires_grad
    (g2,) = torch.autograd.grad(x.grad, x)
    assert g2.item() == 12.0


def test_hessian_by_double_backward():
    x = leaf([1.0, 2.0], dtype=torch.float64)
    f = (x[0] ** 2 * x[1] + x[1] ** 3).sum()
    (g,) = torch.autograd.grad(f, x, create_graph=True)
    rows = [torch.autograd.grad(g[i], x, retain_graph=True)[0].tolist() for i in range(2)]
    assert rows == [[4.0, 2.0], [2.0, 12.0]]


@pytest.mark.parametrize("fn, d1, d2", [
    (torch.sin, math.cos, lambda v: -math.sin(v)),
    (torch.exp, math.exp, math.exp),
    (torch.tanh, lambda v: 1 - math.tanh(v) ** 2,
     lambda v: -2 * math.tanh(v) * (1 - math.tanh(v) ** 2)),
    (torch.sigmoid, lambda v: (s := 1 / (1 + math.exp(-v))) * (1 - s),
     lambda v: (s := 1 / (1 + math.exp(-v))) * (1 - s) * (1 - 2 * s)),
    (torch.log, lambda v: 1 / v, lambda v: -1 / v**2),
    (torch.sqrt, lambda v: 0.5 / math.sqrt(v), lambda v: -0.25 * v**-1.5),
], ids=["sin", "exp", "tanh", "sigmoid", "log", "sqrt"])
def test_second_derivatives(fn, d1, d2):
    x = leaf(0.7, dtype=torch.float64)
    (g,) = torch.autograd.grad(fn(x), x, create_graph=True)
    (h,) = torch.autograd.grad(g, x)
    assert g.item() == pytest.approx(d1(0.7), rel=1e-12)
    assert h.item() == pytest.approx(d2(0.7), rel=1e-12)


# --- autograd.grad ---------------------------------------------------------------------------


def test_autograd_grad_returns_tuple_and_leaves_grad_alone():
    x, y = leaf(2.0), leaf(3.0)
    gs = torch.autograd.grad(x * y, (x, y))
    assert isinstance(gs, tuple) and [g.item() for g in gs] == [3.0, 2.0]
    assert x.grad is None and y.grad is None
    (gx,) = torch.autograd.grad(x * y, x)
    assert gx.item() == 3.0 and x.grad is None


def test_autograd_grad_unused_input():
    x, y = leaf(2.0), leaf(3.0)
    with pytest.raises(RuntimeError, match=r"^The differentiated Tensor at index 1 appears to not "
                       r"have been used in the graph\. Set allow_unused=True if this is the "
                       r"desired behavior\.$"):
        torch.autograd.grad(x * 2, (x, y))
    gx, gy = torch.autograd.grad(x * 2, (x, y), allow_unused=True)
    assert gx.item() == 2.0 and gy is None
    gx, gy = torch.autograd.grad(x * 2, (x, y), allow_unused=True, materialize_grads=True)
    assert repr(gy) == "tensor(0.)"
    gx, gy = torch.autograd.grad(x * 2, (x, y), materialize_grads=True)
    assert gy.item() == 0.0


def test_autograd_grad_outputs_and_shape_mismatch():
    v = leaf([1.0, 2.0])
    (g,) = torch.autograd.grad(v * 2, v, grad_outputs=torch.tensor([1.0, 0.1]))
    assert g.tolist() == pytest.approx([2.0, 0.2])
    with pytest.raises(RuntimeError, match=r"^Mismatch in shape: grad_output\[0\] has a shape of "
                       r"torch\.Size\(\[3\]\) and output\[0\] has a shape of "
                       r"torch\.Size\(\[2\]\)\.$"):
        torch.autograd.grad(v * 2, v, grad_outputs=torch.ones(3))
    with pytest.raises(RuntimeError, match=r"^grad can be implicitly created only for scalar "
                       r"outputs$"):
        torch.autograd.grad(v * 2, v)


def test_backward_gradient_is_a_vjp():
    v = leaf([1.0, 2.0, 3.0])
    (v * 2).backward(torch.tensor([1.0, 0.1, 0.01]))
    assert repr(v.grad) == "tensor([2.0000, 0.2000, 0.0200])"


def test_backward_errors():
    v = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^grad can be implicitly created only for scalar "
                       r"outputs$"):
        (v * 2).backward()
    with pytest.raises(RuntimeError, match=r"^element 0 of tensors does not require grad and does "
                       r"not have a grad_fn$"):
        torch.tensor(1.0).backward()
    with pytest.raises(RuntimeError, match=r"^element 0 of tensors does not require grad"):
        (torch.ones(2) * 2).sum().backward()


# --- functional.jacobian / hessian, gradcheck --------------------------------------------------


def test_jacobian_and_hessian():
    from gradcalc.autograd.functional import hessian, jacobian

    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    J = jacobian(lambda v: v**2 * torch.tensor([1.0, 3.0], dtype=torch.float64), x)
    assert J.tolist() == [[2.0, 0.0], [0.0, 12.0]] and not J.requires_grad
    H = hessian(lambda v: (v[0] ** 2 * v[1] + v[1] ** 3), x)
    assert H.tolist() == [[4.0, 2.0], [2.0, 12.0]]
    Ja, Jb = jacobian(lambda a, b: a * b, (x, x + 1))
    assert Ja.tolist() == [[2.0, 0.0], [0.0, 3.0]] and Jb.tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert jacobian(lambda v: v.sum(), x).shape == torch.Size([2])
    assert torch.autograd.functional.jacobian(torch.sin, torch.zeros(2, 3)).shape == (2, 3, 2, 3)


def test_gradcheck_and_gradgradcheck():
    from gradcalc.autograd import gradcheck, gradgradcheck

    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda a, b: (a * b).sin(), (x, y)) is True
    assert gradgradcheck(lambda a, b: (a * b).sin(), (x, y)) is True
    assert torch.autograd.gradcheck(torch.tanh, (x,), eps=1e-6, atol=1e-4)

    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g * 3

    with pytest.raises(RuntimeError, match=r"^Jacobian mismatch for output 0 with respect to "
                       r"input 0"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False


# --- grad modes ------------------------------------------------------------------------------


def test_no_grad_context_and_decorator():
    x = leaf(1.0)
    with torch.no_grad():
        y = x * 2
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    assert (y.requires_grad, y.grad_fn, y.is_leaf) == (False, None, True)

    @torch.no_grad()
    def f(v):
        return v * 2

    z = f(x)
    assert not z.requires_grad and torch.is_grad_enabled()
    assert f.__name__ == "f"


def test_enable_grad_inside_no_grad():
    x = leaf(1.0)
    with torch.no_grad():
        with torch.enable_grad():
            y = x * 2
        z = x * 2

    @torch.enable_grad()
    def g(v):
        return v * 2

    with torch.no_grad():
        w = g(x)
    assert y.requires_grad and names(y) == "MulBackward0"
    assert not z.requires_grad and w.requires_grad


def test_set_grad_enabled_call_context_and_decorator():
    x = leaf(1.0)
    torch.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad and not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()

    @torch.set_grad_enabled(False)
    def f(v):
        return v * 2

    assert torch.is_grad_enabled()  # decorating does not switch the mode
    assert not f(x).requires_grad and torch.is_grad_enabled()


def test_inference_mode_context_and_decorator():
    x = leaf(1.0)
    with torch.inference_mode():
        y = x * 2
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match=r"^Setting requires_grad=True on inference tensor "
                       r"outside InferenceMode is not allowed\.$"):
        y.requires_grad_()

    @torch.inference_mode()
    def f(v):
        return v * 2

    assert not f(x).requires_grad and torch.is_grad_enabled()
    with torch.inference_mode(False):
        assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError("boom")
    assert torch.is_grad_enabled()


# --- is_leaf, requires_grad, detach ---------------------------------------------------------


def test_is_leaf_rules():
    a = torch.rand(3)
    b = torch.rand(3, requires_grad=True)
    assert a.is_leaf and b.is_leaf
    assert not (b * 1).is_leaf
    assert (a * 2).is_leaf  # no input requires grad
    assert not b.double().is_leaf and names(b.double()) == "ToCopyBackward0"
    f = b.float()
    assert f is b and f.is_leaf  # float() on float32 is a no-op
    with torch.no_grad():
        assert (b * 2).is_leaf
    p = torch.nn.Parameter(torch.ones(2))
    assert p.is_leaf and p.requires_grad


def test_requires_grad_flags_on_leaves_only():
    x = leaf(1.0)
    y = x * 2
    msg = (r"^you can only change requires_grad flags of leaf variables\. If you want to use a "
           r"computed variable in a subgraph that doesn't require differentiation use "
           r"var_no_grad = var\.detach\(\)\.$")
    with pytest.raises(RuntimeError, match=msg):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match=msg):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad


def test_requires_grad_on_integer_tensors_three_messages():
    with pytest.raises(RuntimeError, match=r"^Only Tensors of floating point and complex dtype can "
                       r"require gradients$"):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^only Tensors of floating point dtype can require "
                       r"gradients$"):
        torch.tensor([1, 2]).requires_grad_()
    t = torch.tensor([True])
    with pytest.raises(RuntimeError, match=r"^only Tensors of floating point and complex dtype can "
                       r"require gradients$"):
        t.requires_grad = True
    with pytest.raises(RuntimeError, match=r"^Only Tensors of floating point"):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)


def test_detach_shares_data_and_trips_version_check():
    x = leaf([1.0, 2.0])
    y = x.exp()
    d = y.detach()
    assert (d.requires_grad, d.grad_fn, d.is_leaf) == (False, None, True)
    d[0] = 5.0
    assert y[0].item() == 5.0  # same storage
    assert y._version == 1 and d._version == 1
    with pytest.raises(RuntimeError, match=re.escape(
            "one of the variables needed for gradient computation has been modified by an "
            "inplace operation: [torch.FloatTensor [2]], which is output 0 of Exp, is at "
            "version 1; expected version 0 instead. Hint:")):
        y.sum().backward()


def test_detach_inplace():
    x = leaf(1.0)
    y = x * 2
    assert y.detach_() is y
    assert (y.requires_grad, y.grad_fn, y.is_leaf) == (False, None, True)


# --- in-place semantics ----------------------------------------------------------------------


def test_inplace_on_leaf_requiring_grad():
    x = leaf([1.0, 2.0])
    msg = r"^a leaf Variable that requires grad is being used in an in-place operation\.$"
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(1.0),
               lambda: x.clamp_(0, 1), lambda: x.exp_()):
        with pytest.raises(RuntimeError, match=msg):
            op()
    with pytest.raises(RuntimeError, match=msg):
        x += 1
    with pytest.raises(RuntimeError, match=r"^a view of a leaf Variable that requires grad is "
                       r"being used in an in-place operation\.$"):
        x[0] = 5.0
    with torch.no_grad():
        x.add_(1)
        x[0] = 5.0
    assert x.tolist() == [5.0, 3.0] and x.is_leaf and x.requires_grad


def test_inplace_modified_saved_tensor_message():
    x = leaf([1.0, 2.0])
    y = x * 1  # saves no tensor
    z = y * 2  # saves no tensor either (the other operand is a number)
    w = y.sin()  # SinBackward0 saves y: its message names y's grad_fn now, AddBackward0
    y.add_(1)
    assert y._version == 1
    with pytest.raises(RuntimeError, match=re.escape(
            "one of the variables needed for gradient computation has been modified by an "
            "inplace operation: [torch.FloatTensor [2]], which is output 0 of Add, is at "
            "version 1; expected version 0 instead. Hint: enable anomaly detection to find the "
            "operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")):
        w.sum().backward()
    z.sum().backward()  # nothing on its path saved y
    assert x.grad.tolist() == [2.0, 2.0]
    v = x.exp()
    v.mul_(2)  # ExpBackward0 saved its own output
    with pytest.raises(RuntimeError, match=re.escape(
            "[torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; "
            "expected version 0 instead.")):
        v.sum().backward()


def test_inplace_on_non_leaf_repoints_grad_fn_and_version():
    x = leaf([1.0, 2.0])
    y = x * 1
    assert names(y) == "MulBackward0" and y._version == 0
    y.add_(1)
    assert names(y) == "AddBackward0" and y._version == 1
    y.mul_(3)
    assert names(y) == "MulBackward0" and y._version == 2
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert y.tolist() == [6.0, 9.0]


def test_inplace_operators_and_setitem_on_non_leaf():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y += 1
    y *= x
    y[0] = 0.0
    assert y.tolist() == [0.0, 10.0, 21.0]
    y.sum().backward()
    # d/dx (2x+1)*x = 4x+1, and element 0 was overwritten
    assert x.grad.tolist() == [0.0, 9.0, 13.0]


def test_version_counter_on_leaf_without_grad():
    a = torch.zeros(3)
    assert a._version == 0
    a.add_(1)
    a[0] = 2
    a.zero_()
    assert a._version == 3


# --- hooks ---------------------------------------------------------------------------------


def test_tensor_hook_replaces_grad_and_removes():
    v = leaf(1.0)
    h = v * 2
    handle = h.register_hook(lambda g: g * 10)
    h.backward(retain_graph=True)
    assert v.grad.item() == 20.0
    handle.remove()
    v.grad = None
    h.backward()
    assert v.grad.item() == 2.0


def test_tensor_hook_observes_and_leaf_hook_runs_before_accumulation():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append((g.tolist(), x.grad)))
    (x * 3).sum().backward()
    assert seen == [([3.0, 3.0], None)]
    x.register_hook(lambda g: g * 0 + 1)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_hook_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match=r"^cannot register a hook on a tensor that doesn't "
                       r"require gradient$"):
        torch.ones(2).register_hook(lambda g: g)


def test_node_hook_and_prehook():
    x = leaf([1.0, 2.0])
    y = x * 3
    calls = []

    def hook(grad_inputs, grad_outputs):
        calls.append(("hook", [g.tolist() for g in grad_inputs if g is not None],
                      [g.tolist() for g in grad_outputs]))

    def prehook(grad_outputs):
        calls.append(("pre", [g.tolist() for g in grad_outputs]))
        return (grad_outputs[0] * 2,)

    y.grad_fn.register_prehook(prehook)
    handle = y.grad_fn.register_hook(hook)
    y.sum().backward(retain_graph=True)
    assert calls == [("pre", [[1.0, 1.0]]), ("hook", [[6.0, 6.0]], [[2.0, 2.0]])]
    assert x.grad.tolist() == [6.0, 6.0]
    handle.remove()
    calls.clear()
    y.sum().backward()
    assert calls == [("pre", [[1.0, 1.0]])]


def test_node_hook_replaces_grad_inputs():
    x = leaf(1.0)
    y = x * 3
    y.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 7, gi[1]))
    y.backward()
    assert x.grad.item() == 7.0


def test_node_metadata_and_next_functions_of_scalar_operand():
    a = leaf([1.0])
    n = (a * 2).grad_fn
    (acc, i0), (none, i1) = n.next_functions
    assert acc.name() == "torch::autograd::AccumulateGrad" and (i0, none, i1) == (0, None, 0)
    n.metadata["k"] = 1
    assert n.metadata == {"k": 1}
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(n))


# --- retain_grad and non-leaf .grad ----------------------------------------------------------


def test_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0]
    x.retain_grad()  # a no-op on a leaf
    assert not x.retains_grad and x.grad.tolist() == [8.0, 16.0]


def test_nonleaf_grad_warns_with_pytorch_text():
    x = leaf(1.0)
    y = x * 2
    y.backward()
    with pytest.warns(UserWarning) as rec:
        assert y.grad is None
    assert str(rec[0].message) == NONLEAF_GRAD
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad.item() == 2.0  # a leaf does not warn


# --- broadcasting and kinks ----------------------------------------------------------------


def test_broadcast_gradients_sum_to_input_shapes():
    # (A[3,4] * B[4] * C[3,1] * s[]).sum() with ones and s = 2
    A = torch.ones(3, 4, requires_grad=True)
    B = torch.ones(4, requires_grad=True)
    C = torch.ones(3, 1, requires_grad=True)
    s = leaf(2.0)
    (A * B * C * s).sum().backward()
    assert B.grad.tolist() == [6.0, 6.0, 6.0, 6.0]
    assert C.grad.shape == torch.Size([3, 1]) and C.grad.tolist() == [[8.0], [8.0], [8.0]]
    assert s.grad.shape == torch.Size([]) and s.grad.item() == 12.0
    assert A.grad.shape == torch.Size([3, 4]) and A.grad.tolist() == [[2.0] * 4] * 3


def test_broadcast_gradient_of_leading_and_inner_ones():
    a = torch.ones(2, 1, 3, requires_grad=True)
    b = torch.arange(4.0).reshape(4, 1).requires_grad_()
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1, 3) and a.grad.tolist() == [[[6.0] * 3]] * 2
    assert b.grad.shape == (4, 1) and b.grad.tolist() == [[6.0]] * 4


def test_broadcast_shapes_error():
    with pytest.raises(RuntimeError, match=r"^The size of tensor a \(3\) must match the size of "
                       r"tensor b \(4\) at non-singleton dimension 0$"):
        torch.ones(3) + torch.ones(4)
    with pytest.raises(RuntimeError, match=r"^The size of tensor a \(3\) must match the size of "
                       r"tensor b \(2\) at non-singleton dimension 1$"):
        torch.ones(2, 3) + torch.ones(3, 2)


def _grad(f, v):
    x = leaf(v)
    f(x).sum().backward()
    return x.grad.tolist()


def test_kinks_follow_pytorch():
    assert _grad(torch.relu, [0.0, -1.0, 2.0]) == [0.0, 0.0, 1.0]
    assert _grad(torch.abs, [0.0, -1.0, 2.0]) == [0.0, -1.0, 1.0]
    assert _grad(lambda x: x**0, [0.0, 2.0]) == [0.0, 0.0]
    assert _grad(lambda x: x**2, [0.0]) == [0.0]
    assert _grad(lambda x: torch.clamp(x, 0, 1), [0.0, 1.0, 0.5, 2.0, -1.0]) == [1, 1, 1, 0, 0]
    assert _grad(torch.sqrt, [0.0]) == [math.inf]
    assert _grad(torch.log, [0.0]) == [math.inf]
    assert _grad(lambda x: x.max(), [1.0, 3.0, 3.0]) == [0.0, 0.5, 0.5]
    assert _grad(lambda x: x.min(), [1.0, 1.0, 3.0]) == [0.5, 0.5, 0.0]
    assert _grad(lambda x: x.amax(), [1.0, 3.0, 3.0]) == [0.0, 0.5, 0.5]
    g = _grad(lambda x: x.max(dim=0).values, [1.0, 3.0, 3.0])
    assert sorted(g) == [0.0, 0.0, 1.0]  # one index takes it all
    assert _grad(lambda x: x.max(0)[0], [0.0, 1.0, 0.0]) == [0.0, 1.0, 0.0]
    a, b = leaf([1.0, 2.0]), leaf([1.0, 1.0])
    torch.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0] and b.grad.tolist() == [0.5, 0.0]


def test_max_grad_fn_names_and_indices():
    a = leaf([[1.0, 5.0], [3.0, 2.0]])
    assert names(a.max()) == "MaxBackward1"
    r = a.max(1)
    assert names(r.values) == "MaxBackward0" and r.indices.grad_fn is None
    assert r.indices.tolist() == [1, 0] and r[0].tolist() == [5.0, 3.0]
    assert names(a.min()) == "MinBackward1" and names(a.min(0).values) == "MinBackward0"


# --- dtypes of gradients ---------------------------------------------------------------------


def test_float32_graph_stays_float32():
    x = leaf([1.0, 2.0])
    y = (x * 2.5 + torch.tensor(1.0, dtype=torch.float64)).exp().sum()
    assert y.dtype == torch.float32
    y.backward()
    assert x.grad.dtype == torch.float32


def test_gradient_dtype_follows_each_input():
    x = leaf([1.0, 2.0])
    d = leaf([1.0, 2.0], dtype=torch.float64)
    (x * d).sum().backward()
    assert x.grad.dtype == torch.float32 and d.grad.dtype == torch.float64
    h = leaf([1.0], dtype=torch.float16)
    (h * 2).sum().backward()
    assert h.grad.dtype == torch.float16


def test_to_double_and_float():
    x = leaf([1.0, 2.0])
    d = x.double()
    assert d.dtype == torch.float64 and names(d) == "ToCopyBackward0"
    assert x.float() is x and x.to(torch.float32) is x
    (d * d).sum().backward()
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [2.0, 4.0]
    assert names(x.to(torch.float64)) == "ToCopyBackward0"
    assert x.to("cpu") is x
    assert x.long().dtype == torch.int64 and not x.long().requires_grad


# --- shared subgraphs and depth ------------------------------------------------------------


def test_shared_subgraph_runs_each_node_once():
    x = leaf(2.0)
    shared = x * 3
    calls = []
    shared.grad_fn.register_prehook(lambda go: calls.append(1))
    y = shared.sin() + shared.cos() + shared * shared
    y.backward()
    assert calls == [1]
    s = 6.0
    assert x.grad.item() == pytest.approx(3 * (math.cos(s) - math.sin(s) + 2 * s), rel=1e-6)


def test_diamond_counts_each_path():
    x = leaf(1.0)
    a = x * 2
    y = a + a + a
    y.backward()
    assert x.grad.item() == 6.0


@pytest.fixture(scope="module")
def million_chain():
    # a 1,000,000-op chain, built once for the module
    x = leaf(1.0)
    o = x
    with warnings.catch_warnings():
        for _ in range(250_000):
            o = ((o * 1.0) + 0.0) * 1.0 - 0.0
    return x, o


def test_million_op_chain_backward_without_recursion(million_chain):
    x, o = million_chain
    t0 = time.perf_counter()
    o.backward()
    assert x.grad.item() == 1.0
    assert time.perf_counter() - t0 < 10


def test_hundred_thousand_mul_chain():
    x = leaf(1.0, dtype=torch.float64)
    o = x
    for _ in range(100_000):
        o = o * 1.00001
    o.backward()
    assert x.grad.item() == pytest.approx(1.00001**100_000, rel=1e-9)
    assert round(x.grad.item(), 4) == 2.7183
    y = leaf(1.0)
    o = y
    for _ in range(100_000):
        o = o * 1.00001
    o.backward()
    assert f"{y.grad.item():.4f}" == "2.7219"  # float32 rounding, as PyTorch gives


# --- devices ---------------------------------------------------------------------------------


def test_device_attributes_cpu():
    x = torch.ones(2)
    assert repr(x.device) == "device(type='cpu')" and str(x.device) == "cpu"
    assert not x.is_cuda and x.cpu() is x


# --- torch.tensor inference and attributes ---------------------------------------------------


def test_tensor_inference():
    assert torch.tensor(1).dtype == torch.int64
    assert torch.tensor(1.0).dtype == torch.float32
    assert torch.tensor(True).dtype == torch.bool
    assert torch.tensor([1, 2.0]).dtype == torch.float32
    assert torch.tensor([1, True]).dtype == torch.int64
    assert torch.tensor([]).dtype == torch.float32 and torch.tensor([]).shape == (0,)
    assert torch.tensor([[1, 2], [3, 4]]).shape == torch.Size([2, 2])
    assert torch.tensor(2**62).item() == 2**62
    with pytest.raises(ValueError, match=r"^Overflow when unpacking long long$"):
        torch.tensor(2**63)


def test_tensor_overflow_error_class():
    with pytest.raises(ValueError, match=r"^Overflow when unpacking long long$"):
        torch.tensor([1, 2**63])
    with pytest.raises(GradcalcError):
        torch.tensor(2**63)


def test_printing_of_types():
    assert repr(torch.Size([2, 3])) == "torch.Size([2, 3])"
    assert str(torch.zeros(2, 3).shape) == "torch.Size([2, 3])"
    assert repr(torch.float32) == "torch.float32" and str(torch.int64) == "torch.int64"
    assert repr(torch.device("cpu")) == "device(type='cpu')"
    x = leaf(2.0)
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr((x * 2).grad_fn))
    assert repr(x * 2) == "tensor(4., grad_fn=<MulBackward0>)"
    assert (x * 2).grad_fn.name() == "MulBackward0"


def test_format_of_zero_dim_tensor():
    x = leaf(2.0)
    (x**3 + 3 * x**2 + 5).backward()
    assert f"{x.grad}" == "24.0"
    a = leaf(2.0)
    (a**3).backward()
    assert f"{a.grad}" == "12.0" and f"{a.grad:.2f}" == "12.00"
    assert f"{torch.tensor(3)}" == "3"
    assert f"{torch.tensor([1.0, 2.0])}" == "tensor([1., 2.])"


def test_tensor_attributes():
    a = torch.arange(6.0).reshape(2, 3)
    assert a.T.shape == (3, 2) and a.T.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    b = torch.zeros(4, 2, 3)
    assert b.mT.shape == (4, 3, 2)
    assert a.size() == torch.Size([2, 3]) and a.size(1) == 3 and a.size(-1) == 3
    assert a.dim() == 2 and a.ndim == 2 and a.numel() == 6 and len(a) == 2
    assert a.shape == torch.Size([2, 3]) and isinstance(a.shape, tuple)
    assert torch.tensor(2.5).item() == 2.5 and isinstance(torch.tensor(3).item(), int)
    assert a.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    n = a.numpy()
    assert isinstance(n, np.ndarray) and n.dtype == np.float32
    n[0, 0] = 9.0
    assert a[0, 0].item() == 9.0  # numpy() shares memory
    with pytest.raises(RuntimeError, match=r"^Can't call numpy\(\) on Tensor that requires grad\. "
                       r"Use tensor\.detach\(\)\.numpy\(\) instead\.$"):
        leaf([1.0]).numpy()
    c = a.clone()
    c[0, 0] = -1.0
    assert a[0, 0].item() == 9.0
    assert a.contiguous() is a
    t = a.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert t.contiguous().tolist() == t.tolist()
    with pytest.raises(ValueError, match=r"^only one element tensors can be converted to Python "
                       r"scalars$|a Tensor with 6 elements cannot be converted to Scalar"):
        a.item()
    x = leaf([1.0, 2.0])
    assert names(x.clone()) == "CloneBackward0"
    assert x.dtype == torch.float32 and x.is_floating_point()
    assert x.data.requires_grad is False and x.data.tolist() == [1.0, 2.0]


def test_view_errors():
    with pytest.raises(RuntimeError, match=r"^view size is not compatible with input tensor's size "
                       r"and stride \(at least one dimension spans across two contiguous "
                       r"subspaces\)\. Use \.reshape\(\.\.\.\) instead\.$"):
        torch.zeros(2, 3).t().view(6)
    with pytest.raises(RuntimeError, match=r"^shape '\[4\]' is invalid for input of size 6$"):
        torch.zeros(2, 3).view(4)


def test_matmul_errors():
    with pytest.raises(RuntimeError, match=r"^mat1 and mat2 shapes cannot be multiplied \(2x3 and "
                       r"4x5\)$"):
        torch.ones(2, 3) @ torch.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"^inconsistent tensor size, expected tensor \[3\] and "
                       r"src \[4\] to have the same number of elements, but got 3 and 4 elements "
                       r"respectively$"):
        torch.ones(3) @ torch.ones(4)
    with pytest.raises(RuntimeError, match=r"^both arguments to matmul need to be at least 1D, but "
                       r"they are 0D and 0D$"):
        torch.tensor(1.0) @ torch.tensor(2.0)


# --- more of the autograd API ---------------------------------------------------------------


def test_backward_inputs_limits_accumulation():
    a, b = leaf(1.0), leaf(2.0)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


def test_retain_graph_defaults_to_create_graph():
    x = leaf(2.0)
    y = x.exp()
    torch.autograd.grad(y, x, create_graph=True)
    (g,) = torch.autograd.grad(y, x)  # the graph was retained
    assert g.item() == pytest.approx(math.exp(2.0), rel=1e-6)


def test_grad_with_respect_to_non_leaf_and_several_outputs():
    x = leaf(2.0)
    y = x * 3
    z = y * y
    assert torch.autograd.grad(z, y)[0].item() == 12.0
    assert torch.autograd.grad([x * 2, x * 3], [x])[0].item() == 5.0


def test_retain_grad_runs_after_tensor_hooks():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    y.sum().backward()
    assert y.grad.tolist() == [2.0, 2.0] and x.grad.tolist() == [4.0, 4.0]


def test_post_accumulate_grad_hook():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]


def test_custom_function():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    x = leaf(3.0)
    y = Square.apply(x)
    assert repr(y) == "tensor(9., grad_fn=<SquareBackward>)"
    y.backward()
    assert x.grad.item() == 6.0


def test_hook_returning_none_observes_only():
    x = leaf(1.0)
    y = x * 2
    calls = []
    y.register_hook(lambda g: calls.append(g.item()))
    y.register_hook(lambda g: g + 1)
    (y * 3).backward()
    assert calls == [3.0] and x.grad.item() == 8.0


def test_backward_create_graph_grad_is_a_copy():
    x = leaf(2.0)
    with pytest.warns(UserWarning):
        (x**3).backward(create_graph=True)
    assert repr(x.grad) == "tensor(12., grad_fn=<CopyBackwards>)"


def test_inplace_on_inference_tensor_outside_inference_mode():
    with torch.inference_mode():
        t = torch.ones(2)
    with pytest.raises(RuntimeError, match=r"^Inplace update to inference tensor outside "
                       r"InferenceMode is not allowed"):
        t.add_(1)


def test_grad_setter_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "attempting to assign a gradient of size '[3]' to a tensor of size '[2]'. Please "
            "ensure that the gradient and the tensor are the same size")):
        x.grad = torch.zeros(3)
    with pytest.raises(RuntimeError, match=re.escape(
            "attempting to assign a gradient with dtype 'double' to a tensor with dtype 'float'. "
            "Please ensure that the gradient and the tensor have the same dtype")):
        x.grad = torch.zeros(2, dtype=torch.float64)


def test_grad_setter_type_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^assigned grad expected to be a Tensor or None but got "
                       r"grad of type list$"):
        x.grad = [1.0, 2.0]
    x.grad = torch.ones(2)
    assert x.grad.tolist() == [1.0, 1.0]


def test_complex_tensors_refuse_requires_grad():
    # documented difference: gradcalc's formulas are real-valued, so complex autograd is refused
    msg = r"^gradcalc does not support autograd on complex tensors"
    with pytest.raises(RuntimeError, match=msg):
        torch.tensor([1 + 2j], requires_grad=True)
    z = torch.tensor([1 + 2j, 3 - 1j])
    with pytest.raises(RuntimeError, match=msg):
        z.requires_grad_()
    with pytest.raises(RuntimeError, match=msg):
        z.requires_grad = True
    assert (z * z).abs().sum().item() == 15.0


def test_leaf_grads_never_alias_each_other_or_the_seed():
    # the engine keeps a fresh gradient array as .grad without copying it; shared ones are copied
    a = torch.zeros(2, 2, requires_grad=True)
    b = torch.zeros(2, 2, requires_grad=True)
    seed = torch.ones(2, 2)
    (a + b).backward(seed)  # AddBackward0 hands the same gradient to both leaves
    assert a.grad._data is not b.grad._data and a.grad._data is not seed._data
    (a * 3).sum().backward()
    assert a.grad.tolist() == [[4.0, 4.0], [4.0, 4.0]] and b.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert seed.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    x = torch.zeros(3, requires_grad=True)
    g = torch.ones(3)
    x.backward(g)
    x.backward(g)
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and g.tolist() == [1.0, 1.0, 1.0]
    m = torch.ones(2, 3, requires_grad=True)
    w = torch.ones(3, 4, requires_grad=True)
    (m @ w).backward(torch.ones(2, 4))  # fresh arrays: kept as they are
    kept = m.grad._data
    (m @ w).backward(torch.ones(2, 4))
    assert m.grad._data is kept and m.grad.tolist() == [[8.0] * 3] * 2


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_raw_backward_path_meets_hooks_buffers_and_seeds():
    # nodes with a raw-array formula (x*c, x+c, sin) mixed with tensor-formula nodes, hooks,
    # retain_grad and a shared subgraph: same gradients as the graph-recording path
    def run(create_graph):
        x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
        a = x * 3.0  # raw
        b = a + 1.0  # raw
        b.retain_grad()
        seen = []
        b.register_hook(lambda g: seen.append(g.tolist()))
        c = torch.sin(b)  # raw
        c.grad_fn.register_hook(lambda gi, go: (gi[0] * 2,))  # a node hook: tensor path
        d = a.cumsum(0)  # a tensor-formula node sharing `a` with the raw chain
        (c + d + a * 0.5).sum().backward(create_graph=create_graph)
        return x.grad.detach().numpy(), b.grad.detach().numpy(), seen

    gx, gb, seen = run(False)
    rx, rb, rseen = run(True)
    np.testing.assert_array_equal(gx, rx)
    np.testing.assert_array_equal(gb, rb)
    assert seen == rseen
    b = np.float32([0.5, -1.0, 2.0]) * np.float32(3.0) + np.float32(1.0)
    ga = 2 * np.cos(b) + np.float32([3.0, 2.0, 1.0]) + 0.5
    np.testing.assert_allclose(gx, 3 * ga, rtol=1e-6)
    # a raw formula that passes its gradient through (x + c) never leaves the seed aliased
    x = torch.zeros(3, requires_grad=True)
    seed = torch.ones(3)
    (x + 1.0).backward(seed)
    assert x.grad._data is not seed._data
    x.grad.add_(1.0)
    assert seed.tolist() == [1.0, 1.0, 1.0]
    # autograd.grad on the raw path returns tensors
    y = torch.tensor(0.5, requires_grad=True)
    (g,) = torch.autograd.grad(torch.sin(y * 2.0) + 1.0, y)
    assert type(g) is torch.Tensor and g.item() == pytest.approx(2 * math.cos(1.0), rel=1e-6)


def test_transposed_fresh_gradient_is_kept_and_accumulates():
    # Linear's weight gets its gradient through TBackward0 as a transposed view of a fresh
    # array; the engine keeps it as .grad uncopied, and later passes add into it
    w = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    x = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    (x @ w).sum().backward()
    assert w.grad.tolist() == [[3.0, 3.0, 3.0], [-0.5, -0.5, -0.5]]
    u = torch.ones(3, 2, requires_grad=True)
    (x @ u.t()).sum().backward()
    assert u.grad.tolist() == [[3.0, -0.5]] * 3 and u.grad._data.base is not None  # not copied
    v = torch.ones(3, 2, requires_grad=True)
    seed = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    v.t().backward(seed)  # the gradient is a view of the caller's seed: copied
    assert v.grad._data.base is not seed._data and v.grad._data is not seed._data
    v.grad.add_(1.0)
    assert seed.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    (v.t() * 2.0).backward(seed)  # a fresh array's transposed view: kept, then added into
    assert v.grad.tolist() == [[4.0, 13.0], [7.0, 16.0], [10.0, 19.0]]
    (v.t() * 2.0).backward(seed)
    assert v.grad.tolist() == [[6.0, 21.0], [11.0, 26.0], [16.0, 31.0]]


def test_saved_values_read_as_pytorch_shows_them():
    # PyTorch 2.13: a Python number in a tensor argument is saved as a 0-dim tensor (int64 or
    # float64), Scalar arguments stay numbers, and a saved output comes back with its grad_fn
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr((a * 3).grad_fn._saved_other) == "tensor(3)"
    assert repr((a * 2.5).grad_fn._saved_other) == "tensor(2.5000, dtype=torch.float64)"
    assert (a * 3).grad_fn._saved_self is None
    assert repr((a / 2).grad_fn._saved_other) == "tensor(2)"
    assert repr(a.exp().grad_fn._saved_result) == "tensor([2.7183, 7.3891], grad_fn=<ExpBackward0>)"
    assert repr(torch.relu(a).grad_fn._saved_result) == "tensor([1., 2.], grad_fn=<ReluBackward0>)"
    assert (a + a).grad_fn._saved_alpha == 1 and (a ** 3).grad_fn._saved_exponent == 3


@pytest.mark.parametrize("expr", ["a * b", "b * a", "a / b", "b / a", "a * 2.5", "a ** 3",
                                  "a * np.float64(2.0)", "a / np.float32(3.0)"])
def test_raw_formulas_with_mixed_dtypes_match_the_graph_path(expr):
    # a float32 tensor meets a float64 0-dim tensor (PyTorch keeps float32; NumPy would not):
    # the raw path must give what the tensor formulas give
    def grads(create_graph):
        a = torch.tensor([0.3, -1.7, 2.2], requires_grad=True)
        b = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
        out = eval(expr, {"a": a, "b": b, "np": np})
        gs = torch.autograd.grad(out, (a, b), torch.tensor([1.0, 0.5, -2.0], dtype=out.dtype),
                                 create_graph=create_graph, allow_unused=True)
        return out.dtype, [None if g is None else (g.dtype, g.detach().numpy()) for g in gs]

    dt, raw = grads(False)
    dt2, graph = grads(True)
    assert dt == dt2 == torch.float32
    for r, g in zip(raw, graph):
        assert (r is None) == (g is None)
        if r is not None:
            assert r[0] == g[0]
            np.testing.assert_array_equal(r[1], g[1])


def test_version_error_names_the_op_as_pytorch_does():
    # PyTorch 2.13 names the op without "Backward0": "output 0 of Mul", "output 0 of Sigmoid"
    m = torch.ones(2, 2, requires_grad=True)
    z = m * 1
    q = z.matmul(z)
    z.mul_(2)
    with pytest.raises(RuntimeError, match=re.escape(
            "[torch.FloatTensor [2, 2]], which is output 0 of Mul, is at version 1; expected "
            "version 0 instead. Hint: enable anomaly detection to find the operation that failed "
            "to compute its gradient, with torch.autograd.set_detect_anomaly(True, "
            "check_nan=False).")):
        q.sum().backward()
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    s = a.sigmoid()
    s.mul_(2)
    with pytest.raises(RuntimeError, match=re.escape("which is output 0 of Sigmoid, is at")):
        s.sum().backward()


@pytest.mark.parametrize("make", [
    lambda x: x.split(2, dim=0),   # one piece: still a multi-output node (PyTorch: SplitBackward0)
    lambda x: x.chunk(1),
    lambda x: x.split(3, dim=-1),
    lambda x: x.reshape(1, 2, 3).unbind(0),
])
@pytest.mark.parametrize("create_graph", [False, True])
def test_multi_output_node_with_a_single_output(make, create_graph):
    x = torch.ones(2, 3, requires_grad=True)
    (piece,) = make(x)
    assert piece.grad_fn.name() in ("SplitBackward0", "UnbindBackward0")
    w = torch.arange(6.0).reshape(piece.shape)
    (g,) = torch.autograd.grad((piece * w).sum(), x, create_graph=create_graph)
    assert g.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_scalar_base_power_gradient_at_zero_and_negative_bases():
    # PyTorch 2.13: d(b**x)/dx = b**x * log(b); nan for b < 0; at b = 0, 0 where x >= 0, -inf below
    x = torch.tensor([1.5, -1.0, 0.0, 2.0], requires_grad=True)
    got = {}
    for b in (-0.5, 0.0, 2.0):
        x.grad = None
        (b ** x).sum().backward()
        got[b] = x.grad.tolist()
    assert all(math.isnan(v) for v in got[-0.5])
    assert got[0.0] == [0.0, -math.inf, 0.0, 0.0]
    assert got[2.0] == pytest.approx([2 ** 1.5 * math.log(2), 0.5 * math.log(2), math.log(2),
                                      4 * math.log(2)], rel=1e-6)
