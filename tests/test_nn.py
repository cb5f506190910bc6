# nn: Module machinery, layers, losses and init against PyTorch's printed forms
# (tests/fixtures/nn_reference.json, from gen_nn.py), NumPy references and central differences.
import copy
import json
import math
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import gradcalc as torch
from gradcalc import nn
from gradcalc.nn import functional as F
from tests.gradcheck import gradcheck

REF = json.loads((Path(__file__).parent / "fixtures" / "nn_reference.json").read_text())


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 3)
        )

    def forward(self, x):
        return self.layers(self.flatten(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.heads = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)] + [nn.GELU()])
        self.extra = nn.ModuleDict({"act": nn.SiLU(), "drop": nn.Dropout(0.1)})
        self.bn = nn.BatchNorm1d(8)
        self.emb = nn.Embedding(10, 8, padding_idx=0)


ENV = {"nn": nn, "torch": torch, "NeuralNetwork": NeuralNetwork, "Block": Block}


def rng(seed=0):
    return np.random.default_rng(seed)


def t64(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64,
                        requires_grad=requires_grad)


# --- reprs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", [k for k in REF["reprs"] if k != "slice"])
def test_module_repr_matches_pytorch(expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert repr(eval(expr, ENV)) == REF["reprs"][expr]


def test_sequential_slice_repr_keeps_keys():
    m = eval("nn.Sequential(nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(), "
             "nn.Linear(20, 3))", ENV)
    assert repr(m[1:3]) == REF["reprs"]["slice"]
    assert str(m) == repr(m)


def test_parameter_repr_and_leaf():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p) == REF["parameter_repr"]
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert isinstance(p, torch.Tensor) and isinstance(p, nn.Parameter)
    assert repr(p * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert type(p * 2) is torch.Tensor


def test_parameter_shares_storage_and_frozen_parameter():
    t = torch.zeros(3)
    p = nn.Parameter(t)
    with torch.no_grad():
        p.add_(1)
    assert t.tolist() == [1.0, 1.0, 1.0]
    q = nn.Parameter(torch.ones(2), requires_grad=False)
    assert not q.requires_grad and repr(q) == "Parameter containing:\ntensor([1., 1.])"
    assert nn.Parameter().shape == torch.Size([0])


def test_parameter_of_integer_dtype_is_an_error():
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        nn.Parameter(torch.tensor([1, 2]))


def test_parameter_deepcopy_is_independent():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    with torch.no_grad():
        q.mul_(3)
    assert p.tolist() == [1.0, 2.0] and q.tolist() == [3.0, 6.0]


def test_optimizer_state_after_deepcopy_of_model():
    m = nn.Linear(2, 2)
    m2 = copy.deepcopy(m)
    assert repr(m2) == repr(m)
    assert all(isinstance(p, nn.Parameter) for p in m2.parameters())
    assert np.array_equal(m2.weight.detach().numpy(), m.weight.detach().numpy())
    assert m2.weight is not m.weight


# --- Module machinery ---------------------------------------------------------------------------


def test_tutorial_mlp_parameter_count_and_names():
    model = nn.Sequential(nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(),
                          nn.Linear(20, 3))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 2213
    net = NeuralNetwork()
    assert list(net.state_dict().keys()) == REF["state_dicts"]["NeuralNetwork"]
    assert [n for n, _ in net.named_parameters()] == REF["state_dicts"][
        "NeuralNetwork.named_parameters"]
    assert [n for n, _ in net.named_modules()] == REF["state_dicts"]["NeuralNetwork.named_modules"]
    assert [type(c).__name__ for c in net.children()] == ["Flatten", "Sequential"]
    assert len(list(net.modules())) == 8


def test_state_dict_keys_with_buffers():
    bn = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.LayerNorm(3))
    assert list(bn.state_dict().keys()) == REF["state_dicts"]["bn"]
    assert list(Block().state_dict().keys()) == REF["state_dicts"]["Block"]
    assert [n for n, _ in Block().named_buffers()] == REF["state_dicts"]["Block.named_buffers"]


