"""``MonitorState``: a Monitor's checkpoints, resume and ``config.json``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ResumeMismatchError
from ..run.checkpoint import Checkpointer, collect_state, restore_state
from ..run.folder import rewind_run, write_config
from .health import HealthChecker, HealthEvent

__all__ = ["MonitorState"]


class MonitorState:
    """Checkpoint writing (never of non-finite weights), resuming from one, and the run's config."""

    out_dir: Path
    checkpointer: Checkpointer
    health: HealthChecker
    config: dict[str, Any]
    grid: tuple[int, int]
    seed: int
    every_n_steps: int | None
    checkpoint_every: int | None
    total_steps: int | None
    global_step: int
    epoch: int
    stopped_on_nonfinite: bool
    events: list[dict[str, Any]]
    sampler: Any
    counter: Any
    _objects: dict[str, Any]
    _outputs: Any
    _records: list[dict[str, float]]
    _metrics_file: Any
    _last_ckpt: int

    def _sync_weights(self) -> None:
        """Under ``fit()`` on JAX the weights live in the step's state: put them back into the variables first."""
        sync = getattr(getattr(self, "_model", None), "jax_state_sync", None)
        if callable(sync):
            sync()

    def save_checkpoint(self, step: int) -> bool:
        """Write a checkpoint unless the weights went non-finite (then stop, keeping the last good one)."""
        self._sync_weights()
        state = collect_state(self._objects)
        if not all(np.isfinite(a).all() for arrs in state.values() for a in arrs if a.dtype.kind == "f"):
            self.stopped_on_nonfinite = True
            self._emit(
                [HealthEvent(step, "nonfinite", "error", f"non-finite weights at step {step}: training stopped")]
            )
            return False
        self._metrics_file.flush()
        os.fsync(self._metrics_file.fileno())
        meta = {"epoch": self.epoch, "health": self.health.state(), "config": self.config,
                "every_n_steps": self.every_n_steps, "checkpoint_every": self.checkpoint_every,
                "total_steps": self.total_steps}  # fmt: skip
        extra = {f"sample/{k}": v for k, v in (self.sampler.state() if self.sampler else {}).items()}
        if self.fixed_noise is not None:
            extra["fixed_noise"] = self.fixed_noise
        self.checkpointer.save(step, state, extra=extra, meta=meta)
        self._last_ckpt = step
        return True

    # ----- internals ------------------------------------------------------------------------
    def _resume_from(self, state: dict, extra: dict, meta: dict) -> None:
        try:
            restore_state(self._objects, state)
        except ResumeMismatchError as exc:
            raise ResumeMismatchError(
                f"cannot resume {str(self.out_dir)!r}: its checkpoint does not fit this model ({exc}); nothing was "
                "changed (give the model it was trained with, or start over with --overwrite)"
            ) from None
        step = int(meta["step"])
        self.global_step = self._last_ckpt = step
        self.epoch = int(meta.get("epoch", 0))
        saved = {k[len("sample/") :]: v for k, v in extra.items() if k.startswith("sample/")}
        if not saved and "fixed_noise" in extra:
            saved = {"fixed_noise": extra["fixed_noise"].astype("float32")}
        if self.sampler is not None:
            self.sampler.load_state(saved)
        self.health.load_state(meta.get("health", {}))
        for key in ("every_n_steps", "checkpoint_every"):
            kept, asked = meta.get(key), getattr(self, key)
            if key in meta and kept != asked:
                setattr(self, key, kept)
                self._info("resumed", f"kept the run's {key}={kept} (asked for {asked}); start a new run folder to "
                           "change it")  # fmt: skip
        self._records, self.events, frames = rewind_run(self.out_dir, step)
        if self._outputs is not None:
            self._outputs.frames = list(frames)
        self._emit([HealthEvent(step, "resumed", "info", f"resumed from the checkpoint at step {step}")])

    def _write_config(self) -> None:
        info = {"total_steps": self.total_steps, "grid": list(self.grid), "seed": self.seed, **self.config}
        info.setdefault("models", {k: type(v).__name__ for k, v in self._objects.items()})
        info["sampling"] = self.sampler.description if self.sampler is not None else "none (no generator found)"
        info["step_count"] = "optimizer iterations (generator optimizer first)"
        info["sample_every"] = self.every_n_steps
        self._safely("write config.json", write_config, self.out_dir, info)
