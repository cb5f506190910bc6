"""Isolation layer: the isolated child's syscall filter. libseccomp compiles the allow-list below
to a BPF program once, at build time (`python -m gradcalc.isolate` writes seccomp.json, shipped
in the package); the child loads those bytes with one prctl, after checking them.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import sys

#: how to get the syscall filter where no compiled program ships for the machine
INSTALL_HINT = "the system package libseccomp2 (apt install libseccomp2, dnf install libseccomp)"
#: the shipped programs, beside this module
DATA_FILE = "seccomp.json"
FORMAT = 1  # bump when the data file's layout changes

#: open(2) flags that write or create (the filter refuses an open that has any of them)
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CLONE_THREAD = 0x00010000
_TCGETS, _TIOCGWINSZ, _FIONREAD, _FIONCLEX, _FIOCLEX = 0x5401, 0x5413, 0x541B, 0x5450, 0x5451

#: system calls the child may make after start-up; anything else fails with EPERM. (The
#: calls an interpreter running NumPy needs: memory, reading, time, signals, threads, exit.)
ALLOWED_SYSCALLS = (
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "lseek", "close",
    "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs", "getdents64", "readlink",
    "readlinkat", "access", "faccessat", "faccessat2", "getcwd", "fcntl", "dup", "dup3",
    "poll", "ppoll", "select", "pselect6",
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "mbind",
    "get_mempolicy",
    "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getrlimit", "getrusage", "sysinfo", "uname", "times", "sched_getaffinity",
    "sched_yield", "getrandom", "getpriority",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "sigaltstack",
    "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "membarrier",
    "exit", "exit_group", "restart_syscall",
)

#: what the filter refuses that matters most, in words (docs/security.md lists the same)
REFUSED = ("open for writing, creat, mkdir, unlink, rename, link, chmod, chown, truncate",
           "execve, execveat", "fork, vfork, clone of a process (threads are allowed)",
           "socket, socketpair, connect, bind", "ptrace, process_vm_readv/writev",
           "kill, tgkill (any process, itself included)",
           "ioctl other than TCGETS, TIOCGWINSZ, FIONREAD, FIOCLEX, FIONCLEX",
           "io_uring, bpf, perf_event_open, userfaultfd, mount, unshare, setns, prctl",
           "landlock_*, seccomp: the policy cannot be changed once loaded",
           "everything else not in ALLOWED_SYSCALLS")

_EQ, _MASKED_EQ = 4, 7  # enum scmp_compare: SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ


def rules() -> list:
    """The filter as data: [action, syscall name, [[arg, op, a, b], ...]] rows; anything not
    listed fails with EPERM. Action "allow" or an errno name."""
    out = [["allow", name, []] for name in ALLOWED_SYSCALLS]
    out += [
        ["allow", "openat", [[2, _MASKED_EQ, WRITE_FLAGS, 0]]],
        ["allow", "open", [[1, _MASKED_EQ, WRITE_FLAGS, 0]]],
        # openat2's flags are out of a filter's reach: ENOSYS, and glibc uses openat
        ["ENOSYS", "openat2", []],
        ["allow", "clone", [[0, _MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD]]],
        ["ENOSYS", "clone3", []],  # (its flags are in memory, out of reach) glibc uses clone
    ]
    out += [["allow", "ioctl", [[1, _MASKED_EQ, 0xFFFFFFFF, request]]]
            for request in (_TCGETS, _TIOCGWINSZ, _FIONREAD, _FIONCLEX, _FIOCLEX)]
    out.append(["allow", "prlimit64", [[0, _EQ, 0, 0], [2, _EQ, 0, 0]]])  # read own limits
    return out


def machine() -> str:
    """The machine name the shipped programs are keyed by (os.uname().machine)."""
    return os.uname().machine


# ---- the shipped program -------------------------------------------------------------------

#: AUDIT_ARCH_* of the machines a program may be shipped for (its first check)
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x15, 0x06
#: the classic-BPF opcodes a seccomp program from libseccomp is made of
_OPCODES = frozenset({0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x14, 0x15, 0x1D, 0x20, 0x25,
                      0x35, 0x45, 0x54, 0x60, 0x61, 0x87})
_STATE: list = []  # [program bytes or None, why none] once per process


def check_program(code: bytes, arch: str) -> str | None:
    """What is wrong with `code` as this filter's program for `arch`; None when it is sound:
    whole instructions, at most BPF_MAXINSNS, known opcodes, jumps inside, ends in a return,
    and it starts by checking the architecture (as libseccomp's programs do)."""
    if not code or len(code) % 8 or len(code) > 4096 * 8:
        return f"{len(code)} bytes is not a whole number of instructions (1 to 4096)"
    insns = list(struct.iter_unpack("=HBBI", code))
    for i, (op, jt, jf, k) in enumerate(insns):
        if op not in _OPCODES:
            return f"instruction {i}: unknown opcode {op:#x}"
        if op & 0x07 == 0x05 and i + 1 + (k if op == 0x05 else max(jt, jf)) >= len(insns):
            return f"instruction {i}: a jump past the end"
    if insns[-1][0] != _BPF_RET_K:
        return "it does not end in a return"
    if insns[0][::3] != (_BPF_LD_W_ABS, 4) or insns[1][::3] != (_BPF_JEQ_K, AUDIT_ARCH.get(arch)):
        return f"it does not start by checking the architecture ({arch})"
    return None


def read_data(path: str | None = None) -> dict:
    """The data file's content (the rules, and a program per machine)."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_FILE)
    with open(path, "rb") as f:
        return json.loads(f.read())


def shipped_program(data: dict, arch: str) -> tuple[bytes | None, str | None]:
    """(the program in `data` for `arch`, None) when it was compiled from today's rules and is
    sound; else (None, why not)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None, f"{DATA_FILE} is of another format"
    if data.get("rules") != rules():
        return None, f"{DATA_FILE} was compiled from other rules"
    entry = data.get("programs", {}).get(arch)
    if not isinstance(entry, dict) or not isinstance(entry.get("bpf"), str):
        return None, f"no compiled filter ships for {arch}"
    try:
        code = bytes.fromhex(entry["bpf"])
    except ValueError:
        return None, f"{DATA_FILE}: the {arch} program is not hexadecimal"
    why = check_program(code, arch)
    return (None, f"{DATA_FILE}: the {arch} program is unsound: {why}") if why else (code, None)


def program() -> bytes | None:
    """The filter's BPF program for this machine (`sock_filter` array), once per process:
    the shipped one, else compiled now by libseccomp; None when neither is possible."""
    if not _STATE:
        code, why = None, None
        if not sys.platform.startswith("linux"):
            why = "seccomp is Linux-only"
        else:
            try:
                code, why = shipped_program(read_data(), machine())
            except (OSError, ValueError) as e:
                why = f"{DATA_FILE} cannot be read ({e})"
            if code is None:
                try:
                    code = compile_program()
                except OSError as e:
                    why = f"{why}, and {e}"
        _STATE[:] = [code, why]
    return _STATE[0]


def filter_unavailable() -> str | None:
    """Why the syscall filter cannot be loaded here, with how to get it; None when it can."""
    if program() is not None:
        return None
    return f"{_STATE[1]}; install {INSTALL_HINT}"


_FPROG: list = []


def prepared():
    """The program as the `struct sock_fprog` prctl takes (built once), or None."""
    if not _FPROG:
        code = program()
        if code is None:
            return None
        import ctypes

        class SockFprog(ctypes.Structure):  # struct sock_fprog {unsigned short len; filter*}
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        buf = ctypes.create_string_buffer(code, len(code))
        _FPROG[:] = [SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_char_p)), buf]
    return _FPROG[0]