def test_state_dict_values_are_detached_aliases():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    w = sd["weight"]
    assert not w.requires_grad and type(w) is torch.Tensor
    with torch.no_grad():
        m.weight.fill_(3.0)
    assert w.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_roundtrip_keeps_parameter_objects():
    torch.manual_seed(1)
    a, b = NeuralNetwork(), NeuralNetwork()
    w_before = b.layers[0].weight
    result = b.load_state_dict(a.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    assert b.layers[0].weight is w_before
    x = torch.randn(4, 50)
    assert np.array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_load_state_dict_errors():
    m = nn.Linear(2, 3)
    sd = m.state_dict()
    bad = OrderedDict(sd)
    bad["weight"] = torch.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with "
                       r"shape torch\.Size\(\[3, 4\]\) from checkpoint, the shape in current "
                       r"model is torch\.Size\(\[3, 2\]\)\."):
        m.load_state_dict(bad)
    missing = OrderedDict(weight=sd["weight"])
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Linear:\n\t'
                       r'Missing key\(s\) in state_dict: "bias"\. '):
        m.load_state_dict(missing)
    extra = OrderedDict(sd, extra=torch.zeros(1))
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"\. '):
        m.load_state_dict(extra)
    res = m.load_state_dict(missing, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == []


def test_zero_grad_sets_none_and_zero_mode():
    m = nn.Linear(3, 2)
    m(torch.ones(1, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    m(torch.ones(1, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.tolist() == [[0.0] * 3] * 2


def test_registration_order_and_reassignment():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Parameter(torch.zeros(1))
            self.a = nn.Linear(1, 1)
            self.register_buffer("buf", torch.ones(1))
            self.c = nn.Parameter(torch.zeros(2))
            self.plain = 3

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["b", "c", "a.weight", "a.bias"]
    assert list(m.state_dict()) == ["b", "c", "buf", "a.weight", "a.bias"]
    assert m.plain == 3 and "plain" not in m._parameters
    m.c = None
    assert [n for n, _ in m.named_parameters()] == ["b", "a.weight", "a.bias"]
    del m.a
    assert [n for n, _ in m.named_parameters()] == ["b"]
    with pytest.raises(AttributeError, match="'M' object has no attribute 'a'"):
        m.a


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4


def test_assignment_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'torch\.FloatTensor' as parameter "
                       r"'weight' \(torch\.nn\.Parameter or None expected\)"):
        m.weight = torch.zeros(2, 2)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.register_buffer("weight", torch.zeros(1))
    with pytest.raises(KeyError, match='parameter name can\'t contain "."'):
        m.register_parameter("a.b", None)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        m.register_parameter("w", _nonleaf_param())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before "
                       r"Module\.__init__\(\) call"):
        Early()


def _nonleaf_param():
    p = nn.Parameter(torch.ones(1))
    p._grad_fn = (p * 2).grad_fn  # a Parameter that is not a leaf (PyTorch's error path)
    return p


def test_train_eval_and_requires_grad():
    m = NeuralNetwork()
    assert m.training and m.layers[0].training
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train(1)
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == 0


def test_to_dtype_keeps_parameters_and_casts_buffers():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    w = m[0].weight
    assert m.to(torch.float64) is m
    assert m[0].weight is w and w.dtype == torch.float64 and isinstance(w, nn.Parameter)
    assert m[1].running_mean.dtype == torch.float64
    assert m[1].num_batches_tracked.dtype == torch.int64
    assert m(torch.ones(3, 2, dtype=torch.float64)).dtype == torch.float64
    m.float()
    assert w.dtype == torch.float32
    with pytest.raises(TypeError, match=r"nn\.Module\.to only accepts floating point or complex "
                       r"dtypes, but got desired dtype=torch\.int64"):
        m.to(torch.int64)


def test_apply_visits_children_first():
    seen = []
    m = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
            nn.init.zeros_(mod.bias)

    m.apply(init_weights)
    assert m[0].weight.tolist() == [[0.5]] and m[0].bias.tolist() == [0.0]


def test_forward_hooks_and_removal():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre") or (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("post") or out + 1)
    out = m(torch.ones(1, 2))
    assert calls == ["pre", "post"]
    assert np.allclose(out.detach().numpy(), m.bias.detach().numpy() + 1)
    h1.remove()
    h2.remove()
    out = m(torch.zeros(1, 2))
    assert calls == ["pre", "post"]
    assert np.allclose(out.detach().numpy(), m.bias.detach().numpy())


def test_forward_hook_with_kwargs():
    m = nn.Identity()
    seen = {}
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.update(kwargs), with_kwargs=True)
    m(torch.ones(1))
    assert seen == {}


def test_module_without_forward_and_bad_init_args():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                       r'"forward" function'):
        nn.Module()(1)
    with pytest.raises(TypeError, match=r"Module\.__init__\(\) got an unexpected keyword "
                       r"argument 'x'"):
        nn.Module(x=1)


def test_get_submodule_and_parameter():
    net = NeuralNetwork()
    assert net.get_submodule("layers.2") is net.layers[2]
    assert net.get_parameter("layers.4.bias") is net.layers[4].bias
    with pytest.raises(AttributeError, match="Sequential has no attribute `9`"):
        net.get_submodule("layers.9")


# --- containers ---------------------------------------------------------------------------------


def test_sequential_indexing_slicing_iteration():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    assert list(s) == layers
    sub = s[:2]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[:2]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    s[1] = nn.Tanh()
    assert isinstance(s[1], nn.Tanh)
    del s[0]
    assert list(s._modules) == ["0", "1"] and len(s) == 2
    s.append(nn.Sigmoid())
    assert len(s) == 3 and isinstance(s[2], nn.Sigmoid)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(1, 1)), ("act", nn.ReLU())]))
    assert list(dict(named.named_children())) == ["fc", "act"]
    assert isinstance(named.fc, nn.Linear)


