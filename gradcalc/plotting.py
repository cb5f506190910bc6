"""API layer: the samples behind a plot — f and its derivatives over a grid, by gradcalc's autograd.

One vectorised forward over every point and one backward per derivative order (create_graph for
the higher ones), checked to be elementwise; no finite differences. Rendering is gradcalc.render.plot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from gradcalc.errors import GradcalcError, LimitError, UsageError

#: display names of f and its derivatives, and their ASCII spelling (JSON keys)
CURVE_NAMES = ("f", "f′", "f″", "f‴")
CURVE_KEYS = ("f", "f'", "f''", "f'''")
MAX_ORDER = 3
DEFAULT_POINTS = 200  # one input
DEFAULT_GRID = 41  # per axis, two inputs

_AXIS = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _usage(message: str) -> UsageError:
    return UsageError(f"gradcalc: error: {message}")


class NotElementwise(GradcalcError):
    """f's value at a point depends on other points of the sweep (or f is not one number each)."""


class Axis:
    """One swept input: `name` from `lo` to `hi`."""

    def __init__(self, name: str, lo: float, hi: float):
        self.name, self.lo, self.hi = name, lo, hi

    def __repr__(self) -> str:
        return f"Axis({self.name!r}, {self.lo!r}, {self.hi!r})"

    def __eq__(self, other):
        if not isinstance(other, Axis):
            return NotImplemented
        return (self.name, self.lo, self.hi) == (other.name, other.lo, other.hi)

    __hash__ = None  # type: ignore[assignment]

    @property
    def text(self) -> str:
        return f"{self.name}={_num(self.lo)}:{_num(self.hi)}"


def _num(v: float) -> str:
    return f"{v:.6g}"


def parse_over(text: str, evaluate: Callable[[str], Any] | None = None,
               option: str = "--over") -> list[Axis]:
    """`x=-3:3` or `x=-2:2,y=-2:2` -> axes; bounds are numbers or, with `evaluate`, expressions."""
    starts = [m.start() for m in re.finditer(r"(?:^|,)\s*[A-Za-z_][A-Za-z0-9_]*\s*=", text)]
    if not starts or starts[0] != 0:
        raise _usage(f"{option}: expected NAME=A:B, got {text.strip()!r}")
    chunks = [text[a:b].lstrip(",") for a, b in zip(starts, starts[1:] + [len(text)])]
    axes: list[Axis] = []
    for chunk in chunks:
        m = _AXIS.match(chunk)
        lo_text, colon, hi_text = chunk[m.end():].partition(":")
        if not colon or not lo_text.strip() or not hi_text.strip():
            raise _usage(f"{option}: expected NAME=A:B, got {chunk.strip()!r}")
        name = m.group(1)
        lo, hi = (_bound(t, evaluate, option, name) for t in (lo_text, hi_text))
        if not lo < hi:
            raise _usage(f"{option}: the range {name}={lo_text.strip()}:{hi_text.strip()} has "
                             "no points (A must be less than B)")
        if any(a.name == name for a in axes):
            raise _usage(f"{option}: {name} is swept twice")
        axes.append(Axis(name, lo, hi))
    if len(axes) > 2:
        raise _usage(f"{option}: at most two inputs can be swept, got {len(axes)}")
    return axes


