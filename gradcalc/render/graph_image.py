"""Render layer: the backward graph as a picture (SVG, PNG, PDF through matplotlib).

The same model as the tree view (gradcalc.render.graph): grad_fn names, shapes, dtypes, the
script's variable names, saved values. Laid out in layers in pure Python (inputs on top, the
result at the bottom, as `graph --format dot` draws it), so no Graphviz binary is needed.
"""

from __future__ import annotations

import itertools

from gradcalc.render.graph import GraphModel, NodeView
from gradcalc.render.values import shape_str

FONT_SIZE = 9.0  # points
CHAR_WIDTH = 0.6 * FONT_SIZE  # DejaVu Sans Mono's advance is 0.6 em
LINE_HEIGHT = 1.3 * FONT_SIZE
PAD = 6.0
GAP_X = 18.0  # between boxes in a layer
GAP_Y = 34.0  # between layers
MAX_LINE = 44  # characters of a caption line (longer ones end with …)
MAX_SAVED_LINES = 6  # lines of one saved value

LEAF_FILL, RESULT_FILL, NODE_FILL, DUMMY = "#add8e6", "#caff70", "#ffffff", None


def caption(n: NodeView) -> list[str]:
    """The lines in a node's box: variable names, grad_fn name, shape and dtype, saved values."""
    lines = []
    if n.labels:
        lines.append(", ".join(n.labels))
    lines.append(n.name)
    meta = " ".join(x for x in (shape_str(n.shape) if n.shape is not None else None, n.dtype) if x)
    if meta:
        lines.append(meta)
    for name, text in n.saved:
        body = text.split("\n")
        shown = body[:MAX_SAVED_LINES] + (["…"] if len(body) > MAX_SAVED_LINES else [])
        lines.append(f"{name} = {shown[0]}")
        lines.extend("  " + line for line in shown[1:])
    return [line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…" for line in lines]


class Box:
    """A laid-out node (or a bend point of a long edge when `node` is None), centre (x, y)."""

    def __init__(self, node: NodeView | None, layer: int, width: float, height: float):
        self.node, self.layer, self.width, self.height = node, layer, width, height
        self.x = self.y = 0.0


class Layout:
    """Boxes by node index, each edge (input, user, input_nr, bend points), the size (points)."""

    def __init__(self, boxes: dict[int, Box], routes: list[tuple[int, int, int, list[Box]]],
                 width: float, height: float):
        self.boxes, self.routes, self.width, self.height = boxes, routes, width, height


def _layers(model: GraphModel) -> dict[int, int]:
    """Layer of each node: the longest path from the result (0), so inputs sit above users."""
    consumers: dict[int, list[int]] = {n.index: [] for n in model.nodes}
    indegree = {n.index: 0 for n in model.nodes}  # consumers not yet placed
    for a, b, _ in model.edges:
        consumers[a].append(b)
        indegree[a] += 1
    layer = {model.root: 0}
    ready = [i for i, d in indegree.items() if d == 0]
    order = []
    while ready:  # topological order from the result towards the leaves
        i = ready.pop()
        order.append(i)
        for c in model.nodes[i].children:
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    for i in order:
        for c in model.nodes[i].children:
            layer[c] = max(layer.get(c, 0), layer.get(i, 0) + 1)
    return layer


def layout(model: GraphModel) -> Layout:
    """Layered layout: long edges get bend points, barycentre sweeps order each layer."""
    if model.empty:
        return Layout({}, [], 0.0, 0.0)
    layer = _layers(model)
    boxes: dict[int, Box] = {}
    for n in model.nodes:
        lines = caption(n)
        boxes[n.index] = Box(n, layer[n.index], max(len(s) for s in lines) * CHAR_WIDTH + 2 * PAD,
                             len(lines) * LINE_HEIGHT + 2 * PAD)
    rows: dict[int, list[int]] = {}
    for i in sorted(boxes):  # preorder of the tree view: inputs in next_functions order
        rows.setdefault(boxes[i].layer, []).append(i)
    key = max(boxes) + 1
    routes = []
    up: dict[int, list[int]] = {i: [] for i in boxes}  # neighbours one layer up (inputs)
    down: dict[int, list[int]] = {i: [] for i in boxes}
    for a, b, nr in model.edges:
        chain = [b]
        bends = []
        for depth in range(boxes[b].layer + 1, boxes[a].layer):
            boxes[key] = Box(None, depth, 2.0, LINE_HEIGHT)
            rows[depth].append(key)
            up[key], down[key] = [], []
            bends.append(boxes[key])
            chain.append(key)
            key += 1
        chain.append(a)
        for lower, upper in itertools.pairwise(chain):
            up[lower].append(upper)
            down[upper].append(lower)
        routes.append((a, b, nr, bends))
    depth = max(rows)
    position = {i: k for r in rows.values() for k, i in enumerate(r)}
    for sweep in range(4):  # barycentre ordering, alternately from the result and the leaves
        layers = range(1, depth + 1) if sweep % 2 == 0 else range(depth - 1, -1, -1)
        for d in layers:
            near = down if sweep % 2 == 0 else up
            row = rows[d]
            bary = {i: (sum(position[j] for j in near[i]) / len(near[i]) if near[i]
                        else position[i]) for i in row}
            row.sort(key=lambda i: (bary[i], position[i]))
            for k, i in enumerate(row):
                position[i] = k
    _place_x(rows, boxes, up, down)
    heights = {d: max(boxes[i].height for i in rows[d]) for d in rows}
    y = 0.0
    for d in range(depth + 1):  # the result's layer at the bottom (y grows upwards)
        for i in rows[d]:
            boxes[i].y = y + heights[d] / 2
            if boxes[i].node is None:  # a bend runs straight through its layer's band
                boxes[i].height = heights[d]
        y += heights[d] + GAP_Y
    left = min(b.x - b.width / 2 for b in boxes.values())
    right = max(b.x + b.width / 2 for b in boxes.values())
    for b in boxes.values():
        b.x -= left
    real = {i: b for i, b in boxes.items() if b.node is not None}
    return Layout(real, routes, right - left, y - GAP_Y)


def _pack(row: list[int], boxes: dict[int, Box], want: dict[int, float]) -> None:
    """x as near `want` as the order and the gaps allow (the mean of a left and a right pass)."""
    n = len(row)
    sep = [(boxes[row[k]].width + boxes[row[k + 1]].width) / 2 + GAP_X for k in range(n - 1)]
    a = [want[i] for i in row]
    for k in range(1, n):
        a[k] = max(a[k], a[k - 1] + sep[k - 1])
    b = [want[i] for i in row]
    for k in range(n - 2, -1, -1):
        b[k] = min(b[k], b[k + 1] - sep[k])
    for k, i in enumerate(row):
        boxes[i].x = (a[k] + b[k]) / 2


def _place_x(rows, boxes, up, down) -> None:
    for row in rows.values():
        x = 0.0
        for i in row:
            boxes[i].x = x + boxes[i].width / 2
            x += boxes[i].width + GAP_X
        shift = x / 2
        for i in row:
            boxes[i].x -= shift
    depth = max(rows)
    for sweep in range(6):
        layers = range(depth + 1) if sweep % 2 == 0 else range(depth, -1, -1)
        for d in layers:
            row = rows[d]
            want = {}
            for i in row:
                near = up[i] + down[i]
                want[i] = (sum(boxes[j].x for j in near) / len(near)) if near else boxes[i].x
            _pack(row, boxes, want)


def graph_figure(model: GraphModel, title: str | None = None):
    """A matplotlib Figure of the graph: boxes (leaves blue, the result green), arrows to users."""
    from gradcalc.render.plot import matplotlib_style, require_matplotlib

    matplotlib, Figure = require_matplotlib()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    lay = layout(model)
    head = 2 * LINE_HEIGHT if title else 0.0
    margin = 10.0
    width = max(lay.width, len(title or "") * CHAR_WIDTH * 1.1, 60.0) + 2 * margin
    height = lay.height + head + 2 * margin
    with matplotlib_style(matplotlib):
        fig = Figure(figsize=(width / 72, height / 72))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-margin - (width - 2 * margin - lay.width) / 2,
                    lay.width + margin + (width - 2 * margin - lay.width) / 2)
        ax.set_ylim(-margin, lay.height + head + margin)
        ax.set_axis_off()
        if model.empty:
            ax.text(lay.width / 2, 0, "(no graph: the value does not require grad)",
                    ha="center", va="bottom", family="DejaVu Sans Mono", fontsize=FONT_SIZE)
        twins: dict[tuple[int, int], int] = {}
        for a, b, _, _ in lay.routes:
            twins[a, b] = twins.get((a, b), 0) + 1
        seen: dict[tuple[int, int], int] = {}
        for a, b, nr, bends in lay.routes:
            k = seen[a, b] = seen.get((a, b), -1) + 1
            shift = (k - (twins[a, b] - 1) / 2) * 8.0  # x * x: two arrows side by side
            _edge(ax, lay.boxes[a], lay.boxes[b], bends, FancyArrowPatch, f"{a}-{b}-{nr}", shift)
        for i, box in sorted(lay.boxes.items()):
            _node(ax, box, model.root, FancyBboxPatch)
        if title:
            ax.text(lay.width / 2, lay.height + head / 2 + margin / 2, title, ha="center",
                    va="center", family="DejaVu Sans Mono", fontsize=FONT_SIZE + 1,
                    color="#333333")
    return fig


