"""``MonitorState``: a Monitor's checkpoints, resume and ``config.json``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ResumeMismatchError, TrainOptionError
from ..roles import held_models
from ..run.checkpoint import Checkpointer, collect_state, restore_state, state_objects, unbuilt_optimizers
from ..run.folder import rewind_run, write_config
from .health import HealthChecker, HealthEvent

__all__ = ["MonitorState", "checkpoint_objects", "is_optimizer"]


def is_optimizer(value: Any) -> bool:
    """Whether ``value`` is an optimizer (it applies gradients and counts its iterations)."""
    return hasattr(value, "apply_gradients") and hasattr(value, "iterations")


def checkpoint_objects(model: Any, named: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint of ``Monitor.start(model, **named)`` holds, by name.

    A Keras model: its variables and optimizer attributes (:func:`~..run.checkpoint.state_objects`).
    Any other object (a classic script's ``self`` holding ``generator``, ``discriminator`` and
    ``combined``): each Keras model it holds, by attribute name, except one whose variables all
    belong to models before it (``combined``, made of the generator and a frozen discriminator);
    its optimizer attributes; and each held compiled model's optimizer as ``<attribute>_optimizer``.
    ``named`` adds entries; an optimizer or model given by name is not kept twice.

    Raises:
        TrainOptionError: ``model`` is no Keras model and holds none.
    """
    if model is None or hasattr(model, "variables"):
        return state_objects(model, **named)
    from .step_counter import optimizers_of

    given = {k: v for k, v in named.items() if v is not None}
    ids = {id(v) for v in given.values()}
    found: dict[str, Any] = {}
    covered: set[int] = set()
    held = held_models(model)
    for name, m in held:
        own = {id(v) for v in m.variables}
        if id(m) not in ids and not own <= covered:
            found[name] = m
        covered |= own
    optimizers = dict(optimizers_of(model))
    for name, m in held:
        opt = getattr(m, "optimizer", None)
        if is_optimizer(opt) and all(opt is not o for o in optimizers.values()):
            optimizers[f"{name}_optimizer"] = opt
    found.update({k: v for k, v in optimizers.items() if id(v) not in ids and k not in found})
    if not found and not given:
        raise TrainOptionError(
            f"found no Keras model or optimizer on {type(model).__name__}: pass Monitor.start(generator=..., "
            "discriminator=..., g_optimizer=..., d_optimizer=...) or an object holding its models as attributes"
        )
    return {**found, **given}


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
                "total_steps": self.total_steps, "unbuilt_optimizers": unbuilt_optimizers(self._objects)}  # fmt: skip
        extra = {f"sample/{k}": v for k, v in (self.sampler.state() if self.sampler else {}).items()}
        if self.fixed_noise is not None:
            extra["fixed_noise"] = self.fixed_noise
        self.checkpointer.save(step, state, extra=extra, meta=meta)
        self._last_ckpt = step
        return True

    # ----- internals ------------------------------------------------------------------------
    def _resume_from(self, state: dict, extra: dict, meta: dict) -> None:
        try:
            restore_state(
                self._objects,
                state,
                unbuilt=meta.get("unbuilt_optimizers") or (),
                models=dict(held_models(model)) if (model := getattr(self, "_model", None)) is not None else {},
            )
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
        watch = getattr(self, "watch", None)
        if watch is not None and watch.optimizers:
            info.setdefault("optimizers", watch.describe())
        info["sampling"] = self.sampler.description if self.sampler is not None else "none (no generator found)"
        info["step_count"] = "optimizer iterations (generator optimizer first)"
        info["sample_every"] = self.every_n_steps
        self._safely("write config.json", write_config, self.out_dir, info)
