"""Trace plus render of whole GAN systems (DCGAN, CycleGAN, WGAN-GP): seconds from model to PNG.

The first trace in a process pays TensorFlow's one-off graph machinery, so both the first call
and the median of the following ones are reported. Importing TensorFlow is not counted.

Usage: python benchmarks/bench_trace.py [--repeats 5]   (writes benchmarks/results/trace.json)
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the GAN zoo the tests use (tests/fixtures)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SYSTEMS = ("dcgan", "cyclegan", "wgan_gp")


def _once(entry, out: Path) -> tuple[float, float]:
    from ganviz.api import render
    from ganviz.extract.step_trace import trace_gan

    t0 = time.perf_counter()
    trace = trace_gan(entry.system, data=entry.data)
    t1 = time.perf_counter()
    render(trace, out)
    return t1 - t0, time.perf_counter() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from fixtures import gan_zoo

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SYSTEMS:
            entry = getattr(gan_zoo, name)()
            first = _once(entry, Path(tmp) / f"{name}.png")
            rest = [_once(entry, Path(tmp) / f"{name}.png") for _ in range(args.repeats)]
            row = {
                "system": name,
                "first_trace_s": first[0],
                "first_render_s": first[1],
                "trace_s": statistics.median(r[0] for r in rest),
                "render_s": statistics.median(r[1] for r in rest),
            }
            row["total_s"] = row["trace_s"] + row["render_s"]
            row["first_total_s"] = first[0] + first[1]
            rows.append(row)
            print(row, flush=True)
    out = HERE / "results" / "trace.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "rows": rows}
    out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print("\n| system | first trace + render | trace (median) | render to PNG (median) | total (median) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['system']} | {r['first_total_s']:.2f} s | {r['trace_s']:.2f} s | {r['render_s']:.2f} s |"
            f" {r['total_s']:.2f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
