"""Isolation layer: the isolated child process: forked by the parent, confined by the policy,
read by the parent until its deadline, then mapped to an error by how it ended.
"""

from __future__ import annotations

import gc
import math
import os
import signal
import sys
import time
from collections.abc import Callable

from gradcalc.errors import EvalError, GradcalcError, Interrupted, LimitError
from gradcalc.isolate import landlock, protocol
from gradcalc.isolate.policy import Isolation, apply_policy, blas_threads

#: how long a child may take to start (imports, the policy) before the parent gives up
STARTUP_SECONDS = 30.0

SIGNAL_WORDS = {signal.SIGSEGV: "a segmentation fault", signal.SIGBUS: "a bus error",
                signal.SIGABRT: "an abort", signal.SIGILL: "an illegal instruction",
                signal.SIGFPE: "a floating-point exception",
                signal.SIGSYS: "a refused system call"}

#: run once in the parent before its first fork: the child then inherits the parsed tables,
#: compiled closures, NumPy's warmed state (instead of building them under its own limits)
_WARM_TEXT = "x = tensor([1., 2.], requires_grad=True)\ny = (x * x).sum()\ny.backward()\nx.grad\n"
_PRELOADED: list = []
_RELEASED: list = []  # pids of children killed and not yet reaped (see Child.release)


def in_child() -> bool:
    """Whether this process is an isolated child."""
    return bool(protocol.IN_CHILD)


#: what the child imports from outside gradcalc (pyproject.toml's run-time dependencies by
#: import name, prompt_toolkit and typer excepted): their site-packages directories are readable
DEPENDENCIES = ("numpy", "lark", "rich")


def readable_paths() -> tuple[str, ...]:
    """What a child may read: the Python installation, the site-packages directories of
    gradcalc's dependencies, gradcalc's package and its grammar."""
    import importlib.util

    import gradcalc
    from gradcalc.lang.parser import grammar_path

    paths = list(landlock.python_paths())
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and spec.submodule_search_locations:
            paths.append(os.path.dirname(os.path.dirname(os.path.abspath(spec.origin))))
    paths.append(os.path.dirname(os.path.abspath(gradcalc.__file__)))
    try:
        paths.append(grammar_path())
    except GradcalcError:
        pass
    return landlock.outermost(paths)


_STARTED: list = []


def start_up() -> tuple[str, ...]:
    """What a child needs before its policy, once per process (a library parent does it once
    for all its children): NumPy and the core, OpenBLAS's work buffer, the filter's program,
    the modules the set-up uses; returns readable_paths()."""
    if not _STARTED:
        import fcntl  # noqa: F401
        import resource  # noqa: F401

        from gradcalc import Tensor  # noqa: F401  (loads the core, NumPy and their libraries)
        from gradcalc.isolate import seccomp
        from gradcalc.isolate.libc import libc
        from gradcalc.isolate.policy import warm_blas

        seccomp.prepared()
        landlock.abi()
        libc()
        blas_threads()
        warm_blas()
        _STARTED.append(readable_paths())
    return _STARTED[0]


def preload() -> tuple[str, ...]:
    """start_up() in the parent of library children, once, with a warm-up run of the language
    (each child then inherits the parser's tables and the compiled closures instead of
    building them again); returns readable_paths()."""
    if not _PRELOADED:
        import select  # noqa: F401

        import gradcalc.render.values  # noqa: F401  (values as JSON)
        from gradcalc.lang.session import Session

        paths = start_up()
        Session(write=lambda text: None).run(_WARM_TEXT)
        _PRELOADED.append(paths)
    return _PRELOADED[0]


def _prime() -> None:
    """Open /proc/self/statm for the core's memory guard before Landlock hides /proc."""
    from gradcalc.core.alloc import Guard

    Guard().held()


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


