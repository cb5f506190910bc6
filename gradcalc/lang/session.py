"""Language layer: a Session holds a script's names and runs text through parse -> compile ->
closures, applying the echo rule and turning every failure into a positioned GradcalcError.
"""

from __future__ import annotations

import builtins as _builtins
import gc
import sys
from typing import Callable, Iterator

from gradcalc.errors import GradcalcError, Interrupted, LimitError
from gradcalc.lang import safety
from gradcalc.lang.builtins import Registry
from gradcalc.lang.limits import Limits
from gradcalc.lang.parser import parse, parse_expression
from gradcalc.lang.runtime import Frame, Runtime, locate
from gradcalc.lang.statements import Compiler, Statement


class _NoEcho:
    __slots__ = ()

    def __repr__(self):
        return "NO_ECHO"

    def __bool__(self):
        return False


#: returned by `Session.execute` for statements that have nothing to echo
NO_ECHO = _NoEcho()

_RECURSION_HEADROOM = 40  # Python frames per nested script call, generously
#: Python frames the compiler may use on one statement: three per level of nesting, so a flat
#: `1+1+...` of about 3,000 terms compiles (CPython's own compiler takes about as many)
_COMPILE_DEPTH = 10_000


class Session:
    """A script's state: names, limits, output. `run` text, or `statements` + `execute`.

    `isolate=True` (or a `gradcalc.isolate.Isolation`) returns an `IsolatedSession` instead:
    the statements run in a confined child process (docs/security.md).
    """

    def __new__(cls, *args, isolate=False, **kwargs):
        if isolate:
            from gradcalc.isolate import IsolatedSession, Isolation

            return IsolatedSession(*args, isolation=isolate if isinstance(isolate, Isolation)
                                   else None, **kwargs)
        return super().__new__(cls)

    def __init__(self, echo: bool = True, write: Callable[[str], object] = None,
                 limits: Limits | None = None, isolate=False):
        self.echo = echo
        self.write = write if write is not None else (lambda s: sys.stdout.write(s))
        self.limits = limits if limits is not None else Limits()
        self.runtime = Runtime(self.limits, self._write)
        self.registry = Registry(self.runtime, self)
        self.frame = Frame({})
        self.namespace = self.frame.vars

    def _write(self, text: str) -> None:
        self.write(text)

    # -- compiling --
    def compile(self, program) -> list[Statement]:
        return Compiler(self.runtime, self.registry, program).compile_program(program)

    def statements(self, text: str, source: str = "<input>",
                   first_line: int = 1) -> Iterator[Statement]:
        """Parse and compile `text`; yields its top-level statements (each with `.line`).

        `first_line` is the number of the text's first line in `source` (a script read
        statement by statement): positions in errors are then lines of the whole script.
        """
        # NOTE: parsing and compiling allocate many small, long-lived objects; with the cyclic
        # collector running, a 10,000-line script compiled 20x slower (measured).
        enabled = gc.isenabled()
        gc.disable()
        old_limit = sys.getrecursionlimit()
        if old_limit < _COMPILE_DEPTH:  # a flat sum of 1,000s of terms nests that deep
            sys.setrecursionlimit(_COMPILE_DEPTH)
        try:
            program = parse(text, source, first_line)
            compiled = self.compile(program)
        finally:
            if old_limit < _COMPILE_DEPTH:
                sys.setrecursionlimit(old_limit)
            if enabled:
                gc.enable()
        yield from compiled

    # -- running --
    def execute(self, stmt: Statement):
        """Run one statement; the value of an expression statement, else NO_ECHO."""
        rt = self.runtime
        try:
            rt.enter()  # the clock, the core's allocation guard, the session's dtype
        except GradcalcError as e:
            raise self._locate(e, stmt) from None
        old_limit = sys.getrecursionlimit()
        want = self.limits.max_recursion * _RECURSION_HEADROOM + 1000
        if old_limit < want:
            sys.setrecursionlimit(want)
        rt.depth = 0
        try:
            if stmt.expr is not None:
                value = stmt.expr(self.frame)
                if value is None:
                    return NO_ECHO
                if self.echo:
                    self.namespace["_"] = value
                return value
            stmt.run(self.frame)
            return NO_ECHO
        except GradcalcError as e:
            raise self._locate(e, stmt) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted", source=stmt.program.source, line=stmt.line,
                              column=stmt.column,
                              source_line=stmt.program.line_text(stmt.line)) from None
        except Exception as e:  # a bug in a core op or here: still reported, with position
            raise self._locate(e, stmt) from None
        finally:
            rt.exit()
            if old_limit < want:
                sys.setrecursionlimit(old_limit)

    def _locate(self, e, stmt):
        err = locate(e, stmt.program, stmt.line, stmt.column)
        if isinstance(err, LimitError) and err.limit and not err.hinted:
            err.add_hint(self.limits.hints.get(err.limit))
        return err

    def run(self, text: str, source: str = "<input>", on_echo: Callable | None = None,
            keep_going: bool = False) -> list[GradcalcError]:
        """Run a whole text; echoes per the echo rule. Returns the errors (with keep_going)."""
        errors = []
        for stmt in self.statements(text, source):
            try:
                value = self.execute(stmt)
            except GradcalcError as e:
                if not keep_going:
                    raise
                errors.append(e)
                continue
            if value is not NO_ECHO and self.echo:
                if on_echo is not None:
                    on_echo(value)
                else:
                    self.write(repr(value) + "\n")
        return errors

    def evaluate(self, expr_text: str, source: str = "<expr>"):
        """The value of one expression, in this session's names."""
        node = parse_expression(expr_text, source)
        from gradcalc.lang.ast import Program, Node

        program = Program([], source, expr_text)
        stmt = Compiler(self.runtime, self.registry, program).top(
            Node("expr", node.line, node.column, node))
        echo, self.echo = self.echo, False
        try:
            value = self.execute(stmt)
        finally:
            self.echo = echo
        return None if value is NO_ECHO else value

    def labels(self) -> dict[int, list[str]]:
        """id(graph node or leaf tensor) -> names of the variables holding its result."""
        out: dict[int, list[str]] = {}
        try:
            import gradcalc

            tensor_type = gradcalc.Tensor
        except (ImportError, AttributeError):
            return out
        for name, value in self.namespace.items():
            if name == "_" or not isinstance(value, tensor_type):
                continue
            node = value.grad_fn
            key = id(node) if node is not None else id(value)
            out.setdefault(key, []).append(name)
        return out

    # -- what a front end may ask (completion, :help): through the sandbox's allow-lists --
    def names(self) -> list[str]:
        """Every name a statement could use now: the script's own and the builtins."""
        return sorted(set(self.namespace) | set(self.registry.candidates()))

    def lookup(self, dotted: str):
        """The value of `a` or `a.b.c`, read as a script would (KeyError if it can't be).

        Runs no call a script wrote: a property defined by a script class is not read.
        """
        head, *rest = dotted.split(".")
        if head in self.namespace:
            value = self.namespace[head]
        else:
            try:
                value = self.registry.lookup(head)
            except GradcalcError:
                raise KeyError(head) from None
        for part in rest:
            if part[:1] == "_" or safety.runs_script_code(value, part):
                raise KeyError(part)
            try:
                value = safety.get_attr(value, part)
            except GradcalcError:
                raise KeyError(part) from None
        return value

    def attributes(self, value) -> list[str]:
        """The attribute names a script may read on `value` (what completion offers)."""
        return safety.attribute_names(value)

    def help(self, name: str) -> str:
        """Help on `name` (`sigmoid`, `torch.sigmoid`, `F.relu`, `nn.Linear`, `x.sum`, a
        script's function): its signature and the first paragraph of its docstring.
        KeyError when the session cannot read the name."""
        from gradcalc.lang.frontend import describe

        value = self.lookup(name)
        head = name.split(".", 1)[0]
        python = ("." not in name and head not in self.namespace
                  and self.registry.python.get(head) is value and hasattr(_builtins, head)
                  and head not in ("torch", "nn", "F"))
        return describe(name, value, python_builtin=python)

    def variables(self) -> dict:
        """The names the script bound itself, with their values (not '_' or builtins)."""
        return {k: v for k, v in self.namespace.items()
                if k != "_" and not k.startswith("__")}

    def bind(self, name: str, value) -> None:
        """Bind `name` to `value` as an assignment in the script would (`_`, `Out`)."""
        self.namespace[name] = value

    @staticmethod
    def is_complete(text: str) -> bool:
        """True when an interactive entry is ready to run (brackets, strings and block
        headers closed; a block ended by an empty line); see gradcalc.lang.parser."""
        from gradcalc.lang.parser import is_complete

        return is_complete(text)

    @staticmethod
    def syntax_error(text: str, source: str = "<stdin>"):
        """The ParseError of `text`, or None when it parses or only needs more lines."""
        from gradcalc.errors import IncompleteInput, ParseError

        try:
            parse(text, source)
        except IncompleteInput:
            return None
        except ParseError as e:
            return e
        return None

    @staticmethod
    def chunks(readline: Callable[[], str]) -> Iterator[tuple[int, str]]:
        """(first line number, text) of each top-level statement read from `readline`, as soon
        as it is whole (a stream, a pipe: nothing is read ahead)."""
        from gradcalc.lang.frontend import statement_chunks

        return statement_chunks(readline)
