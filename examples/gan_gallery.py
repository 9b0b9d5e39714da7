"""A gallery of seven published GAN training steps, traced and drawn by ganviz (PNG, HTML, JSON).

Our own small versions of the Keras examples ``dcgan_overriding_train_step``, ``wgan_gp``,
``conditional_gan``, ``cyclegan`` and ``gan_ada`` and of the TensorFlow tutorials ``dcgan`` and
``pix2pix`` live in the test zoo (``tests/fixtures/zoo_published.py``); this script traces each step
(nothing is trained, no weight changes) and writes, per system, the one-box-per-call diagram
(PNG), the expanded architecture view (PNG), the interactive page (HTML) and the trace (JSON),
plus an ``index.html`` that links them.

Run: python examples/gan_gallery.py [OUT_DIR]   (default: gan_gallery/)
"""

from __future__ import annotations

import html
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the zoo, in tests/fixtures

from fixtures import zoo_published  # noqa: E402
from ganviz import plot_gan  # noqa: E402
from ganviz.extract.step_trace import trace_gan, trace_step  # noqa: E402

CAPTIONS = {
    "dcgan": "Keras DCGAN (overriding train_step): D on fake+real concatenated, then G through D",
    "wgan_gp": "WGAN-GP: critic ×3 with a gradient penalty on interpolated images, then the generator",
    "conditional_gan": "Conditional GAN: one-hot labels concatenated to the noise and to the images",
    "cyclegan": "CycleGAN: two generators, two discriminators, adversarial + 10×cycle + 5×identity",
    "gan_ada": "GAN-ADA: adaptive augmentation probability and an EMA generator, both set without an optimizer",
    "tf_dcgan": "TensorFlow DCGAN tutorial: global models and optimizers, a @tf.function step",
    "pix2pix": "pix2pix: a two-input discriminator (input_image, target_image), adversarial + 100×L1",
}


def main(out_dir: str = "gan_gallery") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, build in zoo_published.PUBLISHED.items():
        entry = build()
        t0 = time.perf_counter()
        trace = (
            trace_gan(entry.system, data=entry.data) if entry.kind == "gan" else trace_step(entry.system, *entry.data)
        )
        plot_gan(trace, out / f"{name}.png")
        seconds = time.perf_counter() - t0
        plot_gan(trace, out / f"{name}_expanded.png", expand_nested=True)
        plot_gan(trace, out / f"{name}.html")
        plot_gan(trace, out / f"{name}.json")
        rows.append((name, seconds))
        print(f"{name}: trace + PNG {seconds:.2f} s -> {out / (name + '.png')}", flush=True)
    items = "\n".join(
        f'<li><h2>{html.escape(CAPTIONS[n])}</h2><a href="{n}.html"><img src="{n}.png" alt="{n}" width="100%"></a>'
        f'<p><a href="{n}.html">interactive page</a> · <a href="{n}_expanded.png">architectures</a> · '
        f'<a href="{n}.json">trace JSON</a></p></li>'
        for n, _ in rows
    )
    (out / "index.html").write_text(
        f'<!doctype html><meta charset="utf-8"><title>ganviz GAN gallery</title>'
        f"<style>body{{font-family:sans-serif;max-width:1400px;margin:auto}}li{{list-style:none}}</style>"
        f"<h1>Seven published GAN training steps, traced</h1><ul>{items}</ul>\n",
        encoding="utf-8",
    )
    print(f"wrote {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
