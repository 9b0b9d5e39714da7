"""Training speed of ``ganviz.GAN`` on the JAX or PyTorch backend against a hand-written loop of the seed's step.

Run with ``KERAS_BACKEND=jax`` or ``KERAS_BACKEND=torch`` (TensorFlow is never imported). Every
variant trains the seed's generator and discriminator (``ganviz.train.models``) on the same random
images in [-1, 1], batch 128, in the same process, each after its own warm-up:

- ``hand loop``: what a user writes without ganviz. JAX: one ``jax.jit`` step with
  ``stateless_call`` and ``optimizer.stateless_apply`` (Keras's "customizing fit() with JAX"
  pattern). PyTorch: a plain loop with ``loss.backward()`` and ``torch.optim.Adam``. The seed's
  alternating non-saturating BCE step, no penalty.
- ``GAN.fit, plain``: ``ganviz.GAN(..., r1_weight=0, ema=None)``: the same maths as the hand loop.
- ``GAN.fit, defaults``: ``ganviz.GAN(...)``: the recipe of the backend (R1 and the EMA generator
  where its step has them).
- ``GAN.fit, defaults + Monitor``: as ``ganviz train`` runs its default 3000 steps (a grid every
  152 steps, a checkpoint every 600: ``recipe.options.default_intervals``).

Rates are steps per second over ``--steps`` steps, best and median of ``--rounds``; ratios are
against the hand loop of the same round. CPU ms/step is the process's CPU time (all threads) per
step over the same steps: on a machine shared with other work it moves less than the wall-clock rate. ``benchmarks/gpu_rows.sh`` runs this on a GPU machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402

import ganviz  # noqa: E402
from ganviz.train.models import seed_discriminator, seed_generator  # noqa: E402
from ganviz.train.recipe.options import DEFAULTS, default_intervals  # noqa: E402

BACKEND = keras.backend.backend()
LATENT = 100
RUN_STEPS = DEFAULTS["steps"]  # the Monitor's intervals are those of a default `ganviz train` run (3000 steps)


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


def _device() -> str:
    if BACKEND == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def hand_loop_jax(images: np.ndarray, batch: int, steps: int) -> tuple[float, float]:
    """The seed's step in one ``jax.jit`` function; steps/s and CPU ms/step over ``steps`` steps after a warm-up."""
    import jax
    import jax.numpy as jnp

    keras.utils.set_random_seed(0)
    g, d = seed_generator(LATENT), seed_discriminator(activation=None)
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_opt.build(g.trainable_variables)
    d_opt.build(d.trainable_variables)

    def bce(logits: Any, target: float) -> Any:
        return jnp.mean(jax.nn.softplus(-logits) if target else jax.nn.softplus(logits))

    @jax.jit
    def step(state: Any, real: Any, key: Any) -> Any:
        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov = state
        k1, k2 = jax.random.split(key)
        z = jax.random.normal(k1, (real.shape[0], LATENT))
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)

        def d_loss(d_tv: Any, d_ntv: Any) -> Any:
            r, d_ntv = d.stateless_call(d_tv, d_ntv, real, training=True)
            f, d_ntv = d.stateless_call(d_tv, d_ntv, fake, training=True)
            return bce(r, 1) + bce(f, 0), d_ntv

        (_, d_ntv), grads = jax.value_and_grad(d_loss, has_aux=True)(d_tv, d_ntv)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)

        def g_loss(g_tv: Any, g_ntv: Any) -> Any:
            z2 = jax.random.normal(k2, (real.shape[0], LATENT))
            fake, g_ntv = g.stateless_call(g_tv, g_ntv, z2, training=True)
            f, _ = d.stateless_call(d_tv, d_ntv, fake, training=True)
            return bce(f, 1), g_ntv

        (_, g_ntv), grads = jax.value_and_grad(g_loss, has_aux=True)(g_tv, g_ntv)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov

    state = tuple(
        [v.value for v in vs]
        for vs in (g.trainable_variables, g.non_trainable_variables, d.trainable_variables,
                   d.non_trainable_variables, g_opt.variables, d_opt.variables)
    )  # fmt: skip
    batches = [jnp.asarray(images[i : i + batch]) for i in range(0, len(images) - batch + 1, batch)]
    key = jax.random.key(0)
    for i in range(5):  # compile and warm up
        state = step(state, batches[i % len(batches)], jax.random.fold_in(key, i))
    jax.block_until_ready(state)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        state = step(state, batches[i % len(batches)], jax.random.fold_in(key, 1000 + i))
    jax.block_until_ready(state)
    return steps / (time.perf_counter() - t0), 1e3 * (time.process_time() - c0) / steps


