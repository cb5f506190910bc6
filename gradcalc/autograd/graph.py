"""Core facade: torch.autograd.graph — the graph's nodes and the saved-tensor hooks.

`with saved_tensors_hooks(pack, unpack):` every tensor an op saves for backward while the
block runs is stored as `pack(tensor)`; backward (and a node's `_saved_<name>`) gets
`unpack(packed)` in its place. `save_on_cpu` is those hooks moving saved tensors to the CPU.
"""

from __future__ import annotations

from ..core import autograd as _engine
from ..core.autograd import Node

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks"]


class saved_tensors_hooks:
    """Context manager: pack each tensor saved for backward, unpack it when backward needs it."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _engine.push_saved_hooks(self.pack_hook, self.unpack_hook)
        return self

    def __exit__(self, *exc):
        _engine.pop_saved_hooks()
        return False


class save_on_cpu(saved_tensors_hooks):
    """saved_tensors_hooks that keep saved tensors on the CPU (and move them back for backward)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return (t.device, t.cpu())

        def unpack(packed):
            device, t = packed
            return t.to(device)

        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Context manager: saved_tensors_hooks inside it raise `error_message`."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        def refuse(*args):
            from ..errors import GradError

            raise GradError(self.error_message)

        _engine.push_saved_hooks(None, None, refuse)
        return self

    def __exit__(self, *exc):
        _engine.pop_saved_hooks()
        return False
