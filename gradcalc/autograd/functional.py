"""Core: torch.autograd.functional — jacobian and hessian built on autograd.grad."""

from __future__ import annotations

from ..core.tensor import Tensor


def _tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of `func` at `inputs`: shape out.shape + in.shape (tuples for several)."""
    single_in = isinstance(inputs, Tensor)
    ins = tuple(x.detach().requires_grad_(True) for x in _tuple(inputs))
    out = func(*ins)
    single_out = isinstance(out, Tensor)
    result = [jacobian_of(o, ins, create_graph=create_graph) for o in _tuple(out)]
    result = [jacs[0] if single_in else jacs for jacs in result]
    return result[0] if single_out else tuple(result)


def jacobian_of(output, inputs, create_graph=False):
    """The Jacobian of an already computed `output` with respect to the tensors `inputs`, one
    per input (shape output.shape + input.shape), by one backward pass per output element.

    What `jacobian` runs once it has called its function; front ends that already hold the
    output (gradcalc eval) call it directly. An input the output does not reach gets zeros.
    """
    from ..core.creation import zeros
    from ..core.shape import stack
    from . import grad

    ins = tuple(inputs)
    rows_per_input = [[] for _ in ins]
    if output.requires_grad:
        flat_shape = (output.numel(),)
        for k in range(output.numel()):
            seed = zeros(flat_shape, dtype=output.dtype, device=output.device)
            seed[k] = 1.0
            gs = grad([output], ins, grad_outputs=[seed.reshape(output.shape)],
                      retain_graph=True, create_graph=create_graph, allow_unused=True)
            for j, (g, x) in enumerate(zip(gs, ins)):
                rows_per_input[j].append(g if g is not None else zeros(x.shape, dtype=x.dtype))
    jacs = []
    for j, x in enumerate(ins):
        if rows_per_input[j]:
            J = stack(rows_per_input[j]).reshape(tuple(output.shape) + tuple(x.shape))
        else:
            J = zeros(tuple(output.shape) + tuple(x.shape), dtype=x.dtype)
        if not create_graph:
            J = J.detach()
        jacs.append(J)
    return tuple(jacs)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar `func` at `inputs`."""
    from . import grad

    single_in = isinstance(inputs, Tensor)

    def jac_fn(*xs):
        out = func(*xs)
        gs = grad(out, xs, create_graph=True, allow_unused=True, materialize_grads=True)
        return gs[0] if single_in else gs

    if single_in:
        return jacobian(jac_fn, inputs, create_graph=create_graph)
    J = jacobian(jac_fn, inputs, create_graph=create_graph)
    return J


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    from . import grad

    ins = tuple(x.detach().requires_grad_(True) for x in _tuple(inputs))
    out = func(*ins)
    gs = grad(out, ins, v, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    return out.detach(), (gs[0] if isinstance(inputs, Tensor) else gs)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    J = jacobian(func, inputs)
    out = func(*_tuple(inputs))
    vv = v if v is not None else inputs.new_ones(inputs.shape)
    res = (J.reshape(out.numel(), -1) @ vv.reshape(-1)).reshape(out.shape)
    return out.detach(), res
