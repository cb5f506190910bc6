"""Application layer: what `gradcalc eval`, `graph` and the REPL compute, as a library.

`evaluate(expr, at, wrt)` runs an expression in a Session with its inputs bound as leaf tensors
and returns an `EvalResult` (value, gradients, Jacobians or a VJP, Hessians, the graph model,
the backward trace); the front ends only read its input and render what it returns.

    >>> from gradcalc.api import evaluate
    >>> evaluate("x**3 + 3*x**2 + 5", at={"x": 2}).derivatives["x"]
    tensor(24.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from gradcalc.errors import GradcalcError, GradError, NameNotFound, UsageError
from gradcalc.render.record import Record

#: one binding of --at: a NAME (any identifier, as the language's: x, W1, α) then '='
_AT_ITEM = re.compile(r"\s*([^\W\d]\w*)\s*=(?!=)")
_NAME = re.compile(r"[^\W\d]\w*\Z")

#: the most elements of all Jacobians together, and of backward passes, computed unasked
JACOBIAN_LIMIT = 1_000_000
JACOBIAN_ROWS = 10_000


def is_name(text: str) -> bool:
    """True for an identifier the language accepts as a name (`x`, `W1`, `α`)."""
    return bool(_NAME.match(text))


def binds_a_name(item: str) -> bool:
    """True when `item` opens with `NAME=` (one binding of --at)."""
    return bool(_AT_ITEM.match(item))


# ---- inputs ------------------------------------------------------------------------------------


def split_bindings(item: str) -> list[str]:
    """`x=1,y=[1, 2]` -> ['x=1', 'y=[1, 2]']: split at top-level commas that start a NAME=."""
    parts, depth, start, quote = [], 0, 0, None
    for i, ch in enumerate(item):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0 and _AT_ITEM.match(item, i + 1):
            parts.append(item[start:i])
            start = i + 1
    parts.append(item[start:])
    return parts


def parse_bindings(items: Iterable[str]) -> list[tuple[str, str]]:
    """['x=1,y=2', 'W=randn(2, 2)'] -> [('x', '1'), ('y', '2'), ('W', 'randn(2, 2)')]."""
    pairs = []
    for item in items:
        for chunk in split_bindings(item):
            m = _AT_ITEM.match(chunk)
            if m is None:
                raise UsageError(f"--at: expected NAME=VALUE, got {chunk.strip()!r}")
            text = chunk[m.end():].strip()
            if not text:
                raise UsageError(f"--at {m.group(1)}=: the value is empty")
            pairs.append((m.group(1), text))
    return pairs


def _as_input(value: Any, device: str | None, requires_grad: bool):
    import gradcalc

    if isinstance(value, gradcalc.Tensor):
        t = value.detach()
        if not t.dtype.is_floating_point and not t.dtype.is_complex:
            t = t.to(gradcalc.get_default_dtype())
    elif isinstance(value, (bool, int, float, list, tuple)):
        t = gradcalc.tensor(value, dtype=gradcalc.get_default_dtype())
    else:
        return value
    if device is not None and str(t.device) != device:
        t = t.to(device)
    if t is value:
        t = t.clone()
    return t.requires_grad_(requires_grad)


def bind_inputs(session, at: Mapping[str, Any] | Iterable[str] | None,
                wrt: str | Iterable[str] | None = None, device: str | None = None,
                ) -> dict[str, Any]:
    """Bind each input in `session` as a leaf tensor (requires_grad=True unless `wrt` names
    others). `at` maps names to values or to expression text, or is a list of 'NAME=VALUE'
    items; text is evaluated in the session (`randn(3)`, `[1, 2]`, `pi/2`)."""
    if at is None:
        pairs: list[tuple[str, Any]] = []
    elif isinstance(at, Mapping):
        pairs = list(at.items())
        for name, _ in pairs:
            if not is_name(name):
                raise UsageError(f"--at: {name!r} is not a name")
    else:
        pairs = list(parse_bindings(at))
    names = [n for n, _ in pairs]
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",")]
    wanted = list(wrt) if wrt is not None else names
    for w in wanted:
        if w not in names:
            raise UsageError(f"--wrt: {w!r} is not bound; bind it with --at {w}=VALUE")
    inputs: dict[str, Any] = {}
    for name, value in pairs:
        if isinstance(value, str):
            try:
                value = session.evaluate(value, f"--at {name}")
            except GradcalcError as e:
                if e.source in (None, "<input>", "<expr>"):
                    e.source = f"--at {name}"
                raise
        value = _as_input(value, device, name in wanted)
        session.bind(name, value)
        inputs[name] = value
    return inputs


def run_statements(session, expr: str, bound: Iterable[str] = (), source: str = "<expr>"):
    """Run EXPR's statements; returns (has_value, value, echoed text before the last value).

    A free name that is not bound gets the hint to bind it (`--at NAME=VALUE`)."""
    from gradcalc.lang import NO_ECHO
    from gradcalc.render.values import value_repr

    echoed: list[str] = []
    has_value, value = False, None
    bound = set(bound)
    try:
        for stmt in session.statements(expr, source):
            v = session.execute(stmt)
            if v is NO_ECHO:
                continue
            if has_value:
                echoed.append(value_repr(value) + "\n")
            has_value, value = True, v
    except NameNotFound as e:
        if e.name not in bound and is_name(e.name or "") and "(import " not in e.message:
            hint = f"bind it with --at {e.name}=VALUE"
            e.message = f"{e.message} ({'or ' if e.matches else ''}{hint})"
            e.args = (e.message,)
        raise
    return has_value, value, "".join(echoed)


# ---- derivatives -------------------------------------------------------------------------------


class Derivatives(Record):
    """What `derivatives` found: `kind` 'gradients' | 'jacobians' | 'vjp' | None (none asked
    or none possible), one tensor per input, the VJP's vector, Hessians, and `note` (why
    there are none, or what was skipped and how to get it)."""

    _fields = ("kind", "derivatives", "grad_output", "hessians", "note")

    def __init__(self, kind=None, derivatives=None, grad_output=None, hessians=None, note=None):
        self.kind = kind
        self.derivatives = {} if derivatives is None else derivatives
        self.grad_output = grad_output
        self.hessians = hessians
        self.note = note


def _zeros_or(g, like):
    import gradcalc

    return gradcalc.zeros_like(like) if g is None else g.detach()


def derivatives(value, inputs: Mapping[str, Any], *, grad_output=None, hessian: bool = False,
                max_jacobian: int = JACOBIAN_LIMIT) -> Derivatives:
    """Gradients (a scalar `value`), Jacobians (out.shape + in.shape) or, with `grad_output`
    v, the vector-Jacobian product backward(v), with respect to the inputs that require grad.

    A Jacobian of more than `max_jacobian` elements is skipped, with a note saying how to get
    a VJP instead. `hessian` adds second derivatives of a scalar value.
    """
    import gradcalc
    from gradcalc.autograd.functional import jacobian_of

    names = [n for n, t in inputs.items() if isinstance(t, gradcalc.Tensor) and t.requires_grad]
    leaves = [inputs[n] for n in names]
    is_tensor = isinstance(value, gradcalc.Tensor)
    if hessian and is_tensor and value.dim() != 0:
        raise GradError(f"--hessian needs a scalar result; this one has shape {tuple(value.shape)}")
    if not names or not is_tensor or not value.requires_grad:
        out = Derivatives()
        if names and hessian:
            out.hessians = {a: {b: gradcalc.zeros(tuple(inputs[a].shape) + tuple(inputs[b].shape))
                                for b in names} for a in names}
        return out
    grad = gradcalc.autograd.grad
    if grad_output is not None:
        v = grad_output if isinstance(grad_output, gradcalc.Tensor) else gradcalc.tensor(
            grad_output, dtype=value.dtype)
        v = v.to(value.dtype)
        gs = grad([value], leaves, grad_outputs=[v], retain_graph=True, allow_unused=True)
        return Derivatives("vjp", {n: _zeros_or(g, t) for n, g, t in zip(names, gs, leaves)},
                           grad_output=v)
    if value.dim() == 0:
        gs = grad([value], leaves, retain_graph=True, create_graph=hessian, allow_unused=True)
        out = Derivatives("gradients", {n: _zeros_or(g, t) for n, g, t in zip(names, gs, leaves)})
        if hessian:
            out.hessians = _hessians(names, leaves, gs)
        return out
    m = value.numel()
    total = sum(m * t.numel() for t in leaves)
    if total > max_jacobian or m > JACOBIAN_ROWS:
        why = (f"the Jacobian would have {total:,} elements (limit {max_jacobian:,})"
               if total > max_jacobian else
               f"the Jacobian would take {m:,} backward passes (limit {JACOBIAN_ROWS:,})")
        return Derivatives(note=(
            f"derivatives skipped: {why}; give --grad-output V for the vector-Jacobian "
            "product backward(V)" + (", or raise the limit with --max-jacobian N"
                                     if total > max_jacobian else "")))
    jacs = jacobian_of(value, leaves)
    return Derivatives("jacobians", dict(zip(names, jacs)))


def _hessians(names, leaves, first) -> dict[str, dict[str, Any]]:
    """Second derivatives d2/da db, from the first derivatives built with create_graph."""
    import gradcalc
    from gradcalc.autograd.functional import jacobian_of

    table: dict[str, dict[str, Any]] = {}
    for a, ta, ga in zip(names, leaves, first):
        if ga is None:
            ga = gradcalc.zeros_like(ta)
        table[a] = dict(zip(names, jacobian_of(ga, leaves)))
    return table


# ---- the backward trace and the graph ----------------------------------------------------------

_SCALES = None  # compiled on first use: a factor named alpha or beta in a formula


def concrete_formula(node, formula: str | None) -> str | None:
    """`formula` with the node's scale factors made concrete: alpha/beta (saved by add, sub,
    addmm ... only when not 1) become their value, or vanish when 1 (`grad * alpha` of a
    plain `x + y` reads `grad`)."""
    global _SCALES
    if not formula or ("alpha" not in formula and "beta" not in formula):
        return formula
    if _SCALES is None:
        _SCALES = re.compile(r"(?:\s*\*\s*)?\b(alpha|beta)\b(?:\s*\*\s*)?")
    names = type(node).saved_names
    saved = dict(node.saved_items())

    def value(m):
        name = m.group(1)
        if name in saved:
            v = saved[name]
        elif name not in names and name != "alpha":
            return m.group(0)  # not a scale this node knows: leave the words
        else:
            v = 1  # not saved: PyTorch's default, 1
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return m.group(0)
        if v == 1:
            # drop the factor with one of its '*'s
            star_before = m.group(0).lstrip().startswith("*")
            star_after = m.group(0).rstrip().endswith("*")
            return " * " if star_before and star_after else ""
        return m.group(0).replace(name, repr(v))

    return _SCALES.sub(value, formula)


def _formulas(node) -> tuple:
    formulas = type(node).formula
    return (formulas,) if isinstance(formulas, str) else tuple(formulas)


def backward_trace(value, inputs: Mapping[str, Any], labels: dict, grad_output=None):
    """Run backward once with the engine's trace callback; returns (steps, leaf grads).

    The leaves' `.grad` are as they were afterwards."""
    import gradcalc
    from gradcalc.core import autograd
    from gradcalc.render.report import TraceEdge, TraceStep
    from gradcalc.render.values import dtype_name, grad_fn_name

    def caption(node, step: int | None = None) -> str:
        var = node.variable if isinstance(node, autograd.AccumulateGrad) else None
        names = labels.get(id(var if var is not None else node), ())
        inner = ", ".join([grad_fn_name(node)] + ([f"step {step}"] if step else []))
        return f"{', '.join(names)} ({inner})" if names else f"{grad_fn_name(node)}" + (
            f" (step {step})" if step else "")

    steps: list[TraceStep] = []
    order: dict[int, int] = {}  # node -> its step number
    targets: list[tuple[TraceEdge, Any]] = []

    def on_node(node, grads_in, grads_out):
        if isinstance(node, autograd.AccumulateGrad):
            var = node.variable
            order[id(node)] = len(steps) + 1
            steps.append(TraceStep(grad_fn_name(node), list(labels.get(id(var), ())),
                                   tuple(var.shape), dtype_name(var.dtype), list(grads_in),
                                   leaf=True, leaf_grad=var.grad))
            return
        step = TraceStep(grad_fn_name(node), list(labels.get(id(node), ())),
                         tuple(node._shape), dtype_name(node._dtype), list(grads_in))
        formulas = _formulas(node)
        for k, (entry, g) in enumerate(zip(node.next_functions, grads_out)):
            child = entry[0]
            if child is None:
                continue
            formula = concrete_formula(node, formulas[k] if k < len(formulas) else None)
            step.edges.append(TraceEdge(caption(child), formula, g))
            targets.append((step.edges[-1], child))
        order[id(node)] = len(steps) + 1
        steps.append(step)

    leaves = {n: t for n, t in inputs.items() if isinstance(t, gradcalc.Tensor) and t.requires_grad}
    before = {n: t.grad for n, t in leaves.items()}
    for t in leaves.values():
        t.grad = None
    seed = grad_output if grad_output is not None else gradcalc.ones_like(value)
    try:
        autograd.run_backward([value], [seed], retain_graph=True, create_graph=False, trace=on_node)
        grads = {n: t.grad for n, t in leaves.items()}
        for edge, child in targets:  # name the step where each gradient goes next
            edge.target = caption(child, order.get(id(child)))
    finally:
        for n, t in leaves.items():  # the trace leaves the user's .grad as it was
            t.grad = before[n]
    return steps, grads


