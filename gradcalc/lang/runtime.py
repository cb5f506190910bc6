"""Language layer: what compiled code runs on: frames, user functions, control signals, the
per-session runtime state (limits, depth, step budget, clock, allocation guard) and the mapping
of Python exceptions to positioned GradcalcErrors.
"""

from __future__ import annotations

import sys
import time
import types

from gradcalc.errors import (
    AttributeNotFound,
    EvalError,
    GradcalcError,
    GradcalcIndexError,
    GradcalcTypeError,
    GradcalcValueError,
    LimitError,
    TorchRuntimeError,
)


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


BREAK = _Signal("BREAK")
CONTINUE = _Signal("CONTINUE")
RETURN = _Signal("RETURN")


class Frame:
    """Names of one scope: the module, a function call, a class body or a comprehension."""

    __slots__ = ("vars", "parent", "module", "retval", "fn", "is_class")

    def __init__(self, vars, parent=None, fn=None, is_class=False):
        self.vars = vars
        self.parent = parent
        self.module = parent.module if parent is not None else self
        self.retval = None
        self.fn = fn
        self.is_class = is_class


class ScriptError(Exception):
    """An exception value made by a script (`raise ValueError('...')`)."""

    def __init__(self, kind: str, *args):
        super().__init__(*args)
        self.kind = kind

    def __repr__(self):
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})"


