"""CLI layer: the interactive session (prompt_toolkit is imported here only).

History in the user's state directory, Up with prefix search and Ctrl-R, multi-line blocks,
Tab completion of names and of attributes of the value left of the dot, highlighting, inline
syntax errors, `:commands`. On a pipe the caller runs the script reader instead.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from gradcalc import cli

BANNER = "gradcalc {version}: PyTorch's autograd in a terminal. :help for help, Ctrl-D to quit."
COMMANDS = {
    ":help": ":help [NAME]   help on gradcalc, or on a function, method or name",
    ":vars": ":vars          the names you defined, with their type, shape and dtype",
    ":graph": ":graph NAME    the grad_fn graph behind NAME (variable names on the nodes);\n"
              "               --output g.svg|png|pdf draws it as a picture",
    ":plot": ":plot EXPR over x=A:B   a chart of EXPR and its derivative (--order N,\n"
             "               --points N, --output f.svg; x=A:B,y=C:D: a contour map)",
    ":trace": ":trace NAME    run NAME's backward pass step by step, as the engine does",
    ":reset": ":reset         forget every name (a fresh session)",
    ":history": ":history       the input history",
    ":quit": ":quit          leave (also Ctrl-D on an empty line)",
}
_ATTR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.([A-Za-z0-9_]*)$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
KEYWORDS = ["and", "or", "not", "if", "else", "elif", "for", "in", "while", "def", "return", "class",
            "with", "lambda", "None", "True", "False", "break", "continue", "pass", "del",
            "assert", "print", "import", "from", "is"]


def open_history(path: Path, warn):
    """prompt_toolkit history kept in the file at `path`. When the file cannot be created, read
    or written (a read-only home, a full disk, a directory in the way), the history goes on in
    memory for the session and `warn(message)` is called once."""
    from prompt_toolkit.history import FileHistory

    class FallbackHistory(FileHistory):
        """A FileHistory that turns into in-memory history at its first failure."""

        in_memory = False

        def __init__(self, filename: str):
            super().__init__(filename)
            self.at_start: list[str] | None = None  # the file's entries, newest first
            self.added: list[str] = []  # this session's, newest first

        def fail(self, what: str, e: OSError) -> None:
            if not self.in_memory:
                self.in_memory = True
                warn(f"gradcalc: warning: cannot {what} the history file {self.filename}: "
                     f"{e.strerror or e}; history is kept in memory for this session")

        def load_history_strings(self):
            if not self.in_memory and os.path.isfile(self.filename):  # not a device or FIFO
                try:
                    items = list(super().load_history_strings())
                except OSError as e:
                    self.fail("read", e)
                else:
                    if self.at_start is None:
                        self.at_start = items
                    return items
            return self.added + (self.at_start or [])

        def store_string(self, string: str) -> None:
            self.added.insert(0, string)
            if not self.in_memory:
                try:
                    super().store_string(string)
                except OSError as e:
                    self.fail("write", e)

    history = FallbackHistory(str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):  # can it be written at all? (a full disk shows only later)
            pass
    except OSError as e:
        history.fail("open", e)
    return history


def history_path(opts: dict | None = None) -> Path:
    """$XDG_STATE_HOME/gradcalc/history (default ~/.local/state/gradcalc/history)."""
    if opts and opts.get("history_file"):
        return Path(opts["history_file"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "gradcalc" / "history"


def builtin_names(session) -> list[str]:
    """Names the language offers: the session's own and the builtins registry."""
    return session.names()


def attributes_of(session, value: Any) -> list[str]:
    """Public attributes and methods of a value, through the sandbox's allow-list."""
    return session.attributes(value)


def lookup(session, dotted: str) -> Any:
    """The value of `a` or `a.b.c` without running any call (safe for completion)."""
    return session.lookup(dotted)


