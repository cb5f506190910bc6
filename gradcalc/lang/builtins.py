"""Language layer: the builtins registry, the only door from a script to the outside.

Bare names (`sin`, `tensor`, `relu`, `grad`), the namespaces `torch`, `torch.nn`,
`torch.nn.functional`/`F`, `torch.autograd`, `torch.optim`, `torch.linalg`, a NumPy-named
subset (`import numpy as np`) and `math`, and the safe Python builtins a tutorial uses.
The core (and NumPy) is imported lazily, on the first name that needs it.
"""

from __future__ import annotations

import builtins as _py
import functools
import importlib
import math as _math
import sys
import types

from gradcalc.errors import AttributeNotFound, EvalError, GradcalcTypeError, SecurityError
from gradcalc.lang.namespace import Namespace
from gradcalc.lang import limits as L
from gradcalc.lang.runtime import ScriptError
from gradcalc.lang.safety import check_spec, get_attr, safe_format, script_type

_FORBIDDEN = {
    "open": "file access", "exec": "running code from strings", "eval": "running code from "
    "strings", "compile": "running code from strings", "globals": "host namespaces",
    "locals": "host namespaces", "vars": "host namespaces", "getattr": "attribute access by "
    "name", "setattr": "attribute access by name", "delattr": "attribute access by name",
    "__import__": "imports", "input": "reading the terminal", "breakpoint": "the host debugger",
    "help": "the host interpreter", "exit": "the host interpreter", "quit": "the host "
    "interpreter", "memoryview": "host memory", "dir": "host introspection",
    "__builtins__": "the host builtins",
    "bytearray": "host memory", "bytes": "host memory",
}

IMPORT_HINT = ("gradcalc scripts can import torch (and torch.nn, torch.nn.functional, "
               "torch.autograd, torch.optim, torch.linalg, torch.utils.data, torch.cuda), "
               "numpy (a subset), math, random, itertools, functools, collections, copy, "
               "time, typing and os.path")


# ---- size checks for creation functions (before anything is allocated) ----
# Tensors are checked by the core's allocation guard, by result size, wherever the core
# allocates (the Session turns it on); only Python data handed to tensor() is checked here,
# before NumPy walks it.


def _data_check(rt):
    def check(args, kwargs):
        data = args[0] if args else kwargs.get("data")
        n = _nested_size(data)
        L.check_count(n, rt.max_elements, "tensor()")
        g = rt.guard
        g.memory(8 * n, "tensor()")

    return check


def _nested_size(data) -> int:
    """Elements of nested lists/tuples/ranges, read along the first items (NumPy refuses
    ragged data anyway): [[0] * 10**4] * 10**4 has 10**8 without 10**8 steps to count them."""
    n = 1
    while isinstance(data, (range, list, tuple)):
        n *= _py.len(data)
        if not data:
            break
        data = data[0]
    return n


def torch_sized(rt) -> dict:
    return {"tensor": _data_check(rt), "as_tensor": _data_check(rt)}


# ---- Python builtins, made safe ----


class _Guard:
    """Bounds what a C-level builtin may consume: sized inputs by length, others lazily."""

    def __init__(self, rt):
        self.rt = rt

    def __call__(self, it, what="the sequence"):
        rt = self.rt
        try:
            n = _py.len(it)
        except Exception:
            return self._lazy(_py.iter(it), what)
        L.check_count(n, rt.max_elements, what)
        return it

    def _lazy(self, it, what):
        rt = self.rt
        limit = rt.max_elements
        count = 0
        for x in it:
            count += 1
            if count & 1023 == 0:
                if count > limit:
                    raise L.too_big(what, count, limit)
                rt.check_clock()
            yield x


