# The CUDA seam without a GPU: every registered op runs forward and backward on 'cuda'
# tensors backed by tests/strict_backend.py, whose arrays refuse implicit host conversion
# (as CuPy's do). Results must stay on the device and match the CPU run (compared through
# an explicit .cpu()).
import math
import sys

import numpy as np
import pytest

import gradcalc as torch
import gradcalc.nn.functional as F
from gradcalc.core import backend
from gradcalc.core.registry import FUNCTIONS
from tests.strict_backend import IMPLICIT, StrictArray, cupyx_stub, namespace


@pytest.fixture
def cuda(monkeypatch):
    prev = backend._cuda_xp
    backend.use_cuda_backend(namespace)
    for name, mod in cupyx_stub().items():  # erf's device kernel comes from cupyx.scipy.special
        monkeypatch.setitem(sys.modules, name, mod)
    yield torch.device("cuda:0")
    backend.use_cuda_backend(prev)


# --- the strict backend itself ----------------------------------------------------------------


def test_strict_array_refuses_implicit_host_conversion():
    a = namespace.asarray(np.arange(3.0))
    for convert in (np.asarray, lambda v: float(v[0]), lambda v: int(v[0]), lambda v: bool(v[0]),
                    lambda v: [0, 1, 2][v[0]], lambda v: v.item(), lambda v: v.tolist(),
                    lambda v: v + np.ones(3), lambda v: np.ones(3) * v,
                    lambda v: namespace.add(v, np.ones(3))):
        with pytest.raises(TypeError, match="Implicit conversion|Unsupported type"):
            convert(a)
    assert IMPLICIT.startswith("Implicit conversion to a NumPy array is not allowed")


def test_strict_array_computes_and_transfers_explicitly():
    a = namespace.asarray(np.arange(3.0))
    r = np.exp(a) + namespace.sin(a) * 2 - 1
    assert type(r) is StrictArray and type(a.sum()) is StrictArray
    np.testing.assert_allclose(r.get(), np.exp(np.arange(3.0)) + np.sin(np.arange(3.0)) * 2 - 1)
    assert a.sum().get() == 3.0 and a[1].shape == ()
    b = namespace.zeros(3)
    b[...] = a
    np.testing.assert_array_equal(b.get(), [0.0, 1.0, 2.0])
    assert not hasattr(namespace, "errstate")


# --- device plumbing --------------------------------------------------------------------------


def test_tensor_on_strict_device_stays_there(cuda):
    x = torch.tensor([1.0, 2.0, 3.0], device="cuda", requires_grad=True)
    assert x.device == cuda and x.is_cuda and type(x._data) is StrictArray
    y = (x * x).sin().sum()
    assert y.device == cuda and type(y._data) is StrictArray
    y.backward()
    assert x.grad.device == cuda and type(x.grad._data) is StrictArray
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * np.arange(1, 4) * np.cos(np.arange(1, 4) ** 2),
                               rtol=1e-6)
    assert repr(x) == "tensor([1., 2., 3.], device='cuda:0', requires_grad=True)"
    assert x.detach().cpu().tolist() == [1.0, 2.0, 3.0]
    assert y.item() == pytest.approx(sum(math.sin(v * v) for v in (1, 2, 3)), rel=1e-6)
    assert f"{y:.3f}" == f"{y.item():.3f}"
    assert float(y) == y.item() and bool(x.detach()[0]) is True
    assert torch.cuda.is_available() and torch.cuda.device_count() == 1


def test_cuda_to_cpu_backward_crosses_the_seam(cuda):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.cuda()
    assert y.grad_fn.name() == "ToCopyBackward0" and y.device == cuda
    (y * 3).cpu().sum().backward()
    assert x.grad.device == torch.device("cpu") and x.grad.tolist() == [3.0, 3.0]


def test_device_mismatch_errors(cuda):
    a = torch.ones(3, device="cuda")
    b = torch.ones(3)
    with pytest.raises(RuntimeError, match=r"^Expected all tensors to be on the same device, but "
                       r"found at least two devices, cuda:0 and cpu!$"):
        a + b
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        b * a
    # a 0-d CPU tensor may join a CUDA elementwise op
    r = a + torch.tensor(2.0)
    assert r.device == cuda and r.cpu().tolist() == [3.0, 3.0, 3.0]
    r = torch.tensor(2.0) * a
    assert r.device == cuda
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.ones(2, 3, device="cuda") @ torch.ones(3, 2)
    x = torch.ones(2, 3, device="cuda")
    for mixed in (lambda: torch.gather(x, 1, torch.tensor([[0], [1]])),
                  lambda: torch.index_select(x, 1, torch.tensor([0, 2])),
                  lambda: torch.masked_fill(x, torch.tensor([True, False, True]), 0.0),
                  lambda: torch.where(torch.tensor([True, False, True]), x, x)):
        with pytest.raises(RuntimeError, match="^Expected all tensors to be on the same device"):
            mixed()
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. Use "
                       r"Tensor\.cpu\(\) to copy the tensor to host memory first\."):
        a.numpy()