def load(libc) -> bool:
    """Load the filter into this process for good (no new privileges, then
    SECCOMP_MODE_FILTER); False when there is no program to load."""
    import ctypes

    prog = prepared()
    if prog is None:
        return False
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
    return True


# ---- compiling with libseccomp (the build, or a machine no program ships for) -----------------
#
# NOTE: libseccomp is the library; this is only its C API declared for ctypes, as pyseccomp
# does. pyseccomp itself costs 14-22 ms to import (ctypes.util, subprocess and two `ldconfig -p`
# runs to find libraries whose sonames are fixed); Debian's python3-seccomp is not on PyPI.

_SCMP_ACT_ALLOW = 0x7FFF0000


def _action(name: str) -> int:
    return _SCMP_ACT_ALLOW if name == "allow" else 0x00050000 | getattr(errno, name)


def libseccomp():
    """libseccomp.so.2 through ctypes, its functions declared; OSError when it is missing."""
    import ctypes

    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise OSError(errno.ENOENT, "libseccomp.so.2 is not installed") from None

    class ArgCmp(ctypes.Structure):  # struct scmp_arg_cmp
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                    ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]

    lib.ArgCmp = ArgCmp
    for name, res, args in (
            ("seccomp_init", ctypes.c_void_p, (ctypes.c_uint32,)),
            ("seccomp_release", None, (ctypes.c_void_p,)),
            ("seccomp_rule_add_array", ctypes.c_int, (ctypes.c_void_p, ctypes.c_uint32,
                                                      ctypes.c_int, ctypes.c_uint,
                                                      ctypes.POINTER(ArgCmp))),
            ("seccomp_syscall_resolve_name", ctypes.c_int, (ctypes.c_char_p,)),
            ("seccomp_export_bpf", ctypes.c_int, (ctypes.c_void_p, ctypes.c_int)),
            ("seccomp_version", ctypes.c_void_p, ())):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def libseccomp_version(lib) -> str:
    """libseccomp's version, as "2.5.4"."""
    import ctypes

    major, minor, micro = ctypes.cast(lib.seccomp_version(),
                                      ctypes.POINTER(ctypes.c_uint * 3)).contents
    return f"{major}.{minor}.{micro}"


