"""#13.5, #13.6 and the hostile-file corpus, through the command line in a limited subprocess."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from corpus import MARKER_NAME, build_corpus
from harness import assert_refused, run_batch, run_cli, snapshot
from model_files import chain_config, fanout_config, nested_fanout_config, write_keras


def test_hostile_corpus_one_line_or_a_drawing_nothing_run_nothing_written_elsewhere(tmp_path: Path) -> None:
    files = build_corpus(tmp_path / "files", tmp_path / MARKER_NAME)
    (tmp_path / "out").mkdir()
    before = snapshot(tmp_path / "files")
    jobs = [["plot", str(p), "-o", str(tmp_path / "out" / f"{name}.svg")] for name, p in files.items()]
    results = run_batch(jobs, cwd=tmp_path, timeout=240, mem_mb=3072)
    refused = 0
    for (name, _), res in zip(files.items(), results):
        assert "Traceback" not in res.err, (name, res.err[-2000:])
        assert res.rc in (0, 2), (name, res.rc, res.err)
        svg = tmp_path / "out" / f"{name}.svg"
        if res.rc == 2:
            refused += 1
            assert_refused(res)
            assert not svg.exists(), name
        else:
            ET.parse(svg)  # a complete, well-formed SVG
            assert "<script>" not in svg.read_text(encoding="utf-8"), name
    assert refused >= 10  # the bombs, deep JSON, wrong types, garbage and truncated files
    assert not (tmp_path / MARKER_NAME).exists(), "a Lambda's bytecode ran"
    assert snapshot(tmp_path / "files") == before  # nothing read was changed or deleted
    outside = {p.name for p in tmp_path.iterdir()} - {"files", "out", "home"}
    assert not outside and not list((tmp_path / "home").iterdir()), outside
    assert not list(tmp_path.parent.glob("escape.txt")) and not Path("/abs/path.txt").exists()


@pytest.mark.parametrize("make", ["fifo", "folder"])
def test_a_fifo_or_folder_named_like_a_model_file_is_refused_at_once(tmp_path: Path, make: str) -> None:
    target = tmp_path / "x.keras"
    if make == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    res = run_cli(["plot", str(target), "-o", str(tmp_path / "x.svg")], cwd=tmp_path, timeout=30)
    line = assert_refused(res, "x.keras")
    assert ("not a regular file" if make == "fifo" else "is a folder") in line
    assert "not found" not in line


def test_file_to_graph_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    from ganviz.errors import ModelFileError
    from ganviz.extract.keras_file import file_to_graph

    fifo = tmp_path / "pipe.keras"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        file_to_graph(fifo)  # opening a FIFO for reading would block this test forever


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "config"), [("fanout", fanout_config), ("nested", nested_fanout_config), ("chain", chain_config)]
)
def test_30k_layer_files_read_and_draw_in_bounded_time(tmp_path: Path, kind: str, config: object) -> None:
    """The nested fan-out was quadratic (20k layers: 43 s); 30k now reads and draws to DOT well inside the limit."""
    path = write_keras(tmp_path / f"{kind}.keras", config(30_000))  # type: ignore[operator]
    out = tmp_path / f"{kind}.dot"
    res = run_cli(["plot", str(path), "-o", str(out), "--expand-nested"], cwd=tmp_path, timeout=120, mem_mb=3072)
    assert res.rc == 0, res.err[-2000:]
    assert out.read_text(encoding="utf-8").count("->") >= 30_000


def test_a_file_too_big_for_graphviz_draws_compact_svg_and_refuses_png_in_one_line(tmp_path: Path) -> None:
    """#13.5, drawing: above 3,000 boxes the SVG is ganviz's compact layout; a PNG is refused, nothing written."""
    from ganviz.render.big_layout import COMPACT_NODES

    path = write_keras(tmp_path / "fan.keras", fanout_config(COMPACT_NODES + 500))
    svg = tmp_path / "fan.svg"
    res = run_cli(["plot", str(path), "-o", str(svg)], cwd=tmp_path, timeout=120, mem_mb=3072)
    assert res.rc == 0, res.err[-2000:]
    root = ET.parse(svg).getroot()
    boxes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if (g.get("class") or "").startswith("node ")]
    assert len(boxes) == COMPACT_NODES + 501 and b"compact layout" in svg.read_bytes()[:3000]
    png = tmp_path / "fan.png"
    res = run_cli(["plot", str(path), "-o", str(png)], cwd=tmp_path, timeout=120, mem_mb=3072)
    assert_refused(res, f"{COMPACT_NODES + 501:,} boxes is too many for PNG", ".svg or .html", "--depth")
    assert not png.exists()
