"""`ganviz.trace/2`: new parts round-trip, `/1` still reads, and the per-call diagram's structure."""

from __future__ import annotations

from ganviz.ir import Assignment, Graph, LossTerm, Phase, Trace, TraceOp
from ganviz.ir.trace import Call, Loss, Source, TraceModel, Update
from ganviz.ir.trace_graph import trace_to_graph

V1 = {
    "format": "ganviz.trace/1",
    "name": "old",
    "assumed": False,
    "models": [
        {
            "name": "g",
            "class_name": "Sequential",
            "params": 3,
            "trainable_params": 3,
            "graph": {"format": "ganviz.graph/1", "name": "g"},
        }
    ],
    "sources": [{"id": "src0", "kind": "noise", "name": "z", "shape": [4, 2]}],
    "calls": [{"id": "call0", "model": "g", "inputs": ["src0"], "output_shape": [4, 1]}],
    "losses": [{"id": "loss0", "name": "g_loss", "inputs": ["call0"]}],
    "updates": [{"loss": "loss0", "optimizer": "opt", "model": "g", "variables": 2}],
    "optimizers": [],
    "details": {"unused_models": ["ema"]},
}


def _step() -> Trace:
    g, d = TraceModel("g", "Sequential", 10, 10, Graph("g")), TraceModel("d", "Sequential", 5, 5, Graph("d"))
    ema = TraceModel("ema", "Sequential", 10, 10, Graph("ema"))
    return Trace(
        name="step",
        models=(g, d, ema),
        sources=(Source("src0", "noise", "z"), Source("src1", "data", "x"), Source("src2", "noise", "alpha")),
        ops=(TraceOp("op0", "interpolate", ("src1", "src2", "call0"), "mixed"),),
        calls=(
            Call("call0", "g", ("src0",), output="fake", phase="update d"),
            Call("call1", "d", ("call0",), output="fake_score", phase="update d"),
            Call("call2", "d", ("op0",), output=None, phase="update d"),
        ),
        losses=(
            Loss(
                "loss0",
                "d_loss",
                ("call1", "call2"),
                (
                    LossTerm("d_cost", "wasserstein", 1.0, ("call1",)),
                    LossTerm("gp", "gradient_penalty", 10.0, ("call2",)),
                ),
            ),
        ),
        updates=(Update("loss0", "d_opt", "d", 4, times=3),),
        assignments=(Assignment("ema", "g", "ema", 0.999, 6),),
        phases=(Phase("update d", 3, ("call0", "call1", "call2"), ("loss0",), ("d_opt -> d",)),),
        unused_models=(),
    )


def test_v1_reads_with_defaults() -> None:
    t = Trace.from_dict(V1)
    assert t.unused_models == ("ema",) and "unused_models" not in t.details
    assert t.calls[0].output is None and t.calls[0].phase is None and t.calls[0].in_tape
    assert t.losses[0].terms == () and t.updates[0].times == 1 and t.phases == () and t.assignments == ()
    assert t.to_dict()["format"] == "ganviz.trace/2"


def test_v2_round_trip() -> None:
    t = _step()
    assert Trace.from_json(t.to_json()) == t
    d = t.to_dict()
    assert d["losses"][0]["terms"][1] == {"name": "gp", "kind": "gradient_penalty", "weight": 10.0, "inputs": ["call2"]}
    assert d["assignments"][0]["kind"] == "ema" and d["phases"][0]["repeat"] == 3


def test_per_call_diagram() -> None:
    g = trace_to_graph(_step())
    names = {n.name: n for n in g.nodes}
    assert {"fake", "fake_score", "d(mixed)", "mixed", "d_cost", "gp", "d_loss", "ema"} <= set(names)
    assert names["fake"].params == 10 and names["fake_score"].params == 5 and names["d(mixed)"].params == 0
    assert [c.name for c in g.clusters] == ["1. update d  ×3"]
    edges = {(g.node(e.source).name, g.node(e.target).name, e.kind, e.label) for e in g.edges}
    assert ("gp", "d_loss", "data", "×10") in edges
    assert ("d_loss", "fake_score", "gradient", "d_opt ×3") in edges
    assert ("fake", "ema", "assign", "EMA decay=0.999 (6 variables)") in edges
    assert names["d_loss"].class_name == "wasserstein + 10×gradient_penalty"


