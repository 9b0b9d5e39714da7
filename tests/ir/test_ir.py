"""The graph and trace IR: builder ids, path names, JSON contracts and depth collapsing."""

from __future__ import annotations

import json

import pytest

from ganviz.ir import (
    GRAPH_FORMAT,
    TRACE_FORMAT,
    Call,
    Graph,
    GraphBuilder,
    Loss,
    OptimizerInfo,
    Source,
    Trace,
    TraceModel,
    Update,
    collapse_to_depth,
    max_depth,
)


def nested_graph() -> Graph:
    """z -> [gan: [generator: dense -> act] -> [discriminator: [inner: d1] -> out]]."""
    b = GraphBuilder("gan")
    z = b.add_node("z", kind="input", output_shapes=((None, 100),))
    g = b.add_cluster("generator", class_name="Sequential", params=10, trainable_params=10)
    d = b.add_cluster("discriminator", class_name="Functional", params=7, trainable_params=0, trainable=False)
    inner = b.add_cluster("inner", class_name="Sequential", parent=d, params=5)
    dense = b.add_node("dense", class_name="Dense", parent=g, params=10)
    act = b.add_node("act", class_name="LeakyReLU", parent=g)
    d1 = b.add_node("d1", class_name="Dense", parent=inner, params=5)
    out = b.add_node("out", class_name="Dense", parent=d, params=2, trainable=False)
    b.add_edge(z, dense)
    b.add_edge(dense, act)
    b.add_edge(act, d1)
    b.add_edge(d1, out)
    b.add_edge(d1, out)  # duplicates are kept once
    return b.build()


def test_builder_ids_are_counters_and_duplicate_edges_merge() -> None:
    g = nested_graph()
    assert [n.id for n in g.nodes] == ["n0", "n1", "n2", "n3", "n4"]
    assert [c.id for c in g.clusters] == ["c0", "c1", "c2"]
    assert len(g.edges) == 4


def test_path_names_follow_clusters() -> None:
    g = nested_graph()
    assert g.edge_names() == [
        ("z", "generator > dense"),
        ("generator > dense", "generator > act"),
        ("generator > act", "discriminator > inner > d1"),
        ("discriminator > inner > d1", "discriminator > out"),
    ]


def test_graph_json_follows_the_contract_and_round_trips() -> None:
    g = nested_graph()
    d = json.loads(g.to_json())
    assert d["format"] == GRAPH_FORMAT
    assert set(d["nodes"][0]) >= {
        "id", "name", "kind", "class_name", "parent", "input_shapes", "output_shapes",
        "dtype", "params", "trainable_params", "trainable", "activation",
    }  # fmt: skip
    assert set(d["clusters"][0]) >= {"id", "name", "class_name", "parent", "params", "trainable_params", "trainable"}
    assert set(d["edges"][0]) == {"source", "target", "kind", "label"}
    assert d["nodes"][0]["output_shapes"] == [[None, 100]]
    back = Graph.from_json(g.to_json())
    assert back == g
    assert back.to_json() == g.to_json()


def test_from_json_rejects_other_formats() -> None:
    with pytest.raises(ValueError, match="not a ganviz graph"):
        Graph.from_dict({"format": "other/1", "name": "x"})


@pytest.mark.parametrize(
    ("depth", "names", "clusters"),
    [
        (0, ["z", "generator", "discriminator"], []),
        (1, ["z", "dense", "act", "inner", "out"], ["generator", "discriminator"]),
        (2, ["z", "dense", "act", "d1", "out"], ["generator", "discriminator", "inner"]),
        (None, ["z", "dense", "act", "d1", "out"], ["generator", "discriminator", "inner"]),
    ],
)
def test_collapse_to_depth(depth: int | None, names: list[str], clusters: list[str]) -> None:
    g = collapse_to_depth(nested_graph(), depth)
    assert [n.name for n in g.nodes] == names
    assert [c.name for c in g.clusters] == clusters
    ids = {n.id for n in g.nodes}
    assert all(e.source in ids and e.target in ids for e in g.edges), "edges must point at surviving nodes"


def test_collapsed_model_keeps_params_and_frozen_state() -> None:
    g = collapse_to_depth(nested_graph(), 0)
    disc = next(n for n in g.nodes if n.name == "discriminator")
    assert (disc.kind, disc.params, disc.trainable, disc.class_name) == ("model", 7, False, "Functional")
    assert g.edge_names() == [("z", "generator"), ("generator", "discriminator")]


def test_collapse_depth_one_links_to_collapsed_inner_cluster() -> None:
    g = collapse_to_depth(nested_graph(), 1)
    assert ("generator > act", "discriminator > inner") in g.edge_names()
    assert ("discriminator > inner", "discriminator > out") in g.edge_names()


def test_collapse_rejects_negative_depth() -> None:
    with pytest.raises(ValueError, match="depth"):
        collapse_to_depth(nested_graph(), -1)


@pytest.mark.parametrize("bad", [-1, "1", 1.5, True])
def test_collapse_checks_depth_even_without_clusters(bad: object) -> None:
    flat = GraphBuilder("flat")
    flat.add_node("x", kind="input")
    for graph in (flat.build(), nested_graph()):
        with pytest.raises(ValueError, match="depth must be None or an integer >= 0"):
            collapse_to_depth(graph, bad)  # type: ignore[arg-type]


def test_max_depth() -> None:
    assert max_depth(nested_graph()) == 2
    assert max_depth(GraphBuilder("flat").build()) == 0


def test_trace_json_round_trip_and_queries() -> None:
    sub = nested_graph()
    t = Trace(
        name="GAN",
        models=(
            TraceModel("generator", "Sequential", 10, 10, sub),
            TraceModel("discriminator", "Sequential", 7, 7, sub),
        ),
        sources=(
            Source("s0", "data", "real_images", (None, 28, 28, 1)),
            Source("s1", "noise", "random_normal", (None, 100)),
        ),
        calls=(
            Call("k0", "generator", ("s1",), (None, 28, 28, 1)),
            Call("k1", "discriminator", ("k0", "s0"), (None, 1)),
        ),
        losses=(Loss("l0", "d_loss", ("k1",)),),
        updates=(Update("l0", "d_optimizer", "discriminator", 6),),
        optimizers=(OptimizerInfo("d_optimizer", "Adam", 2e-4),),
    )
    d = json.loads(t.to_json())
    assert d["format"] == TRACE_FORMAT
    assert set(d) >= {"models", "sources", "calls", "losses", "updates"}
    assert d["calls"][1]["inputs"] == ["k0", "s0"]
    assert Trace.from_json(t.to_json()) == t
    assert t.updates_by_model() == {"discriminator": ["d_optimizer"]}
    assert t.optimizer("d_optimizer") == OptimizerInfo("d_optimizer", "Adam", 2e-4)
    assert t.model("generator").params == 10
