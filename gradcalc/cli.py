"""CLI layer: the `gradcalc` command (eval, run, repl, graph, plot) over gradcalc.lang and gradcalc.render.

Every command and option is declared once, in COMMANDS. The Typer app (`app`, built on first
use) is generated from that table, and so is the fast path that parses the common invocations
without importing Typer; plain output never imports Rich.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

from gradcalc.sessions import (  # noqa: F401 - the limits' options, and sessions made from them
    _LIMIT_METAVARS,
    LIMIT_OPTIONS,
    MAX_RECURSION_CAP,
    make_session,
)
from gradcalc.terminal import (  # the command's output helpers (isolate and __main__ use them)
    OutputClosed,
    error_text,
    plot_chart,
    rich_console,
    silence_stdout,
    use_rich,
    write_error,
    write_out,
    write_picture,
)
from gradcalc.terminal import (
    flush_stdout as _flush,
)
from gradcalc.terminal import (
    write_file as _write_file,
)

# ----------------------------------------------------------------------------------------
# The option table: the one source of truth for both the Typer app and the fast path.


class Opt:
    """One command-line option (`kind`: flag, toggle, str, list, int, float, choice)."""

    def __init__(self, dest, decls, kind="str", *, default=None, help="", metavar=None,
                 choices=None, panel=None, check=None, hidden=False):
        self.dest, self.decls, self.kind, self.default = dest, tuple(decls), kind, default
        self.help, self.metavar, self.choices, self.panel = help, metavar, choices, panel
        self.check, self.hidden = check, hidden
        if kind == "list" and default is None:
            self.default = []
        if kind == "flag" and default is None:
            self.default = False

    @property
    def names(self) -> list[str]:
        out = []
        for d in self.decls:
            out.extend(d.split("/"))
        return out


class Arg:
    def __init__(self, dest, *, required=True, default=None, help="", metavar=None):
        self.dest, self.required, self.default, self.help, self.metavar = dest, required, default, help, metavar


class Command:
    def __init__(self, name, summary, help, examples, args, opts):
        self.name, self.summary, self.help, self.examples = name, summary, help, examples
        self.args, self.opts = args, opts


class _LazyRe:
    """A regex compiled on first use: most runs need few of this module's."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._compiled = None

    def __getattr__(self, name: str):  # match, fullmatch, ...
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return getattr(self._compiled, name)


def check_at(values: list[str] | None) -> list[str] | None:
    from gradcalc.api import binds_a_name, split_bindings

    for item in values or ():
        for chunk in split_bindings(item):
            if not binds_a_name(chunk):
                raise ValueError(f"expected NAME=VALUE, got {chunk.strip()!r}")
    return values


def check_wrt(value: str | None) -> str | None:
    from gradcalc.api import is_name

    if value is not None:
        for name in value.split(","):
            if not is_name(name.strip()):
                raise ValueError(f"expected comma-separated names, got {value!r}")
    return value