def test_sequential_forward_chains_and_grad_fn():
    torch.manual_seed(0)
    s = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Sigmoid())
    x = torch.randn(5, 4)
    y = s(x)
    ref = x.numpy()
    for m in s:
        if isinstance(m, nn.Linear):
            ref = ref @ m.weight.detach().numpy().T + m.bias.detach().numpy()
        elif isinstance(m, nn.ReLU):
            ref = np.maximum(ref, 0)
        else:
            ref = 1 / (1 + np.exp(-ref))
    assert np.allclose(y.detach().numpy(), ref, atol=1e-6)
    fn = y.grad_fn
    assert fn.name() == "SigmoidBackward0"
    addmm = fn.next_functions[0][0]
    assert addmm.name() == "AddmmBackward0"
    assert [n.name() if n is not None else None for n, _ in addmm.next_functions] == [
        "torch::autograd::AccumulateGrad", "ReluBackward0", "TBackward0"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    ml.append(nn.Tanh())
    ml.extend([nn.Sigmoid()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "ReLU", "Tanh", "Sigmoid"]
    assert isinstance(ml[-1], nn.Sigmoid) and len(ml[1:3]) == 2
    assert len(list(ml.parameters())) == 2
    with pytest.raises(IndexError, match="index 5 is out of range"):
        ml[5]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, "
                       "but got int"):
        ml.extend(3)
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert md.pop("b").__class__ is nn.ReLU and list(md) == ["a"]
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]


# --- Linear, Bilinear, init ---------------------------------------------------------------------


@pytest.mark.parametrize("shape,expected", [
    ((2, 5), "AddmmBackward0"), ((5,), "ViewBackward0"), ((2, 3, 5), "ViewBackward0")])
