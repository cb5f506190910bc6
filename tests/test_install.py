# Packaging: build the wheel, install it into a fresh virtual environment and run `gradcalc eval`
# from another directory, so a non-editable install is known to ship the grammar and the script.
# Quick (a few seconds): the fresh environment borrows this one's dependencies through a .pth
# file instead of downloading them, and the wheel is built without build isolation.
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling", reason="the [test] extra installs hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out)],
        check=True, cwd=out, stdin=subprocess.DEVNULL,
    )
    [whl] = out.glob("gradcalc-*.whl")
    return whl


def test_wheel_ships_the_grammar_its_tables_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "gradcalc/grammar/gradcalc.lark" in names
        for table in ("gradcalc/lang/parse_tables.json", "gradcalc/lang/lark_tables.json"):
            assert z.read(table) == (ROOT / table).read_bytes()
        assert "gradcalc/__main__.py" in names and "gradcalc/render/graph.py" in names
        [entry] = [n for n in names if n.endswith("entry_points.txt")]
        assert "gradcalc = gradcalc.__main__:main" in z.read(entry).decode()


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    home = tmp_path_factory.mktemp("venv")
    env_dir = home / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # Dependencies come from this environment; the wheel installed below comes first on sys.path.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "zz_gradcalc_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "--ignore-installed",
         "-q", str(wheel)],
        check=True, stdin=subprocess.DEVNULL,
    )
    return bindir, home


def clean_env():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["NO_COLOR"] = "1"
    return env


def test_installed_gradcalc_evaluates_from_another_directory(venv):
    bindir, home = venv
    result = subprocess.run(
        [str(bindir / "gradcalc"), "eval", "x**3+3*x**2+5", "--at", "x=2"],
        cwd=home, capture_output=True, text=True, env=clean_env(), stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "tensor(25., grad_fn=<AddBackward0>)" in result.stdout
    assert "d/dx = tensor(24.)" in result.stdout


def test_installed_package_is_the_wheel_not_the_source_tree(venv):
    bindir, home = venv
    result = subprocess.run(
        [str(bindir / "python"), "-c", "import gradcalc, pathlib; print(pathlib.Path(gradcalc.__file__).parent)"],
        cwd=home, capture_output=True, text=True, env=clean_env(), check=True,
    )
    where = Path(result.stdout.strip())
    assert ROOT not in where.parents and where != ROOT / "gradcalc"
    assert (where / "grammar" / "gradcalc.lark").is_file()


def test_python_dash_m_gradcalc(venv):
    bindir, home = venv
    result = subprocess.run([str(bindir / "python"), "-m", "gradcalc", "--version"], cwd=home,
                            capture_output=True, text=True, env=clean_env())
    assert result.returncode == 0 and result.stdout.startswith("gradcalc ")


def test_installed_parser_runs_from_the_shipped_tables_and_writes_nothing(venv):
    """The wheel's JSON tables serve the lean parser (no Lark) and, on a syntax error, Lark's
    parser loaded from its plain data (not rebuilt); no cache is read or written."""
    bindir, home = venv
    env = clean_env()
    cache = home / "cache"
    cache.mkdir(exist_ok=True)
    env["XDG_CACHE_HOME"] = str(cache)
    code = ("import sys; from gradcalc.cli import main; "
            "code = main(['eval', 'x**3+3*x**2+5', '--at', 'x=2', '--plain']); "
            "print('lark' in sys.modules); main(['eval', '1 +']); "
            "from gradcalc.lang import larkparser; print(larkparser._LARK[0].source_path); "
            "print(larkparser.__file__); sys.exit(code)")
    result = subprocess.run([str(bindir / "python"), "-c", code], cwd=home, capture_output=True,
                            text=True, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "d/dx = tensor(24.)" in result.stdout
    assert result.stdout.splitlines()[-3:-1] == ["False", "<deserialized>"]
    assert ROOT not in Path(result.stdout.splitlines()[-1]).parents  # the installed copy
    assert result.stderr.splitlines()[0] == "<expr>:1:4: expected an expression after '+'"
    assert list(cache.iterdir()) == []
