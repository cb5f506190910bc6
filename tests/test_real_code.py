# Small gaps real PyTorch programs meet (issue 11, section 3), each against PyTorch 2.13's own
# behaviour, through the real Session (the sandbox) unless the test says otherwise.
import numpy as np
import pytest

import gradcalc as torch
from gradcalc.errors import GradcalcError
from gradcalc.lang import Session


def run(text):
    out = []
    Session(write=out.append, echo=False).run(text)
    return "".join(out)


def test_type_with_legacy_classes_strings_and_dtypes():
    out = run("t = torch.ones(2)\n"
              "print(t.type(torch.FloatTensor) is t, t.type(torch.DoubleTensor).dtype)\n"
              "print(t.type('torch.LongTensor'), t.type(torch.float64).dtype, t.type())\n"
              "print(torch.ones(1, dtype=torch.long).type())\n")
    assert out == ("True torch.float64\ntensor([1, 1]) torch.float64 torch.FloatTensor\n"
                   "torch.LongTensor\n")
    with pytest.raises(GradcalcError, match=r"invalid type: 'float'"):
        run("torch.ones(2).type('float')")


def test_classes_print_as_pytorchs():
    out = run("print(type(torch.ones(1)), torch.Size, type(torch.ones(1).shape))\n"
              "print(type(torch.nn.Parameter(torch.ones(1))), torch.Tensor)\n")
    assert out == ("<class 'torch.Tensor'> <class 'torch.Size'> <class 'torch.Size'>\n"
                   "<class 'torch.nn.parameter.Parameter'> <class 'torch.Tensor'>\n")
    assert repr(torch.Tensor) == "<class 'torch.Tensor'>"


def test_shuffled_loader_of_an_empty_dataset_is_refused_at_once():
    class Empty(torch.utils.data.Dataset):
        def __len__(self):
            return 0

    with pytest.raises(GradcalcError, match=r"^num_samples should be a positive integer value, "
                                            r"but got num_samples=0$"):
        torch.utils.data.DataLoader(Empty(), batch_size=4, shuffle=True)
    assert list(torch.utils.data.DataLoader(Empty(), batch_size=4)) == []


FUNCTIONS = """
import torch
from torch.autograd import Function

class LinearFunction(Function):
    @staticmethod
    def forward(input, weight, bias):
        return input.mm(weight.t()) + bias
    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias = inputs
        ctx.save_for_backward(input, weight)
    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        return grad_output.mm(weight), grad_output.t().mm(input), grad_output.sum(0)

class MulConstant(Function):
    @staticmethod
    def forward(ctx, tensor, constant):
        ctx.constant = constant
        return tensor * constant
    @staticmethod
    def backward(ctx, grad_output):
        print('needs', ctx.needs_input_grad)
        return grad_output * ctx.constant, None

class Sinh(Function):
    @staticmethod
    def forward(ctx, x):
        expx, expnegx = torch.exp(x), torch.exp(-x)
        ctx.save_for_backward(expx, expnegx)
        return (expx - expnegx) / 2, expx, expnegx
    @staticmethod
    def backward(ctx, g, g_exp, g_negexp):
        expx, expnegx = ctx.saved_tensors
        return g * (expx + expnegx) / 2 + g_exp * expx - g_negexp * expnegx
"""


def test_functions_in_both_styles_with_pytorchs_node_names():
    out = run(FUNCTIONS + """
x = torch.tensor([[1., 2.]], requires_grad=True)
w = torch.tensor([[3., 4.]], requires_grad=True)
b = torch.tensor([0.5], requires_grad=True)
y = LinearFunction.apply(x, w, b)
print(y, y.grad_fn.name(), len(y.grad_fn.next_functions))
y.sum().backward()
print(x.grad, w.grad, b.grad)
z = MulConstant.apply(x, 3.0)
z.sum().backward()
print(z.grad_fn.name(), x.grad)
print(torch.autograd.gradcheck(lambda t: Sinh.apply(t)[0], torch.tensor([0.3, -1.2],
      dtype=torch.double, requires_grad=True)))
print(torch.autograd.gradgradcheck(lambda t: Sinh.apply(t)[0], torch.tensor([0.3, -1.2],
      dtype=torch.double, requires_grad=True)))
s, e, n = Sinh.apply(x)
print(s.grad_fn is e.grad_fn, s.grad_fn.name())
""")
    assert out == (
        "tensor([[11.5000]], grad_fn=<LinearFunctionBackward>) LinearFunctionBackward 3\n"
        "tensor([[3., 4.]]) tensor([[1., 2.]]) tensor([1.])\n"
        "needs (True, False)\n"
        "MulConstantBackward tensor([[6., 7.]])\n"
        "True\nTrue\n"
        "True SinhBackward\n")
    import re

    node_repr = run(FUNCTIONS + "print(MulConstant.apply(torch.ones(1, requires_grad=True), "
                                "2.0).grad_fn)")
    assert re.fullmatch(r"<torch\.autograd\.function\.MulConstantBackward object at "
                        r"0x[0-9a-f]+>\n", node_repr)


