"""Core facade: torch.save / torch.load in a format that cannot run code.

A checkpoint is a zip archive: `data.json` describes the saved object (dicts, ordered dicts,
lists, tuples, numbers, strings, None, dtypes, sizes and tensors) and each tensor's values are
one `.npy` member, written and read by NumPy with `allow_pickle=False`. Nothing in a file can
name a class or a function, so loading one only ever builds data. Saving a whole nn.Module (a
pickle of its code in PyTorch) is refused with a pointer to `state_dict()`.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections import OrderedDict

import numpy as np

from .errors import GradcalcTypeError, GradcalcValueError

FORMAT = "gradcalc-checkpoint"
VERSION = 1
#: members of an archive: the description, then one array per tensor
DATA = "data.json"
_MAX_DEPTH = 100


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True):
    """Write `obj` (tensors, state_dicts, containers of them) to the path or binary file `f`."""
    arrays: list = []
    desc = {"format": FORMAT, "version": VERSION, "root": _describe(obj, arrays, 0)}
    if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
        with open(f, "wb") as fh:
            _write(fh, desc, arrays)
    else:
        _write(f, desc, arrays)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **kwargs):
    """Read what `save` wrote from the path or binary file `f` (nothing in it can run)."""
    if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
        with open(f, "rb") as fh:
            return _read(fh, map_location)
    return _read(f, map_location)


# ---- writing ----------------------------------------------------------------------------


def _write(fh, desc, arrays) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(DATA, json.dumps(desc, allow_nan=False))
        for i, a in enumerate(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
            z.writestr(f"{i}.npy", buf.getvalue())


def _describe(obj, arrays: list, depth: int):
    from .core.dtypes import dtype as DType
    from .core.tensor import Size, Tensor

    if depth > _MAX_DEPTH:
        raise GradcalcValueError("torch.save: the object is nested too deeply")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return {"int": str(obj)}
    if isinstance(obj, float):
        return {"float": repr(obj)} if not math.isfinite(obj) else obj
    if isinstance(obj, np.generic):
        return _describe(obj.item(), arrays, depth)  # a NumPy scalar: its Python number
    if isinstance(obj, Tensor):
        arrays.append(obj.detach().cpu().numpy())
        out = {"tensor": len(arrays) - 1, "dtype": obj.dtype.name}
        if obj.requires_grad:
            out["requires_grad"] = True
        if type(obj).__name__ == "Parameter":
            out["parameter"] = True
        return out
    if isinstance(obj, Size):
        return {"size": list(obj)}
    if isinstance(obj, DType):
        return {"dtype_object": obj.name}
    if isinstance(obj, dict):
        items = [[_describe(k, arrays, depth + 1), _describe(v, arrays, depth + 1)]
                 for k, v in obj.items()]
        return {"ordered_dict" if isinstance(obj, OrderedDict) else "dict": items}
    if isinstance(obj, (list, tuple)):
        key = "list" if isinstance(obj, list) else "tuple"
        return {key: [_describe(v, arrays, depth + 1) for v in obj]}
    if _is_module(obj):
        raise GradcalcTypeError(
            f"torch.save of a whole {type(obj).__name__} module is not supported: gradcalc "
            "never pickles code; save its state_dict() instead "
            "(torch.save(model.state_dict(), path), then model.load_state_dict(torch.load(path)))")
    raise GradcalcTypeError(
        f"torch.save cannot save a {type(obj).__name__} object: gradcalc saves tensors, "
        "numbers, strings and dicts, lists and tuples of them")


def _is_module(obj) -> bool:
    return any(k.__name__ == "Module" and k.__module__.startswith("gradcalc.")
               for k in type(obj).__mro__)


# ---- reading ----------------------------------------------------------------------------


def _read(fh, map_location):
    try:
        z = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        raise GradcalcValueError(
            "torch.load: not a gradcalc checkpoint (PyTorch's pickled files cannot be read: "
            "they can run code; save tensors and state_dicts with gradcalc)") from None
    with z:
        try:
            desc = json.loads(z.read(DATA))
        except (KeyError, ValueError):
            raise GradcalcValueError("torch.load: not a gradcalc checkpoint") from None
        if not isinstance(desc, dict) or desc.get("format") != FORMAT:
            raise GradcalcValueError("torch.load: not a gradcalc checkpoint")
        if desc.get("version") != VERSION:
            raise GradcalcValueError(
                f"torch.load: checkpoint version {desc.get('version')!r} is not supported")

        def array(i):
            if not isinstance(i, int):
                raise GradcalcValueError("torch.load: a damaged checkpoint")
            try:
                with z.open(f"{i}.npy") as m:
                    return np.lib.format.read_array(m, allow_pickle=False)
            except (KeyError, ValueError, OSError, zipfile.BadZipFile) as e:
                raise GradcalcValueError(f"torch.load: a damaged checkpoint ({e})") from None

        return _build(desc.get("root"), array, 0)


def _build(node, array, depth: int):
    from .core.creation import from_numpy
    from .core.dtypes import ALIASES
    from .core.tensor import Size

    if depth > _MAX_DEPTH:
        raise GradcalcValueError("torch.load: a damaged checkpoint")
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, dict) and len(node) >= 1:
        if "tensor" in node:
            data = array(node["tensor"])
            t = from_numpy(data.copy())
            want = ALIASES.get(node.get("dtype"))
            if want is not None and t.dtype is not want:
                t = t.to(want)
            if node.get("parameter"):
                from .nn.parameter import Parameter

                return Parameter(t, requires_grad=bool(node.get("requires_grad")))
            if node.get("requires_grad"):
                t.requires_grad_(True)
            return t
        (kind, value), = node.items()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "size":
            return Size(int(v) for v in value)
        if kind == "dtype_object":
            return ALIASES[value]
        if kind in ("dict", "ordered_dict"):
            out = OrderedDict() if kind == "ordered_dict" else {}
            for k, v in value:
                out[_key(_build(k, array, depth + 1))] = _build(v, array, depth + 1)
            return out
        if kind == "list":
            return [_build(v, array, depth + 1) for v in value]
        if kind == "tuple":
            return tuple(_build(v, array, depth + 1) for v in value)
    raise GradcalcValueError("torch.load: a damaged checkpoint")


def _key(k):
    if isinstance(k, (list, dict)):
        raise GradcalcValueError("torch.load: a damaged checkpoint")
    return k


__all__ = ["save", "load"]