def make_python_builtins(rt, session) -> dict:
    guard = _Guard(rt)

    def print_(*args, sep=" ", end="\n", file=None, flush=False):
        if file is not None:
            raise SecurityError("print(file=...) is not supported (no file access)")
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise GradcalcTypeError("TypeError: sep and end must be None or a string")
        rt.write(sep.join(_py.str(a) for a in args) + end)

    def list_(it=()):
        return _py.list(guard(it, "list()"))

    def tuple_(it=()):
        return _py.tuple(guard(it, "tuple()"))

    def frozenset_(it=()):
        return _py.frozenset(guard(it, "frozenset()"))

    def iter_(obj, *sentinel):
        if sentinel:  # iter(f, s) can run forever in C: each item is a step of the budget
            from gradcalc.lang.pymodules import stepped

            return stepped(rt, _py.iter(obj, *sentinel))
        return _py.iter(obj)

    def set_(it=()):
        return _py.set(guard(it, "set()"))

    def dict_(*args, **kwargs):
        if args:
            return _py.dict(guard(args[0], "dict()"), **kwargs)
        return _py.dict(**kwargs)

    def sorted_(it, *, key=None, reverse=False):
        return _py.sorted(guard(it, "sorted()"), key=key, reverse=reverse)

    def sum_(it, start=0):
        items = guard(it, "sum()")
        if start.__class__ in (list, tuple):
            return _concat(start, items, rt)  # linear, where sum's repeated + is quadratic
        return _py.sum(items, start)

    def _minmax(fn, name):
        def mm(*args, **kwargs):
            if _py.len(args) == 1:
                return fn(guard(args[0], f"{name}()"), **kwargs)
            return fn(*args, **kwargs)

        mm.__name__ = name
        return mm

    def any_(it):
        return _py.any(guard(it, "any()"))

    def all_(it):
        return _py.all(guard(it, "all()"))

    def pow_(base, exp, mod=None):
        if isinstance(base, int) and isinstance(exp, int):
            if mod is None:
                L.check_int_pow(base, exp)
            else:
                L.check_pow_mod(base, exp, mod)
        return _py.pow(base, exp, mod)

    def round_(number, ndigits=None):
        if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0:
            L.check_int_bits(int(-ndigits * 3.33), f"10**{-ndigits} (to round to)")
        return _py.round(number, ndigits)

    def format_(value, spec=""):
        check_spec(spec, rt.max_elements)
        return _py.format(value, spec)

    def isinstance_(obj, classinfo):
        _check_classinfo(classinfo)
        return _py.isinstance(obj, classinfo)

    def issubclass_(cls, classinfo):
        _check_classinfo(classinfo)
        return _py.isinstance(cls, type) and _py.issubclass(cls, classinfo)

    def hasattr_(obj, name):
        if not isinstance(name, str):
            raise GradcalcTypeError("TypeError: hasattr(): attribute name must be string")
        try:
            get_attr(obj, name)
            return True
        except (AttributeNotFound, SecurityError):
            return False

    def super_(*args):
        if _py.len(args) != 2:
            raise EvalError("super() without arguments works only inside a method of a class")
        cls, obj = args
        if not (isinstance(cls, type) and getattr(cls, "__gradcalc_script__", False)):
            raise SecurityError("super() takes a class defined by the script")
        return _py.super(cls, obj)

    def str_(obj="", *args):
        if args:
            raise GradcalcTypeError("TypeError: str() with an encoding is not supported")
        return _py.str(obj)

    def type_(*args):
        if _py.len(args) != 1:
            raise GradcalcTypeError("TypeError: type() takes 1 argument in gradcalc scripts "
                                    "(classes are made with a class statement)")
        if isinstance(args[0], _py.type):
            raise SecurityError("type() of a class is not available in gradcalc scripts")
        return script_type(args[0])

    def next_(it, *default):
        return _py.next(it, *default)

    def _exc(kind):
        def make(*args):
            return ScriptError(kind, *args)

        make.__name__ = kind
        return make

    table = {
        "print": print_, "range": _py.range, "len": _py.len, "zip": _py.zip,
        "enumerate": _py.enumerate, "sum": sum_, "min": _minmax(_py.min, "min"),
        "max": _minmax(_py.max, "max"), "abs": _py.abs, "round": round_, "float": _py.float,
        "int": _py.int, "bool": _py.bool, "str": str_, "list": list_, "tuple": tuple_,
        "dict": dict_, "set": set_, "sorted": sorted_, "reversed": _py.reversed,
        "any": any_, "all": all_, "map": _py.map, "filter": _py.filter, "isinstance": isinstance_,
        "issubclass": issubclass_, "callable": _py.callable, "repr": _py.repr, "pow": pow_,
        "divmod": _py.divmod, "format": format_, "chr": _py.chr, "ord": _py.ord, "hex": _py.hex,
        "bin": _py.bin, "oct": _py.oct, "complex": _py.complex, "slice": _py.slice,
        "iter": iter_, "next": next_, "type": type_, "hasattr": hasattr_, "super": super_,
        "object": _py.object, "staticmethod": _py.staticmethod,
        "classmethod": _py.classmethod, "property": _py.property, "frozenset": frozenset_,
        "Ellipsis": Ellipsis, "NotImplemented": NotImplemented,
    }
    for kind in ("Exception", "ValueError", "TypeError", "RuntimeError", "AssertionError",
                 "KeyError", "IndexError", "ZeroDivisionError", "NotImplementedError",
                 "ArithmeticError", "StopIteration"):
        table[kind] = _exc(kind)
    for name, fn in table.items():
        if isinstance(fn, types.FunctionType) and fn.__name__ != name:
            fn.__name__ = fn.__qualname__ = name  # Python's messages name the builtin
    return table


