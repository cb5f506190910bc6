# PyTorch's random numbers, bit for bit: every case of tests/fixtures/random_reference.json (made
# by tests/fixtures/gen_random.py from torch 2.13.0) runs through gradcalc and must give the same
# values (or SHA-256 of their bytes), dtypes, shapes, errors and RNG state bytes afterwards.
import ast
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

import gradcalc as torch
from gradcalc import nn
from gradcalc.core import random as R
from gradcalc.core import rng_kernels as K
from gradcalc.nn import functional as F
from gradcalc.utils.data import DataLoader, TensorDataset

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "random_reference.json").read_text())
CASES = FIXTURE["cases"]
ERRORS = {"RuntimeError": RuntimeError, "ValueError": ValueError, "TypeError": TypeError,
          "NotImplementedError": NotImplementedError}


def _encode(v):
    # the same encoding as gen_random.py, applied to gradcalc's values
    if isinstance(v, torch.Generator):
        return {"generator": True}
    if isinstance(v, torch.Tensor):
        a = np.ascontiguousarray(v.detach().numpy())
        d = {"dtype": v.dtype.name, "shape": list(v.shape)}
        if a.size <= 64:
            d["values"] = a.reshape(-1).tolist()
        else:
            d["sha256"] = hashlib.sha256(a.tobytes()).hexdigest()
            d["head"] = a.reshape(-1)[:4].tolist()
        return d
    if isinstance(v, torch.Size):
        return {"size": list(v)}
    if isinstance(v, torch.dtype):
        return {"torch_dtype": repr(v)}
    if isinstance(v, (list, tuple)):
        return {"list": [_encode(x) for x in v]}
    if isinstance(v, (bool, int, float, str)) or v is None:
        return {"py": v}
    return {"repr": repr(v)}


def _same(got, want):
    # exact comparison; floats compare by value (JSON keeps float64 exactly), NaN with NaN
    if isinstance(want, float) and isinstance(got, float):
        return got == want or (math.isnan(got) and math.isnan(want))
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    return type(got) is type(want) and got == want


def _run(case):
    env = {"torch": torch, "nn": nn, "F": F, "DataLoader": DataLoader,
           "TensorDataset": TensorDataset}
    torch.manual_seed(case["seed"])
    for step, want in zip(case["steps"], case["results"]):
        want_repr = step.startswith("repr:")
        code = step[5:] if want_repr else step
        expression = isinstance(ast.parse(code).body[0], ast.Expr)
        if want is not None and "error" in want:
            with pytest.raises(ERRORS[want["error"]]) as e:
                eval(code, env) if expression else exec(code, env)  # noqa: S102 (our fixture)
            assert str(e.value) == want["message"], step
            continue
        if not expression:
            exec(code, env)  # noqa: S102 (statements of our own fixture)
            continue
        v = eval(code, env)
        got = {"repr": repr(v)} if want_repr else _encode(v)
        assert _same(got, want), (step, got, want)
    state = torch.get_rng_state().numpy().tobytes()
    assert hashlib.sha256(state).hexdigest() == case["state_sha256"]


@pytest.mark.filterwarnings("ignore:.* is out of bounds")
@pytest.mark.parametrize("case", CASES, ids=[f"{c['name']}-{c['seed']}" for c in CASES])
def test_matches_pytorch(case):
    _run(case)


def test_fixture_covers_the_issue():
    # the fixture is torch 2.13.0's, taken on a CPU with the AVX2/AVX512 kernels
    assert FIXTURE["torch_version"] == "2.13.0+cpu"
    assert FIXTURE["cpu_capability"] in ("AVX2", "AVX512")
    names = {c["name"].split()[0] for c in CASES}
    assert {"rand", "randn", "uniform_", "normal_", "randint", "random_", "randperm", "bernoulli_",
            "dropout", "multinomial", "init", "modules", "generators", "interleaving",
            "dataloader", "errors"} <= names
    assert len(CASES) > 1000


