"""render_dot / available_engines: real renders per engine, parsed; fallback; clear errors."""

from __future__ import annotations

import io
import os
import re
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from fixtures.render_samples import gan_system_graph
from ganviz.errors import RenderBackendError, UnknownFormatError
from ganviz.render import backend
from ganviz.render.backend import ENGINES, available_engines, engine_path, render_dot
from ganviz.render.dot import graph_to_dot

posix_only = pytest.mark.skipif(os.name == "nt", reason="fake engines are shell scripts")
DOT = graph_to_dot(gan_system_graph(), show_shapes=True)


def _svg_size_pt(svg: bytes) -> tuple[float, float]:
    root = ET.fromstring(svg)
    return float(root.get("width", "0").removesuffix("pt")), float(root.get("height", "0").removesuffix("pt"))


def _pdf_facts(pdf: bytes) -> tuple[list[float], tuple[int, int]]:
    """MediaBox of the one page and the size of the image it holds (a minimal PDF reader)."""
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    assert b"startxref" in pdf and re.search(rb"/Type\s*/Page\b", pdf)
    (box,) = re.findall(rb"/MediaBox\s*\[\s*([^\]]*)\]", pdf)
    width = re.search(rb"/Width\s+(\d+)", pdf)
    height = re.search(rb"/Height\s+(\d+)", pdf)
    assert width and height
    return [float(v) for v in box.split()], (int(width.group(1)), int(height.group(1)))