class Runtime:
    """Per-session state that compiled closures read: limits, call depth, output, the step
    budget and the clock (both for the whole run), the core's allocation guard and the
    session's default dtype.

    Compiled loops, comprehensions and script function calls each count a step with
    `left = rt.left - 1; rt.left = left; if left <= 0: rt.tick()`; `tick` adds the steps up,
    checks the budget, the clock and the memory held, and hands out the next chunk.
    """

    def __init__(self, limits, write):
        from gradcalc.core import alloc

        self.limits = limits
        self.write = write
        self.max_elements = limits.max_elements if limits.max_elements is not None \
            else sys.maxsize
        self.max_recursion = limits.max_recursion
        self.max_iterations = limits.max_iterations or 0
        self.depth = 0
        self.deadline = None  # time.monotonic() at which the running statement times out
        self.used = 0.0  # seconds the session's statements have run
        self.steps = 0  # steps counted at the last tick
        self.left = self.chunk = 1  # steps until the next tick; steps handed out at the last
        self.dtype = None  # the default dtype the script set (None: the process's)
        self.grad_enabled = None  # the grad mode the script set (None: the process's)
        self._outer_grad = None
        self.device = None  # the default device the script set (None: the process's)
        self.guard = alloc.Guard(limits.max_elements, limits.max_memory, limits.max_flops)
        self.guard.time_limit = limits.timeout
        self._alloc = alloc
        self._interval = 1
        self._tick_time = self._rss_time = self._t0 = 0.0
        self._entered = 0
        self._token = self._outer_dtype = None

    # -- a statement runs between enter() and exit() --
    def enter(self) -> None:
        """Start running (Session.execute): the clock, the allocation guard, the dtype."""
        self._entered += 1
        if self._entered > 1:
            return
        now = time.monotonic()
        self._t0 = self._tick_time = now
        timeout = self.limits.timeout
        if timeout is not None:
            self.deadline = self.guard.deadline = now + timeout - self.used
            if now >= self.deadline:
                self._entered = 0
                self.deadline = self.guard.deadline = None
                raise self.timeout_error()
        self._token = self._alloc.activate(self.guard)
        dtypes = sys.modules.get("gradcalc.core.dtypes")
        if dtypes is not None:
            self._outer_dtype = outer = dtypes.get_default_dtype()
            if self.dtype is not None and self.dtype is not outer:
                dtypes.set_default_dtype(self.dtype)
        creation = sys.modules.get("gradcalc.core.creation")
        if creation is not None and self.device is not None:
            creation._default_device[0] = self.device
        engine = sys.modules.get("gradcalc.core.autograd")
        if engine is not None:  # torch.set_grad_enabled(False) holds for this session only
            self._outer_grad = engine._enabled
            if self.grad_enabled is not None:
                engine._set_enabled(self.grad_enabled)

    def exit(self) -> None:
        """Stop running: count the time used, restore the process's guard and dtype."""
        self._entered -= 1
        if self._entered:
            return
        self._alloc.deactivate(self._token)
        self.used += time.monotonic() - self._t0
        self.deadline = self.guard.deadline = None
        dtypes = sys.modules.get("gradcalc.core.dtypes")
        if dtypes is not None:
            outer = self._outer_dtype if self._outer_dtype is not None else dtypes.float32
            now = dtypes.get_default_dtype()
            if self.dtype is not None or now is not outer:
                self.dtype = now
            if now is not outer:
                dtypes.set_default_dtype(outer)
        self._outer_dtype = None
        creation = sys.modules.get("gradcalc.core.creation")
        if creation is not None:  # torch.set_default_device holds for this session only
            device = creation._default_device[0]
            if self.device is not None or device is not creation.CPU:
                self.device = device
                creation._default_device[0] = creation.CPU
        engine = sys.modules.get("gradcalc.core.autograd")
        if engine is not None:  # (loaded by this statement: the process's mode was the default)
            outer = self._outer_grad if self._outer_grad is not None else True
            if engine._enabled is not outer or self.grad_enabled is not None:
                self.grad_enabled = engine._enabled
                engine._set_enabled(outer)
        self._outer_grad = None

    # -- the step budget and the clock --
    def tick(self) -> None:
        """Every `chunk` steps: count them; check the step budget, the clock and memory."""
        self.steps += self.chunk
        limit = self.max_iterations
        if limit and self.steps > limit:
            self.left = self.chunk = 1
            raise self.steps_error()
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            self.left = self.chunk = 1
            raise self.timeout_error()
        if now - self._rss_time > 0.005:
            self._rss_time = now
            self.guard.check_held("the script")
        # the next chunk: longer while ticks come fast, shorter when the steps are slow
        spent = now - self._tick_time
        self._tick_time = now
        if spent < 0.001:
            if self._interval < _MAX_INTERVAL:
                self._interval *= 2
        elif spent > 0.01 and self._interval > 1:
            self._interval //= 2
        chunk = self._interval
        if limit and chunk > limit + 1 - self.steps:
            chunk = limit + 1 - self.steps
        self.left = self.chunk = chunk

    def check_clock(self) -> None:
        """Raise the timeout error if the running statement is past its deadline."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self.timeout_error()

    def timeout_error(self) -> LimitError:
        return LimitError(
            f"timed out: the script ran longer than the time limit of {self.limits.timeout:g} s",
            limit="timeout").add_hint(self.limits.hints.get("timeout"))

    def timed_out(self):
        raise self.timeout_error()

    def steps_error(self) -> LimitError:
        return LimitError(
            f"the script ran more than {self.max_iterations:,} steps (loop iterations, "
            "comprehension items and script function calls, counted together)",
            limit="max_iterations").add_hint(self.limits.hints.get("max_iterations"))


#: the most steps between two ticks (a tick costs about a microsecond)
_MAX_INTERVAL = 512


class UserFunction:
    """A function defined by a script (`def` or `lambda`); callable from the core too."""

    def __init__(self, name, params, defaults, star, kwonly, kwdefaults, starstar, body,
                 closure, rt, program, is_lambda=False):
        self.__name__ = self.__qualname__ = name
        self.params = params  # positional-or-keyword names
        self.defaults = defaults  # name -> value
        self.star = star
        self.kwonly = kwonly
        self.kwdefaults = kwdefaults
        self.starstar = starstar
        self.body = body
        self.closure = closure
        self.rt = rt
        self.program = program
        self.is_lambda = is_lambda
        self.owner_class = None
        self._simple = not (star or kwonly or starstar)
        self._nparams = len(params)

    def __repr__(self):
        return f"<function {self.__name__}>"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __deepcopy__(self, memo):
        return self  # functions are atomic to copy, as Python's are

    def _bind(self, args, kwargs):
        name = self.__name__
        params = self.params
        n = self._nparams
        vars = {}
        if len(args) > n:
            if self.star is None:
                raise GradcalcTypeError(
                    f"{name}() takes {n} positional argument{'s' if n != 1 else ''} "
                    f"but {len(args)} were given"
                )
            vars[self.star] = tuple(args[n:])
            args = args[:n]
        elif self.star is not None:
            vars[self.star] = ()
        for p, v in zip(params, args):
            vars[p] = v
        extra = {}
        for k, v in kwargs.items():
            if k in params or k in self.kwonly:
                if k in vars:
                    raise GradcalcTypeError(f"{name}() got multiple values for argument '{k}'")
                vars[k] = v
            elif self.starstar is not None:
                extra[k] = v
            else:
                raise GradcalcTypeError(f"{name}() got an unexpected keyword argument '{k}'")
        missing = []
        for p in params:
            if p not in vars:
                if p in self.defaults:
                    vars[p] = self.defaults[p]
                else:
                    missing.append(p)
        for p in self.kwonly:
            if p not in vars:
                if p in self.kwdefaults:
                    vars[p] = self.kwdefaults[p]
                else:
                    missing.append(p)
        if missing:
            names = " and ".join(f"'{m}'" for m in missing)
            raise GradcalcTypeError(
                f"{name}() missing {len(missing)} required argument{'s' if len(missing) > 1 else ''}"
                f": {names}"
            )
        if self.starstar is not None:
            vars[self.starstar] = extra
        return vars

    def __call__(self, *args, **kwargs):
        if self._simple and not kwargs and len(args) == self._nparams:
            vars = dict(zip(self.params, args))
        else:
            vars = self._bind(args, kwargs)
        rt = self.rt
        if rt.depth >= rt.max_recursion:
            raise LimitError(
                f"maximum recursion depth exceeded: more than {rt.max_recursion:,} nested calls "
                "of script functions", limit="max_recursion",
            ).add_hint(rt.limits.hints.get("max_recursion"))
        left = rt.left - 1
        rt.left = left
        if left <= 0:
            rt.tick()
        frame = Frame(vars, self.closure, self)
        rt.depth += 1
        try:
            if self.is_lambda:
                return self.body(frame)
            if self.body(frame) is RETURN:
                return frame.retval
            return None
        finally:
            rt.depth -= 1


# Python's own messages name a value's type ("'function' object is not subscriptable"): a
# script's function reads as Python's would
UserFunction.__name__ = UserFunction.__qualname__ = "function"


def as_gradcalc(e: BaseException) -> GradcalcError:
    """The GradcalcError that reports `e` (Python's exceptions keep their type name)."""
    if isinstance(e, GradcalcError):
        return e
    if isinstance(e, ScriptError):
        msg = str(e)
        return EvalError(f"{e.kind}: {msg}" if msg else e.kind)
    if isinstance(e, RecursionError):
        return LimitError("maximum recursion depth exceeded (the script nests too deeply)")
    if isinstance(e, MemoryError):
        return LimitError("out of memory: the result is too large")
    msg = str(e)
    name = type(e).__name__
    if isinstance(e, KeyError):
        return EvalError(f"KeyError: {msg}")
    if isinstance(e, (ZeroDivisionError, OverflowError, AssertionError, StopIteration)):
        return EvalError(f"{name}: {msg}" if msg else name)
    if isinstance(e, IndexError):
        return GradcalcIndexError(f"IndexError: {msg}")
    if isinstance(e, TypeError):
        return GradcalcTypeError(f"TypeError: {msg}")
    if isinstance(e, ValueError):
        return GradcalcValueError(f"ValueError: {msg}")
    if isinstance(e, AttributeError):
        return AttributeNotFound(msg)
    if isinstance(e, RuntimeError):
        return TorchRuntimeError(msg)
    if isinstance(e, NameError):
        return EvalError(f"NameError: {msg}")
    return EvalError(f"{name}: {msg}" if msg else name)


def locate(e: BaseException, program, line: int, column: int) -> GradcalcError:
    """`e` as a GradcalcError with a position (kept if it already has one)."""
    err = as_gradcalc(e)
    if err.line is None:
        err.locate(source=program.source, line=line, column=column,
                   source_line=program.line_text(line))
    return err


# ----------------------------------------------------------------------------------------
# Python warnings raised while script code runs (a core op's UserWarning ...), positioned.

#: modules whose closures run a script; their frames know the node they evaluate
_SCRIPT_MODULES = frozenset({"gradcalc.lang.compiler", "gradcalc.lang.statements",
                             "gradcalc.lang.session"})

#: what a library warns about itself (importing, deprecations), not about the script
_LIBRARY_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                       ResourceWarning)


