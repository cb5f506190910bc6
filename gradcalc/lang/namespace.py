"""Language layer: a module-like view for scripts (`torch`, `nn`, `F`, `math` ...).

A Namespace offers one row of the export table (gradcalc/lang/exports.py) or a fixed set of
values; it imports nothing else, so holding the class gives a script nothing.
"""

from __future__ import annotations

import functools

from gradcalc.errors import AttributeNotFound, EvalError, SecurityError
from gradcalc.lang import exports


class Namespace:
    """A module-like view for scripts (`torch`, `nn`, `F` ...): its export-table row, lazily loaded.

    `name` is a row of `exports.TABLE` (or a namespace made only of `extra` values, such as
    `math`); nothing else can be loaded, so holding this class gives a script nothing.
    """

    def __init__(self, name, subs=None, extra=None, sized=None):
        self._name = name
        self._exported = name in exports.TABLE
        self._module = None
        self._names = None
        self._subs = subs or {}
        self._extra = extra if extra is not None else {}
        self._sized = sized or {}
        self._cache = {}

    def __repr__(self):
        return f"<module '{self._name}'>"

    def __deepcopy__(self, memo):
        return self  # modules are shared, as copy.deepcopy treats Python's

    def _load(self):
        if self._module is None and self._exported:
            try:
                self._module = exports.load(exports.TABLE[self._name][0])
                self._names = exports.names_of(self._name)
            except ImportError:
                raise EvalError(
                    f"module '{self._name}' is not available in this build") from None
        return self._module

    def get(self, name: str):
        try:
            return self._cache[name]
        except KeyError:
            pass
        value = self._lookup(name)
        self._cache[name] = value
        return value

    def has(self, name: str) -> bool:
        try:
            self.get(name)
            return True
        except (AttributeNotFound, SecurityError, EvalError):
            return False

    def _lookup(self, name):
        if name[:1] == "_":
            raise SecurityError(f"access to '{name}' is not allowed (underscore attributes)")
        if name in self._subs:
            return self._subs[name]
        if name in self._extra:
            return self._extra[name]
        mod = self._load()
        if mod is None or name not in self._names:
            matches = _close_matches(name, self.names(), n=3)
            hint = f"; did you mean '{self._name}.{matches[0]}'?" if matches else ""
            raise AttributeNotFound(f"module '{self._name}' has no attribute '{name}'{hint}")
        value = getattr(mod, name)
        if not exports.vet(value):  # a bad row in the export table: a bug, not the user's
            raise AssertionError(f"export table: {self._name}.{name} is not exportable")
        check = self._sized.get(name)
        if check is not None:
            value = _with_check(value, check)
        return value

    def names(self) -> list[str]:
        out = set(self._subs) | set(self._extra)
        try:
            self._load()
        except EvalError:
            pass
        if self._names is not None:
            out |= self._names
        return sorted(out)


# errors Python words with the type's name say 'module', as they would for a real module
Namespace.__name__ = Namespace.__qualname__ = "module"


def _with_check(fn, check):
    @functools.wraps(fn)
    def checked(*args, **kwargs):
        check(args, kwargs)
        return fn(*args, **kwargs)

    return checked


def _close_matches(word, possibilities, n=3):
    """difflib.get_close_matches, imported on the first miss only (not at every start)."""
    from difflib import get_close_matches

    return get_close_matches(word, possibilities, n=n)
