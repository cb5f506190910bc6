"""Render layer: the backward graph (grad_fn chain) as a model, plain text tree, DOT, Mermaid, JSON.

Nodes carry the grad_fn name, the output shape and dtype, and the names of the script
variables holding each node's result (from `Session.labels()`), which PyTorch's graph
viewers cannot know. Walking is iterative: deep graphs do not hit Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

from gradcalc.render.record import Record
from gradcalc.render.values import dtype_name, grad_fn_name, hanging, is_tensor, shape_str


class NodeView(Record):
    _fields = ("index", "name", "shape", "dtype", "labels", "saved", "leaf", "children", "refs")

    def __init__(self, index: int, name: str, shape: tuple | None, dtype: str | None,
                 labels: list[str] | None = None, saved: list[tuple[str, str]] | None = None,
                 leaf: bool = False, children: list[int] | None = None, refs: int = 0):
        self.index = index
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.labels = [] if labels is None else labels
        self.saved = [] if saved is None else saved
        self.leaf = leaf
        self.children = [] if children is None else children  # inputs, in next_functions order
        self.refs = refs  # how many edges point at this node (shared when > 1)
        #: the saved values themselves, beside their text (a terminal reprints them to fit)
        self.saved_values: list[Any] = []


class GraphModel(Record):
    _fields = ("nodes", "edges", "root")

    def __init__(self, nodes: list[NodeView], edges: list[tuple[int, int, int]],
                 root: int | None):
        self.nodes = nodes
        self.edges = edges  # (input node, consumer node, input_nr)
        self.root = root

    @property
    def empty(self) -> bool:
        return self.root is None


def _saved(node: Any) -> list[tuple[str, Any]]:
    return [(str(name), value) for name, value in node.saved_items()]


def _describe(obj: Any, index: int, labels: dict, with_saved: bool) -> NodeView:
    from gradcalc.core.autograd import AccumulateGrad

    if is_tensor(obj):  # a leaf tensor given as the root: no AccumulateGrad in front of it
        return NodeView(index, "AccumulateGrad", tuple(obj.shape), dtype_name(obj.dtype),
                        list(labels.get(id(obj), ())), leaf=True)
    if isinstance(obj, AccumulateGrad):
        variable = obj.variable
        return NodeView(index, grad_fn_name(obj), tuple(variable.shape), dtype_name(variable.dtype),
                        list(labels.get(id(variable), ())), leaf=True)
    saved = _saved(obj) if with_saved else []
    view = NodeView(index, grad_fn_name(obj), tuple(obj._shape), dtype_name(obj._dtype),
                    list(labels.get(id(obj), ())), [(name, repr(value)) for name, value in saved])
    view.saved_values = [value for _, value in saved]
    return view


def build_graph(root: Any, labels: dict | None = None, *, saved: bool = False) -> GraphModel:
    """The graph behind `root` (a tensor or a grad_fn node), nodes numbered in DFS preorder."""
    labels = labels or {}
    start = root
    if is_tensor(root):
        if root.grad_fn is not None:
            start = root.grad_fn
        elif not root.requires_grad:
            return GraphModel([], [], None)
    nodes: list[NodeView] = []
    edges: list[tuple[int, int, int]] = []
    index: dict[int, int] = {}
    keep: list[Any] = []  # keeps objects alive so id() stays unique during the walk

    def visit(obj: Any) -> tuple[int, bool]:
        key = id(obj)
        if key in index:
            return index[key], False
        view = _describe(obj, len(nodes), labels, saved)
        index[key] = view.index
        nodes.append(view)
        keep.append(obj)
        return view.index, True

    root_index, _ = visit(start)
    stack = [start]
    while stack:
        obj = stack.pop()
        me = index[id(obj)]
        fresh_children = []
        for child, input_nr in () if is_tensor(obj) else obj.next_functions:
            if child is None:
                continue
            ci, fresh = visit(child)
            nodes[me].children.append(ci)
            nodes[ci].refs += 1
            edges.append((ci, me, int(input_nr)))
            if fresh:
                fresh_children.append(child)
        stack.extend(reversed(fresh_children))
    # Renumber in preorder of the tree walk (children in input order) for stable output.
    order: list[int] = []
    seen: set[int] = set()
    todo = [root_index]
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        order.append(i)
        todo.extend(reversed([c for c in nodes[i].children if c not in seen]))
    remap = {old: new for new, old in enumerate(order)}
    renumbered = []
    for old in order:
        n = nodes[old]
        n.index = remap[old]
        n.children = [remap[c] for c in n.children]
        renumbered.append(n)
    edges = [(remap[a], remap[b], k) for a, b, k in edges]
    return GraphModel(renumbered, edges, 0)


def _shared_tags(model: GraphModel) -> dict[int, int]:
    tags: dict[int, int] = {}
    for n in model.nodes:
        if n.refs > 1:
            tags[n.index] = len(tags) + 1
    return tags


def node_caption(n: NodeView, tag: int | None = None) -> str:
    """`z = MulBackward0  (2, 3) float32` (labels first; `#k` marks a shared node)."""
    head = "".join(f"{label} = " for label in n.labels) + n.name
    if tag is not None:
        head += f" #{tag}"
    meta = []
    if n.shape is not None:
        meta.append(shape_str(n.shape))
    if n.dtype is not None:
        meta.append(n.dtype)
    return head + ("  " + " ".join(meta) if meta else "")


def tree_rows(model: GraphModel) -> list[tuple[int, int, bool, bool]]:
    """(depth, node index, is_reference, is_last_sibling) rows of the tree, top to bottom."""
    rows: list[tuple[int, int, bool, bool]] = []
    if model.empty:
        return rows
    shown: set[int] = set()
    stack = [(0, model.root, True)]
    while stack:
        depth, i, last = stack.pop()
        ref = i in shown
        rows.append((depth, i, ref, last))
        if ref:
            continue
        shown.add(i)
        kids = model.nodes[i].children
        for k, c in reversed(list(enumerate(kids))):
            stack.append((depth + 1, c, k == len(kids) - 1))
    return rows


def graph_text(model: GraphModel) -> str:
    """The graph as a plain text tree; a shared node is drawn once and referenced after."""
    if model.empty:
        return "(no graph: the value does not require grad)"
    tags = _shared_tags(model)
    lines: list[str] = []
    segs: list[str] = [""]  # segs[d]: what a row at depth d leaves for the rows below it
    for depth, i, ref, last in tree_rows(model):
        n = model.nodes[i]
        del segs[depth:]
        above = "".join(segs[1:depth])
        lead = above + ("└── " if last else "├── ") if depth else ""
        segs.append(("    " if last else "│   ") if depth else "")
        if ref:
            lines.append(lead + "".join(f"{x} = " for x in n.labels) + f"{n.name} #{tags.get(i, '?')} (see above)")
            continue
        lines.append(lead + node_caption(n, tags.get(i)))
        under = "".join(segs[1 : depth + 1]) + ("│   " if n.children else "    ")
        for name, text in n.saved:
            lines.append(hanging(under + f"saved {name} = ", text))
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _caption_lines(n: NodeView) -> list[str]:
    lines = []
    if n.labels:
        lines.append(", ".join(n.labels))
    lines.append(n.name)
    meta = " ".join(x for x in (shape_str(n.shape) if n.shape is not None else None, n.dtype) if x)
    if meta:
        lines.append(meta)
    for name, text in n.saved:
        lines.append(f"{name} = {text}")
    return lines


def graph_dot(model: GraphModel) -> str:
    """Graphviz DOT, ready for `dot -Tsvg` (inputs above, the result at the bottom)."""
    out = ["digraph gradcalc {", '  node [shape=box, style=filled, fillcolor=white, fontname="monospace"];']
    for n in model.nodes:
        attrs = [f'label="{_dot_escape(chr(10).join(_caption_lines(n)))}"']
        if n.leaf:
            attrs.append("fillcolor=lightblue")
        elif n.index == model.root:
            attrs.append("fillcolor=darkolivegreen1")
        out.append(f"  n{n.index} [{', '.join(attrs)}];")
    for a, b, _ in model.edges:
        out.append(f"  n{a} -> n{b};")
    out.append("}")
    return "\n".join(out)


def _mermaid_escape(text: str) -> str:
    for a, b in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(a, b)
    return text


def graph_mermaid(model: GraphModel) -> str:
    """A Mermaid flowchart (renders on GitHub inside a ```mermaid block)."""
    out = ["flowchart TB"]
    for n in model.nodes:
        label = "<br/>".join(_mermaid_escape(line) for line in _caption_lines(n))
        out.append(f'  n{n.index}(["{label}"])' if n.leaf else f'  n{n.index}["{label}"]')
    for a, b, _ in model.edges:
        out.append(f"  n{a} --> n{b}")
    leaves = [f"n{n.index}" for n in model.nodes if n.leaf]
    if leaves:
        out.append("  classDef leaf fill:#add8e6,stroke:#333")
        out.append(f"  class {','.join(leaves)} leaf")
    # the result, coloured as in DOT (darkolivegreen1); a leaf result stays a leaf
    if any(n.index == model.root and not n.leaf for n in model.nodes):
        out.append("  classDef result fill:#caff70,stroke:#333,stroke-width:2px")
        out.append(f"  class n{model.root} result")
    return "\n".join(out)


def graph_json(model: GraphModel) -> dict:
    """`{"root", "nodes": [...], "edges": [...]}` for machines."""
    return {
        "root": model.root,
        "nodes": [
            {
                "id": n.index,
                "name": n.name,
                "shape": list(n.shape) if n.shape is not None else None,
                "dtype": n.dtype,
                "labels": n.labels,
                "leaf": n.leaf,
                **({"saved": dict(n.saved)} if n.saved else {}),
            }
            for n in model.nodes
        ],
        "edges": [{"from": a, "to": b, "input_nr": k} for a, b, k in model.edges],
    }
