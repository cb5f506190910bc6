"""Isolation layer: evaluate in a forked child process under OS limits (rlimits and a seccomp
syscall filter), killed at a wall-clock deadline by the parent; only JSON lines come back.

Used by `gradcalc eval/run --isolate` (`run_command`) and `Session(..., isolate=True)`
(`IsolatedSession`); `apply_policy` confines the calling process itself. See docs/security.md.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from gradcalc.errors import EvalError, GradcalcError, Interrupted, LimitError, UsageError

#: address space the child may map beyond what it inherits, in MB (RLIMIT_AS); above the
#: session's own memory budget (Limits.max_memory), so that budget normally reports first
DEFAULT_MEMORY_MB = 4096
#: the wall-clock deadline of an isolated run without --timeout / Limits.timeout, in seconds
DEFAULT_SECONDS = 30.0
#: the child's highest file descriptor + 1 (RLIMIT_NOFILE)
DEFAULT_MAX_FILES = 16
#: the parent kills the child this long after the time limit the child enforces itself
GRACE_SECONDS = 0.5
#: the longest message the parent accepts from the child, in bytes (a longer one is refused)
MESSAGE_LIMIT = 64 << 20
#: the child sends output in messages of at most this many characters
CHUNK = 1 << 20
#: how to get the syscall filter
INSTALL_HINT = "the system package libseccomp2 (apt install libseccomp2, dnf install libseccomp)"

#: open(2) flags that write or create (the filter refuses an open that has any of them)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
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
           "everything else not in ALLOWED_SYSCALLS")


class Isolation:
    """The OS limits of an isolated child process (docs/security.md has the defaults).

    memory_mb: address space the child may add (RLIMIT_AS); seconds: the wall-clock deadline
    (None: the Session's timeout, else DEFAULT_SECONDS); CPU seconds (RLIMIT_CPU) follow it.
    """

    def __init__(self, memory_mb: int = DEFAULT_MEMORY_MB, seconds: float | None = None,
                 max_files: int = DEFAULT_MAX_FILES):
        if not (isinstance(memory_mb, int) and memory_mb > 0):
            raise ValueError(f"memory_mb: expected a positive whole number, got {memory_mb!r}")
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds: expected a positive number, got {seconds!r}")
        if not (isinstance(max_files, int) and max_files >= 8):
            raise ValueError(f"max_files: expected a whole number of at least 8, got {max_files!r}")
        self.memory_mb, self.seconds, self.max_files = memory_mb, seconds, max_files

    def __repr__(self) -> str:
        return (f"Isolation(memory_mb={self.memory_mb!r}, seconds={self.seconds!r}, "
                f"max_files={self.max_files!r})")

    def wall_seconds(self, timeout: float | None = None) -> float:
        """The wall-clock deadline: `seconds`, else the session's timeout, else the default."""
        if self.seconds is not None:
            return float(self.seconds)
        return float(timeout) if timeout is not None else DEFAULT_SECONDS

    def cpu_seconds(self, timeout: float | None = None) -> int:
        """RLIMIT_CPU's soft limit: the deadline and its grace, rounded up, plus one second."""
        return math.ceil(self.wall_seconds(timeout) + GRACE_SECONDS) + 1

    def memory_message(self, hint: str = "Isolation(memory_mb=...)") -> str:
        """The message of an allocation the address-space limit refused."""
        return (f"memory limit of {self.memory_mb:,} MB exceeded (the isolated process's "
                f"address space; raise it with {hint})")


# ----------------------------------------------------------------------------------------
# The syscall filter: libseccomp (the system's libseccomp.so.2) through ctypes.
#
# NOTE: libseccomp is the library; this is only its C API declared for ctypes, as pyseccomp
# does. pyseccomp itself costs 14-22 ms to import on every `--isolate` run (ctypes.util,
# subprocess and two `ldconfig -p` runs to find libraries whose sonames are fixed), more than
# the whole budget of the isolated mode (10 ms); Debian's python3-seccomp is not on PyPI.

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_CMP_EQ, _SCMP_CMP_MASKED_EQ = 4, 7
_LIB: list = []  # [the ctypes library or None, why not]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def _seccomp():
    """libseccomp.so.2 loaded through ctypes, or None (then `_LIB[1]` says why)."""
    if not _LIB:
        lib, why = None, None
        if not sys.platform.startswith("linux"):
            why = "seccomp is Linux-only"
        else:
            import ctypes

            try:
                lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
            except OSError:
                why = "libseccomp.so.2 is not installed"
            else:
                lib.seccomp_init.argtypes = (ctypes.c_uint32,)
                lib.seccomp_init.restype = ctypes.c_void_p
                lib.seccomp_rule_add_array.argtypes = (ctypes.c_void_p, ctypes.c_uint32,
                                                       ctypes.c_int, ctypes.c_uint,
                                                       ctypes.POINTER(_ArgCmp()))
                lib.seccomp_rule_add_array.restype = ctypes.c_int
                lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
                lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
                lib.seccomp_load.argtypes = (ctypes.c_void_p,)
                lib.seccomp_load.restype = ctypes.c_int
        _LIB[:] = [lib, why]
    return _LIB[0]


_ARGCMP: list = []


def _ArgCmp():
    """struct scmp_arg_cmp {unsigned int arg; enum scmp_compare op; uint64 datum_a, datum_b}."""
    if not _ARGCMP:
        import ctypes

        class ArgCmp(ctypes.Structure):
            _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                        ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]

        _ARGCMP.append(ArgCmp)
    return _ARGCMP[0]