def test_linear_forward_and_grad_fn(shape, expected):
    torch.manual_seed(0)
    lin = nn.Linear(5, 4)
    x = torch.randn(*shape)
    y = lin(x)
    ref = x.numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    assert y.shape == torch.Size(shape[:-1] + (4,))
    assert np.allclose(y.detach().numpy(), ref, atol=1e-6)
    assert y.grad_fn.name() == expected
    addmm = y.grad_fn if expected == "AddmmBackward0" else y.grad_fn.next_functions[0][0]
    assert addmm.name() == "AddmmBackward0"
    acc, none, t = (e[0] for e in addmm.next_functions)
    assert acc.variable is lin.bias and none is None and t.name() == "TBackward0"
    assert t.next_functions[0][0].variable is lin.weight


def test_linear_without_bias_is_mm():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    assert lin(torch.ones(4, 3)).grad_fn.name() == "MmBackward0"


def test_linear_default_init_bounds():
    torch.manual_seed(3)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): std bound/sqrt(3); 120000 draws put the estimate within 1%.
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    torch.manual_seed(3)
    again = nn.Linear(400, 300)
    assert np.array_equal(again.weight.detach().numpy(), w)


def test_linear_gradients_match_central_differences():
    r = rng(1)
    x, w, b = r.standard_normal((3, 4)), r.standard_normal((2, 4)), r.standard_normal(2)
    gradcheck(lambda x, w, b: F.linear(x, w, b), [x, w, b])
    lin = nn.Linear(4, 2).double()
    gradcheck(lambda x: lin(x), [x])


def test_bilinear_forward_and_gradients():
    torch.manual_seed(0)
    m = nn.Bilinear(3, 4, 2)
    r = rng(2)
    x1, x2 = r.standard_normal((5, 3)).astype(np.float32), r.standard_normal((5, 4)).astype(
        np.float32)
    y = m(torch.tensor(x1), torch.tensor(x2))
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    ref = np.einsum("bi,oij,bj->bo", x1, w, x2) + b
    assert np.allclose(y.detach().numpy(), ref, atol=1e-5)
    bound = 1 / math.sqrt(3)
    assert np.abs(w).max() <= bound
    m = m.double()
    gradcheck(lambda a, c: m(a, c), [x1[:2], x2[:2]])
    y3 = m(t64(r.standard_normal((2, 2, 3))), t64(r.standard_normal((2, 2, 4))))
    assert y3.shape == torch.Size([2, 2, 2])


def test_init_functions_statistics():
    torch.manual_seed(0)
    t = torch.empty(300, 200)
    fan_in, fan_out = 200, 300
    nn.init.xavier_uniform_(t)
    a = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.numpy()).max() <= a and abs(t.numpy().std() - a / math.sqrt(3)) < 0.01 * a
    nn.init.xavier_normal_(t, gain=2.0)
    assert abs(t.numpy().std() - 2 * math.sqrt(2 / (fan_in + fan_out))) < 0.02 * t.numpy().std()
    nn.init.kaiming_uniform_(t, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(t.numpy()).max() <= bound and t.numpy().max() > 0.98 * bound
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() - math.sqrt(2 / fan_out)) < 0.02 * math.sqrt(2 / fan_out)
    nn.init.uniform_(t, -2, 3)
    assert t.numpy().min() >= -2 and t.numpy().max() <= 3 and abs(t.numpy().mean() - 0.5) < 0.05
    nn.init.normal_(t, 1.0, 0.5)
    assert abs(t.numpy().mean() - 1.0) < 0.01 and abs(t.numpy().std() - 0.5) < 0.01
    nn.init.constant_(t, 0.25)
    assert (t.numpy() == 0.25).all()
    nn.init.ones_(t)
    assert (t.numpy() == 1).all()
    nn.init.zeros_(t)
    assert (t.numpy() == 0).all()
    assert nn.init.zeros_(t) is t


def test_init_runs_without_recording_graph():
    w = nn.Parameter(torch.empty(3, 4))
    out = nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    assert out is w and w.is_leaf and w.grad_fn is None and w.requires_grad


@pytest.mark.parametrize("name,param,expected", [
    ("linear", None, 1), ("sigmoid", None, 1), ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", math.sqrt(5),
                                                          math.sqrt(2 / 6)), ("selu", None, 0.75)])