class Child:
    """A forked, confined child process and the parent's end of its pipes.

    body(channel, requests fd or None) runs in the child once confined. A library parent
    (`library=True`, a host that goes on) preloads and warms up once, then forks; the command
    line (`library=False`) forks at once and the child starts up (start_up) before confining
    itself: what the parent does not load, its exit does not unload (after a fork each page the
    parent's finalization writes is a page fault). `readable`: files the child may read besides
    readable_paths(). `deadline` (time.monotonic()) bounds `messages`; a command-line child's
    first message is {"ready": what the policy put in force} (a library parent knows it).
    """

    def __init__(self, body: Callable, policy: Isolation, timeout: float | None, *,
                 stdin: bool, requests: bool, source: str | None,
                 hint: str = "Isolation(memory_mb=...)", library: bool = True,
                 readable: tuple[str, ...] = ()):
        self.policy, self.timeout, self.source = policy, timeout, source
        self.wall = policy.wall_seconds(timeout)
        self.cpu = policy.cpu_seconds(timeout)
        self.killed = False
        self.buf = bytearray()
        self.deadline = time.monotonic() + STARTUP_SECONDS
        self.library = self.started = library
        _reap_released()
        paths = preload() if library else None
        out_r, out_w = os.pipe()
        raw_r, raw_w = os.pipe()  # the child's descriptor 2: what C code writes on stderr
        req_r, req_w = os.pipe() if requests else (None, None)
        tty = _stream_tty(sys.stdout)
        size = _terminal_size() if tty else None
        null = os.open(os.devnull, os.O_RDWR)
        freeze = gc.get_freeze_count() == 0  # (not when the host froze its own objects)
        if freeze:
            gc.freeze()  # the child's collector then leaves the inherited objects' pages alone
        try:
            pid = os.fork()
        except BaseException:
            pid = None
            for fd in (out_r, out_w, raw_r, raw_w, req_r, req_w, null):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            if pid != 0 and freeze:  # the parent (the child keeps its objects frozen)
                gc.unfreeze()
        if pid == 0:  # the child: never returns
            code = 70
            try:
                os.close(out_r)
                os.close(raw_r)
                if req_w is not None:
                    os.close(req_w)
                self._confine(out_w, raw_w, req_r, null, stdin, tty, size, hint, paths,
                              readable)
                body(protocol.Channel(3), 4 if requests else None)
                code = 0
            except BaseException:  # noqa: BLE001  (the child never unwinds into the parent's code)
                code = 70
            finally:
                os._exit(code)
        self.pid = pid
        for fd in (out_w, raw_w, null, req_r):
            if fd is not None:
                os.close(fd)
        self.fd, self.raw, self.req = out_r, raw_r, req_w

    # -- in the child --
    def _confine(self, out_w, raw_w, req_r, null, stdin, tty, size, hint, paths,
                 readable) -> None:
        """Descriptors 0-4, environment, signals, start-up, parent-death signal, the policy;
        then sys.stdout/sys.stderr go to the parent and (the command line) the first message
        says what applies.

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
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child; the parent says so
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        if size is not None:  # Rich sizes its output as the parent's terminal would
            os.environ.setdefault("COLUMNS", str(size.columns))
            os.environ.setdefault("LINES", str(size.lines))
        if paths is None:  # a command-line child starts up itself
            paths = start_up()
        if sys.platform.startswith("linux"):
            from gradcalc.isolate.libc import libc

            libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the parent
        if os.getppid() != parent:
            os._exit(70)
        protocol.IN_CHILD[:] = [self.policy, hint]
        applied = apply_policy(self.policy, (0, 1, 2, 3, 4), self.timeout,
                               readable=paths + tuple(readable), prepare=_prime)
        chan = protocol.Channel(3)
        out = protocol.Forward(chan, "out", tty,
                               getattr(sys.__stdout__, "encoding", "utf-8") or "utf-8")
        sys.stdout = out
        sys.stderr = protocol.Forward(chan, "err", _stream_tty(sys.__stderr__), "utf-8",
                                      other=out)
        out.other = sys.stderr
        if not self.library:
            from gradcalc.isolate.seccomp import filter_unavailable

            chan.send({"ready": {"unfiltered": None if applied.filter else filter_unavailable(),
                                 "landlock": applied.landlock}})

    # -- talking --
    def request(self, obj: dict) -> None:
        """Send one request line (a child that has ended is reported by `messages`)."""
        try:
            protocol.send(self.req, obj)
        except BrokenPipeError:
            pass

    def messages(self):
        """Each message of the child until it ends or `self.deadline` passes (then it is
        killed); the start-up message {"ready": ...} included."""
        import select

        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        if self.raw is not None:
            poller.register(self.raw, select.POLLIN | select.POLLHUP)
        while True:
            nl = self.buf.find(b"\n")
            while nl >= 0:
                msg = protocol.decode(bytes(self.buf[:nl]))
                del self.buf[:nl + 1]
                if msg is None:
                    self.kill()
                    raise EvalError("the isolated process sent an invalid message")
                if "ready" in msg:
                    self.started = True
                yield msg
                nl = self.buf.find(b"\n")
            if len(self.buf) > protocol.MESSAGE_LIMIT:
                self.kill()
                raise EvalError("the isolated process sent a message over "
                                f"{protocol.MESSAGE_LIMIT >> 20} MB")
            left = self.deadline - time.monotonic()
            ready = poller.poll(max(0, math.ceil(left * 1000))) if left > 0 else []
            if not ready:
                if time.monotonic() < self.deadline:
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

    # -- ending --
    def kill(self) -> None:
        """SIGKILL the child and reap it."""
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
        if timed_out and not self.started:
            return EvalError(f"the isolated process did not start within {STARTUP_SECONDS:g} s")
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
            words = SIGNAL_WORDS.get(sig, f"signal {signal.Signals(sig).name}"
                                     if sig in signal.Signals._value2member_map_ else
                                     f"signal {sig}")
            return EvalError(f"the isolated process crashed ({words})", **where)
        code = os.waitstatus_to_exitcode(status)
        return EvalError(f"the isolated process ended without a result (exit status {code})",
                         **where)

    def release(self) -> None:
        """End the child without waiting for the kernel to tear it down: SIGKILL, close the
        pipes; the next Child reaps it (or init, after this process)."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _RELEASED.append(self.pid)
            self.pid = 0
            for fd in (self.fd, self.raw, self.req):
                if fd is not None:
                    os.close(fd)
            self.fd = self.raw = self.req = None

    def close(self) -> None:
        """End the child if it still runs (and wait for it)."""
        if self.pid:
            self.kill()


def _reap_released() -> None:
    """Reap the released children that have ended."""
    for pid in list(_RELEASED):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0] != 0
        except ChildProcessError:
            done = True
        if done:
            _RELEASED.remove(pid)