def _concat(start, items, rt):
    """sum(items, start) for a list or tuple start: one pass, each length checked."""
    out = _py.list(start)
    kind = start.__class__
    for x in items:
        if x.__class__ is not kind:
            start + x  # Python's TypeError for mixed kinds
        L.check_count(_py.len(out) + _py.len(x), rt.max_elements, "sum()")
        out.extend(x)
    return out if kind is list else _py.tuple(out)


def _int_product(items, start):
    """The product of ints by halves: fast where a running product is quadratic."""
    while _py.len(items) > 1:
        pairs = [items[i] * items[i + 1] for i in _py.range(0, _py.len(items) - 1, 2)]
        if _py.len(items) % 2:
            pairs.append(items[-1])
        items = pairs
    return start * items[0] if items else start


def _check_classinfo(classinfo):
    items = classinfo if isinstance(classinfo, tuple) else (classinfo,)
    for c in items:
        if isinstance(c, tuple):
            _check_classinfo(c)
        elif not isinstance(c, type):
            raise GradcalcTypeError(
                "TypeError: isinstance() arg 2 must be a type, a tuple of types, or a union")


# ---- NumPy-named subset and math ----


def _numpy_namespace() -> tuple:
    """`numpy`, `numpy.linalg` and `numpy.random` for one session (gradcalc/lang/npsurface.py,
    loaded with NumPy when a script first reads one of their names)."""

    def surface():
        from gradcalc.lang import npsurface

        return npsurface

    linalg = Namespace("numpy.linalg", extra=_Lazy(lambda: surface().linalg_names()))
    random = Namespace("numpy.random", extra=_Lazy(lambda: surface().random_names()))
    top = Namespace("numpy", extra=_Lazy(lambda: surface().numpy_names(linalg, random)))
    return top, linalg, random


class _Lazy(dict):
    """A namespace's names, built by `build()` the first time any of them is asked for."""

    def __init__(self, build):
        super().__init__()
        self._build = build

    def _fill(self):
        if self._build is not None:
            build, self._build = self._build, None
            self.update(build())

    def __contains__(self, key):
        self._fill()
        return super().__contains__(key)

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)

    def __iter__(self):
        self._fill()
        return super().__iter__()


def _math_namespace(rt) -> Namespace:
    def factorial(n):
        if isinstance(n, int) and n > 20_000:
            raise L.LimitError(f"factorial({n}) is too large to compute here")
        return _math.factorial(n)

    extra = {n: getattr(_math, n) for n in (
        "pi", "e", "tau", "inf", "nan", "sqrt", "exp", "log", "log2", "log10", "log1p",
        "expm1", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh",
        "floor", "ceil", "trunc", "fabs", "isnan", "isinf", "isfinite", "isclose", "hypot",
        "degrees", "radians", "copysign", "fmod", "gcd", "erf", "erfc", "gamma", "lgamma")}
    extra["factorial"] = factorial
    extra["pow"] = _math.pow
    def prod(it, *, start=1):
        items = _py.list(_Guard(rt)(it, "math.prod()"))
        ints = start.__class__ is int and _py.all(x.__class__ is int for x in items)
        if not ints:
            return _math.prod(items, start=start)
        L.check_int_prod(items + [start])
        return _int_product(items, start)

    extra["prod"] = prod
    extra["fsum"] = _math.fsum
    return Namespace("math", extra=extra)


