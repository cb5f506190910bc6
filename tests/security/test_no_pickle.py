# L1: nothing gradcalc reads at start-up or on a syntax error is unpickled, and no cache is
# read or written. Versions before 0.1.0's JSON tables kept Lark's pickle cache in
# $XDG_CACHE_HOME/gradcalc/lark-<version>-<key>.pickle (default ~/.cache/gradcalc): a file
# planted there ran its code on the next syntax error. Live payloads are planted at every
# path those versions read, and the real command is run with HOME and XDG_CACHE_HOME there.
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from gradcalc import __version__
from gradcalc.lang import parser

ROOT = Path(__file__).resolve().parents[2]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this opens (creates) the marker file
        return (open, (self.marker, "w"))


def _old_names() -> list[str]:
    """The cache file names the old parser.cache_key gave, for every cache format it had."""
    grammar = parser.grammar_text()
    names = []
    for fmt in range(1, 10):
        h = hash((hash(tuple(grammar.encode("utf-8"))), fmt, sys.hexversion))
        key = f"{__version__}-{h & 0xFFFFFFFFFFFFFFFF:016x}"
        names += [f"lark-{key}.pickle", f"grammar-{key}.cache"]
    return names


def _plant(tmp_path) -> tuple[dict, Path, list[Path]]:
    marker = tmp_path / "PWNED"
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    # Lark read one header line, then unpickled the rest (before checking the header)
    payload = b"0" * 64 + b"\n" + pickle.dumps(_Payload(str(marker)))
    planted = []
    for directory in (xdg / "gradcalc", home / ".cache" / "gradcalc"):
        directory.mkdir(parents=True)
        for name in _old_names():
            (directory / name).write_bytes(payload)
            planted.append(directory / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(xdg), NO_COLOR="1",
               PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    return env, marker, planted


def _files(tmp_path) -> set[str]:
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}


def test_the_planted_payload_is_live(tmp_path):
    # the files below do run code when read the way the old cache was read
    env, marker, planted = _plant(tmp_path)
    code = ("import pickle, sys\n"
            "with open(sys.argv[1], 'rb') as f:\n"
            "    f.readline()\n"
            "    pickle.load(f)\n")
    subprocess.run([sys.executable, "-c", code, str(planted[0])], check=True, env=env)
    assert marker.exists()


@pytest.mark.parametrize("xdg", ["set", "unset"])
def test_no_code_runs_from_a_planted_cache(tmp_path, xdg):
    env, marker, _ = _plant(tmp_path)
    if xdg == "unset":  # the default: ~/.cache
        del env["XDG_CACHE_HOME"]
    before = _files(tmp_path)
    gradcalc = [sys.executable, "-m", "gradcalc"]
    error = subprocess.run(gradcalc + ["eval", "1 +"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=120)
    assert (error.returncode, error.stdout) == (1, "")
    assert error.stderr.splitlines()[0] == "<expr>:1:4: expected an expression after '+'"
    ok = subprocess.run(gradcalc + ["eval", "1 + 2", "--plain"], capture_output=True,
                        text=True, env=env, cwd=tmp_path, timeout=120)
    assert (ok.returncode, ok.stderr) == (0, "")
    assert "value:\n  3\n" in ok.stdout
    script = subprocess.run(gradcalc + ["run", "-"], input="x = 2\nx * 3\ny = (x +\n",
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert script.returncode == 1 and script.stdout == "6\n"
    assert script.stderr.splitlines()[0] == "<stdin>:3:9: unclosed '(' opened at 3:5"
    assert not marker.exists()
    assert _files(tmp_path) == before  # nothing written either: no cache at all


def test_syntax_errors_never_unpickle(tmp_path):
    # the real CLI in a process whose pickle loaders refuse to run
    code = (
        "import pickle, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    sys.stderr.write('UNPICKLING\\n')\n"
        "    raise SystemExit(99)\n"
        "pickle.load = pickle.loads = refuse\n"
        "class Refused(pickle.Unpickler):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        refuse()\n"
        "pickle.Unpickler = Refused\n"
        "from gradcalc.cli import main\n"
        "codes = [main(['eval', text, '--plain']) for text in ('1 +', 'f(a b)', 'x = $', '2 * 3')]\n"
        "print(codes)\n"
    )
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path), NO_COLOR="1",
               PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert "UNPICKLING" not in result.stderr
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[1, 1, 1, 0]"
    assert [line.split(": ", 1)[0] for line in result.stderr.splitlines()
            if line.startswith("<expr>")] == ["<expr>:1:4", "<expr>:1:5", "<expr>:1:5"]