def graph_leaves(value, labels: dict) -> dict[str, Any]:
    """Leaf tensors behind `value`, by their first variable name (or leaf0, leaf1 ...)."""
    from gradcalc.core import autograd

    out: dict[str, Any] = {}
    seen: set[int] = set()
    if value.grad_fn is None:
        return {(labels.get(id(value)) or ["leaf"])[0]: value} if value.requires_grad else {}
    stack = [value.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, autograd.AccumulateGrad):
            names = labels.get(id(node.variable)) or [f"leaf{len(out)}"]
            out.setdefault(names[0], node.variable)
        stack.extend(entry[0] for entry in node.next_functions)
    return out


def is_tensor(value: Any) -> bool:
    """True for a gradcalc Tensor (what has a graph, gradients and a trace)."""
    import gradcalc

    return isinstance(value, gradcalc.Tensor)


def graph_model(value, labels: dict | None = None, *, saved: bool = False):
    """The graph model (gradcalc.render.graph.GraphModel) behind a tensor."""
    from gradcalc.render.graph import build_graph

    if not is_tensor(value):
        raise UsageError(f"the value is a {type(value).__name__}, not a tensor: it has no "
                         "graph to draw")
    return build_graph(value, labels or {}, saved=saved)


def trace(value, labels: dict | None = None, grad_output=None):
    """The backward pass of `value` step by step: (steps, leaf gradients); leaves' .grad are
    left as they were. The leaves are found in the graph and named by `labels`."""
    labels = labels or {}
    if not is_tensor(value) or not value.requires_grad:
        raise GradError("the value does not require grad: there is no backward pass to show")
    return backward_trace(value, graph_leaves(value, labels), labels, grad_output)