# ---- the registry ----


class Registry:
    """Everything a script can name without defining it, for one session."""

    def __init__(self, rt, session=None):
        self.rt = rt
        self.granted: dict = {}  # host functions the front end hands to scripts (grant)
        sized = torch_sized(rt)
        self.F = Namespace("torch.nn.functional", sized=sized)
        init = Namespace("torch.nn.init")
        self.nn = Namespace("torch.nn", subs={"functional": self.F, "init": init})
        functional = Namespace("torch.autograd.functional")
        graph = Namespace("torch.autograd.graph")
        self.autograd = Namespace("torch.autograd", subs={"functional": functional,
                                                          "graph": graph},
                                  extra={"Variable": _variable_factory(self)})
        lr_scheduler = Namespace("torch.optim.lr_scheduler")
        self.optim = Namespace("torch.optim", subs={"lr_scheduler": lr_scheduler})
        self.linalg = Namespace("torch.linalg", sized=sized)
        data = Namespace("torch.utils.data")
        utils = Namespace("torch.utils", subs={"data": data})
        cuda = Namespace("torch.cuda")
        distributions = Namespace("torch.distributions")
        random = Namespace("torch.random")
        accelerator = Namespace("torch.accelerator")
        backend_names = ("cudnn", "mps", "cuda", "mkldnn")
        backend_subs = {n: Namespace(f"torch.backends.{n}") for n in backend_names}
        backends = Namespace("torch.backends", subs=backend_subs)
        self.torch = Namespace("torch", sized=sized, subs={
            "nn": self.nn, "autograd": self.autograd, "optim": self.optim,
            "linalg": self.linalg, "utils": utils, "cuda": cuda, "random": random,
            "distributions": distributions, "accelerator": accelerator,
            "backends": backends},
            extra={"save": self._granted("torch.save", "write"),
                   "load": self._granted("torch.load", "read")})
        self.numpy, np_linalg, np_random = _numpy_namespace()
        self.math = _math_namespace(rt)
        self.modules = {
            "torch": self.torch, "torch.nn": self.nn, "torch.nn.functional": self.F,
            "torch.autograd": self.autograd, "torch.autograd.functional": functional,
            "torch.autograd.graph": graph, "torch.accelerator": accelerator,
            "torch.backends": backends,
            **{f"torch.backends.{n}": ns for n, ns in backend_subs.items()},
            "torch.optim": self.optim, "torch.optim.lr_scheduler": lr_scheduler,
            "torch.linalg": self.linalg, "torch.nn.init": init, "torch.utils": utils,
            "torch.utils.data": data, "torch.cuda": cuda,
            "torch.distributions": distributions, "torch.random": random,
            "numpy": self.numpy, "numpy.random": np_random, "numpy.linalg": np_linalg,
            "math": self.math,
        }
        self.modules.update(_python_modules(rt))
        self.python = make_python_builtins(rt, session)
        self.python.update(torch=self.torch, nn=self.nn, F=self.F, id=id, __name__="__main__")
        self._bare: dict = {}

    def _granted(self, name: str, verb: str):
        """`name` (torch.save, torch.load) as the front end granted it, else a refusal."""
        granted = self.granted

        def call(*args, **kwargs):
            fn = granted.get(name)
            if fn is None:
                from gradcalc.scriptfiles import refusal

                raise refusal(f"{name}()", verb)
            return fn(*args, **kwargs)

        call.__name__ = call.__qualname__ = name.rsplit(".", 1)[-1]
        return call

    def grant(self, name: str, fn) -> None:
        """Offer the host function `fn` to scripts as the bare name `name` (`save_graph`), or as
        `torch.save` / `torch.load` (their default is a refusal naming --allow-files).

        For capabilities the user grants on the command line; `fn` checks its own arguments.
        """
        self.granted[name] = fn

    def lookup(self, name: str):
        """The object a bare name means, or raise KeyError."""
        try:
            return self.python[name]
        except KeyError:
            pass
        try:
            return self._bare[name]
        except KeyError:
            pass
        if name in self.granted:
            return self.granted[name]
        if name in _FORBIDDEN:
            raise SecurityError(
                f"'{name}' is not available in gradcalc scripts ({_FORBIDDEN[name]} is not "
                "allowed)")
        if name[:2] == "__":
            raise SecurityError(f"'{name}' is not available in gradcalc scripts")
        for ns in (self.torch, self.F, self.autograd):
            if ns.has(name):
                value = ns.get(name)
                self._bare[name] = value
                return value
        raise KeyError(name)

    def candidates(self) -> list[str]:
        names = set(self.python) | {n for n in self.granted if "." not in n}
        for ns in (self.torch, self.F, self.autograd):
            names |= set(ns.names())
        return sorted(names)

    def module(self, dotted: str):
        if dotted in self.modules:
            return self.modules[dotted]
        if dotted.split(".")[0] == "gradcalc":  # a Python program using gradcalc as a library
            raise EvalError(f"import of '{dotted}' is not supported: gradcalc scripts import "
                            "torch (this file is a Python program using gradcalc as a library: "
                            "run it with python)")
        raise EvalError(f"import of '{dotted}' is not supported: {IMPORT_HINT}")