# --- the op table on the device ---------------------------------------------------------------

# (row name, fn, input shapes, domain). Inputs are float64 leaves that require grad, drawn in
# `domain`; fn builds any index or integer tensors on its inputs' device with new_tensor.
U = (0.2, 0.9)  # inside (-1, 1) and positive
P = (0.5, 1.5)
G = (1.5, 2.5)  # > 1 (acosh)
S = (-1.5, 1.5)


def _idx(t, values):
    return t.new_tensor(values, dtype=torch.int64)


ROWS = [
    # arithmetic and unary math
    ("add", lambda a, b: torch.add(a, b, alpha=2), [(2, 3), (3,)], S),
    ("sub", lambda a, b: torch.sub(a, b), [(2, 3), (1, 3)], S),
    ("rsub_scalar", lambda a: 2 - a, [(3,)], S),
    ("rsub", lambda a, b: torch.rsub(a, b, alpha=2), [(2, 3), (3,)], S),
    ("mul", lambda a, b: torch.mul(a, b), [(2, 3), ()], S),
    ("div", lambda a, b: torch.div(a, b), [(2, 3), (3,)], P),
    ("rdiv_scalar", lambda a: 2 / a, [(3,)], P),
    ("div_floor", lambda a, b: torch.div(a, b, rounding_mode="floor"), [(3,), (3,)], P),
    ("div_trunc", lambda a, b: torch.div(a, b, rounding_mode="trunc"), [(3,), (3,)], S),
    # floor_divide records NotImplemented (PyTorch: backward raises), so forward only here
    ("floor_divide", lambda a: torch.floor_divide((a * 4).detach(), 1.5), [(3,)], S),
    ("div_floor", lambda a: torch.div(a * 4, 1.5, rounding_mode="floor"), [(3,)], S),
    ("floor_divide_int", lambda a: torch.floor_divide(_idx(a, [7, -7, 5]), 2), [(1,)], S),
    ("remainder", lambda a, b: torch.remainder(a * 3, b), [(2, 3), (3,)], P),
    ("remainder_int", lambda a: torch.remainder(_idx(a, [-5, 5, 7]), 3), [(1,)], S),
    ("fmod", lambda a: torch.fmod(a * 3, 1.25), [(3,)], S),
    ("pow", lambda a: torch.pow(a, 3), [(2, 3)], S),
    ("pow_tensor", lambda a, b: torch.pow(a, b), [(2, 3), (3,)], P),
    ("rpow", lambda a: 2 ** a, [(3,)], S),
    ("float_power", lambda a: torch.float_power(a, 2), [(3,)], S),
    ("neg", torch.neg, [(2, 3)], S),
    ("positive", torch.positive, [(3,)], S),
    ("abs", torch.abs, [(2, 3)], S),
    ("sign", torch.sign, [(3,)], S),
    ("sgn", torch.sgn, [(3,)], S),
    ("reciprocal", torch.reciprocal, [(3,)], P),
    ("exp", torch.exp, [(2, 3)], S),
    ("exp2", torch.exp2, [(3,)], S),
    ("expm1", torch.expm1, [(3,)], S),
    ("log", torch.log, [(2, 3)], P),
    ("log2", torch.log2, [(3,)], P),
    ("log10", torch.log10, [(3,)], P),
    ("log1p", torch.log1p, [(3,)], P),
    ("sqrt", torch.sqrt, [(2, 3)], P),
    ("rsqrt", torch.rsqrt, [(3,)], P),
    ("square", torch.square, [(3,)], S),
    ("sin", torch.sin, [(3,)], S),
    ("cos", torch.cos, [(3,)], S),
    ("tan", torch.tan, [(3,)], U),
    ("asin", torch.asin, [(3,)], U),
    ("acos", torch.acos, [(3,)], U),
    ("atan", torch.atan, [(3,)], S),
    ("sinh", torch.sinh, [(3,)], S),
    ("cosh", torch.cosh, [(3,)], S),
    ("tanh", torch.tanh, [(2, 3)], S),
    ("asinh", torch.asinh, [(3,)], S),
    ("acosh", torch.acosh, [(3,)], G),
    ("atanh", torch.atanh, [(3,)], U),
    ("atan2", lambda a, b: torch.atan2(a, b), [(2, 3), (3,)], S),
    ("hypot", lambda a, b: torch.hypot(a, b), [(3,), (3,)], P),
    ("sigmoid", torch.sigmoid, [(2, 3)], S),
    ("relu", torch.relu, [(2, 3)], S),
    ("leaky_relu", lambda a: torch.leaky_relu(a, 0.1), [(3,)], S),
    ("elu", lambda a: torch.elu(a), [(3,)], S),
    ("gelu", lambda a: torch.gelu(a), [(3,)], S),
    ("gelu_tanh", lambda a: torch.gelu(a, approximate="tanh"), [(3,)], S),
    ("silu", lambda a: torch.silu(a), [(3,)], S),
    ("softplus", lambda a: torch.softplus(a), [(3,)], S),
    ("erf", torch.erf, [(3,)], S),
    ("floor", torch.floor, [(3,)], S),
    ("ceil", torch.ceil, [(3,)], S),
    ("trunc", torch.trunc, [(3,)], S),
    ("round", torch.round, [(3,)], S),
    ("frac", torch.frac, [(3,)], S),
    ("clamp", lambda a: torch.clamp(a, -0.5, 0.5), [(2, 3)], S),
    ("clamp_tensor", lambda a, lo: torch.clamp(a, min=lo), [(2, 3), (3,)], S),
    ("clamp_min", lambda a: torch.clamp_min(a, 0.0), [(3,)], S),
    ("clamp_max", lambda a: torch.clamp_max(a, 0.0), [(3,)], S),
    ("maximum", torch.maximum, [(2, 3), (3,)], S),
    ("minimum", torch.minimum, [(2, 3), (3,)], S),
    ("fmax", torch.fmax, [(3,), (3,)], S),
    ("fmin", torch.fmin, [(3,), (3,)], S),
    ("where", lambda a, b: torch.where(a > 0, a, b), [(2, 3), (3,)], S),
    ("where_scalar", lambda a: torch.where(a > 0, a, 0.0), [(2, 3)], S),
    ("lerp", lambda a, b: torch.lerp(a, b, 0.25), [(3,), (3,)], S),
    ("lerp_tensor", lambda a, b, w: torch.lerp(a, b, w), [(3,), (3,), (3,)], S),
    # comparisons and logic
    ("comparisons", lambda a, b: (torch.eq(a, b), torch.ne(a, b), torch.lt(a, b), torch.le(a, b),
                                  torch.gt(a, b), torch.ge(a, b)), [(2, 3), (3,)], S),
    ("logical", lambda a, b: (torch.logical_and(a > 0, b > 0), torch.logical_or(a > 0, b > 0),
                              torch.logical_xor(a > 0, b > 0), torch.logical_not(a > 0)),
     [(3,), (3,)], S),
    ("bitwise", lambda a: (torch.bitwise_and(_idx(a, [5, 6]), 3), torch.bitwise_or(_idx(a, [5, 6]), 3),
                           torch.bitwise_xor(_idx(a, [5, 6]), 3), torch.bitwise_not(_idx(a, [5, 6]))),
     [(1,)], S),
    ("isnan_isinf_isfinite", lambda a: (torch.isnan(a / 0 * 0), torch.isinf(a / 0),
                                        torch.isfinite(a)), [(3,)], S),
    ("equal_allclose_isclose", lambda a, b: (torch.equal(a, a), torch.equal(a, b),
                                             torch.allclose(a, a * (1 + 1e-9)),
                                             torch.isclose(a, b)), [(3,), (3,)], S),
    ("nonzero", lambda a: (torch.nonzero(a > 0), torch.nonzero(a > 0, as_tuple=True)), [(2, 3)], S),
    ("count_nonzero", lambda a: torch.count_nonzero(a > 0), [(2, 3)], S),
    # reductions
    ("sum", lambda a: (torch.sum(a), torch.sum(a, 1), torch.sum(a, 0, keepdim=True)), [(2, 3)], S),
    ("nansum", lambda a: torch.nansum(a), [(2, 3)], S),
    ("mean", lambda a: (torch.mean(a), torch.mean(a, 0)), [(2, 3)], S),
    ("prod", lambda a: (torch.prod(a), torch.prod(a, 1)), [(2, 3)], S),
    ("max", lambda a: (torch.max(a), *torch.max(a, 1), torch.max(a, a.flip(0))), [(2, 3)], S),
    ("min", lambda a: (torch.min(a), *torch.min(a, 0)), [(2, 3)], S),
    ("amax_amin", lambda a: (torch.amax(a, 1), torch.amin(a, (0, 1))), [(2, 3)], S),
    ("argmax_argmin", lambda a: (torch.argmax(a), torch.argmax(a, 1), torch.argmin(a, 0)),
     [(2, 3)], S),
    ("all_any", lambda a: (torch.all(a > 0), torch.any(a > 0, 1)), [(2, 3)], S),
    ("var_std", lambda a: (torch.var(a), torch.std(a, 1), torch.var(a, 0, unbiased=False)),
     [(2, 3)], S),
    ("var_mean_std_mean", lambda a: (*torch.var_mean(a, 1), *torch.std_mean(a)), [(2, 3)], S),
    ("norm", lambda a: (torch.norm(a), torch.norm(a, dim=1), torch.norm(a, p=1)), [(2, 3)], S),
    ("logsumexp", lambda a: torch.logsumexp(a, 1), [(2, 3)], S),
    ("cumsum", lambda a: torch.cumsum(a, 1), [(2, 3)], S),
    ("cumprod", lambda a: torch.cumprod(a, 0), [(2, 3)], S),
    ("sort", lambda a: (*torch.sort(a, 1), torch.argsort(a, 0, descending=True)), [(2, 3)], S),
    ("topk", lambda a: tuple(torch.topk(a, 2)), [(2, 3)], S),
    ("softmax", lambda a: torch.softmax(a, 1), [(2, 3)], S),
    ("log_softmax", lambda a: torch.log_softmax(a, 0), [(2, 3)], S),
    ("dropout_eval", lambda a: torch.dropout(a, 0.5, False), [(2, 3)], S),
    # linear algebra
    ("matmul", lambda a, b: torch.matmul(a, b), [(2, 3), (3, 4)], S),
    ("matmul_batched", lambda a, b: a @ b, [(2, 2, 3), (2, 3, 4)], S),
    ("matmul_3d_2d", lambda a, b: a @ b, [(2, 2, 3), (3, 4)], S),
    ("matmul_1d_2d", lambda a, b: a @ b, [(3,), (3, 4)], S),
    ("mm", torch.mm, [(2, 3), (3, 4)], S),
    ("bmm", torch.bmm, [(2, 2, 3), (2, 3, 4)], S),
    ("mv", torch.mv, [(2, 3), (3,)], S),
    ("dot", torch.dot, [(3,), (3,)], S),
    ("vdot", torch.vdot, [(3,), (3,)], S),
    ("inner", torch.inner, [(3,), (3,)], S),
    ("inner_nd", torch.inner, [(2, 3), (4, 3)], S),
    ("tensordot", lambda a, b: torch.tensordot(a, b, ([1, 2], [1, 0])), [(2, 3, 4), (4, 3, 2)], S),
    ("outer", torch.outer, [(3,), (2,)], S),
    ("ger", torch.ger, [(3,), (2,)], S),
    ("addmm", lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2), [(4,), (2, 3), (3, 4)], S),
    ("addmv", lambda c, a, v: torch.addmv(c, a, v), [(2,), (2, 3), (3,)], S),
    ("baddbmm", lambda c, a, b: torch.baddbmm(c, a, b), [(2, 2, 4), (2, 2, 3), (2, 3, 4)], S),
    ("einsum", lambda a, b: torch.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)], S),
    ("einsum_trace", lambda a: torch.einsum("ii", a), [(3, 3)], S),
    ("inverse", lambda a: torch.inverse(a + 3 * torch.eye(3, dtype=a.dtype, device=a.device)),
     [(3, 3)], S),
    ("det", lambda a: torch.det(a + 3 * torch.eye(3, dtype=a.dtype, device=a.device)), [(3, 3)], S),
    ("logdet", lambda a: torch.logdet(a + 3 * torch.eye(3, dtype=a.dtype, device=a.device)),
     [(3, 3)], S),
    ("slogdet", lambda a: torch.slogdet(a + 3 * torch.eye(3, dtype=a.dtype, device=a.device)),
     [(3, 3)], S),
    ("linalg_solve", lambda a, b: torch.linalg.solve(
        a + 3 * torch.eye(3, dtype=a.dtype, device=a.device), b), [(3, 3), (3, 2)], S),
    ("linalg_inv_det_norm", lambda a: (
        torch.linalg.inv(a + 3 * torch.eye(3, dtype=a.dtype, device=a.device)),
        torch.linalg.det(a + 3 * torch.eye(3, dtype=a.dtype, device=a.device)),
        torch.linalg.norm(a), torch.linalg.vector_norm(a, dim=1)), [(3, 3)], S),
    ("trace", torch.trace, [(3, 3)], S),
    ("diag", lambda a, v: (torch.diag(a), torch.diag(v)), [(3, 3), (3,)], S),
    ("diagonal", lambda a: torch.diagonal(a, 1), [(3, 3)], S),
    ("tril_triu", lambda a: (torch.tril(a), torch.triu(a, 1)), [(3, 3)], S),
    ("adjoint", lambda a: torch.adjoint(a), [(2, 3)], S),
    # shape
    ("view_reshape", lambda a: (torch.view(a, (3, 2)), torch.reshape(a, (-1,)), a.t().reshape(6),
                                a.view(6), torch.clone(a)), [(2, 3)], S),
    ("view_as_reshape_as", lambda a, b: (torch.view_as(a, b), torch.reshape_as(a, b)),
     [(2, 3), (3, 2)], S),
    ("flatten_ravel_unflatten", lambda a: (torch.flatten(a), torch.ravel(a),
                                           torch.unflatten(a.flatten(), 0, (3, 2))), [(2, 3)], S),
    ("squeeze_unsqueeze", lambda a: (torch.squeeze(a), torch.squeeze(a, 0), torch.unsqueeze(a, 1)),
     [(1, 3)], S),
    ("expand", lambda a, b: (torch.expand(a, 2, 3) if "expand" in FUNCTIONS else a.expand(2, 3),
                             torch.expand_as(a, b), torch.broadcast_to(a, (4, 3))), [(1, 3), (2, 3)], S),
    ("broadcast_tensors", lambda a, b: torch.broadcast_tensors(a, b), [(1, 3), (2, 1)], S),
    ("repeat", lambda a: a.repeat(2, 1), [(2, 3)], S),
    ("permute_transpose", lambda a: (torch.permute(a, (2, 0, 1)), torch.transpose(a, 0, 2),
                                     torch.swapaxes(a, 0, 1), torch.swapdims(a, 1, 2),
                                     torch.movedim(a, 0, 2), torch.moveaxis(a, 2, 0), a.mT, a.T),
     [(2, 3, 4)], S),
    ("t", torch.t, [(2, 3)], S),
    ("cat_stack", lambda a, b: (torch.cat([a, b]), torch.concat([a, b], 1), torch.concatenate([a, b]),
                                torch.stack([a, b], 1), torch.hstack([a, b]), torch.vstack([a, b])),
     [(2, 3), (2, 3)], S),
    ("split_chunk", lambda a: (*torch.split(a, 2, 1), *torch.chunk(a, 2, 0),
                               *torch.split_with_sizes(a, [1, 3], 1),
                               *torch.tensor_split(a, 3, 1), *torch.unbind(a, 0)), [(2, 4)], S),
    ("flip_roll", lambda a: (torch.flip(a, (0,)), torch.fliplr(a), torch.flipud(a),
                             torch.roll(a, 1, 1), torch.roll(a, 2)), [(2, 3)], S),
    ("narrow_select", lambda a: (torch.narrow(a, 1, 1, 2), torch.select(a, 0, 1)), [(2, 3)], S),
    ("gather", lambda a: torch.gather(a, 1, _idx(a, [[0, 2], [1, 1]])), [(2, 3)], S),
    ("index_select", lambda a: torch.index_select(a, 1, _idx(a, [2, 0, 2])), [(2, 3)], S),
    ("take", lambda a: torch.take(a, _idx(a, [0, 5, 3])), [(2, 3)], S),
    ("masked_fill", lambda a: torch.masked_fill(a, a > 0, 0.5), [(2, 3)], S),
    ("masked_select", lambda a: torch.masked_select(a, a > 0), [(2, 3)], S),
    ("scatter", lambda a, s: torch.scatter(a, 1, _idx(a, [[0, 2], [1, 0]]), s), [(2, 3), (2, 2)], S),
    ("scatter_add", lambda a, s: torch.scatter_add(a, 1, _idx(a, [[0, 0], [1, 2]]), s),
     [(2, 3), (2, 2)], S),
    ("index_add", lambda a, s: torch.index_add(a, 0, _idx(a, [1, 1, 0]), s), [(2, 3), (3, 3)], S),
    ("indexing", lambda a: (a[0], a[:, 2], a[1:], a[None, ..., 1], a[_idx(a, [1, 0, 1])],
                            a[a > 0], a[[0, 1], [2, 0]]), [(2, 3)], S),
    # creation on the device
    ("creation", lambda a: (torch.zeros(2, 3, device=a.device), torch.ones(3, device=a.device),
                            torch.full((2,), 1.5, device=a.device),
                            torch.empty(2, device=a.device).fill_(3.0),
                            torch.eye(3, device=a.device), torch.arange(5, device=a.device),
                            torch.range(0, 2, device=a.device),
                            torch.linspace(0, 1, 5, device=a.device),
                            torch.logspace(0, 1, 3, device=a.device),
                            torch.tensor([1, 2], device=a.device),
                            torch.as_tensor([1.0, 2.0], device=a.device),
                            torch.zeros_like(a), torch.ones_like(a), torch.full_like(a, 7.0),
                            torch.empty_like(a).zero_()), [(2, 3)], S),
    ("from_numpy", lambda a: torch.from_numpy(np.arange(3.0)).to(a.device), [(1,)], S),
    # nn.functional
    ("F_linear", lambda x, w, b: F.linear(x, w, b), [(2, 3), (4, 3), (4,)], S),
    ("F_activations", lambda a: (F.relu(a), F.sigmoid(a), F.tanh(a), F.softmax(a, 1),
                                 F.log_softmax(a, 1), F.leaky_relu(a), F.elu(a), F.gelu(a),
                                 F.silu(a), F.softplus(a), F.dropout(a, 0.5, training=False)),
     [(2, 3)], S),
    ("F_losses", lambda a, t: (F.mse_loss(a, t), F.l1_loss(a, t), F.smooth_l1_loss(a, t),
                               F.mse_loss(a, t, reduction="none"),
                               F.binary_cross_entropy_with_logits(a, (t > 0).to(a.dtype))),
     [(2, 3), (2, 3)], S),
    ("F_bce", lambda p, t: F.binary_cross_entropy(p, (t > 0.5).to(p.dtype)), [(2, 3), (2, 3)], U),
    ("F_cross_entropy", lambda a: (F.cross_entropy(a, _idx(a, [2, 0])),
                                   F.nll_loss(F.log_softmax(a, 1), _idx(a, [1, 2]))), [(2, 3)], S),
    # convolution, pooling, batch norm (gradcalc/core/conv.py, norm.py)
    ("conv", lambda x, w, b: (torch.conv2d(x, w, b, 1, 1), torch.conv1d(x[0, :, 0], w[:, :, 0], b),
                              torch.conv3d(x[None], w[..., None], None, 1, (1, 0, 0)),
                              torch.conv_transpose2d(x, w.transpose(0, 1), None, 2),
                              torch.conv_transpose1d(x[0, :, 0], w[:, :, 0].transpose(0, 1))),
     [(2, 2, 4, 4), (3, 2, 2, 2), (3,)], S),
    ("pool", lambda x: (torch.max_pool2d(x, 2), torch.max_pool1d(x[0], 2), F.avg_pool2d(x, 3, 1, 1),
                        torch.avg_pool1d(x[0], 2), F.adaptive_avg_pool2d(x, (3, 2)),
                        torch.adaptive_avg_pool1d(x[0], 3), F.adaptive_max_pool2d(x, 2),
                        F.max_pool2d(x, 2, return_indices=True)[1]), [(2, 2, 5, 4)], S),
    ("batch_norm", lambda x, w, b: (F.batch_norm(x, None, None, w, b, True),
                                    F.batch_norm(x, torch.zeros_like(w), torch.ones_like(w), w, b)),
     [(4, 3, 2), (3,), (3,)], S),
    # tiling and order statistics (gradcalc/core/extras.py)
    ("tile_repeat_interleave", lambda a: (torch.tile(a, (2, 1)), torch.repeat_interleave(a, 2),
                                          torch.repeat_interleave(a, _idx(a, [2, 0, 1]), dim=1),
                                          *torch.unsafe_split(a, 1), *torch.unsafe_chunk(a, 3, 1)),
     [(2, 3)], S),
    ("median_unique", lambda a: (torch.median(a), torch.median(a, 1)[0], torch.nanmedian(a),
                                 torch.unique(_idx(a, [3, 1, 3]), return_counts=True)), [(2, 3)], S),
]

