# The isolated mode (`--isolate`, `Session(isolate=True)`): the OS policy checked from plain
# Python in a fresh process, then the real `gradcalc` command and the real Session: output
# identical to the in-process mode, deadline kills, memory bombs, no file written.
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from gradcalc import isolate
from gradcalc.errors import EvalError, LimitError, NameNotFound, ParseError
from gradcalc.isolate import Isolation, filter_unavailable
from gradcalc.lang import Limits, Session

pytestmark = pytest.mark.skipif(
    filter_unavailable() is not None,
    reason=f"no seccomp syscall filter on this OS: {filter_unavailable()}")

GRADCALC = shutil.which("gradcalc") or os.path.join(os.path.dirname(sys.executable), "gradcalc")


def gradcalc(*args, stdin=None, env=None, cwd=None, timeout=60):
    base = dict(os.environ, NO_COLOR="1")
    base.pop("FORCE_COLOR", None)
    base.pop("TTY_COMPATIBLE", None)
    return subprocess.run([GRADCALC, *args], input=stdin, capture_output=True, text=True,
                          check=False,
                          env=dict(base, **(env or {})), cwd=cwd, timeout=timeout)


def same_with_and_without_isolate(*args, **kw):
    plain = gradcalc(*args, **kw)
    isolated = gradcalc(*args, "--isolate", **kw)
    assert (isolated.returncode, isolated.stdout, isolated.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr)
    return plain


# -- the policy itself, applied to a plain Python process ---------------------------------

POLICY_PROBE = textwrap.dedent("""
    import json, os, resource, socket, sys
    from gradcalc.isolate import Isolation, apply_policy
    target = sys.argv[1]
    kept = os.open(os.path.join(target, "kept.txt"), os.O_WRONLY | os.O_CREAT)  # fd 3
    stray = os.open(os.devnull, os.O_RDONLY)  # fd 4: closed by the policy
    loaded = apply_policy(Isolation(memory_mb=64), keep_fds=(0, 1, 2, kept))
    out = {"loaded": loaded}
    def attempt(name, fn):
        try:
            fn()
            out[name] = "ok"
        except BaseException as e:
            out[name] = type(e).__name__ + (f" {e.errno}" if isinstance(e, OSError) else "")
    attempt("open_write", lambda: os.open(os.path.join(target, "new.txt"),
                                          os.O_WRONLY | os.O_CREAT))
    attempt("open_append", lambda: os.open(os.path.join(target, "kept.txt"), os.O_APPEND))
    attempt("open_read", lambda: os.close(os.open(sys.executable, os.O_RDONLY)))
    attempt("write_kept_file", lambda: os.write(kept, b"x"))
    attempt("stray_fd", lambda: os.fstat(stray))
    attempt("mkdir", lambda: os.mkdir(os.path.join(target, "d")))
    attempt("unlink", lambda: os.unlink(os.path.join(target, "kept.txt")))
    attempt("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    attempt("socketpair", lambda: socket.socketpair())
    attempt("execv", lambda: os.execv("/bin/true", ["true"]))
    attempt("fork", lambda: os.fork())
    attempt("kill_parent", lambda: os.kill(os.getppid(), 0))
    attempt("allocate_100MB", lambda: bytearray(100 << 20))
    attempt("allocate_1MB", lambda: bytearray(1 << 20))
    limits = {name: list(resource.getrlimit(getattr(resource, name))) for name in
              ("RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", "RLIMIT_CPU")}
    out["limits"] = limits
    with open("/proc/self/status") as f:
        out["seccomp"] = [ln.split()[1] for ln in f if ln.startswith("Seccomp:")][0]
    print(json.dumps(out))
""")