def filter_unavailable() -> str | None:
    """Why the syscall filter cannot be loaded here, with how to get it; None when it can."""
    if _seccomp() is not None:
        return None
    return f"{_LIB[1]}; install it with {INSTALL_HINT}"


def _add_rule(ctx, action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
    """One libseccomp rule: `action` for syscall `name` when all `(arg, op, a, b)` hold."""
    lib = _seccomp()
    nr = lib.seccomp_syscall_resolve_name(name.encode())
    if nr < 0:  # a name this architecture does not have (open on arm64): nothing to allow
        return
    array = (_ArgCmp() * max(1, len(cmps)))(*[_ArgCmp()(*c) for c in cmps])
    rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
    if rc < 0:
        raise OSError(-rc, f"seccomp_rule_add({name}): {os.strerror(-rc)}")


_TEMPLATE: list = []  # [the filter without its per-process rules], built once per process


def _filter_template():
    """The filter's rules that do not depend on the process (built once: ~1 ms of ctypes)."""
    if not _TEMPLATE:
        ctx = _seccomp().seccomp_init(_errno_action(errno.EPERM))
        if not ctx:
            raise OSError(errno.ENOMEM, "seccomp_init failed")
        allow = _SCMP_ACT_ALLOW
        for name in ALLOWED_SYSCALLS:
            _add_rule(ctx, allow, name)
        _add_rule(ctx, allow, "openat", (2, _SCMP_CMP_MASKED_EQ, _WRITE_FLAGS, 0))
        _add_rule(ctx, allow, "open", (1, _SCMP_CMP_MASKED_EQ, _WRITE_FLAGS, 0))
        # openat2's flags are out of a filter's reach: ENOSYS, and glibc uses openat
        _add_rule(ctx, _errno_action(errno.ENOSYS), "openat2")
        _add_rule(ctx, allow, "clone", (0, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))
        _add_rule(ctx, _errno_action(errno.ENOSYS), "clone3")  # glibc falls back to clone
        for request in (_TCGETS, _TIOCGWINSZ, _FIONREAD, _FIONCLEX, _FIOCLEX):
            _add_rule(ctx, allow, "ioctl", (1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, request))
        _add_rule(ctx, allow, "prlimit64", (0, _SCMP_CMP_EQ, 0, 0), (2, _SCMP_CMP_EQ, 0, 0))
        _TEMPLATE.append(ctx)
    return _TEMPLATE[0]


_PROGRAM: list = []  # [the compiled filter: struct sock_fprog], compiled once per process


def _filter_program():
    """The filter compiled by libseccomp to its BPF program (once: the child only loads it)."""
    if not _PROGRAM:
        import ctypes

        lib = _seccomp()
        lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
        lib.seccomp_export_bpf.restype = ctypes.c_int
        r, w = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(_filter_template(), w)
            os.close(w)
            w = None
            if rc < 0:
                raise OSError(-rc, f"seccomp_export_bpf: {os.strerror(-rc)}")
            code = b"".join(iter(lambda: os.read(r, 1 << 16), b""))
        finally:
            os.close(r)
            if w is not None:
                os.close(w)

        class SockFprog(ctypes.Structure):  # struct sock_fprog {unsigned short len; filter*}
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        buf = ctypes.create_string_buffer(code, len(code))
        prog = SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_char_p))
        _PROGRAM[:] = [prog, buf]
    return _PROGRAM[0]