# random ops are checked on the device for shape, dtype and placement only
RANDOM = {
    "rand": lambda d: torch.rand(2, 3, device=d),
    "randn": lambda d: torch.randn(2, 3, device=d),
    "randint": lambda d: torch.randint(0, 5, (2, 3), device=d),
    "randperm": lambda d: torch.randperm(4, device=d),
    "normal": lambda d: torch.normal(0.0, 1.0, (2, 3), device=d),
    "rand_like": lambda d: torch.rand_like(torch.zeros(2, 3, device=d)),
    "randn_like": lambda d: torch.randn_like(torch.zeros(2, 3, device=d)),
    "randint_like": lambda d: torch.randint_like(torch.zeros(2, 3, device=d), 0, 4),
    "bernoulli": lambda d: torch.bernoulli(torch.full((2, 3), 0.5, device=d)),
    "multinomial": lambda d: torch.multinomial(torch.ones(2, 3, device=d), 2),
    "dropout": lambda d: torch.dropout(torch.ones(2, 3, device=d), 0.5, True),
    "uniform_": lambda d: torch.empty(2, 3, device=d).uniform_(),
    "normal_": lambda d: torch.empty(2, 3, device=d).normal_(),
    "random_": lambda d: torch.empty(2, 3, device=d).random_(0, 5),
    "bernoulli_": lambda d: torch.empty(2, 3, device=d).bernoulli_(0.5),
    "exponential_": lambda d: torch.empty(2, 3, device=d).exponential_(),
}
# not ops on tensors (seeding), or covered by rows under another name
NOT_DEVICE_OPS = {"manual_seed", "seed", "initial_seed"}


