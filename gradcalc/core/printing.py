# Core layer: tensor repr, character for character what PyTorch's torch/_tensor_str.py prints,
# computed from the tensor's NumPy host copy; plus the print options API.
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradcalc.core.dtypes import get_default_dtype

_DEFAULT_PROFILE = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}
_PROFILES = {
    "default": _DEFAULT_PROFILE,
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}

_OPTS: dict[str, Any] = {**_DEFAULT_PROFILE, "sci_mode": None}

_PREFIX = "tensor("


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set print options as torch.set_printoptions does (sci_mode is reset unless given)."""
    if profile is not None and profile in _PROFILES:
        _OPTS.update(_PROFILES[profile])
    if precision is not None:
        _OPTS["precision"] = precision
    if threshold is not None:
        _OPTS["threshold"] = threshold
    if edgeitems is not None:
        _OPTS["edgeitems"] = edgeitems
    if linewidth is not None:
        _OPTS["linewidth"] = linewidth
    _OPTS["sci_mode"] = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Return the current print options as keyword arguments for set_printoptions."""
    return dict(_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change print options: `with printoptions(precision=2): ...`."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


def format_tensor(t: Any) -> str:
    """Return repr(t) exactly as PyTorch prints a tensor with the same values and metadata."""
    arr = np.asarray(t._host())
    name = t.dtype.name
    default_name = get_default_dtype().name
    edgeitems = _OPTS["edgeitems"]
    indent = len(_PREFIX)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(int(n) for n in t.shape)}")
        if name != default_name:
            suffixes.append(f"dtype=torch.{name}")
        body = "[]"
    else:
        if not edgeitems:
            suffixes.append(f"size={tuple(int(n) for n in t.shape)}")
        complex_name = "complex128" if default_name == "float64" else "complex64"
        if name not in (default_name, complex_name, "int64", "bool"):
            suffixes.append(f"dtype=torch.{name}")
        body = _tensor_str(arr, indent)
    if t.grad_fn is not None:
        # (PyTorch prints torch::autograd::CopySlices without its namespace)
        suffixes.append(f"grad_fn=<{t.grad_fn.name().rsplit('::', 1)[-1]}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(_PREFIX + body, suffixes, indent)


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    # NOTE: PyTorch overcounts the last line by 2 (len - rfind("\n") + 1); kept for exactness.
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    linewidth = _OPTS["linewidth"]
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _tensor_str(arr: np.ndarray, indent: int) -> str:
    summarize = arr.size > _OPTS["threshold"]
    edges = _summarized(arr) if summarize else arr
    if arr.dtype.kind == "c":
        fmt, width = _complex_formatter(edges)
    else:
        fmt, width = _formatter(edges, arr.dtype.kind == "f")
    return _nested_str(arr, indent, summarize, fmt, width)


def _complex_formatter(arr: np.ndarray) -> tuple[Callable[[Any], str], int]:
    # Real and imaginary parts get their own formatters; an element is `re+imj`.
    real_fmt, real_width = _formatter(arr.real, True)
    imag_fmt, imag_width = _formatter(arr.imag, True)

    def fmt(v: complex) -> str:
        imag = (imag_fmt(v.imag) + "j").lstrip()
        return real_fmt(v.real) + (imag if imag[0] in "+-" else "+" + imag)

    return fmt, real_width + imag_width + 1


def _summarized(arr: np.ndarray) -> np.ndarray:
    # The values get_summarized_data keeps: edge items along every dim longer than 2*edgeitems.
    e = _OPTS["edgeitems"]
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        return np.concatenate((arr[:e], arr[-e:])) if arr.shape[0] > 2 * e else arr
    if not e:
        return arr[:0]
    index = [np.r_[0:e, n - e : n] if n > 2 * e else slice(None) for n in arr.shape]
    for axis, ix in enumerate(index):
        if not isinstance(ix, slice):
            arr = arr.take(ix, axis=axis)
    return arr


def _formatter(arr: np.ndarray, floating: bool) -> tuple[Callable[[Any], str], int]:
    # _Formatter: pick the mode from the (summarized) values, measure the widest element.
    precision = _OPTS["precision"]
    flat = arr.reshape(-1)
    if not floating:
        width = 1
        if flat.size:
            width = max(len(str(flat.max().item())), len(str(flat.min().item())))
        return (lambda v: str(v).rjust(width)), width
    vals = flat[np.isfinite(flat) & (flat != 0)]
    if vals.size == 0:
        return _int_mode_format(1), 1
    abs64 = np.abs(vals).astype(np.float64)
    lo, hi = float(abs64.min()), float(abs64.max())
    int_mode = bool(np.all(vals == np.ceil(vals)))
    sci = _OPTS["sci_mode"]
    if sci is None:
        sci = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
    if sci:
        spec = f".{precision}e"
    elif int_mode:
        spec = ".0f"
    else:
        spec = f".{precision}f"
    width = max(len(format(v, spec)) for v in _extremes(vals))
    if int_mode and not sci:
        width += 1
        return _int_mode_format(width), width
    spec = f">{width}{spec}"
    return (lambda v: format(v, spec)), width


def _extremes(vals: np.ndarray) -> list[float]:
    # NOTE: rounding is monotone, so the widest string comes from the largest or smallest
    # magnitude of either sign; measuring these four stands in for PyTorch's loop over all.
    out = []
    for part in (vals[vals > 0], vals[vals < 0]):
        if part.size:
            out += [float(part.max()), float(part.min())]
    return out


def _int_mode_format(width: int) -> Callable[[Any], str]:
    def fmt(v: float) -> str:
        s = format(v, ".0f")
        if not (math.isinf(v) or math.isnan(v)):
            s += "."
        return s.rjust(width)

    return fmt


def _nested_str(
    arr: np.ndarray, indent: int, summarize: bool, fmt: Callable[[Any], str], width: int
) -> str:
    if arr.ndim == 0:
        return fmt(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, fmt, width)
    e = _OPTS["edgeitems"]
    n = arr.shape[0]
    if summarize and n > 2 * e:
        rows = list(range(e)) + [None] + list(range(n - e, n))
    else:
        rows = range(n)
    slices = [
        "..." if i is None else _nested_str(arr[i], indent + 1, summarize, fmt, width) for i in rows
    ]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _vector_str(
    arr: np.ndarray, indent: int, summarize: bool, fmt: Callable[[Any], str], width: int
) -> str:
    per_line = max(1, (_OPTS["linewidth"] - indent) // (width + 2))
    e = _OPTS["edgeitems"]
    if summarize and not e:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * e:
        data = [fmt(v) for v in arr[:e].tolist()] + [" ..."] + [fmt(v) for v in arr[-e:].tolist()]
    else:
        data = [fmt(v) for v in arr.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
