"""Language layer: the sandbox. Attribute reads and writes go through per-type allow-lists
(public PyTorch names only); nothing here calls Python's getattr on a name a script chose
unless that name is on the list for the object's type.
"""

from __future__ import annotations

import sys
from typing import ClassVar

from gradcalc.errors import AttributeNotFound, LimitError, SecurityError
from gradcalc.lang.exports import DENY, exported_classes, is_gradcalc_public
from gradcalc.lang.namespace import Namespace
from gradcalc.lang.pymodules import CONTAINER_METHODS

#: dunder attributes a script may read: `type(m).__name__`, `x.__class__`, `super().__init__`
SCRIPT_DUNDERS = frozenset({"__init__", "__name__", "__class__"})

_STR = frozenset(
    "capitalize casefold center count endswith find format index isalnum isalpha isdecimal "
    "isdigit islower isnumeric isspace istitle isupper join ljust lower lstrip partition "
    "removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split "
    "splitlines startswith strip swapcase title upper zfill".split()
)
_LIST = frozenset("append clear copy count extend index insert pop remove reverse sort".split())
_TUPLE = frozenset("count index".split())
_DICT = frozenset("clear copy get items keys pop popitem setdefault update values".split())
_SET = frozenset(
    "add clear copy difference discard intersection isdisjoint issubset issuperset pop "
    "remove symmetric_difference union update".split()
)
_NUM = frozenset("real imag conjugate is_integer bit_length as_integer_ratio".split())
_RANGE = frozenset("start stop step count index".split())
_SLICE = frozenset("start stop step".split())
_NDARRAY = frozenset(
    "T all any argmax argmin argsort astype clip conj copy cumprod cumsum diagonal dot dtype "
    "fill flatten imag item itemsize max mean min nbytes ndim nonzero prod ptp ravel real "
    "reshape round shape size sort squeeze std sum swapaxes tolist trace transpose var".split()
)
_BUILTIN_ALLOW = {
    str: _STR, list: _LIST, tuple: _TUPLE, dict: _DICT, set: _SET,
    frozenset: frozenset("copy difference intersection isdisjoint issubset issuperset "
                         "symmetric_difference union".split()),
    int: _NUM, float: _NUM, complex: _NUM, bool: _NUM, range: _RANGE, slice: _SLICE,
}
_DENY = DENY  # public names that exist on core classes but reach outside the sandbox

_cache: dict = {}


def _is_core_type(t) -> bool:
    return is_gradcalc_public(getattr(t, "__module__", "") or "")


def _public_names(t) -> frozenset:
    names = set()
    for klass in t.__mro__:
        if klass is object:
            continue
        if _is_core_type(klass):
            names |= {n for n in vars(klass) if not n.startswith("_")}
        else:
            # a builtin base (tuple for Size and return types): only its safe methods
            names |= _BUILTIN_ALLOW.get(klass, frozenset())
    fields = getattr(t, "_fields", None)
    if isinstance(fields, tuple):
        names |= {f for f in fields if isinstance(f, str) and not f.startswith("_")}
    return frozenset(names - _DENY)


def _numpy_allow(t):
    mod = getattr(t, "__module__", "") or ""
    if mod.startswith("numpy"):
        if t.__name__ == "ndarray" or mod == "numpy" and hasattr(t, "item"):
            return _NDARRAY
        return frozenset({"name"})
    return None


def allowed_names(t) -> frozenset | None:
    """Public attribute names a script may read on instances of type `t` (None: any)."""
    try:
        return _cache[t]
    except KeyError:
        pass
    from gradcalc.lang.runtime import UserFunction

    if t in _BUILTIN_ALLOW:
        names = _BUILTIN_ALLOW[t]
    elif t in CONTAINER_METHODS:  # collections' containers: their base's methods and theirs
        base = _DICT if issubclass(t, dict) else frozenset()
        names = base | CONTAINER_METHODS[t]
    elif "__gradcalc_public__" in getattr(t, "__dict__", {}):  # the interpreter's own helpers
        names = t.__gradcalc_public__
    elif getattr(t, "__gradcalc_script__", False):
        names = None  # instances of script classes: any public attribute
    elif t is UserFunction:
        names = frozenset()
    elif _is_core_type(t):
        names = _public_names(t)
    else:
        names = _numpy_allow(t) or frozenset()
    _cache[t] = names
    return names