def test_calculate_gain(name, param, expected):
    assert nn.init.calculate_gain(name, param) == pytest.approx(expected)


def test_init_errors():
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with "
                       "fewer than 2 dimensions"):
        nn.init.xavier_uniform_(torch.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                       r"\['fan_in', 'fan_out'\]"):
        nn.init.kaiming_uniform_(torch.empty(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity softmax"):
        nn.init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        nn.init.calculate_gain("leaky_relu", True)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(torch.empty(0, 3))


# --- other layers -------------------------------------------------------------------------------


def test_flatten_and_identity():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == torch.Size([2, 12])
    assert nn.Flatten(0, 1)(x).shape == torch.Size([6, 4])
    assert nn.Identity(3, foo=1)(x) is x


def test_dropout_train_and_eval():
    torch.manual_seed(0)
    d = nn.Dropout(0.25)
    x = torch.ones(200, 100)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    assert np.allclose(y[kept], 1 / 0.75)
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                       "got 1.5"):
        nn.Dropout(1.5)


def test_embedding_lookup_padding_and_gradient():
    torch.manual_seed(0)
    e = nn.Embedding(6, 3, padding_idx=1)
    w = e.weight.detach().numpy().copy()
    assert (w[1] == 0).all()
    idx = torch.tensor([[0, 1, 4], [4, 4, 1]])
    out = e(idx)
    assert out.shape == torch.Size([2, 3, 3])
    assert np.array_equal(out.detach().numpy(), w[idx.numpy()])
    out.sum().backward()
    g = e.weight.grad.numpy()
    assert g[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 3.0, 0.0]
    plain = nn.Embedding(5, 2)
    plain(torch.tensor([2, 2, 3])).sum().backward()
    assert plain.weight.grad[:, 0].tolist() == [0.0, 0.0, 2.0, 1.0, 0.0]
    pre = nn.Embedding.from_pretrained(torch.eye(3))
    assert not pre.weight.requires_grad and pre(torch.tensor([2])).tolist() == [[0.0, 0.0, 1.0]]


def test_layer_norm_forward_and_gradients():
    r = rng(4)
    x = r.standard_normal((3, 2, 4))
    ln = nn.LayerNorm(4).double()
    with torch.no_grad():
        ln.weight.copy_(t64(r.standard_normal(4)))
        ln.bias.copy_(t64(r.standard_normal(4)))
    y = ln(t64(x)).detach().numpy()
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * ln.weight.detach().numpy() + ln.bias.detach().numpy()
    assert np.allclose(y, ref, atol=1e-10)
    gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), [x, r.standard_normal((2, 4)),
                                                              r.standard_normal((2, 4))])
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None


def test_batch_norm_training_eval_and_running_stats():
    r = rng(5)
    x = r.standard_normal((8, 3)) * 2 + 1
    bn = nn.BatchNorm1d(3).double()
    y = bn(t64(x)).detach().numpy()
    ref = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    assert np.allclose(y, ref, atol=1e-10)
    assert np.allclose(bn.running_mean.numpy(), 0.1 * x.mean(0))
    assert np.allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1))
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(t64(x)).detach().numpy()
    ref = (x - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    assert np.allclose(y, ref, atol=1e-10)
    assert bn.num_batches_tracked.item() == 1
    bn3 = nn.BatchNorm1d(2)
    assert bn3(torch.randn(4, 2, 5)).shape == torch.Size([4, 2, 5])
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 1D input\)"):
        bn3(torch.randn(2))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                       r"training, got input size torch\.Size\(\[1, 2\]\)"):
        bn3(torch.randn(1, 2))
    cma = nn.BatchNorm1d(3, momentum=None).double()
    cma(t64(x))
    cma(t64(-x))
    assert np.allclose(cma.running_mean.numpy(), 0.0, atol=1e-12)


def test_batch_norm_gradients():
    r = rng(6)
    bn = nn.BatchNorm1d(3).double()
    with torch.no_grad():
        bn.weight.copy_(t64(r.standard_normal(3)))
    gradcheck(lambda x: bn(x), [r.standard_normal((4, 3))])