def _names_covered() -> set:
    covered = set(RANDOM) | NOT_DEVICE_OPS
    src = " ".join(f"{name} " for name, *_ in ROWS)
    import inspect

    for _, fn, _, _ in ROWS:
        try:
            src += inspect.getsource(fn)
        except (OSError, TypeError):
            src += getattr(fn, "__name__", "")
    for name in FUNCTIONS:
        if f"torch.{name}(" in src or f"torch.{name}," in src or f"torch.{name}]" in src:
            covered.add(name)
        if f" {name} " in src or f"F.{name}(" in src:
            covered.add(name)
    # an alias is covered by the row of the function it names
    fns = {id(FUNCTIONS[n]) for n in covered if n in FUNCTIONS}
    return covered | {n for n, f in FUNCTIONS.items() if id(f) in fns}


def test_every_registered_op_has_a_device_row():
    missing = sorted(set(FUNCTIONS) - _names_covered())
    assert missing == []


def _tensors(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def _values(out):
    if isinstance(out, (tuple, list)):
        return [v for o in out for v in _values(o)]
    return [] if isinstance(out, torch.Tensor) else [out]


def _inputs(shapes, domain, seed):
    rng = np.random.default_rng(seed)
    lo, hi = domain
    return [rng.uniform(lo, hi, size=s) for s in shapes]


def _row(r):
    return pytest.param(*r, id=r[0])


def test_saved_output_keeps_its_device(cuda):
    x = torch.tensor([0.0, 1.0], device="cuda", requires_grad=True)
    y = x.exp()
    assert y.grad_fn._saved_result.device == cuda
    y.sum().backward()
    assert x.grad.device == cuda
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.exp([0.0, 1.0]), rtol=1e-6)


