"""Trace plus render of the seven published GAN patterns: seconds from GAN to PNG, against a plain trace.

The baseline is TensorFlow alone tracing the same step (``tf.function(...).get_concrete_function``),
measured in the same run: ``trace / plain`` is what ganviz's recording and analysis cost on top.
The first trace in a process pays TensorFlow's one-off graph machinery, so both the first call
and the median of the following ones are reported. Importing TensorFlow is not counted.
Target: trace + render (median) under 1 s for each system. A third column traces with TensorFlow's
real gradients (``record.REAL_GRADIENTS``), as ganviz did before its stand-in gradients, in the same run.
A fourth is what ``verify=True`` adds to a trace: ``verify_trace`` given the trace, that is a second
trace with real gradients and updates, one real step, saving and restoring every variable, and the
checks. The 20 systems of ``tests/fixtures/trace_corpus.py`` follow the seven published ones (a
corpus system named like a published one is ``<name> (corpus)``).

Usage: python benchmarks/bench_trace.py [--repeats 5] [--verify-repeats 2]   (writes benchmarks/results/trace.json)
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


def _trace(entry):
    from ganviz.extract.step_trace import trace_gan, trace_step

    if entry.kind == "gan":
        return trace_gan(entry.system, data=entry.data)
    return trace_step(entry.system, *entry.data)


def _plain(entry) -> float:
    """TensorFlow alone tracing the same step (nothing runs, nothing is recorded)."""
    import tensorflow as tf

    from ganviz.extract.step_trace.find import to_spec, unwrap

    fn = entry.system.train_step if entry.kind == "gan" else unwrap(entry.system)
    args = (entry.data,) if entry.kind == "gan" else tuple(entry.data)
    specs = tuple(to_spec(a) for a in args)
    t0 = time.perf_counter()
    tf.function(fn, autograph=False).get_concrete_function(*specs)
    return time.perf_counter() - t0


def _real_gradients_trace(entry) -> float:
    """The trace with TensorFlow building the real gradient graphs (ganviz before stand-in gradients)."""
    from ganviz.extract.step_trace import record

    record.REAL_GRADIENTS = True
    try:
        t0 = time.perf_counter()
        _trace(entry)
        return time.perf_counter() - t0
    finally:
        record.REAL_GRADIENTS = False


def _verify_cost(entry, trace) -> float:
    """What ``verify=True`` adds to a trace: the real step, its save/restore and the checks."""
    import warnings

    from ganviz.extract.step_trace.verify import verify_trace

    args = (entry.data,) if entry.kind == "gan" else tuple(entry.data)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = verify_trace(entry.system, *args, trace=trace)
    elapsed = time.perf_counter() - t0
    if not checked.verified.holds:
        print(f"  {entry.name}: {checked.verified.verdict()}", flush=True)
    return elapsed


def _once(entry, out: Path) -> tuple[float, float]:
    from ganviz.api import plot_gan

    t0 = time.perf_counter()
    trace = _trace(entry)
    t1 = time.perf_counter()
    plot_gan(trace, out)
    return t1 - t0, time.perf_counter() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--verify-repeats", type=int, default=2)
    args = ap.parse_args()
    from fixtures import trace_corpus as corpus
    from fixtures import zoo_published

    systems = dict(zoo_published.PUBLISHED)
    for name, build in corpus.CORPUS.items():  # the corpus's gan_ada and pix2pix are others than the zoo's
        systems[f"{name} (corpus)" if name in systems else name] = build
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in systems.items():
            entry = build()
            first = _once(entry, Path(tmp) / f"{name}.png")
            rest = [_once(entry, Path(tmp) / f"{name}.png") for _ in range(args.repeats)]
            plain = statistics.median(_plain(entry) for _ in range(args.repeats))
            real = statistics.median(_real_gradients_trace(entry) for _ in range(args.repeats))
            traced = _trace(entry)
            verify = statistics.median(_verify_cost(entry, traced) for _ in range(max(1, args.verify_repeats)))
            row = {
                "system": name,
                "plain_trace_s": plain,
                "real_gradients_trace_s": real,
                "verify_s": verify,
                "first_trace_s": first[0],
                "first_render_s": first[1],
                "trace_s": statistics.median(r[0] for r in rest),
                "render_s": statistics.median(r[1] for r in rest),
            }
            row["total_s"] = row["trace_s"] + row["render_s"]
            row["trace_vs_plain"] = row["trace_s"] / plain
            row["first_total_s"] = first[0] + first[1]
            rows.append(row)
            print(row, flush=True)
    out = HERE / "results" / "trace.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "rows": rows}
    out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(
        "\n| system | first trace + render | plain TF trace (baseline) | trace, real gradients | ganviz trace |"
        " trace / plain | render to PNG | trace + render | verify adds |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['system']} | {r['first_total_s']:.2f} s | {r['plain_trace_s']:.2f} s |"
            f" {r['real_gradients_trace_s']:.2f} s | {r['trace_s']:.2f} s |"
            f" {r['trace_vs_plain']:.1f}× | {r['render_s']:.2f} s | {r['total_s']:.2f} s | {r['verify_s']:.2f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