# --- activations --------------------------------------------------------------------------------

ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0), "ReluBackward0"),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x), "LeakyReluBackward0"),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), "SigmoidBackward0"),
    (nn.Tanh(), np.tanh, "TanhBackward0"),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
     "GeluBackward0"),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                       * (x + 0.044715 * x**3))),
     "GeluBackward0"),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x)), "SiluBackward0"),
    (nn.Softplus(), lambda x: np.log1p(np.exp(x)), "SoftplusBackward0"),
    (nn.Softplus(beta=2, threshold=1), lambda x: np.where(2 * x > 1, x, np.log1p(np.exp(2 * x)) / 2),
     "SoftplusBackward0"),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True),
     "SoftmaxBackward0"),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True)),
     "LogSoftmaxBackward0"),
]


@pytest.mark.parametrize("module,ref,grad_fn", ACTIVATIONS, ids=[repr(a[0]) for a in ACTIVATIONS])
def test_activation_forward_gradient_and_grad_fn(module, ref, grad_fn):
    x = rng(7).standard_normal((3, 4)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep central differences away from kinks
    y = module(t64(x))
    assert np.allclose(y.detach().numpy(), ref(x), atol=1e-10)
    assert module(t64(x, requires_grad=True)).grad_fn.name() == grad_fn
    gradcheck(lambda t: module(t), [x])


def test_softmax_implicit_dim_warns_like_pytorch():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been "
                      "deprecated"):
        y = nn.Softmax()(torch.ones(2, 4))
    assert np.allclose(y.numpy(), 0.25)


def test_inplace_relu_modifies_input():
    x = torch.tensor([-1.0, 2.0])
    y = nn.ReLU(inplace=True)(x)
    assert x.tolist() == [0.0, 2.0] and y.tolist() == [0.0, 2.0]


def test_tutorial_inference_under_no_grad():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(),
                          nn.Linear(20, 3))
    X = torch.rand(4, 50)
    with torch.no_grad():
        probs = torch.softmax(model(X), dim=1)
    assert probs.grad_fn is None and not probs.requires_grad
    assert np.allclose(probs.numpy().sum(1), 1, atol=1e-6)


# --- losses -------------------------------------------------------------------------------------


def _reduce(v, reduction):
    return v.mean() if reduction == "mean" else v.sum() if reduction == "sum" else v


def _smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d**2 / beta, a - 0.5 * beta)