def hand_loop_torch(images: np.ndarray, batch: int, steps: int) -> tuple[float, float]:
    """The seed's step as a plain PyTorch loop (``backward``, ``torch.optim.Adam``)."""
    import torch

    keras.utils.set_random_seed(0)
    g, d = seed_generator(LATENT), seed_discriminator(activation=None)
    g_params = [v.value for v in g.trainable_variables]
    d_params = [v.value for v in d.trainable_variables]
    g_opt = torch.optim.Adam(g_params, lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.999))
    device = g_params[0].device
    batches = [torch.as_tensor(images[i : i + batch], device=device) for i in range(0, len(images) - batch + 1, batch)]
    sp = torch.nn.functional.softplus

    def one(i: int) -> None:
        real = batches[i % len(batches)]
        z = torch.randn(real.shape[0], LATENT, device=device)
        fake = g(z, training=True)
        d_opt.zero_grad(set_to_none=True)
        loss = sp(-d(real, training=True)).mean() + sp(d(fake.detach(), training=True)).mean()
        loss.backward()
        d_opt.step()
        g_opt.zero_grad(set_to_none=True)
        z = torch.randn(real.shape[0], LATENT, device=device)
        sp(-d(g(z, training=True), training=True)).mean().backward()
        g_opt.step()

    for i in range(5):
        one(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        one(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0), 1e3 * (time.process_time() - c0) / steps


class _Timer(keras.callbacks.Callback):
    """Steps per second of one ``fit`` from the optimizer's step count (after the first batch: compile time)."""

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        steps = int(keras.ops.convert_to_numpy(self.model.g_optimizer.iterations))
        if not hasattr(self, "t0"):
            self.t0, self.c0, self.s0 = time.perf_counter(), time.process_time(), steps
        self.t1, self.c1, self.s1 = time.perf_counter(), time.process_time(), steps

    def rate(self) -> tuple[float, float]:
        done = max(self.s1 - self.s0, 1)
        return (self.s1 - self.s0) / max(self.t1 - self.t0, 1e-9), 1e3 * (self.c1 - self.c0) / done


def fit_rate(
    images: np.ndarray, batch: int, steps: int, *, monitor: bool = False, **options: Any
) -> tuple[float, float]:
    keras.utils.set_random_seed(0)
    gan = ganviz.GAN(seed_generator(LATENT), seed_discriminator(), latent_dim=LATENT, seed=0, **options)
    gan.compile()
    per_epoch = len(images) // batch
    timer = _Timer()
    callbacks: list[Any] = [timer]
    grid, ckpt = default_intervals(RUN_STEPS)  # as `ganviz train` samples and checkpoints its default run
    with tempfile.TemporaryDirectory() as run:
        if monitor:
            callbacks.append(
                ganviz.Monitor(run, every_n_steps=grid, checkpoint_every=ckpt, progress=False, diagrams=False)
            )
        epochs = max(1, round((steps + per_epoch) / per_epoch))
        gan.fit(images, batch_size=batch, epochs=epochs, verbose=0, callbacks=callbacks)
    return timer.rate()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--images", type=int, default=8192)
    p.add_argument("--out", default=None, help="JSON results (default benchmarks/results/backends_<backend>.json)")
    args = p.parse_args(argv)
    if BACKEND not in ("jax", "torch"):
        print(f"bench_backends: set KERAS_BACKEND to jax or torch (got {BACKEND!r})", file=sys.stderr)
        return 2
    images = _images(args.images)
    hand = hand_loop_jax if BACKEND == "jax" else hand_loop_torch
    variants = {
        "hand loop": lambda: hand(images, args.batch_size, args.steps),
        "GAN.fit, plain": lambda: fit_rate(images, args.batch_size, args.steps, r1_weight=0.0, ema=None),
        "GAN.fit, defaults": lambda: fit_rate(images, args.batch_size, args.steps),
        "GAN.fit, defaults + Monitor": lambda: fit_rate(images, args.batch_size, args.steps, monitor=True),
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(args.rounds):
        for name, run in variants.items():
            rate, ms = run()
            rates[name].append(rate)
            cpu[name].append(ms)
            print(f"round {r + 1}: {name}: {rate:.1f} steps/s, {ms:.2f} CPU ms/step", flush=True)
    rows = []
    for name, values in rates.items():
        ratios = [v / h for v, h in zip(values, rates["hand loop"])]
        cpu_ratios = [h / c for c, h in zip(cpu[name], cpu["hand loop"])]
        rows.append({"variant": name, "best": max(values), "median": statistics.median(values),
                     "vs_hand_best": max(values) / max(rates["hand loop"]), "vs_hand_median": statistics.median(ratios),
                     "vs_hand_best_round": max(ratios), "cpu_ms_best": min(cpu[name]),
                     "cpu_vs_hand_median": statistics.median(cpu_ratios)})  # fmt: skip
    result = {"backend": BACKEND, "device": _device(), "keras": keras.__version__, "batch_size": args.batch_size,
              "steps": args.steps, "rounds": args.rounds, "rows": rows, "rates": rates, "cpu_ms": cpu}  # fmt: skip
    out = Path(args.out or Path(__file__).parent / "results" / f"backends_{BACKEND}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(
        "\n| backend | device | variant | steps/s (best) | vs hand loop (best / median of rounds) |"
        " per-round ratio (best) | CPU ms/step (best) | vs hand loop, CPU time (median of rounds) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {BACKEND} | {result['device']} | {row['variant']} | {row['best']:.1f} | "
              f"{row['vs_hand_best']:.2f}x / {row['vs_hand_median']:.2f}x | {row['vs_hand_best_round']:.2f}x | "
              f"{row['cpu_ms_best']:.2f} | {row['cpu_vs_hand_median']:.2f}x |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