def _load_filter() -> None:
    """Load the compiled filter into this process: no new privileges, then SECCOMP_MODE_FILTER."""
    import ctypes

    prog, libc = _filter_program(), _libc()
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


# ----------------------------------------------------------------------------------------
# Confining a process: descriptors, NumPy's threads, rlimits, the filter.

_BLAS: list = []  # [set_num_threads or None]


def _blas_set_num_threads():
    """(get_num_threads, set_num_threads) of NumPy's own OpenBLAS (None without one), found
    once (as threadpoolctl finds them)."""
    if not _BLAS:
        fn = None
        try:
            import ctypes

            with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
                paths = {ln.split()[-1] for ln in maps if "openblas" in ln.rsplit("/", 1)[-1]}
            for path in sorted(paths):
                lib = ctypes.CDLL(path)
                for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"),
                                       ("scipy_openblas", ""), ("openblas", "")):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        fn = (get, put)
                        break
                if fn is not None:
                    break
        except OSError:
            fn = None
        _BLAS[:] = [fn]
    return _BLAS[0]


_WARM: list = []


def _warm_blas() -> None:
    """OpenBLAS maps its 32 MB work buffer on its first product over the small-matrix size:
    make it happen before the memory limit (near the limit OpenBLAS exits instead); a fork
    inherits the buffer."""
    if not _WARM and "numpy" in sys.modules:
        a = sys.modules["numpy"].ones((128, 128))
        a @ a
        _WARM.append(True)


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit(resource, which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _keep_only(keep: tuple[int, ...]) -> None:
    """Close every file descriptor but `keep` (the host's sockets, files, pipes ...)."""
    start = 0
    for fd in sorted(set(keep)):
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 20)


def apply_policy(policy: Isolation | None = None, keep_fds: tuple[int, ...] = (0, 1, 2),
                 timeout: float | None = None, *, base_bytes: int | None = None) -> bool:
    """Confine this process for good: only `keep_fds` stay open; NumPy's BLAS runs one thread;
    RLIMIT_AS (current + memory_mb), RLIMIT_CPU, RLIMIT_FSIZE=0, RLIMIT_NOFILE, RLIMIT_NPROC=0,
    RLIMIT_CORE=0; then the syscall filter. Returns whether the filter was loaded.

    base_bytes: the address space RLIMIT_AS adds memory_mb to (default: this process's now).
    """
    import resource

    policy = policy if policy is not None else Isolation()
    if max(keep_fds) >= policy.max_files:
        raise ValueError(f"keep_fds: descriptor {max(keep_fds)} is not below max_files")
    _keep_only(keep_fds)
    threads = _blas_set_num_threads()
    if threads is not None and threads[0]() != 1:
        threads[1](1)
    _warm_blas()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing a file: EFBIG, not a signal
    cpu = policy.cpu_seconds(timeout)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1 if hard == resource.RLIM_INFINITY
                                             else min(cpu + 1, hard)))
    base = _vm_bytes() if base_bytes is None else base_bytes
    _limit(resource, resource.RLIMIT_AS, base + (policy.memory_mb << 20))
    _limit(resource, resource.RLIMIT_FSIZE, 0)
    _limit(resource, resource.RLIMIT_CORE, 0)
    _limit(resource, resource.RLIMIT_NOFILE, policy.max_files)
    _limit(resource, resource.RLIMIT_NPROC, 0)
    if _seccomp() is None:
        return False
    _load_filter()
    return True


