"""Interactive page for a 1,000-layer model: page size and time until drawn in headless Chromium.

Run: ``.venv/bin/python benchmarks/bench_html.py [--layers 1000] [--repeat 3]``; writes
``benchmarks/results/html.json``. Targets (issue 6): under 5 MB and under 2 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ganviz.ir import Graph, GraphBuilder, collapse_to_depth
from ganviz.render.backend import render_dot
from ganviz.render.dot import graph_to_dot
from ganviz.render.html import graph_to_html

RESULTS = Path(__file__).resolve().parent / "results" / "html.json"


def chain_model(layers: int, blocks: int = 10) -> Graph:
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    graph = chain_model(args.layers)
    t0 = time.perf_counter()
    views = {
        "depth 0": render_dot(graph_to_dot(collapse_to_depth(graph, 0), show_shapes=True), "svg").decode(),
        "all levels": render_dot(graph_to_dot(graph, show_shapes=True), "svg").decode(),
    }
    t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    page = graph_to_html(graph, views=views, initial_view="all levels")
    t_html = time.perf_counter() - t0
    size = len(page.encode("utf-8"))

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    draw: list[float] = []
    load: list[float] = []
    if exe:
        from playwright.sync_api import sync_playwright

        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
            path = Path(tmp) / "page.html"
            path.write_text(page, encoding="utf-8")
            browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
            for _ in range(args.repeat):
                p = browser.new_page(viewport={"width": 1280, "height": 800})
                errors: list[str] = []
                p.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                start = time.perf_counter()
                p.goto(path.as_uri())
                p.wait_for_function("window.ganviz && window.ganviz.drawnAt !== null", timeout=60_000)
                load.append(time.perf_counter() - start)
                draw.append(p.evaluate("window.ganviz.drawnAt") / 1000)  # ms since navigation start
                if errors:
                    raise SystemExit(f"page errors: {errors}")
                p.close()
            browser.close()
    result = {
        "layers": args.layers,
        "nodes": len(graph.nodes),
        "views": list(views),
        "page_bytes": size,
        "page_mb": round(size / 1e6, 3),
        "svg_render_s": round(t_render, 3),
        "graph_to_html_s": round(t_html, 3),
        "chromium": exe,
        "draw_s_median": round(statistics.median(draw), 3) if draw else None,
        "draw_s_all": [round(x, 3) for x in draw],
        "wall_until_drawn_s_median": round(statistics.median(load), 3) if load else None,
        "targets": {"page_mb": 5, "draw_s": 2},
        "machine": f"{platform.machine()} {platform.system()} python {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    ok = result["page_mb"] < 5 and (result["draw_s_median"] is None or result["draw_s_median"] < 2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