def test_split_with_an_unused_piece_fills_zeros_on_the_device(cuda):
    x = torch.arange(6.0, device="cuda", requires_grad=True)
    a, b, c = x.split(2)
    (b * 3).sum().backward()  # a and c get no gradient: the node fills zeros, on the device
    assert x.grad.device == cuda and type(x.grad._data) is StrictArray
    assert x.grad.cpu().tolist() == [0.0, 0.0, 3.0, 3.0, 0.0, 0.0]


@pytest.mark.parametrize("name, fn, shapes, domain", [_row(r) for r in ROWS])
def test_op_runs_on_device_forward_and_backward(cuda, name, fn, shapes, domain):
    arrays = _inputs(shapes, domain, seed=len(name))
    cpu_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    dev_in = [torch.tensor(a).to(cuda).requires_grad_() for a in arrays]
    cpu_out, dev_out = fn(*cpu_in), fn(*dev_in)
    assert _values(dev_out) == _values(cpu_out)
    ct, dt = _tensors(cpu_out), _tensors(dev_out)
    assert len(ct) == len(dt) and ct
    for c, d in zip(ct, dt):
        assert d.device == cuda and type(d._data) is StrictArray, name
        assert d.dtype == c.dtype and d.shape == c.shape
        assert (d.grad_fn is None) == (c.grad_fn is None)
        if c.grad_fn is not None:
            assert d.grad_fn.name() == c.grad_fn.name()
        np.testing.assert_allclose(d.detach().cpu().numpy(), c.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, equal_nan=True)
    # backward: the same random cotangent for every float output that carries a graph
    pairs = [(c, d) for c, d in zip(ct, dt) if c.grad_fn is not None]
    if not pairs:
        return
    rng = np.random.default_rng(1)
    cots = [rng.standard_normal(c.shape) for c, _ in pairs]
    torch.autograd.backward([c for c, _ in pairs], [torch.tensor(v) for v in cots])
    torch.autograd.backward([d for _, d in pairs], [torch.tensor(v).to(cuda) for v in cots])
    for c, d in zip(cpu_in, dev_in):
        assert (d.grad is None) == (c.grad is None), name
        if c.grad is None:
            continue
        assert d.grad.device == cuda and type(d.grad._data) is StrictArray
        np.testing.assert_allclose(d.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_op_on_device(cuda, name):
    torch.manual_seed(0)
    out = RANDOM[name](cuda)
    assert out.device == cuda and type(out._data) is StrictArray
    assert out.cpu().numel() == out.numel() > 0


def test_is_contiguous_on_device(cuda):
    a = torch.zeros(2, 3, device="cuda")
    assert not a.t().is_contiguous()
    assert a.t().stride() == (1, 3)
    c = a.t().contiguous()
    assert c.is_contiguous() and c._data.flags.c_contiguous


def test_view_on_device_refuses_non_viewable_layout(cuda):
    a = torch.zeros(2, 3, device="cuda")
    with pytest.raises(RuntimeError, match=r"^view size is not compatible with input tensor's size "
                       r"and stride \(at least one dimension spans across two contiguous "
                       r"subspaces\)\. Use \.reshape\(\.\.\.\) instead\.$"):
        a.t().view(6)
    assert a.view(3, 2).shape == (3, 2) and a.t().reshape(6).device == cuda


def test_second_order_on_device(cuda):
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, device="cuda", requires_grad=True)
    for f, d2 in [(lambda v: v.sin(), lambda v: -np.sin(v)), (lambda v: v.exp(), np.exp),
                  (lambda v: v**3, lambda v: 6 * v), (lambda v: v.tanh(), lambda v: -2 * np.tanh(v) / np.cosh(v) ** 2)]:
        (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x)
        assert h.device == cuda and type(h._data) is StrictArray
        np.testing.assert_allclose(h.cpu().numpy(), d2(np.array([0.5, -1.0, 2.0])), rtol=1e-10)


