"""Render layer: small helpers shared by the text, JSON and Rich views of values."""

from __future__ import annotations

import math
import sys
from typing import Any


def is_tensor(value: Any) -> bool:
    """True for a gradcalc Tensor (the core is not imported for it: before the core is loaded,
    no tensor exists)."""
    core = sys.modules.get("gradcalc.core.tensor")
    return core is not None and isinstance(value, core.Tensor)


def value_repr(value: Any) -> str:
    """The echo of a value: its repr, as Python's REPL shows it (a value nested too deeply to
    print is Python's RecursionError as a GradcalcError, not a crash)."""
    try:
        return repr(value)
    except RecursionError:
        from gradcalc.errors import EvalError

        raise EvalError("RecursionError: maximum recursion depth exceeded while getting the "
                        "repr of an object") from None


def shape_str(shape: Any) -> str:
    """`(2, 3)`, `(3,)` or `()` for a shape."""
    dims = tuple(int(d) for d in shape)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(str(d) for d in dims) + ")"


def dtype_name(dtype: Any) -> str:
    """`float32` for gradcalc.float32."""
    return dtype.name


def device_str(value: Any) -> str:
    """`cpu`, `cuda:0` ... for a tensor."""
    return str(value.device)


def grad_fn_name(node: Any) -> str:
    """A node's display name: `AccumulateGrad` without PyTorch's C++ namespace."""
    return node.name().rsplit("::", 1)[-1]


def hanging(prefix: str, text: str) -> str:
    """`prefix` then `text`, continuation lines indented under the first character of text."""
    pad = " " * len(prefix)
    lines = text.split("\n")
    return "\n".join([prefix + lines[0]] + [pad + line if line else line for line in lines[1:]])


def indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line if line else line for line in text.split("\n"))


def _number(x: Any) -> Any:
    if isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    f = float(x)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f


def host_array(t: Any):
    """A NumPy array with the tensor's values (through the core's sanctioned host copy)."""
    return t._host()


def array_json(arr: Any) -> Any:
    """Nested lists of numbers; float32 values keep their shortest float32 spelling."""
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype.itemsize < 8:
        flat = [_number(float(str(v))) for v in arr.ravel()]
    elif kind == "c":
        flat = [str(v) for v in arr.ravel().tolist()]
    else:
        flat = [_number(v) for v in arr.ravel().tolist()]
    shape = arr.shape
    if not shape:
        return flat[0]
    for n in reversed(shape[1:]):
        flat = [flat[i : i + n] for i in range(0, len(flat), n)]
    if shape[0] == 0:
        return []
    return flat


def tensor_json(t: Any, *, grad_fn: bool = True) -> dict:
    """`{"value", "shape", "dtype"}` (+ `"grad_fn"`, + `"device"` off the cpu) for a tensor."""
    out: dict[str, Any] = {
        "value": array_json(host_array(t)),
        "shape": [int(d) for d in t.shape],
        "dtype": dtype_name(t.dtype),
    }
    device = device_str(t)
    if device != "cpu":
        out["device"] = device
    if grad_fn and t.grad_fn is not None:
        out["grad_fn"] = grad_fn_name(t.grad_fn)
    return out


def value_json(value: Any) -> Any:
    """A JSON-ready form of any value a session can produce."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _number(value)
    if is_tensor(value):
        return tensor_json(value)
    if isinstance(value, (list, tuple)):
        return [value_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): value_json(v) for k, v in value.items()}
    return {"repr": repr(value)}
