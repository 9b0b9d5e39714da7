"""ganviz.Monitor: files, grids, GIF, metrics, health stops, resume after SIGKILL, other GANs and loops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from ganviz.train.gan.tf_backend import GAN  # noqa: E402
from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402
from ganviz.train.monitor.callback import Monitor  # noqa: E402
from ganviz.train.monitor.health import HealthChecker  # noqa: E402
from ganviz.train.outputs.images import grid_size  # noqa: E402
from ganviz.train.run.checkpoint import Checkpointer  # noqa: E402


def _x(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


def _gan(seed: int = 0, latent: int = 16) -> GAN:
    keras.utils.set_random_seed(seed)
    gan = GAN(seed_generator(latent), seed_discriminator(), latent_dim=latent, seed=seed)
    gan.compile()
    return gan


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _last_step(run: Path) -> int:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    return max((json.loads(line)["step"] for line in lines if line.strip().endswith("}")), default=0)


def test_fit_writes_grids_gif_metrics_curves_checkpoints(tmp_path):
    gan = _gan()
    mon = Monitor(tmp_path, every_n_steps=3, checkpoint_every=4, grid=(3, 5), progress=False, keep_checkpoints=2)
    gan.fit(_x(), batch_size=8, epochs=1, verbose=0, callbacks=[mon])  # 8 steps
    samples = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert samples == ["step_000003.png", "step_000006.png", "step_000008.png"]
    with Image.open(tmp_path / "samples" / "step_000006.png") as img:
        assert img.size == grid_size(3, 5, 28, 28) == (5 * 56 + 6 * 2, 3 * 56 + 4 * 2)
        assert img.mode == "L" and len(set(np.asarray(img).ravel().tolist())) > 10
    with Image.open(tmp_path / "progress.gif") as gif:
        assert gif.n_frames == 3 and gif.size == grid_size(3, 5, 28, 28)
    rows = _metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert all({"d_loss", "g_loss", "d_real", "d_fake"} <= set(r) for r in rows)
    with Image.open(tmp_path / "curves.png") as img:
        assert img.format == "PNG" and img.size[0] > 400
    ckpts = [s for s, _ in Checkpointer(tmp_path / "checkpoints").paths()]
    assert ckpts == [4, 8]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["total_steps"] == 8 and config["grid"] == [3, 5]
    assert not (tmp_path / "events.jsonl").exists()


def test_every_n_epochs_and_fixed_noise_is_fixed(tmp_path):
    gan = _gan()
    mon = Monitor(tmp_path, every_n_steps=None, every_n_epochs=1, checkpoint_every=None, progress=False)
    gan.fit(_x(32), batch_size=8, epochs=2, verbose=0, callbacks=[mon])
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000004.png", "step_000008.png"]
    noise = mon.fixed_noise.copy()
    first = mon.generate()
    np.testing.assert_array_equal(first, mon.generate())  # same noise, same weights, same images
    np.testing.assert_array_equal(noise, np.random.default_rng(0).standard_normal((16, 16)).astype("float32"))


def test_seeded_runs_are_reproducible(tmp_path):
    def run(folder: Path) -> tuple[list[dict], bytes]:
        gan = _gan(seed=3)
        mon = Monitor(folder, every_n_steps=4, checkpoint_every=None, progress=False, seed=3)
        gan.fit(_x(), batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[mon])
        return _metrics(folder), (folder / "samples" / "step_000004.png").read_bytes()

    assert run(tmp_path / "a") == run(tmp_path / "b")


def test_nan_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    gan = _gan()
    x = _x(96)
    x[40:] = np.nan  # batches 6.. (batch 8) are poisoned
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=2, progress=False, keep_checkpoints=3)
    gan.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[mon])
    assert mon.stopped_on_nonfinite and mon.global_step == 6
    assert gan.steps_per_execution == 2  # the default, aligned with the Monitor's 2-step intervals
    assert [r["step"] for r in _metrics(tmp_path)] == [2, 4, 6]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[-1]["kind"] == "nonfinite" and events[-1]["step"] == 6
    steps = [s for s, _ in Checkpointer(tmp_path / "checkpoints").paths()]
    assert steps == [2, 4]  # nothing written at or after the bad step
    state, _, meta = Checkpointer(tmp_path / "checkpoints").load_latest()
    assert meta["step"] == 4 and all(np.isfinite(a).all() for a in state["model"] if a.dtype.kind == "f")
    assert not (tmp_path / "samples" / "step_000006.png").exists()


class ExampleGAN(keras.Model):
    """The Keras examples' GAN shape: generator/discriminator attributes, its own compile and train_step."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator, self.generator, self.latent_dim_ = discriminator, generator, latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    def train_step(self, real_images):
        batch = tf.shape(real_images)[0]
        z = keras.random.normal((batch, self.latent_dim_), seed=self.seed_generator)
        combined = tf.concat([self.generator(z), real_images], axis=0)
        labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        z = keras.random.normal((batch, self.latent_dim_), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(tf.zeros((batch, 1)), self.discriminator(self.generator(z)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def _example(seed: int) -> ExampleGAN:
    keras.utils.set_random_seed(seed)
    model = ExampleGAN(seed_discriminator(), seed_generator(12, output_activation="sigmoid"), 12)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy())
    return model


def test_callback_on_keras_example_gan_and_restore(tmp_path):
    model = _example(0)
    mon = Monitor(tmp_path, every_n_steps=2, checkpoint_every=4, progress=False)
    model.fit((_x() + 1) / 2, batch_size=16, epochs=1, verbose=0, callbacks=[mon])
    assert mon.fixed_noise.shape == (16, 12)  # latent size read from the generator's Input
    assert mon.value_range == (0.0, 1.0)
    assert len(list((tmp_path / "samples").glob("*.png"))) == 2
    assert [r["step"] for r in _metrics(tmp_path)] == [1, 2, 3, 4]
    saved = [v.numpy().copy() for v in model.variables]
    d_slots = [v.numpy().copy() for v in model.d_optimizer.variables]
    fresh = _example(1)  # different weights, optimizers not yet built
    mon2 = Monitor(tmp_path, resume=True, progress=False, every_n_steps=None, checkpoint_every=None)
    assert mon2.start(fresh) == 4
    for a, b in zip(saved, fresh.variables):
        np.testing.assert_array_equal(a, b.numpy())
    for a, b in zip(d_slots, fresh.d_optimizer.variables):
        np.testing.assert_array_equal(a, b.numpy())
    mon2.end()


def test_hand_written_loop_api(tmp_path):
    keras.utils.set_random_seed(0)
    gen, disc = seed_generator(8), seed_discriminator(activation=None)
    g_opt, d_opt = keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(real):
        noise = tf.random.normal([tf.shape(real)[0], 8])
        with tf.GradientTape() as dt, tf.GradientTape() as gt:
            fake = gen(noise, training=True)
            r, f = disc(real, training=True), disc(fake, training=True)
            d_loss = bce(tf.ones_like(r), r) + bce(tf.zeros_like(f), f)
            g_loss = bce(tf.ones_like(f), f)
        d_opt.apply_gradients(zip(dt.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        g_opt.apply_gradients(zip(gt.gradient(g_loss, gen.trainable_variables), gen.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}

    mon = Monitor(tmp_path, every_n_steps=5, checkpoint_every=5, progress=False)
    start = mon.start(generator=gen, discriminator=disc, d_optimizer=d_opt, g_optimizer=g_opt, total_steps=10)
    assert start == 0
    x = _x(16)
    for step in range(start + 1, 11):
        assert mon.step(step, train_step(x)) is True
    assert mon.step(11, {"d_loss": float("inf"), "g_loss": 1.0}) is False
    mon.end()
    assert mon.events[-1]["kind"] == "nonfinite"
    assert [r["step"] for r in _metrics(tmp_path)] == list(range(1, 12))
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000005.png", "step_000010.png"]
    state, extra, meta = Checkpointer(tmp_path / "checkpoints").load_latest()
    assert meta["step"] == 10 and set(state) == {"generator", "discriminator", "d_optimizer", "g_optimizer"}
    np.testing.assert_array_equal(extra["fixed_noise"], mon.fixed_noise)
    with pytest.raises(RuntimeError, match="start"):
        mon.step(12, {})


def test_health_checker_rules():
    hc = HealthChecker(dominance_patience=3)
    winning = {"d_loss": 0.01, "g_loss": 6.0, "d_real": 0.999, "d_fake": 0.001}
    assert [e for s in range(1, 3) for e in hc.check_logs(s, winning)] == []
    events = hc.check_logs(3, winning)
    assert [e.kind for e in events] == ["discriminator_wins"]
    assert hc.check_logs(4, winning) == []  # warned once per episode
    assert hc.check_logs(5, {"d_real": 0.6, "d_fake": 0.4}) == []
    critic = HealthChecker(dominance_patience=1)
    assert critic.check_logs(1, {"d_real": 30.0, "d_fake": -20.0}) == []  # critic scores: no probability rule
    assert critic.check_diversity(1, 0.01) == []  # untrained generators start uniform: no alarm
    assert critic.check_diversity(2, 0.20) == []
    assert [e.kind for e in critic.check_diversity(3, 0.03)] == ["diversity_collapse"]
    assert critic.check_logs(9, {"d_loss": float("nan")})[0].kind == "nonfinite"


_KILLABLE = textwrap.dedent(
    """
    import sys
    from ganviz.train.recipe.command import train
    train("digits", 100000, sys.argv[1], batch_size=16, sample_every=25, checkpoint_every=40,
          progress=False, report=False, seed=5)
    """
)


@pytest.mark.slow
def test_resume_after_sigkill_has_no_lost_or_duplicated_steps(tmp_path):
    from ganviz.train.recipe.command import train

    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE, str(run)], env=env, stderr=subprocess.PIPE)
    ckpts = Checkpointer(run / "checkpoints")
    deadline = time.monotonic() + 180
    try:

        def work_after_a_checkpoint() -> bool:
            done = [s for s, _ in ckpts.paths()]
            return bool(done) and done[-1] >= 80 and _last_step(run) > done[-1] + 3

        while time.monotonic() < deadline and proc.poll() is None:
            if work_after_a_checkpoint():
                os.kill(proc.pid, signal.SIGSTOP)  # frozen: no checkpoint can land between the look and the kill
                if work_after_a_checkpoint():
                    break
                os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    killed_at = [s for s, _ in ckpts.paths()][-1]
    assert _last_step(run) > killed_at  # work after the checkpoint was lost with the process
    total = killed_at + 30
    result = train("digits", total, run, resume=True, batch_size=16, sample_every=25, checkpoint_every=40,
                   progress=False, report=False, seed=5)  # fmt: skip
    assert result.initial_step == killed_at and result.steps == total
    # Keras reports once per execution: 5 steps here (the common divisor of 25 and 40, at most 8)
    steps = [r["step"] for r in _metrics(run)]
    assert steps == list(range(5, total + 1, 5))
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["kind"] == "resumed" and e["step"] == killed_at for e in events)
    samples = sorted(int(p.stem.split("_")[1]) for p in (run / "samples").glob("step_*.png"))
    assert samples == sorted(set(list(range(25, total + 1, 25)) + [total]))
    with Image.open(run / "progress.gif") as gif:
        assert gif.n_frames == len(samples)


def test_fit_with_steps_per_execution_counts_every_step(tmp_path):
    """compile(steps_per_execution=4): Keras reports every 4th batch; the Monitor still counts all steps."""
    keras.utils.set_random_seed(0)
    gan = GAN(seed_generator(16), seed_discriminator(), latent_dim=16, seed=0)
    gan.compile(steps_per_execution=4)
    mon = Monitor(tmp_path, every_n_steps=5, checkpoint_every=6, progress=False)
    gan.fit(_x(96), batch_size=8, epochs=1, verbose=0, callbacks=[mon])  # 12 steps, 3 calls
    assert [r["step"] for r in _metrics(tmp_path)] == [4, 8, 12]
    samples = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert samples == ["step_000008.png", "step_000012.png"]  # multiples of 5 were crossed at 8 and 12
    assert mon.global_step == 12 and int(gan.noise_counter.numpy()) == 12
