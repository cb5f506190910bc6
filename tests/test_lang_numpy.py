# NumPy inside scripts is NumPy: real arrays with NumPy's dtypes, printing and random numbers,
# through a surface that vets arguments and refuses results over the session's limits.
import numpy
import pytest

from gradcalc.errors import GradcalcError, LimitError
from gradcalc.lang import Limits, Session


def run(text, limits=None):
    out = []
    Session(write=out.append, echo=False, limits=limits).run(text)
    return "".join(out)


def test_arrays_have_numpys_dtypes_and_print_as_numpy_does():
    out = run("import numpy as np\n"
              "a = np.array([[1, 2], [3, 4]])\n"
              "print(a.dtype, a)\n"
              "print(10.0 ** np.arange(-1, -3, -1))\n"
              "print(np.linspace(0, 1, 5, dtype=np.float32).dtype, np.mean([1, 2, 3, 4]))\n"
              "print(a.dot(a), a.T.dot(a).sum(), np.square(a - 1).sum())\n")
    a = numpy.array([[1, 2], [3, 4]])
    assert out == (f"int64 {a}\n{10.0 ** numpy.arange(-1, -3, -1)}\nfloat32 2.5\n"
                   f"{a.dot(a)} {a.T.dot(a).sum()} {numpy.square(a - 1).sum()}\n")


def test_from_numpy_shares_memory_and_np_add_writes_out():
    out = run("import numpy as np\nimport torch\n"
              "n = np.ones(3)\nt = torch.from_numpy(n)\nnp.add(n, 1, out=n)\nprint(t, n)\n"
              "print(torch.from_numpy(np.array([[1, 2], [3, 4]])).dtype)\n")
    assert out == "tensor([2., 2., 2.], dtype=torch.float64) [2. 2. 2.]\ntorch.int64\n"


def test_masked_assignment_and_newaxis_index_real_arrays():
    out = run("import numpy as np\nh = np.array([-1.0, 2.0, -3.0])\nh[h < 0] = 0\n"
              "print(h, h[np.newaxis, :, np.newaxis].shape)\n")
    assert out == "[0. 2. 0.] (1, 3, 1)\n"


def test_random_is_numpys_legacy_generator_seeded_per_session():
    want = numpy.random.RandomState(0)
    expected = f"{want.randn()} {want.randint(1, 4)} {want.rand(2)}\n"
    assert run("import numpy as np\nnp.random.seed(0)\n"
               "print(np.random.randn(), np.random.randint(1, 4), np.random.rand(2))") == expected
    a = Session(write=lambda t: None)
    b = Session(write=lambda t: None)
    a.run("import numpy as np\nnp.random.seed(3)")
    b.run("import numpy as np\nnp.random.seed(4)\nnp.random.rand()")
    assert a.evaluate("np.random.rand()") == numpy.random.RandomState(3).rand()


def test_ufuncs_of_tensors_give_tensors_back_as_pytorch_does():
    assert run("import numpy as np\nimport torch\nprint(np.sin(torch.zeros(2)))") == \
        "tensor([0., 0.])\n"


def test_linalg():
    assert run("import numpy as np\nprint(np.linalg.norm(np.array([3.0, 4.0])), "
               "np.linalg.det(np.eye(2)))") == "5.0 1.0\n"


@pytest.mark.parametrize("text, match", [
    ("class P(object):\n    pass\nnp.array([1, P()])", r"'P' object cannot be converted"),
    ("np.array([1], dtype=object)", r"'type' object cannot be converted"),
    ("np.zeros(3, dtype='U10')", r"numeric and bool dtypes only"),
    ("np.array(['a', 'b'])", r"arrays of numbers only"),
    ("np.sum(lambda x: x)", r"'function' object cannot be converted"),
    ("np.load('x.npy')", r"has no attribute 'load'"),
    ("np.save('x.npy', np.ones(2))", r"has no attribute 'save'"),
    ("np.fromfile('x')", r"has no attribute 'fromfile'"),
    ("np.vectorize(abs)", r"has no attribute 'vectorize'"),
    ("np.ndarray((2,))", r"has no attribute 'ndarray'"),
    ("np.ones(2).tofile('x')", r"has no attribute 'tofile'"),
])
def test_what_numpy_never_receives_or_gives(text, match):
    with pytest.raises(GradcalcError, match=match):
        run("import numpy as np\n" + text)


@pytest.mark.parametrize("text, what", [
    ("np.zeros(10**9)", "numpy.zeros()"),
    ("np.ones((10**5, 10**5))", "numpy.ones()"),
    ("np.arange(10**10)", "numpy.arange()"),
    ("np.linspace(0, 1, 10**9)", "numpy.linspace()"),
    ("np.eye(10**5)", "numpy.eye()"),
    ("np.random.randn(10**5, 10**5)", "numpy.random.randn()"),
    ("np.random.normal(0, 1, size=10**9)", "numpy.random.normal()"),
    ("np.add(np.ones((10**5, 1)), np.ones((1, 10**5)))", "numpy.add()"),
    ("np.outer(np.ones(10**5), np.ones(10**5))", "numpy.outer()"),
    ("np.dot(np.ones((10**5, 1)), np.ones((1, 10**5)))", "numpy.dot()"),
    ("np.ones((10**5, 1)).dot(np.ones((1, 10**5)))", "numpy.dot()"),
    ("np.tile(np.ones(10), 10**9)", "numpy.tile()"),
    ("np.concatenate([np.ones(10**6)] * 100)", "numpy.concatenate()"),
])
def test_results_over_the_size_limit_are_refused_before_numpy_allocates(text, what):
    limits = Limits(max_elements=10**7)
    with pytest.raises(LimitError, match=f"{what.replace('(', '[(]').replace(')', '[)]')} "
                                         r"would have [\d,]+ elements, over the limit"):
        run("import numpy as np\n" + text, limits)
