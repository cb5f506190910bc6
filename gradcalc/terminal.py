"""CLI layer: the terminal side of output — Rich or plain text (NO_COLOR, FORCE_COLOR,
TTY_COMPATIBLE), stdout whose reader may go away, messages on stderr, pictures written to files.

Shared by the command line (gradcalc.cli) and the REPL (gradcalc.repl), so neither imports the
other. Rich and matplotlib are imported only by the functions that draw.
"""

from __future__ import annotations

import os
import sys


def usage(message: str):
    """A UsageError (exit 2) in gradcalc's form, `gradcalc: error: MESSAGE`."""
    from gradcalc.errors import UsageError

    return UsageError(f"gradcalc: error: {message}")


def error_text(e) -> str:
    """A GradcalcError as the user reads it: `where:line:col: message` with the line and a
    caret, or `gradcalc: error: message` for a usage error."""
    from gradcalc.errors import UsageError

    text = e.format()
    if isinstance(e, UsageError) and e.line is None and not text.startswith("gradcalc: "):
        text = f"gradcalc: error: {text}"
    return text


def write_error(text: str) -> None:
    """Write one message (a line, or a positioned error) to stderr."""
    stream = sys.stderr
    stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()


def flush_stdout() -> None:
    """Flush stdout, ignoring a reader that went away."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass


class OutputClosed(BaseException):
    """stdout's reader went away (EPIPE, as `gradcalc run big.gc | head`): the command ends
    quietly. A BaseException, so that script code running a `print` cannot report it."""


def write_out(text: str) -> None:
    """Write to stdout (the sink of scripts' output); a closed pipe raises OutputClosed."""
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise OutputClosed from None


def silence_stdout() -> None:
    """Python's recipe for EPIPE: /dev/null over stdout's descriptor, so that the flush at exit
    (of what is still buffered) cannot fail again and print 'Exception ignored'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def use_rich(opts: dict, stream=None) -> bool:
    """Rich only on a terminal: never with --plain/--json, NO_COLOR, or a pipe."""
    if opts.get("plain") or opts.get("json"):
        return False
    if os.environ.get("NO_COLOR"):
        return False
    forced = os.environ.get("TTY_COMPATIBLE")
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def rich_console(stderr: bool = False):
    """A Rich console that wraps long lines (never crops) and highlights nothing itself."""
    from rich.console import Console

    return Console(highlight=False, stderr=stderr)


def write_file(path: str, data: bytes) -> None:
    """Write `data` to the file `path`; an OSError is a usage error naming the file."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise usage(f"cannot write {path!r}: {e.strerror or e}") from None


def write_picture(fig, output: str | None, fmt: str, save) -> int:
    """Save a matplotlib figure to `output`, or to stdout (binary formats only on a pipe)."""
    import io

    if output is None and fmt != "svg" and sys.stdout.isatty():
        raise usage(f"{fmt} is binary: give --output FILE.{fmt} (or pipe stdout to a file)")
    buf = io.BytesIO()
    save(fig, buf, fmt)
    if output is None:
        flush_stdout()
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.flush()
    else:
        write_file(output, buf.getvalue())
    return 0


def plot_chart(curve, *, color: bool, stream=None) -> str:
    """The terminal chart of a curve, sized to the terminal; the sampled table without plotext."""
    import shutil

    from gradcalc.render import plot as rp

    if not rp.have_plotext():
        write_error(f"gradcalc: note: a terminal chart needs `{rp.EXTRA_HINT}`; "
                    "showing the sampled table")
        return rp.curve_table(curve)
    size = shutil.get_terminal_size((80, 24))
    width = max(40, size.columns)
    height = max(12, min(size.lines - 2, 30))
    return rp.curve_chart(curve, width=width, height=height, color=color)
