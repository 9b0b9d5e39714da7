"""Huge but valid ``.keras`` files: a fan-out (one input feeds N layers), a chain, and a nested fan-out.

Each measurement is a fresh process that reads the file (``file_to_graph``) and, with ``--svg``,
draws it as ``ganviz plot -o x.svg`` does (``render_bytes``: Graphviz, or the compact layout above
3,000 boxes; an engine gets ganviz's usual 120 s). Wall time per phase and the process's peak memory
(``ru_maxrss`` from ``os.wait4``, children included) are reported for each size, with the ratio
to the smallest size: a linear step doubles when N doubles, a quadratic one quadruples.
``--src`` runs another checkout's sources (e.g. the code before a fix) in the same run.

Usage: python benchmarks/bench_huge_files.py [--sizes 25000 50000 100000] [--svg] [--src PATH]
       (writes benchmarks/results/huge_files[_LABEL].json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT / "tests" / "hostile"))

from model_files import chain_config, fanout_config, nested_fanout_config, write_keras  # noqa: E402

KINDS = {"fanout": fanout_config, "chain": chain_config, "nested": nested_fanout_config}

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from ganviz.extract.keras_file import file_to_graph
g = file_to_graph(sys.argv[1], expand_nested=True)
t1 = time.perf_counter()
out = {"read_s": t1 - t0, "nodes": len(g.nodes), "edges": len(g.edges)}
if sys.argv[2] == "svg":
    import resource
    out["read_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from ganviz.render.formats import render_bytes
    try:
        svg = render_bytes(g, "svg")  # what `ganviz plot -o x.svg` does after reading
        out["svg_bytes"] = len(svg)
        out["layout"] = "compact" if b"compact layout" in svg[:2000] else "graphviz"
    except Exception as exc:
        out["svg_error"] = str(exc)[:200]
    out["svg_s"] = time.perf_counter() - t1
import resource
own, kids = (resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
out["peak_mb"] = max(own, kids) / 1024  # this process, or the engine it ran, whichever was bigger
print(json.dumps(out))
"""


def measure(path: Path, src: Path, svg: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src), TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), "svg" if svg else "read"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}", "wall_s": wall}
    row = json.loads(out.strip().splitlines()[-1])
    row["wall_s"] = wall
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    ap.add_argument("--svg", action="store_true", help="also draw each file to SVG")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the ganviz sources to run")
    ap.add_argument("--label", default="", help="suffix of the results file, e.g. 'before'")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            base = None
            for n in args.sizes:
                path = write_keras(Path(tmp) / f"{kind}_{n}.keras", KINDS[kind](n))
                row = {"kind": kind, "layers": n, "file_kb": path.stat().st_size / 1024}
                row.update(measure(path, args.src, args.svg))
                base = base or row
                if "read_s" in row and "read_s" in base:
                    row["read_ratio"] = row["read_s"] / base["read_s"]
                rows.append(row)
                print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    RESULTS.mkdir(exist_ok=True)
    name = f"huge_files{'_' + args.label if args.label else ''}.json"
    (RESULTS / name).write_text(json.dumps({"src": str(args.src), "rows": rows}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