def check_device(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", value):
        raise ValueError(f"expected cpu, cuda or cuda:N, got {value!r}")
    return value


def check_precision(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 20:
        raise ValueError(f"expected 0 to 20 digits, got {value}")
    return value


def check_timeout(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise ValueError(f"expected a positive number of seconds, got {value}")
    return value


def check_order(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 3:
        raise ValueError(f"expected 0 to 3, got {value}")
    return value


def check_count(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ValueError(f"expected a positive whole number, got {value}")
    return value


def check_recursion(value: int | None) -> int | None:
    check_count(value)
    if value is not None and value > MAX_RECURSION_CAP:
        raise ValueError(f"at most {MAX_RECURSION_CAP:,} nested calls, got {value}")
    return value


INPUTS, OUTPUT, NUMERICS = "Inputs", "Output", "Numerics"
DTYPES = ("float32", "float64")
FORMATS = ("tree", "dot", "mermaid", "json", "svg", "png", "pdf")
IMAGE_FORMATS = ("svg", "png", "pdf")


def _at():
    return Opt("at", ["--at", "-a"], "list", metavar="NAME=VALUE", panel=INPUTS, check=check_at,
               help="Bind NAME to VALUE, any expression (2, [1, 2, 3], randn(3, 3)); integers "
                    "become floats. Repeat it or use --at x=1,y=2.")


def _wrt():
    return Opt("wrt", ["--wrt", "-w"], metavar="NAMES", panel=INPUTS, check=check_wrt,
               help="Differentiate with respect to these bound names only (comma-separated); "
                    "default: every name bound with --at.")


def _dtype():
    return Opt("dtype", ["--dtype"], "choice", choices=DTYPES, panel=NUMERICS,
               help="Default floating dtype (default float32, as in PyTorch).")


def _device():
    return Opt("device", ["--device"], metavar="cpu|cuda[:N]", panel=NUMERICS, check=check_device,
               help="Device of the inputs (cuda needs the [cuda] extra and a GPU).")


def _precision():
    return Opt("precision", ["--precision"], "int", metavar="N", panel=OUTPUT, check=check_precision,
               help="Digits after the point when printing tensors (default 4).")


def _plain():
    return Opt("plain", ["--plain"], "flag", panel=OUTPUT,
               help="Plain stable text even on a terminal (also NO_COLOR, or any pipe).")


def _timeout():
    return Opt("timeout", ["--timeout"], "float", metavar="S", panel=NUMERICS, check=check_timeout,
               help="Stop with an error after S seconds.")


def _allow_files():
    return Opt("allow_files", ["--allow-files"], metavar="DIR", panel=OUTPUT,
               help="Let scripts write pictures into DIR (save_graph(t, 'g.svg')) and save and "
                    "load checkpoints there (torch.save, torch.load); without it a script "
                    "reads and writes no file.")


def _debug():
    return Opt("debug", ["--debug"], "flag", help="Show Python tracebacks (for bug reports).")


LIMITS = "Limits"

def check_memory(value: str | None) -> str | None:
    if value is not None:
        from gradcalc.lang.limits import parse_size

        parse_size(value)
    return value


def check_flops(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise ValueError(f"expected a positive number of operations, got {value}")
    return value


def _limits():
    """--max-elements, --max-memory, --max-recursion, --max-iterations, --max-flops (the
    safety limits of a script)."""
    return [
        Opt("max_elements", ["--max-elements"], "int", metavar="N", panel=LIMITS,
            check=check_count,
            help="Largest tensor, list or string a script may build, in elements "
                 "(default 67,108,864 = 2**26)."),
        Opt("max_memory", ["--max-memory"], metavar="SIZE", panel=LIMITS, check=check_memory,
            help="Memory a script may hold: its live tensors, or the growth of the process's "
                 "resident memory (512M, 2G; default 2G)."),
        Opt("max_recursion", ["--max-recursion"], "int", metavar="N", panel=LIMITS,
            check=check_recursion,
            help=f"Deepest nesting of calls of script functions (default 200, at most "
                 f"{MAX_RECURSION_CAP:,})."),
        Opt("max_iterations", ["--max-iterations"], "int", metavar="N", panel=LIMITS,
            check=check_count,
            help="Most steps of the whole run: loop iterations, comprehension items and "
                 "calls of script functions, counted together (default 100,000,000)."),
        Opt("max_flops", ["--max-flops"], "float", metavar="N", panel=LIMITS, check=check_flops,
            help="Most floating-point operations of one call (matmul, linalg.inv ...), "
                 "estimated before it runs (default 1e11)."),
    ]


def _isolate():
    """--isolate and --isolate-memory (eval and run: a confined child process)."""
    return [
        Opt("isolate", ["--isolate"], "flag", panel=LIMITS,
            help="Evaluate in a child process under OS limits (address space, CPU time, no "
                 "files, no processes, a syscall filter), killed at --timeout (default 30 s); "
                 "for untrusted input."),
        Opt("isolate_memory", ["--isolate-memory"], "int", metavar="MB", panel=LIMITS,
            check=check_count,
            help="Address space the --isolate process may add, in MB (default 4,096)."),
    ]


COMMANDS: dict[str, Command] = {
    "eval": Command(
        "eval",
        "Evaluate an expression, differentiate it, show value, graph and gradients.",
        "Evaluate EXPR with the names bound by --at as leaf tensors (requires_grad=True) and "
        "show its value, its grad_fn graph and the gradient with respect to every bound name. "
        "A non-scalar result gives Jacobians (out.shape + in.shape), or the vector-Jacobian "
        "product with --grad-output. EXPR may hold several statements separated by ';'.",
        [
            "gradcalc eval 'x**3+3*x**2+5' --at x=2",
            "gradcalc eval 'a = x*y; a**2' --at x=1,y=2 --json",
            "gradcalc eval 'sin(x)' --at 'x=linspace(0, 1, 3)'",
            "gradcalc eval '(W@v).sum()' --at 'W=randn(2, 3)' --at 'v=[1, 2, 3]' --wrt W",
            "gradcalc eval 'x**2*y' --at x=1,y=3 --hessian",
            "gradcalc eval 'x**3+3*x**2+5' --at x=2 --trace",
        ],
        [Arg("expr", help="The expression (statements separated by ';', the last one's value is "
                          "the result). It may start with '-' ('-x**2'): an argument that is "
                          "not an option is EXPR; after '--' every argument is.",
             metavar="EXPR")],
        [
            _at(),
            _wrt(),
            Opt("grad_output", ["--grad-output", "-g"], metavar="VALUE", panel=INPUTS,
                help="For a non-scalar result: the vector v of the vector-Jacobian product "
                     "(backward(v)) instead of the full Jacobian."),
            Opt("hessian", ["--hessian"], "flag", panel=OUTPUT,
                help="Also give second derivatives of a scalar result."),
            Opt("no_grad", ["--no-grad"], "flag", panel=OUTPUT,
                help="Only the value: no derivatives."),
            Opt("max_jacobian", ["--max-jacobian"], "int", metavar="N", panel=LIMITS,
                check=check_count,
                help="Largest Jacobian computed unasked, in elements of all of them together "
                     "(default 1,000,000); a larger one is skipped with a note."),
            Opt("trace", ["--trace"], "flag", panel=OUTPUT,
                help="Show the backward pass step by step, in the order the engine runs it."),
            Opt("graph", ["--graph"], "flag", panel=OUTPUT,
                help="Show the grad_fn graph (always shown on a terminal)."),
            Opt("json", ["--json"], "flag", panel=OUTPUT, help="Write one JSON object."),
            _plain(),
            _dtype(),
            _device(),
            _precision(),
            _timeout(),
            *_limits(),
            *_isolate(),
            _allow_files(),
            _debug(),
        ],
    ),
    "run": Command(
        "run",
        "Run a script statement by statement (FILE, or - for stdin).",
        "Run a gradcalc script statement by statement, echoing the value of every bare "
        "expression (not for .py files, which run with Python's script semantics; "
        "--echo/--no-echo overrides). Output is flushed after each statement, so "
        "`tail -f log | gradcalc run -` streams. Stops at the first error with exit 1 "
        "unless --keep-going.",
        [
            "gradcalc run examples/chain_rule.gc",
            "printf 'x = tensor(2., requires_grad=True)\\ny = x**2\\ny.backward()\\nx.grad\\n' | gradcalc",
            "gradcalc run script.gc --keep-going --json",
        ],
        [Arg("script", required=False, default="-", help="Script file, or - for stdin.", metavar="[FILE|-]")],
        [
            Opt("echo", ["--echo/--no-echo"], "toggle", panel=OUTPUT,
                help="Echo bare expressions (default: yes, except for .py files)."),
            Opt("keep_going", ["--keep-going", "-k"], "flag",
                help="Go on after an error (exit 1 at the end if any statement failed)."),
            Opt("json", ["--json"], "flag", panel=OUTPUT,
                help="Write JSON Lines: one object per echoed or printed statement."),
            Opt("trusted", ["--trusted"], "flag",
                help="Run a .py file under real Python, no sandbox and no limits, with "
                     "`import torch...` giving gradcalc's modules (for code you trust: "
                     "plotting, files, its own modules)."),
            _plain(),
            _timeout(),
            *_limits(),
            *_isolate(),
            _dtype(),
            _precision(),
            _allow_files(),
            _debug(),
        ],
    ),
    "graph": Command(
        "graph",
        "Show the backward graph of an expression (tree, DOT, Mermaid, JSON).",
        "Show the backward (grad_fn) graph of EXPR. Every node carries its grad_fn name, "
        "output shape and dtype, and the names of the script variables holding its result "
        "('z = a**2*b' labels its MulBackward0 z); leaves carry their names.",
        [
            "gradcalc graph 'x**3+3*x**2+5' --at x=2",
            "gradcalc graph 'a = x*y; z = a**2*y; z' --at x=1,y=2 --format dot | dot -Tsvg > g.svg",
            "gradcalc graph 'sigmoid(w*x+b)' --at w=0.5,x=2,b=0 --format mermaid --saved",
            "gradcalc graph 'a = x*y; z = a**2*y; z' --at x=1,y=2 --output g.svg",
        ],
        [Arg("expr", help="The expression (statements separated by ';').", metavar="EXPR")],
        [
            _at(),
            _wrt(),
            Opt("format", ["--format", "-f"], "choice", choices=FORMATS, panel=OUTPUT,
                help="tree (default), dot (Graphviz), mermaid, json, or a picture: svg, png, pdf "
                     "(the [plot] extra; default: the --output file's extension)."),
            Opt("output", ["--output", "-o"], metavar="FILE", panel=OUTPUT,
                help="Write to FILE instead of stdout (g.svg, g.png, g.pdf, g.dot ...)."),
            Opt("saved", ["--saved"], "flag", panel=OUTPUT,
                help="Show the tensors each node saved for backward."),
            _plain(),
            _dtype(),
            _device(),
            _precision(),
            _timeout(),
            *_limits(),
            _debug(),
        ],
    ),
    "plot": Command(
        "plot",
        "Plot an expression and its derivatives (terminal chart, or SVG/PNG/PDF).",
        "Plot EXPR over --over x=A:B with its derivatives (f' by default, f'' with --order 2), "
        "computed by gradcalc's autograd at every point (one vectorised forward and backward, "
        "no finite differences); zeros of f' are marked. On a terminal: a chart (plain on a "
        "pipe); --json gives the sampled table; --output writes a picture (the [plot] extra). "
        "Two inputs (--over x=A:B,y=C:D) draw a contour map of f with its gradient as arrows.",
        [
            "gradcalc plot 'sin(x)*exp(-x**2/4)' --over x=-3:3",
            "gradcalc plot 'x**3 - 3*x' --over x=-2.5:2.5 --order 2 --output f.svg",
            "gradcalc plot 'a*x**2' --over x=-1:1 --at a=3 --json",
            "gradcalc plot 'x**2 + 3*y**2' --over x=-2:2,y=-2:2 --output bowl.png --path gd.gc",
        ],
        [Arg("expr", help="The expression in the swept names (statements separated by ';').",
             metavar="EXPR")],
        [
            Opt("over", ["--over"], metavar="x=A:B[,y=C:D]", panel=INPUTS,
                help="The swept input(s) and their ranges (bounds may be expressions: -pi:pi)."),
            _at(),
            Opt("order", ["--order"], "int", metavar="N", panel=OUTPUT, check=check_order,
                help="Derivatives to draw, 0 to 3 (default 1: f and f')."),
            Opt("points", ["--points", "-n"], "int", metavar="N", panel=INPUTS, check=check_count,
                help="Samples along each swept input (default 200; 41 per axis for two)."),
            Opt("output", ["--output", "-o"], metavar="FILE", panel=OUTPUT,
                help="Write a picture: FILE.svg, FILE.png or FILE.pdf (needs the [plot] extra)."),
            Opt("path", ["--path"], metavar="SCRIPT", panel=INPUTS,
                help="With two inputs: overlay the points a script's last expression gives, as "
                     "a list of (x, y) pairs or a (k, 2) tensor (an optimizer's iterates)."),
            Opt("json", ["--json"], "flag", panel=OUTPUT, help="Write the sampled table as JSON."),
            _plain(),
            _dtype(),
            _timeout(),
            *_limits(),
            _debug(),
        ],
    ),
    "repl": Command(
        "repl",
        "Interactive session (history, completion, multi-line blocks).",
        "Start an interactive session: Up and Ctrl-R search the history, Tab completes names "
        "and attributes, Enter runs a complete statement and continues an open block. "
        "Commands: :help [NAME] (or help(NAME)), :vars, :graph NAME, :plot EXPR over x=A:B, "
        ":trace NAME, :out (Out[n] and _n are the values echoed), :reset, :history, :quit "
        "(or exit, quit(), Ctrl-D). On a pipe it runs the input as `gradcalc run -` does.",
        ["gradcalc repl", "gradcalc  # on a terminal", "gradcalc repl --colors light --vi"],
        [],
        [
            _dtype(),
            _precision(),
            Opt("history_file", ["--history-file"], metavar="PATH",
                help="History file (default: $XDG_STATE_HOME/gradcalc/history)."),
            Opt("colors", ["--colors"], "choice", choices=("auto", "dark", "light", "none"),
                panel=OUTPUT,
                help="Highlighting: auto (the terminal's own palette, readable on any "
                     "background), dark or light (a theme for that background), none (also "
                     "NO_COLOR)."),
            Opt("vi", ["--vi"], "flag",
                help="Vi editing keys (also `set editing-mode vi` in ~/.inputrc)."),
            *_limits(),
            _allow_files(),
            _debug(),
        ],
    ),
}


def defaults(cmd: str) -> dict[str, Any]:
    spec = COMMANDS[cmd]
    out = {a.dest: a.default for a in spec.args}
    for o in spec.opts:
        out[o.dest] = list(o.default) if o.kind == "list" else o.default
    return out


# ----------------------------------------------------------------------------------------
# Fast path: parse argv from the table; anything unusual goes to Typer (help, usage errors).


_LONG_OPTION = _LazyRe(r"--[A-Za-z][A-Za-z0-9-]*(=.*)?\Z")
_HELP = ("-h", "--help")


def option_names(spec: Command) -> set[str]:
    """Every option spelling of a command (both halves of --echo/--no-echo), and -h/--help."""
    names = set(_HELP)
    for o in spec.opts:
        names.update(o.names)
    return names


def is_expression_arg(tok: str, options) -> bool:
    """True for an argument starting with '-' that is the command's EXPR or FILE, not an
    option (as `python -c` takes its next argument): `-x**2`, `-1`, `-w*2`. Not: the command's
    own options (`-a`, `--at=...`), -h/--help, `--`, or anything shaped `--word` (a mistyped
    option is reported as one)."""
    if tok == "--" or tok in _HELP or tok.partition("=")[0] in options:
        return False
    return not _LONG_OPTION.match(tok)


def expression_after_dashes(argv: list[str]) -> list[str]:
    """argv with the command's positional arguments moved behind `--`, so that Typer reads an
    EXPR such as `-x**2` as fast_parse does (for help and usage errors)."""
    if len(argv) < 2 or argv[0] not in COMMANDS or "--" in argv:
        return argv
    spec = COMMANDS[argv[0]]
    options = option_names(spec)
    takes_value = {n for o in spec.opts if o.kind not in ("flag", "toggle") for n in o.names}
    rest, positional = [argv[0]], []
    i = 1
    while i < len(argv):
        tok = argv[i]
        i += 1
        if tok == "-" or not tok.startswith("-") or (
                len(positional) < len(spec.args) and is_expression_arg(tok, options)):
            positional.append(tok)
            continue
        rest.append(tok)
        if tok in takes_value and i < len(argv):
            rest.append(argv[i])
            i += 1
    if not any(p.startswith("-") and p != "-" for p in positional):
        return argv
    return rest + ["--"] + positional


def fast_parse(argv: list[str]) -> tuple[str, dict] | None:
    """(command, options) for an ordinary, valid invocation; None means 'ask Typer'."""
    if not argv or argv[0] not in COMMANDS:
        return None
    spec = COMMANDS[argv[0]]
    by_name: dict[str, tuple[Opt, Any]] = {}
    for o in spec.opts:
        if o.kind == "toggle":
            on, off = o.decls[0].split("/")
            by_name[on], by_name[off] = (o, True), (o, False)
        else:
            for n in o.names:
                by_name[n] = (o, None)
    opts = defaults(argv[0])
    positional: list[str] = []
    i, n = 1, len(argv)
    only_positional = False
    while i < n:
        tok = argv[i]
        i += 1
        if only_positional or tok == "-" or not tok.startswith("-") or (
                len(positional) < len(spec.args) and is_expression_arg(tok, by_name)):
            positional.append(tok)
            continue
        if tok == "--":
            only_positional = True
            continue
        name, eq, attached = tok.partition("=") if tok.startswith("--") else (tok, "", "")
        if name not in by_name:
            return None
        o, toggle = by_name[name]
        if o.kind in ("flag", "toggle"):
            if eq:
                return None
            opts[o.dest] = True if o.kind == "flag" else toggle
            continue
        if eq:
            raw = attached
        elif i < n:
            raw = argv[i]
            i += 1
        else:
            return None
        try:
            if o.kind == "list":
                opts[o.dest].append(raw)
                continue
            if o.kind == "int":
                value: Any = int(raw)
            elif o.kind == "float":
                value = float(raw)
            elif o.kind == "choice":
                if raw not in o.choices:
                    return None
                value = raw
            else:
                value = raw
        except ValueError:
            return None
        opts[o.dest] = value
    if len(positional) > len(spec.args):
        return None
    for a, v in zip(spec.args, positional):
        opts[a.dest] = v
    if any(a.required for a in spec.args[len(positional):]):
        return None
    for o in spec.opts:
        if o.check is not None:
            try:
                o.check(opts[o.dest])
            except ValueError:
                return None
    return argv[0], opts


# ----------------------------------------------------------------------------------------
# The Typer app, generated from the table on first use (`from gradcalc.cli import app`).

_APP = None


def _examples_epilog(spec: Command) -> str:
    return "\b\nExamples:\n" + "\n".join(f"  $ {e}" for e in spec.examples)


def _typer_check(check, typer):
    def callback(value):
        try:
            return check(value)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None

    return callback


def _typer_param(o: Opt, typer, Annotated, Optional, List):
    import enum
    import inspect

    callback = _typer_check(o.check, typer) if o.check is not None else None

    kw = dict(help=o.help, rich_help_panel=o.panel, hidden=o.hidden, callback=callback,
              show_default=False)
    if o.metavar:
        kw["metavar"] = o.metavar
    default: Any = o.default
    if o.kind == "flag":
        ann: Any = bool
    elif o.kind == "toggle":
        ann = Optional[bool]
    elif o.kind == "list":
        ann, default = Optional[List[str]], None
    elif o.kind == "int":
        ann = Optional[int]
    elif o.kind == "float":
        ann = Optional[float]
    elif o.kind == "choice":
        ann = Optional[enum.Enum(o.dest, {c: c for c in o.choices})]
        kw["case_sensitive"] = False
    else:
        ann = Optional[str]
    info = typer.Option(*o.decls, **kw)
    return inspect.Parameter(o.dest, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[ann, info])


def _typer_command(app, spec: Command, typer) -> None:
    import inspect
    from typing import Annotated, Optional

    params = []
    for a in spec.args:
        info = typer.Argument(help=a.help, metavar=a.metavar, show_default=False)
        ann = str if a.required else Optional[str]
        default = inspect.Parameter.empty if a.required else a.default
        params.append(inspect.Parameter(a.dest, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[ann, info]))
    params.extend(_typer_param(o, typer, Annotated, Optional, list) for o in spec.opts)

    def command(**kw):
        opts = defaults(spec.name)
        for k, v in kw.items():
            if v is None and opts.get(k) is not None:
                continue
            opts[k] = getattr(v, "value", v) if not isinstance(v, (str, bool)) else v
        code = execute(spec.name, opts)
        if code:
            raise typer.Exit(code)

    command.__signature__ = inspect.Signature(params)
    command.__name__ = f"{spec.name}_command"
    command.__doc__ = spec.help
    app.command(spec.name, help=spec.help, short_help=spec.summary, epilog=_examples_epilog(spec),
                no_args_is_help=bool(spec.args and spec.args[0].required))(command)


#: the end of `gradcalc --help`: what a man page would add (usage forms, environment, files,
#: exit status, where the documentation is)
APP_EPILOG = """\b
Examples:
  $ gradcalc eval 'x**3+3*x**2+5' --at x=2
  $ echo 'tensor([1., 2.]).exp()' | gradcalc
  $ gradcalc script.py          # as gradcalc run script.py
  $ gradcalc                    # REPL on a terminal, run - on a pipe
  $ gradcalc COMMAND --help     # each command's options and examples

\b
Environment:
  NO_COLOR        plain output and no highlighting (any value)
  FORCE_COLOR     the terminal view even on a pipe
  TTY_COMPATIBLE  1: the terminal view, 0: plain text, whatever stdout is
  GRADCALC_DEBUG  1: Python tracebacks, as --debug
  XDG_STATE_HOME  where the REPL keeps its history (gradcalc/history)
  INPUTRC         `set editing-mode vi` there turns on the REPL's Vi keys

\b
Exit status:
  0 success, 1 a syntax or evaluation error, 2 a usage error, 130 interrupted

\b
Shell completion: gradcalc --install-completion (bash, zsh, fish, PowerShell).
Documentation: docs/cli.md (commands), docs/language.md, docs/differences.md."""


def click_error_text(e) -> str:
    """A Click usage error in gradcalc's one form: `gradcalc: error: MESSAGE`, then where
    to read about the options."""
    message = e.format_message().replace("Value error, ", "")
    if type(e).__name__ == "NoArgsIsHelpError":  # `gradcalc eval` alone: its help
        return message
    text = f"gradcalc: error: {message}"
    ctx = getattr(e, "ctx", None)  # a UsageError's context; other Click errors have none
    if ctx is not None:
        text += f"\n(see '{ctx.command_path} --help')"
    return text


def _group_class(typer):
    """Typer's group class, reporting Click's usage errors as gradcalc reports its own."""
    from typer.core import TyperGroup

    click_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

    class Group(TyperGroup):
        def main(self, *args, standalone_mode=True, **kwargs):
            try:
                code = super().main(*args, standalone_mode=False, **kwargs)
            except click_error as e:
                write_error(click_error_text(e))
                code = e.exit_code
            except typer.Abort:
                write_error("interrupted")
                code = 130
            code = code if isinstance(code, int) else 0
            if standalone_mode:
                sys.exit(code)
            return code

    return Group


def build_app():
    """The Typer application (generated from COMMANDS)."""
    global _APP
    if _APP is not None:
        return _APP
    from typing import Annotated

    import typer

    app = typer.Typer(
        cls=_group_class(typer),
        name="gradcalc",
        help="gradcalc: a computation-graph calculator. PyTorch's autograd in a terminal.",
        epilog=APP_EPILOG,
        invoke_without_command=True,
        add_completion=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def version_callback(value: bool):
        if value:
            sys.stdout.write(f"gradcalc {version()}\n")
            raise typer.Exit()

    def main_callback(ctx, show_version=None):
        """Bare `gradcalc`: the REPL on a terminal, `run -` when stdin is a pipe."""
        if ctx.invoked_subcommand is None:
            code = default_command()
            if code:
                raise typer.Exit(code)

    import inspect

    main_callback.__annotations__ = {}
    main_callback.__signature__ = inspect.Signature([
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter("show_version", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=Annotated[bool | None, typer.Option(
                              "--version", "-V", callback=version_callback, is_eager=True,
                              help="Show the version and exit.")]),
    ])
    app.callback()(main_callback)

    for spec in COMMANDS.values():
        _typer_command(app, spec, typer)
    _APP = app
    return app


def __getattr__(name: str):
    if name == "app":
        return build_app()
    raise AttributeError(f"module 'gradcalc.cli' has no attribute {name!r}")


def version() -> str:
    """gradcalc's version (the package's __version__)."""
    import gradcalc

    return gradcalc.__version__


# ----------------------------------------------------------------------------------------
# Entry point and error handling.


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "_GRADCALC_COMPLETE" in os.environ:  # the shell asks for completions (Click answers)
        return run_typer(argv)
    if not argv:
        return default_command()
    if argv[0] in ("--version", "-V") and len(argv) == 1:
        sys.stdout.write(f"gradcalc {version()}\n")
        return 0
    argv = implied_command(argv)
    parsed = fast_parse(argv)
    if parsed is not None:
        return execute(*parsed)
    return run_typer(argv)


#: options of the app itself (not of a command)
_APP_OPTIONS = ("-h", "--help", "--version", "-V", "--install-completion", "--show-completion")


def implied_command(argv: list[str]) -> list[str]:
    """Python's habits: `gradcalc FILE.py` runs the file (as `python FILE.py` does), and options
    with no command are the default command's: `run`'s on a pipe, `repl`'s on a terminal."""
    first = argv[0]
    if first in COMMANDS or first in _APP_OPTIONS or first.partition("=")[0] in _APP_OPTIONS:
        return argv
    if first.startswith("-") and first != "-":
        on_terminal = bool(sys.stdin and sys.stdin.isatty() and sys.stdout.isatty())
        return ["repl" if on_terminal else "run", *argv]
    if first == "-" or first.endswith((".py", ".gc")) or os.path.isfile(first):
        return ["run", *argv]
    return argv


def run_typer(argv: list[str]) -> int:
    app = build_app()
    argv = expression_after_dashes(argv)
    try:
        app(args=argv, prog_name="gradcalc", standalone_mode=True)
    except SystemExit as e:
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def default_command() -> int:
    """Bare `gradcalc`: the REPL on a terminal, `run -` otherwise."""
    stdin = sys.stdin
    if stdin is not None and stdin.isatty() and sys.stdout.isatty():
        return execute("repl", defaults("repl"))
    return execute("run", defaults("run"))


#: where `run --json` and `eval --json` also record each warning (None: stderr only)
_ON_WARNING: list = [None]


def report_warning(w) -> None:
    """A warning raised by script code: `where:line:col: warning: ...` on stderr."""
    _flush()
    write_error(w.format())
    hook = _ON_WARNING[0]
    if hook is not None:
        hook(w)


def execute(cmd: str, opts: dict) -> int:
    """Run one command with its options; errors become messages and exit codes."""
    from gradcalc.errors import GradcalcError
    from gradcalc.lang.runtime import ScriptWarnings

    debug = opts.get("debug") or os.environ.get("GRADCALC_DEBUG") == "1"
    try:
        if cmd == "repl":  # the REPL reports each entry's warnings itself
            with _numerics(opts):
                return IMPLS[cmd](opts)
        with _numerics(opts), ScriptWarnings(report_warning):
            return IMPLS[cmd](opts)
    except GradcalcError as e:
        _flush()
        if debug:
            import traceback

            traceback.print_exc()
        write_error(error_text(e))
        return e.exit_code
    except KeyboardInterrupt:
        _flush()
        write_error("interrupted")
        return 130
    except (BrokenPipeError, OutputClosed):  # the reader went away: stop quietly
        silence_stdout()
        return 0
    except Exception as e:
        _flush()
        if debug:
            import traceback

            traceback.print_exc()
        write_error(f"gradcalc: internal error: {type(e).__name__}: {e}"
                    + ("" if debug else " (run with --debug for the traceback)"))
        return 1


class _numerics:
    """Applies --dtype and --precision for the duration of a command, then restores them."""

    def __init__(self, opts: dict):
        self.dtype, self.precision = opts.get("dtype"), opts.get("precision")
        self.saved: list[Callable[[], None]] = []

    def __enter__(self):
        if self.dtype is not None:
            import gradcalc

            before = gradcalc.get_default_dtype()
            gradcalc.set_default_dtype(getattr(gradcalc, self.dtype))
            self.saved.append(lambda: gradcalc.set_default_dtype(before))
        if self.precision is not None:
            from gradcalc.core import printing

            before_p = printing.get_printoptions().get("precision", 4)
            printing.set_printoptions(precision=self.precision)
            self.saved.append(lambda: printing.set_printoptions(precision=before_p))
        return self

    def __exit__(self, *exc):
        for undo in reversed(self.saved):
            undo()
        return False


def _print_json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _usage(message: str):
    from gradcalc.errors import UsageError

    return UsageError(f"gradcalc: error: {message}")


# ----------------------------------------------------------------------------------------
# Sessions, bindings and derivatives (eval and graph).


# ----------------------------------------------------------------------------------------
# Commands.


def cmd_eval(opts: dict) -> int:
    if opts.get("isolate") or opts.get("isolate_memory"):
        from gradcalc.isolate import run_command

        return run_command(cmd_eval, "eval", opts)
    printed: list[str] = []
    session = make_session(opts, echo=True, write=printed.append)
    warned: list[dict] = []
    if opts.get("json"):
        _ON_WARNING[0] = lambda w: warned.append(
            {"source": w.source, "line": w.line, "column": w.column, "warning": w.text})
    try:
        return _eval(opts, session, printed, warned)
    finally:
        _ON_WARNING[0] = None


def _eval(opts, session, printed, warned) -> int:
    from gradcalc.api import JACOBIAN_LIMIT, evaluate
    from gradcalc.errors import GradcalcError

    rich = use_rich(opts)
    try:
        result = evaluate(
            opts["expr"], opts.get("at") or [], opts.get("wrt"), session=session,
            grad_output=opts.get("grad_output"), hessian=bool(opts.get("hessian")),
            graph=bool(opts.get("graph") or rich), trace=bool(opts.get("trace")),
            no_grad=bool(opts.get("no_grad")), device=opts.get("device"),
            max_jacobian=opts.get("max_jacobian") or JACOBIAN_LIMIT, printed=printed)
    except GradcalcError as e:
        if opts.get("json"):  # the error as JSON too (also on stderr, with the exit code)
            obj = {"expression": opts["expr"], "error": e.message}
            if e.line is not None:
                obj.update(source=e.source, line=e.line, column=e.column)
            if printed:
                obj["output"] = "".join(printed)
            _print_json(obj)
        elif printed:
            sys.stdout.write("".join(printed))
        raise
    except BaseException:
        if printed and not opts.get("json"):
            sys.stdout.write("".join(printed))
        raise
    if opts.get("json"):
        from gradcalc.render.report import eval_json

        obj = eval_json(result)
        if warned:
            obj["warnings"] = warned
        _print_json(obj)
    elif rich:
        from gradcalc.render.richview import eval_view

        rich_console().print(eval_view(result))
    else:
        from gradcalc.render.report import eval_text

        sys.stdout.write(eval_text(result) + "\n")
    return 0


def cmd_graph(opts: dict) -> int:
    from gradcalc.api import bind_inputs, graph_model, is_tensor, run_statements
    from gradcalc.render import graph as g

    session = make_session(opts, echo=True, write=lambda text: None)
    inputs = bind_inputs(session, opts.get("at") or [], opts.get("wrt"), opts.get("device"))
    has_value, value, _ = run_statements(session, opts["expr"], inputs)
    if not has_value:
        raise _usage("graph: EXPR has no value to draw (end it with an expression)")
    if not is_tensor(value):
        raise _usage(f"graph: the value is a {type(value).__name__}, not a tensor: it has no "
                     "graph to draw")
    model = graph_model(value, session.labels(), saved=bool(opts.get("saved")))
    output = opts.get("output")
    fmt = opts.get("format") or (_output_format(output) if output else "tree")
    if fmt in IMAGE_FORMATS:
        from gradcalc.render.graph_image import graph_figure
        from gradcalc.render.plot import save_figure

        return write_picture(graph_figure(model, title=opts["expr"]), output, fmt, save_figure)
    if output:
        text = {"dot": g.graph_dot, "mermaid": g.graph_mermaid, "tree": g.graph_text}.get(fmt)
        body = text(model) if text else _json_text(g.graph_json(model))
        _write_file(output, (body + "\n").encode("utf-8"))
        return 0
    if fmt == "dot":
        sys.stdout.write(g.graph_dot(model) + "\n")
    elif fmt == "mermaid":
        sys.stdout.write(g.graph_mermaid(model) + "\n")
    elif fmt == "json":
        _print_json(g.graph_json(model))
    elif use_rich(opts):
        from gradcalc.render.richview import graph_tree

        rich_console().print(graph_tree(model))
    else:
        sys.stdout.write(g.graph_text(model) + "\n")
    return 0


_OUTPUT_EXTENSIONS = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": "dot", "gv": "dot",
                      "mmd": "mermaid", "json": "json", "txt": "tree"}


def _output_format(path: str) -> str:
    ext = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
    if ext not in _OUTPUT_EXTENSIONS:
        raise _usage(f"--output: cannot tell the format of {path!r}; give --format or a file "
                     "ending .svg, .png, .pdf, .dot, .mmd, .json or .txt")
    return _OUTPUT_EXTENSIONS[ext]


def _json_text(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)


def cmd_plot(opts: dict) -> int:
    from gradcalc.plotting import Field, path_points, plot_expression, run_path_script
    from gradcalc.render import plot as rp

    if not opts.get("over"):
        raise _usage("plot: give the swept input and its range, as in --over x=-3:3")
    output = opts.get("output")
    fmt = rp.file_format(output) if output else None
    from gradcalc.api import bind_inputs

    session = make_session(opts, echo=True, write=lambda text: None)
    inputs = bind_inputs(session, opts.get("at") or [], opts.get("wrt"), opts.get("device"))
    result = plot_expression(session, opts["expr"], opts["over"],
                                      points=opts.get("points"), order=opts.get("order"),
                                      bound=list(inputs))
    path = None
    if opts.get("path"):
        if not isinstance(result, Field):
            raise _usage("--path overlays a path on a plot of two inputs (--over x=A:B,y=C:D)")
        path = path_points(run_path_script(
            make_session(opts, echo=False, write=lambda text: None), _read_text(opts["path"]),
            opts["path"]))
    if opts.get("json"):
        is_field = isinstance(result, Field)
        _print_json(rp.field_json(result) if is_field else rp.curve_json(result))
    if fmt is not None:
        figure = (rp.field_figure(result, path) if isinstance(result, Field)
                  else rp.curve_figure(result))
        return write_picture(figure, output, fmt, rp.save_figure)
    if opts.get("json"):
        return 0
    if isinstance(result, Field):
        raise _usage("plot: a plot of two inputs is a picture: give --output FILE.svg|png|pdf "
                     "(or --json for the sampled grid)")
    sys.stdout.write(plot_chart(result, color=use_rich(opts)) + "\n")
    return 0


def _read_text(path: str) -> str:
    return read_script(path)


def _not_utf8(name: str, data: bytes, e: UnicodeDecodeError, offset: int = 0, line: int = 1):
    """The usage error for bytes that are not UTF-8: the file, the byte offset and its line."""
    at = offset + e.start
    line += data.count(b"\n", 0, e.start)
    return _usage(f"cannot read {name!r}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                  f"{at}, line {line})")


def read_script(path: str) -> str:
    """A script file's text, decoded as Python decodes a source file: UTF-8, a leading byte
    order mark skipped. Unreadable or not UTF-8 is a usage error naming the file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise _usage(f"cannot read {path!r}: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(path, data, e) from None
    return text.removeprefix("\ufeff")


class ScriptLines:
    """readline() over a binary stream that is read as it arrives (a pipe, a FIFO): UTF-8
    lines, a leading byte order mark skipped, bytes that are not UTF-8 a usage error."""

    def __init__(self, raw, name: str):
        self.raw, self.name, self.offset, self.line = raw, name, 0, 1

    def readline(self) -> str:
        """The next line ('' at the end)."""
        data = self.raw.readline()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _not_utf8(self.name, data, e, self.offset, self.line) from None
        if self.offset == 0:
            text = text.removeprefix("\ufeff")
        self.offset += len(data)
        self.line += 1
        return text


def run_stream(session, readline, source: str, *, echo: bool, keep_going: bool, as_json: bool,
               printed: list[str] | None = None) -> int:
    """Run statements as they arrive; echo, flush after each one. Returns the exit code.

    (--timeout is the Session's: it counts the statements' running time, not the time spent
    waiting for input, so `tail -f log | gradcalc run - --timeout 5` can run for hours.)"""
    from gradcalc.errors import GradcalcError, Interrupted, LimitError
    from gradcalc.lang import NO_ECHO
    from gradcalc.render.values import value_repr

    out = sys.stdout
    failed = False
    if as_json:
        from gradcalc.render.values import value_json
    for start, text in session.chunks(readline):
        try:
            for stmt in session.statements(text, source, start):
                value = session.execute(stmt)
                line = stmt.line
                if as_json and printed:
                    _print_json({"line": line, "output": "".join(printed)})
                    printed.clear()
                if echo and value is not NO_ECHO:
                    if as_json:
                        _print_json({"line": line, "value": value_json(value)})
                    else:
                        out.write(value_repr(value) + "\n")
            out.flush()
        except GradcalcError as e:
            if isinstance(e, Interrupted):
                raise
            if e.line is None:
                e.locate(source=source, line=start, column=1, source_line=text.split("\n")[0])
            if as_json:
                if printed:
                    _print_json({"line": start, "output": "".join(printed)})
                    printed.clear()
                _print_json({"line": e.line, "column": e.column, "error": e.message})
            out.flush()
            write_error(e.format())
            if isinstance(e, LimitError) and "timed out" in e.message:
                return 1
            failed = True
            if not keep_going:
                return e.exit_code
    return 1 if failed else 0


def cmd_run(opts: dict) -> int:
    if opts.get("trusted"):
        from gradcalc.trusted import run_file

        path = opts.get("script") or "-"
        if path == "-" or not os.path.isfile(path):
            raise _usage(f"--trusted runs a Python file: {path!r} is not one")
        return run_file(path)
    if opts.get("isolate") or opts.get("isolate_memory"):
        from gradcalc.isolate import run_command

        return run_command(cmd_run, "run", opts)
    path = opts.get("script") or "-"
    echo = opts.get("echo")
    if echo is None:
        echo = not path.endswith(".py")
    as_json = bool(opts.get("json"))
    printed: list[str] = []
    write = printed.append if as_json else write_out
    session = make_session(opts, echo=echo, write=write)
    kw = dict(echo=echo, keep_going=bool(opts.get("keep_going")), as_json=as_json,
              printed=printed if as_json else None)
    if as_json:
        _ON_WARNING[0] = lambda w: _print_json(
            {"line": w.line, "column": w.column, "warning": w.text})
    try:
        if path == "-":
            raw = getattr(sys.stdin, "buffer", None)
            readline = ScriptLines(raw, "<stdin>").readline if raw else sys.stdin.readline
            return run_stream(session, readline, "<stdin>", **kw)
        if not os.path.isfile(path) and os.path.exists(path):  # a FIFO: run as it arrives
            try:
                stream = open(path, "rb")
            except OSError as e:
                raise _usage(f"cannot read {path!r}: {e.strerror or e}") from None
            with stream:
                return run_stream(session, ScriptLines(stream, path).readline, path, **kw)
        import io

        return run_stream(session, io.StringIO(read_script(path)).readline, path, **kw)
    finally:
        _ON_WARNING[0] = None


def cmd_repl(opts: dict) -> int:
    if not (sys.stdin and sys.stdin.isatty()):  # a pipe: read it as a script
        run_opts = defaults("run")
        run_opts.update((k, v) for k, v in opts.items() if k in run_opts and v is not None)
        return cmd_run(run_opts)
    from gradcalc.repl import run_repl

    return run_repl(opts, version=version())


IMPLS: dict[str, Callable[[dict], int]] = {
    "eval": cmd_eval,
    "run": cmd_run,
    "graph": cmd_graph,
    "plot": cmd_plot,
    "repl": cmd_repl,
}
