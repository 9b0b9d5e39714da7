"""Sample-quality metrics, the HTML report and the ``train()`` runner."""

from __future__ import annotations

import base64
import html.parser
import json

import numpy as np
import pytest

pytest.importorskip("keras")

from ganviz.train import data  # noqa: E402
from ganviz.train.outputs.report import write_report  # noqa: E402
from ganviz.train.quality import DigitScorer, frechet_distance  # noqa: E402
from ganviz.train.recipe.command import train  # noqa: E402


def test_frechet_distance_basics():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    mu, cov = a.mean(0), np.cov(a, rowvar=False)
    assert frechet_distance(mu, cov, mu, cov) < 1e-6
    assert frechet_distance(mu + 3, cov, mu, cov) == pytest.approx(36.0, rel=1e-6)


def test_real_digits_score_better_than_noise(tmp_path, monkeypatch):
    monkeypatch.setenv("GANVIZ_CACHE_DIR", str(tmp_path / "cache"))
    x, y = data.digits(return_labels=True)
    scorer = DigitScorer(x, y, name="digits", epochs=8)
    assert scorer.cache_path.exists() and scorer.cache_path.parent == tmp_path / "cache"
    assert scorer.test_accuracy > 0.85
    real = scorer.real_score()
    noise = scorer.score(np.random.default_rng(0).uniform(-1, 1, (len(scorer.x_test), 28, 28, 1)).astype("float32"))
    blank = scorer.score(np.full((len(scorer.x_test), 28, 28, 1), -1.0, "float32"))
    assert real.fid < noise.fid / 5 and real.fid < blank.fid / 5
    assert real.coverage == 1.0 and blank.coverage <= 0.1
    assert real.confidence > noise.confidence
    cached = DigitScorer(x, y, name="digits", epochs=8)  # loads the cache: same predictions
    np.testing.assert_allclose(cached.predict(x[:20]), scorer.predict(x[:20]), rtol=1e-5, atol=1e-6)


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        assert tag not in ("script",), "the report needs no scripts"

    def handle_data(self, d):
        self.text.append(d)


def test_runner_quick_run_and_report(tmp_path):
    run = tmp_path / "run"
    result = train("digits", 12, run, batch_size=16, sample_every=4, checkpoint_every=8, progress=False, seed=1)
    assert result.steps == 12 and result.initial_step == 0 and not result.stopped_on_nonfinite
    # one row per execution of 4 steps: the common divisor of the 4- and 8-step intervals (at most 8)
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [4, 8, 12]
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_000004.png",
        "step_000008.png",
        "step_000012.png",
    ]
    page = result.report.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(page)
    assert all(src.startswith("data:image/") for src in parser.imgs) and len(parser.imgs) >= 3
    assert any(src.startswith("data:image/gif;base64,") for src in parser.imgs)
    png = next(src for src in parser.imgs if src.startswith("data:image/png"))
    assert base64.b64decode(png.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    text = " ".join(parser.text)
    assert "Configuration" in text and "digits" in text and "Health events" in text
    # diagrams were drawn, or a note says why not
    assert "diagram" in page
    again = train("digits", 12, run, resume=True, batch_size=16, progress=False, report=False, seed=1)
    assert again.steps == 12 and again.initial_step == 12  # nothing left to do


def test_report_escapes_text_and_survives_missing_pieces(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"data": "<script>alert(1)</script>"}))
    event = {"step": 3, "kind": "nonfinite", "level": "error", "message": "loss <b>NaN</b> & more"}
    (tmp_path / "events.jsonl").write_text(json.dumps(event) + "\n{broken\n")
    page = write_report(tmp_path).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "loss &lt;b&gt;NaN&lt;/b&gt; &amp; more" in page
    assert "No sample grids yet" in page and "No metrics recorded" in page


def test_report_notes_failed_diagrams(tmp_path):
    class Broken:
        generator = discriminator = object()

    page = write_report(tmp_path, gan=Broken()).read_text()
    assert page.count("could not be drawn") == 3


def test_resume_skips_an_unreadable_newest_checkpoint(tmp_path):
    # The Monitor resumes from the newest *readable* checkpoint; train() must count steps from it too.
    run = tmp_path / "run"
    first = train("digits", 8, run, batch_size=16, checkpoint_every=4, progress=False, report=False, seed=1)
    assert first.steps == 8
    newest = run / "checkpoints" / "ckpt_00000008.npz"
    newest.write_bytes(b"not a zip")
    again = train("digits", 8, run, resume=True, batch_size=16, progress=False, report=False, seed=1)
    assert again.initial_step == 4 and again.steps == 8
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == list(range(1, 9))
    assert newest.read_bytes()[:2] == b"PK"  # rewritten as a real checkpoint
