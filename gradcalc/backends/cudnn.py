"""Core facade: torch.backends.cudnn — no cuDNN here; its flags are kept and unused."""

from __future__ import annotations

__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: gradcalc does not use cuDNN."""
    return False


def version():
    """None: no cuDNN library is loaded."""
    return None
