"""Render layer: Rich renderables for a terminal (values, grad_fn tree, backward trace) that
fit the width they are given and never hide data. User text is always `Text`, never markup.

A value is printed at the width it gets: a tensor is reprinted by PyTorch's own algorithm at
that line width (its rows wrap between elements, as PyTorch wraps them), and a line that is
still too wide is folded with FOLD at the break. Nothing is cropped.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len, get_character_cell_size
from rich.console import Group
from rich.measure import Measurement
from rich.text import Text
from rich.tree import Tree

from gradcalc.render.graph import GraphModel, _shared_tags, tree_rows
from gradcalc.render.report import KIND_TITLES, EvalResult, TraceStep, _d, _d2
from gradcalc.render.values import dtype_name, is_tensor, shape_str

#: ends a piece of a line folded at the edge (its rest is on the next line)
FOLD = "↩"
#: the narrowest a tensor is reprinted at (PyTorch's algorithm needs room for one element)
MIN_LINEWIDTH = 16
#: a value goes under its caption, indented by this much, when it does not fit beside it
UNDER = 2


def _widest(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _cuts(line: str, width: int) -> list[int]:
    """Offsets at which `line` is cut so that each piece, with FOLD, fits `width` cells: after
    the piece's last space when there is one in its second half, else at the edge."""
    cuts: list[int] = []
    start = 0
    while cell_len(line[start:]) > width:
        cells, end = 0, start
        while end < len(line) and cells + get_character_cell_size(line[end]) <= width - 1:
            cells += get_character_cell_size(line[end])
            end += 1
        end = max(end, start + 1)
        space = line.rfind(" ", start, end)
        if space >= 0 and cell_len(line[start:space + 1]) > (width - 1) // 2:
            end = space + 1
        cuts.append(end)
        start = end
    return cuts


def fold(text: str, width: int) -> list[str]:
    """The lines of `text`, each longer than `width` cells cut into pieces that end in FOLD."""
    width = max(width, 2)
    out: list[str] = []
    for line in text.split("\n"):
        pieces = Text(line).divide(_cuts(line, width)) if cell_len(line) > width else [line]
        out.extend(str(p) + FOLD for p in pieces[:-1])
        out.append(str(pieces[-1]))
    return out


def fold_text(text: Text, width: int) -> list[Text]:
    """A styled one-line Text cut as `fold` cuts it (styles kept)."""
    if text.cell_len <= max(width, 2):
        return [text]
    pieces = list(text.divide(_cuts(text.plain, max(width, 2))))
    for piece in pieces[:-1]:
        piece.append(FOLD, style="dim")
    return pieces


def value_text(value: Any, width: int) -> str:
    """repr(value), reprinted with a narrower line width while a line of it is wider than
    `width` (tensors inside lists and modules too)."""
    text = "None" if value is None else repr(value)
    if _widest(text) <= width or not _holds_tensor(value):
        return text
    from gradcalc.core.printing import get_printoptions, printoptions

    opts = get_printoptions()
    linewidth = min(width, opts["linewidth"])
    while True:  # PyTorch's lines can pass the line width by a closing bracket or two
        with printoptions(**{**opts, "linewidth": max(linewidth, MIN_LINEWIDTH)}):
            text = repr(value)
        if _widest(text) <= width or linewidth <= MIN_LINEWIDTH:
            return text
        linewidth -= 2


def _holds_tensor(value: Any) -> bool:
    if is_tensor(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_tensor(v) for v in value[:1000])
    if isinstance(value, dict):
        return any(_holds_tensor(v) for v in list(value.values())[:1000])
    return type(value).__module__.startswith("gradcalc.")  # a module, an optimizer ...


class Fitted:
    """A value (or text) drawn in the width Rich gives it: reprinted to fit, then folded."""

    def __init__(self, value: Any = None, *, text: str | None = None, style: str = ""):
        self.value, self.text, self.style = value, text, style

    def lines(self, width: int) -> list[str]:
        """The lines this draws in `width` cells."""
        text = self.text if self.text is not None else value_text(self.value, width)
        return fold(text, width)

    def natural(self) -> str:
        return self.text if self.text is not None else ("None" if self.value is None
                                                         else repr(self.value))

    def __rich_console__(self, console, options):
        yield Text("\n".join(self.lines(options.max_width)), style=self.style, no_wrap=True,
                   overflow="ignore")

    def __rich_measure__(self, console, options):
        widest = _widest(self.natural())
        return Measurement(min(widest, MIN_LINEWIDTH), min(widest, options.max_width))


class Hanging:
    """`caption` then a value: beside it with the value's later lines under its first
    character when it fits there, else on the lines below, indented by UNDER."""

    def __init__(self, caption: Text, value: Fitted):
        self.caption, self.value = caption, value

    def lines(self, width: int) -> list[Text]:
        """The lines this draws in `width` cells, as styled Text."""
        lead = self.caption.cell_len
        if lead + _widest(self.value.natural()) <= width:
            body = self.value.lines(width - lead)
            first = self.caption.copy()
            first.append(body[0], style=self.value.style)
            return [first] + [Text(" " * lead + b, style=self.value.style) for b in body[1:]]
        caption = self.caption.copy()
        caption.rstrip()
        pad = min(UNDER, max(width - MIN_LINEWIDTH, 0))
        return fold_text(caption, width) + [Text(" " * pad + b, style=self.value.style)
                                            for b in self.value.lines(width - pad)]

    def __rich_console__(self, console, options):
        yield Text("\n", no_wrap=True, overflow="ignore").join(self.lines(options.max_width))

    def __rich_measure__(self, console, options):
        widest = self.caption.cell_len + _widest(self.value.natural())
        return Measurement(min(widest, options.max_width), min(widest, options.max_width))