def test_merged_diagram_keeps_ops_and_assignments() -> None:
    g = trace_to_graph(_step(), calls="merged")
    assert [n.name for n in g.nodes if n.kind == "model"] == ["g", "d", "ema"]
    edges = {(g.node(e.source).name, g.node(e.target).name, e.kind) for e in g.edges}
    assert ("mixed", "d", "data") in edges and ("g", "ema", "assign") in edges


def test_an_optimizer_arrow_lands_on_the_call_its_loss_comes_from() -> None:
    """The standard loop calls the generator twice; g_optimizer's arrow belongs on the call under g_loss."""
    from ganviz.ir import Call, Graph, Loss, Source, Trace, TraceModel, Update
    from ganviz.ir.trace_graph import trace_to_graph

    trace = Trace(
        name="g + d",
        models=(TraceModel("g", "Sequential", 4, 4, Graph("g")), TraceModel("d", "Sequential", 4, 4, Graph("d"))),
        sources=(Source("src0", "noise", "noise"), Source("src1", "data", "real")),
        calls=(
            Call("call0", "g", ("src0",)),
            Call("call1", "d", ("call0",)),
            Call("call2", "d", ("src1",)),
            Call("call3", "g", ("src0",)),
            Call("call4", "d", ("call3",)),
        ),  # fmt: skip
        losses=(Loss("loss0", "d_loss", ("call1", "call2")), Loss("loss1", "g_loss", ("call4",))),
        updates=(Update("loss0", "d_opt", "d", 4), Update("loss1", "g_opt", "g", 4)),
    )
    graph = trace_to_graph(trace)
    feeds = {(e.source, e.target) for e in graph.edges if e.kind == "data"}
    grads = {e.label.split(":")[0]: e for e in graph.edges if e.kind == "gradient" and e.label}
    g_target, g_loss = grads["g_opt"].target, grads["g_opt"].source
    # the generator box the arrow ends on feeds a discriminator call that feeds g_loss
    assert any((g_target, mid) in feeds and (mid, g_loss) in feeds for _, mid in feeds)
    d_target, d_loss = grads["d_opt"].target, grads["d_opt"].source
    assert (d_target, d_loss) in feeds  # the discriminator call right under d_loss


def test_an_op_read_only_by_a_loss_term_sits_in_the_loss_phase() -> None:
    """A drift term on ``concat([fake_scores, real_scores])``: the concatenation is drawn in the phase."""
    import dataclasses

    t = _step()
    drift = LossTerm("drift", "mse", 0.001, ("op1",))
    loss = dataclasses.replace(t.losses[0], terms=(*t.losses[0].terms, drift))
    t = dataclasses.replace(t, ops=(*t.ops, TraceOp("op1", "concat", ("call1", "call2"))), losses=(loss,))
    g = trace_to_graph(t)
    (phase,) = g.clusters
    (concat,) = [n for n in g.nodes if n.kind == "op" and n.class_name == "concat"]
    assert concat.parent == phase.id


def test_an_ema_arrow_leaves_the_source_models_call_in_the_last_phase() -> None:
    """An EMA made after both updates reads the generator's weights as its own update left them: the
    arrow leaves the generator's call of the generator phase, not the one the discriminator phase made."""
    models = tuple(TraceModel(n, "Sequential", 4, 4, Graph(n)) for n in ("g", "d", "g_ema"))
    trace = Trace(
        name="ema gan",
        models=models,
        sources=(Source("src0", "noise", "z"), Source("src1", "data", "x")),
        calls=(
            Call("call0", "g", ("src0",), output="fake_for_d", phase="update d"),
            Call("call1", "d", ("call0", "src1"), output="scores", phase="update d"),
            Call("call2", "g", ("src0",), output="fake_for_g", phase="update g"),
            Call("call3", "d", ("call2",), output="fooled", phase="update g"),
        ),
        losses=(Loss("loss0", "d_loss", ("call1",)), Loss("loss1", "g_loss", ("call3",))),
        updates=(Update("loss0", "d_opt", "d", 4), Update("loss1", "g_opt", "g", 4)),
        assignments=(Assignment("g_ema", "g", "ema", 0.999, 4),),
        phases=(
            Phase("update d", 1, ("call0", "call1"), ("loss0",), ("d_opt -> d",)),
            Phase("update g", 1, ("call2", "call3"), ("loss1",), ("g_opt -> g",)),
        ),
    )
    graph = trace_to_graph(trace)
    assigns = [(graph.node(e.source).name, graph.node(e.target).name) for e in graph.edges if e.kind == "assign"]
    assert assigns == [("fake_for_g", "g_ema")]