def _node(ax, box: Box, root: int | None, FancyBboxPatch) -> None:
    n = box.node
    kind = "leaf" if n.leaf else ("result" if n.index == root else "op")
    fill = {"leaf": LEAF_FILL, "result": RESULT_FILL, "op": NODE_FILL}[kind]
    patch = FancyBboxPatch((box.x - box.width / 2, box.y - box.height / 2), box.width, box.height,
                           boxstyle=f"round,pad=0,rounding_size={6 if n.leaf else 2}",
                           facecolor=fill, edgecolor="#333333",
                           linewidth=1.8 if kind == "result" else 0.9, zorder=2)
    patch.set_gid(f"node-{n.index}-{kind}")
    ax.add_patch(patch)
    lines = caption(n)
    top = box.y + box.height / 2 - PAD - LINE_HEIGHT / 2
    for k, line in enumerate(lines):
        bold = bool(n.labels) and k == 0
        ax.text(box.x, top - k * LINE_HEIGHT, line, ha="center", va="center",
                family="DejaVu Sans Mono", fontsize=FONT_SIZE, zorder=3,
                fontweight="bold" if bold else "normal",
                color="#1a1a1a" if k <= (1 if n.labels else 0) else "#555555")


def _edge(ax, src: Box, dst: Box, bends: list[Box], FancyArrowPatch, gid: str,
          shift: float = 0.0) -> None:
    """From the input's bottom edge to the user's top edge, through the bend points."""
    points = [(src.x + shift, src.y - src.height / 2)]
    for b in reversed(bends):
        points += [(b.x + shift, b.y + b.height / 2), (b.x + shift, b.y - b.height / 2)]
    points.append((dst.x + shift, dst.y + dst.height / 2))
    for k, (p, q) in enumerate(itertools.pairwise(points)):
        last = k == len(points) - 2
        arrow = FancyArrowPatch(p, q, arrowstyle="-|>" if last else "-", mutation_scale=9,
                                color="#555555", linewidth=0.9, shrinkA=0, shrinkB=0, zorder=1)
        arrow.set_gid(f"edge-{gid}" if last else f"bend-{gid}-{k}")
        ax.add_patch(arrow)