# ----------------------------------------------------------------------------------------
# The child: a channel of JSON lines to the parent, and what runs there.

_IN_CHILD: list = []  # [Isolation, how to raise its memory limit] in an isolated child


class _Channel:
    """JSON lines to the parent over one pipe."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


class _Forward:
    """A text stream of the child (sys.stdout, sys.stderr) whose text goes to the parent."""

    def __init__(self, channel: _Channel, key: str, tty: bool, encoding: str, other=None):
        self.channel, self.key, self.tty, self.encoding = channel, key, tty, encoding
        self.errors, self.other, self.parts, self.size = "strict", other, [], 0

    def write(self, text: str) -> int:
        if self.other is not None and self.other.parts:
            self.other.flush()  # keep stdout and stderr in the order they were written
        self.parts.append(text)
        self.size += len(text)
        if self.size >= CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        text, self.parts, self.size = "".join(self.parts), [], 0
        for i in range(0, len(text), CHUNK):
            self.channel.send({self.key: text[i:i + CHUNK]})

    def isatty(self) -> bool:
        return self.tty

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        import io

        raise io.UnsupportedOperation("fileno")


def _error_json(e: GradcalcError) -> dict:
    out = {"type": type(e).__name__, "message": e.message, "source": e.source,
           "line": e.line, "column": e.column, "source_line": e.source_line}
    for extra in ("name", "limit"):
        value = getattr(e, extra, None)
        if isinstance(value, str):
            out[extra] = value
    matches = getattr(e, "matches", None)
    if isinstance(matches, list) and all(isinstance(m, str) for m in matches):
        out["matches"] = matches
    return out


def _error_types() -> dict[str, type]:
    from gradcalc import errors

    return {name: cls for name, cls in vars(errors).items()
            if isinstance(cls, type) and issubclass(cls, GradcalcError)}


def _error_from_json(d: Any) -> GradcalcError:
    """The GradcalcError a child reported (its class picked from gradcalc.errors by name)."""
    if not isinstance(d, dict) or not isinstance(d.get("message"), str):
        return EvalError("the isolated process sent an invalid error")
    cls = _error_types().get(d.get("type"), GradcalcError)
    err = cls.__new__(cls)
    pos = {k: d.get(k) for k in ("source", "line", "column", "source_line")}
    if not all(v is None or isinstance(v, t) for v, t in
               zip(pos.values(), (str, int, int, str))):
        pos = {}
    GradcalcError.__init__(err, d["message"], **pos)
    if isinstance(err, LimitError):
        err.limit, err.hinted = d.get("limit") if isinstance(d.get("limit"), str) else None, True
    if "name" in d and isinstance(d["name"], str):
        err.name = d["name"]
    if hasattr(cls, "matches") or "matches" in d:
        err.matches = [m for m in d.get("matches") or [] if isinstance(m, str)]
    return err


def _memory_error(policy: Isolation, e: BaseException | None = None) -> LimitError:
    """The LimitError of an allocation the address-space limit refused (positioned like e)."""
    err = LimitError(policy.memory_message(_IN_CHILD[1]))
    if isinstance(e, GradcalcError) and e.line is not None:
        err.locate(source=e.source, line=e.line, column=e.column, source_line=e.source_line)
    return err


def _from_memory(e: BaseException) -> bool:
    """Whether `e` reports a MemoryError (the Session turns one into a LimitError)."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, MemoryError):
            return True
        e, seen = e.__context__, seen + 1
    return False


