"""The Monitor's system diagram of ``ganviz.GAN``: drawn from the loop it runs (loss, R1, EMA), never traced."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ganviz.train.gan.tf_backend import GAN  # noqa: E402
from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402


def test_gan_with_r1_and_ema_is_drawn_from_its_recipe(tmp_path, monkeypatch):
    import ganviz.extract.step_trace as step_trace

    def no_tracing(*args, **kwargs):
        raise AssertionError("ganviz.GAN was traced")

    monkeypatch.setattr(step_trace, "trace_gan", no_tracing)
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=0, loss="hinge", r1_weight=2.0, ema=0.99)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.RMSprop(3e-4))
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=None, progress=False)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, callbacks=[mon])
    assert json.loads((tmp_path / "diagrams" / "system.json").read_text()) == {"how": "assumed", "error": None}
    trace = json.loads((tmp_path / "diagrams" / "trace.json").read_text())
    assert trace["name"] == "ganviz.GAN (hinge, R1 2, EMA 0.99)"
    d_loss, g_loss = trace["losses"]
    assert [(t["name"], t["kind"], t["weight"]) for t in d_loss["terms"]] == [
        ("d_loss", "hinge", 1.0),
        ("r1", "gradient_penalty", 1.0),
    ]
    r1_call = next(c for c in trace["calls"] if c["id"] == d_loss["terms"][1]["inputs"][0])
    assert r1_call["model"] == gan.discriminator.name and r1_call["inputs"] == ["src1"]  # D on the real images
    assert [(t["name"], t["kind"]) for t in g_loss["terms"]] == [("g_loss", "hinge")]
    assert r1_call["id"] not in g_loss["inputs"]
    (ema,) = trace["assignments"]
    assert ema["kind"] == "ema" and ema["decay"] == 0.99 and ema["source"] == gan.generator.name
    assert [(o["name"], o["class_name"], o["learning_rate"]) for o in trace["optimizers"]] == [
        ("d_optimizer", "Adam", 1e-4),
        ("g_optimizer", "RMSprop", 3e-4),
    ]
    svg = (tmp_path / "diagrams" / "system.svg").read_text(encoding="utf-8")
    assert "r1" in svg and "0.99" in svg


class _OwnStep(keras.Model):
    """A GAN with its own train_step, holding its models and optimizers as Keras's GAN guides do."""

    def __init__(self, discriminator, generator):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, data):  # never run here: only drawn
        raise AssertionError("the step ran")


def test_an_own_train_step_off_tensorflow_is_drawn_as_the_standard_loop_with_its_optimizers(tmp_path, monkeypatch):
    """On JAX/PyTorch a step the tracer cannot follow: the pair it holds is drawn, labelled assumed, its
    optimizers named, and the note says why."""
    import ganviz.extract.step_trace as step_trace
    from ganviz.errors import TraceError
    from ganviz.train.outputs import system

    def untraceable(*args, **kwargs):
        raise TraceError("cannot trace _OwnStep.train_step on fake tensors: the step reads .item()")

    monkeypatch.setattr(system, "_backend", lambda: "torch")
    monkeypatch.setattr(step_trace, "trace_gan", untraceable)
    g, d = seed_generator(8), seed_discriminator()
    model = _OwnStep(d, g)
    model.compile(keras.optimizers.Adam(3e-4), keras.optimizers.RMSprop(1e-3))
    outcome = system.draw_system(tmp_path, model=model)
    assert outcome["how"] == "assumed" and outcome["error"] is None
    assert "_OwnStep's generator and discriminator" in outcome["note"] and "'torch'" in outcome["note"]
    assert "reads .item()" in outcome["note"]
    trace = json.loads((tmp_path / "diagrams" / "trace.json").read_text())
    assert trace["assumed"] is True
    assert {c["model"] for c in trace["calls"]} == {g.name, d.name}
    named = {o["name"]: (o["class_name"], o["learning_rate"]) for o in trace["optimizers"]}
    assert named["d_optimizer"][0] == "Adam" and named["g_optimizer"][0] == "RMSprop"
    assert named["d_optimizer"][1] == pytest.approx(3e-4) and named["g_optimizer"][1] == pytest.approx(1e-3)
    assert "<svg" in (tmp_path / "diagrams" / "system.svg").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "diagrams" / "system.json").read_text()) == outcome

    lone = keras.Model.__new__(_OwnStep)  # a step holding no discriminator: the one-line error, as before
    keras.Model.__init__(lone)
    lone.generator = g
    failed = system.draw_system(tmp_path / "lone", model=lone)
    assert failed["how"] is None and "reads .item()" in failed["error"] and "holds no one generator" in failed["error"]

    monkeypatch.setattr(system, "_backend", lambda: "tensorflow")  # on TensorFlow the trace's error stands
    failed = system.draw_system(tmp_path / "tf", model=model)
    assert failed["how"] is None and "reads .item()" in failed["error"] and "standard loop" not in failed["error"]