def script_position(frame):
    """(program, line, column) of the innermost script node being evaluated in `frame`'s stack.

    Each compiled closure holds its node's `program`, `line` and `col` (they position its
    errors); a statement running in `Session.execute` is the fallback. None outside a script.
    """
    f = frame
    while f is not None:
        if f.f_globals.get("__name__") in _SCRIPT_MODULES:
            loc = f.f_locals
            program, line, col = loc.get("program"), loc.get("line"), loc.get("col")
            if hasattr(program, "line_text") and type(line) is int and type(col) is int:
                return program, line, col
            stmt = loc.get("stmt")
            if hasattr(getattr(stmt, "program", None), "line_text"):
                return stmt.program, stmt.line, stmt.column
        f = f.f_back
    return None


class ScriptWarning:
    """A warning raised while a script ran, positioned like an error (`format()`)."""

    __slots__ = ("category", "column", "line", "message", "source", "source_line")

    def __init__(self, message: str, category: type = UserWarning, source: str | None = None,
                 line: int | None = None, column: int | None = None,
                 source_line: str | None = None):
        self.message, self.category, self.source = message, category, source
        self.line, self.column, self.source_line = line, column, source_line

    @property
    def text(self) -> str:
        """The message, led by the category unless it is a plain UserWarning."""
        if self.category is UserWarning:
            return self.message
        return f"{self.category.__name__}: {self.message}"

    def format(self) -> str:
        """`where:line:col: warning: message`, the source line and a caret (plain text)."""
        if self.line is None:
            return f"{self.source or 'gradcalc'}: warning: {self.text}"
        col = self.column or 1
        head = f"{self.source or '<input>'}:{self.line}:{col}: warning: {self.text}"
        if self.source_line is None:
            return head
        return f"{head}\n    {self.source_line.rstrip()}\n    {' ' * (col - 1)}^"

    def __repr__(self) -> str:
        return f"ScriptWarning({self.format().splitlines()[0]!r})"


