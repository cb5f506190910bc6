"""Isolation layer: what passes between an isolated child and its parent: JSON lines only (text
written, echoed values, errors as plain fields), and the child's errors named after its limits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from gradcalc.errors import EvalError, GradcalcError, LimitError

#: the longest message the parent accepts from the child, in bytes (a longer one is refused)
MESSAGE_LIMIT = 64 << 20
#: the child sends output in messages of at most this many characters
CHUNK = 1 << 20

IN_CHILD: list = []  # [Isolation, how to raise its memory limit] in an isolated child


def send(fd: int, obj: dict) -> None:
    """Write `obj` to `fd` as one JSON line."""
    view = memoryview((json.dumps(obj) + "\n").encode("ascii"))
    while view:
        view = view[os.write(fd, view):]


class Channel:
    """JSON lines to the parent over one pipe."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, obj: dict) -> None:
        """One message."""
        send(self.fd, obj)


class Forward:
    """A text stream of the child (sys.stdout, sys.stderr) whose text goes to the parent."""

    def __init__(self, channel: Channel, key: str, tty: bool, encoding: str, other=None):
        self.channel, self.key, self.tty, self.encoding = channel, key, tty, encoding
        self.errors, self.other, self.parts, self.size = "strict", other, [], 0

    def write(self, text: str) -> int:
        """Buffer `text` (sent at flush, or once CHUNK characters are waiting)."""
        if self.other is not None and self.other.parts:
            self.other.flush()  # keep stdout and stderr in the order they were written
        self.parts.append(text)
        self.size += len(text)
        if self.size >= CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        """Send what is buffered."""
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


def decode(line: bytes) -> dict | None:
    """A message of the child, or None when `line` is not one (one key, or an echo)."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    if not isinstance(msg, dict) or len(msg) != 1 and "echo" not in msg:
        return None
    return msg


# ---- errors as JSON ----------------------------------------------------------------------

def error_json(e: GradcalcError) -> dict:
    """A GradcalcError as plain fields."""
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


def error_from_json(d: Any) -> GradcalcError:
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


# ---- out of memory in the child ------------------------------------------------------------

def memory_error(e: BaseException | None = None) -> LimitError:
    """The LimitError of an allocation the address-space limit refused (positioned like e)."""
    policy, hint = IN_CHILD
    err = LimitError(policy.memory_message(hint))
    if isinstance(e, GradcalcError) and e.line is not None:
        err.locate(source=e.source, line=e.line, column=e.column, source_line=e.source_line)
    return err


def from_memory(e: BaseException) -> bool:
    """Whether `e` reports a MemoryError (the Session turns one into a LimitError)."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, MemoryError):
            return True
        e, seen = e.__context__, seen + 1
    return False


def confined(fn: Callable, *args):
    """fn(*args) in the child, its out-of-memory errors named after the address-space limit."""
    try:
        return fn(*args)
    except GradcalcError as e:
        if isinstance(e, LimitError) and from_memory(e):
            raise memory_error(e) from None
        raise
    except MemoryError:
        raise memory_error() from None