def _confined(fn: Callable, *args):
    """fn(*args) in the child, its out-of-memory errors named after the address-space limit."""
    policy = _IN_CHILD[0]
    try:
        return fn(*args)
    except GradcalcError as e:
        if isinstance(e, LimitError) and _from_memory(e):
            raise _memory_error(policy, e) from None
        raise
    except MemoryError:
        raise _memory_error(policy) from None


# ----------------------------------------------------------------------------------------
# The parent: fork, read messages until the deadline, map how the child ended to an error.

_SIGNAL_WORDS = {signal.SIGSEGV: "a segmentation fault", signal.SIGBUS: "a bus error",
                 signal.SIGABRT: "an abort", signal.SIGILL: "an illegal instruction",
                 signal.SIGFPE: "a floating-point exception",
                 signal.SIGSYS: "a refused system call"}


class _Child:
    """A forked, confined child process and the parent's end of its pipes."""

    def __init__(self, body: Callable[[_Channel, int | None], None], policy: Isolation,
                 timeout: float | None, *, stdin: bool, requests: bool, source: str | None,
                 hint: str = "Isolation(memory_mb=...)"):
        self.policy, self.timeout, self.source = policy, timeout, source
        self.wall = policy.wall_seconds(timeout)
        self.cpu = policy.cpu_seconds(timeout)
        self.killed = False
        self.buf = bytearray()
        import gc

        _preload()

        out_r, out_w = os.pipe()
        raw_r, raw_w = os.pipe()  # the child's descriptor 2: what C code writes on stderr
        req_r, req_w = os.pipe() if requests else (None, None)
        tty = _stream_tty(sys.stdout)
        size = _terminal_size() if tty else None
        null = os.open(os.devnull, os.O_RDWR)
        base_bytes = _vm_bytes()  # the child's address space at the fork, read here (cheaper)
        freeze = gc.get_freeze_count() == 0  # (not when the host froze its own objects)
        if freeze:
            gc.freeze()  # the child's collector then leaves the inherited objects' pages alone
        try:
            pid = os.fork()
        except BaseException:
            if freeze:
                gc.unfreeze()
            for fd in (out_r, out_w, raw_r, raw_w, req_r, req_w, null):
                if fd is not None:
                    os.close(fd)
            raise
        if pid == 0:  # the child: never returns
            code = 70
            try:
                os.close(out_r)
                os.close(raw_r)
                if req_w is not None:
                    os.close(req_w)
                _child_setup(out_w, raw_w, req_r, null, stdin, policy, timeout, tty, size,
                             hint, base_bytes)
                chan = _Channel(3)
                sys.stdout = _Forward(chan, "out", tty, getattr(sys.__stdout__, "encoding",
                                                                "utf-8") or "utf-8")
                sys.stderr = _Forward(chan, "err", _stream_tty(sys.__stderr__), "utf-8",
                                      other=sys.stdout)
                sys.stdout.other = sys.stderr
                body(chan, 4 if requests else None)
                code = 0
            except BaseException:  # noqa: BLE001  (the child never unwinds into the parent's code)
                code = 70
            finally:
                os._exit(code)
        if freeze:
            gc.unfreeze()
        self.pid = pid
        for fd in (out_w, raw_w, null, req_r):
            if fd is not None:
                os.close(fd)
        self.fd, self.raw, self.req = out_r, raw_r, req_w

    # -- talking --
    def request(self, obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode("ascii")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.req, view):]
        except BrokenPipeError:
            pass  # the child has ended: messages() reports how

    def messages(self, deadline: float):
        """Each message of the child until it ends or the deadline passes (then it is killed)."""
        import select

        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        if self.raw is not None:
            poller.register(self.raw, select.POLLIN | select.POLLHUP)
        while True:
            nl = self.buf.find(b"\n")
            while nl >= 0:
                line = bytes(self.buf[:nl])
                del self.buf[:nl + 1]
                yield self._decode(line)
                nl = self.buf.find(b"\n")
            if len(self.buf) > MESSAGE_LIMIT:
                self.kill()
                raise EvalError("the isolated process sent a message over "
                                f"{MESSAGE_LIMIT >> 20} MB")
            left = deadline - time.monotonic()
            ready = poller.poll(max(0, math.ceil(left * 1000))) if left > 0 else []
            if not ready:
                if time.monotonic() < deadline:
                    continue
                self.kill()
                raise self.ended(timed_out=True)
            fds = {fd for fd, _ in ready}
            if self.raw in fds and not self._pass_stderr():
                poller.unregister(self.raw)
                os.close(self.raw)
                self.raw = None
            if self.fd in fds:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    raise self.ended()
                self.buf += chunk

    def _pass_stderr(self) -> bool:
        """Copy what the child's C code wrote on its stderr to ours; False at its end."""
        chunk = os.read(self.raw, 1 << 16)
        if chunk:
            sys.stderr.write(chunk.decode("utf-8", "replace"))
            sys.stderr.flush()
        return bool(chunk)

    def _decode(self, line: bytes) -> dict:
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or len(msg) != 1 and "echo" not in msg:
            self.kill()
            raise EvalError("the isolated process sent an invalid message")
        return msg

    # -- ending --
    def kill(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.killed = True
            self.reap()

    def reap(self) -> int | None:
        """Wait for the child; its wait status (None if already reaped)."""
        if not self.pid:
            return None
        pid, self.pid = self.pid, 0
        for fd in (self.fd, self.raw, self.req):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd = self.raw = self.req = None
        while True:
            try:
                return os.waitpid(pid, 0)[1]
            except InterruptedError:
                continue
            except ChildProcessError:
                return None

    def ended(self, timed_out: bool = False) -> GradcalcError:
        """The error that says how the child ended without finishing its work."""
        status = self.reap() if not timed_out else None
        where = {"source": self.source} if self.source else {}
        if timed_out:
            return LimitError(f"timed out: the script ran longer than the time limit of "
                              f"{self.wall:g} s (the isolated process was killed)", **where)
        if status is None:
            return EvalError("the isolated process ended without a result", **where)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig in (signal.SIGXCPU, signal.SIGKILL):
                return LimitError(f"CPU time limit of {self.cpu} s exceeded (the isolated "
                                  "process was killed)", **where)
            if sig == signal.SIGINT:
                return Interrupted("interrupted")
            words = _SIGNAL_WORDS.get(sig, f"signal {signal.Signals(sig).name}"
                                      if sig in signal.Signals._value2member_map_ else
                                      f"signal {sig}")
            return EvalError(f"the isolated process crashed ({words})", **where)
        code = os.waitstatus_to_exitcode(status)
        return EvalError(f"the isolated process ended without a result (exit status {code})",
                         **where)

    def close(self) -> None:
        if self.pid:
            self.kill()


def _preload() -> None:
    """Import in the parent what every child needs (NumPy and the core, the filter's binding):
    a fork then inherits them, and none is loaded under the child's memory limit."""
    import gradcalc  # the core and NumPy
    import gradcalc.render.values  # noqa: F401  (values as JSON)

    if _seccomp() is not None:
        _filter_program()
    _blas_set_num_threads()
    _warm_blas()
    _libc()


_LIBC: list = []


def _libc():
    """The C library through ctypes (Linux), for prctl."""
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _stream_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _terminal_size():
    try:
        return os.get_terminal_size(sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):
        return None


def _child_setup(out_w, raw_w, req_r, null, stdin, policy, timeout, tty, size, hint,
                 base_bytes) -> None:
    """In the child: descriptors 0-4, environment, signals, parent-death signal, the policy.

    0: the parent's stdin (run) or /dev/null; 1: /dev/null; 2: raw stderr to the parent;
    3: messages to the parent; 4: requests from the parent (a Session) or /dev/null.
    """
    import fcntl

    parent = os.getppid()
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
             for fd in (null, raw_w, out_w, req_r if req_r is not None else null)]
    if not stdin:
        os.dup2(moved[0], 0)
    for target, fd in enumerate(moved[1:], start=1):
        os.dup2(fd, target + 1)
    os.dup2(moved[0], 1)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"  # a BLAS loaded from now on starts no threads
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child; the parent reports it
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if size is not None:  # Rich sizes its output as the parent's terminal would
        os.environ.setdefault("COLUMNS", str(size.columns))
        os.environ.setdefault("LINES", str(size.lines))
    if sys.platform.startswith("linux"):
        _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the parent
    if os.getppid() != parent:
        os._exit(70)
    _IN_CHILD[:] = [policy, hint]
    apply_policy(policy, (0, 1, 2, 3, 4), timeout, base_bytes=base_bytes)


