"""CLI layer: the interactive session (prompt_toolkit is imported here only).

History in the user's state directory, Up with prefix search and Ctrl-R, multi-line blocks,
Tab completion of names and of attributes of the value left of the dot, highlighting in a
theme that reads on dark and light terminals, optional Vi keys, inline syntax errors,
`:commands`, `Out[n]`. Everything about the language goes through the Session's front-end API
(names, lookup, attributes, help, is_complete, syntax_error, variables, bind).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradcalc.sessions import make_session
from gradcalc.terminal import plot_chart, rich_console, use_rich, write_picture

BANNER = "gradcalc {version}: PyTorch's autograd in a terminal. :help, Ctrl-D to quit."
COMMANDS = {
    ":help": ":help [NAME]   help on gradcalc, or on a function, method or name; help(NAME)",
    ":vars": ":vars          the names you defined, with their type, shape and dtype",
    ":graph": ":graph NAME    the grad_fn graph behind NAME (variable names on the nodes);\n"
              "               --output g.svg|png|pdf draws it as a picture",
    ":plot": ":plot EXPR over x=A:B   a chart of EXPR and its derivative (--order N,\n"
             "               --points N, --output f.svg; x=A:B,y=C:D: a contour map)",
    ":trace": ":trace NAME    run NAME's backward pass step by step, as the engine does",
    ":out": ":out           the values echoed so far: Out[n] or _n is the n-th, _ the last",
    ":reset": ":reset         forget every name (a fresh session)",
    ":history": ":history       the input history",
    ":quit": ":quit          leave (also exit, quit(), Ctrl-D on an empty line)",
}
_ATTR = re.compile(r"([^\W\d]\w*(?:\.[^\W\d]\w*)*)\.(\w*)$")
_WORD = re.compile(r"[^\W\d]\w*$")
_LEAVE = re.compile(r"(exit|quit)(\(\s*\))?")
_HELP = re.compile(r"help(?:\(\s*(?:(['\"]?)([^\W\d][\w.]*)\1)?\s*\))?")
KEYWORDS = ["and", "or", "not", "if", "else", "elif", "for", "in", "while", "def", "return", "class",
            "with", "lambda", "None", "True", "False", "break", "continue", "pass", "del",
            "assert", "print", "import", "from", "is"]
#: --colors: 'auto' uses the terminal's own ANSI palette (it reads on any background)
COLOR_CHOICES = ("auto", "dark", "light", "none")
_ANSI_THEME = {
    "pygments.keyword": "ansimagenta bold",
    "pygments.name.builtin": "ansicyan",
    "pygments.name.function": "ansiblue",
    "pygments.name.class": "ansiblue bold",
    "pygments.literal.string": "ansigreen",
    "pygments.literal.number": "ansiyellow",
    "pygments.comment": "ansibrightblack italic",
    "pygments.operator.word": "ansimagenta",
}
#: Pygments styles made for each background
_PYGMENTS_THEMES = {"dark": "monokai", "light": "default"}


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


def completions(session, text: str) -> tuple[int, list[str]]:
    """(start offset back from the cursor, candidates) for the text before the cursor."""
    if text.startswith(":") and " " not in text:
        return len(text), sorted(c for c in COMMANDS if c.startswith(text))
    m = _ATTR.search(text)
    if m:
        try:
            value = session.lookup(m.group(1))
        except KeyError:
            return 0, []
        prefix = m.group(2)
        return len(prefix), [a for a in session.attributes(value) if a.startswith(prefix)]
    m = _WORD.search(text)
    if not m or (m.start() > 0 and text[m.start() - 1] == "."):
        return 0, []
    prefix = m.group(0)
    names = set(session.names()) | set(KEYWORDS)
    return len(prefix), sorted(n for n in names if n.startswith(prefix) and not n.startswith("__"))


def error_offset(text: str, line: int | None, column: int | None) -> int:
    """The offset in `text` of a 1-based line and column (the end when there is no line)."""
    if line is None:
        return len(text)
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: max(line - 1, 0)])
    return min(offset + max((column or 1) - 1, 0), len(text))


def wants_vi(opts: dict) -> bool:
    """--vi, or `set editing-mode vi` in readline's init file ($INPUTRC, ~/.inputrc)."""
    if opts.get("vi"):
        return True
    path = os.environ.get("INPUTRC") or os.path.join(os.path.expanduser("~"), ".inputrc")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(65536)
    except OSError:
        return False
    modes = re.findall(r"^\s*set\s+editing-mode\s+(\w+)", text, re.MULTILINE)
    return bool(modes) and modes[-1] == "vi"