# ---- the whole evaluation ----------------------------------------------------------------------


def evaluate(expr: str, at: Mapping[str, Any] | Iterable[str] | None = None,
             wrt: str | Iterable[str] | None = None, *, session=None, grad_output=None,
             hessian: bool = False, graph: bool = False, trace: bool = False,
             no_grad: bool = False, device: str | None = None,
             max_jacobian: int = JACOBIAN_LIMIT, printed: list[str] | None = None):
    """Evaluate `expr` (statements separated by ';', the last one's value is the result) with
    the inputs `at` bound as leaf tensors; returns a gradcalc.render.report.EvalResult.

    `grad_output` is a vector (or expression text) for the VJP of a non-scalar result;
    `no_grad` skips derivatives; `graph`/`trace` add the graph model and the backward trace.
    `printed` collects what the statements print (with a session made here).
    """
    from gradcalc.render.report import EvalResult

    if session is None:
        from gradcalc.lang import Session

        collect = printed if printed is not None else []
        session = Session(write=collect.append)
    else:
        collect = printed if printed is not None else []
    result = EvalResult(expr)
    result.inputs = bind_inputs(session, at, wrt, device)
    has_value, value, echoed = run_statements(session, expr, result.inputs)
    result.output = "".join(collect) + echoed
    result.has_value, result.value = has_value, value
    if not no_grad:
        if isinstance(grad_output, str):
            grad_output = session.evaluate(grad_output, "--grad-output")
        d = derivatives(value, result.inputs, grad_output=grad_output, hessian=hessian,
                        max_jacobian=max_jacobian)
        result.kind, result.derivatives = d.kind, d.derivatives
        result.grad_output, result.hessians, result.note = d.grad_output, d.hessians, d.note
        if d.kind is None and d.note is None and result.inputs and has_value:
            result.note = "the value does not depend on the inputs through a graph: no derivatives"
    labels = session.labels() if (graph or trace) else {}
    if graph and has_value and is_tensor(value):
        result.graph = graph_model(value, labels)
    if trace and result.kind is not None:
        result.trace, result.leaf_grads = backward_trace(value, result.inputs, labels,
                                                         result.grad_output)
    return result
