"""Models reached through other models: a generator trained through ``combined``, a feature network in a loss."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from fixtures import trace_corpus_losses as corpus  # noqa: E402
from ganviz import trace_gan  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_calls import trace_to_call_graph  # noqa: E402


def _trace(name: str) -> Trace:
    entry = corpus.CORPUS_LOSSES[name]()
    return trace_gan(entry.system, data=entry.data)


def test_update_through_combined_lands_on_the_generator_call_inside_it() -> None:
    trace = _trace("combined_gan")
    g_phase = next(p for p in trace.phases if p.name == "update generator")
    in_phase = [c for c in trace.calls if c.id in g_phase.calls]
    assert [(c.model, c.in_tape) for c in in_phase] == [("generator", True), ("discriminator", True)]
    assert in_phase[1].inputs == (in_phase[0].id,)  # D judges what G made, inside combined
    assert g_phase.frozen == ("discriminator",)  # read when the generator's gradient was taken
    graph = trace_to_call_graph(trace)
    by_id = {n.id: n for n in graph.nodes}
    [loss] = [n for n in graph.nodes if n.kind == "loss" and n.name == "g_loss"]
    [target] = [e.target for e in graph.edges if e.kind == "gradient" and e.source == loss.id]
    assert by_id[target].class_name == "generator"  # not the earlier `generator · no tape` call
    d_in_g = [n for n in graph.nodes if n.kind == "model" and n.parent == by_id[target].parent and n.id != target]
    assert [n.trainable for n in d_in_g] == [False]  # drawn frozen inside combined


def test_feature_network_in_a_loss_object_is_drawn_as_calls_feeding_the_term() -> None:
    trace = _trace("srgan")
    label = {c.id: c.output or c.model for c in trace.calls}
    feature_calls = [c for c in trace.calls if c.model == "feature_net"]
    assert len(feature_calls) == 2
    g_loss = next(x for x in trace.losses if x.name == "g_loss")
    content = next(t for t in g_loss.terms if t.name == "content")
    assert (content.kind, [label[i] for i in content.inputs if i in label]) == ("mse", ["wanted", "got"])
    assert not trace.model("feature_net").trainable
    # the preprocessing mean and std (shape (3,)) are parameters of their ops, not sources
    assert [s.shape for s in trace.sources if s.kind == "constant" and s.shape == (3,)] == []


class _Perceptual:
    """A plain callable object holding a feature network (no Keras loss class)."""

    def __init__(self, features: keras.Model) -> None:
        self.features = features

    def __call__(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.abs(self.features(a) - self.features(b)))


def test_feature_network_in_a_plain_callable_is_found() -> None:
    entry = corpus.CORPUS_LOSSES["srgan"]()
    gan = entry.system
    gan.perceptual = _Perceptual(entry.models["feature_net"])
    trace = trace_gan(gan, data=entry.data)
    content = next(t for t in next(x for x in trace.losses if x.name == "g_loss").terms if t.name == "content")
    calls = {c.id: c.model for c in trace.calls}
    assert content.kind == "mae" and [calls[i] for i in content.inputs if i in calls] == ["feature_net", "feature_net"]
