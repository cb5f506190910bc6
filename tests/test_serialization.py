# torch.save / torch.load: a zip of JSON and .npy arrays that cannot run code; in scripts
# only inside the directory `--allow-files DIR` grants, else a one-line refusal.
import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import gradcalc as torch
from gradcalc.errors import GradcalcError

GRADCALC = str(Path(sys.executable).with_name("gradcalc"))


def roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64,
                                   torch.int32, torch.uint8, torch.bool, torch.complex64])
def test_tensors_keep_values_dtype_and_shape(dtype):
    t = (torch.arange(6) % 3).to(dtype).reshape(2, 3)
    back = roundtrip(t)
    assert back.dtype is dtype and back.shape == (2, 3) and torch.equal(back, t)
    assert back._data is not t._data


def test_state_dicts_and_containers_round_trip():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    opt.step()
    ck = roundtrip({"epoch": 7, "model": model.state_dict(), "opt": opt.state_dict(),
                    "big": 10**30, "nan": float("nan"), "np": np.float32(0.5),
                    "misc": [(1, "a", None, True), torch.Size([2, 3]), torch.float16]})
    assert isinstance(ck["model"], OrderedDict) and list(ck["model"]) == list(model.state_dict())
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    assert str(fresh.load_state_dict(ck["model"])) == "<All keys matched successfully>"
    for a, b in zip(fresh.parameters(), model.parameters()):
        assert torch.equal(a, b)
    assert sorted(ck["opt"]["state"]) == [0, 1, 2, 3]
    assert torch.equal(ck["opt"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert ck["epoch"] == 7 and ck["big"] == 10**30 and ck["nan"] != ck["nan"]
    assert ck["np"] == 0.5 and type(ck["np"]) is float
    assert ck["misc"] == [(1, "a", None, True), torch.Size([2, 3]), torch.float16]


def test_parameters_and_requires_grad_survive():
    back = roundtrip([torch.nn.Parameter(torch.ones(2)), torch.ones(1, requires_grad=True)])
    assert type(back[0]).__name__ == "Parameter" and back[0].requires_grad
    assert back[1].requires_grad and back[1].grad_fn is None


def test_a_whole_module_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(GradcalcError, match=r"torch.save of a whole Linear module is not "
                                            r"supported: .* save its state_dict\(\) instead"):
        torch.save(torch.nn.Linear(1, 1), str(tmp_path / "m.pt"))
    assert not (tmp_path / "m.pt").exists()
    with pytest.raises(GradcalcError, match=r"cannot save a builtin_function_or_method object"):
        roundtrip({"f": len})


def test_a_pickle_is_never_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(GradcalcError, match=r"not a gradcalc checkpoint \(PyTorch's pickled "
                                            r"files cannot be read"):
        torch.load(str(path))
    # an object array planted in a well-formed archive is refused by NumPy's allow_pickle=False
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data.json", '{"format": "gradcalc-checkpoint", "version": 1, '
                                '"root": {"tensor": 0, "dtype": "float32"}}')
        buf = io.BytesIO()
        np.save(buf, np.array([Boom()], dtype=object), allow_pickle=True)
        z.writestr("0.npy", buf.getvalue())
    with pytest.raises(GradcalcError, match=r"a damaged checkpoint \(Object arrays cannot be "
                                            r"loaded when allow_pickle=False\)"):
        torch.load(str(path))
    assert not (tmp_path / "pwned").exists()


SCRIPT = """import torch
torch.manual_seed(0)
m = torch.nn.Linear(2, 1)
torch.save(m.state_dict(), 'model.pth')
m2 = torch.nn.Linear(2, 1)
print(m2.load_state_dict(torch.load('model.pth')), torch.equal(m.weight, m2.weight))
"""


def gradcalc_run(path, *args, cwd):
    return subprocess.run([GRADCALC, "run", *args, str(path)], capture_output=True, text=True,
                          cwd=cwd, check=False, env=dict(os.environ, NO_COLOR="1"))


def test_scripts_save_and_load_only_where_allowed(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = gradcalc_run(script, "--allow-files", str(out_dir), cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "<All keys matched successfully> True\n", "")
    assert sorted(os.listdir(out_dir)) == ["model.pth"]
    assert zipfile.ZipFile(out_dir / "model.pth").namelist() == ["data.json", "0.npy", "1.npy"]
    r = gradcalc_run(script, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines()[0] == (
        f"{script}:4:1: torch.save(): scripts may not write files unless you allow it: run with "
        "--allow-files DIR to let them write into DIR")
    script.write_text("import torch\ntorch.load('model.pth')\n")
    r = gradcalc_run(script, cwd=out_dir)
    assert r.stderr.splitlines()[0] == (
        f"{script}:2:1: torch.load(): scripts may not read files unless you allow it: run with "
        "--allow-files DIR to let them read in DIR")


@pytest.mark.parametrize("name", ["../x.pt", "/tmp/x.pt", "sub/x.pt", ".hidden"])
def test_scripts_name_plain_files_in_the_granted_directory(tmp_path, name):
    script = tmp_path / "s.py"
    script.write_text(f"import torch\ntorch.save(torch.ones(1), {name!r})\n")
    r = gradcalc_run(script, "--allow-files", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 1
    assert f"torch.save(): {name!r} is not a plain file name (files go into the --allow-files " \
           f"directory, {str(tmp_path)!r})" in r.stderr


def test_a_link_in_the_granted_directory_is_never_followed(tmp_path):
    (tmp_path / "target").write_bytes(b"secret")
    os.symlink(tmp_path / "target", tmp_path / "link.pt")
    script = tmp_path / "s.py"
    script.write_text("import torch\ntorch.load('link.pt')\n")
    r = gradcalc_run(script, "--allow-files", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 1 and "cannot read 'link.pt'" in r.stderr
    script.write_text("import torch\ntorch.save(torch.ones(1), 'link.pt')\n")
    r = gradcalc_run(script, "--allow-files", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 1 and "cannot write 'link.pt'" in r.stderr
    assert (tmp_path / "target").read_bytes() == b"secret"