def _type_name(obj) -> str:
    if isinstance(obj, Namespace):
        return f"module '{obj._name}'"
    if isinstance(obj, type):
        return f"type object '{obj.__name__}'"
    return f"'{type(obj).__name__}' object"


def _no_attr(obj, name) -> AttributeNotFound:
    message = f"{_type_name(obj)} has no attribute '{name}'"
    if name[:1] != "_":  # a typo's close match among the names a script may read
        from difflib import get_close_matches

        matches = get_close_matches(name, attribute_names(obj), n=1)
        if matches:
            message += f"; did you mean '{matches[0]}'?"
    return AttributeNotFound(message)


def get_attr(obj, name: str):
    """obj.name for a script, or AttributeNotFound / SecurityError."""
    if isinstance(obj, Namespace):
        return obj.get(name)
    if name[:1] == "_":
        return _dunder(obj, name)
    t = type(obj)
    if t is str and name in _STR_GROWING:
        return _str_method(obj, name)
    if t is list and name == "extend":
        return _list_extend(obj)
    if t in _CONSUMERS and name in _CONSUMERS[t]:
        return _consumer(obj, name)
    if t is super:
        try:
            return getattr(obj, name)
        except AttributeError:
            raise _no_attr(obj, name) from None
    if isinstance(obj, type):
        return _class_attr(obj, name)
    names = allowed_names(t)
    if names is None or name in names:
        if names is _NDARRAY and name == "astype":
            return _astype(obj)
        if names is _NDARRAY and name == "tolist":
            return _ndarray_tolist(obj)
        if names is _NDARRAY and name == "dot":
            return _ndarray_dot(obj)
        try:
            return getattr(obj, name)
        except AttributeError:
            raise _no_attr(obj, name) from None
    if _is_module(obj):
        # an nn.Module: its parameters, buffers and submodules are attributes too
        try:
            return getattr(obj, name)
        except AttributeError:
            pass
    elif _is_core_type(t):
        # public state a core object keeps per instance (an autograd ctx's saved_tensors)
        inst = getattr(obj, "__dict__", None)
        if inst is not None and name in inst:
            return inst[name]
    raise _no_attr(obj, name)


def _dunder(obj, name: str):
    """The few dunder reads a script may make; everything else is refused."""
    if name == "__init__" and _init_allowed(obj):
        return getattr(obj, name)
    if name == "__class__":
        return script_type(obj)
    if name == "__name__":
        if isinstance(obj, TypeView):
            return obj.name
        value = getattr(obj, "__name__", None) if isinstance(obj, type) or callable(obj) \
            else None
        if isinstance(value, str):
            return value
        raise _no_attr(obj, name)
    raise SecurityError(
        f"access to '{name}' is not allowed (gradcalc scripts cannot reach "
        "underscore attributes)"
    )


class TypeView:
    """What `type(x)` gives a script for a class it may not hold: a name, never a constructor."""

    __slots__ = ("_repr", "name")
    _views: ClassVar[dict] = {}

    def __init__(self, t):
        self.name = t.__name__
        mod = getattr(t, "__module__", None) or ""
        if mod.startswith("gradcalc"):
            mod = "torch" + mod[len("gradcalc"):]
        self._repr = f"<class '{mod + '.' if mod not in ('', 'builtins') else ''}" \
                     f"{t.__qualname__}'>"

    @classmethod
    def of(cls, t) -> TypeView:
        view = cls._views.get(t)
        if view is None:
            view = cls._views[t] = cls(t)
        return view

    def __repr__(self):
        return self._repr

    def __deepcopy__(self, memo):
        return self

    def __call__(self, *args, **kwargs):
        raise SecurityError(f"{self._repr} cannot be called in gradcalc scripts (type() of "
                            "this object names its class only)")


_ModuleType = type(sys)
TypeView.__name__ = TypeView.__qualname__ = "type"  # as Python's messages name a class

#: builtin types a script may hold and call (they build plain data)
_PLAIN_TYPES = frozenset({int, float, complex, bool, str, list, tuple, dict, set, frozenset,
                          range, slice, type(None)})


def script_type(obj):
    """type(obj) as a script sees it: plain, exported and script classes, else a TypeView."""
    t = type(obj)
    if t is Namespace:
        return TypeView.of(_ModuleType)
    if t in _PLAIN_TYPES or getattr(t, "__gradcalc_script__", False) or \
            t in exported_classes():
        return t
    return TypeView.of(t)