def compile_program(lib=None) -> bytes:
    """The rules compiled by libseccomp for this machine (OSError without libseccomp)."""
    lib = lib or libseccomp()
    ctx = lib.seccomp_init(_action("EPERM"))
    if not ctx:
        raise OSError(errno.ENOMEM, "seccomp_init failed")
    try:
        for action, name, cmps in rules():
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:  # a name this architecture does not have (open on arm64)
                continue
            array = (lib.ArgCmp * max(1, len(cmps)))(*[lib.ArgCmp(*c) for c in cmps])
            rc = lib.seccomp_rule_add_array(ctx, _action(action), nr, len(cmps), array)
            if rc < 0:
                raise OSError(-rc, f"seccomp_rule_add({name}): {os.strerror(-rc)}")
        r, w = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(ctx, w)
            os.close(w)
            w = None
            if rc < 0:
                raise OSError(-rc, f"seccomp_export_bpf: {os.strerror(-rc)}")
            return b"".join(iter(lambda: os.read(r, 1 << 16), b""))
        finally:
            os.close(r)
            if w is not None:
                os.close(w)
    finally:
        lib.seccomp_release(ctx)


def build(path: str | None = None) -> dict:
    """Compile the rules for this machine and write them into the data file (keeping the
    programs of other machines compiled from the same rules)."""
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_FILE)
    try:
        data = read_data(path)
    except (OSError, ValueError):
        data = {}
    if data.get("format") != FORMAT or data.get("rules") != rules():
        data = {}
    lib = libseccomp()
    code = compile_program(lib)
    why = check_program(code, machine())
    if why:
        raise ValueError(f"libseccomp's program is unsound: {why}")
    programs = dict(data.get("programs", {}))
    programs[machine()] = {"libseccomp": libseccomp_version(lib), "bpf": code.hex()}
    data = {"format": FORMAT, "rules": rules(), "programs": dict(sorted(programs.items()))}
    rows = ",\n  ".join(json.dumps(r) for r in data["rules"])
    with open(path, "w", encoding="ascii") as f:  # one rule a line, for review
        f.write(f'{{"format": {FORMAT},\n "rules": [\n  {rows}\n ],\n'
                f' "programs": {json.dumps(data["programs"], indent=1)}}}\n')
    return data
