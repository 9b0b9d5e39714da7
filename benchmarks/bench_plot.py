"""ganviz.plot_model against keras.utils.plot_model: time and peak memory, same models, same run.

Each (model, tool) pair runs in a fresh subprocess that builds the model first and then times the
plot call alone. Peak memory is the larger of the process's high-water-mark growth during the call
and the peak RSS of the Graphviz child process it started. Keras's plot_model needs pydot and a
system ``dot``: ``benchmarks/debian_graphviz.sh`` unpacks Debian's Graphviz 2.43 into
``benchmarks/_work`` (no root install), which this script puts on the baseline's PATH only.

Usage: python benchmarks/bench_plot.py [--quick]   (writes benchmarks/results/plot.json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
RESULTS = HERE / "results"
GV_ROOT = WORK / "graphviz-debian" / "root"

CASES = ["seed_generator", "seed_discriminator", "nested_gan", "resnet50", "resnet50_nested", "deep_1000", "odd_names"]

CHILD = r"""
import json, os, resource, sys, threading, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.setrecursionlimit(20000)  # Keras's own graph walk recurses once per layer of a 1,000-layer model
sys.path.insert(0, {here!r})
from bench_models import build
case, tool, out = sys.argv[1], sys.argv[2], sys.argv[3]
model = build(case)

# Child processes (Graphviz) are measured by their own VmHWM read from /proc while they run:
# RUSAGE_CHILDREN would count the parent's pages that a fork shares before exec.
child_peak = {{}}
stop = threading.Event()
def watch():
    me = str(os.getpid())
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{{pid}}/status") as f:
                    st = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            if st.get("PPid", "").strip() == me and "VmHWM" in st and not st.get("Name", "").strip().startswith("python"):
                kb = int(st["VmHWM"].split()[0])
                child_peak[pid] = max(child_peak.get(pid, 0), kb)
        time.sleep(0.002)
watcher = threading.Thread(target=watch, daemon=True)
watcher.start()
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
err = None
try:
    if tool == "ganviz":
        import ganviz
        ganviz.plot_model(model, to_file=out, show_shapes=True, show_layer_names=True, expand_nested=True)
    else:
        import keras
        keras.utils.plot_model(model, to_file=out, show_shapes=True, show_layer_names=True, expand_nested=True)
    ok = os.path.exists(out) and os.path.getsize(out) > 0
    if not ok:
        err = "no output file written"
except BaseException as exc:
    err = (type(exc).__name__ + ": " + str(exc)).strip().splitlines()[0][:160]
dt = time.perf_counter() - t0
stop.set()
watcher.join()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
own = (rss1 - rss0) / 1024
child = max(child_peak.values(), default=0) / 1024
print("RESULT " + json.dumps({{"seconds": dt, "peak_mib": own + child, "own_mib": own, "child_mib": child,
                              "error": err, "layers": len(model.layers)}}))
"""


def run_case(case: str, tool: str, fmt: str, timeout: float) -> dict:
    out = WORK / f"{case}_{tool}.{fmt}"
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    if tool == "keras" and (GV_ROOT / "usr/bin/dot").exists():
        env["PATH"] = f"{GV_ROOT / 'usr/bin'}:{env['PATH']}"
        env["LD_LIBRARY_PATH"] = str(GV_ROOT / "usr/lib/x86_64-linux-gnu")
        env["GVBINDIR"] = str(GV_ROOT / "usr/lib/x86_64-linux-gnu/graphviz")
    code = CHILD.format(here=str(HERE))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, case, tool, str(out)], capture_output=True, text=True, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "peak_mib": None, "error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"seconds": None, "peak_mib": None, "error": f"crashed (exit {proc.returncode}): {tail[:160]}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the ResNet50 cases")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if not (args.quick and c.startswith("resnet"))]
    rows = []
    for case in cases:
        row = {"case": case}
        for tool, fmt in (("keras", "png"), ("ganviz", "png"), ("ganviz_svg", "svg")):
            res = run_case(case, "ganviz" if tool.startswith("ganviz") else "keras", fmt, args.timeout)
            row[tool] = res
            print(f"{case:20s} {tool:11s} {res}", flush=True)
        rows.append(row)
    payload = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": os.uname().machine,
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    (RESULTS / "plot.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print()
    print(table(rows))
    return 0


def _fmt(res: dict) -> str:
    if res.get("error"):
        return f"fails: {res['error'][:70]}"
    return f"{res['seconds']:.2f} s, {res['peak_mib']:.0f} MiB"


def table(rows: list[dict]) -> str:
    """Markdown table of a run: both tools, and the speed ratio where both worked."""
    lines = [
        "| model | layers | keras plot_model (PNG) | ganviz (PNG) | ganviz (SVG) | speed-up (PNG) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        k, g, s = r["keras"], r["ganviz"], r["ganviz_svg"]
        ratio = f"{k['seconds'] / g['seconds']:.1f}x" if not k.get("error") and not g.get("error") else "—"
        layers = g.get("layers") or k.get("layers") or ""
        lines.append(f"| {r['case']} | {layers} | {_fmt(k)} | {_fmt(g)} | {_fmt(s)} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
