# The layers of the standard tutorials against PyTorch 2.13 (tests/fixtures/layers_reference.json,
# made by tests/fixtures/gen_layers.py): convolution, pooling, batch norm, RNNs, distributions,
# tile/median/unique/repeat_interleave, ELU/Hardtanh: values, gradients, grad_fn chains, seeded
# weights, reprs, errors, a tutorial script through the real command; and central differences.
import json
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import gradcalc as torch
import gradcalc.distributions as D
from gradcalc import nn
from gradcalc.lang import Session
from gradcalc.nn import functional as F
from tests import layer_refs as LR
from tests.gradcheck import chain, gradcheck, gradgradcheck

REF = json.loads((Path(__file__).parent / "fixtures" / "layers_reference.json").read_text())
ERRORS = {"RuntimeError": RuntimeError, "ValueError": ValueError, "TypeError": TypeError,
          "IndexError": IndexError, "NotImplementedError": NotImplementedError,
          "AssertionError": AssertionError}
TOL = {"float64": {"rtol": 1e-11, "atol": 1e-12}, "float32": {"rtol": 2e-5, "atol": 2e-5}}
GRAD_TOL = {"float64": {"rtol": 1e-10, "atol": 1e-11}, "float32": {"rtol": 1e-4, "atol": 3e-5}}

# Functional cases whose outputs and gradients equal PyTorch's bit for bit, in both dtypes (the
# rest agree to the dtype's rounding: PyTorch's convolutions run in oneDNN/BLAS kernels whose
# summation order is their own, batch-norm gradients sum in SIMD lanes, elu's expm1 is SLEEF's).
EXACT = {
    "max_pool2d", "max_pool2d overlap", "max_pool2d ceil dil", "max_pool2d unbatched",
    "max_pool2d indices", "max_pool1d", "max_pool1d indices", "avg_pool2d",
    "avg_pool2d overlap pad", "avg_pool2d ceil exclude", "avg_pool2d ceil include",
    "avg_pool2d divisor", "avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool2d up",
    "adaptive_avg_pool2d None", "adaptive_avg_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool2d indices", "hardtanh", "relu6", "tile method", "repeat_interleave",
    "repeat_interleave dim", "repeat_interleave tensor", "median", "median even", "median dim",
    "median dim keepdim", "nanmedian", "nanmedian dim",
}
# ... those whose forward values alone are exact (batch norm: PyTorch's float64 statistics and
# fused multiply-adds reproduced, for input with spatial dims; its 2-D input takes a per-thread
# kernel), and those whose gradients alone are
EXACT_FORWARD = {"batch_norm train 4d-float32", "batch_norm train 3d-float32",
                 "batch_norm eval-float32", "batch_norm eval-float64", "tile-float32",
                 "tile-float64"}
EXACT_GRAD = {"adaptive_avg_pool2d 1-float32", "adaptive_avg_pool2d 1-float64"}
# Where gradcalc's graph differs from PyTorch's (values and gradients still agree)
CHAIN_DIFFERS = {
    # PyTorch pads the odd element of an even 'same' kernel with a ConstantPadNd node first;
    # gradcalc's convolution takes the asymmetric padding itself
    "conv2d same even": "ConvolutionBackward0(AG, AG, None)",
    "conv1d unbatched same": "SqueezeBackward1(ConvolutionBackward0(UnsqueezeBackward0(AG), AG, "
                             "None))",
}


def _case_id(c):
    return c["name"]


def _tensor(values, shape, dtype, requires_grad=False):
    a = np.asarray(values, dtype=np.float64 if dtype == "float64" else np.float32)
    return torch.tensor(a.reshape(shape), requires_grad=requires_grad)


