"""graph_to_mermaid: golden files and a line-by-line syntax check that any name keeps valid."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_dot import FULL, check_golden

from fixtures.render_samples import gan_system_graph, nested_model_graph
from ganviz.ir import Cluster, Edge, Graph, Node, collapse_to_depth
from ganviz.render.mermaid import graph_to_mermaid
from ganviz.render.quoting import clean_text

CASES = {
    "nested_default.mmd": (nested_model_graph, {}),
    "nested_full.mmd": (nested_model_graph, FULL),
    "nested_depth0_lr.mmd": (lambda: collapse_to_depth(nested_model_graph(), 0), {"rankdir": "LR"}),
    "gan_shapes.mmd": (gan_system_graph, {"show_shapes": True}),
}

ID = r"[A-Za-z][A-Za-z0-9_]*"
TEXT = r'(?:[^"<>\n`|]|<br>)*'  # a label: no quote, no raw markup except <br>, no pipe or backtick
SHAPES = [r"\[", r"\(\[", r"\[\[", r"\[\(", r"\[/", r">", r"\(", r"\{\{", r"\[\\"]
CLOSES = {r"\[": r"\]", r"\(\[": r"\]\)", r"\[\[": r"\]\]", r"\[\(": r"\)\]", r"\[/": r"/\]", r">": r"\]"}
CLOSES.update({r"\(": r"\)", r"\{\{": r"\}\}", r"\[\\": r"\\\]"})
_SHAPED = "|".join(o + '"' + TEXT + '"' + CLOSES[o] for o in SHAPES)
NODE = re.compile(rf"\s*({ID})(?:{_SHAPED})")
SUBGRAPH = re.compile(rf'\s*subgraph ({ID}) \["{TEXT}"\]')
EDGE = re.compile(rf'\s*({ID}) (?:-->|-\.->|==>)(?:\|"{TEXT}"\|)? ({ID})')
STYLE = re.compile(rf"\s*(?:style {ID}|linkStyle \d+|classDef [a-z]+) [a-z-]+:[#\w ]+(?:,[a-z-]+:[#\w ]+)*")
CLASS = re.compile(rf"\s*class {ID}(?:,{ID})* [a-z]+")
RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click", "linkstyle", "default"}


def check_mermaid(text: str) -> None:
    """A strict subset of Mermaid flowchart syntax: every line must match one known statement."""
    lines = text.rstrip("\n").split("\n")
    assert re.fullmatch(r"flowchart (TB|BT|LR|RL)", lines[0]), lines[0]
    depth, declared = 0, set()
    for line in lines[1:]:
        if m := NODE.fullmatch(line):
            declared.add(m.group(1))
        elif m := SUBGRAPH.fullmatch(line):
            declared.add(m.group(1))
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0, "unbalanced end"
        elif m := EDGE.fullmatch(line):
            assert {m.group(1), m.group(2)} <= declared, line
        else:
            assert STYLE.fullmatch(line) or CLASS.fullmatch(line), f"not valid Mermaid: {line!r}"
    assert depth == 0, "unclosed subgraph"
    assert not declared & RESERVED


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    build, opts = CASES[name]
    text = graph_to_mermaid(build(), **opts)  # type: ignore[arg-type]
    check_mermaid(text)
    check_golden(name, text)


def test_structure_kinds_and_edges() -> None:
    text = graph_to_mermaid(gan_system_graph())
    assert '  n0[("real_images")]' in text and '  n6{{"d_loss (BinaryCrossentropy)"}}' in text
    assert '  n6 -.->|"d_optimizer (Adam, lr=0.0003)"| n4' in text
    assert "  n8 ==> n4" in text and "linkStyle 8 stroke:#CC3311" in text
    nested = graph_to_mermaid(nested_model_graph())
    assert "Dense [frozen]" in nested and "class n4,n5,n6 frozen" in nested
    assert nested.index("subgraph c1") < nested.index("subgraph c2") < nested.index("  end\n  n0 -->")


def test_rankdir_is_checked() -> None:
    assert graph_to_mermaid(nested_model_graph(), rankdir="RL").startswith("flowchart RL\n")
    with pytest.raises(ValueError, match="unknown rankdir"):
        graph_to_mermaid(nested_model_graph(), rankdir="down")


def _decode(text: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text.replace("<br>", "\n"))


NAMES = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(list('"<>&{}|\\\n\x01😀`#;[]()%'))), min_size=1, max_size=25
)


@settings(max_examples=150, deadline=None)
@given(NAMES, NAMES, st.one_of(st.none(), NAMES))
def test_any_name_gives_valid_mermaid(node_id: str, name: str, label: str | None) -> None:
    assume(node_id != "c")
    inner = node_id + "x"
    g = Graph(
        name,
        nodes=(Node(node_id, name, kind="noise"), Node(inner, name, "layer", name, parent="c", trainable=False)),
        clusters=(Cluster("c", name, class_name=name),),
        edges=(Edge(node_id, inner, label=label), Edge(inner, "c", "gradient", label)),
    )
    text = graph_to_mermaid(g, show_layer_names=True, show_shapes=True)
    check_mermaid(text)
    first = text.split("\n")[1]
    assert _decode(first[first.index('"') + 1 : first.rindex('"')]) == clean_text(name)
