"""Phases follow forward passes: one tape feeding several optimizers is one phase with several updates."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from ganviz import verify_trace  # noqa: E402
from ganviz.ir import Trace  # noqa: E402
from ganviz.ir.trace_graph import trace_to_graph  # noqa: E402


def _pair() -> tuple[Any, Any, Any, Any]:
    keras.utils.set_random_seed(0)
    generator = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)], name="generator")
    critic = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="critic")
    return generator, critic, keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.02)


def _verified(step: Any) -> Trace:
    data = np.random.default_rng(0).random((4, 4), dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trace = verify_trace(step, data)
    assert trace.verified is not None and trace.verified.holds, [str(w.message) for w in caught]
    return trace


def test_one_persistent_tape_for_two_optimizers_is_one_phase() -> None:
    """Both gradients come from the forward pass recorded before either update: the second update
    does not see the first one's weights, so there is no second forward pass to draw."""
    generator, critic, c_opt, g_opt = _pair()

    def step(real: Any) -> None:
        z = tf.random.normal((tf.shape(real)[0], 3))
        with tf.GradientTape(persistent=True) as tape:
            fake = generator(z, training=True)
            real_scores = critic(real, training=True)
            fake_scores = critic(fake, training=True)
            c_loss = tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)
            g_loss = -tf.reduce_mean(fake_scores)
        c_vars = critic.trainable_variables
        c_opt.apply_gradients(zip(tape.gradient(c_loss, c_vars), c_vars))
        g_vars = generator.trainable_variables
        g_opt.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))

    trace = _verified(step)
    assert [(p.name, p.updates, len(p.calls), len(p.losses)) for p in trace.phases] == [
        ("update critic, generator", ("c_opt -> critic", "g_opt -> generator"), 3, 2)
    ]
    phases = {f.subject: f.holds for f in trace.verified.facts if f.kind == "phases"}
    assert phases == {"order of updates": True}
    graph = trace_to_graph(trace)
    titles = [c.name for c in graph.clusters if c.details.get("phase")]
    assert titles == ["1. update critic, generator"]
    # every call box and both losses sit in that one phase
    cluster = graph.clusters[0].id
    assert {n.parent for n in graph.nodes if n.kind in ("model", "loss")} == {cluster}


def test_a_tape_opened_after_an_update_starts_a_phase_even_without_model_calls() -> None:
    """A second tape records after the critic's update (a weight penalty on the generator, no
    model call): that is a new forward pass, so a phase of its own, after the critic's."""
    generator, critic, c_opt, g_opt = _pair()

    def step(real: Any) -> None:
        z = tf.random.normal((tf.shape(real)[0], 3))
        with tf.GradientTape() as tape:
            fake = generator(z, training=False)
            c_loss = tf.reduce_mean(critic(fake, training=True)) - tf.reduce_mean(critic(real, training=True))
        c_vars = critic.trainable_variables
        c_opt.apply_gradients(zip(tape.gradient(c_loss, c_vars), c_vars))
        g_vars = generator.trainable_variables
        with tf.GradientTape() as tape:
            shrink = tf.add_n([tf.reduce_sum(tf.square(v)) for v in g_vars])
        g_opt.apply_gradients(zip(tape.gradient(shrink, g_vars), g_vars))

    trace = _verified(step)
    assert [(p.name, p.updates) for p in trace.phases] == [
        ("update critic", ("c_opt -> critic",)),
        ("update generator", ("g_opt -> generator",)),
    ]
