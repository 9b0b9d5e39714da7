"""``train()``: the function behind ``ganviz train`` (data spec, seed models, GAN, Monitor, report)."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
from pathlib import Path
from typing import Any

from ..._io import check_name_lengths
from ...errors import DataError, GanvizError, OutputPathError, TrainOptionError, UserCodeError, user_frame
from ..run.folder import RunFolder
from .options import DEFAULTS, LOSS_SETTINGS, TrainResult, default_intervals, fit_remaining, total_steps

__all__ = ["train", "TrainResult", "DEFAULTS"]


def train(
    data: str | None = None,
    steps: int | None = None,
    out: str | os.PathLike[str] = DEFAULTS["out"],
    *,
    resume: bool = False,
    overwrite: bool = False,
    loss: str | None = None,
    batch_size: int | None = None,
    quick: bool = False,
    latent_dim: int | None = None,
    learning_rate: float | None = None,
    d_steps: int | None = None,
    seed: int | None = None,
    sample_every: int | None = None,
    checkpoint_every: int | None = None,
    jit_compile: bool | str = "auto",
    progress: bool = True,
    report: bool = True,
    generator: Any = None,
    discriminator: Any = None,
    model: Any = None,
    tensorboard: bool = False,
    model_target: str | None = None,
) -> TrainResult:
    """Train a GAN on a dataset and write a monitored run folder with a report.

    Args:
        data: ``"digits"`` (embedded, the default), ``"mnist:PATH"`` or ``"folder:PATH"``.
        steps: Total generator steps (default 3000; 200 with ``quick``; a resumed run's own).
        out: Run folder. One run at a time may use it (a lock file in it says which).
        resume: Continue from the newest readable checkpoint in ``out``. Options left ``None`` take
            the run's own values; options that differ from the run's are refused.
        overwrite: Delete an earlier run in ``out`` and start over (without it, a folder that
            holds a run is refused).
        loss: ``"bce"`` (default), ``"lsgan"``, ``"hinge"`` or ``"wgan-gp"``.
        batch_size: Batch size (default 128).
        quick: A short smoke run (fewer steps, frequent samples).
        latent_dim: Noise length (default 100).
        learning_rate: Adam learning rate for both models (default 2e-4, beta_1 0.5).
        d_steps: Discriminator updates per step (default 1; 3 for WGAN-GP).
        seed: Seed of weights, noise, shuffling and the fixed sample noise (default 0).
        sample_every: Grid interval in steps (default: 20 grids per run).
        checkpoint_every: Checkpoint interval in steps (default: 5 per run).
        jit_compile: Passed to ``GAN.compile`` (``"auto"``: XLA when the models are Keras's own layers).
        progress: Show the progress bar.
        report: Write ``report.html`` at the end.
        generator: Use this generator instead of the seed's (its output must be 28x28x1 unless
            the data matches it).
        discriminator: Use this discriminator instead of the seed's.
        model: Train this compiled GAN (a ``keras.Model`` with its own ``train_step``) instead;
            the loss and model options are then the model's own.
        tensorboard: Also write TensorBoard events to ``out/tensorboard``.
        model_target: How the user named ``model`` (``gan.py:make_gan``), for the command that continues a
            failed run.

    Returns:
        A :class:`TrainResult`.

    Raises:
        DataError: the data spec or files are bad.
        OutputPathError: the run folder is in use, holds a run (without ``resume``/``overwrite``),
            has nothing to resume, was made with other options, or the disk filled up.
    """
    from ..data import check_spec

    if resume and overwrite:
        raise TrainOptionError("resume and overwrite exclude each other: choose one")
    if data is not None:
        check_spec(data)  # before TensorFlow is imported
    given = {
        "data": data,
        "loss": loss,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "latent_dim": latent_dim,
        "d_steps": d_steps,
        "seed": seed,
    }
    out_dir = Path(out)
    check_name_lengths(out_dir, what="--out folder")
    runs = dict(
        resume=resume,
        quick=quick,
        sample_every=sample_every,
        checkpoint_every=checkpoint_every,
        jit_compile=jit_compile,
        progress=progress,
        report=report,
        generator=generator,
        discriminator=discriminator,
        model=model,
        tensorboard=tensorboard,
    )
    from ..gan.distributed import is_chief

    if not is_chief():  # the other workers of a multi-worker run write nothing: no folder, no lock
        return _train(out_dir, **runs, **given, steps=steps)
    created = _run_folder(out_dir)
    from ..run.lock import RunLock

    lock = RunLock(out_dir)
    try:
        lock.acquire()
        if resume:
            options = _resume_options(out_dir, given, steps, model, model_target)
        else:
            from ..run.rules import check_new_run

            check_new_run(out_dir, overwrite=overwrite)
            options = {**given, "steps": steps}
        from ..run.rules import remove_partial

        remove_partial(out_dir)
        return _train(out_dir, **runs, **options)
    except OSError as exc:
        if isinstance(exc, OutputPathError) or exc.errno not in _FULL:
            raise
        raise OutputPathError(_disk_full(out_dir, exc)) from None
    except GanvizError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's model or train_step may raise anything
        if model is None and user_frame(exc) is None:
            raise  # ganviz's own bug: keep its traceback
        what = "your model's training" if model is not None else "your code"
        raise UserCodeError.from_exception(
            exc, what, then=_what_was_kept(out_dir, model_target or model is not None)
        ) from None
    finally:
        lock.release()
        if created:
            _remove_if_empty(out_dir)


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _check_same_model(out_dir: Path, saved: dict[str, Any], model: Any, target: str | None) -> None:
    """Refuse by name to resume a run with another model than it trained (or a ``--model`` run without it)."""
    trained = saved.get("model") if isinstance(saved.get("model"), str) else None
    given = type(model).__name__ if model is not None else None
    flag = f"--model {target}" if target else "--model"
    if trained == given:
        return
    if trained is None:
        why = f"it trained ganviz's own GAN, not {flag} ({given}): drop --model to continue it"
    elif given is None:
        why = f"it trained your model {trained}: give the same --model again to continue it"
    else:
        why = f"it trained your model {trained}, and {flag} gives {given}: give the --model it was trained with"
    raise OutputPathError(f"cannot resume {str(out_dir)!r} with another model: {why}, or start over with "
                          "--overwrite; nothing was changed")  # fmt: skip


def _resume_options(
    out_dir: Path, given: dict[str, Any], steps: int | None, model: Any = None, target: str | None = None
) -> dict[str, Any]:
    from ..run.checkpoint import Checkpointer
    from ..run.rules import check_resume, merge_resume_options

    ckpt = Checkpointer(out_dir / "checkpoints")
    latest = ckpt.load_latest()
    saved = check_resume(out_dir, [p for _, p in ckpt.paths()], latest[2] if latest else None)
    _check_same_model(out_dir, saved, model, target)
    options = merge_resume_options(out_dir, saved, given)
    options["steps"] = steps if steps is not None else saved.get("steps")
    at = latest[2].get("step") if latest else None
    if isinstance(at, int) and steps is not None and at > steps:  # --steps below the work done: say so, do nothing
        raise OutputPathError(
            f"nothing to resume: run {str(out_dir)!r} is already at step {at} and --steps is {steps}; nothing was "
            f"changed (give --steps above {at} to train it further)"
        )
    return {k: options.get(k) for k in (*given, "steps")}


def _what_was_kept(out_dir: Path, user_model: bool) -> str:
    """What a failed run left, and the command that continues (or restarts) it."""
    from ..run.checkpoint import Checkpointer

    steps = [s for s, _ in Checkpointer(RunFolder(out_dir).checkpoints).paths()]
    model = f" --model {user_model}" if isinstance(user_model, str) else " --model ..." if user_model else ""
    if steps:
        return (f"the checkpoint at step {steps[-1]} was kept: fix it, then continue with "
                f"`ganviz train --resume{model} --out {out_dir}`")  # fmt: skip
    return f"no checkpoint was written yet: fix it, then start again with `ganviz train{model} --overwrite --out {out_dir}`"


def _disk_full(out_dir: Path, exc: OSError) -> str:
    from ..run.checkpoint import Checkpointer

    steps = [s for s, _ in Checkpointer(out_dir / "checkpoints").paths()]
    name = f" {Path(exc.filename).name!r}" if exc.filename else ""
    where = f"disk full while writing{name} in run folder {str(out_dir)!r} ({exc.strerror})"
    if steps:
        return (f"{where}; its last good checkpoint (step {steps[-1]}) is kept: free some space, then continue "
                f"with `ganviz train --resume --out {out_dir}`")  # fmt: skip
    return (f"{where}; it had no checkpoint yet, so there is nothing to resume: free some space, then start again "
            f"with `ganviz train --overwrite --out {out_dir}`")  # fmt: skip


def _remove_if_empty(out_dir: Path) -> None:
    """Remove a run folder this call created when it holds nothing (or only empty sub-folders)."""
    try:
        if all(p.is_dir() and not any(p.iterdir()) for p in out_dir.iterdir()):
            shutil.rmtree(out_dir)
    except OSError:
        pass


def _train(
    out_dir: Path,
    *,
    data: str | None,
    steps: int | None,
    resume: bool,
    loss: str | None,
    batch_size: int | None,
    quick: bool,
    latent_dim: int | None,
    learning_rate: float | None,
    d_steps: int | None,
    seed: int | None,
    sample_every: int | None,
    checkpoint_every: int | None,
    jit_compile: bool | str,
    progress: bool,
    report: bool,
    generator: Any,
    discriminator: Any,
    model: Any,
    tensorboard: bool,
) -> TrainResult:
    from .. import data as data_mod

    if model is not None:
        from .user_model import train_user_model

        return train_user_model(model, data=data or "digits", out_dir=out_dir, resume=resume,
                                steps=total_steps(steps, quick),
                                batch_size=int(batch_size or DEFAULTS["batch_size"]), seed=int(seed or DEFAULTS["seed"]),
                                sample_every=sample_every, checkpoint_every=checkpoint_every,
                                progress=progress, report=report, tensorboard=tensorboard)  # fmt: skip
    images = data_mod.load(data or "digits", scale="tanh")  # before TensorFlow: bad data is refused at once
    import keras

    from ...extract.keras_model.facts import tensorflow_left_alone
    from ..data.batches import numpy_batches
    from ..gan import gan_class
    from ..gan.base import normalize_loss
    from ..gan.distributed import fit_distributed, is_chief, multi_worker_strategy
    from ..models import seed_discriminator, seed_generator
    from ..monitor.callback import Monitor
    from ..run.checkpoint import Checkpointer

    # TF_CONFIG naming several workers: join a multi-worker run; only the chief writes files.
    strategy = multi_worker_strategy()  # first: TensorFlow sets up collectives before other TF work
    chief = is_chief()
    data = data or "digits"
    seed = int(seed or DEFAULTS["seed"])
    loss = normalize_loss(loss or DEFAULTS["loss"])
    steps = total_steps(steps, quick)
    batch_size = int(batch_size or DEFAULTS["batch_size"])
    latent_dim = int(latent_dim or DEFAULTS["latent_dim"])
    lr = float(learning_rate or DEFAULTS["learning_rate"])
    d_activation, default_d_steps, beta_2 = LOSS_SETTINGS[loss]

    if images.shape[1:] != (28, 28, 1) and generator is None:
        raise DataError(f"the seed models make 28x28x1 images but {data!r} holds {images.shape[1:]} images")
    # The checkpoint the Monitor will resume from: the newest *readable* one (it skips broken files).
    latest = Checkpointer(RunFolder(out_dir).checkpoints).load_latest() if resume and chief else None
    done = int(latest[2]["step"]) if latest is not None else 0
    GAN = gan_class()  # noqa: N806 - the backend's GAN class
    with tensorflow_left_alone(keras):  # on jax/torch Keras would import TensorFlow just to seed it
        keras.utils.set_random_seed(seed)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        gen = generator if generator is not None else seed_generator(latent_dim)
        disc = discriminator if discriminator is not None else seed_discriminator(activation=d_activation)
        # GAN's own defaults are the measured recipe (with bce: R1 and an EMA generator, on every backend)
        gan = GAN(gen, disc, latent_dim=latent_dim, loss=loss, d_steps=d_steps or default_d_steps, seed=seed)
        sample_every, checkpoint_every = default_intervals(steps, sample_every, checkpoint_every)
        gan.compile(
            d_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=beta_2),
            g_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=beta_2),
            jit_compile=jit_compile,
        )
    config = {
        "data": data,
        "images": len(images),
        "steps": steps,
        "loss": loss,
        "batch_size": batch_size,
        "latent_dim": latent_dim,
        "learning_rate": lr,
        "d_steps": gan.d_steps,
        "r1_weight": gan.r1_weight,
        "ema": gan.ema,
        "seed": seed,
        "generator": gen.name,
        "discriminator": disc.name,
    }
    monitor = Monitor(
        out_dir,
        every_n_steps=sample_every,
        checkpoint_every=checkpoint_every,
        resume=resume,
        max_steps=steps,
        progress=progress,
        seed=seed,
        config=config,
        tensorboard=tensorboard,
        # Tracing the step for the diagram would run collective ops on the chief alone and put the
        # workers' collectives out of step: a multi-worker run draws no system diagram.
        diagrams=strategy is None,
    )
    remaining = max(0, steps - done)
    if strategy is not None:  # every worker runs the loop; the chief's Monitor resumes, then all continue
        per_epoch = max(1, len(images) // batch_size)
        fit_distributed(
            gan,
            lambda start: data_mod.to_dataset(images, batch_size, seed=seed + start),
            steps_per_epoch=per_epoch,
            epochs=math.ceil(steps / per_epoch),
            until=steps,
            callbacks=[monitor] if chief else [],
        )
        remaining = int(gan.noise_counter.numpy()) - done
        if not chief:
            end = int(gan.noise_counter.numpy())
            return TrainResult(out_dir, end, end - remaining, False, None, [])
    elif remaining:
        if keras.backend.backend() == "tensorflow":
            dataset = data_mod.to_dataset(images, batch_size, seed=seed + done)
        else:
            dataset = numpy_batches(images, batch_size, seed=seed + done)
        from .interrupt import StopAtStepBoundary  # imports Keras: only once the data and options passed

        with StopAtStepBoundary() as stop:  # Ctrl-C ends the run when a step ends, after the Monitor's work
            if keras.backend.backend() == "tensorflow":
                # Exactly the remaining steps, as one pass: the last call of a steps_per_execution > 1
                # function runs only the batches left, so no step runs past --steps.
                gan.fit(dataset.take(remaining), epochs=1, verbose=0, shuffle=False, callbacks=[monitor, stop])
            else:
                fit_remaining(gan, dataset, remaining, len(images) // batch_size, [monitor, stop])
    report_path = None
    if report and chief:
        from ..outputs.report import write_report

        report_path = write_report(out_dir, gan=gan)
    return TrainResult(
        out_dir=out_dir,
        steps=monitor.global_step if remaining else done,
        initial_step=monitor.initial_step if remaining else done,
        stopped_on_nonfinite=monitor.stopped_on_nonfinite,
        report=report_path,
        events=list(monitor.events),
        last_checkpoint=monitor._last_ckpt if monitor._last_ckpt >= 0 else (done or None),
    )


def _run_folder(out_dir: Path) -> bool:
    """Create the run folder (returns whether it was made here), or say in one line why it cannot be."""
    existed = out_dir.is_dir()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "it is a file" if out_dir.exists() else (exc.strerror or str(exc))
        raise OutputPathError(f"cannot create run folder {str(out_dir)!r}: {reason} (choose another --out)") from None
    return not existed
