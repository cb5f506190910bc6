"""nn layer: private functional helpers for layers whose functional form the core does not provide.

Each is composed of differentiable core ops (so gradients, including higher
order ones, come from the engine); modules prefer `nn.functional`'s version
when it exists.
"""

from __future__ import annotations

from ..errors import ShapeError


def bilinear(input1, input2, weight, bias=None):
    """out[..., o] = Σᵢⱼ input1[..., i] · weight[o, i, j] · input2[..., j] (+ bias[o])."""
    out_f, in1, in2 = weight.shape
    if input1.shape[:-1] != input2.shape[:-1]:
        raise ShapeError(
            "bilinear(): input batch dimensions do not match: got "
            f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}"
        )
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    y = (x1.matmul(w).reshape(-1, out_f, in2) * x2.unsqueeze(1)).sum(-1).reshape(*lead, out_f)
    return y + bias if bias is not None else y  # AddBackward0 last, as PyTorch records it
