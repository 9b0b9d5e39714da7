"""Stand-in gradients while tracing: the same sources get a gradient (or None) as with TensorFlow's own,
and every system of both zoos traces to the same JSON either way."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from fixtures import classic_zoo, gan_zoo, zoo_published  # noqa: E402
from ganviz.extract.step_trace import record, trace_gan, trace_step  # noqa: E402
from ganviz.extract.step_trace.record import Recorder, patched  # noqa: E402


def _pattern(grads: Any) -> list[Any]:
    """None, or the static shape, of each gradient."""
    return [None if g is None else tuple(g.shape) for g in tf.nest.flatten(grads)]


def _both(monkeypatch: pytest.MonkeyPatch, scenario: Any) -> tuple[list[Any], list[Any]]:
    """Run ``scenario(gradient)`` inside a traced function, once with real and once with stand-in gradients."""
    out: dict[bool, list[Any]] = {}
    for real in (True, False):
        monkeypatch.setattr(record, "REAL_GRADIENTS", real)
        rec = Recorder({})

        def body(x: Any, rec: Recorder = rec, real: bool = real) -> Any:
            rec.recording = True
            try:
                out[real] = scenario(x)
            finally:
                rec.recording = False
            return tf.constant(0.0)

        with patched(rec, [], []):
            tf.function(body, autograph=False).get_concrete_function(tf.TensorSpec([4, 3], tf.float32))
    return out[True], out[False]


W = tf.Variable(tf.ones([3, 2]), name="w")
B = tf.Variable(tf.zeros([2]), name="b")
FROZEN = tf.Variable(tf.ones([2]), trainable=False, name="frozen")


def _scenarios() -> dict[str, Any]:
    def plain(x: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.matmul(x, W) + B)
        return _pattern(tape.gradient(y, [W, B, FROZEN]))

    def stopped(x: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            h = tf.stop_gradient(tf.matmul(x, W)) + B
            y = tf.reduce_sum(h)
        return _pattern(tape.gradient(y, [W, B]))

    def outside_tape(x: Any) -> list[Any]:
        h = tf.matmul(x, W)  # not recorded
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(h + B)
        return _pattern(tape.gradient(y, [W, B]))

    def stop_recording(x: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            with tape.stop_recording():
                h = tf.matmul(x, W)
            y = tf.reduce_sum(h * B)
        return _pattern(tape.gradient(y, [W, B]))

    def explicit_watch(x: Any) -> list[Any]:
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(B)
            tape.watch(FROZEN)
            y = tf.reduce_sum(tf.matmul(x, W) + B * FROZEN)
        return _pattern(tape.gradient(y, {"w": W, "b": B, "frozen": FROZEN}))

    def tensor_sources(x: Any) -> list[Any]:
        z = x * 2.0
        with tf.GradientTape() as tape:
            tape.watch(z)
            y = tf.reduce_sum(tf.matmul(z, W))
        unwatched = x + 1.0
        return _pattern(tape.gradient(y, [z, unwatched, x]))

    def integer_path(x: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            idx = tf.cast(tf.reduce_sum(tf.matmul(x, W)), tf.int32)
            y = tf.cast(idx, tf.float32) + tf.reduce_sum(tf.floor(B))
        return _pattern(tape.gradient(y, [W, B]))

    def unconnected_zero(x: Any) -> list[Any]:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(x * 3.0)
        return _pattern(tape.gradient(y, [W, B], unconnected_gradients=tf.UnconnectedGradients.ZERO))

    def persistent_reentered(x: Any) -> list[Any]:
        tape = tf.GradientTape(persistent=True)
        with tape:
            h = tf.matmul(x, W)
        g = h * 2.0  # between the two windows: not recorded
        with tape:
            y = tf.reduce_sum(g + B) + tf.reduce_sum(h)
        first = _pattern(tape.gradient(y, [W, B]))
        return first + _pattern(tape.gradient(tf.reduce_sum(g), [W, B]))

    def penalty_only(x: Any) -> list[Any]:
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = tf.reduce_sum(tf.nn.leaky_relu(tf.matmul(x, W) + B))
            grad = inner.gradient(score, x)
            penalty = tf.reduce_sum(tf.square(grad))
        return _pattern(grad) + _pattern(outer.gradient(penalty, [W, B]))

    return {f.__name__: f for f in (plain, stopped, outside_tape, stop_recording, explicit_watch,
                                    tensor_sources, integer_path, unconnected_zero, persistent_reentered,
                                    penalty_only)}  # fmt: skip


@pytest.mark.parametrize("name", list(_scenarios()))
def test_standin_gives_the_same_sources_a_gradient(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real, standin = _both(monkeypatch, _scenarios()[name])
    assert standin == real


def test_penalty_only_loss_still_reaches_the_critic(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loss made only of a gradient penalty differentiates the critic's weights: the inner gradient's
    stand-in derives from the critic's score, as the real double-backward graph does."""
    real, standin = _both(monkeypatch, _scenarios()["penalty_only"])
    assert standin[1:] == [(3, 2), (2,)] == real[1:]  # through the leaky ReLU, the bias matters too


def _trace(entry: Any) -> dict[str, Any]:
    t = trace_gan(entry.system, data=entry.data) if entry.kind == "gan" else trace_step(entry.system, *entry.data)
    d = t.to_dict()
    for m in d["models"]:
        m.pop("graph", None)
    return d


def _ganviz_gans() -> dict[str, Any]:
    from ganviz.train.gan.tf_backend import GAN
    from ganviz.train.models import seed_discriminator, seed_generator

    def make(**kw: Any) -> Any:
        def build() -> Any:
            options = dict(kw)
            activation = options.pop("activation", "sigmoid")
            gan = GAN(seed_generator(8), seed_discriminator(activation=activation), latent_dim=8, seed=0, **options)
            gan.compile()
            return gan_zoo.ZooEntry("ganviz", gan, tf.zeros([4, 28, 28, 1]))

        return build

    return {"ganviz_r1_ema": make(r1_weight=1.0, ema=0.999), "ganviz_wgan_gp": make(loss="wgan-gp", d_steps=2,
                                                                                     activation=None)}  # fmt: skip


def _classic(build: Any) -> gan_zoo.ZooEntry:
    entry = build()
    return gan_zoo.ZooEntry(entry.name, entry.step, entry.data, entry.models, entry.optimizers, kind="step")


SYSTEMS = {
    **{f"published:{k}": v for k, v in zoo_published.PUBLISHED.items()},
    **{f"zoo:{k}": v for k, v in gan_zoo.ZOO.items()},
    **_ganviz_gans(),
    **{
        f"classic:{k}": (lambda build=v: _classic(build))
        for k, v in classic_zoo.CLASSIC.items()
        if k in ("dcgan", "pix2pix", "wgan_gp")
    },
}


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_system_traces_the_same_with_real_gradients(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    entry = SYSTEMS[name]()
    monkeypatch.setattr(record, "REAL_GRADIENTS", True)
    real = _trace(entry)
    monkeypatch.setattr(record, "REAL_GRADIENTS", False)
    standin = _trace(entry)
    assert json.dumps(standin, sort_keys=True) == json.dumps(real, sort_keys=True)
    assert real["updates"], "a system with no update would make this comparison empty"
