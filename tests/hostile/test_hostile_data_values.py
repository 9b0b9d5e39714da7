"""#24.9: NaN or infinite pixels in ``--data`` are refused when the data is loaded, naming the first bad image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness import assert_refused, run_cli

from ganviz.errors import DataError
from ganviz.train.data import mnist


def _npz(path: Path, value: float) -> Path:
    x = np.random.default_rng(0).random((10, 28, 28)).astype("float32")
    x[7, 3, 4] = value
    np.savez(path, x_train=x)
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels_are_refused_at_load(tmp_path: Path, value: float) -> None:
    with pytest.raises(DataError, match="NaN or infinite pixels .*image 7"):
        mnist(_npz(tmp_path / "x.npz", value))


def test_the_cli_refuses_nan_data_in_one_line_before_training(tmp_path: Path) -> None:
    _npz(tmp_path / "x.npz", np.nan)
    res = run_cli(["train", "--data", "mnist:x.npz", "--steps", "2", "-o", "run"], cwd=tmp_path, timeout=300,
                  mem_mb=None)  # fmt: skip
    assert_refused(res, "NaN or infinite pixels", "image 7")
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
