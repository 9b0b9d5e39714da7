"""#24.1, #24.2, #24.5, #24.10, #24.14: ``ganviz report`` embeds only the run's own regular files, never hangs
on a pipe or a device, reads damaged JSON as damaged, writes only its output, and streams metrics."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from harness import assert_refused, run_cli, snapshot

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SECRET = b"TOP-SECRET-OUTSIDE-THE-RUN"


def _run(root: Path) -> Path:
    run = root / "run"
    (run / "samples").mkdir(parents=True)
    (run / "diagrams").mkdir()
    (run / "config.json").write_text(json.dumps({"steps": 4}), encoding="utf-8")
    (run / "metrics.jsonl").write_text('{"step": 1, "g_loss": 0.7}\n{"step": 2, "g_loss": 0.6}\n', encoding="utf-8")
    (run / "samples" / "step_000001.png").write_bytes(PNG)
    return run


def _outside(root: Path) -> Path:
    secret = root / "secret.txt"
    secret.write_bytes(SECRET)
    return secret


def _report_ok(run: Path, out: Path, res) -> str:  # noqa: ANN001
    assert res.rc == 0 and "Traceback" not in res.err, res.err[-3000:]
    return out.read_text(encoding="utf-8")


def test_links_out_of_the_run_are_not_embedded_and_the_report_names_them(tmp_path: Path) -> None:
    run = _run(tmp_path)
    secret = _outside(tmp_path)
    (run / "samples" / "step_000002.png").symlink_to(secret)
    (run / "progress.gif").symlink_to(secret)
    (run / "curves.png").symlink_to("/etc/passwd")
    (run / "diagrams" / "system.svg").symlink_to(secret)
    (run / "notes.json").symlink_to(secret)
    out = tmp_path / "r.html"
    text = _report_ok(run, out, run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path))
    for payload in (SECRET, Path("/etc/passwd").read_bytes()[:24]):
        assert base64.b64encode(payload)[:24].decode() not in text
        assert payload.decode(errors="replace")[:20] not in text
    for name in ("samples/step_000002.png", "progress.gif", "curves.png", "diagrams/system.svg"):
        assert name in text, name  # said skipped, by name
    assert "outside the run folder" in text


def test_a_link_inside_the_run_is_embedded(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "progress.gif").symlink_to(run / "samples" / "step_000001.png")
    out = tmp_path / "r.html"
    text = _report_ok(run, out, run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path))
    assert text.count(base64.b64encode(PNG).decode()) == 2


@pytest.mark.parametrize("kind", ["fifo", "zero", "folder"])
def test_pipes_devices_and_folders_in_a_run_never_hang_the_report(tmp_path: Path, kind: str) -> None:
    run = _run(tmp_path)
    for name in ("progress.gif", "curves.png", "samples/step_000009.png", "diagrams/system.svg", "notes.json",
                 "config.json", "diagrams/trace.json", "events.jsonl", "diagrams/errors.json"):  # fmt: skip
        target = run / name
        target.unlink(missing_ok=True)
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "zero":
            target.symlink_to("/dev/zero")
        else:
            target.mkdir()
    out = tmp_path / "r.html"
    res = run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path, timeout=60, mem_mb=1500)
    text = _report_ok(run, out, res)
    if kind != "folder":  # a folder named like a grid is no grid; the others are named as skipped
        assert "samples/step_000009.png" in text and "progress.gif" in text
    assert base64.b64encode(PNG).decode() in text


def test_a_metrics_file_that_is_a_pipe_or_a_device_is_refused_in_one_line(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "metrics.jsonl").unlink()
    os.mkfifo(run / "metrics.jsonl")
    assert_refused(run_cli(["report", str(run)], cwd=tmp_path, timeout=60), "metrics.jsonl", "not a regular file")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to("/dev/zero")
    assert_refused(run_cli(["report", str(run)], cwd=tmp_path, timeout=60), "metrics.jsonl")


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("metrics.jsonl", '{"step": "abc", "g_loss": 1}\n'),
        ("metrics.jsonl", '{"step": null, "d_loss": "x"}\n'),
        ("metrics.jsonl", '{"step": NaN, "g_loss": 1}\n'),
        ("metrics.jsonl", '{"step": 1e999, "g_loss": 1e999}\n'),
        ("metrics.jsonl", '{"step": 1, "g_loss": ' + DEEP + "}\n"),
        ("metrics.jsonl", DEEP + "\n"),
        ("config.json", '{"a": ' + DEEP + "}"),
        ("config.json", DEEP),
        ("notes.json", "7"),
        ("notes.json", '{"running_means": 5, "health_notes": 3, "sampling": [1]}'),
        ("notes.json", '{"health_notes": ' + DEEP + "}"),
        ("events.jsonl", '{"step": "x", "kind": [1], "message": {"a": 1}, "level": 5}\n'),
        ("diagrams/system.json", '["how", "assumed"]'),
        ("diagrams/system.json", '{"how": 3, "error": [1]}'),
        ("diagrams/errors.json", '["a", "b"]'),
        ("diagrams/errors.json", '{"system": [1], "generator": 2}'),
        ("diagrams/trace.json", '{"updates": 5, "optimizers": "adam"}'),
        ("diagrams/trace.json", '{"updates": [1, "x", null], "optimizers": [2, {"learning_rate": "x"}]}'),
        ("diagrams/trace.json", '{"optimizers": [{"name": "a", "learning_rate": 1e999}]}'),
        ("diagrams/trace.json", DEEP),
    ],
)
def test_damaged_json_in_any_run_file_still_gives_a_report(tmp_path: Path, name: str, content: str) -> None:
    run = _run(tmp_path)
    (run / name).write_text(content, encoding="utf-8")
    out = tmp_path / "r.html"
    _report_ok(run, out, run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path, timeout=60))


def test_a_folder_named_like_a_grid_is_skipped(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "samples" / "step_000500.png").mkdir()
    out = tmp_path / "r.html"
    text = _report_ok(run, out, run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path))
    assert base64.b64encode(PNG).decode() in text


def test_report_to_another_file_writes_only_that_file(tmp_path: Path) -> None:
    run = _run(tmp_path)
    before = snapshot(run)
    os.chmod(run, 0o555)
    try:
        out = tmp_path / "elsewhere.html"
        _report_ok(run, out, run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path))
    finally:
        os.chmod(run, 0o755)
    assert snapshot(run) == before
    assert not (run / "report.html").exists()


def test_a_killed_reports_temporary_files_are_removed(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / ".report.html.k1ll3d.tmp").write_text("half", encoding="utf-8")
    (run / "diagrams" / ".trace.json.k1ll3d.tmp").write_text("half", encoding="utf-8")
    res = run_cli(["report", str(run)], cwd=tmp_path)
    _report_ok(run, run / "report.html", res)
    assert not (run / ".report.html.k1ll3d.tmp").exists()
    assert not (run / "diagrams" / ".trace.json.k1ll3d.tmp").exists()


def test_report_streams_a_big_metrics_file_in_bounded_memory(tmp_path: Path) -> None:
    run = _run(tmp_path)
    line = json.dumps({"step": 1, "g_loss": 0.5, "d_loss": 0.5, "d_real": 0.5, "d_fake": 0.5, "pad": "x" * 900})
    block = (line + "\n").encode() * 1000
    with (run / "metrics.jsonl").open("wb") as f:
        for _ in range(200):  # about 200 MB
            f.write(block)
        f.write(b'{"step": 77, "g_loss": 0.25}\n')
    out = tmp_path / "r.html"
    res = run_cli(["report", str(run), "-o", str(out)], cwd=tmp_path, timeout=120, mem_mb=600)
    text = _report_ok(run, out, res)
    assert "last step 77" in text and "200001 logged steps" in text
