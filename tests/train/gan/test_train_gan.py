"""ganviz.GAN: every loss trains, logs the right values, is seeded, and runs under MirroredStrategy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ganviz.train.gan.tf_backend import GAN, ends_with_sigmoid, normalize_loss  # noqa: E402
from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402


def _tiny(latent: int = 8, d_activation: str | None = "sigmoid") -> tuple[keras.Model, keras.Model]:
    g = keras.Sequential(
        [keras.Input((latent,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(64, activation="tanh"),
         keras.layers.Reshape((8, 8, 1))], name="generator")  # fmt: skip
    d = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
         keras.layers.Dense(1, activation=d_activation)], name="discriminator")  # fmt: skip
    return g, d


def _real(n: int = 32) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, 8, 8, 1)).astype("float32")


@pytest.mark.parametrize("loss", ["bce", "lsgan", "hinge", "wgan-gp"])
def test_each_loss_trains_and_logs(loss):
    keras.utils.set_random_seed(0)
    g, d = _tiny(d_activation="sigmoid" if loss in ("bce", "lsgan") else None)
    gan = GAN(g, d, latent_dim=8, loss=loss, d_steps=2 if loss == "wgan-gp" else 1, seed=3)
    gan.compile()
    before = [w.copy() for w in g.get_weights()]
    hist = gan.fit(_real(), batch_size=8, epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in hist.history.items()}
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.array_equal(a, b) for a, b in zip(before, g.get_weights()))
    assert int(gan.g_optimizer.iterations.numpy()) == 4
    assert int(gan.d_optimizer.iterations.numpy()) == 4 * gan.d_steps
    assert int(gan.noise_counter.numpy()) == 4
    if gan.score_kind == "probability":
        assert 0.0 <= logs["d_real"] <= 1.0 and 0.0 <= logs["d_fake"] <= 1.0


def test_bce_detects_sigmoid_and_matches_logits_model():
    """A sigmoid discriminator and the same one without sigmoid (from_logits) give the same losses."""
    keras.utils.set_random_seed(1)
    g, d = _tiny()
    assert ends_with_sigmoid(d) and not ends_with_sigmoid(_tiny(d_activation=None)[1])
    gp = GAN(g, d, latent_dim=8, seed=5)
    assert gp.from_logits is False and gp.score_kind == "probability"
    d2 = _tiny(d_activation=None)[1]
    d2.set_weights(d.get_weights())
    g2 = keras.models.clone_model(g)
    g2.set_weights(g.get_weights())
    gl = GAN(g2, d2, latent_dim=8, seed=5)
    assert gl.from_logits is True
    sgd = keras.optimizers.SGD
    gp.compile(d_optimizer=sgd(0.01), g_optimizer=sgd(0.01))
    gl.compile(d_optimizer=sgd(0.01), g_optimizer=sgd(0.01))
    x = _real(16)
    a = gp.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    b = gl.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_saturated_probabilities_stay_finite():
    keras.utils.set_random_seed(2)
    g, d = _tiny()
    d.layers[-1].bias.assign([60.0])  # sigmoid(60) == 1.0 in float32: naive log(1 - p) is -inf
    gan = GAN(g, d, latent_dim=8, seed=0)
    gan.compile()
    hist = gan.fit(_real(8), batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(hist["d_loss"][-1]) and hist["d_loss"][-1] > 50


def test_jit_compile_and_seeded_reproducibility():
    def run(jit: bool) -> dict:
        keras.utils.set_random_seed(7)
        g, d = _tiny()
        gan = GAN(g, d, latent_dim=8, seed=11)
        # SGD: Adam's first steps amplify float rounding in near-zero gradients into visible differences
        sgd = keras.optimizers.SGD
        gan.compile(d_optimizer=sgd(0.05), g_optimizer=sgd(0.05), jit_compile=jit)
        return gan.fit(_real(), batch_size=8, epochs=1, verbose=0, shuffle=False).history

    a, b = run(False), run(False)
    assert a == b
    # XLA's stateless RNG draws other numbers than the CPU kernel, so XLA runs are compared with each other
    c, d = run(True), run(True)
    assert c == d and set(c) == set(a)
    assert all(np.isfinite(v[-1]) for v in c.values())


def test_bad_arguments():
    g, d = _tiny()
    with pytest.raises(ValueError, match="unknown GAN loss 'wgan'"):
        GAN(g, d, latent_dim=8, loss="wgan")
    with pytest.raises(ValueError, match="d_steps"):
        GAN(g, d, latent_dim=8, d_steps=0)
    assert normalize_loss("LS") == "lsgan"
    gan = GAN(g, d, latent_dim=8)
    with pytest.raises(RuntimeError, match="compile"):
        gan.train_step(_real(4))


def test_seed_models_shapes():
    g, d = seed_generator(16, output_activation="sigmoid"), seed_discriminator(activation=None)
    assert g.output_shape == (None, 28, 28, 1) and d.output_shape == (None, 1)
    assert [layer.name for layer in g.layers][:2] == ["dense", "leaky_re_lu"]
    with pytest.raises(ValueError, match="output_activation"):
        seed_generator(output_activation="relu")


_MIRRORED = textwrap.dedent(
    """
    import json, sys
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from ganviz.train.gan.tf_backend import GAN
    from ganviz.train.models import seed_generator, seed_discriminator
    from ganviz.train.monitor.callback import Monitor
    from ganviz.train.data import to_dataset
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        gan = GAN(seed_generator(8), seed_discriminator(), latent_dim=8, seed=1)
        gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    mon = Monitor(sys.argv[1], every_n_steps=2, checkpoint_every=3, progress=False)
    hist = gan.fit(to_dataset(x, 16), steps_per_epoch=3, epochs=1, verbose=0, callbacks=[mon])
    w = gan.discriminator.trainable_variables[0]
    per_replica = [v.numpy() for v in getattr(w, "value", w).values]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "logs": {k: float(v[-1]) for k, v in hist.history.items()},
        "in_sync": bool(np.array_equal(per_replica[0], per_replica[1])),
        "steps": int(gan.noise_counter.numpy()),
        "g_iters": int(gan.g_optimizer.iterations.numpy()),
    }))
    """
)


def test_mirrored_strategy_two_logical_cpus(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", _MIRRORED, str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and out["in_sync"] is True
    assert out["steps"] == 3 and out["g_iters"] == 3
    assert all(np.isfinite(v) for v in out["logs"].values()) and 0 <= out["logs"]["d_real"] <= 1
    assert (tmp_path / "run" / "samples" / "step_000002.png").exists()
    assert (tmp_path / "run" / "checkpoints" / "ckpt_00000003.npz").exists()


def _pair(**options) -> tuple[GAN, GAN]:
    """Two GANs with the same weights and options."""
    keras.utils.set_random_seed(4)
    g, d = _tiny()
    g2, d2 = keras.models.clone_model(g), keras.models.clone_model(d)
    g2.set_weights(g.get_weights())
    d2.set_weights(d.get_weights())
    return GAN(g, d, latent_dim=8, seed=2, **options), GAN(g2, d2, latent_dim=8, seed=2, **options)


def _weights(gan: GAN) -> list[np.ndarray]:
    return [np.asarray(v) for v in gan.generator.weights + gan.discriminator.weights]


def test_one_discriminator_call_on_real_and_fake_matches_two_calls():
    joint, split = _pair(r1_weight=1.0)
    assert joint.joint_discriminator
    split.joint_discriminator = False
    for gan in (joint, split):
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    a = joint.fit(_real(16), batch_size=8, epochs=2, verbose=0, shuffle=False).history
    b = split.fit(_real(16), batch_size=8, epochs=2, verbose=0, shuffle=False).history
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5)
    for x, y in zip(_weights(joint), _weights(split)):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_discriminator_with_batch_statistics_is_called_twice():
    d = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.BatchNormalization(),
                          keras.layers.Dense(1)])  # fmt: skip
    assert not GAN(_tiny()[0], d, latent_dim=8).joint_discriminator


def test_r1_penalty_changes_the_discriminator_update():
    plain, r1 = _pair()
    r1.r1_weight = 10.0
    for gan in (plain, r1):
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
    a = plain.fit(_real(8), batch_size=8, epochs=1, verbose=0).history
    b = r1.fit(_real(8), batch_size=8, epochs=1, verbose=0).history
    assert b["d_loss"][-1] > a["d_loss"][-1]  # the logged loss includes the (positive) penalty
    d_a, d_b = plain.discriminator.get_weights(), r1.discriminator.get_weights()
    assert any(not np.allclose(x, y) for x, y in zip(d_a, d_b))


def test_label_smoothing_aims_real_images_at_one_minus_epsilon():
    gan = GAN(*_tiny(d_activation=None), latent_dim=8, label_smoothing=0.1)
    r, f = np.array([[2.0]], "float32"), np.array([[-1.0]], "float32")
    loss, _, _ = gan._d_losses(r, f)
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    np.testing.assert_allclose(float(loss[0]), 0.9 * sp(-2.0) + 0.1 * sp(2.0) + sp(-1.0), rtol=1e-6)


def test_ema_generator_follows_the_generator_with_warm_up():
    keras.utils.set_random_seed(5)
    g, d = _tiny()
    gan = GAN(g, d, latent_dim=8, seed=1, ema=0.999)
    start = [w.copy() for w in gan.ema_generator.get_weights()]
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    gan.fit(_real(8), batch_size=8, epochs=1, verbose=0)
    # first update: decay min(0.999, (1 + 0) / (10 + 0)) = 0.1
    for e, s, w in zip(gan.ema_generator.get_weights(), start, g.get_weights()):
        np.testing.assert_allclose(e, 0.1 * s + 0.9 * w, rtol=1e-5, atol=1e-6)
    assert gan.sampler is gan.ema_generator and not gan.ema_generator.trainable
    np.testing.assert_allclose(gan.sample(3, seed=0), gan.ema_generator(
        np.random.default_rng(0).standard_normal((3, 8)).astype("float32")), rtol=1e-6)  # fmt: skip
    assert gan.get_config()["ema"] == 0.999


def test_new_options_are_checked():
    g, d = _tiny()
    with pytest.raises(ValueError, match="ema must be a decay"):
        GAN(g, d, latent_dim=8, ema=1.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        GAN(g, d, latent_dim=8, label_smoothing=0.7)
    with pytest.raises(ValueError, match="r1_weight"):
        GAN(g, d, latent_dim=8, r1_weight=-1)


def test_fast_defaults_and_exact_step_counts_on_arrays():
    keras.utils.set_random_seed(6)
    gan = GAN(*_tiny(), latent_dim=8, seed=0)
    gan.compile(steps_per_execution=8)
    assert gan.steps_per_execution == 8
    # 40 images at batch 8: 5 steps an epoch; 8 steps per call would overrun, so 5 run per call
    hist = gan.fit(_real(40), batch_size=8, epochs=3, verbose=0)
    assert len(hist.history["d_loss"]) == 3
    assert int(gan.g_optimizer.iterations.numpy()) == 15 and int(gan.noise_counter.numpy()) == 15
    assert gan.steps_per_execution == 5
    gan.fit(_real(64), batch_size=8, epochs=1, verbose=0)  # 8 steps an epoch: back to 8 per call
    assert gan.steps_per_execution == 8 and int(gan.noise_counter.numpy()) == 23