_NUMBERS = (bool, int, float, complex)
_TENSOR_FUNCTIONS: dict = {}  # id(op that is also a Tensor method) -> [op, its calculator form]


def calculator_form(fn):
    """What a call by a bare name runs (`sqrt(2)`, not `torch.sqrt(2)`): for a tensor function,
    one that is also a Tensor method (sqrt, sin, exp, atan2, clamp ...), a form that turns
    Python numbers into tensors when the first argument is one (`sqrt(2)` is
    `sqrt(tensor(2))`, docs/differences.md); any other function as it is."""
    entry = _TENSOR_FUNCTIONS.get(id(fn))
    if entry is None:
        registry = sys.modules.get("gradcalc.core.registry")  # no core loaded: no op exists
        if registry is None or _TENSOR_FUNCTIONS.get(None) == len(registry.METHODS):
            return fn
        _TENSOR_FUNCTIONS.clear()
        _TENSOR_FUNCTIONS.update((id(f), [f, None]) for f in registry.METHODS.values())
        _TENSOR_FUNCTIONS[None] = len(registry.METHODS)  # the ops this table was made from
        entry = _TENSOR_FUNCTIONS.get(id(fn))
        if entry is None:
            return fn
    if entry[0] is not fn:
        return fn
    if entry[1] is None:
        tensor = importlib.import_module("gradcalc").tensor

        @functools.wraps(fn)
        def calculator(*args, **kwargs):
            if args and type(args[0]) in _NUMBERS:
                args = tuple(tensor(a) if type(a) in _NUMBERS else a for a in args)
            return fn(*args, **kwargs)

        entry[1] = calculator
    return entry[1]


def _python_modules(rt) -> dict:
    """The curated standard-library namespaces (gradcalc/lang/pymodules.py)."""
    from gradcalc.lang import pymodules as P

    os_ns, path = P.os_module(rt, Namespace)
    mods = {"os": os_ns, "os.path": path}
    for name in ("random", "itertools", "functools", "collections", "copy", "time", "typing"):
        mods[name] = getattr(P, f"{name}_module")(rt, Namespace)
    return mods


def _variable_factory(reg):
    def Variable(data, requires_grad=False, volatile=False):
        g = importlib.import_module("gradcalc")
        t = data if isinstance(data, g.Tensor) else g.tensor(data)
        return t.detach().requires_grad_(requires_grad)

    return Variable


def format_method(rt):
    """str.format for scripts (attribute fields go through the allow-list)."""

    def fmt(template, *args, **kwargs):
        return safe_format(template, args, kwargs, rt.max_elements)

    return fmt