def _caption(text: str, style: str) -> Text:
    return Text(text, style=style)


def _node_text(name: str, labels: list[str], shape, dtype, tag: int | None = None) -> Text:
    t = Text(overflow="fold")
    for label in labels:
        t.append(label, style="bold green")
        t.append(" = ")
    t.append(name, style="bold cyan" if name != "AccumulateGrad" else "bold blue")
    if tag is not None:
        t.append(f" #{tag}", style="magenta")
    meta = " ".join(x for x in (shape_str(shape) if shape is not None else None, dtype) if x)
    if meta:
        t.append("  " + meta, style="dim")
    return t


def graph_tree(model: GraphModel) -> Any:
    """The grad_fn graph as a `rich.tree.Tree` (shared nodes drawn once, then referenced)."""
    if model.empty:
        return Text("(no graph: the value does not require grad)", style="dim")
    tags = _shared_tags(model)
    root: Tree | None = None
    at_depth: list[Tree] = []
    for depth, i, ref, _last in tree_rows(model):
        n = model.nodes[i]
        if ref:
            label = Text("".join(f"{x} = " for x in n.labels)
                         + f"{n.name} #{tags.get(i, '?')} (see above)", style="dim italic",
                         overflow="fold")
        else:
            label = _node_text(n.name, n.labels, n.shape, n.dtype, tags.get(i))
        if depth == 0:
            root = Tree(label, guide_style="dim")
            node = root
        else:
            node = at_depth[depth - 1].add(label)
        del at_depth[depth:]
        at_depth.append(node)
        if not ref:
            values = n.saved_values or [None] * len(n.saved)
            for (name, text), value in zip(n.saved, values):
                shown = Fitted(value) if n.saved_values else Fitted(text=text)
                node.add(Hanging(_caption(f"saved {name} = ", "yellow"), shown))
    return root


def trace_tree(steps: list[TraceStep], leaf_grads: dict[str, Any]) -> Any:
    """The backward pass in engine order, one branch per node run."""
    tree = Tree(Text("backward pass (engine order)", style="bold"), guide_style="dim")
    for k, s in enumerate(steps, 1):
        branch = tree.add(Text(f"{k}. ") + _node_text(s.name, s.labels, s.shape, s.dtype))
        for g in s.grads_in:
            branch.add(Hanging(_caption("grad in: ", "yellow"), Fitted(g)))
        for e in s.edges:
            caption = Text("→ ", style="dim") + Text(e.target, style="cyan") + Text(": ")
            if e.formula:
                caption += Text(e.formula, style="italic") + Text(" = ")
            branch.add(Hanging(caption, Fitted(e.grad)))
        if s.leaf:
            name = s.labels[0] if s.labels else "leaf"
            branch.add(Hanging(_caption(f"{name}.grad = ", "bold green"), Fitted(s.leaf_grad)))
    from gradcalc.render.report import unshown_leaf_grads

    rest = unshown_leaf_grads(steps, leaf_grads)
    if rest:
        leaves = tree.add(Text("leaf gradients", style="bold"))
        for name, g in rest.items():
            leaves.add(Hanging(_caption(f"{name}.grad = ", "bold green"), Fitted(g)))
    return tree


def _meta(value: Any) -> str:
    """`(2, 3) float32` for a tensor, the type's name for anything else."""
    if is_tensor(value):
        return f"{shape_str(value.shape)} {dtype_name(value.dtype)}"
    return type(value).__name__


class Section:
    """A titled list of named values: names and their shape/dtype (or type) aligned in columns,
    each value beside them when it fits, else on the lines below."""

    def __init__(self, title: str, rows: list[tuple[str, Any]]):
        self.title, self.rows = title, rows

    def __rich_console__(self, console, options):
        width = options.max_width
        name_w = max((cell_len(n) for n, _ in self.rows), default=0)
        meta_w = max((cell_len(_meta(v)) for _, v in self.rows), default=0)
        lines = [Text(self.title, style="bold", overflow="fold")]
        for name, value in self.rows:
            head = Text("  ")
            head.append(name + " " * (name_w - cell_len(name)), style="bold green")
            meta = _meta(value)
            head.append("  " + meta + " " * (meta_w - cell_len(meta)) + "  ", style="dim")
            fitted = Fitted(value)
            if head.cell_len + _widest(fitted.natural()) > width:
                head.rstrip()
            lines.extend(Hanging(head, fitted).lines(width))
        yield Text("\n", no_wrap=True, overflow="ignore").join(lines)


def eval_view(r: EvalResult) -> Group:
    """Everything `gradcalc eval` shows on a terminal, as one renderable."""
    parts: list[Any] = [Text(r.expression, style="bold", overflow="fold")]
    if r.inputs:
        parts.append(Section("inputs", list(r.inputs.items())))
    if r.output:
        parts.append(Fitted(text=r.output.rstrip("\n")))
    if r.has_value:
        parts.append(Text("value", style="bold"))
        parts.append(Fitted(r.value))
    if r.graph is not None:
        parts.append(Text("grad_fn graph", style="bold"))
        parts.append(graph_tree(r.graph))
    if r.kind:
        rows = [(_d(name), g) for name, g in r.derivatives.items()]
        if r.kind == "vjp":
            rows.insert(0, ("grad_output", r.grad_output))
        parts.append(Section(KIND_TITLES[r.kind], rows))
    if r.hessians:
        parts.append(Section("hessians", [(_d2(a, b), h) for a, row in r.hessians.items()
                                          for b, h in row.items()]))
    if r.trace is not None:
        parts.append(trace_tree(r.trace, r.leaf_grads))
    if r.note:
        parts.append(Text("note: " + r.note, style="yellow"))
    return Group(*parts)
