"""Core facade: torch.backends.mps — Apple's Metal backend, never available here."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: gradcalc has no MPS backend."""
    return False


def is_built() -> bool:
    """False: gradcalc is not built with MPS."""
    return False