@pytest.mark.parametrize("body, match", [
    ("class Bad(Function):\n    @staticmethod\n    def forward(ctx, x, y):\n        return x + y\n"
     "    @staticmethod\n    def backward(ctx, g):\n        return g\n"
     "x = torch.ones(2, requires_grad=True)\nBad.apply(x, x).sum().backward()",
     r"^function BadBackward returned an incorrect number of gradients \(expected 2, got 1\)$"),
    ("class Old(Function):\n    def forward(self, x):\n        return x\n"
     "Old()(torch.ones(1))",
     r"^Legacy autograd function with non-static forward method is deprecated\. Please use "
     r"new-style autograd function with static forward method\. \(Example: https://pytorch\."
     r"org/docs/stable/autograd\.html#torch\.autograd\.Function\)$"),
    ("class NoBack(Function):\n    @staticmethod\n    def forward(ctx, x):\n        return x * 2\n"
     "NoBack.apply(torch.ones(1, requires_grad=True)).sum().backward()",
     r"^You must implement either the backward or vjp method for your custom "
     r"autograd\.Function to use it with backward mode AD\.$"),
    ("class Sv(Function):\n    @staticmethod\n    def forward(ctx, x):\n"
     "        ctx.save_for_backward(x)\n        return x * 2\n"
     "    @staticmethod\n    def backward(ctx, g):\n        x, = ctx.saved_tensors\n"
     "        return g * x\n"
     "w = torch.ones(2, requires_grad=True).clone()\no = Sv.apply(w)\nw.add_(1)\n"
     "o.sum().backward()",
     r"^one of the variables needed for gradient computation has been modified by an inplace "
     r"operation: \[torch\.FloatTensor \[2\]\], which is output 0 of Add, is at version 1; "
     r"expected version 0 instead\."),
    ("class Sv(Function):\n    @staticmethod\n    def forward(ctx, x):\n"
     "        ctx.save_for_backward(x)\n        return x * 2\n"
     "    @staticmethod\n    def backward(ctx, g):\n        x, = ctx.saved_tensors\n"
     "        return g * x\n"
     "o = Sv.apply(torch.ones(2, requires_grad=True))\no.sum().backward()\n"
     "o.sum().backward()",
     r"^Trying to backward through the graph a second time \(or directly access saved "
     r"tensors after they have already been freed\)"),
])
def test_function_errors_are_pytorchs(body, match):
    with pytest.raises(GradcalcError, match=match):
        run(FUNCTIONS + body)


def test_an_input_returned_as_it_is_comes_back_as_a_new_tensor():
    out = run("class Ident(torch.autograd.Function):\n"
              "    @staticmethod\n    def forward(ctx, x):\n        return x\n"
              "    @staticmethod\n    def backward(ctx, g):\n        return g\n"
              "x = torch.ones(2, requires_grad=True)\nz = Ident.apply(x)\n"
              "print(z is x, z.grad_fn.name(), x.grad_fn)\n")
    assert out == "False IdentBackward None\n"


HOOKS = """
import torch
def pack_hook(x):
    print("Packing", x)
    return x
def unpack_hook(x):
    print("Unpacking", x)
    return x
a = torch.ones(3, requires_grad=True)
b = torch.ones(3, requires_grad=True) * 2
with torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook):
    y = a * b
    z = torch.exp(a)
y.sum().backward()
z.sum().backward()
x = torch.tensor([1., -2.], requires_grad=True)
with torch.autograd.graph.saved_tensors_hooks(lambda t: t * 4, lambda t: t / 4):
    y = torch.pow(x, 2)
y.sum().backward()
print(x.grad)
with torch.autograd.graph.save_on_cpu():
    w = (x * x).sum()
w.backward()
print(x.grad)
"""