def _warn_unfiltered(write_error: Callable[[str], None]) -> None:
    why = filter_unavailable()
    if why is not None:
        write_error(f"gradcalc: warning: --isolate without the syscall filter ({why}); "
                    "only the OS limits apply")


# ----------------------------------------------------------------------------------------
# The command line: `gradcalc eval/run --isolate`.


def in_child() -> bool:
    """Whether this process is an isolated child."""
    return bool(_IN_CHILD)


def run_command(impl: Callable[[dict], int], cmd: str, opts: dict) -> int:
    """Run a CLI command (`impl`, e.g. cli.cmd_eval) with --isolate: in a confined child whose
    stdout and stderr come back as JSON lines; returns the command's exit code."""
    from gradcalc import cli

    if not opts.get("isolate"):
        raise UsageError("gradcalc: error: --isolate-memory needs --isolate")
    if opts.get("allow_files"):
        raise UsageError("gradcalc: error: --allow-files cannot be used with --isolate (the "
                         "isolated process writes no file)")
    if _IN_CHILD:
        return _confined(impl, dict(opts, isolate=False, isolate_memory=None))
    mb = opts.get("isolate_memory") or DEFAULT_MEMORY_MB
    policy = Isolation(memory_mb=mb)
    timeout = opts.get("timeout")
    child_opts = dict(opts, timeout=policy.wall_seconds(timeout))
    _warn_unfiltered(cli.write_error)
    if "numpy" not in sys.modules:  # this process only renders: its BLAS needs no threads
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    source = "<expr>" if cmd == "eval" else (opts.get("script") or "-")
    source = "<stdin>" if source == "-" else source

    def body(chan: _Channel, _requests) -> None:
        code = cli.execute(cmd, child_opts)
        sys.stdout.flush()
        sys.stderr.flush()
        chan.send({"exit": int(code)})

    child = _Child(body, policy, timeout, stdin=cmd == "run", requests=False, source=source,
                   hint="--isolate-memory MB")
    try:
        deadline = time.monotonic() + child.wall + GRACE_SECONDS
        for msg in child.messages(deadline):
            if "out" in msg and isinstance(msg["out"], str):
                sys.stdout.write(msg["out"])
                sys.stdout.flush()
            elif "err" in msg and isinstance(msg["err"], str):
                cli._flush()
                sys.stderr.write(msg["err"])
                sys.stderr.flush()
            elif "exit" in msg and isinstance(msg["exit"], int) and 0 <= msg["exit"] < 256:
                child.reap()
                return msg["exit"]
            else:
                child.kill()
                raise EvalError("the isolated process sent an invalid message")
    finally:
        child.close()
    raise AssertionError("unreachable: messages() ends by raising")