def completions(session, text: str) -> tuple[int, list[str]]:
    """(start offset back from the cursor, candidates) for the text before the cursor."""
    if text.startswith(":") and " " not in text:
        return len(text), sorted(c for c in COMMANDS if c.startswith(text))
    m = _ATTR.search(text)
    if m:
        try:
            value = lookup(session, m.group(1))
        except Exception:
            return 0, []
        prefix = m.group(2)
        return len(prefix), [a for a in attributes_of(session, value) if a.startswith(prefix)]
    m = _WORD.search(text)
    if not m or (m.start() > 0 and text[m.start() - 1] == "."):
        return 0, []
    prefix = m.group(0)
    names = set(session.namespace) | set(builtin_names(session)) | set(KEYWORDS)
    return len(prefix), sorted(n for n in names if n.startswith(prefix) and not n.startswith("__"))


def ready_to_run(text: str) -> bool:
    """Enter runs a complete statement; a block (def, for, if ...) ends with an empty line."""
    stripped = text.strip()
    if not stripped or stripped.startswith(":"):
        return True
    if cli._BLOCK.match(stripped):
        last = text.split("\n")[-1]
        return "\n" in text and not last.strip() and cli.parses(text)
    return cli.parses(text)


def error_offset(text: str, line: int | None, column: int | None) -> int:
    if line is None:
        return len(text)
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: max(line - 1, 0)])
    return min(offset + max((column or 1) - 1, 0), len(text))