def color_choice(opts: dict) -> str:
    """--colors, where NO_COLOR (any value) means none."""
    if os.environ.get("NO_COLOR"):
        return "none"
    return opts.get("colors") or "auto"


class Repl:
    """One interactive session: a language Session plus the `:commands` around it."""

    def __init__(self, opts: dict, new_session: Callable[[Callable[[str], Any]], Any] | None = None,
                 out=None, err=None):
        self.opts = opts
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.make_session = new_session or (
            lambda write: make_session(opts, echo=True, write=write))
        self.history = None
        self.session = self.new_session()

    def new_session(self):
        """A fresh Session writing to this REPL's output, with `Out` bound (empty)."""
        session = self.make_session(lambda text: self.out.write(text))
        self.outputs: dict[int, Any] = {}
        session.bind("Out", self.outputs)
        return session

    def write(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        """A message on stderr (after what stdout holds)."""
        self.out.flush()
        self.err.write(text if text.endswith("\n") else text + "\n")
        self.err.flush()

    def ready(self, text: str) -> bool:
        """Enter runs a `:command`, a Python habit (exit, help(x)) or a complete statement;
        a block (def, for, if ...) ends with an empty line."""
        stripped = text.strip()
        if not stripped or stripped.startswith(":") or self.habit(stripped) is not None:
            return True
        return self.session.is_complete(text)

    def habit(self, stripped: str) -> tuple[str, str] | None:
        """('quit', '') for exit/quit/exit()/quit(), ('help', NAME) for help/help(NAME), unless
        the script bound that name itself; else None."""
        mine = self.session.variables()
        if _LEAVE.fullmatch(stripped) and stripped.split("(")[0] not in mine:
            return "quit", ""
        m = _HELP.fullmatch(stripped)
        if m and "help" not in mine:
            return "help", m.group(2) or ""
        return None

    def execute(self, text: str, source: str = "<stdin>") -> bool:
        """Run one submitted input; returns False when the session should end."""
        from gradcalc.errors import GradcalcError

        stripped = text.strip()
        if not stripped:
            return True
        if stripped.startswith(":"):
            return self.command(stripped)
        habit = self.habit(stripped)
        if habit is not None:
            if habit[0] == "quit":
                return False
            self.cmd_help(habit[1])
            return True
        from gradcalc.lang import NO_ECHO
        from gradcalc.lang.runtime import ScriptWarnings
        from gradcalc.render.values import value_repr

        try:
            with ScriptWarnings(self.warn):
                for stmt in self.session.statements(text, source):
                    value = self.session.execute(stmt)
                    if value is not NO_ECHO:
                        self.write(value_repr(value))
                        self.remember(value)
        except GradcalcError as e:
            self.error(e.format())
        except KeyboardInterrupt:
            self.error("KeyboardInterrupt")
        except Exception as e:  # a bug: report it, keep the session
            if self.opts.get("debug"):
                import traceback

                traceback.print_exc(file=self.err)
            self.error(f"internal error: {type(e).__name__}: {e}")
        return True

    def remember(self, value: Any) -> None:
        """An echoed value becomes Out[n] and _n; _, __ and ___ are the last three."""
        n = len(self.outputs) + 1
        self.outputs[n] = value
        self.session.bind(f"_{n}", value)
        for k, name in enumerate(("_", "__", "___")):
            if n - k >= 1:
                self.session.bind(name, self.outputs[n - k])

    def warn(self, w) -> None:
        """A warning raised by the entry: positioned, on stderr; the entry goes on."""
        self.error(w.format())

    # -- :commands -------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in (":quit", ":q", ":exit"):
            return False
        handler = {
            ":help": self.cmd_help, ":vars": self.cmd_vars, ":graph": self.cmd_graph,
            ":plot": self.cmd_plot, ":trace": self.cmd_trace, ":out": self.cmd_out,
            ":reset": self.cmd_reset, ":history": self.cmd_history,
        }.get(name)
        if handler is None:
            self.error(f"{name}: unknown command; :help lists them")
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
        try:
            self.write(self.session.help(arg))
        except KeyError:
            self.error(f":help: {arg!r} is not a name this session knows")

    def cmd_vars(self, arg: str) -> None:
        from gradcalc.lang.runtime import UserFunction
        from gradcalc.render.values import dtype_name, is_tensor, shape_str

        rows = []
        for name, value in self.session.variables().items():
            if name == "Out" or re.fullmatch(r"_+|_\d+", name):
                continue
            if is_tensor(value):
                flags = "requires_grad" if value.requires_grad else ""
                if value.grad_fn is not None:
                    flags += f" grad_fn={value.grad_fn.name()}"
                rows.append([name, "tensor", shape_str(value.shape), dtype_name(value.dtype),
                             flags.strip()])
            else:
                kind = "function" if isinstance(value, UserFunction) else type(value).__name__
                rows.append([name, kind, "", "", ""])
        if not rows:
            self.write("(no names yet)")
            return
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        self.write("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                             for r in rows))

    def cmd_out(self, arg: str) -> None:
        if not self.outputs:
            self.write("(no values yet)")
            return
        lines = []
        for n, value in self.outputs.items():
            first, *more = repr(value).split("\n")
            lines.append(f"Out[{n}]: {first}" + (" ..." if more else ""))
        self.write("\n".join(lines))

    def _value(self, command: str, arg: str):
        from gradcalc.errors import GradcalcError

        if not arg:
            self.error(f"{command}: expected a name, as in {command} z")
            return None
        try:
            return self.session.evaluate(arg)
        except GradcalcError as e:
            self.error(e.format())
            return None

    def cmd_graph(self, arg: str) -> None:
        from gradcalc.api import graph_model, is_tensor
        from gradcalc.errors import GradcalcError

        try:
            arg, options = picture_options(arg, ("--output", "--saved"))
        except GradcalcError as e:
            self.error(f":graph: {e.message}")
            return
        value = self._value(":graph", arg)
        if value is None:
            return
        if not is_tensor(value):
            self.error(f":graph: {arg} is a {type(value).__name__}, not a tensor: it has no graph")
            return
        from gradcalc.render.graph import graph_text

        model = graph_model(value, self.session.labels(), saved="--saved" in options)
        if "--output" in options:
            from gradcalc.render.graph_image import graph_figure

            self.picture(lambda: graph_figure(model, title=arg), options["--output"])
            return
        if use_rich({}, self.out):
            from gradcalc.render.richview import graph_tree

            rich_console().print(graph_tree(model))
        else:
            self.write(graph_text(model))

    def cmd_plot(self, arg: str) -> None:
        from gradcalc.errors import GradcalcError
        from gradcalc.plotting import Field, plot_expression
        from gradcalc.render import plot as rp

        m = re.match(r"(.+?)\s+over\s+(\S+)(.*)$", arg)
        if m is None:
            self.error(":plot: expected :plot EXPR over x=A:B (or x=A:B,y=C:D), as in "
                       ":plot sin(x) over x=-3:3")
            return
        expr, over = m.group(1), m.group(2)
        try:
            _, options = picture_options(m.group(3), ("--output", "--order", "--points"))
            result = plot_expression(
                self.session, expr, over, order=_int_option(options, "--order"),
                points=_int_option(options, "--points"))
        except GradcalcError as e:
            self.error(e.format())
            return
        if "--output" in options:
            field = isinstance(result, Field)
            self.picture(lambda: rp.field_figure(result) if field else rp.curve_figure(result),
                         options["--output"])
        elif isinstance(result, Field):
            self.error(":plot: a plot of two inputs is a picture: add --output FILE.svg|png|pdf")
        else:
            self.write(plot_chart(result, color=use_rich({}, self.out)))

    def picture(self, figure, output: str) -> None:
        """Draw `figure()` into the file `output` (its extension names the format)."""
        from gradcalc.errors import GradcalcError
        from gradcalc.render import plot as rp

        try:
            fmt = rp.file_format(output)
            write_picture(figure(), output, fmt, rp.save_figure)
        except GradcalcError as e:
            self.error(e.format())
            return
        self.write(f"wrote {output}")

    def cmd_trace(self, arg: str) -> None:
        value = self._value(":trace", arg)
        if value is None:
            return
        from gradcalc.api import is_tensor, trace
        from gradcalc.errors import GradcalcError
        from gradcalc.render.report import trace_text

        if not is_tensor(value) or not value.requires_grad:
            self.error(f":trace: {arg} does not require grad: there is no backward pass to show")
            return
        try:
            steps, grads = trace(value, self.session.labels())
        except GradcalcError as e:
            self.error(e.format())
            return
        if use_rich({}, self.out):
            from gradcalc.render.richview import trace_tree

            rich_console().print(trace_tree(steps, grads))
        else:
            self.write(trace_text(steps, grads))

    def cmd_reset(self, arg: str) -> None:
        self.session = self.new_session()
        self.write("(a fresh session)")

    def cmd_history(self, arg: str) -> None:
        items = list(self.history.load_history_strings())[::-1] if self.history else []
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


def _style(colors: str):
    """The prompt's highlighting: the terminal's ANSI palette, a Pygments style made for a dark
    or a light background, or none."""
    if colors == "none":
        return None
    if colors in _PYGMENTS_THEMES:
        from prompt_toolkit.styles import style_from_pygments_cls
        from pygments.styles import get_style_by_name

        return style_from_pygments_cls(get_style_by_name(_PYGMENTS_THEMES[colors]))
    from prompt_toolkit.styles import Style

    return Style.from_dict(_ANSI_THEME)


def _prompt_session(repl: Repl, opts: dict, input=None, output=None):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.output import ColorDepth
    from prompt_toolkit.validation import ValidationError, Validator
    from pygments.lexers.python import PythonLexer

    class LangCompleter(Completer):
        def get_completions(self, document, complete_event):
            back, items = completions(repl.session, document.text_before_cursor)
            for item in items:
                yield Completion(item, start_position=-back)

    class LangValidator(Validator):
        def validate(self, document):
            text = document.text
            if not text.strip() or text.strip().startswith(":"):
                return
            e = repl.session.syntax_error(text)
            if e is not None and repl.habit(text.strip()) is None:
                raise ValidationError(cursor_position=error_offset(text, e.line, e.column),
                                      message=e.message)

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
        if repl.ready(buf.text):
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

    colors = color_choice(opts)
    return PromptSession(
        message=">>> ",
        multiline=True,
        prompt_continuation=lambda width, line_number, is_soft_wrap: "... ",
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        enable_history_search=True,
        completer=LangCompleter(),
        complete_while_typing=False,
        lexer=PygmentsLexer(PythonLexer) if colors != "none" else None,
        style=_style(colors),
        include_default_pygments_style=colors == "auto",
        color_depth=ColorDepth.MONOCHROME if colors == "none" else None,
        validator=LangValidator(),
        validate_while_typing=True,
        key_bindings=keys,
        vi_mode=wants_vi(opts),
        input=input,
        output=output,
    )


def run_repl(opts: dict, new_session=None, version: str = "", input=None, output=None) -> int:
    """The interactive loop on a terminal (`input`/`output`: prompt_toolkit's, for tests).

    `new_session(write)` makes each Session (default: from the options' limits and grants)."""
    repl = Repl(opts, new_session)
    prompt = _prompt_session(repl, opts, input=input, output=output)
    repl.write(BANNER.format(version=version or "dev"))
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
        repl.error(message)
    repl.history_warnings.clear()