# ----------------------------------------------------------------------------------------
# The library: Session(..., isolate=True).


class Echoed:
    """An echoed value that stayed in the isolated child: its repr and its JSON form."""

    __slots__ = ("json", "text")

    def __init__(self, text: str, json: Any):
        self.text, self.json = text, json

    def __repr__(self) -> str:
        return self.text


class IsolatedSession:
    """A Session whose statements run in one confined child process (`Session(isolate=True)`).

    The script's names live in the child for the session's life; `run` sends text and returns
    the errors (as Session.run); printed and echoed text reaches `write`, or `on_echo` gets an
    `Echoed`. After a limit kills the child the session is over: `run` raises that error again.
    """

    def __init__(self, echo: bool = True, write: Callable[[str], object] | None = None,
                 limits=None, isolation: Isolation | None = None):
        from gradcalc.lang.limits import Limits

        self.echo = echo
        self.write = write if write is not None else (lambda s: sys.stdout.write(s))
        self.limits = limits if limits is not None else Limits()
        self.isolation = isolation if isolation is not None else Isolation()
        self.filtered = filter_unavailable() is None
        if not self.filtered:
            import warnings

            warnings.warn(f"Session(isolate=True) without the syscall filter "
                          f"({filter_unavailable()}); only the OS limits apply",
                          RuntimeWarning, stacklevel=3)
        self._budget = self.isolation.wall_seconds(self.limits.timeout)
        self._used = 0.0
        self._over: GradcalcError | None = None
        self._child = _Child(self._serve, self.isolation, self.limits.timeout, stdin=False,
                             requests=True, source=None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        child = getattr(self, "_child", None)
        if child is not None:
            child.close()

    def close(self) -> None:
        """End the child process (the session's names go with it)."""
        self._child.close()
        if self._over is None:
            self._over = EvalError("the isolated session is closed")

    def run(self, text: str, source: str = "<input>", on_echo: Callable | None = None,
            keep_going: bool = False) -> list[GradcalcError]:
        """Run a whole text in the child; as Session.run (errors returned with keep_going)."""
        if self._over is not None:
            raise _error_from_json(_error_json(self._over))
        self._child.request({"run": text, "source": source, "keep_going": bool(keep_going),
                             "echo_values": on_echo is not None})
        t0 = time.monotonic()
        # with a timeout of its own the child reports it, positioned, before the kill
        grace = GRACE_SECONDS if self.limits.timeout is not None else 0.0
        deadline = t0 + self._budget - self._used + grace
        try:
            for msg in self._child.messages(deadline):
                if "out" in msg and isinstance(msg["out"], str):
                    self.write(msg["out"])
                elif "echo" in msg and isinstance(msg["echo"], str) and on_echo is not None:
                    on_echo(Echoed(msg["echo"], msg.get("value")))
                elif "done" in msg and isinstance(msg["done"], list):
                    return [_error_from_json(d) for d in msg["done"]]
                elif "error" in msg:
                    raise _error_from_json(msg["error"])
                else:
                    self._child.kill()
                    raise EvalError("the isolated process sent an invalid message")
        except GradcalcError as e:
            if not self._child.pid:  # the child is gone: so is the session
                self._over = e
            raise
        except BaseException:
            self._child.kill()
            self._over = Interrupted("interrupted")
            raise
        finally:
            self._used += time.monotonic() - t0
        raise AssertionError("unreachable: messages() ends by raising")

    def _serve(self, chan: _Channel, requests: int) -> None:
        """The child's loop: one request a line, one Session for the life of the process."""
        from gradcalc.lang.session import Session
        from gradcalc.render.values import value_json

        session = Session(echo=self.echo, write=lambda text: chan.send({"out": text}),
                          limits=self.limits)
        stream = os.fdopen(requests, "rb")
        while True:
            line = stream.readline()
            if not line:
                return
            req = json.loads(line)
            on_echo = None
            if req.get("echo_values"):
                def on_echo(value):
                    chan.send({"echo": repr(value), "value": value_json(value)})
            try:
                errors = _confined(session.run, req["run"], req["source"], on_echo,
                                   req["keep_going"])
            except GradcalcError as e:
                chan.send({"error": _error_json(e)})
                continue
            errors = [_memory_error(_IN_CHILD[0], e) if isinstance(e, LimitError)
                      and _from_memory(e) else e for e in errors]
            chan.send({"done": [_error_json(e) for e in errors]})


