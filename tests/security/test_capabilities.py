# The capability rules from the inside: what a script holds is what the export table hands
# it, and what PyTorch code needs of type(), classes and objects still works.
import pytest

from gradcalc.errors import SecurityError
from gradcalc.lang import Session, exports
from gradcalc.lang.safety import TypeView


def run(text):
    out = []
    s = Session(write=out.append, echo=False)
    s.run(text)
    return "".join(out)


def test_every_export_table_row_offers_only_vetted_values():
    for script_name, (path, _) in exports.TABLE.items():
        mod = exports.load(path)
        names = exports.names_of(script_name)
        assert names, script_name
        for name in names:
            value = getattr(mod, name)
            assert exports.vet(value), f"{script_name}.{name}"


def test_the_table_loads_no_module_outside_it():
    with pytest.raises(ValueError, match="not an exported module: 'gradcalc.repl'"):
        exports.load("gradcalc.repl")
    with pytest.raises(ValueError, match="not an exported module: 'os'"):
        exports.load("os")


def test_internals_of_facade_modules_are_not_offered():
    s = Session(write=lambda t: None)
    functional = s.registry.F.names()
    for internal in ("op", "record", "np_reduce", "to_host", "save_out", "unpack_out",
                     "Node", "GradcalcValueError"):
        assert internal not in functional
    assert "relu" in functional and "cross_entropy" in functional
    assert "no_grad" not in s.registry.modules["torch.nn.init"].names()


def test_type_gives_pytorch_code_what_it_needs():
    out = run(
        "import torch\nimport torch.nn as nn\n"
        "t = torch.ones(2)\nm = nn.Linear(2, 1)\np = m.weight\n"
        "print(type(t) is torch.Tensor, isinstance(t, torch.Tensor), type(m).__name__)\n"
        "print(type(p) is nn.Parameter, type(m) is nn.Linear, type(3), type('s'))\n"
        "print(type(t.sum()).__name__, t.__class__.__name__, m.__class__ is nn.Linear)\n"
        "y = (torch.ones(1, requires_grad=True) * 2)\n"
        "print(type(y.grad_fn).__name__, type(y.grad_fn), type(torch))\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "net = Net()\nprint(type(net) is Net, type(net).__name__, net.__class__.__name__)\n"
        "def f():\n    pass\nprint(f.__name__, type(f).__name__, torch.sin.__name__)\n")
    assert out == (
        "True True Linear\n"
        "True True <class 'int'> <class 'str'>\n"
        "Tensor Tensor True\n"
        "MulBackward0 <class 'torch.core.ops.MulBackward0'> <class 'module'>\n"
        "True Net Net\n"
        "f function sin\n")


def test_a_type_view_names_a_class_and_builds_nothing():
    s = Session(write=lambda t: None)
    view = s.evaluate("type(torch)")
    assert isinstance(view, TypeView) and repr(view) == "<class 'module'>"
    assert s.evaluate("type(torch) is type(F)") is True
    with pytest.raises(SecurityError, match=r"<class 'module'> cannot be called"):
        s.run("type(torch)('r', 'gradcalc.repl')")


def test_custom_function_ctx_keeps_what_forward_stores():
    out = run(
        "import torch\n"
        "class Scale(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, x, k):\n        ctx.k = k\n"
        "        ctx.save_for_backward(x)\n        return x * k\n"
        "    @staticmethod\n    def backward(ctx, g):\n        x, = ctx.saved_tensors\n"
        "        return g * ctx.k, None\n"
        "x = torch.tensor(3., requires_grad=True)\nScale.apply(x, 5.).backward()\n"
        "print(x.grad)\n")
    assert out == "tensor(5.)\n"


def test_a_scripts_own_objects_take_writes_and_shared_ones_do_not():
    out = run(
        "import torch\nx = torch.zeros(1, requires_grad=True)\n"
        "opt = torch.optim.SGD([x], lr=0.1)\nopt.param_groups[0]['lr'] = 0.5\n"
        "s = torch.optim.lr_scheduler.StepLR(opt, 2)\ns.last_epoch = 4\n"
        "print(opt.param_groups[0]['lr'], s.last_epoch)\n")
    assert out == "0.5 4\n"
    other = Session(write=lambda t: None)
    with pytest.raises(Exception, match="cannot set attribute 'name' on 'dtype' object"):
        Session(write=lambda t: None).run("torch.float32.name = 'hacked'")
    assert other.evaluate("str(torch.float32)") == "torch.float32"


def test_script_classes_may_define_the_dataset_protocol():
    out = run(
        "import torch\nfrom torch.utils.data import Dataset, DataLoader\n"
        "class Squares(Dataset):\n    def __init__(self, n):\n        self.n = n\n"
        "    def __len__(self):\n        return self.n\n"
        "    def __getitem__(self, i):\n        return torch.tensor([float(i * i)])\n"
        "d = Squares(4)\nprint(len(d), d[3])\n"
        "for batch in DataLoader(d, batch_size=2):\n    print(batch.tolist())\n")
    assert out == "4 tensor([9.])\n[[0.0], [1.0]]\n[[4.0], [9.0]]\n"


def test_grad_mode_set_by_one_session_holds_for_that_session_only():
    import gradcalc

    a = Session(write=lambda t: None)
    b = Session(write=lambda t: None)
    a.run("torch.set_grad_enabled(False)\nx = torch.ones(1, requires_grad=True)\n"
          "first = (x * 2).requires_grad")
    b.run("x = torch.ones(1, requires_grad=True)\nother = (x * 2).requires_grad")
    a.run("later = (x * 3).requires_grad")
    assert (a.namespace["first"], b.namespace["other"], a.namespace["later"]) == (
        False, True, False)
    assert gradcalc.is_grad_enabled() is True