def test_seed_notebook_prints_what_pytorch_prints():
    # the issue's acceptance example: torch.manual_seed(123); the 50-30-20-3 MLP; X = rand(1, 50)
    torch.manual_seed(123)
    model = nn.Sequential(nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(),
                          nn.Linear(20, 3))
    assert repr(model[0].weight).splitlines()[:2] == [
        "Parameter containing:",
        "tensor([[-0.0577,  0.0047, -0.0702,  ...,  0.0222,  0.1260,  0.0865],"]
    out = model(torch.rand((1, 50)))
    assert repr(out) == "tensor([[-0.1670,  0.1001, -0.1219]], grad_fn=<AddmmBackward0>)"


def test_reference_values_from_the_notes():
    # a few rows of shared/reference/pytorch-rng.md §10, independent of the fixture
    torch.manual_seed(0)
    assert torch.rand(3).tolist() == [0.49625658988952637, 0.7682217955589294,
                                      0.08847743272781372]
    torch.manual_seed(0)
    assert torch.randn(4, dtype=torch.float64).tolist() == [
        1.5409961082440433, -0.2934289057609464, -2.1787893820745574, 0.5684312772806678]
    torch.manual_seed(42)
    assert torch.randn(16)[:4].tolist() == [1.9269152879714966, 1.4872840642929077,
                                            0.9007171988487244, -2.1055209636688232]
    torch.manual_seed(0)
    assert torch.randperm(10).tolist() == [4, 1, 7, 5, 3, 9, 0, 8, 6, 2]
    assert torch.Generator().initial_seed() == 67280421310721


def test_low_32_bits_of_the_seed_choose_the_stream():
    torch.manual_seed(1)
    a = torch.rand(5)
    torch.manual_seed(2**32 + 1)
    assert torch.equal(torch.rand(5), a)
    assert torch.initial_seed() == 2**32 + 1
    assert torch.manual_seed(-1).initial_seed() == 2**64 - 1
    assert torch.manual_seed(1.7).initial_seed() == 1


def test_state_bytes_layout():
    torch.manual_seed(0)
    torch.randn(3)
    s = torch.get_rng_state()
    assert s.dtype == torch.uint8 and s.shape == torch.Size([5056])
    b = s.numpy().tobytes()
    # (seed, left, seeded, next), then the cached double normal and its flag
    assert np.frombuffer(b[:24], dtype="<u8")[0] == 0
    assert np.frombuffer(b[8:16], dtype="<i4").tolist() == [617, 1]
    assert np.frombuffer(b[16:24], dtype="<u8")[0] == 8
    assert np.frombuffer(b[5024:5032], dtype="<f8")[0] == 0.5684312772806678
    assert np.frombuffer(b[5040:5044], dtype="<i4")[0] == 1


def test_set_state_rejects_bad_states():
    s = torch.get_rng_state()
    bad = s.clone()
    bad[12] = 0  # the `seeded` flag
    with pytest.raises(RuntimeError, match="^Invalid mt19937 state$"):
        torch.set_rng_state(bad)
    with pytest.raises(TypeError, match="^expected a torch.ByteTensor, but got list$"):
        torch.set_rng_state([1, 2])
    with pytest.raises(TypeError, match="^expected a torch.Generator, but got int$"):
        torch.randn(3, generator=5)


@pytest.fixture
def cuda(monkeypatch):
    # the strict stand-in for CuPy (tests/strict_backend.py): no implicit host conversion
    import sys

    from gradcalc.core import backend
    from tests.strict_backend import cupyx_stub, namespace

    prev = backend._cuda_xp
    backend.use_cuda_backend(namespace)
    for name, mod in cupyx_stub().items():
        monkeypatch.setitem(sys.modules, name, mod)
    yield torch.device("cuda:0")
    backend.use_cuda_backend(prev)