def test_inplace_and_setitem_on_device(cuda):
    a = torch.zeros(2, 3, device="cuda")
    a[0] = 1.0
    a[1, 1:] = torch.tensor([2.0, 3.0], device="cuda")
    a.add_(1).mul_(2).clamp_(max=7.0)
    a[a > 6] = -1.0
    assert a.device == cuda and type(a._data) is StrictArray
    assert a.cpu().tolist() == [[4.0, 4.0, 4.0], [2.0, 6.0, -1.0]]
    b = torch.empty(3, device="cuda").copy_(torch.tensor([1.0, 2.0, 3.0]))
    assert b.device == cuda and b.cpu().tolist() == [1.0, 2.0, 3.0]
    x = torch.ones(3, device="cuda", requires_grad=True)
    y = x * 2
    y.sin_()
    assert y.grad_fn.name() == "SinBackward0" and y._version == 1
    y.sum().backward()
    assert x.grad.device == cuda
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * np.cos(2.0) * np.ones(3), rtol=1e-6)


def test_printing_on_device(cuda):
    t = torch.arange(10.0, device="cuda", requires_grad=True) * 2
    assert repr(t) == (
        "tensor([ 0.,  2.,  4.,  6.,  8., 10., 12., 14., 16., 18.], device='cuda:0',\n"
        "       grad_fn=<MulBackward0>)"
    )
    assert repr(torch.tensor([True, False], device="cuda")) == "tensor([ True, False], device='cuda:0')"
    assert str(torch.arange(1001, device="cuda")).startswith("tensor([   0,    1,    2,  ...,  998,")