def _check_tensor(got, want, tol, exact, what):
    assert got.dtype.name == want["dtype"], what
    assert list(got.shape) == want["shape"], what
    w = np.asarray(want["values"], dtype=got.detach().numpy().dtype).reshape(want["shape"])
    g = got.detach().numpy()
    if exact or got.dtype.name.startswith("int"):
        np.testing.assert_array_equal(g, w, err_msg=what)
    else:
        np.testing.assert_allclose(g, w, err_msg=what, **tol)


@pytest.mark.parametrize("case", REF["functional"], ids=_case_id)
def test_functional_matches_pytorch(case):
    name, dt = case["name"].rsplit("-", 1)
    xs = [_tensor(v, s, d, requires_grad=not dom.endswith("const"))
          for v, (s, d, dom) in zip(case["input_values"], case["inputs"])]
    env = {"torch": torch, "F": F, "nn": nn, **{f"x{k}": x for k, x in enumerate(xs)}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = eval(case["expr"], env)
    outs = list(res) if isinstance(res, tuple) else [res]
    assert len(outs) == len(case["outputs"])
    exact = name in EXACT or case["name"] in EXACT_FORWARD
    exact_grad = name in EXACT or case["name"] in EXACT_GRAD
    for k, (o, want) in enumerate(zip(outs, case["outputs"])):
        _check_tensor(o, want, TOL[dt], exact, f"output {k}")
    for o, want in zip(outs, case["chains"]):
        got = chain(o) if o.grad_fn is not None else None
        assert got == CHAIN_DIFFERS.get(name, want)
    diff = [o for o in outs if o.grad_fn is not None]
    cots = [_tensor(c, tuple(o.shape), dt) for c, o in zip(case["cotangents"], diff)]
    torch.autograd.backward(diff, cots)
    for k, (x, want) in enumerate(zip(xs, case["grads"])):
        if want is None:
            assert x.grad is None
        else:
            _check_tensor(x.grad, want, GRAD_TOL[dt], exact_grad, f"gradient {k}")


def test_exact_cases_are_in_the_fixture():
    names = {c["name"].rsplit("-", 1)[0] for c in REF["functional"]}
    assert EXACT <= names and set(CHAIN_DIFFERS) <= names
    assert {c["name"] for c in REF["functional"]} >= EXACT_FORWARD | EXACT_GRAD


# --- seeded modules: PyTorch's weights, bit for bit; forward and backward --------------------

@pytest.mark.parametrize("case", REF["modules"], ids=_case_id)
def test_seeded_module_matches_pytorch(case):
    torch.manual_seed(case["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = eval(case["ctor"], {"nn": nn, "torch": torch})
    assert repr(m) == case["repr"]
    params = dict(m.named_parameters())
    assert list(params) == [k for k, _ in case["parameters"]]
    for k, want in case["parameters"]:
        _check_tensor(params[k], want, None, True, k)  # the same draws, in the same order
    first = next(iter(m.parameters()), None)
    assert (None if first is None else repr(first)) == case["printed_first_parameter"]
    x = torch.randn(tuple(case["shape"]), requires_grad=True)
    _check_tensor(x, case["input"], None, True, "input")
    outs = _flat(m(x))
    assert case["grad_fns"] == [o.grad_fn.name() for o in outs]
    for k, (o, want) in enumerate(zip(outs, case["outputs"])):
        _check_tensor(o, want, TOL["float32"], False, f"output {k}")
    cots = [torch.randn(tuple(o.shape)) for o in outs]
    torch.autograd.backward(outs, cots)
    for k, want in case["grads"]:
        _check_tensor(params[k].grad, want, GRAD_TOL["float32"], False, f"{k}.grad")
    _check_tensor(x.grad, case["input_grad"], GRAD_TOL["float32"], False, "input.grad")
    buffers = dict(m.named_buffers())
    assert list(buffers) == [k for k, _ in case["buffers"]]
    for k, want in case["buffers"]:
        _check_tensor(buffers[k], want, TOL["float32"], False, k)
    # as many random numbers drawn as PyTorch drew (dropout in training mode)
    assert torch.rand(3).tolist() == case["rng_after"]


def _flat(o):
    if isinstance(o, torch.Tensor):
        return [o]
    return [t for e in o for t in _flat(e)]


@pytest.mark.parametrize("expr", list(REF["reprs"]))
def test_module_repr_matches_pytorch(expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (dropout with one layer warns, as in PyTorch)
        assert repr(eval(expr, {"nn": nn})) == REF["reprs"][expr]


# --- distributions ---------------------------------------------------------------------------


def _same_value(got, want, step):
    if "tensor" in want:
        assert isinstance(got, torch.Tensor), step
        w = want["tensor"]
        # draws are exact; densities and entropies may differ in the last float32 bit (libm)
        exact = "sample" in step or w["dtype"].startswith("int") or w["dtype"] == "bool"
        _check_tensor(got, w, {"rtol": 2e-6, "atol": 1e-7}, exact, step)
    elif "size" in want:
        assert list(got) == want["size"] and isinstance(got, torch.Size), step
    elif "py" in want:
        assert got == want["py"], step
    else:
        assert repr(got) == want["repr"], step


@pytest.mark.parametrize("case", REF["distributions"], ids=_case_id)
def test_distribution_steps_match_pytorch(case):
    env = {"torch": torch, "D": D, "nn": nn, "F": F}
    torch.manual_seed(case["seed"])
    for step, want in zip(case["steps"], case["results"]):
        want_repr = step.startswith("repr:")
        code = step[5:] if want_repr else step
        if want is not None and "error" in want:
            with pytest.raises(ERRORS[want["error"]]) as e:
                eval(code, env)
            assert str(e.value) == want["message"], step
        elif want is None:
            exec(code, env)  # noqa: S102 (statements of our own fixture)
        else:
            v = eval(code, env)
            if want_repr:
                assert repr(v) == want["repr"], step
            else:
                _same_value(v, want, step)


def test_sampling_draws_the_generator_as_pytorch_does():
    # one normal per element for Normal.sample and rsample (torch.normal / normal_), one
    # uniform for Uniform, one bernoulli per element, multinomial with replacement
    torch.manual_seed(0)
    a = D.Normal(torch.zeros(5), torch.ones(5)).sample()
    torch.manual_seed(0)
    assert torch.equal(a, torch.randn(5))
    torch.manual_seed(1)
    u = D.Uniform(2.0, 4.0).rsample((3,))
    torch.manual_seed(1)
    assert torch.equal(u, 2.0 + torch.rand(3) * 2.0)


def test_rsample_is_reparameterised_and_sample_is_not():
    loc = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([2.0, 0.5], dtype=torch.float64, requires_grad=True)
    d = D.Normal(loc, scale)
    torch.manual_seed(3)
    x = d.rsample((4,))
    torch.manual_seed(3)
    eps = torch.randn(4, 2, dtype=torch.float64)
    x.sum().backward()
    assert loc.grad.tolist() == [4.0, 4.0]
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-15)
    assert d.sample().grad_fn is None and not d.sample().requires_grad
    assert repr(type(d)) == "<class 'torch.distributions.normal.Normal'>"
    assert x.grad_fn.name() == "AddBackward0"


def test_log_prob_matches_the_formula_and_its_gradient():
    v = np.array([0.3, -1.2, 2.5])
    np.testing.assert_allclose(
        D.Normal(torch.tensor(0.5, dtype=torch.float64), 1.5).log_prob(
            torch.tensor(v)).numpy(), LR.normal_log_prob(v, 0.5, 1.5), rtol=1e-14)
    gradcheck(lambda loc, scale, x: D.Normal(loc, scale.exp()).log_prob(x),
              [np.array([0.1, -0.4]), np.array([0.2, -0.3]), np.array([1.0, 0.5])])
    gradcheck(lambda logits: D.Categorical(logits=logits).entropy(), [np.array([0.2, -1.0, 0.7])])
    gradcheck(lambda p: D.Bernoulli(p).log_prob(torch.tensor([1.0, 0.0], dtype=torch.float64)),
              [np.array([0.3, 0.8])])


def test_distributions_in_a_script_namespace():
    out = []
    Session(write=out.append, echo=False).run(
        "import torch\nimport torch.distributions as D\nfrom torch.distributions import Normal\n"
        "torch.manual_seed(0)\n"
        "print(torch.distributions.Normal(0.0, 1.0), D.Bernoulli(0.5).mean, Normal is D.Normal)\n"
        "print(type(Normal(0.0, 1.0)).__name__, D.Categorical(torch.ones(4)).sample((3,)))")
    torch.manual_seed(0)
    draws = D.Categorical(torch.ones(4)).sample((3,))
    assert "".join(out) == (f"Normal(loc: 0.0, scale: 1.0) tensor(0.5000) True\n"
                            f"Normal {draws}\n")


# --- errors ----------------------------------------------------------------------------------


def _set_order_free(message):
    # a Python set printed in a message lists its items in the process's hash order
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}",
                  message)


@pytest.mark.parametrize("case", REF["errors"], ids=lambda c: c["expr"])
def test_error_matches_pytorch(case):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ERRORS[case["error"]]) as e:
            eval(case["expr"], {"torch": torch, "nn": nn, "F": F})
    assert _set_order_free(str(e.value)) == _set_order_free(case["message"])


