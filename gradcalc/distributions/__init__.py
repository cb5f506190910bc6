"""Distributions layer: torch.distributions on gradcalc's core — Normal, Uniform, Bernoulli,
Categorical with PyTorch's sampling (the same draws after a seed), log_prob, entropy, KL."""

from . import constraints  # noqa: F401  (torch.distributions.constraints)
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution, ExponentialFamily
from .kl import kl_divergence, register_kl  # noqa: F401  (register_kl: Python code only)
from .normal import Normal
from .uniform import Uniform

# (what scripts see: `constraints` is a module and `register_kl` writes a registry every session
# shares, so neither is offered to the sandbox; Python code imports both as usual)
__all__ = ["Bernoulli", "Categorical", "Distribution", "ExponentialFamily", "Normal", "Uniform",
           "kl_divergence"]