def test_saved_tensors_hooks_pack_and_unpack_as_pytorchs_do():
    assert run(HOOKS) == (
        "Packing tensor([2., 2., 2.], grad_fn=<MulBackward0>)\n"
        "Packing tensor([1., 1., 1.], requires_grad=True)\n"
        "Packing tensor([2.7183, 2.7183, 2.7183], grad_fn=<ExpBackward0>)\n"
        "Unpacking tensor([2., 2., 2.], grad_fn=<MulBackward0>)\n"
        "Unpacking tensor([1., 1., 1.], requires_grad=True)\n"
        "Unpacking tensor([2.7183, 2.7183, 2.7183], grad_fn=<ExpBackward0>)\n"
        "tensor([ 2., -4.])\n"
        "tensor([ 4., -8.])\n")


def test_a_saved_tensor_is_unpacked_on_each_access_of_its_saved_attribute():
    calls = []
    x = torch.ones(2, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: calls.append("pack") or t,
                                                  lambda t: calls.append("unpack") or t):
        y = x.pow(2)
    assert torch.equal(y.grad_fn._saved_self, x) and torch.equal(y.grad_fn._saved_self, x)
    y.sum().backward()
    assert calls == ["pack", "unpack", "unpack", "unpack"]
    assert torch.equal(x.grad, torch.tensor([2., 2.]))


def test_variable_returns_a_new_tensor_and_leaves_its_argument_alone():
    out = run("from torch.autograd import Variable\nt = torch.ones(2)\n"
              "v = Variable(t, requires_grad=True)\n"
              "print(v is t, t.requires_grad, v.requires_grad)\n"
              "w = torch.ones(2, requires_grad=True) * 2\nv2 = Variable(w)\n"
              "print(v2 is w, v2.grad_fn, v2.requires_grad)\nt.add_(1)\nprint(v)\n")
    assert out == "False False True\nFalse None False\ntensor([2., 2.], requires_grad=True)\n"
    v = torch.autograd.Variable(torch.ones(1), requires_grad=True)
    assert v.requires_grad and v.grad_fn is None


def test_numpy_spellings_axis_and_keepdims_as_pytorchs_parser_takes_them():
    out = run("t = torch.arange(6.).reshape(2, 3)\n"
              "print(t.sum(axis=0, keepdims=True), t.mean(axis=1), torch.sum(t, axis=(0, 1)))\n"
              "print(torch.cat([t, t], axis=0).shape, t.argmax(axis=1), t.cumsum(axis=1)[1])\n"
              "print(t.var(axis=0, keepdims=True), torch.softmax(t, axis=0)[1])\n")
    assert out == ("tensor([[3., 5., 7.]]) tensor([1., 4.]) tensor(15.)\n"
                   "torch.Size([4, 3]) tensor([2, 2]) tensor([ 3.,  7., 12.])\n"
                   "tensor([[4.5000, 4.5000, 4.5000]]) tensor([0.9526, 0.9526, 0.9526])\n")
    with pytest.raises(GradcalcError, match=r"sum\(\) got multiple values for argument 'dim'"):
        run("torch.ones(2).sum(dim=0, axis=0)")


def test_factories_take_size_as_a_keyword():
    out = run("print(torch.zeros(size=(1, 2)), torch.ones(size=(2,)).shape, "
              "torch.randn(size=(2, 3)).shape, torch.empty(size=[3]).shape)")
    assert out == "tensor([[0., 0.]]) torch.Size([2]) torch.Size([2, 3]) torch.Size([3])\n"
    with pytest.raises(GradcalcError, match=r"zeros\(\) got an unexpected keyword argument "
                                            r"'shape'"):
        run("torch.zeros(shape=(2,))")


def test_default_device_accelerator_and_backends():
    out = run("import torch.backends.cudnn as cudnn\n"
              "print(torch.accelerator.is_available(), torch.accelerator.current_accelerator())\n"
              "print(torch.backends.mps.is_available(), cudnn.is_available(), cudnn.benchmark)\n"
              "device = torch.accelerator.current_accelerator().type "
              "if torch.accelerator.is_available() else 'cpu'\n"
              "torch.set_default_device(device)\n"
              "print(torch.get_default_device(), torch.ones(1).device)\n")
    assert out == "False None\nFalse False False\ncpu cpu\n"


def test_the_default_device_a_script_sets_is_its_sessions_own():
    a, b = Session(write=lambda t: None), Session(write=lambda t: None)
    a.run("torch.set_default_device('cuda:0')")
    assert str(b.evaluate("torch.get_default_device()")) == "cpu"
    assert str(a.evaluate("torch.get_default_device()")) == "cuda:0"
    assert str(torch.get_default_device()) == "cpu"