# --- the shared op table (tests/test_ops.py) on the device ------------------------------------

try:
    from tests import test_ops as _op_table

    OP_ROWS = [pytest.param(r, id=r.id) for r in _op_table.ROWS]
except Exception:  # noqa: BLE001  (the table is optional here; the rows above cover every op)
    _op_table, OP_ROWS = None, []


class _OnDevice:
    """`torch` whose factories default to a device (rows build index and mask tensors with them)."""

    FACTORIES = {"tensor", "ones", "zeros", "full", "arange", "eye", "rand", "randn", "empty"}

    def __init__(self, dev):
        self._dev = dev

    def __getattr__(self, name):
        fn = getattr(torch, name)
        if name not in self.FACTORIES:
            return fn
        return lambda *a, **k: fn(*a, **{"device": self._dev, **k})


@pytest.mark.skipif(_op_table is None, reason="tests/test_ops.py not importable")
@pytest.mark.parametrize("r", OP_ROWS)
def test_op_table_row_on_device(cuda, r):
    shapes = r.shapes[0]
    arrays = _op_table._inputs(r, shapes)
    cpu_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    dev_in = [torch.tensor(a).to(cuda).requires_grad_() for a in arrays]
    ct = _tensors(r.fn(torch, *cpu_in))
    dt = _tensors(r.fn(_OnDevice(cuda), *dev_in))  # the row's own index/mask tensors too
    assert len(ct) == len(dt)
    for c, d in zip(ct, dt):
        assert d.device == cuda and type(d._data) is StrictArray and d.dtype == c.dtype
        np.testing.assert_allclose(d.detach().cpu().numpy(), c.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    pairs = [(c, d) for c, d in zip(ct, dt) if c.grad_fn is not None]
    if not pairs:
        return
    rng = np.random.default_rng(1)
    cots = [rng.standard_normal(c.shape) for c, _ in pairs]
    torch.autograd.backward([c for c, _ in pairs], [torch.tensor(v) for v in cots])
    torch.autograd.backward([d for _, d in pairs], [torch.tensor(v).to(cuda) for v in cots])
    for c, d in zip(cpu_in, dev_in):
        assert (d.grad is None) == (c.grad is None)
        if c.grad is not None:
            assert d.grad.device == cuda and type(d.grad._data) is StrictArray
            np.testing.assert_allclose(d.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-9,
                                       atol=1e-12)