@pytest.mark.backend
@pytest.mark.parametrize("engine", ENGINES)
def test_one_real_render_per_engine(engine: str) -> None:
    if engine_path(engine) is None:
        pytest.skip(f"{engine} is not installed here")
    svg = render_dot(DOT, "svg", engine=engine)
    w_pt, h_pt = _svg_size_pt(svg)
    ids = {g.get("id") for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")}
    assert {"n0", "n3", "n9", "edge-0"} <= ids
    assert w_pt > 100 and h_pt > 100

    png = render_dot(DOT, "png", dpi=144, engine=engine)
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        assert im.format == "PNG"
        assert abs(im.width - w_pt * 2) <= 4 and abs(im.height - h_pt * 2) <= 4  # 144 dpi = 2 px per pt

    pdf = render_dot(DOT, "pdf", dpi=100, engine=engine)
    box, _ = _pdf_facts(pdf)
    assert abs(box[2] - w_pt) <= 3 and abs(box[3] - h_pt) <= 3  # page = the diagram's natural size


@pytest.mark.backend
def test_pdf_from_png_is_a_real_page_of_the_right_size() -> None:
    if engine_path("graphviz-pure") is None:
        pytest.skip("graphviz-pure is not installed here")
    pdf = render_dot(DOT, "pdf", dpi=72, engine="graphviz-pure")
    box, (w_px, h_px) = _pdf_facts(pdf)
    png = render_dot(DOT, "png", dpi=72, engine="graphviz-pure")
    with Image.open(io.BytesIO(png)) as im:
        assert (w_px, h_px) == im.size
    assert box[:2] == [0.0, 0.0] and abs(box[2] - w_px) < 0.5 and abs(box[3] - h_px) < 0.5


def test_graphviz_pure_is_found_beside_the_interpreter() -> None:
    beside = Path(sys.executable).parent / "graphviz-pure"
    if not beside.exists():
        pytest.skip("graphviz-pure is not installed in this environment")
    assert "graphviz-pure" in available_engines()
    assert engine_path("graphviz-pure") == beside


def _fake_engine(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f'#!/bin/sh\nif [ "$1" = "-V" ]; then echo "{name} - graphviz version 2.43.0" >&2; exit 0; fi\n{body}\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


CRASH = "cat >/dev/null; echo 'dot: trapezoid.c:75: newtrap: Assertion `0` failed.' >&2; exit 134"


@posix_only
@pytest.mark.backend
def test_an_engine_that_crashes_falls_back_to_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine_path("graphviz-pure") is None:
        pytest.skip("graphviz-pure is not installed here")
    _fake_engine(tmp_path / "bin", "dot", CRASH)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    assert available_engines() == ["dot", "graphviz-pure"]
    svg = render_dot(DOT, "svg")
    assert ET.fromstring(svg).tag.endswith("svg")
    assert render_dot(DOT, "pdf").startswith(b"%PDF-")
    with pytest.raises(RenderBackendError, match=r"dot failed \(exit status 134: .*newtrap: Assertion"):
        render_dot(DOT, "svg", engine="dot")


@posix_only
@pytest.mark.backend
def test_an_engine_that_hangs_or_writes_garbage_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine_path("graphviz-pure") is None:
        pytest.skip("graphviz-pure is not installed here")
    _fake_engine(tmp_path / "slow", "dot", "exec sleep 30")
    monkeypatch.setenv("PATH", str(tmp_path / "slow"))
    assert render_dot(DOT, "svg", timeout=1).rstrip().endswith(b"</svg>")
    _fake_engine(tmp_path / "junk", "dot", "cat >/dev/null; printf '<svg>half'")
    monkeypatch.setenv("PATH", str(tmp_path / "junk"))
    with pytest.raises(RenderBackendError, match=r"dot failed \(not a complete SVG\)"):
        render_dot(DOT, "svg", engine="dot")
    assert render_dot(DOT, "svg").rstrip().endswith(b"</svg>")


def test_no_engine_gives_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert available_engines() == []
    with pytest.raises(RenderBackendError) as info:
        render_dot(DOT, "png")
    message = str(info.value)
    assert "pip install graphviz-pure" in message and "Graphviz's `dot`" in message
    assert isinstance(info.value, RuntimeError)


@pytest.mark.backend
def test_bad_dot_fails_clearly() -> None:
    if not available_engines():
        pytest.skip("no engine installed")
    with pytest.raises(RenderBackendError, match="cannot render SVG: .*failed"):
        render_dot("digraph { a -> }", "svg")


def test_format_and_dpi_are_checked() -> None:
    with pytest.raises(
        UnknownFormatError, match=r"unknown render format 'jpg' \(must be one of \['pdf', 'png', 'svg'\]\)"
    ):
        render_dot(DOT, "jpg")
    with pytest.raises(ValueError, match="dpi must be"):
        render_dot(DOT, "png", dpi=-3)
    with pytest.raises(ValueError, match="unknown engine"):
        render_dot(DOT, "png", engine="neato")


def test_dpi_is_written_into_the_root_graph() -> None:
    assert (
        backend._with_dpi("digraph { graph [dpi=50]; a }\n", 200) == "digraph { graph [dpi=50]; a graph [dpi=200];\n}\n"
    )
    assert backend._dot_dpi(graph_to_dot(gan_system_graph(), dpi=300)) == 300.0
    assert backend._dot_dpi(DOT) is None


@pytest.mark.backend
def test_svg_keeps_its_natural_size_whatever_the_dpi() -> None:
    if not available_engines():
        pytest.skip("no engine installed")
    plain = _svg_size_pt(render_dot(DOT, "svg"))
    assert _svg_size_pt(render_dot(graph_to_dot(gan_system_graph(), show_shapes=True, dpi=200), "svg")) == plain
    assert _svg_size_pt(render_dot(DOT, "svg", dpi=300)) == plain


def test_huge_rasters_are_scaled_down_like_cairo_does(monkeypatch: pytest.MonkeyPatch) -> None:
    assert 'size="333.33,333.33"' in backend._capped("digraph { a }", None)  # 32000 px at 96 dpi
    assert 'size="160.00,160.00"' in backend._capped("digraph { a }", 200)
    kept = 'digraph {\n  graph [size="3,3"];\n  a\n}\n'
    assert backend._capped(kept, None) == kept
    if not available_engines():
        pytest.skip("no engine installed")
    monkeypatch.setattr(backend, "MAX_PIXELS", 600)
    chain = "digraph {\n" + "".join(f"  n{i} -> n{i + 1};\n" for i in range(60)) + "}\n"
    with Image.open(io.BytesIO(render_dot(chain, "png", dpi=96))) as im:
        assert max(im.size) <= 600 and min(im.size) > 5