class ScriptWarnings:
    """Context manager: warnings raised while it is active go to `report(ScriptWarning)`,
    positioned at the script node that raised them, each place and message once, instead of
    Python's `path/to/gradcalc/file.py:140: UserWarning` lines on stderr. A library's own
    deprecation and import warnings raised outside script code are dropped."""

    def __init__(self, report):
        self.report = report
        self.seen: set = set()
        self._saved = None

    def __enter__(self):
        import warnings

        self._saved = warnings.catch_warnings()
        self._saved.__enter__()
        # once per script position (below), not once per line of gradcalc's code; the filters
        # already there (ignore NumPy's RuntimeWarnings inside gradcalc, -W error ...) still win
        warnings.simplefilter("always", append=True)
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc):
        self._saved.__exit__(*exc)
        return False

    def _show(self, message, category, filename, lineno, file=None, line=None):
        import sys

        where = script_position(sys._getframe(1))
        if where is None:
            if issubclass(category, _LIBRARY_CATEGORIES):
                return
            w = ScriptWarning(str(message), category)
        else:
            program, at_line, at_col = where
            w = ScriptWarning(str(message), category, program.source, at_line, at_col,
                              program.line_text(at_line))
        key = (w.source, w.line, w.column, w.category, w.message)
        if key in self.seen:
            return
        self.seen.add(key)
        self.report(w)