# --- a tutorial-style script through the real command ----------------------------------------


def test_script_prints_what_pytorch_prints(tmp_path):
    script = tmp_path / "layers_script.py"
    script.write_text(REF["script"]["source"])
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "gradcalc", "run", str(script)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == REF["script"]["stdout"]


# --- central differences (float64) -----------------------------------------------------------


def _params(m):
    return [p.detach().double().numpy() for p in m.parameters()]


def _functional(module_fn, m, n_inputs):
    """f(*inputs, *params) -> output, with the module's parameters swapped for the leaves."""
    names = [n for n, _ in m.named_parameters()]

    def f(*ts):
        inputs, ps = ts[:n_inputs], ts[n_inputs:]
        saved = {}
        for n, p in zip(names, ps):
            owner = m.get_submodule(n.rpartition(".")[0]) if "." in n else m
            leaf = n.rpartition(".")[2]
            saved[n] = owner._parameters[leaf]
            owner._parameters[leaf] = p
        try:
            return module_fn(*inputs)
        finally:
            for n in names:
                owner = m.get_submodule(n.rpartition(".")[0]) if "." in n else m
                owner._parameters[n.rpartition(".")[2]] = saved[n]

    return f


@pytest.mark.parametrize("ctor,shape", [
    ("nn.Conv2d(2, 2, 2, stride=2, padding=1)", (1, 2, 3, 3)),
    ("nn.ConvTranspose1d(2, 2, 2, stride=2)", (1, 2, 3)),
    ("nn.BatchNorm2d(2)", (2, 2, 2, 2)),
    ("nn.RNNCell(2, 3)", (2, 2)),
    ("nn.GRUCell(2, 2)", (2, 2)),
])
def test_module_gradients_match_central_differences(ctor, shape):
    torch.manual_seed(0)
    m = eval(ctor, {"nn": nn}).double()
    x = np.random.default_rng(0).standard_normal(shape)
    f = _functional(m, m, 1)
    gradcheck(f, [x, *_params(m)], atol=1e-6)