def test_embedding_records_embedding_backward_with_pytorchs_gradients():
    w = torch.ones(4, 3, requires_grad=True)
    i = torch.tensor([[0, 2, 0], [1, 1, 3]])
    e = torch.nn.functional.embedding(i, w, padding_idx=1)
    assert e.grad_fn.name() == "EmbeddingBackward0" and e.shape == (2, 3, 3)
    assert (e.grad_fn._saved_padding_idx, e.grad_fn._saved_weight_sym_argsize_0,
            e.grad_fn._saved_scale_grad_by_freq) == (1, 4, False)
    e.sum().backward()
    assert w.grad.tolist() == [[2.0] * 3, [0.0] * 3, [1.0] * 3, [1.0] * 3]
    w.grad = None
    torch.nn.functional.embedding(i, w, scale_grad_by_freq=True).sum().backward()
    assert w.grad.tolist() == [[1.0] * 3] * 4
    layer = torch.nn.Embedding(4, 3, padding_idx=0)
    out = layer(torch.tensor([0, 3]))
    assert out.grad_fn.name() == "EmbeddingBackward0" and out[0].tolist() == [0.0, 0.0, 0.0]
    assert torch.autograd.gradgradcheck(
        lambda W: torch.nn.functional.embedding(i, W, padding_idx=1),
        torch.rand(4, 3, dtype=torch.float64, requires_grad=True))


@pytest.mark.parametrize("indices, match", [
    ("torch.tensor([1.0])", r"^Expected tensor for argument #1 'indices' to have one of the "
                            r"following scalar types: Long, Int; but got torch.FloatTensor "
                            r"instead \(while checking arguments for embedding\)$"),
    ("torch.tensor([4])", r"^index out of range in self$"),
])
def test_embedding_errors_are_pytorchs(indices, match):
    with pytest.raises(GradcalcError, match=match):
        run(f"torch.nn.functional.embedding({indices}, torch.ones(4, 3))")


def _linspace_cases():
    import json
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / "linspace_reference.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("case", _linspace_cases(),
                         ids=lambda c: f"{c['fn']}-{c['dtype']}-{c['steps']}")
def test_linspace_and_logspace_are_pytorchs_bit_for_bit(case):
    fn = getattr(torch, case["fn"])
    t = fn(case["start"], case["end"], case["steps"], dtype=getattr(torch, case["dtype"]))
    assert t.numpy().tobytes().hex() == case["bits"]


def test_return_of_a_starred_tuple_and_annotated_assignments():
    out = run("def split(xs):\n    a, *rest = xs\n    return a, *rest\n"
              "def head(xs: list) -> tuple:\n    return xs[0], *xs[1:], 'end'\n"
              "print(split([1, 2, 3]), head([4, 5]))\n"
              "n: int = 3\nm: float\nd = {'k': 1}\nd['k']: int = 5\n"
              "class C(object):\n    size: int = 7\n    name: str\n"
              "print(n, d, C.size)\n")
    assert out == "(1, 2, 3) (4, 5, 'end')\n3 {'k': 5} 7\n"
    with pytest.raises(GradcalcError, match=r"^only single target \(not tuple\) can be "
                                            r"annotated$") as e:
        run("x = 1\na, b: int = 1, 2")
    assert (e.value.line, e.value.column) == (2, 1)


NAMES = """
import torch
import torch.nn.functional as F
x = torch.tensor([[1., -2., 3.], [0.5, 0., -1.]], requires_grad=True)
z = torch.zeros(2, 3)
def name(t):
    return t.grad_fn.name()
y1 = x.clone()
y1[[0, 1], [1, 2]] = 0.
y2 = x.clone()
y2[y2 > 0] = 0.
y3 = x.clone()
y3.fill_(1.)
y4 = x.clone()
y4.fill_(torch.tensor(2.))
y5 = x.clone()
y5.zero_()
y6 = x.clone()
y6[0] = 5.
print([name(t) for t in [F.pad(x, (1, 1)), F.hardtanh(x), F.layer_norm(x, (3,)),
       F.huber_loss(x, z), F.smooth_l1_loss(x, z), F.mse_loss(x, z, reduction='none'),
       F.mse_loss(x, z, reduction='sum'), F.mse_loss(x, z), torch.sort(x)[0],
       torch.topk(x, 2)[0], y1, y2, y3, y4, y5, y6, F.threshold(x, 0.5, 0.)]])
"""