def test_apply_policy_confines_a_plain_python_process(tmp_path):
    proc = subprocess.run([sys.executable, "-c", POLICY_PROBE, str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out.pop("limits") == {
        "RLIMIT_FSIZE": [0, 0], "RLIMIT_NOFILE": [16, 16], "RLIMIT_NPROC": [0, 0],
        "RLIMIT_CORE": [0, 0], "RLIMIT_CPU": [32, 33]}  # ceil(30 s + 0.5 s grace) + 1
    assert out == {
        "loaded": True,
        "seccomp": "2",  # SECCOMP_MODE_FILTER
        "open_write": "PermissionError 1",
        "open_append": "PermissionError 1",
        "open_read": "ok",
        "write_kept_file": "OSError 27",  # EFBIG: RLIMIT_FSIZE=0, SIGXFSZ ignored
        "stray_fd": "OSError 9",  # EBADF
        "mkdir": "PermissionError 1",
        "unlink": "PermissionError 1",
        "socket": "PermissionError 1",
        "socketpair": "PermissionError 1",
        "execv": "PermissionError 1",
        "fork": "PermissionError 1",
        "kill_parent": "PermissionError 1",
        "allocate_100MB": "MemoryError",
        "allocate_1MB": "ok",
    }
    assert sorted(os.listdir(tmp_path)) == ["kept.txt"]
    assert (tmp_path / "kept.txt").read_bytes() == b""


def test_isolation_refuses_bad_limits():
    with pytest.raises(ValueError, match="memory_mb: expected a positive whole number, got 0"):
        Isolation(memory_mb=0)
    with pytest.raises(ValueError, match="seconds: expected a positive number, got -1"):
        Isolation(seconds=-1)
    with pytest.raises(ValueError, match="max_files: expected a whole number of at least 8"):
        Isolation(max_files=3)
    assert Isolation(seconds=2).cpu_seconds() == 4
    assert Isolation().wall_seconds(timeout=5) == 5.0
    assert Isolation().wall_seconds() == isolate.DEFAULT_SECONDS


# -- the command line ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["eval", "x**3+3*x**2+5", "--at", "x=2", "--plain"],
    ["eval", "a = x*y; print('a is', a); a**2", "--at", "x=1,y=2", "--json"],
    ["eval", "sin(x)", "--at", "x=linspace(0, 1, 3)", "--plain", "--trace"],
    ["eval", "x**2*y", "--at", "x=1,y=3", "--hessian", "--plain", "--dtype", "float64"],
    ["eval", "undefined_name + 1", "--plain"],
    ["eval", "1 +", "--plain"],
])
def test_eval_prints_the_same_with_and_without_isolate(args):
    same_with_and_without_isolate(*args)


def test_eval_isolated_output_is_the_in_process_output():
    out = same_with_and_without_isolate("eval", "x**3+3*x**2+5", "--at", "x=2", "--plain")
    assert out.returncode == 0
    assert out.stdout == ("expression: x**3+3*x**2+5\ninputs:\n"
                          "  x = tensor(2., requires_grad=True)\n"
                          "value:\n  tensor(25., grad_fn=<AddBackward0>)\ngradients:\n"
                          "  d/dx = tensor(24.)\n")


def test_rich_output_is_the_same_on_a_terminal():
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": "90"}
    env_run = dict(os.environ, **env)
    env_run.pop("NO_COLOR", None)
    args = ["eval", "x**2", "--at", "x=3"]
    plain = subprocess.run([GRADCALC, *args], capture_output=True, text=True, env=env_run,
                           check=False)
    isolated = subprocess.run([GRADCALC, *args, "--isolate"], capture_output=True, text=True,
                              env=env_run, check=False)
    assert plain.returncode == 0 and "PowBackward0" in plain.stdout
    assert (isolated.returncode, isolated.stdout, isolated.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr)


SCRIPT = """\
x = tensor([1., 2.], requires_grad=True)
y = (x**2).sum()
y
print('sum is', y.item())
y.backward()
x.grad
missing_name
x.grad * 2
"""


@pytest.mark.parametrize("extra", [[], ["--keep-going"], ["--json", "--keep-going"],
                                   ["--no-echo"]])
def test_run_prints_the_same_with_and_without_isolate(tmp_path, extra):
    path = tmp_path / "script.gc"
    path.write_text(SCRIPT)
    out = same_with_and_without_isolate("run", str(path), *extra)
    assert out.returncode == 1


def test_run_from_stdin_prints_the_same(tmp_path):
    out = same_with_and_without_isolate("run", "-", stdin=SCRIPT, cwd=tmp_path)
    assert out.stdout == ("tensor(5., grad_fn=<SumBackward0>)\nsum is 5.0\ntensor([2., 4.])\n")
    assert out.stderr.startswith("<stdin>:7:1: name 'missing_name' is not defined")


def test_isolated_run_of_a_missing_file_is_a_usage_error(tmp_path):
    out = same_with_and_without_isolate("run", str(tmp_path / "nope.gc"))
    assert out.returncode == 2
    assert "cannot read" in out.stderr


def test_infinite_loop_ends_at_the_timeout():
    t0 = time.monotonic()
    out = gradcalc("eval", "while True: pass", "--isolate", "--timeout", "1", "--plain")
    elapsed = time.monotonic() - t0
    assert out.returncode == 1
    assert out.stdout == ""
    first = out.stderr.splitlines()[0]
    assert first.startswith("<expr>:1:1: timed out: the script ran longer than the time limit "
                            "of 1 s")
    assert "Traceback" not in out.stderr
    assert elapsed < 4.0


def test_memory_bomb_hits_the_address_space_limit():
    # 100 tensors of 16 MB: under the session's own budget, over the OS limit of 100 MB
    out = gradcalc("eval", "l = [zeros(2**22) for i in range(100)]; 1", "--isolate",
                   "--isolate-memory", "100", "--plain")
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr == (
        "<expr>:1:6: memory limit of 100 MB exceeded (the isolated process's address space; "
        "raise it with --isolate-memory MB)\n"
        "    l = [zeros(2**22) for i in range(100)]; 1\n"
        "         ^\n")


