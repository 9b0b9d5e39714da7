"""Training speed in one run: the seed's eager loop, the seed's loop in tf.function (with and without XLA),
ganviz.GAN.fit with its defaults (and with Keras's), with the Monitor writing a grid every epoch, and on an
in-memory array of small epochs; plus the sample quality reached after a fixed step budget.

Usage: python benchmarks/bench_train.py [--steps 600] [--rounds 3] [--quality-steps 3000] [--device cpu|gpu|auto]
Writes benchmarks/results/train.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
MNIST = HERE.parents[1] / "shared" / "data" / "mnist"  # ../shared beside the checkout


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=600, help="timed steps per compiled variant and round")
    p.add_argument("--eager-steps", type=int, default=60, help="timed steps of the eager loop per round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best round counts")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data", default=f"mnist:{MNIST}" if MNIST.exists() else "digits")
    p.add_argument("--quality-steps", type=int, default=3000, help="0 skips the sample-quality run")
    p.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    p.add_argument("--out", type=Path, default=HERE / "results" / "train.json")
    return p.parse_args(argv)


class _Timer:
    """Times fit() from the end of its first step to the end of its last (compile and teardown excluded)."""

    def __init__(self) -> None:
        import keras

        class CB(keras.callbacks.Callback):
            def on_train_begin(cb, logs: Any = None) -> None:  # noqa: N805
                self.first = None
                self.n = 0

            def on_epoch_begin(cb, epoch: int, logs: Any = None) -> None:  # noqa: N805
                cb.prev = -1

            def on_train_batch_end(cb, batch: int, logs: Any = None) -> None:  # noqa: N805
                # batch is the last batch index of the call: with steps_per_execution=N it moves by N
                now, cpu = time.perf_counter(), time.process_time()
                ran, cb.prev = batch - cb.prev, batch
                if self.first is None:
                    self.first, self.first_cpu = now, cpu
                else:
                    self.n += ran
                self.last, self.last_cpu = now, cpu

        self.callback = CB()
        self.first: float | None = None
        self.last = self.first_cpu = self.last_cpu = 0.0
        self.n = 0

    def rate(self) -> tuple[float, float]:
        """(steps per second of wall time, milliseconds of process CPU time per step: all threads)."""
        if self.n <= 0:
            return float("nan"), float("nan")
        return self.n / (self.last - (self.first or self.last)), 1e3 * (self.last_cpu - self.first_cpu) / self.n


def _seed_step(generator: Any, discriminator: Any, latent_dim: int) -> Any:
    """The seed's Example 3 step, fed real data."""
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.BinaryCrossentropy()
    g_opt = keras.optimizers.Adam(learning_rate=0.0002)
    d_opt = keras.optimizers.Adam(learning_rate=0.0002)

    def step(real: Any) -> Any:
        batch = tf.shape(real)[0]
        noise = tf.random.normal([batch, latent_dim])
        generated = generator(noise)
        real_labels, fake_labels = tf.ones((batch, 1)), tf.zeros((batch, 1))
        with tf.GradientTape() as tape:
            disc_loss = cross_entropy(real_labels, discriminator(real)) + cross_entropy(
                fake_labels, discriminator(generated)
            )
        grads = tape.gradient(disc_loss, discriminator.trainable_variables)
        d_opt.apply_gradients(zip(grads, discriminator.trainable_variables))
        with tf.GradientTape() as tape:
            gen_loss = cross_entropy(real_labels, discriminator(generator(noise)))
        grads = tape.gradient(gen_loss, generator.trainable_variables)
        g_opt.apply_gradients(zip(grads, generator.trainable_variables))
        return disc_loss, gen_loss

    return step