def _astype(arr):
    """ndarray.astype for scripts: numeric and bool dtypes only (no strings, no objects)."""
    def astype(dtype, *args, **kwargs):
        import numpy as np

        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise AttributeNotFound(f"data type {dtype!r} not understood") from None
        if dt.kind not in "biufc":
            raise SecurityError(f"astype({dtype!r}): gradcalc scripts convert arrays to "
                                "numeric and bool dtypes only")
        return arr.astype(dt, *args, **kwargs)

    return astype


def _ndarray_dot(arr):
    """ndarray.dot for scripts: the product's size and work checked first, as numpy.dot's."""
    def dot(b, out=None):
        from gradcalc.lang.npsurface import product_check

        product_check("dot", (arr, b), {})
        return arr.dot(b, out) if out is not None else arr.dot(b)

    return dot


def runs_script_code(obj, name: str) -> bool:
    """True when reading obj.name would run a property that a script defined."""
    t = obj if isinstance(obj, type) else type(obj)
    if not getattr(t, "__gradcalc_script__", False):
        return False
    for klass in t.__mro__:
        if name in vars(klass):
            return isinstance(vars(klass)[name], property)
    return False


def attribute_names(obj) -> list[str]:
    """The public names `get_attr` accepts on `obj` (for completion; reads no values)."""
    if isinstance(obj, Namespace):
        return obj.names()
    t = obj if isinstance(obj, type) else type(obj)
    if isinstance(obj, type):
        if getattr(obj, "__gradcalc_script__", False):
            names = {n for k in obj.__mro__ for n in vars(k)}
        elif _is_core_type(obj):
            names = set(_public_names(obj))
        else:
            names = set(_BUILTIN_ALLOW.get(obj, ()))
    else:
        allowed = allowed_names(t)
        if allowed is None:
            names = {n for k in t.__mro__ for n in vars(k)} | set(getattr(obj, "__dict__", {}))
        else:
            names = set(allowed)
        if _is_module(obj):
            for table in ("_parameters", "_buffers", "_modules"):
                names |= set(obj.__dict__.get(table, {}))
    return sorted(n for n in names if isinstance(n, str) and n[:1] != "_" and n not in _DENY)


def _is_module(obj) -> bool:
    mods = type(obj).__mro__
    return any(k.__name__ == "Module" and _is_core_type(k) for k in mods)


def _init_allowed(obj) -> bool:
    if type(obj) is super:
        return True
    if isinstance(obj, type):
        return getattr(obj, "__gradcalc_script__", False) or _is_core_type(obj) or obj is object
    return False


def _class_attr(cls, name):
    if getattr(cls, "__gradcalc_script__", False):
        names = None
    elif _is_core_type(cls):
        names = _public_names(cls)
    else:
        names = _BUILTIN_ALLOW.get(cls, frozenset())
    if names is not None and name not in names:
        raise _no_attr(cls, name)
    try:
        return getattr(cls, name)
    except AttributeError:
        raise _no_attr(cls, name) from None


_STR_GROWING = frozenset({"format", "replace", "join", "ljust", "rjust", "center", "zfill"})
_DEFAULT_LIMIT = 2**26  # outside a running session (Limits' default max_elements)


def _guard():
    """The running session's allocation guard (its limits, memory and clock), or None."""
    from gradcalc.core import alloc

    return alloc.current()


def _limit(g) -> int:
    if g is None:
        return _DEFAULT_LIMIT
    return g.max_elements if g.max_elements is not None else 1 << 62


def _check_chars(n: int, g, limit: int, what: str = "the string") -> None:
    if n > limit:
        raise LimitError(f"{what} would have {n:,} characters, over the limit of {limit:,}",
                         limit="max_elements")
    if g is not None:
        g.memory(n, what)


def _bounded(it, g, limit: int, what: str):
    """The items of `it` in a list, refused past `limit` items (counted as they come)."""
    try:
        n = len(it)
    except TypeError:
        n = None
    if n is not None:
        if n > limit:
            raise LimitError(f"{what} would have {n:,} elements, over the limit of {limit:,}",
                             limit="max_elements")
        return list(it)
    out = []
    append = out.append
    for x in it:
        append(x)
        if len(out) & 1023 == 0:
            if len(out) > limit:
                raise LimitError(f"{what} would have more than {limit:,} elements, over the "
                                 f"limit of {limit:,}", limit="max_elements")
            if g is not None:
                g.check_clock()
                if len(out) & 0xFFFF == 0:  # items the C loop holds count toward memory
                    g.check_held("the sequence being built")
    return out