def _bound(text: str, evaluate, option: str, name: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        if evaluate is None:
            raise _usage(f"{option}: {name}: expected a number, got {text!r}") from None
        try:
            value = evaluate(text)
        except GradcalcError as e:
            if e.source in (None, "<input>", "<expr>"):
                e.source = f"{option} {name}"
            raise
        try:
            value = _scalar(value)
        except (TypeError, ValueError, GradcalcError):
            raise _usage(f"{option}: {name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _usage(f"{option}: {name}: the bound {text!r} is not finite")
    return value


class Critical:
    """A zero of f′: where, f there (interpolated between samples), and `max`, `min` or `flat`."""

    def __init__(self, x: float, f: float, kind: str):
        self.x, self.f, self.kind = x, f, kind

    def __repr__(self) -> str:
        return f"Critical(x={self.x!r}, f={self.f!r}, kind={self.kind!r})"


class Curve:
    """f and its derivatives sampled over one axis (NumPy float64 arrays, `values[k]` = k-th)."""

    def __init__(self, expression: str, axis: Axis, x, values: list, critical: list[Critical],
                 dtype: str):
        self.expression, self.axis, self.x, self.values = expression, axis, x, values
        self.critical, self.dtype = critical, dtype

    @property
    def order(self) -> int:
        return len(self.values) - 1

    @property
    def names(self) -> tuple[str, ...]:
        return CURVE_NAMES[: len(self.values)]


class Field:
    """f and its gradient on a grid: `f`, `dx`, `dy` have shape (len(y), len(x))."""

    def __init__(self, expression: str, axes: list[Axis], x, y, f, dx, dy, dtype: str):
        self.expression, self.axes = expression, axes
        self.x, self.y, self.f, self.dx, self.dy, self.dtype = x, y, f, dx, dy, dtype


def sample(f: Callable, axes: list[Axis], *, points: int | None = None, order: int = 1,
           expression: str = "f", dtype=None, max_elements: int = 2**26) -> Curve | Field:
    """Sample `f(x)` (one axis: f and `order` derivatives) or `f(x, y)` (two: f and its gradient).

    `f` takes one tensor per axis (all points at once) and returns a tensor of the same shape.
    """
    if not 1 <= len(axes) <= 2:
        raise _usage(f"plot: sweep one or two inputs, got {len(axes)}")
    if points is None:
        points = DEFAULT_POINTS if len(axes) == 1 else DEFAULT_GRID
    if points < 2:
        raise _usage(f"--points: a range needs at least 2 points, got {points}")
    total = points ** len(axes)
    if total > max_elements:
        raise LimitError(f"the grid would have {total:,} points, over the limit of "
                         f"{max_elements:,}", limit="max_elements")
    if len(axes) == 1:
        if not 0 <= order <= MAX_ORDER:
            raise _usage(f"--order: expected 0 to {MAX_ORDER}, got {order}")
        return _curve(f, axes[0], points, order, expression, dtype)
    return _field(f, axes, points, expression, dtype)


def _torch():
    import gradcalc

    return gradcalc


def _grid(axis: Axis, points: int, dtype):
    return _torch().linspace(axis.lo, axis.hi, points, dtype=dtype)


def _numpy(t) -> Any:
    import numpy as np

    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


def _evaluate(f, args, what: str):
    g = _torch()
    out = f(*args)
    if isinstance(out, bool) or not isinstance(out, (g.Tensor, int, float)):
        raise NotElementwise(f"{what} must be a number or a tensor, got {type(out).__name__}")
    if not isinstance(out, g.Tensor):
        out = g.tensor(float(out), dtype=args[0].dtype)
    if not out.dtype.is_floating_point:
        out = out.to(args[0].dtype)
    return out


def _per_point(out, grid_shape: tuple, names: list[str], leaves) -> Any:
    """`out` as one value per point: a constant (one element, no graph to the inputs) broadcasts."""
    shape = tuple(out.shape)
    if shape == grid_shape:
        return out
    if out.numel() == 1 and not _depends(out, leaves):
        return out.reshape(()).expand(grid_shape)
    if len(names) == 2:
        raise NotElementwise(
            f"f must give one number per point ({', '.join(names)}): on a "
            f"{grid_shape[1]}x{grid_shape[0]} grid it gave shape {tuple(shape)} (a plot of two "
            "inputs needs a scalar f)")
    raise NotElementwise(
        f"f is not elementwise in {names[0]}: {grid_shape[0]} points gave shape {tuple(shape)} "
        f"(expected ({grid_shape[0]},), one value per point)")


def _depends(out, leaves) -> bool:
    if not out.requires_grad:
        return False
    grads = _torch().autograd.grad(out.sum(), leaves, retain_graph=True, allow_unused=True)
    return any(gr is not None for gr in grads)


def _grads(out, leaves, seed, create_graph: bool):
    g = _torch()
    if not out.requires_grad:
        return [g.zeros_like(x) for x in leaves]
    gs = g.autograd.grad(out, leaves, seed, retain_graph=True, create_graph=create_graph,
                         allow_unused=True)
    return [g.zeros_like(x) if gr is None else gr for gr, x in zip(gs, leaves)]


def _check_diagonal(out, leaves, first, names: list[str]) -> None:
    """A random seed v must give v * f′ (a diagonal Jacobian), else f mixes the points."""
    import numpy as np

    g = _torch()
    if not out.requires_grad:
        return
    rng = np.random.default_rng(0)
    v = g.tensor(rng.uniform(0.5, 1.5, tuple(out.shape)), dtype=out.dtype)
    probe = _grads(out, leaves, v, False)
    vv = _numpy(v)
    for name, got, want in zip(names, probe, first):
        a, b = _numpy(got), _numpy(want) * vv
        scale = np.nanmax(np.abs(b[np.isfinite(b)]), initial=0.0)
        tol = 1e-3 if out.dtype == g.float32 else 1e-9
        if not np.allclose(a, b, rtol=tol, atol=tol * max(scale, 1e-30), equal_nan=True):
            raise NotElementwise(
                f"f is not elementwise in {name}: the derivative at one point depends on other "
                "points (a sum, mean, cumsum, sort or indexing across the sweep?)")


def _check_probe(f, axes: list[Axis], grids, out, what: str) -> None:
    """f at two of the points, alone, must give the values it gave there in the full sweep."""
    import numpy as np

    g = _torch()
    flat = [x.reshape(-1) for x in grids]
    n = flat[0].numel()
    picks = [n // 3, n - 1]  # asymmetric: a mean or a sum over them differs from the sweep's
    args = [x.detach()[picks].clone() for x in flat]
    try:
        with g.no_grad():
            alone = _evaluate(f, args, what)
    except GradcalcError as e:
        raise NotElementwise(
            f"f is not elementwise in {' and '.join(a.name for a in axes)}: at two points "
            f"alone it fails ({e.message})") from None
    full = _numpy(out).reshape(-1)[picks]
    got = np.broadcast_to(_numpy(alone), full.shape) if alone.numel() in (1, 2) else None
    tol = 1e-4 if out.dtype == g.float32 else 1e-10
    if got is None or not np.allclose(got, full, rtol=tol, atol=tol, equal_nan=True):
        raise NotElementwise(
            f"f is not elementwise in {' and '.join(a.name for a in axes)}: its value at a point "
            "depends on the other points of the sweep (or on random numbers)")


def _curve(f, axis: Axis, points: int, order: int, expression: str, dtype) -> Curve:
    g = _torch()
    x = _grid(axis, points, dtype).requires_grad_(True)
    out = _per_point(_evaluate(f, [x], "f"), (points,), [axis.name], [x])
    derivs = [out]
    seed = g.ones_like(out)
    if order >= 1:
        first = _grads(out, [x], seed, create_graph=order >= 2)
        _check_diagonal(out, [x], first, [axis.name])
        derivs.append(first[0])
        for k in range(2, order + 1):
            derivs.append(_grads(derivs[-1], [x], seed, create_graph=k < order)[0])
    _check_probe(f, [axis], [x], out, "f")
    xs = _numpy(x)
    values = [_numpy(d) for d in derivs]
    critical = critical_points(xs, values[0], values[1]) if order >= 1 else []
    return Curve(expression, axis, xs, values, critical, x.dtype.name)


def _field(f, axes: list[Axis], points: int, expression: str, dtype) -> Field:
    g = _torch()
    xs, ys = _grid(axes[0], points, dtype), _grid(axes[1], points, dtype)
    shape = (points, points)
    gx = xs.reshape(1, points).expand(shape).clone().requires_grad_(True)
    gy = ys.reshape(points, 1).expand(shape).clone().requires_grad_(True)
    names = [axes[0].name, axes[1].name]
    out = _per_point(_evaluate(f, [gx, gy], "f"), shape, names, [gx, gy])
    dx, dy = _grads(out, [gx, gy], g.ones_like(out), False)
    _check_diagonal(out, [gx, gy], [dx, dy], names)
    _check_probe(f, axes, [gx, gy], out, "f")
    return Field(expression, axes, _numpy(xs), _numpy(ys), _numpy(out), _numpy(dx), _numpy(dy),
                 gx.dtype.name)


def critical_points(x, f, d1) -> list[Critical]:
    """Zeros of f′ between samples (sign changes, linearly interpolated) and isolated exact zeros."""
    out: list[Critical] = []
    n = len(x)
    for i in range(n):
        a = d1[i]
        if a == 0:
            left = d1[i - 1] if i > 0 else math.nan
            right = d1[i + 1] if i + 1 < n else math.nan
            if left == 0 or right == 0 or (math.isnan(left) and math.isnan(right)):
                continue  # flat stretch or a lone sample: no isolated zero
            out.append(Critical(float(x[i]), float(f[i]), _kind(left, right)))
        elif i + 1 < n and d1[i + 1] != 0 and a * d1[i + 1] < 0:
            b = d1[i + 1]
            t = a / (a - b)
            out.append(Critical(float(x[i] + t * (x[i + 1] - x[i])),
                                float(f[i] + t * (f[i + 1] - f[i])), _kind(a, b)))
    return out


def _kind(before: float, after: float) -> str:
    if before > 0 > after:
        return "max"
    if before < 0 < after:
        return "min"
    return "flat"


def expression_function(session, expr: str, names: list[str]) -> Callable:
    """A callable of the swept names that runs EXPR in `session` (its names restored after).

    EXPR may hold several statements separated by ';'; the last one's value is f.
    """
    from gradcalc.lang import NO_ECHO

    def f(*tensors):
        ns = session.namespace
        saved = dict(ns)
        echo, session.echo = session.echo, False
        try:
            ns.update(zip(names, tensors))
            value, has_value = None, False
            for stmt in session.statements(expr, "<expr>"):
                v = session.execute(stmt)
                if v is not NO_ECHO and v is not None:
                    value, has_value = v, True
            if not has_value:
                raise _usage("plot: EXPR has no value to draw (end it with an expression)")
            return value
        finally:
            session.echo = echo
            ns.clear()
            ns.update(saved)

    return f


def plot_expression(session, expr: str, over: str, *, points: int | None = None,
                    order: int | None = None, bound=()) -> Curve | Field:
    """Sample EXPR over `over` (`x=-3:3` or `x=-2:2,y=-2:2`) with `session`'s other names.

    `bound` names the inputs given fixed values (`--at`): sweeping one of them is an error.
    """
    axes = parse_over(over, session.evaluate)
    for a in axes:
        if a.name in bound:
            raise _usage(f"--over: {a.name} is also bound with --at; sweep it or bind it")
    if len(axes) == 2 and order not in (None, 1):
        raise _usage("--order: a plot of two inputs shows f and its gradient (no --order)")
    f = expression_function(session, expr, [a.name for a in axes])
    try:
        return sample(f, axes, points=points, order=1 if order is None else order,
                      expression=expr, max_elements=session.limits.max_elements)
    except NotElementwise as e:
        if e.source is None and e.line is None:
            e.source = "<expr>"
        raise
    except LimitError as e:
        raise e.add_hint(session.limits.hints.get(e.limit)) from None


def path_points(value) -> Any:
    """A path of iterates as a (k, 2) float64 array: a tensor or list of (x, y) pairs."""
    import numpy as np

    g = _torch()
    if isinstance(value, g.Tensor):
        arr = _numpy(value)
    elif isinstance(value, (list, tuple)):
        try:
            arr = np.asarray([[_scalar(v) for v in p] for p in value], dtype=np.float64)
        except (TypeError, ValueError):
            raise _usage("--path: the script's last value must be a list of (x, y) "
                             "points") from None
    else:
        raise _usage(f"--path: the script's last value must be a list of (x, y) points or a "
                         f"(k, 2) tensor, got {type(value).__name__}")
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise _usage(f"--path: the script's last value must have shape (k, 2), got "
                         f"{tuple(arr.shape)}")
    return arr


def _scalar(v) -> float:
    return float(v.item()) if isinstance(v, _torch().Tensor) else float(v)


def run_path_script(session, text: str, source: str):
    """Run a script in `session`; the value of its last bare expression (the path's points)."""
    from gradcalc.lang import NO_ECHO

    value, has_value = None, False
    for stmt in session.statements(text, source):
        v = session.execute(stmt)
        if stmt.expr is not None and v is not NO_ECHO and v is not None:
            value, has_value = v, True
    if not has_value:
        raise _usage(f"--path: {source} must end with an expression giving the points, as "
                         "in a last line `path`")
    return value
