"""#24.2, #24.6: rewinding a run for ``--resume`` never blocks on a pipe, never reads outside the run, and reads a
garbage grid, a 40,000 x 40,000 "grid" and a deeply nested metrics line as damage (skipped), never a traceback."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

from harness import run_python

from ganviz.train.run.folder import RunFolder, read_grid, rewind_run


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b"")


def _good_png() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4), 200, "uint8")).save(buf, format="PNG")
    return buf.getvalue()


def _hostile_run(root: Path) -> Path:
    run = root / "run"
    samples = run / "samples"
    samples.mkdir(parents=True)
    deep = "[" * 100_000 + "]" * 100_000
    (run / "metrics.jsonl").write_text(
        f'{{"step": 1, "g": 1}}\n{{"step": 2, "g": {deep}}}\n{{"step": "abc"}}\n{{"step": 3}}\n{{"step": 9}}\n',
        encoding="utf-8",
    )
    (run / "events.jsonl").write_text(deep + "\n", encoding="utf-8")
    (samples / "step_000001.png").write_bytes(_good_png())
    os.mkfifo(samples / "step_000002.png")
    (samples / "step_000003.png").write_bytes(b"\x89PNG garbage")
    (samples / "step_000004.png").write_bytes(_png(40_000, 40_000))
    (root / "secret.png").write_bytes(_good_png())
    (samples / "step_000005.png").symlink_to(root / "secret.png")
    (samples / "step_000006.png").symlink_to("/dev/zero")
    (samples / "step_000007.png").mkdir()
    (samples / "step_000010.png").write_bytes(_good_png())
    return run


_SCRIPT = r"""
import json, sys
from pathlib import Path
from ganviz.train.run.folder import rewind_run
records, events, frames = rewind_run(Path(sys.argv[1]), 8)
print(json.dumps({"steps": [r["step"] for r in records], "events": len(events), "frames": [f.shape for f in frames]}))
"""


def test_rewind_over_pipes_garbage_bombs_and_links_keeps_only_the_good_grids(tmp_path: Path) -> None:
    run = _hostile_run(tmp_path)
    res = run_python(_SCRIPT, [str(run)], cwd=tmp_path, timeout=60, mem_mb=1500)
    assert res.rc == 0 and "Traceback" not in res.err, res.err[-3000:]
    out = json.loads(res.out.strip().splitlines()[-1])
    assert out["steps"] == [1, 3] and out["events"] == 0
    assert out["frames"] == [[4, 4]]  # only step 1: the pipe, the garbage, the bomb and the links are no frames
    assert not (run / "samples" / "step_000010.png").exists()  # work after the checkpoint dropped
    assert (run / "samples" / "step_000007.png").is_dir()  # a folder is not the run's to delete
    assert (tmp_path / "secret.png").exists()


def test_read_grid_refuses_a_link_out_of_the_run(tmp_path: Path) -> None:
    run = _hostile_run(tmp_path)
    assert read_grid(run, run / "samples" / "step_000005.png") is None
    assert read_grid(run, run / "samples" / "step_000001.png") is not None
    assert [s for s, _ in RunFolder(run).sample_grids()] == [1, 2, 3, 4, 5, 6, 10]


def test_rewind_in_process(tmp_path: Path) -> None:
    run = tmp_path / "r"
    (run / "samples").mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1}\n{"step": 1e999}\n{"step": NaN}\n', encoding="utf-8")
    records, _, frames = rewind_run(run, 5)
    assert records == [{"step": 1}] and frames == []