class Repl:
    """One interactive session: a language Session plus the `:commands` around it."""

    def __init__(self, opts: dict, out=None, err=None):
        self.opts = opts
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.session = self.new_session()

    def new_session(self):
        return cli.make_session(self.opts, echo=True, write=lambda text: self.out.write(text))

    def write(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def execute(self, text: str, source: str = "<stdin>") -> bool:
        """Run one submitted input; returns False when the session should end."""
        from gradcalc.errors import GradcalcError

        stripped = text.strip()
        if not stripped:
            return True
        if stripped.startswith(":"):
            return self.command(stripped)
        from gradcalc.lang.runtime import ScriptWarnings

        no_echo = getattr(cli._lang(), "NO_ECHO", None)
        try:
            with ScriptWarnings(self.warn):
                for stmt in self.session.statements(text, source):
                    value = self.session.execute(stmt)
                    if value is not no_echo and value is not None:
                        self.write(repr(value))
                        self.session.namespace["_"] = value
        except GradcalcError as e:
            self.out.flush()
            self.err.write(e.format() + "\n")
            self.err.flush()
        except KeyboardInterrupt:
            self.err.write("KeyboardInterrupt\n")
        except Exception as e:  # a bug: report it, keep the session
            if self.opts.get("debug"):
                import traceback

                traceback.print_exc(file=self.err)
            self.err.write(f"internal error: {type(e).__name__}: {e}\n")
        return True

    def warn(self, w) -> None:
        """A warning raised by the entry: positioned, on stderr; the entry goes on."""
        self.out.flush()
        self.err.write(w.format() + "\n")
        self.err.flush()

    # -- :commands -------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in (":quit", ":q", ":exit"):
            return False
        handler = {
            ":help": self.cmd_help, ":vars": self.cmd_vars, ":graph": self.cmd_graph,
            ":plot": self.cmd_plot,
            ":trace": self.cmd_trace, ":reset": self.cmd_reset, ":history": self.cmd_history,
        }.get(name)
        if handler is None:
            self.err.write(f"unknown command {name}; try :help\n")
            return True
        handler(arg)
        return True

    def cmd_help(self, arg: str) -> None:
        if not arg:
            self.write("Type a statement and press Enter; a block (def, for, if ...) ends with an "
                       "empty line.\n" + "\n".join(COMMANDS.values())
                       + "\nKeys: Tab completes, Up searches history by prefix, Ctrl-R searches it, "
                         "Ctrl-C clears the line, Ctrl-D quits.")
            return
        fn = getattr(self.session, "help", None)
        text = None
        if callable(fn):
            try:
                text = fn(arg)
            except Exception:
                text = None
        if text is None:
            try:
                value = lookup(self.session, arg)
            except Exception:
                self.err.write(f"no help for {arg!r}: not a known name\n")
                return
            text = (getattr(value, "__doc__", None) or f"{arg}: {type(value).__name__}").strip()
        self.write(text)

    def cmd_vars(self, arg: str) -> None:
        from gradcalc.render.values import dtype_name, is_tensor, shape_str

        rows = []
        for name, value in self.session.namespace.items():
            if name.startswith("__") or name == "_" and arg != "all":
                continue
            if callable(getattr(self.session, "is_user_name", None)) and not self.session.is_user_name(name):
                continue
            if is_tensor(value):
                extra = " requires_grad" if getattr(value, "requires_grad", False) else ""
                gf = getattr(value, "grad_fn", None)
                extra += f" grad_fn={gf.name()}" if gf is not None else ""
                rows.append(f"{name}  tensor {shape_str(value.shape)} {dtype_name(value.dtype)}{extra}")
            else:
                rows.append(f"{name}  {type(value).__name__}")
        self.write("\n".join(rows) if rows else "(no names yet)")

    def _value(self, arg: str):
        from gradcalc.errors import GradcalcError

        if not arg:
            self.err.write("expected a name, as in :graph z\n")
            return None
        try:
            return self.session.evaluate(arg)
        except GradcalcError as e:
            self.err.write(e.format() + "\n")
            return None

    def cmd_graph(self, arg: str) -> None:
        from gradcalc.errors import GradcalcError

        try:
            arg, options = picture_options(arg, ("--output", "--saved"))
        except GradcalcError as e:
            self.err.write(e.format() + "\n")
            return
        value = self._value(arg)
        if value is None:
            return
        from gradcalc.render.graph import build_graph, graph_text

        model = build_graph(value, self.session.labels(), saved="--saved" in options)
        if "--output" in options:
            from gradcalc.render.graph_image import graph_figure

            self.picture(lambda: graph_figure(model, title=arg), options["--output"])
            return
        if cli.use_rich({}, self.out):
            from gradcalc.render.richview import graph_tree

            cli.rich_console().print(graph_tree(model))
        else:
            self.write(graph_text(model))

    def cmd_plot(self, arg: str) -> None:
        from gradcalc import plotting
        from gradcalc.errors import GradcalcError
        from gradcalc.render import plot as rp

        m = re.match(r"(.+?)\s+over\s+(\S+)(.*)$", arg)
        if m is None:
            self.err.write("expected :plot EXPR over x=A:B (or x=A:B,y=C:D), as in "
                           ":plot sin(x) over x=-3:3\n")
            return
        expr, over = m.group(1), m.group(2)
        try:
            _, options = picture_options(m.group(3), ("--output", "--order", "--points"))
            result = plotting.plot_expression(
                self.session, expr, over, order=_int_option(options, "--order"),
                points=_int_option(options, "--points"))
        except GradcalcError as e:
            self.err.write(e.format() + "\n")
            return
        if "--output" in options:
            field = isinstance(result, plotting.Field)
            self.picture(lambda: rp.field_figure(result) if field else rp.curve_figure(result),
                         options["--output"])
        elif isinstance(result, plotting.Field):
            self.err.write("a plot of two inputs is a picture: add --output FILE.svg|png|pdf\n")
        else:
            self.write(cli.plot_chart(result, color=cli.use_rich({}, self.out)))

    def picture(self, figure, output: str) -> None:
        """Draw `figure()` into the file `output` (its extension names the format)."""
        from gradcalc.errors import GradcalcError
        from gradcalc.render import plot as rp

        try:
            fmt = rp.file_format(output)
            cli.write_picture(figure(), output, fmt, rp.save_figure)
        except GradcalcError as e:
            self.err.write(e.format() + "\n")
            return
        self.write(f"wrote {output}")

    def cmd_trace(self, arg: str) -> None:
        value = self._value(arg)
        if value is None:
            return
        from gradcalc import api
        from gradcalc.errors import GradcalcError
        from gradcalc.render.report import trace_text

        if not api.is_tensor(value) or not value.requires_grad:
            self.err.write(f"{arg} does not require grad: there is no backward pass to show\n")
            return
        try:
            steps, grads = api.trace(value, self.session.labels())
        except GradcalcError as e:
            self.err.write(e.format() + "\n")
            return
        if cli.use_rich({}, self.out):
            from gradcalc.render.richview import trace_tree

            cli.rich_console().print(trace_tree(steps, grads))
        else:
            self.write(trace_text(steps, grads))

    def cmd_reset(self, arg: str) -> None:
        self.session = self.new_session()
        self.write("(a fresh session)")

    def cmd_history(self, arg: str) -> None:
        history = getattr(self, "history", None)
        items = list(history.load_history_strings())[::-1] if history is not None else []
        self.write("\n".join(f"{i:4}  {s}" for i, s in enumerate(items, 1)) or "(no history)")


def picture_options(text: str, known: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Split `z --output z.svg --saved` into ('z', {'--output': 'z.svg', '--saved': ''})."""
    from gradcalc.errors import UsageError

    head, options = text, {}
    m = re.search(r"\s--[a-z]", " " + text)
    if m is not None:
        head, rest = text[: max(m.start() - 1, 0)], text[max(m.start() - 1, 0):].split()
        i = 0
        while i < len(rest):
            name = rest[i]
            if name not in known:
                raise UsageError(f"unknown option {name}; expected {', '.join(known)}")
            if name == "--saved":
                options[name], i = "", i + 1
                continue
            if i + 1 >= len(rest):
                raise UsageError(f"{name} needs a value")
            options[name], i = rest[i + 1], i + 2
    return head.strip(), options


def _int_option(options: dict[str, str], name: str) -> int | None:
    from gradcalc.errors import UsageError

    if name not in options:
        return None
    try:
        return int(options[name])
    except ValueError:
        raise UsageError(f"{name}: expected a whole number, got {options[name]!r}") from None


def _prompt_session(repl: Repl, opts: dict, input=None, output=None):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.validation import ValidationError, Validator
    from pygments.lexers.python import PythonLexer

    class LangCompleter(Completer):
        def get_completions(self, document, complete_event):
            back, items = completions(repl.session, document.text_before_cursor)
            for item in items:
                yield Completion(item, start_position=-back)

    class LangValidator(Validator):
        def validate(self, document):
            from gradcalc.errors import IncompleteInput, ParseError

            text = document.text
            if not text.strip() or text.strip().startswith(":"):
                return
            try:
                cli._lang().parse(text, "<stdin>")
            except IncompleteInput:
                return
            except ParseError as e:
                raise ValidationError(cursor_position=error_offset(text, e.line, e.column),
                                      message=e.message) from None

    repl.history_warnings = []  # shown by run_repl between prompts
    history = repl.history = open_history(history_path(opts), repl.history_warnings.append)

    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event):
        buf = event.current_buffer
        state = buf.complete_state
        if state is not None and state.current_completion is not None:
            buf.apply_completion(state.current_completion)
            return
        if ready_to_run(buf.text):
            buf.validate_and_handle()
            return
        line = buf.document.current_line
        indent = line[: len(line) - len(line.lstrip())]
        if line.rstrip().endswith(":"):
            indent += "    "
        buf.insert_text("\n" + indent)

    @keys.add("escape", "enter")
    def _force(event):
        event.current_buffer.validate_and_handle()

    return PromptSession(
        message=">>> ",
        multiline=True,
        prompt_continuation=lambda width, line_number, is_soft_wrap: "... ",
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        enable_history_search=True,
        completer=LangCompleter(),
        complete_while_typing=False,
        lexer=PygmentsLexer(PythonLexer),
        validator=LangValidator(),
        validate_while_typing=True,
        key_bindings=keys,
        input=input,
        output=output,
    )


def run_repl(opts: dict, input=None, output=None) -> int:
    """The interactive loop; with stdin not a terminal, read it as a script instead."""
    if input is None and not (sys.stdin and sys.stdin.isatty()):
        return cli.cmd_run({**cli.defaults("run"), **{k: v for k, v in opts.items() if k in ("dtype", "precision", "debug")}})
    repl = Repl(opts)
    prompt = _prompt_session(repl, opts, input=input, output=output)
    repl.write(BANNER.format(version=cli.version()))
    while True:
        _show_history_warnings(repl)
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        _show_history_warnings(repl)
        if not repl.execute(text):
            return 0


def _show_history_warnings(repl: Repl) -> None:
    for message in repl.history_warnings:
        repl.err.write(message + "\n")
        repl.err.flush()
    repl.history_warnings.clear()
