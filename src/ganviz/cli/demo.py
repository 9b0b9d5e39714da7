"""The demo behind ``ganviz demo``: the seed's plots, the whole GAN, a short monitored training run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .._io import write_atomic_with
from ..errors import OutputPathError

__all__ = ["run_demo", "DEMO_STEPS", "QUICK_STEPS"]

DEMO_STEPS = 3000  # the `ganviz train` default: with R1, digits of every class (BENCHMARKS.md)
QUICK_STEPS = 150


def _say(msg: str) -> None:
    print(msg, flush=True)


def run_demo(out: Path, *, quick: bool = False, steps: int | None = None) -> dict[str, Path]:
    """Write every demo artefact into ``out`` and return them by name.

    Args:
        out: output folder (created if missing).
        quick: train for a few seconds only.
        steps: override the number of training steps.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(
            f"cannot create demo folder {str(out)!r}: {exc.strerror} (choose another --out)"
        ) from None
    t0 = time.perf_counter()
    _say("ganviz demo: building the seed's generator and discriminator ...")
    import keras

    from ..api import plot_gan, plot_model
    from ..train.gan import gan_class
    from ..train.models import seed_discriminator, seed_generator

    keras.utils.set_random_seed(0)
    latent_dim = 100
    generator = seed_generator(latent_dim)
    discriminator = seed_discriminator()
    made: dict[str, Path] = {}

    # The seed's Examples 1 and 2, drawn by ganviz.
    made["generator plot"] = plot_model(
        generator, to_file=out / "generator_plot.png", show_shapes=True, show_layer_names=True
    ).path  # type: ignore[assignment]
    made["discriminator plot"] = plot_model(
        discriminator, to_file=out / "discriminator_plot.png", show_shapes=True, show_layer_names=True
    ).path  # type: ignore[assignment]

    # The classic combined model D(G(z)), nested and expanded, with the frozen discriminator visible.
    z = keras.Input(shape=(latent_dim,), name="z")
    discriminator.trainable = False
    combined = keras.Model(z, discriminator(generator(z)), name="combined_gan")
    made["nested D(G(z)) plot"] = plot_model(
        combined,
        to_file=out / "gan_nested_plot.png",
        show_shapes=True,
        show_layer_names=True,
        expand_nested=True,
        show_trainable=True,
    ).path  # type: ignore[assignment]
    made["interactive nested D(G(z)) page"] = plot_model(
        combined, to_file=out / "gan_nested.html", show_shapes=True, show_layer_names=True, show_trainable=True
    ).path  # type: ignore[assignment]
    discriminator.trainable = True

    # The model-file reader: save the generator and draw it back without TensorFlow.
    keras_file = out / "generator.keras"
    write_atomic_with(keras_file, generator.save)
    made["generator from file (SVG)"] = plot_model(
        str(keras_file), to_file=out / "generator_from_file.svg", show_shapes=True, show_layer_names=True
    ).path  # type: ignore[assignment]

    # What the seed calls impossible: the whole GAN in one picture, traced from its train_step.
    _say(f"ganviz demo: tracing one training step of the whole GAN ({keras.backend.backend()}) ...")
    gan = gan_class()(generator, discriminator, latent_dim=latent_dim)  # bce: R1 and the EMA generator
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    )
    from ..extract.step_trace import trace_gan

    system: Any = trace_gan(gan)  # traced once (tf.function, jax.make_jaxpr or fake torch tensors), drawn three ways
    made["whole-GAN system diagram"] = plot_gan(system, to_file=out / "gan_system.png").path  # type: ignore[assignment]
    made["whole-GAN, expanded"] = plot_gan(system, to_file=out / "gan_system_expanded.png", expand_nested=True).path  # type: ignore[assignment]
    made["interactive GAN page"] = plot_gan(system, to_file=out / "gan_system.html").path  # type: ignore[assignment]

    # Training with eyes open on the embedded digits.
    from ..train.recipe.command import train

    n_steps = steps if steps is not None else (QUICK_STEPS if quick else DEMO_STEPS)
    run_dir = out / "run"
    _say(f"ganviz demo: training on the embedded digits for {n_steps} steps (monitor in {run_dir}) ...")
    train(data="digits", steps=n_steps, out=str(run_dir), quick=quick, overwrite=True)  # the demo owns its folder
    from ..train.run.folder import RunFolder

    run = RunFolder(run_dir)
    for name, path in [
        ("sample grids", run.samples),
        ("progress GIF", run.gif),
        ("loss and D(x)/D(G(z)) curves", run.curves),
        ("metrics", run.metrics),
        ("health events", run.events),
        ("checkpoints", run.checkpoints),
        ("training report", run.report),
    ]:
        if path.exists():
            made[name] = path
    _say(f"\nganviz demo: done in {time.perf_counter() - t0:.0f} s. What it made:")
    width = max(len(k) for k in made)
    for name, path in made.items():
        _say(f"  {name:<{width}}  {path}")
    return made
