"""Language layer: the export table, the only modules and names a script can reach.

A script never names an import path: `import torch.nn` binds the namespace listed here, and
each namespace offers exactly the names its row lists (a facade module's `__all__` or the
list below), each value vetted once. Nothing else in a module is reachable, whatever it holds.
"""

from __future__ import annotations

import importlib
import types

#: script name -> (facade module, where its public names come from)
#: "__all__": the module's own list; "_PUBLIC": the torch package's published names;
#: a tuple: exactly these names.
TABLE: dict[str, tuple[str, object]] = {
    "torch": ("gradcalc", "_PUBLIC"),
    "torch.nn": ("gradcalc.nn", "__all__"),
    "torch.nn.functional": ("gradcalc.nn.functional", "__all__"),
    "torch.nn.init": ("gradcalc.nn.init", "__all__"),
    "torch.optim": ("gradcalc.optim", "__all__"),
    "torch.optim.lr_scheduler": ("gradcalc.optim.lr_scheduler", "__all__"),
    "torch.utils.data": ("gradcalc.utils.data", "__all__"),
    "torch.distributions": ("gradcalc.distributions", "__all__"),
    "torch.autograd": ("gradcalc.autograd", (
        "backward", "grad", "Function", "gradcheck", "gradgradcheck", "no_grad",
        "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled", "Node",
        "once_differentiable")),
    "torch.autograd.graph": ("gradcalc.autograd.graph", "__all__"),
    "torch.autograd.functional": ("gradcalc.autograd.functional", (
        "jacobian", "hessian", "vjp", "jvp")),
    "torch.linalg": ("gradcalc.linalg", (
        "det", "inv", "inv_ex", "matmul", "matrix_norm", "norm", "slogdet", "solve",
        "vector_norm")),
    "torch.random": ("gradcalc.random", "__all__"),
    "torch.accelerator": ("gradcalc.accelerator", "__all__"),
    "torch.backends.cudnn": ("gradcalc.backends.cudnn", "__all__"),
    "torch.backends.mps": ("gradcalc.backends.mps", "__all__"),
    "torch.backends.cuda": ("gradcalc.backends.cuda", "__all__"),
    "torch.backends.mkldnn": ("gradcalc.backends.mkldnn", "__all__"),
    "torch.cuda": ("gradcalc.cuda", (
        "is_available", "device_count", "current_device", "synchronize", "manual_seed",
        "manual_seed_all")),
}

#: modules the table may import; a Namespace loads nothing else
IMPORTABLE = frozenset(path for path, _ in TABLE.values())

#: gradcalc packages whose objects never reach a script (the interpreter, the front ends)
_PRIVATE_PACKAGES = ("gradcalc.lang", "gradcalc.cli", "gradcalc.repl", "gradcalc.render",
                     "gradcalc.isolate", "gradcalc.api", "gradcalc.__main__")

#: public names that exist in facade modules but reach outside the sandbox
DENY = frozenset({"save", "load", "from_file", "tofile", "dump", "dumps", "storage",
                  "untyped_storage", "data_ptr", "share_memory_", "pin_memory",
                  "register_forward_pre_hook_with_kwargs",
                  # process-wide switches: one session would change every other's behaviour
                  "set_default_validate_args"})


def load(path: str) -> types.ModuleType:
    """The facade module `path` (only the table's modules can be loaded)."""
    if path not in IMPORTABLE:
        raise ValueError(f"not an exported module: {path!r}")
    return importlib.import_module(path)


def names_of(script_name: str) -> frozenset:
    """The names the namespace `script_name` offers (before its extras and submodules)."""
    path, source = TABLE[script_name]
    mod = load(path)
    if isinstance(source, tuple):
        names = frozenset(source)
    else:
        names = frozenset(getattr(mod, source))
    # submodules listed in __all__ (nn.functional, optim.lr_scheduler) are rows of their own
    return frozenset(n for n in names if isinstance(n, str) and n[:1] != "_"
                     and f"{script_name}.{n}" not in TABLE) - DENY


def is_gradcalc_public(mod: str) -> bool:
    """True for the module of a facade or core object (not the interpreter or front ends)."""
    return (mod == "gradcalc" or mod.startswith("gradcalc.")) and not mod.startswith(
        _PRIVATE_PACKAGES)


def vet(value) -> bool:
    """True when `value` may be handed to a script as a namespace member."""
    if isinstance(value, types.ModuleType):
        return False
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return True
    if isinstance(value, type):
        return is_gradcalc_public(value.__module__ or "")
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        return is_gradcalc_public(getattr(value, "__module__", None) or "")
    if isinstance(value, tuple):
        return all(vet(x) for x in value)
    return is_gradcalc_public(type(value).__module__ or "")


_CLASSES: list = []


def exported_classes() -> frozenset:
    """Every class the table exports (what `type(x)` may hand back as a usable class)."""
    if not _CLASSES:
        found = set()
        for script_name, (path, _) in TABLE.items():
            try:
                mod = load(path)
            except ImportError:
                continue
            for name in names_of(script_name):
                value = getattr(mod, name, None)
                if isinstance(value, type) and vet(value):
                    found.add(value)
        _CLASSES.append(frozenset(found))
    return _CLASSES[0]