def test_lstm_second_derivatives_match_central_differences():
    torch.manual_seed(1)
    m = nn.LSTMCell(2, 2).double()
    x = np.random.default_rng(1).standard_normal((1, 2))
    f = _functional(lambda x: m(x)[1], m, 1)
    gradgradcheck(f, [x, *_params(m)[:2]] + _params(m)[2:], atol=1e-6)


def test_lstm_and_gru_layers_follow_their_equations():
    torch.manual_seed(2)
    lstm = nn.LSTM(3, 2).double()
    x = np.random.default_rng(2).standard_normal((4, 1, 3))
    out, (h, c) = lstm(torch.tensor(x))
    p = [t.detach().numpy() for t in lstm.parameters()]
    hh, cc = np.zeros((1, 2)), np.zeros((1, 2))
    for t in range(4):
        hh, cc = LR.lstm_step(x[t], hh, cc, *p)
        np.testing.assert_allclose(out[t].detach().numpy(), hh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c[0].detach().numpy(), cc, rtol=1e-12, atol=1e-14)
    gru = nn.GRU(3, 2, bidirectional=True).double()
    out, h = gru(torch.tensor(x))
    p = [t.detach().numpy() for t in gru.parameters()]
    fw, bw = np.zeros((1, 2)), np.zeros((1, 2))
    for t in range(4):
        fw = LR.gru_step(x[t], fw, *p[:4])
        bw = LR.gru_step(x[3 - t], bw, *p[4:])
        np.testing.assert_allclose(out[t, :, :2].detach().numpy(), fw, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[3 - t, :, 2:].detach().numpy(), bw, rtol=1e-12,
                                   atol=1e-14)
    np.testing.assert_allclose(h.detach().numpy()[:, 0], np.concatenate([fw, bw]), rtol=1e-12)


