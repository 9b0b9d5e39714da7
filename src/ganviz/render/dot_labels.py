"""HTML-like DOT labels: Keras-style layer tables, text of shaped nodes, cluster headers, captions."""

from __future__ import annotations

from ..ir.graph import Cluster, Node
from . import styles
from .labels import cluster_facts, cut_name, format_shapes, node_facts, node_shapes, node_title
from .options import DrawOptions
from .quoting import DotHtml, dot_html

__all__ = ["table_label", "shape_label", "cluster_label", "caption_label", "legend_label"]


def _font(text: DotHtml, *, size: int | None = None, color: str | None = None, bold: bool = False) -> DotHtml:
    attrs = ""
    if size is not None:
        attrs += f' POINT-SIZE="{size}"'
    if color is not None:
        attrs += f' COLOR="{color}"'
    inner = f"<B>{text}</B>" if bold else str(text)
    return DotHtml(f"<FONT{attrs}>{inner}</FONT>" if attrs else inner)


def _lines(text: str, align: str = "CENTER") -> DotHtml:
    return dot_html(text, br=f'<BR ALIGN="{align}"/>')


def _title_html(name: str, cls: str) -> DotHtml:
    parts = []
    if name:
        parts.append(_font(_lines(name), bold=True))
    if cls:
        cls_html = _lines(cls)
        parts.append(_font(DotHtml(f"({cls_html})" if name else cls_html), color=styles.MUTED_COLOR if name else None))
    return DotHtml(" ".join(parts))


def _badge() -> str:
    return (
        f'<TD BGCOLOR="{styles.BADGE_FILL}" CELLPADDING="2">'
        f'<FONT COLOR="{styles.BADGE_TEXT}" POINT-SIZE="{styles.SMALL_FONT_SIZE - 1}"><B>FROZEN</B></FONT></TD>'
    )


def table_label(node: Node, opts: DrawOptions) -> str:
    """A table-shaped node (layers, inputs, models): title row, shape columns, facts; a badge when frozen."""
    style = styles.node_style(node.kind)
    frozen = not node.trainable
    head_fill = styles.FROZEN.fill if frozen else style.fill
    border = "dashed" if frozen else style.border_style
    # A rounded table is filled whole: a coloured header cell would poke out of the round corners.
    body_fill = styles.FROZEN_BODY if frozen else (style.fill if border == "rounded" else "#FFFFFF")
    table_style = f' STYLE="{border}"' if border in ("rounded", "dashed") else ""
    name, cls = node_title(node, opts)
    head_bg = "" if border == "rounded" else f' BGCOLOR="{head_fill}"'
    head = f'<TD{head_bg} CELLPADDING="4">{_title_html(name, cls)}</TD>'
    if frozen:
        head = (
            f'<TD BGCOLOR="{head_fill}" CELLPADDING="0"><TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">'
            f"<TR>{head}<TD>  </TD>{_badge()}</TR></TABLE></TD>"
        )
    rows = [f"<TR>{head}</TR>"]
    if opts.show_shapes:
        cols = node_shapes(node)
        divider = ['<TD SIDES="R" BORDER="1">' if i < len(cols) - 1 else "<TD>" for i in range(len(cols))]
        heads = "".join(
            f"{td}{_font(dot_html(label), size=styles.SMALL_FONT_SIZE, color=styles.MUTED_COLOR)}</TD>"
            for td, (label, _) in zip(divider, cols)
        )
        values = "".join(f"{td}{_lines(value)}</TD>" for td, (_, value) in zip(divider, cols))
        inner = (
            f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" COLOR="{styles.BORDER_COLOR}">'
            f"<TR>{heads}</TR><TR>{values}</TR></TABLE>"
        )
        rows.append(f'<TR><TD SIDES="T" BORDER="1" CELLPADDING="0">{inner}</TD></TR>')
    facts = node_facts(node, opts)
    if facts:
        text = "\n".join(f"{k}: {v}" if k else v for k, v in facts)
        small = _font(_lines(text, "LEFT"), size=styles.SMALL_FONT_SIZE)
        rows.append(f'<TR><TD SIDES="T" BORDER="1" ALIGN="LEFT" BALIGN="LEFT">{small}</TD></TR>')
    return (
        f'<<TABLE BORDER="{style.border_width}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" '
        f'COLOR="{styles.BORDER_COLOR}" BGCOLOR="{body_fill}"{table_style}>{"".join(rows)}</TABLE>>'
    )


def shape_label(node: Node, opts: DrawOptions) -> str:
    """The text inside a shaped node (trace sources, losses, optimizers): bold title, small facts."""
    name, cls = node_title(node, opts)
    lines = [str(_font(_lines(name or cls), bold=True))]
    small: list[str] = []
    if cls and name:
        small.append(cls)
    if opts.show_shapes and (node.output_shapes or node.input_shapes):
        small.append(format_shapes(node.output_shapes or node.input_shapes))
    small.extend(f"{k}: {v}" if k else v for k, v in node_facts(node, opts))
    if small:
        lines.append(str(_font(_lines("\n".join(small)), size=styles.SMALL_FONT_SIZE)))
    return "<" + "<BR/>".join(lines) + ">"


def cluster_label(cluster: Cluster, opts: DrawOptions) -> str:
    """A nested model's header: title (and a badge when frozen) over its parameter facts."""
    title = _title_html(
        cut_name(cluster.name), cut_name(cluster.class_name if cluster.class_name != cluster.name else "")
    )
    badge = _badge() if not cluster.trainable else ""
    lines = cluster_facts(cluster, opts)
    facts = _font(_lines("\n".join(lines), "LEFT"), size=styles.SMALL_FONT_SIZE)
    span = ' COLSPAN="3"' if badge else ""
    gap = "<TD>  </TD>" if badge else ""
    second = f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"{span}>{facts}</TD></TR>' if lines else ""
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        f'<TR><TD ALIGN="LEFT">{title}</TD>{gap}{badge}</TR>{second}</TABLE>>'
    )


def caption_label(caption: str) -> str:
    """The label of a whole graph: its caption in bold, line breaks kept."""
    return f"<{_font(_lines(caption), bold=True)}>"


def legend_label(caption: str | None, lines: list[str]) -> str:
    """A graph label: the caption in bold (if any), then one left-aligned legend line each.

    >>> legend_label(None, ["a < b"])
    '<<FONT POINT-SIZE="10" COLOR="#444444">a &lt; b<BR ALIGN="LEFT"/></FONT>>'
    """
    parts = [f'{_font(_lines(caption, "LEFT"), bold=True)}<BR ALIGN="LEFT"/>'] if caption else []
    body = "".join(f'{_lines(line, "LEFT")}<BR ALIGN="LEFT"/>' for line in lines)
    parts.append(_font(DotHtml(body), size=styles.EDGE_FONT_SIZE + 1, color=styles.MUTED_COLOR))
    return f"<{''.join(parts)}>"