def test_isolated_script_writes_no_file(tmp_path):
    script = tmp_path / "attack.gc"
    script.write_text("open('pwned.txt', 'w').write('pwned')\n")
    out = gradcalc("run", str(script), "--isolate", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith(f"{script}:1:1: ")
    assert sorted(os.listdir(tmp_path)) == ["attack.gc"]


def test_isolate_options_are_checked():
    out = gradcalc("eval", "1", "--isolate-memory", "100")
    assert (out.returncode, out.stderr) == \
        (2, "gradcalc: error: --isolate-memory needs --isolate\n")
    out = gradcalc("eval", "1", "--isolate", "--allow-files", ".")
    assert out.returncode == 2
    assert out.stderr == ("gradcalc: error: --allow-files cannot be used with --isolate (the "
                          "isolated process writes no file)\n")
    out = gradcalc("eval", "1", "--isolate", "--isolate-memory", "0")
    assert out.returncode == 2
    assert "expected a positive whole number, got 0" in out.stderr


# -- the library: Session(isolate=True) ---------------------------------------------------

def test_isolated_session_keeps_state_and_reports_errors():
    steps = ["x = tensor([1., 2.], requires_grad=True)\ny = (x**2).sum()\ny",
             "y.backward()\nx.grad\nprint('done')"]
    local_out, out = [], []
    local = Session(write=local_out.append)
    for text in steps:
        local.run(text)
    with Session(write=out.append, isolate=True) as s:
        assert type(s).__name__ == "IsolatedSession"
        for text in steps:
            assert s.run(text) == []
        assert out == local_out == ["tensor(5., grad_fn=<SumBackward0>)\n",
                                    "tensor([2., 4.])\n", "done\n"]
        errors = s.run("nope\nx * 3", keep_going=True)
        local_errors = local.run("nope\nx * 3", keep_going=True)
        assert out[3:] == local_out[3:] == ["tensor([3., 6.], grad_fn=<MulBackward0>)\n"]
        assert [type(e) for e in errors] == [NameNotFound]
        assert errors[0].format() == local_errors[0].format()
        assert errors[0].format().startswith("<input>:1:1: name 'nope' is not defined")
        assert (errors[0].name, errors[0].matches) == (local_errors[0].name,
                                                       local_errors[0].matches)
        with pytest.raises(ParseError, match="expected an expression after '\\+'") as info:
            s.run("x +", source="cell")
        assert (info.value.source, info.value.line, info.value.column) == ("cell", 1, 4)
        echoed = []
        s.run("x * 3", on_echo=echoed.append)
        assert [repr(e) for e in echoed] == ["tensor([3., 6.], grad_fn=<MulBackward0>)"]
        assert echoed[0].json == {"value": [3.0, 6.0], "shape": [2], "dtype": "float32",
                                  "grad_fn": "MulBackward0"}
    with pytest.raises(EvalError, match="^the isolated session is closed$"):
        s.run("1")


def test_isolated_session_output_matches_in_process():
    text = "a = tensor([[1., 2.], [3., 4.]])\na @ a\nprint(a.sum())\n(a * 2).mean()\n"
    plain, isolated = [], []
    Session(write=plain.append).run(text)
    with Session(write=isolated.append, isolate=True) as s:
        s.run(text)
    assert "".join(isolated) == "".join(plain)


def test_isolated_session_is_killed_at_its_deadline():
    s = Session(limits=Limits(timeout=None, max_iterations=None), isolate=Isolation(seconds=1))
    t0 = time.monotonic()
    with pytest.raises(LimitError, match=r"^timed out: the script ran longer than the time "
                                         r"limit of 1 s \(the isolated process was killed\)$"):
        s.run("while True:\n    pass\n")
    assert time.monotonic() - t0 < 3.0
    with pytest.raises(LimitError, match="the isolated process was killed"):
        s.run("1")  # the session ended with its process


def test_isolated_session_memory_bomb():
    # 100 tensors of 16 MB: under the session's own budget, over the OS limit of 100 MB
    s = Session(isolate=Isolation(memory_mb=100))
    with pytest.raises(LimitError) as info:
        s.run("l = []\nfor i in range(100):\n    l.append(zeros(2**22))\n")
    assert info.value.message == ("memory limit of 100 MB exceeded (the isolated process's "
                                  "address space; raise it with Isolation(memory_mb=...))")
    assert (info.value.line, info.value.column) == (3, 14)  # the zeros( call
    assert s.run("len(l) < 100\n") == []  # the child survives a refused allocation
    s.close()
