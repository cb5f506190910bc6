"""Isolation layer: the library's isolated mode, `Session(..., isolate=True)`: one confined child
per session holds the script's names; text goes to it, JSON lines come back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from gradcalc.errors import EvalError, GradcalcError, Interrupted, LimitError
from gradcalc.isolate import landlock, protocol, seccomp
from gradcalc.isolate.child import Child
from gradcalc.isolate.policy import GRACE_SECONDS, Isolation


class Echoed:
    """An echoed value that stayed in the isolated child: its repr and its JSON form."""

    __slots__ = ("json", "text")

    def __init__(self, text: str, json: Any):
        self.text, self.json = text, json

    def __repr__(self) -> str:
        return self.text


def _warn(text: str) -> None:
    import warnings

    warnings.warn(text, RuntimeWarning, stacklevel=4)


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
        why = seccomp.filter_unavailable()
        self.filtered = why is None
        if why is not None:
            _warn(f"Session(isolate=True) without the syscall filter ({why}); "
                  "only the OS limits apply")
        if sys.platform.startswith("linux") and landlock.abi() == 0:
            _warn("Session(isolate=True) without Landlock (the kernel has none): the child "
                  "may read any file its user can")
        self._budget = self.isolation.wall_seconds(self.limits.timeout)
        self._used = 0.0
        self._over: GradcalcError | None = None
        self._child = Child(self._serve, self.isolation, self.limits.timeout, stdin=False,
                            requests=True, source=None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        child = getattr(self, "_child", None)
        if child is not None:
            child.release()

    def close(self) -> None:
        """End the child process (the session's names go with it): SIGKILL, without waiting
        for the kernel to tear it down (the next isolated child reaps it)."""
        self._child.release()
        if self._over is None:
            self._over = EvalError("the isolated session is closed")

    def run(self, text: str, source: str = "<input>", on_echo: Callable | None = None,
            keep_going: bool = False) -> list[GradcalcError]:
        """Run a whole text in the child; as Session.run (errors returned with keep_going)."""
        if self._over is not None:
            raise protocol.error_from_json(protocol.error_json(self._over))
        child = self._child
        child.request({"run": text, "source": source, "keep_going": bool(keep_going),
                       "echo_values": on_echo is not None})
        t0 = time.monotonic()
        # with a timeout of its own the child reports it, positioned, before the kill
        grace = GRACE_SECONDS if self.limits.timeout is not None else 0.0
        child.deadline = t0 + self._budget - self._used + grace
        try:
            for msg in child.messages():
                if "out" in msg and isinstance(msg["out"], str):
                    self.write(msg["out"])
                elif "echo" in msg and isinstance(msg["echo"], str) and on_echo is not None:
                    on_echo(Echoed(msg["echo"], msg.get("value")))
                elif "done" in msg and isinstance(msg["done"], list):
                    return [protocol.error_from_json(d) for d in msg["done"]]
                elif "error" in msg:
                    raise protocol.error_from_json(msg["error"])
                else:
                    child.kill()
                    raise EvalError("the isolated process sent an invalid message")
        except GradcalcError as e:
            if not child.pid:  # the child is gone: so is the session
                self._over = e
            raise
        except BaseException:
            child.kill()
            self._over = Interrupted("interrupted")
            raise
        finally:
            self._used += time.monotonic() - t0
        raise AssertionError("unreachable: messages() ends by raising")

    def _serve(self, chan: protocol.Channel, requests: int) -> None:
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
                errors = protocol.confined(session.run, req["run"], req["source"], on_echo,
                                           req["keep_going"])
            except GradcalcError as e:
                chan.send({"error": protocol.error_json(e)})
                continue
            errors = [protocol.memory_error(e) if isinstance(e, LimitError)
                      and protocol.from_memory(e) else e for e in errors]
            chan.send({"done": [protocol.error_json(e) for e in errors]})
