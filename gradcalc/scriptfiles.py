"""CLI layer: the files a script may write, only where the user grants it (`--allow-files DIR`).

A script names files in the granted directory by a plain name (no path), checked before
anything is written, and each is opened relative to that directory without following a
symbolic link. Without a grant, each such builtin refuses in one line naming the flag.
"""

from __future__ import annotations

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

    def check(self, name, what: str, suffixes: tuple[str, ...]) -> str:
        """`name` if it is a plain file name ending in one of `suffixes`, else SecurityError."""
        if not isinstance(name, str):
            raise GradcalcTypeError(f"{what}: the file name must be a string, got "
                                    f"{type(name).__name__}")
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if not _NAME.fullmatch(name) or ".." in name or ext not in suffixes:
            raise SecurityError(
                f"{what}: {name!r} is not a plain file name ending in "
                + ", ".join(f".{s}" for s in suffixes)
                + f" (files go into the --allow-files directory, {self.directory!r})")
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


def refusal(what: str) -> SecurityError:
    """The one-line refusal of a file-writing builtin without a grant."""
    return SecurityError(f"{what}: scripts may not write files unless you allow it: run with "
                         f"{FLAG} to let them write into DIR")


def save_graph_builtin(session, grant: FileGrant | None) -> Callable:
    """`save_graph(t, "g.svg")`: a picture of the graph behind tensor `t` (svg, png or pdf)."""

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
