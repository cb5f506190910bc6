"""Errors: one hierarchy for the whole tool; each class carries its exit code.

Where PyTorch raises a built-in exception (RuntimeError, TypeError, IndexError,
ValueError) the gradcalc class also derives from it, so `except RuntimeError`
in ordinary PyTorch code still works with `import gradcalc as torch`.
"""

from __future__ import annotations


class GradcalcError(Exception):
    """Base of every error gradcalc reports to a user (exit code 1)."""

    exit_code = 1

    def __init__(
        self,
        message: str = "",
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
        source_line: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        self.source_line = source_line

    def __str__(self) -> str:
        return self.message

    def locate(self, *, source=None, line=None, column=None, source_line=None) -> "GradcalcError":
        """Fill in a position if none is known yet; returns self."""
        if self.line is None:
            self.source = source if source is not None else self.source
            self.line, self.column, self.source_line = line, column, source_line
        elif self.source is None:
            self.source = source
        return self

    def format(self) -> str:
        """`where:line:col: message`, the source line and a caret (plain text)."""
        head = self.message
        if self.line is not None:
            where = self.source or "<input>"
            col = self.column if self.column is not None else 1
            head = f"{where}:{self.line}:{col}: {self.message}"
            if self.source_line is not None:
                text = self.source_line.rstrip("\n")
                return f"{head}\n    {text}\n    {caret_padding(text[:col - 1])}^"
        elif self.source:
            head = f"{self.source}: {self.message}"
        return head


def caret_padding(before: str) -> str:
    """What goes under `before` so that a caret after it lands under the next character on a
    terminal: a tab for a tab, two spaces for a wide (East Asian) character, none for a
    combining mark, a space for anything else."""
    if before.isascii():
        return "".join("\t" if ch == "\t" else " " for ch in before)
    import unicodedata

    out = []
    for ch in before:
        if ch == "\t":
            out.append("\t")
        elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        else:
            out.append("  " if unicodedata.east_asian_width(ch) in ("W", "F") else " ")
    return "".join(out)


class ParseError(GradcalcError, SyntaxError):
    """The text is not valid gradcalc (syntax)."""

    def __init__(self, message: str = "", **kw):
        GradcalcError.__init__(self, message, **kw)

    def __str__(self) -> str:
        return self.message


class IncompleteInput(ParseError):
    """The text ended inside an open block or bracket (the REPL keeps reading)."""


class NameNotFound(GradcalcError, NameError):
    """An unknown name; carries close matches for 'did you mean'."""

    def __init__(self, name: str, matches=(), message: str | None = None, **kw):
        if message is None:
            message = f"name '{name}' is not defined"
            if matches:
                message += f"; did you mean '{matches[0]}'?"
        GradcalcError.__init__(self, message, **kw)
        self.name = name
        self.matches = list(matches)


class AttributeNotFound(GradcalcError, AttributeError):
    """An unknown or forbidden attribute."""


class EvalError(GradcalcError, RuntimeError):
    """A runtime error in a script that is not one of the more specific kinds."""


class TorchRuntimeError(GradcalcError, RuntimeError):
    """An error PyTorch reports as RuntimeError."""


class ShapeError(TorchRuntimeError):
    """Shapes that do not fit an op (broadcasting, matmul, view)."""


class GradError(TorchRuntimeError):
    """Misuse of autograd (backward on a non-scalar, freed graph, in-place on a leaf)."""


class DeviceError(TorchRuntimeError):
    """Mixed devices, or a device that is not available here."""


class DTypeError(TorchRuntimeError):
    """A dtype an op cannot take."""


class GradcalcTypeError(GradcalcError, TypeError):
    """Wrong argument types (PyTorch raises TypeError)."""


class GradcalcValueError(GradcalcError, ValueError):
    """Wrong argument values (PyTorch raises ValueError)."""


class GradcalcIndexError(GradcalcError, IndexError):
    """Index out of range (PyTorch raises IndexError)."""


class GradcalcNotImplementedError(GradcalcError, NotImplementedError):
    """A kernel PyTorch lacks for a dtype ('"round_cpu" not implemented for 'Long'')."""


class LimitError(GradcalcError):
    """A safety limit was hit: tensor size, recursion depth, time.

    `limit` names the `Limits` field that was hit (`max_elements`, `max_recursion`,
    `max_iterations`), if raising it would help; the Session then adds how to raise it.
    """

    def __init__(self, message: str = "", *, limit: str | None = None, **kw):
        super().__init__(message, **kw)
        self.limit = limit
        self.hinted = False

    def add_hint(self, how: str | None) -> LimitError:
        """Append '(raise it with HOW)' once."""
        if how and self.limit and not self.hinted:
            self.message = f"{self.message} (raise it with {how})"
            self.args = (self.message,)
            self.hinted = True
        return self


class SecurityError(GradcalcError):
    """A script tried to reach something outside the sandbox."""


class UsageError(GradcalcError):
    """Bad command-line usage (exit code 2)."""

    exit_code = 2


class Interrupted(GradcalcError):
    """Ctrl-C (exit code 130)."""

    exit_code = 130