def test_device_tensors_get_the_numbers_of_the_host(cuda):
    # draws happen on the host with the one generator, then move: the same numbers as on CPU
    draws = [lambda d: torch.randn(20, device=d), lambda d: torch.rand(3, device=d),
             lambda d: torch.empty(17, device=d).normal_(0.5, 2.0),
             lambda d: torch.empty(4, device=d).uniform_(-1, 1),
             lambda d: F.dropout(torch.ones(6, device=d), 0.5),
             lambda d: torch.bernoulli(torch.full((5,), 0.5, device=d)),
             lambda d: torch.multinomial(torch.ones(4, device=d), 2)]
    for draw in draws:
        torch.manual_seed(5)
        host = draw("cpu")
        torch.manual_seed(5)
        dev = draw(cuda)
        assert dev.device == cuda
        assert torch.equal(dev.cpu(), host)


# --- the float32 Box-Muller kernel: every possible input ----------------------------------------
# normal_fill's float32 transform depends on one uniform for the radius (u1 = 1 - d) and one for
# the angle (theta = 2pi * d), each d one of 2**24 values. rng_kernels computes each fused
# multiply-add as the double sum a*b + c cast to float32 without a midpoint correction; this
# transcription of avx_mathfun.h uses a correctly rounded fma32 everywhere instead. Both must
# agree on all 2**24 inputs (the proof that the shortcut is exact).

F32 = np.float32


def _log256_ref(x):
    bits = x.view(np.int32)
    e = ((bits >> 23) - 126).astype(F32)
    m = ((bits & ~0x7F800000) | 0x3F000000).view(F32)
    small = m < K._SQRTHF
    e = e - small.astype(F32)
    x = (m - F32(1.0)) + np.where(small, m, F32(0.0))
    z = x * x
    y = np.full_like(x, K._LOG_P[0])
    for p in K._LOG_P[1:]:
        y = K.fma32(y, x, p)
    y = K.fma32(y * x, z, e * K._LOG_Q1)
    y = y - z * F32(0.5)
    return (x + y) + e * K._LOG_Q2


def _sincos256_ref(x):
    y = x * K._FOPI
    j = (y.astype(np.int32) + 1) & ~1
    y = j.astype(F32)
    for dp in K._DP:
        x = K.fma32(y, dp, x)
    z = x * x
    yc = K.fma32(K.fma32(np.full_like(z, K._COS_P[0]), z, K._COS_P[1]), z, K._COS_P[2])
    yc = K.fma32(yc * z, z, -(z * F32(0.5))) + F32(1.0)
    ys = K.fma32(K.fma32(np.full_like(z, K._SIN_P[0]), z, K._SIN_P[1]), z, K._SIN_P[2])
    ys = K.fma32(ys * z, x, x)
    poly = (j & 2) == 0
    s, c = np.where(poly, ys, yc), np.where(poly, yc, ys)
    s = np.where((j & 4) != 0, -s, s)
    c = np.where((~(j - 2) & 4) != 0, -c, c)
    return s, c


def test_box_muller_kernel_is_exact_for_every_float32_input():
    chunk = 1 << 20
    for start in range(0, 1 << 24, chunk):
        d = np.arange(start, start + chunk, dtype=np.uint64)
        u = K.u24(d)
        s = K._Scratch(chunk)
        radius = K.radius32(F32(1.0) - u, s).copy()
        want = np.sqrt(F32(-2.0) * _log256_ref(F32(1.0) - u))
        assert np.array_equal(radius.view(np.int32), want.view(np.int32)), start
        theta = F32(K.TWO_PI) * u
        sin, cos = K.sincos32(theta.copy(), s)
        ws, wc = _sincos256_ref(theta)
        assert np.array_equal(sin.view(np.int32), ws.view(np.int32)), start
        assert np.array_equal(cos.view(np.int32), wc.view(np.int32)), start


# --- exact fused multiply-add ------------------------------------------------------------------


