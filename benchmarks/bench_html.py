"""Interactive page for a 1,000-layer model: page size and time until drawn in headless Chromium.

Two cases, both through the public API: a real Keras model (a Sequential chain of 1,000 Dense
layers, extracted live, through ``plot_model(..., to_file="x.html")``) and a hand-made IR chain of
1,000 layers in 10 nested blocks (so its page holds two views), through ``render``.

Run: ``.venv/bin/python benchmarks/bench_html.py [--layers 1000] [--repeat 3]``; writes
``benchmarks/results/html.json`` and prints a markdown table. Targets (issue 6): under 5 MB and under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ganviz.api import plot_model, render
from ganviz.ir import Graph, GraphBuilder

RESULTS = Path(__file__).resolve().parent / "results" / "html.json"
TARGET_MB, TARGET_S = 5.0, 2.0
# Set on <html> once the diagram is drawn (a selector: the page's CSP blocks eval-based waiting).
DRAWN = "html[data-gv-ready='1']"


def chain_graph(layers: int, blocks: int = 10) -> Graph:
    """``layers`` Dense layers in ``blocks`` nested models, so the page has a depth-0 and a full view."""
    b = GraphBuilder(f"chain_{layers}")
    prev = b.add_node("input_layer", kind="input", class_name="InputLayer", output_shapes=((None, 64),))
    per = max(1, layers // blocks)
    for i in range(layers):
        if i % per == 0:
            block = b.add_cluster(f"block_{i // per}", class_name="Sequential", params=per * 4160)
        cur = b.add_node(
            f"dense_{i}",
            class_name="Dense",
            parent=block,
            input_shapes=((None, 64),),
            output_shapes=((None, 64),),
            params=4160,
            trainable_params=4160,
            activation="relu",
            details={"config": {"units": 64, "activation": "relu", "use_bias": True}},
        )
        b.add_edge(prev, cur)
        prev = cur
    return b.build()


def dense_chain_model(layers: int, units: int = 16) -> Any:
    """A real Keras Sequential of ``layers`` Dense layers (Keras maps it recursively: raise the limit)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    import keras

    stack: list[Any] = [keras.Input(shape=(units,), name="chain_input")]
    stack += [keras.layers.Dense(units, activation="relu", name=f"dense_{i}") for i in range(layers)]
    return keras.Sequential(stack, name=f"dense_chain_{layers}")


def time_in_chromium(page: Path, exe: str | None, repeat: int) -> dict[str, Any]:
    """Open ``page`` ``repeat`` times; the time from navigation start until the diagram is drawn."""
    if exe is None:
        return {"draw_s_median": None, "draw_s_all": [], "wall_until_drawn_s_median": None}
    from playwright.sync_api import sync_playwright

    draw: list[float] = []
    wall: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(repeat):
            p = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            p.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            p.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            start = time.perf_counter()
            p.goto(page.as_uri())
            p.wait_for_selector(DRAWN, state="attached", timeout=60_000)
            wall.append(time.perf_counter() - start)
            draw.append(p.evaluate("window.ganviz.drawnAt") / 1000)  # ms since navigation start
            if errors:
                raise SystemExit(f"{page.name}: page errors: {errors}")
            p.close()
        browser.close()
    return {
        "draw_s_median": round(statistics.median(draw), 3),
        "draw_s_all": [round(x, 3) for x in draw],
        "wall_until_drawn_s_median": round(statistics.median(wall), 3),
    }


def page_facts(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    return {"page_bytes": size, "page_mb": round(size / 1e6, 3)}


def markdown(cases: list[dict[str, Any]]) -> str:
    rows = [
        "| case | layers | views | page size | make page (Python) | drawn in Chromium (median) | load to drawn |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for c in cases:
        draw = f"{c['draw_s_median']:.2f} s" if c["draw_s_median"] is not None else "n/a"
        wall = f"{c['wall_until_drawn_s_median']:.2f} s" if c["wall_until_drawn_s_median"] is not None else "n/a"
        rows.append(
            f"| {c['case']} | {c['layers']:,} | {', '.join(c['views'])} | {c['page_mb']:.2f} MB "
            f"| {c['make_page_s']:.2f} s | {draw} | {wall} |"
        )
    rows.append(f"\nTargets: page under {TARGET_MB:g} MB, drawn in under {TARGET_S:g} s.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--layers", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    exe = os.environ.get("GANVIZ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

    cases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # A real Keras model through the public API.
        t0 = time.perf_counter()
        model = dense_chain_model(args.layers)
        t_build = time.perf_counter() - t0
        path = Path(tmp) / "keras_chain.html"
        t0 = time.perf_counter()
        diagram = plot_model(model, to_file=path, show_shapes=True)
        t_page = time.perf_counter() - t0
        views = json.loads(path.read_text(encoding="utf-8").split('id="gv-data">', 1)[1].split("</script>", 1)[0])
        cases.append(
            {
                "case": f"Keras Sequential, {args.layers} Dense (plot_model)",
                "layers": args.layers,
                "nodes": len(diagram.graph.nodes),
                "views": [v["label"] for v in views["views"]],
                "build_model_s": round(t_build, 3),
                "make_page_s": round(t_page, 3),
                **page_facts(path),
                **time_in_chromium(path, exe, args.repeat),
            }
        )
        # A hand-made IR chain in nested blocks (two views) through render().
        graph = chain_graph(args.layers)
        path = Path(tmp) / "ir_chain.html"
        t0 = time.perf_counter()
        render(graph, path, show_shapes=True)
        t_page = time.perf_counter() - t0
        cases.append(
            {
                "case": f"IR chain, {args.layers} Dense in 10 nested blocks (render)",
                "layers": args.layers,
                "nodes": len(graph.nodes),
                "views": ["depth 0", "all levels"],
                "make_page_s": round(t_page, 3),
                **page_facts(path),
                **time_in_chromium(path, exe, args.repeat),
            }
        )

    result = {
        "cases": cases,
        "chromium": exe,
        "repeat": args.repeat,
        "targets": {"page_mb": TARGET_MB, "draw_s": TARGET_S},
        "machine": f"{platform.machine()} {platform.system()} python {platform.python_version()}, {os.cpu_count()} CPUs",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(markdown(cases))
    ok = all(c["page_mb"] < TARGET_MB and (c["draw_s_median"] is None or c["draw_s_median"] < TARGET_S) for c in cases)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