def test_batch_norm_module_updates_running_statistics_and_evaluates_with_them():
    bn = nn.BatchNorm2d(2).double()
    x = np.random.default_rng(3).standard_normal((3, 2, 2, 2)) * 2 + 1
    y = bn(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), LR.batch_norm(x), rtol=1e-12, atol=1e-12)
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-14)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * var, rtol=1e-14)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    np.testing.assert_allclose(bn(torch.tensor(x)).detach().numpy(),
                               LR.batch_norm(x, 0.1 * mean, 0.9 + 0.1 * var), rtol=1e-12)
    assert bn(torch.tensor(x)).grad_fn.name() == "NativeBatchNormBackward0"


def test_conv_backward_twice_and_saved_values_freed():
    x = torch.randn(1, 1, 4, 4, requires_grad=True)
    w = torch.randn(2, 1, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    node = y.grad_fn
    assert node._saved_stride == (1, 1) and node._saved_groups == 1
    assert node._saved_transposed is False and node._saved_weight is w
    y.sum().backward()
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        y.sum().backward()


def test_maxpool_indices_and_gradient_go_to_the_window_maximum():
    x = torch.tensor([[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 6.0]]], requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert out.tolist() == [[[5.0, 7.0]]] and idx.tolist() == [[[1, 6]]]
    out.sum().backward()
    assert x.grad.tolist() == [[[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]]


def test_unique_and_median_values():
    t = torch.tensor([[1, 2], [1, 2], [0, 5]])
    vals, inv, counts = torch.unique(t, dim=0, return_inverse=True, return_counts=True)
    assert vals.tolist() == [[0, 5], [1, 2]] and inv.tolist() == [1, 1, 0]
    assert counts.tolist() == [1, 2]
    assert torch.unique(torch.tensor([3.0, 1.0, 3.0])).tolist() == [1.0, 3.0]
    m = torch.tensor([[1.0, 2.0], [2.0, 1.0]]).median(0)
    assert repr(m) == ("torch.return_types.median(\nvalues=tensor([1., 1.]),\n"
                       "indices=tensor([0, 1]))")
    assert math.isnan(torch.median(torch.tensor([1.0, float("nan"), 2.0])).item())
    assert torch.nanmedian(torch.tensor([1.0, float("nan"), 2.0])).item() == 1.0
    assert torch.repeat_interleave(torch.tensor([1, 2, 3])).tolist() == [0, 1, 1, 2, 2, 2]