def _str_method(s: str, name: str):
    """A str method that can grow its string, refusing results over the session's limits."""
    if name == "format":
        return lambda *args, **kwargs: safe_format(s, args, kwargs, _limit(_guard()))
    method = getattr(s, name)

    def checked(*args, **kwargs):
        g = _guard()
        limit = _limit(g)
        if name == "replace":
            if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                old, new = args[0], args[1]
                count = kwargs.get("count", args[2] if len(args) > 2 else -1)
                occ = len(s) + 1 if old == "" else s.count(old)
                if isinstance(count, int) and count >= 0:
                    occ = min(occ, count)
                _check_chars(len(s) + occ * max(len(new) - len(old), 0), g, limit)
        elif name == "join":
            if args:
                items = _bounded(args[0], g, limit, "str.join()")
                n = sum(len(x) for x in items if isinstance(x, str)) + len(s) * len(items)
                _check_chars(n, g, limit)
                args = (items,) + args[1:]
        elif args:  # ljust, rjust, center, zfill: a width
            from gradcalc.lang.limits import as_count

            width = as_count(args[0])
            if width is not None:
                _check_chars(width, g, limit)
                args = (width,) + args[1:]  # the int checked, not the object again
        return method(*args, **kwargs)

    return checked


#: methods of containers that consume an iterable in C: the items are counted first
_CONSUMERS = {
    set: frozenset({"update", "union", "intersection", "difference", "symmetric_difference",
                    "intersection_update", "difference_update",
                    "symmetric_difference_update", "issubset", "issuperset", "isdisjoint"}),
    frozenset: frozenset({"union", "intersection", "difference", "symmetric_difference",
                          "issubset", "issuperset", "isdisjoint"}),
    dict: frozenset({"update"}),
}


def _consumer(obj, name: str):
    """obj.name for a method that drains its iterable arguments: bounded as list() is."""
    method = getattr(obj, name)

    def bounded(*args, **kwargs):
        g = _guard()
        limit = _limit(g)
        # containers already built (dicts and their subclasses keep their mapping meaning)
        args = [a if isinstance(a, (list, tuple, set, frozenset, dict, str)) else
                _bounded(a, g, limit, f"{type(obj).__name__}.{name}()") for a in args]
        return method(*args, **kwargs)

    return bounded


def contains(item, container) -> bool:
    """`item in container` for scripts: a lazy container is walked here, counted and timed
    (Python would walk `1.5 in range(10**12)` or `-1 in iter(f, s)` in C, unstoppably)."""
    t = type(container)
    if t in _EAGER or t is range and type(item) in (int, bool) or \
            not hasattr(container, "__next__") and t is not range:
        return item in container
    g = _guard()
    limit = _limit(g)
    for n, x in enumerate(container, 1):
        if x is item or x == item:
            return True
        if n & 1023 == 0:
            if n > limit:
                raise LimitError(f"'in' walked more than {limit:,} elements, over the limit "
                                 f"of {limit:,}", limit="max_elements")
            if g is not None:
                g.check_clock()
    return False


_EAGER = frozenset({list, tuple, dict, set, frozenset, str})


def bounded_items(value, what: str) -> list:
    """The items of `value` as a list, refused past the session's element limit."""
    g = _guard()
    return _bounded(value, g, _limit(g), what)


def _ndarray_tolist(arr):
    """ndarray.tolist for scripts: its Python numbers counted against the limits first."""
    def tolist():
        from gradcalc.core import alloc

        alloc.check_python(arr.size, "tolist()")
        return arr.tolist()

    return tolist


def _list_extend(lst: list):
    """list.extend for scripts: the items counted against the session's limits first."""
    def extend(iterable):
        g = _guard()
        limit = _limit(g)
        items = _bounded(iterable, g, limit, "list.extend()")
        if len(lst) + len(items) > limit:
            raise LimitError(f"the list would have {len(lst) + len(items):,} elements, over "
                             f"the limit of {limit:,}", limit="max_elements")
        lst.extend(items)

    return extend


_TENSOR_SETTABLE = frozenset({"grad", "requires_grad", "data"})


