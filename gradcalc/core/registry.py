"""Core: the op registry — every public op registers here once, as a function and/or method."""

from __future__ import annotations

import functools

#: name -> function, for every op exposed as `gradcalc.<name>` (the op-table meta-test reads it)
FUNCTIONS: dict = {}
#: name -> function, for every op exposed as a Tensor method
METHODS: dict = {}
#: names registered by `op(..., differentiable=True)`, checked by the op-table meta-test
DIFFERENTIABLE: set = set()


def op(name: str, *, method: bool = True, function: bool = True, aliases=(), differentiable=True):
    """Register `fn` as `gradcalc.<name>` and/or `Tensor.<name>` (and under each alias)."""

    def deco(fn):
        from .tensor import Tensor

        fn = _numpy_names(fn)
        for n in (name, *aliases):
            if function:
                FUNCTIONS[n] = fn
            if method:
                METHODS[n] = fn
                setattr(Tensor, n, fn)
            if differentiable:
                DIFFERENTIABLE.add(n)
        return fn

    return deco


def _numpy_names(fn):
    """`fn` accepting NumPy's spellings `axis=` for `dim=` and `keepdims=` for `keepdim=`, as
    PyTorch's argument parser does (`t.sum(axis=0, keepdims=True)`); unchanged when it has no
    such parameter."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return fn
    params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    if "dim" not in params and "keepdim" not in params:
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs:
            if "axis" in kwargs:
                if "dim" in kwargs:
                    raise _duplicate(fn, "dim")
                kwargs["dim"] = kwargs.pop("axis")
            if "keepdims" in kwargs:
                if "keepdim" in kwargs:
                    raise _duplicate(fn, "keepdim")
                kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return call


def _duplicate(fn, name):
    from ..errors import GradcalcTypeError

    return GradcalcTypeError(f"{fn.__name__}() got multiple values for argument '{name}'")