def test_composite_ops_record_pytorchs_nodes():
    assert run(NAMES) == (
        "['ConstantPadNdBackward0', 'HardtanhBackward0', 'NativeLayerNormBackward0', "
        "'HuberLossBackward0', 'SmoothL1LossBackward0', 'MseLossBackward0', "
        "'MseLossBackward0', 'MseLossBackward0', 'SortBackward0', 'TopkBackward0', "
        "'IndexPutBackward0', 'IndexPutBackward0', 'FillBackward2', 'FillBackward3', "
        "'ZeroBackward0', 'torch::autograd::CopySlices', 'ThresholdBackward0']\n")


def test_their_values_and_gradients_are_pytorchs():
    # expected values: torch 2.13.0 on the same inputs
    out = run("""
import torch.nn.functional as F
x = torch.tensor([[1., -2., 3.], [0.5, 0., -1.]], requires_grad=True)
p = F.pad(x, (1, 2, 0, 1), value=0.5)
print(p.shape, F.pad(x, (-1, 1)).tolist())
(p * torch.arange(p.numel()).reshape(p.shape)).sum().backward()
print(x.grad.tolist())
x.grad = None
h = F.huber_loss(x, torch.zeros(2, 3), delta=0.7)
h.backward()
print(round(h.item(), 4), x.grad)
x.grad = None
print(F.mse_loss(x, torch.ones(2, 3), reduction='none').tolist())
(-F.threshold(x, 0.5, -3.).sum()).backward()
print(x.grad)
x.grad = None
(-F.relu(x).sum()).backward()
print(x.grad)
x.grad = None
torch.topk(x, 2)[0].sum().backward()
print(x.grad)
y = x.clone()
y.fill_(3.)
y.sum().backward()
print(x.grad)
""")
    assert out == (
        "torch.Size([3, 6]) [[-2.0, 3.0, 0.0], [0.0, -1.0, 0.0]]\n"
        "[[1.0, 2.0, 3.0], [7.0, 8.0, 9.0]]\n"
        "0.6742 tensor([[ 0.1167, -0.1167,  0.1167],\n        [ 0.0833,  0.0000, -0.1167]])\n"
        "[[0.0, 9.0, 4.0], [0.25, 1.0, 4.0]]\n"
        "tensor([[-1.,  0., -1.],\n        [ 0.,  0.,  0.]])\n"
        "tensor([[-1.,  0., -1.],\n        [-1.,  0.,  0.]])\n"
        "tensor([[1., 0., 1.],\n        [1., 1., 0.]])\n"
        "tensor([[1., 0., 1.],\n        [1., 1., 0.]])\n")
    for f in (lambda t: torch.nn.functional.layer_norm(t, (3,)),
              lambda t: torch.sort(t, 1)[0] * torch.arange(3.),
              lambda t: torch.nn.functional.pad(t, (2, -1)),
              lambda t: torch.nn.functional.huber_loss(t, torch.zeros(2, 3, dtype=t.dtype),
                                                       delta=0.7)):
        t = torch.tensor([[1., -2., 3.], [0.5, 0.1, -1.]], dtype=torch.float64,
                         requires_grad=True)
        assert torch.autograd.gradcheck(f, t) and torch.autograd.gradgradcheck(f, t)


def test_relu_and_threshold_gradients_are_plus_zero_where_cut():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    (torch.relu(x) * -3.0).sum().backward()
    assert str(x.grad) == "tensor([ 0., -3.])"  # +0, not PyTorch-never -0.
    assert not np.signbit(x.grad.numpy()[0])


def test_T_of_a_vector_is_a_permute_with_pytorchs_warning():
    import warnings

    from gradcalc.core import shape

    shape._T_WARNED.clear()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        t = torch.tensor([1.0, 2.0], requires_grad=True).T
    assert t.grad_fn.name() == "PermuteBackward0"
    assert [str(w.message)[:47] for w in seen] == ["The use of `x.T` on tensors of dimension other "]


def test_fill_of_a_view_that_needs_a_gradient_is_refused_not_wrong():
    with pytest.raises(GradcalcError, match=r"in-place operations that need a gradient on a "
                                            r"view"):
        run("x = torch.ones(2, 3, requires_grad=True)\ny = x.clone()\ny[0].fill_(2.)")
