"""Facade: torch.random — seeding, state bytes and fork_rng for the default CPU generator."""

from __future__ import annotations

import contextlib

from .core.random import Generator, default_generator, get_rng_state, manual_seed, set_rng_state

__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed",
           "manual_seed", "seed", "set_rng_state"]


def seed() -> int:
    """Reseed the default generator from the OS and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The default generator's seed."""
    return default_generator.initial_seed()


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type=None):
    """Restore the default generator's state on exit (draws inside leave no trace)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
