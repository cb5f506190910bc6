"""Isolation layer: the C library through ctypes, for the calls Python has no function for
(prctl, syscall); loaded once per process (ctypes is already imported wherever NumPy is)."""

from __future__ import annotations

_LIBC: list = []


def libc():
    """The process's C library (ctypes.CDLL(None)) with errno kept; `syscall` returns a long."""
    if not _LIBC:
        import ctypes

        lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        _LIBC.append(lib)
    return _LIBC[0]
