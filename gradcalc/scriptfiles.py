"""CLI layer: the files a script may write, only where the user grants it (`--allow-files DIR`).

A script names files in the granted directory by a plain name (no path), checked before
anything is written, and each is opened relative to that directory without following a
symbolic link. Without a grant, each such builtin refuses in one line naming the flag.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable

from gradcalc.errors import GradcalcTypeError, SecurityError, UsageError

FLAG = "--allow-files DIR"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
PICTURES = ("svg", "png", "pdf")


class FileGrant:
    """A directory scripts may write into; `open(name)` takes a plain file name only."""

    def __init__(self, directory: str):
        if not os.path.isdir(directory):
            raise UsageError(f"gradcalc: error: --allow-files: {directory!r} is not a directory")
        self.directory = directory

    def check(self, name, what: str, suffixes: tuple[str, ...] | None) -> str:
        """`name` if it is a plain file name ending in one of `suffixes` (None: any), else
        SecurityError."""
        if not isinstance(name, str):
            raise GradcalcTypeError(f"{what}: the file name must be a string, got "
                                    f"{type(name).__name__}")
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if not _NAME.fullmatch(name) or ".." in name or (suffixes is not None
                                                          and ext not in suffixes):
            ending = "" if suffixes is None else " ending in " + ", ".join(
                f".{s}" for s in suffixes)
            raise SecurityError(
                f"{what}: {name!r} is not a plain file name{ending} (files go into the "
                f"--allow-files directory, {self.directory!r})")
        return name

    def open(self, name: str):
        """A binary file object for `name` in the granted directory (never through a link)."""
        cloexec = getattr(os, "O_CLOEXEC", 0)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | cloexec
        try:
            dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | cloexec)
            try:
                fd = os.open(name, flags, 0o644, dir_fd=dfd)
            finally:
                os.close(dfd)
        except OSError as e:
            raise SecurityError(f"cannot write {name!r} in {self.directory!r}: "
                                f"{e.strerror or e}") from None
        return os.fdopen(fd, "wb")

    def open_read(self, name: str, what: str):
        """A binary file object reading `name` in the granted directory (never through a link)."""
        cloexec = getattr(os, "O_CLOEXEC", 0)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | cloexec
        try:
            dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | cloexec)
            try:
                fd = os.open(name, flags, dir_fd=dfd)
            finally:
                os.close(dfd)
        except FileNotFoundError:
            raise GradcalcTypeError(f"{what}: [Errno 2] No such file or directory: {name!r} "
                                    f"(in {self.directory!r})") from None
        except OSError as e:
            raise SecurityError(f"cannot read {name!r} in {self.directory!r}: "
                                f"{e.strerror or e}") from None
        return os.fdopen(fd, "rb")


def refusal(what: str, verb: str = "write") -> SecurityError:
    """The one-line refusal of a file builtin without a grant."""
    return SecurityError(f"{what}: scripts may not {verb} files unless you allow it: run with "
                         f"{FLAG} to let them {verb} {'into' if verb == 'write' else 'in'} DIR")


def checkpoint_builtins(grant: FileGrant) -> tuple[Callable, Callable]:
    """`torch.save(obj, name)` and `torch.load(name)` for scripts, in the granted directory
    (gradcalc/serialization.py: tensors and state_dicts, a format that cannot run code)."""

    def save(obj, f, *args, **kwargs):
        from gradcalc import serialization

        name = grant.check(f, "torch.save()", None)
        buf = io.BytesIO()
        serialization.save(obj, buf)  # refuses what it cannot save before a file exists
        with grant.open(name) as fh:
            fh.write(buf.getvalue())

    def load(f, map_location=None, *args, weights_only=None, **kwargs):
        from gradcalc import serialization

        name = grant.check(f, "torch.load()", None)
        with grant.open_read(name, "torch.load()") as fh:
            return serialization.load(fh, map_location)

    return save, load


def grant_checkpoints(session, grant: FileGrant) -> None:
    """Hand a script torch.save and torch.load in `grant`'s directory."""
    save, load = checkpoint_builtins(grant)
    session.registry.grant("torch.save", save)
    session.registry.grant("torch.load", load)


def save_graph_builtin(session, grant: FileGrant | None) -> Callable:
    """`save_graph(t, "g.svg")`: a picture of the graph behind tensor `t` (svg, png or pdf).

    Granting it with a directory grants torch.save and torch.load there too (one --allow-files
    DIR lets a script write its pictures and checkpoints)."""
    if grant is not None:
        grant_checkpoints(session, grant)

    def save_graph(t, name, *, saved=False):
        import gradcalc

        if grant is None:
            raise refusal("save_graph()")
        if not isinstance(t, gradcalc.Tensor):
            raise GradcalcTypeError(f"save_graph(): expected a tensor, got {type(t).__name__}")
        name = grant.check(name, "save_graph()", PICTURES)
        from gradcalc.render.graph import build_graph
        from gradcalc.render.graph_image import graph_figure
        from gradcalc.render.plot import save_figure

        figure = graph_figure(build_graph(t, session.labels(), saved=bool(saved)))
        with grant.open(name) as f:
            save_figure(figure, f, name.rsplit(".", 1)[-1].lower())

    return save_graph
