"""Tracing never changes what training does: train after tracing and compare with an untraced twin.

Each test builds the same system twice from the same seeds, traces one of them (a successful trace,
or one that fails midway), then trains both the same way: every weight must be equal bit for bit
and every optimizer must have taken the same number of steps (and more than none).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from fixtures import classic_zoo, gan_zoo  # noqa: E402
from ganviz.errors import TraceError  # noqa: E402
from ganviz.extract.step_trace import trace_gan, trace_step  # noqa: E402

STEPS = 2


def _weights(models: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [np.array(v) for v in m.weights] for name, m in models.items()}


def _iterations(optimizers: dict[str, Any]) -> dict[str, int]:
    return {name: int(o.iterations.numpy()) for name, o in optimizers.items()}


def _assert_twins(a_models: dict[str, Any], b_models: dict[str, Any], a_opts: dict[str, Any], b_opts: dict[str, Any]):
    assert _iterations(a_opts) == _iterations(b_opts)
    assert all(n > 0 for n in _iterations(a_opts).values()), _iterations(a_opts)
    wa, wb = _weights(a_models), _weights(b_models)
    for name in wa:
        assert len(wa[name]) == len(wb[name])
        for i, (x, y) in enumerate(zip(wa[name], wb[name])):
            # TF CPU kernels may sum in another order run to run: a trace that used up the noise differs far more
            assert np.allclose(x, y, rtol=1e-4, atol=1e-6), f"{name} weight {i} differs after tracing"


def _twins(build: Callable[[], Any]) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    a = build()
    keras.utils.set_random_seed(0)
    b = build()
    return a, b


# -- (a) a classic train_on_batch loop ---------------------------------------------------------


def _train_classic(entry: classic_zoo.ClassicEntry) -> None:
    for _ in range(STEPS):
        entry.step(*entry.data)


@pytest.mark.parametrize("name", list(classic_zoo.CLASSIC))
def test_classic_loop_trains_after_tracing_as_its_untraced_twin(name: str) -> None:
    a, b = _twins(classic_zoo.CLASSIC[name])
    keras.utils.set_random_seed(1)  # the step draws its noise from numpy: tracing must not use it up
    trace_step(a.step, *a.data)
    _train_classic(a)
    keras.utils.set_random_seed(1)
    _train_classic(b)
    _assert_twins(a.models, b.models, a.optimizers, b.optimizers)
    if name == "dcgan":
        assert _iterations(a.optimizers) == {"discriminator": 2 * STEPS, "combined": STEPS}


def test_classic_trace_failing_after_train_on_batch_leaves_nothing_behind() -> None:
    def build() -> tuple[Any, Callable[..., Any]]:
        entry = classic_zoo.dcgan()
        valid = np.ones((classic_zoo.BATCH, 1))
        generator, discriminator = entry.models["generator"], entry.models["discriminator"]

        def failing_step(imgs: Any) -> Any:
            discriminator.trainable = True
            d_loss = discriminator.train_on_batch(imgs, valid)
            discriminator.trainable = False
            entry.models["combined"].train_on_batch(np.random.normal(0, 1, (classic_zoo.BATCH, 4)), valid)
            return generator(tf.zeros((1, 4))).numpy(), d_loss  # eager-only: the trace fails here

        return entry, failing_step

    (a, failing), (b, _) = _twins(build)
    keras.utils.set_random_seed(1)
    with pytest.raises(TraceError):
        trace_step(failing, *a.data)
    assert all(m.train_function is None for m in a.compiled.values())  # nothing built is left on the models
    assert not any(o.built for o in a.optimizers.values())
    _train_classic(a)
    keras.utils.set_random_seed(1)
    _train_classic(b)
    _assert_twins(a.models, b.models, a.optimizers, b.optimizers)


# -- (b) a fit-trained GAN with its own train_step ---------------------------------------------


class _LossGAN(gan_zoo.DCGAN):
    """The DCGAN of the zoo, whose discriminator loss goes through the GAN's compiled loss."""

    def compile(self, **kwargs: Any) -> None:  # type: ignore[override]
        super().compile(**kwargs)
        keras.Model.compile(self, loss="binary_crossentropy", metrics=["accuracy"])

    def train_step(self, real_images: Any) -> dict[str, Any]:
        batch_size = tf.shape(real_images)[0]
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(noise)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], 0)
        with tf.GradientTape() as tape:
            scores = self.discriminator(tf.concat([real_images, fake], 0))
            d_loss = self.compute_loss(y=labels, y_pred=scores)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(tf.ones((batch_size, 1)), self.discriminator(self.generator(noise)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def _loss_gan() -> gan_zoo.ZooEntry:
    entry = gan_zoo.dcgan()
    gan = _LossGAN(entry.models["discriminator"], entry.models["generator"], gan_zoo.LATENT_DIM)
    gan.compile(
        d_optimizer=entry.optimizers["d_optimizer"],
        g_optimizer=entry.optimizers["g_optimizer"],
        loss_fn=keras.losses.BinaryCrossentropy(),
    )
    entry.system = gan
    return entry


@pytest.mark.parametrize("build", [gan_zoo.dcgan, _loss_gan], ids=["dcgan", "compiled_loss"])
@pytest.mark.parametrize("when", ["before_fit", "between_fits"])
def test_fit_gan_trains_after_tracing_as_its_untraced_twin(build: Callable[[], Any], when: str) -> None:
    a, b = _twins(build)
    data = np.concatenate([a.data, a.data])

    def fit(entry: gan_zoo.ZooEntry) -> None:
        entry.system.fit(data, batch_size=gan_zoo.BATCH, epochs=1, shuffle=False, verbose=0)

    for entry, traced in ((a, True), (b, False)):
        keras.utils.set_random_seed(1)
        if when == "between_fits":
            fit(entry)
        if traced:
            trace_gan(entry.system, data=entry.data)
        fit(entry)
    _assert_twins(a.models, b.models, a.optimizers, b.optimizers)


# -- (c) hand-written tf.function loops ---------------------------------------------------------


def _nested_step() -> gan_zoo.ZooEntry:
    """The seed step with each model's update in its own ``tf.function``, called from a plain step."""
    generator, discriminator = gan_zoo.seed_models()
    bce = keras.losses.BinaryCrossentropy()
    g_opt, d_opt = keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4)

    @tf.function
    def update_discriminator(real_images: Any, noise: Any) -> Any:
        with tf.GradientTape() as tape:
            real_out = discriminator(real_images)
            fake_out = discriminator(generator(noise))
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        grads = tape.gradient(d_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(grads, discriminator.trainable_variables))
        return d_loss

    @tf.function
    def update_generator(noise: Any) -> Any:
        with tf.GradientTape() as tape:
            fake_out = discriminator(generator(noise))
            g_loss = bce(tf.ones_like(fake_out), fake_out)
        grads = tape.gradient(g_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(grads, generator.trainable_variables))
        return g_loss

    def train_step(real_images: Any) -> Any:
        noise = tf.random.normal((gan_zoo.BATCH, gan_zoo.LATENT_DIM), seed=1)
        return update_discriminator(real_images, noise), update_generator(noise)

    return gan_zoo.ZooEntry(
        "nested",
        train_step,
        (gan_zoo._images(),),
        {"generator": generator, "discriminator": discriminator},
        {"g_optimizer": g_opt, "d_optimizer": d_opt},
        kind="step",
    )


def _tf_step() -> gan_zoo.ZooEntry:
    entry = gan_zoo.seed_step()
    entry.system = tf.function(entry.system)
    return entry


@pytest.mark.parametrize("build", [_tf_step, _nested_step], ids=["tf_function_step", "nested_tf_functions"])
def test_tf_function_loop_trains_after_tracing_as_its_untraced_twin(build: Callable[[], Any]) -> None:
    a, b = _twins(build)
    for entry, traced in ((a, True), (b, False)):
        keras.utils.set_random_seed(1)
        if traced:
            trace_step(entry.system, *entry.data)
        for _ in range(STEPS):
            entry.system(tf.constant(entry.data[0]))
    _assert_twins(a.models, b.models, a.optimizers, b.optimizers)


def test_untraced_twins_agree() -> None:
    """The control: without tracing, two twins train to the same weights bit for bit."""
    a, b = _twins(classic_zoo.dcgan)
    for entry in (a, b):
        keras.utils.set_random_seed(1)
        _train_classic(entry)
    _assert_twins(a.models, b.models, a.optimizers, b.optimizers)


def test_tracing_makes_no_global_seed_generator() -> None:
    """An unseeded ``keras.random`` draw in the step (WGAN-GP's random weighted average) would create
    Keras's global SeedGenerator inside the traced graph; training after the trace makes its own."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    entry = classic_zoo.wgan_gp()
    keras.utils.set_random_seed(1)  # drops the global generator
    trace_step(entry.step, *entry.data)
    assert global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR) is None
