"""``ganviz plot MODEL_FILE`` against ``keras.saving.load_model`` + ``plot_model``: whole processes, same run.

Each measurement is one fresh Python process, started and reaped here: wall time is measured around
the whole process (interpreter start, imports, reading the file, layout, writing the SVG), peak
memory is the ``ru_maxrss`` that ``os.wait4`` reports for it (the largest resident set of the
process and of the children it waited for, such as Graphviz's ``dot``). Each tool runs ``--repeat``
times, interleaved, and the medians are reported.

The model is ``keras.applications.ResNet50(weights=None)``, saved once as ``.keras`` and as legacy
``.h5`` under ``benchmarks/_work`` (cached). Keras's plot_model needs pydot and a system ``dot``:
``benchmarks/debian_graphviz.sh`` unpacks Debian's Graphviz into ``benchmarks/_work``, which only
the baseline gets on its PATH (ganviz uses whatever its backend finds, as a user's install would).

Usage: python benchmarks/bench_file.py [--repeat 3]   (writes benchmarks/results/file.json)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"
RESULTS = HERE / "results"
GV_ROOT = WORK / "graphviz-debian" / "root"
GANVIZ = ROOT / ".venv" / "bin" / "ganviz"
FORMATS = ("keras", "h5")

SAVE = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras
model = keras.applications.ResNet50(weights=None)
for path in sys.argv[1:]:
    model.save(path)
print(len(model.layers), model.count_params())
"""

BASELINE = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import keras
model = keras.saving.load_model(sys.argv[1])
keras.utils.plot_model(model, sys.argv[2])
"""


def model_file(fmt: str) -> Path:
    return WORK / f"resnet50.{fmt}"


def ensure_models() -> None:
    """Build and save ResNet50 (``weights=None``) once, in a separate process; later runs reuse it."""
    missing = [model_file(fmt) for fmt in FORMATS if not model_file(fmt).exists()]
    if not missing:
        return
    print(f"saving ResNet50 to {', '.join(p.name for p in missing)} ...", flush=True)
    tmp = [p.with_name(f"tmp_{p.name}") for p in missing]
    subprocess.run([sys.executable, "-c", SAVE, *map(str, tmp)], check=True)
    for t, p in zip(tmp, missing):
        t.replace(p)


def baseline_env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if not (GV_ROOT / "usr/bin/dot").exists():
        subprocess.run(["bash", str(HERE / "debian_graphviz.sh")], check=True)
    lib = GV_ROOT / "usr/lib/x86_64-linux-gnu"
    env["PATH"] = f"{GV_ROOT / 'usr/bin'}:{env['PATH']}"
    env["LD_LIBRARY_PATH"] = str(lib)
    env["GVBINDIR"] = str(lib / "graphviz")
    return env


def measure(cmd: list[str], env: dict[str, str], out: Path, timeout: float) -> dict:
    """Run ``cmd`` as one process; its wall time, peak RSS (MiB) and whether it wrote an SVG."""
    out.unlink(missing_ok=True)
    log = out.with_suffix(".stderr")
    with log.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while True:  # os.wait4 reaps the child and returns its own rusage; poll to honour the timeout
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                return {"seconds": None, "peak_mib": None, "error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.001)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    stderr = log.read_text(encoding="utf-8", errors="replace")
    result: dict = {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "error": None}
    if proc.returncode != 0:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        result["error"] = f"exit {proc.returncode}: {tail[:160]}"
    elif not out.exists() or b"<svg" not in out.read_bytes()[:4096]:
        result["error"] = "no SVG written"
    else:  # the drawing, not just the file: Graphviz marks each node's group with class="node"
        result["svg_bytes"] = out.stat().st_size
        result["svg_nodes"] = out.read_text(encoding="utf-8", errors="replace").count('class="node')
    return result


def bench(fmt: str, repeat: int, timeout: float) -> dict:
    path = model_file(fmt)
    ganviz_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    tools = {
        "ganviz": ([str(GANVIZ), "plot", str(path), "-o", str(WORK / f"file_{fmt}_ganviz.svg")], ganviz_env),
        "keras": ([sys.executable, "-c", BASELINE, str(path), str(WORK / f"file_{fmt}_keras.svg")], baseline_env()),
    }
    runs: dict[str, list[dict]] = {tool: [] for tool in tools}
    for i in range(repeat):  # interleaved, so drift on a shared machine hits both tools alike
        for tool, (cmd, env) in tools.items():
            out = Path(cmd[-1])
            res = measure(cmd, env, out, timeout)
            runs[tool].append(res)
            print(f"{fmt:6s} {tool:7s} run {i + 1}: {res}", flush=True)
    row: dict = {"format": fmt, "file_bytes": path.stat().st_size}
    for tool, results in runs.items():
        ok = [r for r in results if not r["error"]]
        row[tool] = {
            "runs": results,
            "seconds": statistics.median(r["seconds"] for r in ok) if ok else None,
            "peak_mib": statistics.median(r["peak_mib"] for r in ok) if ok else None,
            "error": None if ok else results[-1]["error"],
        }
    g, k = row["ganviz"], row["keras"]
    row["speedup"] = k["seconds"] / g["seconds"] if g["seconds"] and k["seconds"] else None
    row["memory_ratio"] = k["peak_mib"] / g["peak_mib"] if g["peak_mib"] and k["peak_mib"] else None
    return row


def _cell(res: dict) -> str:
    if res["seconds"] is None:
        return f"fails: {(res['error'] or '')[:60]}"
    return f"{res['seconds']:.2f} s, {res['peak_mib']:.0f} MiB"


def table(rows: list[dict]) -> str:
    """Markdown table: medians of each tool, and how many times faster and leaner ganviz is."""
    lines = [
        "| file | keras load_model + plot_model (SVG) | `ganviz plot` (SVG) | speed-up | memory ratio |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        speed = f"{r['speedup']:.1f}x" if r["speedup"] else "—"
        memory = f"{r['memory_ratio']:.1f}x" if r["memory_ratio"] else "—"
        size = f"resnet50.{r['format']} ({r['file_bytes'] / 2**20:.0f} MiB)"
        lines.append(f"| {size} | {_cell(r['keras'])} | {_cell(r['ganviz'])} | {speed} | {memory} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and file (medians are reported)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before one run counts as failed")
    ap.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not GANVIZ.exists():
        print(f"{GANVIZ} not found: run `make setup` first", file=sys.stderr)
        return 2
    ensure_models()
    rows = [bench(fmt, args.repeat, args.timeout) for fmt in args.formats]
    payload = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": os.uname().machine,
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "model": "keras.applications.ResNet50(weights=None)",
        "peak_memory": "ru_maxrss from os.wait4: the process, or the largest child it waited for",
        "rows": rows,
    }
    (RESULTS / "file.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
