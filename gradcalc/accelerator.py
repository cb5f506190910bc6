"""Core facade: torch.accelerator — the current accelerator (CUDA through CuPy), if any."""

from __future__ import annotations

from . import cuda as _cuda

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "synchronize"]


def is_available() -> bool:
    """True when an accelerator (a CUDA device through CuPy) is present."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """The accelerator's device type (`device(type='cuda')`), or None without one."""
    if not _cuda.is_available():
        return None
    from .core.backend import as_device

    return as_device("cuda")


def device_count() -> int:
    """How many accelerator devices there are (0 without one)."""
    return _cuda.device_count() if _cuda.is_available() else 0


def current_device_index() -> int:
    """The index of the current accelerator device (-1 without one)."""
    return _cuda.current_device() if _cuda.is_available() else -1


def synchronize(device=None) -> None:
    """Wait for the accelerator's work to finish (nothing to wait for without one)."""
    if _cuda.is_available():
        _cuda.synchronize(device)
