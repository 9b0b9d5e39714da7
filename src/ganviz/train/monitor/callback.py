"""``ganviz.Monitor``: a Keras callback (and a hand-written-loop API) that watches a GAN train."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ..._io import open_append, write_atomic
from ...errors import NotReadyError, TrainOptionError
from .. import keras_internals
from ..outputs.images import diversity
from ..outputs.notebook import in_notebook
from ..outputs.system import draw_system
from ..roles import held_models
from ..run.checkpoint import Checkpointer
from ..run.folder import RunFolder, clear_run, json_line
from .drawing import RunOutputs
from .events import MonitorEvents
from .health import HealthChecker, HealthEvent
from .notes import health_notes, running_mean_keys
from .optimizer_watch import OptimizerWatch
from .progress import ProgressBar
from .sampler_choice import choose_sampler
from .samplers import Sampler
from .state import MonitorState, checkpoint_objects, is_optimizer
from .step_counter import StepCounter

__all__ = ["Monitor", "latent_shape"]

_NONFINITE_SAMPLES = (
    "the generator's samples hold NaN or Inf: no grid drawn (and no diversity check); "
    "lower the learning rate or check the losses"
)

log = logging.getLogger("ganviz.train")


def latent_shape(generator: Any, model: Any = None) -> tuple[int, ...]:
    """The noise shape a generator takes: its input shape if known, else ``model.latent_dim``."""
    from .sampler_choice import noise_shape

    return noise_shape(model, generator)


def _floats(logs: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (logs or {}).items():
        if hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch loss of a hand-written loop: no autograd warning
            v = v.detach().cpu()
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


class Monitor(MonitorEvents, MonitorState, keras.callbacks.Callback):
    """Watch GAN training: sample grids, GIF, metrics, curves, health events, checkpoints, progress.

    Works as a callback for ``ganviz.GAN`` and any ``keras.Model`` GAN (``generator``,
    ``gen_G``/``gen_F`` ... attributes), and in hand-written loops through :meth:`start`,
    :meth:`step` and :meth:`end`. Nothing about drawing, sampling, curves, TensorBoard or the
    notebook view ever stops training: a failure is recorded in ``events.jsonl`` and the run goes
    on. Non-finite losses or weights do stop it (the last good checkpoint is kept).

    Args:
        out_dir: Run folder (created).
        every_n_steps: Sample-grid interval in steps (``None``: off). A resumed run keeps its interval.
        every_n_epochs: Sample-grid interval in epochs (``None``: off).
        grid: (rows, cols) of the sample grid.
        seed: Seed of the fixed noise.
        checkpoint_every: Checkpoint (and curves/GIF refresh) interval in steps (``None``: only at the end).
        keep_checkpoints: How many checkpoints to keep.
        resume: Continue from the newest checkpoint in ``out_dir/checkpoints``.
        log_every: Write a ``metrics.jsonl`` line every this many steps.
        max_steps: Stop training after this global step.
        progress: Show one progress bar on stderr (Keras's own bar in ``fit`` is turned off).
        value_range: Generator output range for drawing; ``None`` detects tanh/sigmoid.
        dominance_patience: Steps of an outright-winning discriminator before a warning.
        config: Run configuration stored with checkpoints and shown in the report.
        generator: The model to sample from (default: found on the trained model).
        sample_inputs: Fixed generator inputs (input images for an image-to-image generator).
        sample_fn: A zero-argument function returning images to draw (overrides the rest).
        tensorboard: Also write scalars, grids and the system diagram to ``out_dir/tensorboard``.
        display: Show the latest grid and curves inline in a notebook (``"auto"``: when in Jupyter).
        diagrams: Trace the GAN at the start and draw its system diagram for the report.
        running_means: Keys that the model logs as running means (``None``: detect Keras metrics).
        codes: Categorical codes in the generator's input vector (InfoGAN): its last ``codes`` values
            get a one-hot code, a grid row per code, the rest fixed noise; ``None`` detects them
            from an auxiliary model that reads the generator's output into ``k`` probabilities and
            is trained with it (InfoGAN's Q head in ``combined``).
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
        generator: Any = None,
        sample_inputs: Any = None,
        sample_fn: Callable[[], Any] | None = None,
        tensorboard: bool = False,
        display: bool | str = "auto",
        diagrams: bool = True,
        running_means: bool | list[str] | None = None,
        codes: int | None = None,
    ) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)
        self.run = RunFolder(self.out_dir)
        self.every_n_steps, self.every_n_epochs = every_n_steps, every_n_epochs
        self.grid = (int(grid[0]), int(grid[1]))
        self.seed, self.checkpoint_every, self.resume = seed, checkpoint_every, resume
        self.log_every, self.max_steps, self.progress = max(1, log_every), max_steps, progress
        self.value_range, self.config = value_range, dict(config or {})
        self.sample_generator, self.sample_inputs, self.sample_fn = generator, sample_inputs, sample_fn
        self.tensorboard, self.display, self.diagrams = tensorboard, display, diagrams
        self.running_means_option = running_means
        self.codes = codes
        self.watch: OptimizerWatch | None = None
        self.checkpointer = Checkpointer(self.run.checkpoints, keep=keep_checkpoints)
        self.health = HealthChecker(dominance_patience=dominance_patience)
        self.global_step = self.initial_step = 0
        self.total_steps: int | None = None
        self.epoch = 0
        self.stopped_on_nonfinite = False
        self.events: list[dict[str, Any]] = []
        self.sampler: Sampler | None = None
        self.counter = StepCounter({})
        self.running_means: set[str] = set()
        self._records: list[dict[str, float]] = []
        self._objects: dict[str, Any] = {}
        self._model: Any = None
        self._outputs: RunOutputs | None = None
        self._metrics_file: Any = None
        self._bar: ProgressBar | None = None
        self._last_ckpt = self._last_grid = -1
        self._batches = 0
        self._failures: dict[str, int] = {}
        self._fit: dict[str, Any] | None = None
        self._first: Any = None
        self._no_sampler: str | None = None

    @property
    def fixed_noise(self) -> np.ndarray | None:
        """The fixed noise the grids are drawn from (``None`` for image-to-image samplers)."""
        return self.sampler.arrays.get("fixed_noise") if self.sampler is not None else None

    # ----- Keras callback hooks -------------------------------------------------------------
    def step_intervals(self) -> list[int]:
        """The steps a GAN's executions should end on: the grid and checkpoint intervals and the step budget
        (``ganviz.GAN`` reads these from every callback that declares them)."""
        return [v for v in (self.every_n_steps, self.checkpoint_every, self.max_steps) if v]

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self._fit = keras_internals.fit_locals(self.model)
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        self._begin(self.model, planned=steps * epochs if steps and epochs else None)
        if self.progress and self._safely(
            "turn off Keras's progress bar", keras_internals.silence_keras_progbar, self._fit
        ):
            self._info("progress", "Keras's own progress bar was turned off: the Monitor shows one bar")
        if self.sampler is not None and self.sampler.needs_inputs:
            self._safely("read the first batch", lambda: self.sampler.set_inputs(self._first_batch()))
        self._fit = self._first = None  # hold no reference to the data

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self._batches += 1
        step = self.counter.count(self.initial_step + self._batches * self._spe())
        if not self.step(step, logs):
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0 and not self.stopped_on_nonfinite:
            self.write_grid(self.global_step)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.end()

    def _spe(self) -> int:
        spe = getattr(self.model, "steps_per_execution", 1)
        try:
            return max(1, int(spe))
        except (TypeError, ValueError):
            return 1

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
        sample_inputs: Any = None,
        trace: Any = None,
    ) -> int:
        """Begin (or resume) a run; return the number of steps already done (0 for a fresh run).

        Give a ``model`` (a GAN holding its models, or any object holding them as attributes, as a
        classic script's ``self`` holds ``generator``, ``discriminator`` and ``combined``: its
        checkpoints then hold each model and each compiled model's optimizer), or the generator
        (and, for checkpoints, the discriminator and both optimizers) of a hand-written loop.
        ``total_steps`` is the run's whole length (a resumed loop keeps it). ``sample_inputs``:
        fixed generator inputs (e.g. input images of an image-to-image model); ``trace``: a
        ``ganviz.trace_step`` result to draw in the report. The optimizers given (and those of the
        compiled models held) are named in the report with their class and learning rate; one
        that makes no update over the first grid interval while another does is an
        ``optimizer_idle`` event naming its model and the fix (Keras 3's frozen-discriminator trap).
        """
        named = {"generator": generator, "discriminator": discriminator, "d_optimizer": d_optimizer,
                 "g_optimizer": g_optimizer}  # fmt: skip
        return self._begin(model, total=total_steps, named=named, sample_inputs=sample_inputs, trace=trace,
                           watch=True)  # fmt: skip

    def _begin(self, model: Any, *, total: int | None = None, planned: int | None = None,
               named: dict[str, Any] | None = None, sample_inputs: Any = None, trace: Any = None,
               watch: bool = False) -> int:  # fmt: skip
        named = named or {}
        self._model = model
        self._failures.clear()
        for folder in (self.run.samples, self.run.checkpoints):
            folder.mkdir(parents=True, exist_ok=True)
        self._objects = checkpoint_objects(model, named)
        loaded = self.checkpointer.load_latest() if self.resume else None
        if loaded is None:
            clear_run(self.out_dir, (p for _, p in self.checkpointer.paths()))
        if getattr(model, "score_kind", None):
            self.health.probabilities = model.score_kind == "probability"
        gen = self.sample_generator if self.sample_generator is not None else named.get("generator")
        inputs = sample_inputs if sample_inputs is not None else self.sample_inputs
        first = self._safely("read the first batch", self._first_batch) if self._fit else None
        self.sampler = self._safely("choose what to sample", self._choose, model=model, generator=gen,
                                    grid=self.grid, seed=self.seed, value_range=self.value_range,
                                    sample_inputs=inputs, sample_fn=self.sample_fn, batch=first,
                                    codes=self.codes)  # fmt: skip
        if self.value_range is None and self.sampler is not None:
            self.value_range = self.sampler.value_range
        if self.running_means_option is not None and not isinstance(self.running_means_option, bool):
            self.running_means = set(self.running_means_option)
        show = in_notebook() if self.display == "auto" else bool(self.display)
        self._outputs = RunOutputs(self.out_dir, display=False)
        self._outputs = self._safely("open TensorBoard / the notebook view", RunOutputs, self.out_dir,
                                     tensorboard=self.tensorboard, display=show) or self._outputs  # fmt: skip
        if loaded is not None:
            self._resume_from(*loaded)
        self.initial_step = self.global_step
        opts = {k: v for k, v in self._objects.items() if is_optimizer(v)}
        models = {} if model is None or hasattr(model, "variables") else dict(held_models(model))
        models.update({k: v for k, v in named.items() if v is not None and not is_optimizer(v)})
        self.watch = OptimizerWatch(opts, models, judge=watch)
        self.watch.begin()
        self.counter = StepCounter(opts)
        self.counter.begin(self.initial_step)
        self._batches = 0
        self._metrics_file = open_append(self.run.metrics)
        if planned is not None:
            total = self.initial_step + planned
        if self.max_steps is not None:
            total = min(total, self.max_steps) if total is not None else self.max_steps
        self.total_steps = total
        self._bar = ProgressBar(total) if self.progress else None
        if self.diagrams:
            batch = self._safely("read the first batch", self._first_batch) if self._fit else None
            drawn = draw_system(self.out_dir, model=model, trace=trace, generator=named.get("generator"),
                                discriminator=named.get("discriminator"), data=batch, png=self.tensorboard,
                                optimizers=opts)  # fmt: skip
            if drawn["error"]:
                self._info("diagram", f"the system diagram could not be drawn: {drawn['error']}", level="warning")
            elif drawn.get("note"):
                self._info("diagram", drawn["note"])
            self._safely("write the diagram to TensorBoard", self._outputs.diagram, self.initial_step)
        self._write_config()
        if self.sampler is not None:
            self._safely("write TensorBoard text", self._outputs.text, "sampling", self.initial_step,
                         self.sampler.description)  # fmt: skip
        return self.global_step

    def step(self, step: int | None = None, logs: dict[str, Any] | None = None, *, batch: Any = None,
             generator_inputs: Any = None) -> bool:  # fmt: skip
        """Record training step ``step`` (1-based global count); return False when training must stop.

        ``step=None`` counts from the optimizers' ``iterations``. ``batch``: the training batch,
        from which an image-to-image generator's fixed inputs are taken once (of a batch of
        several images that fit, the one a compiled model holding the generator feeds it, by
        position: pix2pix's ``(imgs_A, imgs_B)`` gives ``imgs_B``; else the first).
        ``generator_inputs``: what the generator is fed this step, taken once instead of the batch.
        """
        if self._metrics_file is None:
            raise NotReadyError("Monitor.step() called before start() or after end()")
        if step is None:
            step = self.counter.count(self.global_step + 1)
        elif self._batches == 0:
            self.counter.source = "the step numbers given to Monitor.step()"
        if generator_inputs is not None and self.sampler is not None and self.sampler.needs_inputs:
            self._safely("take fixed inputs from generator_inputs", self.sampler.set_inputs, generator_inputs,
                         given=True)  # fmt: skip
        if batch is not None and self.sampler is not None and self.sampler.needs_inputs:
            self._safely("take fixed inputs from the batch", self.sampler.set_inputs, batch)
        prev, self.global_step = self.global_step, int(step)
        values = _floats(logs)
        if self.running_means_option is None and 2 <= self._batches <= 4 and values and self._model is not None:
            self.running_means |= running_mean_keys(self._model, values)
        elif self.running_means_option is True and not self.running_means:
            self.running_means = set(values)
        if _crossed(prev, step, self.log_every):
            record = {"step": step, **values}
            self._metrics_file.write(json_line(record))
            self._records.append(record)
            self._safely("write TensorBoard scalars", self._outputs.scalars, step, values)  # type: ignore[union-attr]
        events = self.health.check_logs(step, values)
        if events:
            self._emit(events)
            if any(e.kind == "nonfinite" for e in events):
                self.stopped_on_nonfinite = True
                return False
        if self._bar is not None:
            self._safely("draw the progress bar", self._bar.update, step, values)
        first = self.every_n_steps or self.checkpoint_every
        if self.watch is not None and self.watch.pending and first and _crossed(prev, step, first):
            self._check_optimizers()
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
        if self.watch is not None and self.watch.pending and self.global_step > self.initial_step:
            self._check_optimizers()
        if not self.stopped_on_nonfinite and self.global_step > self.initial_step:
            if self._last_grid != self.global_step:
                self.write_grid(self.global_step)
            if self._last_ckpt != self.global_step:
                self.save_checkpoint(self.global_step)
        self._report_failures()
        self.write_summaries()
        if self._bar is not None:
            self._safely("draw the progress bar", self._finish_bar)
        self._safely("close TensorBoard", self._outputs.close)  # type: ignore[union-attr]
        self._metrics_file.close()
        self._metrics_file = None
        self._fit = None

    # ----- artefacts ------------------------------------------------------------------------
    def generate(self) -> np.ndarray:
        """Draw the sampler's fixed inputs through the generator; uint8 images (N, H, W, C)."""
        if self.sampler is None:
            raise TrainOptionError("no sampler: the generator could not be found (see events.jsonl)")
        return self.sampler.draw()[1]

    def write_grid(self, step: int) -> Path | None:
        """Write ``samples/step_NNNNNN.png`` and check sample diversity; ``None`` if it could not be drawn."""
        if self.sampler is None or self._outputs is None:
            return None
        self._sync_weights()
        drawn = self._safely("draw the sample grid", self.sampler.draw)
        if drawn is None:
            return None
        grid, images = drawn
        if not getattr(self.sampler, "last_finite", True):
            # A NaN/Inf generator draws a flat grid and would look like mode collapse: say what it is.
            self._emit([HealthEvent(step, "nonfinite_samples", "error", _NONFINITE_SAMPLES)])
            return None
        path = self._safely("write the sample grid", self._outputs.grid, step, grid)
        self._last_grid = step
        self._emit(self.health.check_diversity(step, diversity(images)))
        self._safely("update the notebook view", self._outputs.show, step, self._note())
        return path

    def write_summaries(self) -> None:
        """Flush metrics and redraw ``curves.png`` and ``progress.gif``."""
        if self._metrics_file is not None:
            self._metrics_file.flush()
        if self._outputs is None:
            return
        notes = health_notes(self.health, self._records, self.sampler)
        summary = {"running_means": sorted(self.running_means), "health_notes": notes,
                   "sampling": self._sampling_line(), "step_count": self.counter.source}  # fmt: skip
        self._safely("write notes.json", write_atomic, self.run.notes, json.dumps(summary))
        self._safely("draw the curves", self._outputs.curves, self._records, running_means=self.running_means,
                     notes=notes)  # fmt: skip
        self._safely("write the progress GIF", self._outputs.gif)
        self._safely("update the notebook view", self._outputs.show, self.global_step, self._note())
        self._safely("flush TensorBoard", self._outputs.flush)

    # ----- internals ------------------------------------------------------------------------
    def _check_optimizers(self) -> None:
        """An ``optimizer_idle`` event for each optimizer given to ``start()`` that made no update so far."""
        assert self.watch is not None
        self._sync_weights()
        events = self._safely("check the optimizers", self.watch.check, self.global_step,
                              self.global_step - self.initial_step)  # fmt: skip
        self._emit(events or [])

    def _note(self) -> str:
        total = f"/{self.total_steps}" if self.total_steps else ""
        last = self._records[-1] if self._records else {}
        values = ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k != "step")
        return f"step {self.global_step}{total}" + (f": {values}" if values else "")

    def _sampling_line(self) -> str | None:
        """What the grids show, or why there are none and what to pass (one line in the report)."""
        if self.sampler is not None:
            return self.sampler.description
        return f"none drawn: {self._no_sampler}" if self._no_sampler else None

    def _choose(self, **kwargs: Any) -> Sampler:
        """``choose_sampler``, keeping its one-line reason when nothing can be sampled (for the report)."""
        self._no_sampler = None
        try:
            return choose_sampler(**kwargs)
        except ValueError as exc:
            self._no_sampler = str(exc)
            raise

    def _first_batch(self) -> Any:
        """``fit``'s first batch, read once (for the sampler's fixed inputs and for tracing)."""
        if self._first is None:
            self._first = keras_internals.first_batch(self._fit)
        return self._first

    def _finish_bar(self) -> None:
        assert self._bar is not None
        self._bar.update(self.global_step, self._records[-1] if self._records else {}, force=True)
        self._bar.close()


def _crossed(prev: int, step: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in ``(prev, step]``: steps may advance several at a time.

    >>> _crossed(7, 8, 4), _crossed(5, 7, 4), _crossed(6, 9, 4)
    (True, False, True)
    """
    return step // every > prev // every
