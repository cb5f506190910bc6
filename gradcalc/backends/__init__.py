"""Core facade: torch.backends — the flags tutorials read or set for cuDNN, MPS, CUDA and
oneDNN. gradcalc computes with NumPy (or CuPy): the flags are kept, and change nothing."""

from __future__ import annotations

from . import cuda, cudnn, mkldnn, mps  # noqa: F401

__all__ = ["cuda", "cudnn", "mkldnn", "mps"]
