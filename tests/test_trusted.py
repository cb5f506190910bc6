# Trusted mode: `gradcalc run --trusted FILE` runs real Python with every `import torch...`
# resolving to the one gradcalc copy of that module.
import os
import subprocess
import sys
from pathlib import Path

GRADCALC = str(Path(sys.executable).with_name("gradcalc"))


def run(tmp_path, text, *args):
    script = tmp_path / "prog.py"
    script.write_text(text)
    return subprocess.run([GRADCALC, "run", "--trusted", str(script), *args],
                          capture_output=True, text=True, cwd=tmp_path, check=False,
                          env=dict(os.environ, NO_COLOR="1"))


def test_every_torch_spelling_is_the_one_gradcalc_module(tmp_path):
    r = run(tmp_path, """
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset
from torch.autograd import Function
import gradcalc
import gradcalc.nn.functional
print(torch is gradcalc, nn is gradcalc.nn, F is gradcalc.nn.functional, optim is gradcalc.optim)
print(sys.modules['torch.utils.data'] is sys.modules['gradcalc.utils.data'], nn.__spec__.name)
m = nn.Linear(2, 1)
m.weight = nn.Parameter(torch.ones(1, 2))   # the Parameter of every spelling
print(type(m.weight), F.relu(torch.tensor([-1., 2.])), __name__)
""")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == ("True True True True\nTrue gradcalc.nn\n"
                        "<class 'torch.nn.parameter.Parameter'> tensor([0., 2.]) __main__\n")


def test_the_file_may_do_what_python_may(tmp_path):
    (tmp_path / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    r = run(tmp_path, """
import sys, os, tempfile, torch
from helper import twice
d = tempfile.mkdtemp()
torch.save({'w': torch.arange(3)}, os.path.join(d, 'ck.pt'))
print(twice(torch.load(os.path.join(d, 'ck.pt'))['w']), sys.argv[1:], eval('1 + 1'))
""")
    assert (r.returncode, r.stdout, r.stderr) == (0, "tensor([0, 2, 4]) [] 2\n", "")
    # python -m gradcalc.trusted passes the file its arguments
    r = subprocess.run([sys.executable, "-m", "gradcalc.trusted", str(tmp_path / "prog.py"),
                        "a", "b"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert (r.returncode, r.stdout, r.stderr) == (0, "tensor([0, 2, 4]) ['a', 'b'] 2\n", "")


def test_errors_are_pythons_traceback_from_the_script_on(tmp_path):
    r = run(tmp_path, "import torch\nprint('before')\ntorch.ones(2, 3) @ torch.ones(2, 3)\n")
    assert r.returncode == 1 and r.stdout == "before\n"
    lines = r.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == f'  File "{tmp_path / "prog.py"}", line 3, in <module>'
    assert lines[-1] == ("gradcalc.errors.ShapeError: mat1 and mat2 shapes cannot be multiplied "
                         "(2x3 and 2x3)")
    r = run(tmp_path, "import torch.hub\n")
    assert r.stderr.splitlines()[-1] == "ModuleNotFoundError: No module named 'torch.hub'"
    r = run(tmp_path, "import sys\nsys.exit(3)\n")
    assert (r.returncode, r.stderr) == (3, "")


def test_trusted_needs_a_file(tmp_path):
    r = subprocess.run([GRADCALC, "run", "--trusted", str(tmp_path / "none.py")],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"gradcalc: error: --trusted runs a Python file: "
                                f"{str(tmp_path / 'none.py')!r} is not one")
