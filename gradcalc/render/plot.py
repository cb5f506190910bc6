"""Render layer: plots of sampled curves and fields — a terminal chart (plotext), the sampled
table as JSON, and SVG/PNG/PDF pictures (matplotlib). Pure functions of gradcalc.plotting's
results; plotext and matplotlib are imported only by the functions that draw with them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from gradcalc.errors import UsageError

#: the `plot` extra: `pip install 'gradcalc[plot]'`
EXTRA_HINT = "pip install 'gradcalc[plot]'"
FILE_FORMATS = ("svg", "png", "pdf")
#: one colour per curve (f, f′, f″, f‴): matplotlib's tab10 and plotext's names for them
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
TERMINAL_COLOURS = ("blue", "red", "green", "magenta")
CRITICAL_COLOUR = "#ff7f0e"
PLAIN_MARKERS = ("braille", "•", "·", "+")  # told apart without colour
GIDS = ("curve-f", "curve-df", "curve-d2f", "curve-d3f")


class MissingExtra(UsageError):
    """An optional dependency of the `plot` extra is not installed (exit code 2)."""


def require_matplotlib():
    """(matplotlib, its Figure class), or MissingExtra naming the extra to install."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra(f"gradcalc: error: plotting to files needs `{EXTRA_HINT}`") from None
    return matplotlib, Figure


def have_plotext() -> bool:
    """True when the terminal chart can be drawn (plotext is installed)."""
    try:
        import plotext  # noqa: F401
    except ImportError:
        return False
    return True


