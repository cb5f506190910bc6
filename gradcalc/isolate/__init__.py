"""Isolation layer: evaluate in a forked child process under OS limits (rlimits, Landlock read
rules, a seccomp syscall filter), killed at a wall-clock deadline by the parent; only JSON
lines come back.

Used by `gradcalc eval/run --isolate` (`run_command`) and `Session(..., isolate=True)`
(`IsolatedSession`); `apply_policy` confines the calling process itself. See docs/security.md.
Modules: policy (limits, apply_policy), seccomp (the filter and its shipped program), landlock,
protocol (the JSON messages), child (fork, deadline, how it ended), session, command. Each name
below loads its module on first use (the command line imports no more than it runs).
"""

from __future__ import annotations

import importlib

_WHERE = {
    "ALLOWED_SYSCALLS": "seccomp", "REFUSED": "seccomp", "filter_unavailable": "seccomp",
    "DEFAULT_MAX_FILES": "policy", "DEFAULT_MEMORY_MB": "policy", "DEFAULT_SECONDS": "policy",
    "GRACE_SECONDS": "policy", "Confined": "policy", "Isolation": "policy",
    "apply_policy": "policy", "in_child": "child", "run_command": "command",
    "Echoed": "session", "IsolatedSession": "session",
}
__all__ = ["ALLOWED_SYSCALLS", "DEFAULT_MAX_FILES", "DEFAULT_MEMORY_MB", "DEFAULT_SECONDS",
           "GRACE_SECONDS", "REFUSED", "Confined", "Echoed", "IsolatedSession", "Isolation",
           "apply_policy", "filter_unavailable", "in_child", "run_command"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'gradcalc.isolate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gradcalc.isolate.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
