"""Language layer: the safety limits of a Session and the cheap checks that enforce them on
Python objects (ints, strings, lists) before anything large is built; tensors are checked by
the core's allocation guard (gradcalc.core.alloc), which the Session turns on.
"""

from __future__ import annotations

import math

from gradcalc.errors import LimitError

#: the largest Python int a script may build, in bits (10**10**10 is refused up front)
MAX_INT_BITS = 1_000_000
#: the most digit operations one pow(base, exp, mod) may cost: exp bits x (mod digits)**2,
#: about a second here (CPython's modular exponentiation is quadratic in the modulus)
MAX_POW_WORK = 3 * 10**8

#: how to raise each limit, as its LimitError says (`Limits(hints=...)` replaces them: the
#: command line names its options)
HINTS = {"max_elements": "Limits(max_elements=...)",
         "max_memory": "Limits(max_memory=...)",
         "max_recursion": "Limits(max_recursion=...)",
         "max_iterations": "Limits(max_iterations=...)",
         "max_flops": "Limits(max_flops=...)",
         "timeout": "Limits(timeout=...)"}


class Limits:
    """Safety limits of a Session; hitting one raises `LimitError`. None turns a limit off.

    (A plain class with a dataclass's __init__, __repr__ and __eq__: importing dataclasses
    would cost every `gradcalc` start.)
    """

    _fields = ("max_elements", "max_memory", "max_recursion", "timeout", "max_iterations",
               "max_flops")

    def __init__(self, max_elements: int | None = 2**26, max_memory: int | None = 2**31,
                 max_recursion: int = 200, timeout: float | None = None,
                 max_iterations: int | None = 100_000_000, max_flops: float | None = 1e11,
                 hints: dict[str, str] | None = None):
        self.max_elements = max_elements  # elements of one tensor, list, string or range
        self.max_memory = max_memory  # bytes the session may hold (tensors, lists, strings)
        self.max_recursion = max_recursion  # nested calls of user functions
        self.timeout = timeout  # seconds of running time for all the session's statements
        self.max_iterations = max_iterations  # steps of the whole run: loop iterations,
        #                                       comprehension items, script function calls
        self.max_flops = max_flops  # floating-point operations of one call (matmul, inv ...)
        self.hints = dict(HINTS, **(hints or {}))  # limit name -> how to raise it

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"Limits({inner})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq


_SIZE_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20,
               "MIB": 2**20, "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40,
               "TIB": 2**40}


def parse_size(text: str) -> int:
    """Bytes from '2G', '512M', '64MiB', '1.5GB' or a plain number (units are powers of 1024)."""
    s = text.strip().upper().replace(" ", "")
    i = len(s)
    while i and s[i - 1].isalpha():
        i -= 1
    number, unit = s[:i], s[i:]
    if unit not in _SIZE_UNITS:
        raise ValueError(f"expected a size such as 512M or 2G, got {text!r}")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"expected a size such as 512M or 2G, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"expected a positive size, got {text!r}")
    return int(value * _SIZE_UNITS[unit])


def too_big(what: str, n, limit: int) -> LimitError:
    # the Session adds how to raise the limit (Limits.hints)
    return LimitError(f"{what} would have {n:,} elements, over the limit of {limit:,}",
                      limit="max_elements")


def check_count(n, limit: int | None, what: str = "the result") -> None:
    if limit is not None and n > limit:
        raise too_big(what, n, limit)


def shape_numel(size) -> int:
    """Elements of a shape given as ints, a tuple/list of ints or a Size; -1 counts as 1."""
    n = 1
    for s in size:
        if isinstance(s, (list, tuple)):
            n *= shape_numel(s)
        else:
            try:
                s = int(s)
            except (TypeError, ValueError):
                return 0  # not a size: let the op report it
            if s > 0:
                n *= s
    return n


def check_int_pow(base: int, exp: int) -> None:
    """Refuse base**exp for ints whose result would exceed MAX_INT_BITS."""
    if exp <= 1 or base in (0, 1, -1):
        return
    bits = exp * math.log2(abs(base))
    if bits > MAX_INT_BITS:
        raise LimitError(
            f"integer result too large: {base if base.bit_length() < 64 else 'a large int'}"
            f"**{exp} would have about {int(bits):,} bits (the limit is {MAX_INT_BITS:,})"
        )


def check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise LimitError(
            f"integer result too large: {what} would have about {bits:,} bits "
            f"(the limit is {MAX_INT_BITS:,})"
        )


def check_pow_mod(base, exp, mod) -> None:
    """Refuse pow(base, exp, mod) on ints whose modular exponentiation would take too long."""
    if not (type(exp) is int and type(mod) is int) or exp < 0:
        return
    digits = max(mod.bit_length(), 1) / 30  # CPython's 30-bit digits
    work = exp.bit_length() * digits * digits
    if work > MAX_POW_WORK:
        raise LimitError(
            f"pow() with a {exp.bit_length():,}-bit exponent and a {mod.bit_length():,}-bit "
            f"modulus would take too long (about {work:.1e} digit operations, the limit is "
            f"{MAX_POW_WORK:.0e})")


def check_int_prod(items) -> None:
    """Refuse the product of many ints when it is sure to exceed MAX_INT_BITS."""
    bits = 0
    for x in items:
        if type(x) is int:
            if x == 0:
                return
            bits += x.bit_length() - 1
    check_int_bits(bits, "the product")


def as_count(v):
    """An int from a size argument (ints, bools, objects with __index__); None if it is not."""
    if type(v) is int:
        return v
    if isinstance(v, float) or v is None:
        return None
    try:
        import operator

        return operator.index(v)
    except TypeError:
        return None


def printf_widths(template: str, args) -> list[int]:
    """The field widths and precisions of `template % args` (including `*` ones)."""
    out = []
    values = list(args) if isinstance(args, tuple) else [args]
    k = 0
    i = template.find("%")
    n = len(template)
    while 0 <= i < n - 1:
        j = i + 1
        if template[j] == "%":
            i = template.find("%", j + 1)
            continue
        if template[j] == "(":
            close = template.find(")", j)
            j = n if close < 0 else close + 1
        while j < n and template[j] in "-+ #0":
            j += 1
        for part in range(2):  # the width, then the precision after a '.'
            if part == 1:
                if j < n and template[j] == ".":
                    j += 1
                else:
                    break
            if j < n and template[j] == "*":
                w = as_count(values[k]) if k < len(values) else None
                k += 1
                j += 1
                if w is not None:
                    out.append(abs(w))
            else:
                start = j
                while j < n and template[j].isdigit():
                    j += 1
                if j > start:
                    out.append(int(template[start:j]) if j - start < 20 else 10**20)
        k += 1
        i = template.find("%", j)
    return out
