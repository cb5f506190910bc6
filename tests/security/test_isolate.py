# The isolated mode (`--isolate`, `Session(isolate=True)`): the OS policy checked from plain
# Python in a fresh process, then the real `gradcalc` command and the real Session: output
# identical to the in-process mode, deadline kills, memory bombs, no file written.
import errno
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time

import pytest

from gradcalc import isolate
from gradcalc.errors import EvalError, LimitError, NameNotFound, ParseError
from gradcalc.isolate import Isolation, filter_unavailable, landlock, seccomp
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
    from gradcalc.isolate import Isolation, apply_policy, landlock
    target = sys.argv[1]
    kept = os.open(os.path.join(target, "kept.txt"), os.O_WRONLY | os.O_CREAT)  # fd 3
    stray = os.dup2(os.open(os.devnull, os.O_RDONLY), 9)  # closed by the policy
    for name in ("listed.txt", "unlisted.txt"):
        with open(os.path.join(target, name), "w") as f:
            f.write(name)
    status = []  # /proc/self/status, opened by `prepare` before the rules hide /proc
    applied = apply_policy(Isolation(memory_mb=64), keep_fds=(0, 1, 2, kept),
                           readable=landlock.python_paths() + (os.path.join(target, "listed.txt"),),
                           prepare=lambda: status.append(os.open("/proc/self/status", os.O_RDONLY)))
    out = {"filter": applied.filter, "landlock": applied.landlock}
    def attempt(name, fn):
        try:
            fn()
            out[name] = "ok"
        except BaseException as e:
            out[name] = type(e).__name__ + (f" {e.errno}" if isinstance(e, OSError) else "")
    def read(path):
        with open(path, "rb") as f:
            f.read()
    attempt("open_write", lambda: os.open(os.path.join(target, "new.txt"),
                                          os.O_WRONLY | os.O_CREAT))
    attempt("open_append", lambda: os.open(os.path.join(target, "kept.txt"), os.O_APPEND))
    attempt("read_stdlib", lambda: read(os.__file__))
    attempt("list_stdlib", lambda: os.listdir(os.path.dirname(os.__file__)))
    attempt("read_listed_file", lambda: read(os.path.join(target, "listed.txt")))
    attempt("read_unlisted_file", lambda: read(os.path.join(target, "unlisted.txt")))
    attempt("list_target", lambda: os.listdir(target))
    attempt("read_etc_passwd", lambda: read("/etc/passwd"))
    attempt("read_proc_environ", lambda: read("/proc/self/environ"))
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
    lines = os.pread(status[0], 1 << 16, 0).decode().splitlines()
    out["status"] = [ln.split()[1] for ln in lines if ln.startswith(("Seccomp:", "NoNewPrivs:"))]
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
    # without Landlock (an older kernel) reads go where the user's rights allow
    denied = "PermissionError 13" if landlock.abi() else "ok"  # EACCES, from Landlock
    assert out == {
        "filter": True,
        "landlock": landlock.abi(),
        "status": ["1", "2"],  # NoNewPrivs: 1, Seccomp: 2 (SECCOMP_MODE_FILTER)
        "open_write": "PermissionError 1",  # EPERM, from the filter
        "open_append": "PermissionError 1",
        "read_stdlib": "ok",
        "list_stdlib": "ok",
        "read_listed_file": "ok",
        "read_unlisted_file": denied,
        "list_target": denied,
        "read_etc_passwd": denied,
        "read_proc_environ": denied,
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
    assert sorted(os.listdir(tmp_path)) == ["kept.txt", "listed.txt", "unlisted.txt"]
    assert (tmp_path / "kept.txt").read_bytes() == b""


LANDLOCK_PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from gradcalc.isolate import landlock
    target = sys.argv[1]
    for name in ("listed.txt", "unlisted.txt"):
        with open(os.path.join(target, name), "w") as f:
            f.write(name)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # made before, used after
    out = {}
    def attempt(name, fn):
        try:
            fn()
            out[name] = "ok"
        except BaseException as e:
            out[name] = type(e).__name__ + (f" {e.errno}" if isinstance(e, OSError) else "")
    def read(path):
        with open(path, "rb") as f:
            f.read()
    attempt("read_etc_passwd_before", lambda: read("/etc/passwd"))
    out["abi"] = landlock.restrict((os.path.dirname(os.__file__),
                                    os.path.join(target, "listed.txt"),
                                    os.path.join(target, "missing.txt")))
    attempt("read_etc_passwd", lambda: read("/etc/passwd"))
    attempt("read_stdlib", lambda: read(os.path.join(os.path.dirname(os.__file__), "os.py")))
    attempt("read_listed_file", lambda: read(os.path.join(target, "listed.txt")))
    attempt("read_unlisted_file", lambda: read(os.path.join(target, "unlisted.txt")))
    attempt("list_target", lambda: os.listdir(target))
    attempt("create_file", lambda: os.open(os.path.join(target, "new.txt"),
                                           os.O_WRONLY | os.O_CREAT))
    attempt("write_listed_file", lambda: os.open(os.path.join(target, "listed.txt"),
                                                 os.O_WRONLY))
    attempt("mkdir", lambda: os.mkdir(os.path.join(target, "d")))
    attempt("unlink", lambda: os.unlink(os.path.join(target, "unlisted.txt")))
    attempt("connect_tcp", lambda: client.connect(server.getsockname()))
    attempt("signal_parent", lambda: os.kill(os.getppid(), 0))
    attempt("execv", lambda: os.execv("/bin/true", ["true"]))
    print(json.dumps(out))
""")


@pytest.mark.skipif(landlock.abi() == 0, reason="this kernel has no Landlock")
def test_landlock_rules_confine_reads_of_a_plain_python_process(tmp_path):
    # Landlock alone (no filter, no rlimits): only what the rules list can be read, and no
    # file can be made, written, removed or run
    proc = subprocess.run([sys.executable, "-c", LANDLOCK_PROBE, str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    abi = landlock.abi()
    assert json.loads(proc.stdout) == {
        "read_etc_passwd_before": "ok",
        "abi": abi,
        "read_etc_passwd": "PermissionError 13",
        "read_stdlib": "ok",
        "read_listed_file": "ok",
        "read_unlisted_file": "PermissionError 13",
        "list_target": "PermissionError 13",
        "create_file": "PermissionError 13",
        "write_listed_file": "PermissionError 13",
        "mkdir": "PermissionError 13",
        "unlink": "PermissionError 13",
        "connect_tcp": "PermissionError 13" if abi >= 4 else "ok",  # ABI 4: TCP rules
        "signal_parent": "PermissionError 1" if abi >= 6 else "ok",  # ABI 6: signal scope
        "execv": "PermissionError 13",
    }
    assert sorted(os.listdir(tmp_path)) == ["listed.txt", "unlisted.txt"]


def test_python_paths_are_the_installation():
    paths = landlock.python_paths()
    assert sys.prefix in paths or any(sys.prefix.startswith(p + os.sep) for p in paths)
    assert os.path.dirname(os.__file__).startswith(tuple(p + os.sep for p in paths))
    assert not any(a != b and a.startswith(b + os.sep) for a in paths for b in paths)
    assert "/" not in paths and os.path.expanduser("~") not in paths


# -- the shipped filter program ----------------------------------------------------------

ALLOW, KILL = 0x7FFF0000, 0x00000000
EPERM, ENOSYS = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
AUDIT_ARCH_X86_64, AUDIT_ARCH_I386 = 0xC000003E, 0x40000003
# x86_64 system call numbers (the kernel's ABI, fixed)
X86_64 = {"read": 0, "write": 1, "open": 2, "close": 3, "mmap": 9, "ioctl": 16, "socket": 41,
          "clone": 56, "fork": 57, "execve": 59, "kill": 62, "ptrace": 101, "openat": 257,
          "prlimit64": 302, "clone3": 435, "openat2": 437, "landlock_create_ruleset": 444}


def bpf_verdict(code: bytes, nr: int, arch: int = AUDIT_ARCH_X86_64, args=(0,) * 6) -> int:
    # a classic-BPF interpreter over struct seccomp_data {int nr; u32 arch; u64 ip, args[6]}
    data = struct.pack("=iIQ6Q", nr, arch, 0, *args)
    insns = list(struct.iter_unpack("=HBBI", code))
    a = x = pc = 0
    mem = [0] * 16
    while True:
        op, jt, jf, k = insns[pc]
        pc += 1
        src = x if op & 0x08 else k
        if op == 0x20:
            a = struct.unpack_from("=I", data, k)[0]
        elif op in (0x00, 0x01):
            a, x = (k, x) if op == 0x00 else (a, k)
        elif op in (0x60, 0x61):
            a, x = (mem[k], x) if op == 0x60 else (a, mem[k])
        elif op == 0x02:
            mem[k] = a
        elif op in (0x07, 0x87):
            a, x = (a, a) if op == 0x07 else (x, x)
        elif op & 0x07 == 0x04:
            a = {0x00: a + src, 0x10: a - src, 0x50: a & src}[op & 0xF0] & 0xFFFFFFFF
        elif op == 0x05:
            pc += k
        elif op & 0x07 == 0x05:
            taken = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: a & src}[op & 0xF0]
            pc += jt if taken else jf
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"opcode {op:#x}")


def shipped(arch="x86_64") -> bytes:
    return bytes.fromhex(seccomp.read_data()["programs"][arch]["bpf"])


ARG_CASES = [(0,) * 6] + [(v,) * 6 for v in (
    os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND, os.O_RDONLY | os.O_CLOEXEC,
    0x00010000, 0x00010000 | 0x100, 0x100, 0x11, 0x5401, 0x5402, 0x5413, 0x541B, 0x5450,
    0x5451, (1 << 32) | 0x5401, 1, 2)] + [(0, 0, os.O_WRONLY, 0, 0, 0), (0, 7, 0, 0, 0, 0)]


def test_the_shipped_filter_is_compiled_from_todays_rules():
    data = seccomp.read_data()
    assert data["format"] == seccomp.FORMAT
    assert data["rules"] == seccomp.rules()
    assert "x86_64" in data["programs"]
    for arch, entry in data["programs"].items():
        code, why = seccomp.shipped_program(data, arch)
        assert (why, code) == (None, bytes.fromhex(entry["bpf"]))
    if seccomp.machine() in data["programs"]:  # what the child loads is the shipped program
        assert seccomp.program() == shipped(seccomp.machine())


def test_the_shipped_filter_decides_as_its_rules_say():
    code = shipped("x86_64")
    nr = X86_64
    verdict = lambda name, *args: bpf_verdict(code, nr[name], args=args + (0,) * (6 - len(args)))
    assert verdict("read") == verdict("write") == verdict("close") == verdict("mmap") == ALLOW
    assert verdict("openat", 0, 0, os.O_RDONLY | os.O_CLOEXEC) == ALLOW
    for flag in (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND):
        assert verdict("openat", 0, 0, flag) == EPERM
        assert verdict("open", 0, flag) == EPERM
    assert verdict("openat2") == verdict("clone3") == ENOSYS
    assert verdict("clone", 0x003D0F00) == ALLOW  # CLONE_VM|CLONE_THREAD|... (a thread)
    assert verdict("clone", 0x01200011) == EPERM  # a process (fork)
    assert verdict("ioctl", 0, 0x5401) == ALLOW  # TCGETS
    assert verdict("ioctl", 0, 0x5402) == EPERM  # TCSETS
    assert verdict("prlimit64", 0, 7, 0) == ALLOW  # reading its own limits
    assert verdict("prlimit64", 0, 7, 1) == verdict("prlimit64", 1234, 7, 0) == EPERM
    for name in ("execve", "fork", "socket", "kill", "ptrace", "landlock_create_ruleset"):
        assert verdict(name) == EPERM, name
    assert bpf_verdict(code, 0x40000000 | nr["read"]) != ALLOW  # the x32 ABI
    assert bpf_verdict(code, nr["read"], arch=AUDIT_ARCH_I386) == KILL  # another architecture


@pytest.mark.skipif(seccomp.machine() != "x86_64", reason="the shipped program is x86_64's")
def test_the_shipped_filter_is_what_libseccomp_compiles_here():
    try:
        lib = seccomp.libseccomp()
    except OSError as e:
        pytest.skip(f"no libseccomp here to compare with ({e})")
    fresh, code = seccomp.compile_program(lib), shipped("x86_64")
    for nr in [*range(460), *(0x40000000 | n for n in range(0, 560, 7))]:
        for args in ARG_CASES:
            assert bpf_verdict(code, nr, args=args) == bpf_verdict(fresh, nr, args=args), \
                (nr, args)
    if seccomp.libseccomp_version(lib) == seccomp.read_data()["programs"]["x86_64"]["libseccomp"]:
        assert code == fresh  # the same libseccomp makes the same bytes


def test_an_unsound_program_is_refused():
    code = shipped("x86_64")
    insn = struct.Struct("=HBBI")
    check = seccomp.check_program
    assert check(code, "x86_64") is None
    assert check(code[:-3], "x86_64") == \
        f"{len(code) - 3} bytes is not a whole number of instructions (1 to 4096)"
    assert check(b"", "x86_64") == "0 bytes is not a whole number of instructions (1 to 4096)"
    assert check(insn.pack(0x06, 0, 0, ALLOW) * 4097, "x86_64").startswith("32776 bytes")
    assert check(code[:8] + insn.pack(0xC4, 0, 0, 0) + code[16:], "x86_64") == \
        "instruction 1: unknown opcode 0xc4"
    assert check(code[:8] + insn.pack(0x15, 250, 0, AUDIT_ARCH_X86_64) + code[16:],
                 "x86_64") == "instruction 1: a jump past the end"
    assert check(code[:-8] + insn.pack(0x20, 0, 0, 0), "x86_64") == \
        "it does not end in a return"
    assert check(code, "aarch64") == "it does not start by checking the architecture (aarch64)"
    assert check(insn.pack(0x06, 0, 0, ALLOW), "x86_64") == \
        "it does not start by checking the architecture (x86_64)"


def test_a_data_file_of_other_rules_or_damaged_is_not_used():
    data = seccomp.read_data()
    rows = [r for r in data["rules"] if r[1] != "execve"] + [["allow", "execve", []]]
    assert seccomp.shipped_program(dict(data, rules=rows), "x86_64") == \
        (None, "seccomp.json was compiled from other rules")
    assert seccomp.shipped_program(dict(data, format=0), "x86_64") == \
        (None, "seccomp.json is of another format")
    assert seccomp.shipped_program(data, "sparc") == (None, "no compiled filter ships for sparc")
    bad = dict(data, programs={"x86_64": {"bpf": "zz"}})
    assert seccomp.shipped_program(bad, "x86_64") == \
        (None, "seccomp.json: the x86_64 program is not hexadecimal")
    cut = dict(data, programs={"x86_64": {"bpf": data["programs"]["x86_64"]["bpf"][:-2]}})
    code, why = seccomp.shipped_program(cut, "x86_64")
    assert code is None
    assert why.startswith("seccomp.json: the x86_64 program is unsound: ")


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


def test_run_of_dev_stdin_from_a_pipe_prints_the_same(tmp_path):
    # the script is read through /proc/self/fd/0, a pipe: Landlock has no rule for pipes
    out = same_with_and_without_isolate("run", "/dev/stdin", stdin=SCRIPT, cwd=tmp_path)
    assert out.stdout.startswith("tensor(5., grad_fn=<SumBackward0>)\nsum is 5.0\n")


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


def hide_landlock():
    # preexec_fn: a seccomp filter making landlock_create_ruleset fail with ENOSYS, as on a
    # kernel without Landlock (inherited by the process started and its children)
    import ctypes

    insn = struct.Struct("=HBBI")
    code = (insn.pack(0x20, 0, 0, 0) + insn.pack(0x15, 0, 1, X86_64["landlock_create_ruleset"])
            + insn.pack(0x06, 0, 0, ENOSYS) + insn.pack(0x06, 0, 0, ALLOW))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_char_p))
    if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(prog), 0, 0):
        os._exit(99)


NO_LANDLOCK = pytest.mark.skipif(
    seccomp.machine() != "x86_64", reason="the test's filter uses x86_64's system call numbers")


@NO_LANDLOCK
def test_without_landlock_the_command_warns_once_and_runs():
    args = [GRADCALC, "eval", "x**2", "--at", "x=3", "--plain"]
    env = dict(os.environ, NO_COLOR="1")
    plain = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    isolated = subprocess.run(args + ["--isolate"], capture_output=True, text=True, env=env,
                              check=False, preexec_fn=hide_landlock)
    assert (isolated.returncode, isolated.stdout) == (0, plain.stdout)
    assert "d/dx = tensor(6.)" in plain.stdout
    assert isolated.stderr == ("gradcalc: warning: --isolate without Landlock (the kernel has "
                               "none): the child may read any file its user can\n")


@NO_LANDLOCK
def test_without_landlock_the_library_warns_and_runs():
    code = ("import sys\nfrom gradcalc.lang import Session\n"
            "with Session(isolate=True, write=sys.stdout.write) as s:\n    s.run('2 + 3')\n")
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, check=False, preexec_fn=hide_landlock)
    assert (proc.returncode, proc.stdout) == (0, "5\n")
    assert proc.stderr.splitlines()[0].endswith(
        "RuntimeWarning: Session(isolate=True) without Landlock (the kernel has none): the child "
        "may read any file its user can")


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


CHILDREN_PROBE = textwrap.dedent("""
    import json, os, sys, time
    import numpy
    from gradcalc.lang import Session
    def children():  # this process's child processes: {pid: (state, threads)}
        out = {}
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                for pid in f.read().split():
                    with open(f"/proc/{pid}/status") as st:
                        fields = dict(ln.split(":", 1) for ln in st.read().splitlines())
                    out[pid] = (fields["State"].split()[0], int(fields["Threads"]))
        return out
    a = numpy.ones((300, 300))
    a @ a  # the host's OpenBLAS starts its threads
    report = {"host_threads": len(os.listdir("/proc/self/task"))}
    out = []
    s = Session(write=out.append, isolate=True)
    s.run("a = ones(300, 300)\\nprint((a @ a)[0, 0].item())")
    report["printed"] = list(out)
    [(first, seen)] = children().items()
    report["while_running"] = seen
    s.close()  # SIGKILL, not waiting: the child ends on its own, a zombie until reaped
    for _ in range(500):
        if children().get(first, ("Z",))[0] == "Z":
            break
        time.sleep(0.01)
    report["closed"] = children().get(first, ("Z",))[0]
    t = Session(write=out.append, isolate=True)
    t.run("1")
    report["next_session"] = [(pid == first,) + v for pid, v in children().items()]
    t.close()
    print(json.dumps(report))
""")


def test_isolated_children_start_no_blas_threads_and_end_at_close():
    proc = subprocess.run([sys.executable, "-c", CHILDREN_PROBE], capture_output=True,
                          text=True, timeout=60, check=False,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="2"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["host_threads"] >= min(2, os.cpu_count())  # the host computes on 2 threads
    assert report["printed"] == ["300.0\n"]
    state, threads = report["while_running"]
    assert state in "RS" and threads == 1  # its isolated child on its own
    # close() kills the child without waiting for its teardown; the next session reaps it
    assert report["closed"] == "Z"
    [(same, state, threads)] = report["next_session"]
    assert (same, threads) == (False, 1) and state in "RS"