def _loop_rate(step: Any, batches: Any, n: int) -> tuple[float, float]:
    """(steps per second, CPU milliseconds per step) of a hand-written loop over ``batches``."""
    it = iter(batches)
    out = step(next(it))  # warm-up / trace
    float(out[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        out = step(next(it))
    float(out[0])
    return n / (time.perf_counter() - t0), 1e3 * (time.process_time() - c0) / n


def _monitor_costs(gan: Any, monitor_cls: Any, folder: str, n: int = 5000) -> tuple[float, float]:
    """Time the Monitor's own work without training: (per-step microseconds, milliseconds per grid)."""
    gan.compile()
    mon = monitor_cls(Path(folder) / "costs", every_n_steps=None, checkpoint_every=None, progress=True)
    mon.start(gan, total_steps=n + 10)
    logs = {"d_loss": 1.0, "g_loss": 0.7, "d_real": 0.6, "d_fake": 0.4}
    t0 = time.perf_counter()
    for s in range(1, n + 1):
        mon.step(s, logs)
    step_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for s in range(10):
        mon.write_grid(n + s + 1)
    grid_ms = (time.perf_counter() - t0) / 10 * 1e3
    mon.end()
    return step_us, grid_ms


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0."""
    args = _args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from ganviz.train import data as data_mod
    from ganviz.train.gan import fused_steps
    from ganviz.train.gan.base import BCE_RECIPE
    from ganviz.train.gan.tf_backend import GAN
    from ganviz.train.models import seed_discriminator, seed_generator
    from ganviz.train.monitor.callback import Monitor
    from ganviz.train.quality import sample_quality
    from ganviz.train.recipe.command import DEFAULTS

    images = data_mod.load(args.data)
    bs, latent = args.batch_size, 100
    per_epoch = len(images) // bs
    ds = data_mod.to_dataset(images, bs, seed=0)

    def models(seed: int = 0) -> tuple[Any, Any]:
        keras.utils.set_random_seed(seed)
        return seed_generator(latent), seed_discriminator()

    digits = data_mod.digits()
    digits_ds = data_mod.to_dataset(digits, bs, seed=0)

    def fit_rate(
        jit: bool | str,
        monitor_dir: str | None,
        spe: int | None = None,
        r1: float = 0.0,
        ema: float | None = None,
        updates: str = "auto",
        fused: bool = True,
    ) -> tuple[float, float]:
        gan = GAN(*models(), latent_dim=latent, seed=0, r1_weight=r1, ema=ema, updates=updates)
        gan.compile(jit_compile=jit, steps_per_execution=spe)
        # fused=False: Keras's own loop, which launches the compiled step once per step
        with contextlib.nullcontext() if fused else mock.patch.object(fused_steps, "can_fuse", lambda model: False):
            gan.fit(ds, steps_per_epoch=per_epoch, epochs=1, verbose=0)  # trace and warm up
            timer = _Timer()
            cbs = [timer.callback]
            if monitor_dir:  # as ganviz train: a grid every steps // 20 (150), a checkpoint every steps // 5 (600)
                cbs.append(Monitor(monitor_dir, every_n_steps=150, checkpoint_every=600, progress=True, diagrams=False))
            epochs = max(1, round(args.steps / per_epoch))
            gan.fit(ds, steps_per_epoch=per_epoch, epochs=epochs, verbose=0, callbacks=cbs)
        return timer.rate()

    def array_rate() -> tuple[float, float]:
        """The README's path: GAN.fit on the in-memory digits array, epochs of len(x) / 128 = 14 steps."""
        gan = GAN(*models(), latent_dim=latent, seed=0)
        gan.compile()
        gan.fit(digits, batch_size=bs, epochs=2, verbose=0)  # trace and warm up
        timer = _Timer()
        epochs = max(2, round(args.steps / math.ceil(len(digits) / bs)))
        gan.fit(digits, batch_size=bs, epochs=epochs, verbose=0, callbacks=[timer.callback])
        return timer.rate()

    seed_xla = "seed loop, tf.function + XLA (the hand-written XLA loop)"
    fit_default = (
        "ganviz.GAN.fit (r1_weight=0, ema=None: alternating updates, XLA, 8 steps per execution in one XLA program)"
    )
    train_like = "ganviz.GAN.fit defaults (R1 + EMA) + Monitor (what ganviz train runs)"
    array_path = "ganviz.GAN.fit(x) on the digits array (README path, GAN's defaults: R1 + EMA, 14 steps an epoch)"
    variants: dict[str, Any] = {
        "seed loop, eager": lambda: _loop_rate(_seed_step(*models(), latent), ds, args.eager_steps),
        "seed loop, tf.function": lambda: _loop_rate(tf.function(_seed_step(*models(), latent)), ds, args.steps),
        seed_xla: lambda: _loop_rate(tf.function(_seed_step(*models(), latent), jit_compile=True), ds, args.steps),
        fit_default: lambda: fit_rate("auto", None),
        "ganviz.GAN.fit (r1_weight=0, ema=None) through Keras's loop (the compiled step launched once per step)": lambda: (
            fit_rate("auto", None, fused=False)
        ),
        "ganviz.GAN.fit, updates='simultaneous'": lambda: fit_rate("auto", None, updates="simultaneous"),
        "ganviz.GAN.fit with Keras's defaults (no XLA on CPU, 1 step per execution)": lambda: fit_rate(False, None, 1),
        "ganviz.GAN.fit + R1 penalty (r1_shrink 8; simultaneous updates)": lambda: fit_rate(
            "auto", None, r1=BCE_RECIPE["r1_weight"]
        ),
        train_like: None,
        "seed loop, tf.function, digits": lambda: _loop_rate(
            tf.function(_seed_step(*models(), latent)), digits_ds, args.steps
        ),
        array_path: array_rate,
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory() as tmp:
        variants[train_like] = lambda: fit_rate("auto", tmp, r1=BCE_RECIPE["r1_weight"], ema=BCE_RECIPE["ema"])
        for r in range(args.rounds):
            for name, fn in variants.items():
                rate, ms = fn()
                rates[name].append(rate)
                cpu[name].append(ms)
                print(f"round {r + 1}: {name}: {rate:.1f} steps/s, {ms:.2f} CPU ms/step", file=sys.stderr)
        step_us, grid_ms = _monitor_costs(
            GAN(*models(), latent_dim=latent, seed=0, r1_weight=0.0, ema=None), Monitor, tmp
        )
    best = {k: max(v) for k, v in rates.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    eager = best["seed loop, eager"]
    compiled = best["seed loop, tf.function"]
    fit = best[fit_default]
    array = best[array_path]
    result: dict[str, Any] = {
        "device": tf.config.list_physical_devices("GPU") and "gpu" or "cpu",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "data": args.data,
        "batch_size": bs,
        "steps_per_epoch": per_epoch,
        "rounds": args.rounds,
        "steps_per_s_best": best,
        "steps_per_s_median": {k: statistics.median(v) for k, v in rates.items()},
        "cpu_ms_per_step_best": best_cpu,
        "ratios": {
            "GAN.fit / seed eager": fit / eager,
            "GAN.fit / seed tf.function": fit / compiled,
            "GAN.fit / seed tf.function + XLA (target 1.2)": fit / best[seed_xla],
            "GAN.fit + R1 + EMA + Monitor (ganviz train) / seed tf.function + XLA (target 1.2)": best[train_like]
            / best[seed_xla],
            "median of per-round ratios, GAN.fit / seed tf.function + XLA": statistics.median(
                a / b for a, b in zip(rates[fit_default], rates[seed_xla])
            ),
            "median of per-round ratios, ganviz train / seed tf.function + XLA": statistics.median(
                a / b for a, b in zip(rates[train_like], rates[seed_xla])
            ),
            "GAN.fit(x) digits array / seed tf.function on digits (target 1.0)": array
            / best["seed loop, tf.function, digits"],
            "CPU per step: seed XLA loop / GAN.fit": best_cpu[seed_xla] / best_cpu[fit_default],
            "CPU per step: seed XLA loop / GAN.fit + R1 + EMA + Monitor": best_cpu[seed_xla] / best_cpu[train_like],
            # contention-free model of the Monitor: per-step bookkeeping plus one grid per 150 steps
            "Monitor overhead (modelled)": (step_us * 1e-6 + grid_ms * 1e-3 / 150) * fit,
        },
        "monitor_costs": {"per_step_us": step_us, "grid_ms": grid_ms},
    }
    if args.quality_steps:
        gan = GAN(*models(0), latent_dim=latent, seed=0)
        gan.compile()
        digits = data_mod.digits()
        t0 = time.perf_counter()
        qbs = DEFAULTS["batch_size"]
        gan.fit(data_mod.to_dataset(digits, qbs, seed=0), steps_per_epoch=args.quality_steps, epochs=1, verbose=0)
        result["quality"] = {
            "data": "digits",
            "steps": args.quality_steps,
            "batch_size": qbs,
            "train_seconds": time.perf_counter() - t0,
            **sample_quality(gan.generator, data="digits"),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{result['machine']}, {result['device']}, batch {bs}, data {args.data} (best of {args.rounds} rounds)\n")
    print("| variant | steps/s | vs eager | CPU ms/step |\n|---|---:|---:|---:|")
    for k, v in best.items():
        print(f"| {k} | {v:.1f} | {v / eager:.1f}x | {best_cpu[k]:.2f} |")
    r = result["ratios"]
    for k, v in r.items():
        print(f"- {k}: {v:.2f}")
    print(
        f"\nMonitor overhead, modelled: {r['Monitor overhead (modelled)'] * 100:.1f}% "
        f"({step_us:.1f} us/step + {grid_ms:.1f} ms per grid)"
    )
    if "quality" in result:
        q = result["quality"]
        print(f"\n| sample quality (digits, {q['steps']} steps) | FID | coverage | confidence |\n|---|---:|---:|---:|")
        for k in ("generated", "real"):
            print(f"| {k} | {q[k]['fid']:.2f} | {q[k]['coverage']:.2f} | {q[k]['confidence']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
