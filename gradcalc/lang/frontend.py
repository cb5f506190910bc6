"""Language layer: what front ends ask of a Session besides running code — help on a name
(signature and first docstring paragraph) and the chunking of a stream into statements.

Values reach this module only through `Session.lookup` (the sandbox's allow-list); it reads
docstrings and signatures of gradcalc's own objects and of Python's builtins, and of a script's
functions only what the compiler recorded (their parameters and docstring).
"""

from __future__ import annotations

import builtins as _py
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

from gradcalc.lang.parser import needs_more
from gradcalc.lang.runtime import UserFunction

# ---- help ----------------------------------------------------------------------------------


def first_paragraph(doc: str | None) -> str:
    """The first paragraph of a docstring, dedented ('' for none)."""
    if not doc:
        return ""
    import inspect

    return inspect.cleandoc(doc).split("\n\n", 1)[0].strip()


def _plain_signature(fn) -> str | None:
    """`(x, dim=None, *, out=None)` without annotations, or None when Python cannot tell."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _script_signature(fn: UserFunction) -> str:
    parts = [p if p not in fn.defaults else f"{p}={fn.defaults[p]!r}" for p in fn.params]
    if fn.star is not None:
        parts.append(f"*{fn.star}")
    elif fn.kwonly:
        parts.append("*")
    parts += [p if p not in fn.kwdefaults else f"{p}={fn.kwdefaults[p]!r}" for p in fn.kwonly]
    if fn.starstar is not None:
        parts.append(f"**{fn.starstar}")
    return f"({', '.join(parts)})"


def _is_script_class(value) -> bool:
    return isinstance(value, type) and value.__dict__.get("__gradcalc_script__", False)


def _is_gradcalc(value) -> bool:
    """An object of gradcalc's facade or core (its docstring and signature are ours)."""
    named = isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType))
    mod = value.__module__ if named else type(value).__module__
    return isinstance(mod, str) and (mod == "gradcalc" or mod.startswith("gradcalc."))


def describe(name: str, value: Any, python_builtin: bool = False) -> str:
    """Help text for `name`, which the session resolves to `value`."""
    from gradcalc.lang.namespace import Namespace

    if isinstance(value, UserFunction):
        doc = first_paragraph(vars(value).get("__doc__"))
        kind = "lambda" if value.is_lambda else "function"
        head = f"{name}{_script_signature(value)}"
        return head + (f"\n\n{doc}" if doc else f"\n\n(a {kind} defined in this session; it has "
                                                 "no docstring)")
    if isinstance(value, Namespace):
        names = value.names()
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        return f"{name}: the module {value!r}, {len(names)} names: {shown}"
    if _is_script_class(value):
        bases = ", ".join(b.__name__ for b in value.__bases__ if b is not object)
        init = value.__dict__.get("__init__")
        sig = _script_signature(init) if isinstance(init, UserFunction) else "()"
        sig = re.sub(r"^\(self(, )?", "(", sig)
        doc = first_paragraph(vars(init).get("__doc__")) if isinstance(init, UserFunction) else ""
        return (f"class {name}" + (f"({bases})" if bases else "") + f"\n\n{name}{sig}: a class "
                "defined in this session" + (f"\n\n{doc}" if doc else ""))
    if type(value).__dict__.get("__gradcalc_script__", False):
        return f"{name}: an instance of {type(value).__name__}, a class defined in this session"
    if python_builtin:
        py = getattr(_py, name.rsplit(".", 1)[-1])
        sig = _plain_signature(py)
        doc = first_paragraph(py.__doc__)
        return (f"{name}{sig}\n\n{doc}" if sig else doc) + "\n\n(Python's builtin)"
    if isinstance(value, types.MethodType) and _is_gradcalc(value.__func__):
        value = value.__func__  # x.sum: the method's function (its signature without self)
        sig = _plain_signature(value) or "(...)"
        sig = re.sub(r"^\((self|input)(, )?", "(", sig)
        return f"{name}{sig}\n\n{first_paragraph(value.__doc__) or _op_note(value)}"
    if callable(value) and _is_gradcalc(value):
        sig = _plain_signature(value) or "(...)"
        doc = first_paragraph(value.__doc__)
        if isinstance(value, type):
            return f"class {name}{sig}" + (f"\n\n{doc}" if doc else "")
        return f"{name}{sig}\n\n{doc or _op_note(value)}"
    return f"{name}: {_what(value)}"


def _op_note(fn) -> str:
    import inspect

    from gradcalc.core.registry import DIFFERENTIABLE, FUNCTIONS

    fn = inspect.unwrap(fn)  # a bare name's calculator form (it takes numbers) is the op

    names = [n for n, f in FUNCTIONS.items() if f is fn]
    if not names:
        return "(no docstring; PyTorch's documentation of the same name applies)"
    grad = "differentiable" if names[0] in DIFFERENTIABLE else "not differentiable"
    return (f"An op of gradcalc's op table ({grad}), as torch.{names[0]}; PyTorch's "
            "documentation applies (docs/differences.md lists where gradcalc differs).")


def _what(value) -> str:
    import gradcalc

    if isinstance(value, gradcalc.Tensor):
        dims = ", ".join(str(d) for d in value.shape)
        rg = ", requires_grad" if value.requires_grad else ""
        gf = f", grad_fn={value.grad_fn.name()}" if value.grad_fn is not None else ""
        return f"a tensor of shape ({dims}{',' if value.dim() == 1 else ''}) " \
               f"{value.dtype.name}{rg}{gf}"
    return f"a {type(value).__name__}"


# ---- statements of a stream ----------------------------------------------------------------

_BLOCK = re.compile(r"(def|class|if|for|while|with|try|async|@)\b")
_CONTINUES = re.compile(r"(else|elif|except|finally)\b")


def _balanced(line: str) -> bool | None:
    """True when a single line surely closes its statement; None when only the parser knows."""
    if "\\" in line or '"""' in line or "'''" in line:
        return None
    depth, quote = 0, None
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            break
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return None if depth or quote else True


def statement_chunks(readline: Callable[[], str]) -> Iterator[tuple[int, str]]:
    """Yield (first line number, text) of each top-level statement as soon as it is whole.

    A simple statement is whole when its brackets close (the parser decides the unclear
    cases); a block (`def`, `for`, `if` ...) ends at the next line that starts at column 0.
    """
    buf: list[str] = []
    start = lineno = 0
    block = False
    while True:
        line = readline()
        if not line:
            break
        lineno += 1
        if buf and block and line[:1] not in (" ", "\t", "\n", "\r", "#", "") \
                and not _CONTINUES.match(line):
            yield start, "".join(buf)
            buf = []
        if not buf:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            start, block = lineno, bool(_BLOCK.match(line))
        buf.append(line)
        if not block:
            quick = _balanced(line) if len(buf) == 1 else None
            if quick or not needs_more("".join(buf)):
                yield start, "".join(buf)
                buf = []
    if buf:
        yield start, "".join(buf)