REGRESSION = [
    ("MSELoss", {}, lambda x, y: (x - y) ** 2),
    ("L1Loss", {}, lambda x, y: np.abs(x - y)),
    ("SmoothL1Loss", {}, lambda x, y: _smooth_l1(x - y, 1.0)),
    ("SmoothL1Loss", {"beta": 0.5}, lambda x, y: _smooth_l1(x - y, 0.5)),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kw,ref", REGRESSION, ids=[f"{a}{b}" for a, b, _ in REGRESSION])
def test_regression_losses(name, kw, ref, reduction):
    r = rng(8)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    loss = getattr(nn, name)(reduction=reduction, **kw)
    out = loss(t64(x), t64(y))
    assert np.allclose(out.detach().numpy(), _reduce(ref(x, y), reduction), atol=1e-12)
    gradcheck(lambda a, b: loss(a, b), [x, y])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_losses(reduction):
    r = rng(9)
    p = 1 / (1 + np.exp(-r.standard_normal((3, 4))))
    t = r.uniform(size=(3, 4))
    w = r.uniform(0.5, 2, size=4)
    ref = -w * (t * np.log(p) + (1 - t) * np.log(1 - p))
    bce = nn.BCELoss(weight=t64(w), reduction=reduction)
    assert np.allclose(bce(t64(p), t64(t)).detach().numpy(), _reduce(ref, reduction))
    gradcheck(lambda a: bce(a, t64(t)), [p])
    z = r.standard_normal((3, 4)) * 3
    pw = r.uniform(0.5, 2, size=4)
    s = 1 / (1 + np.exp(-z))
    ref = -w * (pw * t * np.log(s) + (1 - t) * np.log(1 - s))
    bcel = nn.BCEWithLogitsLoss(weight=t64(w), pos_weight=t64(pw), reduction=reduction)
    assert np.allclose(bcel(t64(z), t64(t)).detach().numpy(), _reduce(ref, reduction))
    gradcheck(lambda a: bcel(a, t64(t)), [z])
    plain = nn.BCEWithLogitsLoss(reduction=reduction)
    gradcheck(lambda a, b: plain(a, b), [z, t])


def test_bce_with_logits_pos_weight_target_gradient():
    r = rng(9)
    z, t = r.standard_normal((2, 3)), r.uniform(size=(2, 3))
    bcel = nn.BCEWithLogitsLoss(pos_weight=t64(r.uniform(0.5, 2, size=3)))
    gradcheck(lambda b: bcel(t64(z), b), [t])


def _log_softmax(x):
    m = x.max(1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_indices_weight_ignore_index(reduction):
    r = rng(10)
    x = r.standard_normal((5, 4))
    y = np.array([0, 3, 1, -100, 3])
    w = r.uniform(0.5, 2, size=4)
    ls = _log_softmax(x)
    valid = y != -100
    yi = np.where(valid, y, 0)
    per = np.where(valid, -w[yi] * ls[np.arange(5), yi], 0.0)
    ref = per.sum() / (w[yi] * valid).sum() if reduction == "mean" else _reduce(per, reduction)
    loss = nn.CrossEntropyLoss(weight=t64(w), reduction=reduction)
    target = torch.tensor(y)
    assert np.allclose(loss(t64(x), target).detach().numpy(), ref)
    gradcheck(lambda a: loss(a, target), [x])
    nll = nn.NLLLoss(weight=t64(w), reduction=reduction)
    assert np.allclose(nll(t64(ls), target).detach().numpy(), ref)
    assert loss(t64(x, True), target).grad_fn.name() == "NllLossBackward0"


def test_cross_entropy_label_smoothing_and_probabilities():
    r = rng(11)
    x = r.standard_normal((4, 3))
    y = np.array([2, 0, 1, 1])
    eps = 0.2
    ls = _log_softmax(x)
    q = np.full((4, 3), eps / 3)
    q[np.arange(4), y] += 1 - eps
    ref = -(q * ls).sum(1).mean()
    loss = nn.CrossEntropyLoss(label_smoothing=eps)
    target = torch.tensor(y)
    assert np.allclose(loss(t64(x), target).item(), ref)
    gradcheck(lambda a: loss(a, target), [x])
    probs = r.dirichlet(np.ones(3), size=4)
    ref = -(probs * ls).sum(1).mean()
    soft = nn.CrossEntropyLoss()
    assert np.allclose(soft(t64(x), t64(probs)).item(), ref)
    gradcheck(lambda a, p: soft(a, p), [x, probs])


def test_cross_entropy_tutorial_grad_fn_chain():
    x = torch.randn(3, 5, requires_grad=True)
    loss = nn.CrossEntropyLoss()(x, torch.tensor([1, 0, 4]))
    assert loss.grad_fn.name() == "NllLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"


def test_legacy_size_average_warns():
    with pytest.warns(UserWarning, match=r"size_average and reduce args will be deprecated, "
                      r"please use reduction='sum' instead\."):
        loss = nn.MSELoss(size_average=False)
    assert loss.reduction == "sum"


# --- examples (real Python scripts; the .expected files are their exact stdout) ------------------


@pytest.mark.parametrize("script", ["mlp_50_30_20_3.py", "train_classifier.py"])
def test_example_script_output(script):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, str(root / "examples" / "python" / script)],
                          capture_output=True,
                          text=True, env=env, cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stderr
    expected = (root / "examples" / "python" / script.replace(".py", ".expected")).read_text()
    assert proc.stdout == expected
    if script.startswith("mlp"):
        assert "Total number of trainable model parameters: 2213" in proc.stdout


@pytest.mark.parametrize("n", [3, 200])  # a short batch is checked in Python, a long one in NumPy
def test_nll_loss_target_bounds_and_ignore_index(n):
    x = torch.zeros(n, 4, requires_grad=True)
    t = torch.zeros(n, dtype=torch.int64)
    t[1] = 4
    with pytest.raises(IndexError, match=r"^Target 4 is out of bounds\.$"):
        torch.nn.functional.cross_entropy(x, t)
    t[1] = -1
    with pytest.raises(IndexError, match=r"^Target -1 is out of bounds\.$"):
        torch.nn.functional.cross_entropy(x, t)
    t[1] = -100  # ignored: mean over the other n-1 rows, log(4) each
    loss = torch.nn.functional.cross_entropy(x, t)
    assert abs(loss.item() - math.log(4)) < 1e-6
    loss.backward()
    assert x.grad[1].tolist() == [0.0, 0.0, 0.0, 0.0]
    want = [(0.25 - 1) / (n - 1)] + [0.25 / (n - 1)] * 3
    assert x.grad[0].tolist() == pytest.approx(want, rel=1e-6)
    x.grad = None
    t[1] = 2  # nothing ignored: mean over all n rows
    torch.nn.functional.cross_entropy(x, t).backward()
    assert x.grad[1].tolist() == pytest.approx([0.25 / n, 0.25 / n, (0.25 - 1) / n, 0.25 / n],
                                               rel=1e-6)


@pytest.mark.parametrize("x,t,kw,loss,grad", [
    # class weights with no ignored target (this crashed), read off PyTorch 2.13
    ([[1.0, 2.0], [0.5, 0.1]], [1, 0], dict(weight=[1.0, 3.0]), "tensor(0.3632)",
     "tensor([[ 0.2017, -0.2017],\n        [-0.1003,  0.1003]])"),
    # the batch's weights sum to 0: nan, as in PyTorch
    ([[1.0, 2.0]], [1], dict(weight=[1.0, 0.0]), "tensor(nan)", "tensor([[nan, nan]])"),
    # every target ignored: a nan loss, a zero gradient; ignored rows get +0, not -0
    ([[0.5, -0.2]], [1], dict(ignore_index=1), "tensor(nan)", "tensor([[0., 0.]])"),
    ([[0.5, -0.2], [1.0, 2.0]], [1, 0], dict(ignore_index=1), "tensor(1.3133)",
     "tensor([[ 0.0000,  0.0000],\n        [-0.7311,  0.7311]])"),
])
def test_cross_entropy_weights_and_ignored_targets_edge_cases(x, t, kw, loss, grad):
    if "weight" in kw:
        kw = dict(kw, weight=torch.tensor(kw["weight"]))
    xt = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.cross_entropy(xt, torch.tensor(t), **kw)
    assert repr(out.detach()) == loss
    out.backward()
    assert repr(xt.grad) == grad


def test_functional_bilinear_takes_any_batch_dims_as_the_module_does():
    # issue 10: F.bilinear failed on 3-D input while nn.Bilinear worked (two copies drifted)
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(2, 3, 4, generator=gen, requires_grad=True)
    x2 = torch.randn(2, 3, 5, generator=gen)
    m = torch.nn.Bilinear(4, 5, 6)
    y = torch.nn.functional.bilinear(x1, x2, m.weight, m.bias)
    assert y.shape == (2, 3, 6)
    assert torch.equal(y, m(x1, x2))
    # PyTorch 2.13: AddBackward0 over ViewBackward0 and the bias's AccumulateGrad
    assert y.grad_fn.name() == "AddBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "ViewBackward0"
    w = m.weight.detach().numpy().astype("float64")
    a, b = x1.detach().numpy().astype("float64"), x2.detach().numpy().astype("float64")
    want = np.einsum("nti,oij,ntj->nto", a, w, b) + m.bias.detach().numpy()
    assert np.allclose(y.detach().numpy(), want, atol=1e-5)
