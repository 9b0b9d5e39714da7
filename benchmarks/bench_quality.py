"""Sample quality of training recipes on the seed's models (digits), over several seeds, in one run.

Each recipe trains the seed's MLP generator and discriminator on the embedded digits for a fixed
number of steps; every run keeps an EMA copy of the generator, so each recipe is scored twice: its
raw generator and its EMA generator (FID on the project's digit classifier, class coverage).

Usage: python benchmarks/bench_quality.py [--steps 3000] [--seeds 0 1 2] [--recipes base ttur ...]
Writes benchmarks/results/quality.json (after every run) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "RECIPES"]

HERE = Path(__file__).resolve().parent

# recipe -> GAN options (ema is always on, both generators are scored) and compile/batch options
RECIPES: dict[str, dict[str, Any]] = {
    "defaults": {"ema": "GAN's own"},  # ganviz.GAN()'s defaults: with bce R1 (1.0) and the EMA generator (0.999)
    "base": {},  # the seed's recipe: no penalty (r1_weight=0 is set for every recipe that does not name one)
    "ttur": {"d_lr": 4e-4, "g_lr": 1e-4},
    "r1": {"r1_weight": 1.0},  # on batch // 8 real images (GAN's r1_shrink default); simultaneous updates
    "r1_alternating": {"r1_weight": 1.0, "updates": "alternating"},  # D first, then G through the updated D
    "base_alternating": {"updates": "alternating"},
    "r1_full_batch": {"r1_weight": 1.0, "r1_shrink": 1},
    "label_smoothing": {"label_smoothing": 0.1},
    "batch_256": {"batch_size": 256},
    "no_beta2": {"beta_2": 0.99},
}


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--out", type=Path, default=HERE / "results" / "quality.json")
    return p.parse_args(argv)


def run_recipe(name: str, seed: int, *, steps: int, batch_size: int, ema: float) -> dict[str, Any]:
    """Train one recipe with one seed; return its scores (raw and EMA generator) and its time."""
    import keras

    from ganviz.train import data as data_mod
    from ganviz.train.gan.tf_backend import GAN
    from ganviz.train.models import seed_discriminator, seed_generator
    from ganviz.train.quality import sample_quality

    opts = dict(RECIPES[name])
    bs = int(opts.pop("batch_size", batch_size))
    d_lr, g_lr, beta_2 = opts.pop("d_lr", 2e-4), opts.pop("g_lr", 2e-4), opts.pop("beta_2", 0.999)
    keras.utils.set_random_seed(seed)
    if opts.pop("ema", None) is None:  # every other recipe: the EMA copy only to score it, R1 only when named
        opts.setdefault("r1_weight", 0.0)
        opts["ema"] = ema
    gan = GAN(seed_generator(100), seed_discriminator(), latent_dim=100, seed=seed, **opts)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(d_lr, beta_1=0.5, beta_2=beta_2),
        g_optimizer=keras.optimizers.Adam(g_lr, beta_1=0.5, beta_2=beta_2),
    )
    ds = data_mod.to_dataset(data_mod.digits(), bs, seed=seed)
    t0 = time.perf_counter()
    gan.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - t0
    raw = sample_quality(gan.generator, data="digits")
    smooth = sample_quality(gan.ema_generator, data="digits")
    return {
        "recipe": name,
        "seed": seed,
        "steps": steps,
        "batch_size": bs,
        "train_seconds": seconds,
        "raw": raw["generated"],
        "ema": smooth["generated"],
        "real": raw["real"],
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per recipe and generator: mean FID, worst FID, mean coverage, runs with all 10 classes."""
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(r["recipe"] for r in runs):
        rs = [r for r in runs if r["recipe"] == name]
        for kind in ("raw", "ema"):
            fids = [r[kind]["fid"] for r in rs]
            out[f"{name}/{kind}"] = {
                "runs": len(rs),
                "fid_mean": statistics.fmean(fids),
                "fid_max": max(fids),
                "coverage_mean": statistics.fmean(r[kind]["coverage"] for r in rs),
                "all_classes": sum(r[kind]["coverage"] >= 1.0 for r in rs),
                "seconds_mean": statistics.fmean(r["train_seconds"] for r in rs),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every recipe with every seed; return 0."""
    args = _args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    runs: list[dict[str, Any]] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name in args.recipes:
            runs.append(run_recipe(name, seed, steps=args.steps, batch_size=args.batch_size, ema=args.ema))
            r = runs[-1]
            print(f"{name} seed {seed}: raw FID {r['raw']['fid']:.2f} cov {r['raw']['coverage']:.2f}, "
                  f"EMA FID {r['ema']['fid']:.2f} cov {r['ema']['coverage']:.2f} ({r['train_seconds']:.0f} s)", flush=True)  # fmt: skip
            summary = summarize(runs)
            args.out.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2) + "\n")
    real = statistics.fmean(r["real"]["fid"] for r in runs)
    print(f"\n{args.steps} steps, seeds {args.seeds}; real held-out digits: FID {real:.2f}\n")
    print("| recipe | generator | FID mean | FID worst | coverage | 10/10 classes | train s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for key, s in summarize(runs).items():
        name, kind = key.split("/")
        print(f"| {name} | {kind} | {s['fid_mean']:.2f} | {s['fid_max']:.2f} | {s['coverage_mean']:.2f} | "
              f"{s['all_classes']}/{s['runs']} | {s['seconds_mean']:.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