def file_format(path: str, option: str = "--output", allowed=FILE_FORMATS) -> str:
    """The picture format named by a file's extension (`f.svg` -> `svg`)."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if ext not in allowed:
        names = ", ".join(f".{a}" for a in allowed[:-1]) + f" or .{allowed[-1]}"
        raise UsageError(f"gradcalc: error: {option}: expected a {names} file, got {path!r}")
    return ext


# ---- numbers ------------------------------------------------------------------------------


def _finite(values) -> Any:
    import numpy as np

    v = np.asarray(values, dtype=np.float64).copy()
    v[~np.isfinite(v)] = np.nan
    return v


def y_limits(values: list) -> tuple[float, float] | None:
    """Y limits that keep spikes (1/x near 0) from flattening the rest; None: let it autoscale."""
    import numpy as np

    lows, highs, data = [], [], []
    for v in values:
        d = _finite(v).ravel()
        d = d[np.isfinite(d)]
        if d.size >= 10:
            lo, hi = np.percentile(d, [5, 95])
            lows.append(lo)
            highs.append(hi)
            data.append(d)
    if not data:
        return None
    lo, hi = float(min(lows)), float(max(highs))
    every = np.concatenate(data)
    span = hi - lo
    if span <= 0 or float(every.max() - every.min()) <= 10 * span:
        return None
    return lo - 0.3 * span, hi + 0.3 * span


def _shown(values, limits) -> Any:
    """Finite values, with those far outside the y limits dropped (so a pole breaks the line)."""
    v = _finite(values)
    if limits is not None:
        lo, hi = limits
        margin = hi - lo
        v[(v < lo - margin) | (v > hi + margin)] = float("nan")
    return v


def thin(x, y, limit: int = 4000):
    """About `limit` points of (x, y) for drawing: each bucket's lowest and highest (in order)
    and its first NaN, so peaks and gaps survive; shorter curves come back as they are."""
    import numpy as np

    n = len(x)
    if n <= limit:
        return x, y
    buckets = limit // 2
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep = []
    for a, b in itertools.pairwise(edges):
        part = y[a:b]
        lo = a + int(np.argmin(np.where(np.isnan(part), np.inf, part)))
        hi = a + int(np.argmax(np.where(np.isnan(part), -np.inf, part)))
        gap = np.flatnonzero(np.isnan(part))
        keep.extend(sorted({lo, hi} | ({a + int(gap[0])} if gap.size else set())))
    idx = np.asarray(keep)
    return x[idx], y[idx]


def _json_number(v: float):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(v)


def _json_list(arr) -> list:
    return [_json_number(float(v)) for v in arr.ravel()] if arr.ndim <= 1 else \
        [_json_list(row) for row in arr]


def curve_json(curve) -> dict:
    """The sampled table of a curve: `{"expression", "over", "points", "table", "critical"}`."""
    from gradcalc.plotting import CURVE_KEYS

    table = {curve.axis.name: _json_list(curve.x)}
    for key, values in zip(CURVE_KEYS, curve.values):
        table[key] = _json_list(values)
    return {
        "expression": curve.expression,
        "over": {curve.axis.name: [curve.axis.lo, curve.axis.hi]},
        "points": len(curve.x),
        "dtype": curve.dtype,
        "table": table,
        "critical": [{curve.axis.name: _json_number(c.x), "f": _json_number(c.f), "kind": c.kind}
                     for c in curve.critical],
    }


def field_json(field) -> dict:
    """The sampled grid of a field: f and its gradient, rows along the second input."""
    a, b = field.axes
    return {
        "expression": field.expression,
        "over": {a.name: [a.lo, a.hi], b.name: [b.lo, b.hi]},
        "points": [len(field.x), len(field.y)],
        "dtype": field.dtype,
        "grid": {a.name: _json_list(field.x), b.name: _json_list(field.y)},
        "f": _json_list(field.f),
        f"df/d{a.name}": _json_list(field.dx),
        f"df/d{b.name}": _json_list(field.dy),
    }


def curve_table(curve) -> str:
    """The sampled table as aligned plain text (one row per point)."""
    from gradcalc.plotting import CURVE_KEYS

    head = [curve.axis.name, *CURVE_KEYS[: len(curve.values)]]
    rows = [head] + [[f"{curve.x[i]:.6g}", *(f"{v[i]:.6g}" for v in curve.values)]
                     for i in range(len(curve.x))]
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


# ---- the terminal chart (plotext) ----------------------------------------------------------


def _segments(x, y):
    """Runs of finite points (plotext draws NaN as a jump to the axis)."""
    import numpy as np

    ok = np.isfinite(y)
    start = None
    for i, good in enumerate(ok):
        if good and start is None:
            start = i
        elif not good and start is not None:
            yield x[start:i], y[start:i]
            start = None
    if start is not None:
        yield x[start:], y[start:]


def curve_chart(curve, *, width: int = 80, height: int = 24, color: bool = True) -> str:
    """The curves as a terminal chart (legend, axes); without colour, markers tell them apart."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    limits = y_limits(curve.values)
    for k, (name, values) in enumerate(zip(curve.names, curve.values)):
        marker = "braille" if color else PLAIN_MARKERS[k]
        label: str | None = name
        for xs, ys in _segments(*thin(curve.x, _shown(values, limits), 4 * width)):
            plt.plot(list(map(float, xs)), list(map(float, ys)), label=label, marker=marker,
                     color=TERMINAL_COLOURS[k])
            label = None
    if curve.critical:
        plt.scatter([c.x for c in curve.critical], [c.f for c in curve.critical],
                    label="f′ = 0", marker="◆", color="orange")
    if limits is not None:
        plt.ylim(*limits)
    lo, hi = limits or _range(curve.values)
    if lo < 0 < hi:
        plt.horizontal_line(0, color="gray")
    plt.yticks(*_labelled(nice_ticks(lo, hi, max(2, height // 3))))
    plt.xticks(*_labelled(nice_ticks(curve.axis.lo, curve.axis.hi, max(2, width // 14))))
    plt.title(f"{curve.expression}   ({curve.axis.text}, {len(curve.x)} points)")
    plt.xlabel(curve.axis.name)
    text = plt.build()
    plt.clear_figure()
    if color:
        return text.rstrip("\n")
    return "\n".join(line.rstrip() for line in plt.uncolorize(text).split("\n")).rstrip("\n")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (steps of 1, 2 or 5 times a power of ten) in [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + 1e-9 * step:
        ticks.append(round(k * step, 12) + 0.0)
        k += 1
    return ticks


def _labelled(ticks: list[float]) -> tuple[list[float], list[str]]:
    return ticks, [f"{t:g}" for t in ticks]


def _range(values) -> tuple[float, float]:
    import numpy as np

    data = np.concatenate([_finite(v).ravel() for v in values])
    data = data[np.isfinite(data)]
    return (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)


# ---- pictures (matplotlib) -----------------------------------------------------------------


def matplotlib_style(matplotlib):
    """An rc_context of the rcParams that make the files the same on every run (ids, dates) and keep text as text."""
    return matplotlib.rc_context({
        "svg.hashsalt": "gradcalc",
        "svg.fonttype": "none",
        "font.family": "DejaVu Sans",
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def _metadata(fmt: str) -> dict:
    if fmt == "svg":
        return {"Date": None, "Creator": "gradcalc"}
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None, "Creator": "gradcalc", "Producer": None}
    return {"Software": "gradcalc"}


def save_figure(fig, path_or_file, fmt: str) -> None:
    """Write `fig` as svg, png or pdf, deterministically (no dates, fixed ids)."""
    matplotlib, _ = require_matplotlib()
    with matplotlib_style(matplotlib):
        fig.savefig(path_or_file, format=fmt, metadata=_metadata(fmt), dpi=110)


def curve_figure(curve):
    """f and its derivatives on one axes: titled with the expression, zeros of f′ marked."""
    matplotlib, Figure = require_matplotlib()
    with matplotlib_style(matplotlib):
        fig = Figure(figsize=(7.2, 4.5), layout="constrained")
        ax = fig.add_subplot()
        limits = y_limits(curve.values)
        for k, (name, values) in enumerate(zip(curve.names, curve.values)):
            (line,) = ax.plot(*thin(curve.x, _shown(values, limits)), color=COLOURS[k], lw=2 if k == 0 else 1.6,
                              ls="-" if k < 2 else "--", label=name)
            line.set_gid(GIDS[k])
        if curve.critical:
            xs = [c.x for c in curve.critical]
            marks = ax.plot(xs, [c.f for c in curve.critical], ls="none", marker="o", ms=7,
                            mfc=CRITICAL_COLOUR, mec="black", mew=0.8, zorder=5,
                            label="f′ = 0")[0]
            marks.set_gid("critical")
            for c in curve.critical[:8]:
                ax.axvline(c.x, color=CRITICAL_COLOUR, lw=0.8, ls=":", zorder=1)
                ax.annotate(f"{c.kind} {curve.axis.name}={c.x:.3g}", (c.x, c.f),
                            textcoords="offset points", xytext=(6, 8 if c.kind != "min" else -14),
                            fontsize=8, color="#555555")
        if limits is not None:
            ax.set_ylim(*limits)
        ax.axhline(0, color="#999999", lw=0.8, zorder=0)
        ax.set_xlim(curve.axis.lo, curve.axis.hi)
        ax.set_xlabel(curve.axis.name)
        ax.set_title(curve.expression, family="DejaVu Sans Mono")
        ax.grid(True, alpha=0.25)
        ax.legend(loc="best", frameon=False)
    return fig


def field_figure(field, path=None):
    """A contour map of f with its gradient as arrows; `path` (k, 2) overlays iterates."""
    import numpy as np

    matplotlib, Figure = require_matplotlib()
    a, b = field.axes
    with matplotlib_style(matplotlib):
        fig = Figure(figsize=(6.4, 5.2), layout="constrained")
        ax = fig.add_subplot()
        f = _finite(field.f)
        filled = ax.contourf(field.x, field.y, f, levels=20, cmap="viridis")
        filled.set_gid("contour")
        lines = ax.contour(field.x, field.y, f, levels=10, colors="white", linewidths=0.6,
                           alpha=0.7)
        lines.set_gid("contour-lines")
        fig.colorbar(filled, ax=ax, label="f")
        step = max(1, math.ceil(len(field.x) / 13))
        sx, sy = field.x[::step], field.y[::step]
        gx, gy = field.dx[::step, ::step], field.dy[::step, ::step]
        arrows = ax.quiver(sx, sy, gx, gy, color="white", alpha=0.85, pivot="mid",
                           angles="xy", width=0.004)
        arrows.set_gid("gradient")
        if path is not None:
            p = np.asarray(path, dtype=np.float64)
            (line,) = ax.plot(p[:, 0], p[:, 1], "-o", color=CRITICAL_COLOUR, ms=3.5, lw=1.4,
                              mec="black", mew=0.4, label=f"path ({len(p)} points)")
            line.set_gid("path")
            ax.plot(p[-1:, 0], p[-1:, 1], marker="*", ms=13, color=CRITICAL_COLOUR, mec="black",
                    mew=0.6, ls="none")
            ax.legend(loc="upper right", frameon=True)
        ax.set_xlim(a.lo, a.hi)
        ax.set_ylim(b.lo, b.hi)
        ax.set_xlabel(a.name)
        ax.set_ylabel(b.name)
        ax.set_aspect("auto")
        ax.set_title(f"{field.expression}   (arrows: ∇f)", family="DejaVu Sans Mono")
    return fig