def set_attr(obj, name: str, value) -> None:
    """obj.name = value for a script: Tensor.grad/.requires_grad/.data, script objects, modules."""
    if name[:1] == "_":
        raise SecurityError(f"setting '{name}' is not allowed (underscore attributes)")
    t = type(obj)
    if getattr(t, "__gradcalc_script__", False) or _is_module(obj):
        setattr(obj, name, value)
        return
    if _is_core_type(t) and t.__name__ in ("Tensor", "Parameter") or _is_tensor(obj):
        if name in _TENSOR_SETTABLE:
            setattr(obj, name, value)
            return
        if name in allowed_names(t):
            raise AttributeNotFound(f"attribute '{name}' of 'Tensor' objects is not writable")
        raise _no_attr(obj, name)
    if _owns_state(obj, name):
        # state a script's own core object keeps (an optimizer's param_groups, ctx.k in a
        # custom Function); shared objects (dtypes, devices, generators) are never written
        try:
            setattr(obj, name, value)
            return
        except AttributeError as e:
            raise AttributeNotFound(str(e)) from None
    raise AttributeNotFound(f"cannot set attribute '{name}' on {_type_name(obj)}")


_SETTABLE: list = []


def _owns_state(obj, name: str) -> bool:
    """True when a script may set obj.name: objects made per script, the names they keep."""
    if not _SETTABLE:
        from gradcalc.autograd.function import FunctionCtx
        from gradcalc.core.autograd import Node
        from gradcalc.optim.lr_scheduler import LRScheduler
        from gradcalc.optim.optimizer import Optimizer
        from gradcalc.utils.data import DataLoader, Dataset

        _SETTABLE.append(((Optimizer, LRScheduler, DataLoader, Dataset, FunctionCtx),
                          {Node: frozenset({"metadata"})}))
    anything, named = _SETTABLE[0]
    if isinstance(obj, anything):
        return True
    return any(isinstance(obj, k) and name in names for k, names in named.items())


def del_attr(obj, name: str) -> None:
    if name[:1] == "_":
        raise SecurityError(f"deleting '{name}' is not allowed (underscore attributes)")
    if getattr(type(obj), "__gradcalc_script__", False) or _is_module(obj):
        try:
            delattr(obj, name)
        except AttributeError:
            raise _no_attr(obj, name) from None
        return
    raise AttributeNotFound(f"cannot delete attribute '{name}' of {_type_name(obj)}")


def _is_tensor(obj) -> bool:
    return any(k.__name__ == "Tensor" and _is_core_type(k) for k in type(obj).__mro__)


# ---- formatting without attribute escapes ----


def check_spec(spec: str, limit: int) -> None:
    """Refuse format specs whose width or precision would build a string over `limit`."""
    run = ""
    for ch in spec + " ":
        if ch.isdigit():
            run += ch
            continue
        if run:
            width = int(run) if len(run) < 19 else 10**19
            if width > limit:
                raise LimitError(f"format width {width:,} is over the limit of {limit:,}",
                                 limit="max_elements")
            run = ""


_FORMATTER: list = []


def _safe_formatter_class():
    """SafeFormatter, defined on first use (string.Formatter's module is slow to import)."""
    if _FORMATTER:
        return _FORMATTER[0]
    import string

    class SafeFormatter(string.Formatter):
        """str.format for scripts: fields may index and read allow-listed attributes only."""

        def __init__(self, limit):
            super().__init__()
            self.limit = limit
            self.length = 0  # characters formatted so far

        def get_field(self, field_name, args, kwargs):
            first, rest = _formatter_field_name_split(field_name)
            obj = self.get_value(first, args, kwargs)
            for is_attr, i in rest:
                obj = get_attr(obj, i) if is_attr else obj[i]
            return obj, first

        def format_field(self, value, format_spec):
            check_spec(format_spec, self.limit)
            out = format(value, format_spec)
            self.length += len(out)
            if self.length > self.limit:
                raise LimitError(f"the string would have more than {self.limit:,} characters, "
                                 f"over the limit of {self.limit:,}", limit="max_elements")
            return out

    _FORMATTER.append(SafeFormatter)
    return SafeFormatter


def _formatter_field_name_split(name):
    import _string

    return _string.formatter_field_name_split(name)


def safe_format(template: str, args, kwargs, limit: int) -> str:
    return _safe_formatter_class()(limit).vformat(template, args, kwargs)
