"""Core facade: torch.backends.cuda — whether this build can use CUDA (through CuPy)."""

from __future__ import annotations

__all__ = ["is_built"]


def is_built() -> bool:
    """True when CuPy, gradcalc's CUDA backend, can be imported."""
    import importlib.util

    return importlib.util.find_spec("cupy") is not None
