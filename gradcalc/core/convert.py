"""Core: what may become array data. Numbers, nested lists/tuples of numbers, tensors and
numeric NumPy arrays; any other object is refused before NumPy sees it (NumPy would read an
object's __array_interface__ and trust its pointer).
"""

from __future__ import annotations

import numpy as np

from ..errors import GradcalcTypeError

_NUMBERS = (bool, int, float, complex, np.bool_, np.number)


def is_plain_data(obj) -> bool:
    """True for a number, a numeric array or tensor, or nested lists/tuples of those."""
    from .tensor import Tensor

    stack = [obj]
    while stack:
        o = stack.pop()
        t = type(o)
        if t is list or t is tuple or isinstance(o, tuple) and t.__module__.startswith(
                "gradcalc"):  # a core return type (a Size, torch.return_types.max ...)
            stack.extend(o)
        elif not (isinstance(o, (*_NUMBERS, Tensor)) or
                  t is np.ndarray and o.dtype.kind in "biufc"):
            return False
    return True


def first_foreign(obj):
    """The first object in `obj` that is not plain data (for the error message), else None."""
    from .tensor import Tensor

    stack = [obj]
    while stack:
        o = stack.pop()
        if type(o) in (list, tuple):
            stack.extend(reversed(o))
        elif not (isinstance(o, (*_NUMBERS, Tensor)) or is_plain_data(o)):
            return o
    return None


def check_value(value, message: str) -> None:
    """Raise PyTorch's TypeError (`message` formatted with the type name) unless plain data."""
    if not is_plain_data(value):
        bad = first_foreign(value)
        raise GradcalcTypeError(message.format(type(bad if bad is not None else value).__name__))
