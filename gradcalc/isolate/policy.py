"""Isolation layer: the OS policy of an isolated child: its limits (`Isolation`) and
`apply_policy`, which confines the calling process for good: descriptors, rlimits, Landlock,
the seccomp filter.
"""

from __future__ import annotations

import math
import os
import signal
import sys

from gradcalc.isolate import landlock, seccomp
from gradcalc.isolate.libc import libc

#: address space the child may map beyond what it inherits, in MB (RLIMIT_AS); above the
#: session's own memory budget (Limits.max_memory), so that budget normally reports first
DEFAULT_MEMORY_MB = 4096
#: the wall-clock deadline of an isolated run without --timeout / Limits.timeout, in seconds
DEFAULT_SECONDS = 30.0
#: the child's highest file descriptor + 1 (RLIMIT_NOFILE)
DEFAULT_MAX_FILES = 16
#: the parent kills the child this long after the time limit the child enforces itself
GRACE_SECONDS = 0.5


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


class Confined:
    """What `apply_policy` put in force: `filter` (the seccomp filter was loaded) and
    `landlock` (the Landlock ABI version of the read rules; 0 where the kernel has none)."""

    __slots__ = ("filter", "landlock")

    def __init__(self, filter: bool, landlock: int):
        self.filter, self.landlock = filter, landlock

    def __repr__(self) -> str:
        return f"Confined(filter={self.filter!r}, landlock={self.landlock!r})"


# ---- NumPy's BLAS --------------------------------------------------------------------------

_BLAS: list = []  # [(get_num_threads, set_num_threads) or None]


def _openblas_paths() -> list[str]:
    """Where NumPy's OpenBLAS may be: the wheel's numpy.libs directory, else the mapped files."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        libs = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
        try:
            found = sorted(os.path.join(libs, n) for n in os.listdir(libs) if "openblas" in n)
        except OSError:
            found = []
        if found:
            return found
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        return sorted({ln.split()[-1] for ln in maps if "openblas" in ln.rsplit("/", 1)[-1]})


def blas_threads():
    """(get_num_threads, set_num_threads, the library) of NumPy's own OpenBLAS (None without
    one), found once (as threadpoolctl finds them)."""
    if not _BLAS:
        fn = None
        try:
            import ctypes

            for path in _openblas_paths():
                lib = ctypes.CDLL(path)
                for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"),
                                       ("scipy_openblas", ""), ("openblas", "")):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        fn = (get, put, lib)
                        break
                if fn is not None:
                    break
        except OSError:
            fn = None
        _BLAS[:] = [fn]
    return _BLAS[0]


def single_thread_blas() -> None:
    """Make NumPy's OpenBLAS compute on the calling thread alone, starting no thread.

    NOTE: after a fork OpenBLAS has no thread pool (its atfork handler stops it) and its
    set_num_threads starts one before it lowers the count (n - 1 threads, spinning for a while
    on every core). Its exported count `blas_cpu_number` is written instead where the library
    has it; with 1 there, no call starts the pool.
    """
    threads = blas_threads()
    if threads is None or threads[0]() == 1:
        return
    import ctypes

    try:
        ctypes.c_int.in_dll(threads[2], "blas_cpu_number").value = 1
    except ValueError:  # not exported by this build
        threads[1](1)


_WARM: list = []


def warm_blas() -> None:
    """OpenBLAS maps a work buffer on its first call over the small-matrix size: make it
    happen before the memory limit (near the limit OpenBLAS exits instead); a fork inherits
    the buffer. A matrix-vector product takes the same buffer a matrix product would, in a
    tenth of the time. A no-op before NumPy is imported."""
    if not _WARM and "numpy" in sys.modules:
        numpy = sys.modules["numpy"]
        numpy.ones(4096) @ numpy.ones((4096, 2))
        _WARM.append(True)


# ---- the policy ----------------------------------------------------------------------------

def vm_bytes() -> int:
    """This process's address space in bytes (0 where /proc cannot be read)."""
    try:  # (os.open, not open(): a text file's machinery touches hundreds of pages)
        fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 200).split()[0]) * os.sysconf("SC_PAGE_SIZE")
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 0


def _limit(resource, which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def keep_only(keep: tuple[int, ...]) -> None:
    """Close every file descriptor but `keep` (the host's sockets, files, pipes ...)."""
    start = 0
    for fd in sorted(set(keep)):
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 20)


def apply_policy(policy: Isolation | None = None, keep_fds: tuple[int, ...] = (0, 1, 2),
                 timeout: float | None = None, *, base_bytes: int | None = None,
                 readable: tuple[str, ...] | None = None, blas: bool = True,
                 prepare=None) -> Confined:
    """Confine this process for good: only `keep_fds` stay open; RLIMIT_AS (current +
    memory_mb), RLIMIT_CPU, RLIMIT_FSIZE=0, RLIMIT_NOFILE, RLIMIT_NPROC=0, RLIMIT_CORE=0;
    Landlock: files are read only beneath `readable` (default: the Python installation); then
    the syscall filter. Returns what was put in force (`Confined`).

    base_bytes: the address space RLIMIT_AS adds memory_mb to (default: this process's now).
    blas: make NumPy's OpenBLAS compute on this thread alone (single_thread_blas; False where
    nothing else is to be done). prepare: called once the descriptors are closed, before any
    limit (to open what the confined code will read, such as /proc files).
    """
    import resource

    policy = policy if policy is not None else Isolation()
    if max(keep_fds) >= policy.max_files:
        raise ValueError(f"keep_fds: descriptor {max(keep_fds)} is not below max_files")
    keep_only(keep_fds)
    if prepare is not None:
        prepare()
    if blas:
        single_thread_blas()
    warm_blas()
    seccomp.prepared()
    lib = libc() if sys.platform.startswith("linux") else None
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing a file: EFBIG, not a signal
    cpu = policy.cpu_seconds(timeout)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1 if hard == resource.RLIM_INFINITY
                                             else min(cpu + 1, hard)))
    base = vm_bytes() if base_bytes is None else base_bytes
    version = landlock.restrict(landlock.python_paths() if readable is None else readable)
    _limit(resource, resource.RLIMIT_AS, base + (policy.memory_mb << 20))
    _limit(resource, resource.RLIMIT_FSIZE, 0)
    _limit(resource, resource.RLIMIT_CORE, 0)
    _limit(resource, resource.RLIMIT_NOFILE, policy.max_files)
    _limit(resource, resource.RLIMIT_NPROC, 0)
    return Confined(lib is not None and seccomp.load(lib), version)
