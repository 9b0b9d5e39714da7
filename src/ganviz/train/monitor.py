"""``ganviz.Monitor``: a Keras callback (and a hand-written-loop API) that watches a GAN train."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .checkpoint import Checkpointer, collect_state, restore_state, state_objects
from .health import HealthChecker, HealthEvent, ProgressBar
from .images import diversity, make_grid, output_range, plot_curves, save_gif, save_png, to_uint8
from .run_folder import RunFolder, append_jsonl, clear_run, rewind_run, write_config

__all__ = ["Monitor", "latent_shape"]

log = logging.getLogger("ganviz.train")


def latent_shape(generator: Any, model: Any = None) -> tuple[int, ...]:
    """The noise shape a generator takes: ``model.latent_dim`` if set, else the generator's input shape."""
    dim = getattr(model, "latent_dim", None) or getattr(generator, "latent_dim", None)
    if dim:
        return tuple(dim) if isinstance(dim, (tuple, list)) else (int(dim),)
    inputs = getattr(generator, "inputs", None)
    if inputs:
        return tuple(int(d) for d in inputs[0].shape[1:])
    raise ValueError("cannot tell the generator's noise shape: set model.latent_dim or give the generator an Input")


def _floats(logs: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


class Monitor(keras.callbacks.Callback):
    """Watch GAN training: sample grids, GIF, metrics, curves, health events, checkpoints, progress bar.

    Works as a callback for ``ganviz.GAN`` and any ``keras.Model`` with a ``generator`` attribute,
    and in hand-written loops through :meth:`start`, :meth:`step` and :meth:`end`.

    Args:
        out_dir: Run folder (created).
        every_n_steps: Sample-grid interval in steps (``None``: off).
        every_n_epochs: Sample-grid interval in epochs (``None``: off).
        grid: (rows, cols) of the sample grid; the fixed noise batch has rows * cols vectors.
        seed: Seed of the fixed noise.
        checkpoint_every: Checkpoint (and curves/GIF refresh) interval in steps (``None``: only at the end).
        keep_checkpoints: How many checkpoints to keep.
        resume: Continue from the newest checkpoint in ``out_dir/checkpoints``.
        log_every: Write a ``metrics.jsonl`` line every this many steps.
        max_steps: Stop training after this global step.
        progress: Show a progress bar on stderr.
        value_range: Generator output range for drawing; ``None`` detects tanh/sigmoid.
        dominance_patience: Steps of an outright-winning discriminator before a warning.
        config: Run configuration stored with checkpoints and shown in the report.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        every_n_steps: int | None = 200,
        every_n_epochs: int | None = None,
        grid: tuple[int, int] = (4, 4),
        seed: int = 0,
        checkpoint_every: int | None = 1000,
        keep_checkpoints: int = 2,
        resume: bool = False,
        log_every: int = 1,
        max_steps: int | None = None,
        progress: bool = True,
        value_range: tuple[float, float] | None = None,
        dominance_patience: int = 200,
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)
        self.every_n_steps, self.every_n_epochs = every_n_steps, every_n_epochs
        self.grid = (int(grid[0]), int(grid[1]))
        self.seed, self.checkpoint_every, self.resume = seed, checkpoint_every, resume
        self.log_every, self.max_steps, self.progress = max(1, log_every), max_steps, progress
        self.value_range, self.config = value_range, dict(config or {})
        self.run = RunFolder(self.out_dir)
        self.checkpointer = Checkpointer(self.run.checkpoints, keep=keep_checkpoints)
        self.health = HealthChecker(dominance_patience=dominance_patience)
        self.global_step = self.initial_step = 0
        self.epoch = 0
        self.stopped_on_nonfinite = False
        self.events: list[dict[str, Any]] = []
        self.fixed_noise: np.ndarray | None = None
        self._records: list[dict[str, float]] = []
        self._frames: list[np.ndarray] = []
        self._objects: dict[str, Any] = {}
        self._generator: Any = None
        self._metrics_file: Any = None
        self._bar: ProgressBar | None = None
        self._last_ckpt = -1
        self._last_grid = -1
        self._epoch_batch = -1

    # ----- Keras callback hooks -------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        model = self.model
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        total = steps * epochs if steps and epochs else None
        self.start(model=model, total_steps=total)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.epoch = epoch
        self._epoch_batch = -1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        # With compile(steps_per_execution=N) Keras reports every N-th batch: count the steps it ran.
        done = max(1, batch - self._epoch_batch)
        self._epoch_batch = batch
        if not self.step(self.global_step + done, logs):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0 and not self.stopped_on_nonfinite:
            self.write_grid(self.global_step)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.end()

    # ----- hand-written loop API ------------------------------------------------------------
    def start(
        self,
        model: Any = None,
        *,
        generator: Any = None,
        discriminator: Any = None,
        d_optimizer: Any = None,
        g_optimizer: Any = None,
        total_steps: int | None = None,
    ) -> int:
        """Begin (or resume) a run; return the number of steps already done (0 for a fresh run).

        Give a ``model`` with a ``generator`` attribute, or the generator (and, for checkpoints,
        the discriminator and both optimizers) of a hand-written loop.
        """
        self._generator = generator if generator is not None else getattr(model, "generator", None)
        if self._generator is None:
            raise ValueError("Monitor needs a generator: a model with a .generator attribute, or generator=...")
        self._objects = state_objects(
            model, generator=generator, discriminator=discriminator, d_optimizer=d_optimizer, g_optimizer=g_optimizer
        )
        if getattr(model, "score_kind", None):
            self.health.probabilities = model.score_kind == "probability"
        if self.value_range is None:
            self.value_range = output_range(self._generator)
        for folder in (self.run.samples, self.run.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        rows, cols = self.grid
        rng = np.random.default_rng(self.seed)
        self.fixed_noise = rng.standard_normal((rows * cols, *latent_shape(self._generator, model))).astype("float32")
        loaded = self.checkpointer.load_latest() if self.resume else None
        if loaded is not None:
            self._resume_from(*loaded)
        else:
            clear_run(self.out_dir, (p for _, p in self.checkpointer.paths()))
        self.initial_step = self.global_step
        self._metrics_file = open(self.run.metrics, "a", encoding="utf-8")  # noqa: SIM115
        if self.max_steps is not None:
            total_steps = min(total_steps or self.max_steps, self.max_steps - self.initial_step) + self.initial_step
        elif total_steps is not None:
            total_steps += self.initial_step
        self._bar = ProgressBar(total_steps) if self.progress else None
        self._write_config(total_steps)
        return self.global_step

    def step(self, step: int, logs: dict[str, Any] | None = None) -> bool:
        """Record training step ``step`` (1-based global count); return False when training must stop."""
        if self._metrics_file is None:
            raise RuntimeError("Monitor.step() called before start() or after end()")
        prev, self.global_step = self.global_step, step
        values = _floats(logs)
        if _crossed(prev, step, self.log_every):
            record = {"step": step, **values}
            self._metrics_file.write(json.dumps(record) + "\n")
            self._records.append(record)
        events = self.health.check_logs(step, values)
        if events:
            self._emit(events)
            if any(e.kind == "nonfinite" for e in events):
                self.stopped_on_nonfinite = True
                return False
        if self._bar is not None:
            self._bar.update(step, values)
        if self.every_n_steps and _crossed(prev, step, self.every_n_steps):
            self.write_grid(step)
        if self.checkpoint_every and _crossed(prev, step, self.checkpoint_every):
            if not self.save_checkpoint(step):
                return False
            self.write_summaries()
        return not (self.max_steps is not None and step >= self.max_steps)

    def end(self) -> None:
        """Finish the run: final grid, checkpoint (unless training diverged), curves and GIF."""
        if self._metrics_file is None:
            return
        if not self.stopped_on_nonfinite and self.global_step > self.initial_step:
            if self._last_grid != self.global_step:
                self.write_grid(self.global_step)
            if self._last_ckpt != self.global_step:
                self.save_checkpoint(self.global_step)
        self.write_summaries()
        if self._bar is not None:
            self._bar.update(self.global_step, self._records[-1] if self._records else {}, force=True)
            self._bar.close()
        self._metrics_file.close()
        self._metrics_file = None

    # ----- artefacts ------------------------------------------------------------------------
    def generate(self) -> np.ndarray:
        """Run the generator on the fixed noise batch; uint8 images (N, H, W, C)."""
        out = self._generator(self.fixed_noise, training=False)
        return to_uint8(np.asarray(out), self.value_range)

    def write_grid(self, step: int) -> Path:
        """Write ``samples/step_NNNNNN.png`` from the fixed noise and check sample diversity."""
        images = self.generate()
        grid = make_grid(images, self.grid)
        path = save_png(self.run.sample(step), grid)
        self._frames.append(grid)
        self._last_grid = step
        self._emit(self.health.check_diversity(step, diversity(images)))
        return path

    def write_summaries(self) -> None:
        """Flush metrics and redraw ``curves.png`` and ``progress.gif``."""
        if self._metrics_file is not None:
            self._metrics_file.flush()
        plot_curves(self._records, self.run.curves)
        save_gif(self.run.gif, self._frames)

    def save_checkpoint(self, step: int) -> bool:
        """Write a checkpoint unless the weights went non-finite (then stop, keeping the last good one)."""
        state = collect_state(self._objects)
        if not all(np.isfinite(a).all() for arrs in state.values() for a in arrs if a.dtype.kind == "f"):
            self.stopped_on_nonfinite = True
            self._emit(
                [HealthEvent(step, "nonfinite", "error", f"non-finite weights at step {step}: training stopped")]
            )
            return False
        self._metrics_file.flush()
        os.fsync(self._metrics_file.fileno())
        meta = {"epoch": self.epoch, "health": self.health.state(), "config": self.config}
        self.checkpointer.save(step, state, extra={"fixed_noise": self.fixed_noise}, meta=meta)
        self._last_ckpt = step
        return True

    # ----- internals ------------------------------------------------------------------------
    def _emit(self, events: list[HealthEvent]) -> None:
        for event in events:
            record = event.to_dict()
            self.events.append(record)
            log.warning("%s", event.message) if event.level != "info" else log.info("%s", event.message)
            append_jsonl(self.run.events, record)

    def _resume_from(self, state: dict, extra: dict, meta: dict) -> None:
        restore_state(self._objects, state)
        step = int(meta["step"])
        self.global_step = self._last_ckpt = step
        self.epoch = int(meta.get("epoch", 0))
        self.fixed_noise = extra["fixed_noise"].astype("float32")
        self.health.load_state(meta.get("health", {}))
        self._records, self.events, frames = rewind_run(self.out_dir, step)
        self._frames.extend(frames)
        self._emit([HealthEvent(step, "resumed", "info", f"resumed from the checkpoint at step {step}")])

    def _write_config(self, total_steps: int | None) -> None:
        info = {"total_steps": total_steps, "grid": list(self.grid), "seed": self.seed, **self.config}
        info.setdefault("models", {k: type(v).__name__ for k, v in self._objects.items()})
        write_config(self.out_dir, info)


def _crossed(prev: int, step: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in ``(prev, step]``: steps may advance several at a time.

    >>> _crossed(7, 8, 4), _crossed(5, 7, 4), _crossed(6, 9, 4)
    (True, False, True)
    """
    return step // every > prev // every
