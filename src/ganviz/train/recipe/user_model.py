"""``train_user_model``: ``ganviz train --model file.py:make_gan`` trains the user's own compiled GAN, monitored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import NotAModelError, UserCodeError

__all__ = ["train_user_model", "check_user_model"]


def check_user_model(model: Any, where: str = "the model") -> Any:
    """Check ``model`` is a compiled ``keras.Model`` with its own ``train_step``; one clear line if not."""
    import keras

    if not isinstance(model, keras.Model):
        raise NotAModelError(
            f"{where} gave a {type(model).__name__}, not a keras.Model (make_gan must return the compiled GAN)"
        )
    if getattr(type(model), "train_step", None) is getattr(keras.Model, "train_step", None):
        raise NotAModelError(
            f"{where} gave {type(model).__name__}, which has no train_step of its own: "
            "ganviz train --model needs a GAN model that overrides train_step"
        )
    if not getattr(model, "compiled", False):
        raise NotAModelError(f"{where} gave {type(model).__name__} uncompiled: call gan.compile(...) in make_gan")
    return model


def _image_size(model: Any) -> int | None:
    from ..roles import find_generators

    for _, gen in find_generators(model):
        outs = getattr(gen, "outputs", None)
        if outs and len(outs[0].shape) == 4 and outs[0].shape[1] == outs[0].shape[2] and outs[0].shape[1]:
            return int(outs[0].shape[1])
    return None


def _check_step_logs(model: Any) -> None:
    """Make the model's ``train_step`` refuse, in one line, to return no losses (Keras fails deep inside otherwise)."""
    step = model.train_step

    def train_step(data: Any) -> Any:
        logs = step(data)
        if isinstance(logs, dict) and not logs:
            raise UserCodeError(
                f"{type(model).__name__}.train_step returned no losses ({{}}): return a dict of them, "
                "such as {'d_loss': d_loss, 'g_loss': g_loss}; nothing was trained"
            )
        return logs

    model.train_step = train_step


def train_user_model(
    model: Any,
    *,
    data: str,
    steps: int,
    out_dir: Path,
    resume: bool,
    batch_size: int,
    seed: int,
    sample_every: int | None,
    checkpoint_every: int | None,
    progress: bool,
    report: bool,
    tensorboard: bool,
) -> Any:
    """Train a user's compiled GAN on ``data`` with the Monitor; the run folder is that of ``ganviz train``.

    The images are scaled to [-1, 1] and resized to the generator's output size when it is square.
    """
    import numpy as np

    from .. import data as data_mod
    from ..monitor.callback import Monitor
    from ..run.checkpoint import Checkpointer
    from .interrupt import StopAtStepBoundary
    from .options import TrainResult, default_intervals, fit_remaining

    model = check_user_model(model)
    _check_step_logs(model)
    size = _image_size(model) or 28
    images = data_mod.load(data, scale="tanh", size=size)
    latest = Checkpointer(out_dir / "checkpoints").load_latest() if resume else None
    done = int(latest[2]["step"]) if latest is not None else 0
    sample_every, checkpoint_every = default_intervals(steps, sample_every, checkpoint_every)
    config = {"data": data, "images": len(images), "steps": steps, "batch_size": batch_size, "seed": seed,
              "model": type(model).__name__}  # fmt: skip
    monitor = Monitor(out_dir, every_n_steps=sample_every, checkpoint_every=checkpoint_every,
                      resume=resume, max_steps=steps, progress=progress, seed=seed, config=config,
                      tensorboard=tensorboard)  # fmt: skip
    remaining = max(0, steps - done)
    if remaining:
        dataset = data_mod.to_dataset(np.asarray(images, "float32"), batch_size, seed=seed + done)
        with StopAtStepBoundary() as stop:  # Ctrl-C ends the run when a step ends
            fit_remaining(model, dataset, remaining, len(images) // batch_size, [monitor, stop])  # to_dataset shuffles
    report_path = None
    if report:
        from ..outputs.report import write_report

        report_path = write_report(out_dir, gan=model)
    return TrainResult(out_dir=out_dir, steps=monitor.global_step if remaining else done,
                       initial_step=monitor.initial_step if remaining else done,
                       stopped_on_nonfinite=monitor.stopped_on_nonfinite, report=report_path,
                       events=list(monitor.events),
                       last_checkpoint=(monitor._last_ckpt if remaining and monitor._last_ckpt >= 0 else done or None))  # fmt: skip