def _fraction_fma32(a, b, c):
    from fractions import Fraction

    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    # the float32 nearest to `exact`, ties to even: decide between the two neighbours exactly
    f = F32(float(exact))
    lo, hi = (np.nextafter(f, F32(-np.inf)), f) if Fraction(float(f)) > exact else (
        f, np.nextafter(f, F32(np.inf)))
    dl, dh = exact - Fraction(float(lo)), Fraction(float(hi)) - exact
    if dl != dh:
        return lo if dl < dh else hi
    return lo if int(lo.view(np.int32)) % 2 == 0 else hi


def test_fma32_is_correctly_rounded_on_midpoints_and_subnormals():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3000).astype(F32)
    b = rng.standard_normal(3000).astype(F32)
    c = rng.standard_normal(3000).astype(F32)
    # constructed double-rounding traps: c = -(a*b rounded) + half an ulp, and tiny results
    traps_a = np.array([1 + 2**-23, 1 + 2**-12, 3 * 2**-70], dtype=F32)
    traps_b = np.array([1 + 2**-23, 1 + 2**-12, 2**-60], dtype=F32)
    traps_c = np.array([-1.0, -1.0, 2**-140], dtype=F32)
    a, b, c = (np.concatenate([x, t]) for x, t in ((a, traps_a), (b, traps_b), (c, traps_c)))
    got = K.fma32(a, b, c)
    want = np.array([_fraction_fma32(x, y, z) for x, y, z in zip(a, b, c)], dtype=F32)
    assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_fma64_is_correctly_rounded():
    from fractions import Fraction

    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal(2000) * 10.0 ** rng.integers(-8, 8, 2000) for _ in range(3))
    a[:3], b[:3], c[:3] = [1 + 2**-52, 1 + 2**-30, 0.1], [1 + 2**-52, 1 - 2**-30, 10.0], [-1, -1, -1]
    got = K.fma64(a, b, c)
    for x, y, z, g in zip(a, b, c, got):
        assert g == float(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))


def test_randperm_vectorised_equals_the_fisher_yates_loop():
    g = R.Generator().manual_seed(9)
    for n in (2, 3, 50, 1000, 70000):
        words = g.words(n - 1)
        a = np.arange(n)
        for i, w in enumerate(words.tolist()):
            z = i + w % (n - i)
            a[i], a[z] = a[z], a[i]
        assert np.array_equal(K.randperm(words, n), a), n


def test_bad_arguments_raise_type_errors_naming_the_argument():
    cases = [
        (lambda: torch.empty(3).uniform_("a"),
         r"^uniform_\(\): argument 'from' \(position 1\) must be float, not str$"),
        (lambda: torch.empty(3).bernoulli_("q"),
         r"^bernoulli_\(\): argument 'p' \(position 1\) must be float, not str$"),
        (lambda: torch.empty(3).random_(1.5, 4),
         r"^random_\(\): argument 'from' \(position 1\) must be int, not float$"),
        (lambda: torch.randint(0, 10, 5),
         r"^randint\(\): argument 'size' must be tuple of ints, not int$"),
        (lambda: torch.multinomial(torch.ones(2), 2.5),
         r"^multinomial\(\): argument 'num_samples' \(position 2\) must be int, not float$"),
        (lambda: torch.empty(3).random_(1, 2, 3),
         r"^random_\(\) takes at most 2 positional arguments$"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()


def test_command_line_reports_a_bad_random_call_on_one_line():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "gradcalc", "eval", "randint(0, 10, 5)"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "<expr>:1:1: randint(): argument 'size' must be tuple of ints, not int")
    assert "Traceback" not in proc.stderr


def test_torch_random_module():
    # torch.random: the same seeding functions, and fork_rng restores the state on exit
    torch.random.manual_seed(0)
    assert torch.random.initial_seed() == 0
    with torch.random.fork_rng():
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), inside)
    state = torch.random.get_rng_state()
    first = torch.randn(5)
    torch.random.set_rng_state(state)
    assert torch.equal(torch.randn(5), first)
    assert torch.random.default_generator is torch.default_generator
