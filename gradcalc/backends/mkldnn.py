"""Core facade: torch.backends.mkldnn — oneDNN, never used here; its flag is kept and unused."""

from __future__ import annotations

__all__ = ["is_available", "enabled"]

enabled = True


def is_available() -> bool:
    """False: gradcalc computes with NumPy, not oneDNN."""
    return False
