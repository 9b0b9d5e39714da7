"""`ganviz demo --quick`: every artefact the README promises is made and readable."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from ganviz.cli import main


@pytest.mark.slow
def test_quick_demo_makes_everything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quick", "--steps", "40"]) == 0
    printed = capsys.readouterr().out
    for name in ("generator_plot.png", "discriminator_plot.png", "gan_nested_plot.png", "gan_system.png"):
        with Image.open(out / name) as im:
            assert im.format == "PNG" and min(im.size) > 100, name
        assert str(out / name) in printed
    ET.parse(out / "generator_from_file.svg")  # the .keras file drawn back without TensorFlow
    for page in ("gan_system.html", "gan_nested.html"):
        text = (out / page).read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and "http://" not in text.split("<svg", 1)[0]
    run = out / "run"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(2, 41, 2))  # a row per execution: 2 steps, the grid interval (40 // 20)
    with Image.open(run / "progress.gif") as gif:
        assert gif.n_frames >= 2
    assert sorted(p.suffix for p in (run / "samples").iterdir()) and (run / "curves.png").exists()
    assert "<img" in (run / "report.html").read_text(encoding="utf-8")
    # the nested page shows the discriminator frozen, as it is inside the combined model
    assert '"trainable":false' in (out / "gan_nested.html").read_text(encoding="utf-8").replace(" ", "")
