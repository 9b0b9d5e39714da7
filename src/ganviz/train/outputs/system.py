"""``draw_system``: the run's system diagram (``diagrams/system.svg``, ``trace.json``), traced or assumed.

A ``ganviz.GAN`` is drawn from the loop it runs (its loss, R1 penalty and EMA generator), not
traced, on every Keras backend.

It may fail (a step that cannot be traced): the outcome is written to ``diagrams/system.json``
and returned, never raised into training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..._io import write_atomic
from ...errors import TraceError
from ..run.folder import RunFolder

__all__ = ["draw_system"]


def draw_system(run: Path, *, model: Any = None, trace: Any = None, generator: Any = None,
                discriminator: Any = None, data: Any = None, png: bool = False,
                optimizers: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Trace the GAN (or take ``trace``) and write ``diagrams/system.svg``, ``trace.json`` (and ``system.png``).

    ``optimizers``: those given to ``Monitor.start()`` by name; the assumed loop names them with
    their class and learning rate (``g_optimizer=combined.optimizer``).

    A model's own ``train_step`` is traced on every backend; off TensorFlow, a step the tracer cannot
    follow gives the standard loop of the generator and discriminator it holds instead (``how:
    "assumed"``, with a ``note`` saying why).

    Returns ``{"how": "traced" | "assumed", "error": str | None}`` (and ``"note"`` for that fallback);
    the outcome is also written to ``diagrams/system.json`` for the report.
    """
    folder = RunFolder(run).diagrams
    folder.mkdir(parents=True, exist_ok=True)
    outcome: dict[str, Any] = {"how": None, "error": None}
    try:
        from ... import api
        from ...ir import Trace

        recipe = _recipe_trace(model) if trace is None and model is not None else None
        if recipe is not None:  # ganviz.GAN: its loop is known, so it is drawn the same on every backend
            trace, outcome["how"] = recipe, "assumed"
        elif trace is None and model is not None and _has_train_step(model):
            trace, outcome["how"] = _traced_or_held_loop(model, data, generator, discriminator, optimizers, outcome)
        elif trace is None and generator is not None and _image_to_image(generator):
            raise TraceError(
                "the standard loop feeds noise to the generator, but this one maps images to images; to draw "
                "your step pass Monitor.start(trace=ganviz.trace_step(train_step, input_batch, target_batch))"
            )
        elif trace is None and generator is not None and discriminator is not None:
            from ...extract.assumed import assumed_gan_trace

            trace, outcome["how"] = assumed_gan_trace(generator=generator, discriminator=discriminator), "assumed"
            trace = _named_optimizers(trace, optimizers or {})
        elif trace is not None:
            outcome["how"] = "assumed" if getattr(trace, "assumed", False) else "traced"
        if not isinstance(trace, Trace):
            why = "no train_step to trace and no generator/discriminator pair"
            raise TraceError(f"{why}: pass Monitor.start(trace=ganviz.trace_step(your_step, batch))")
        write_atomic(folder / "trace.json", trace.to_json())
        api.plot_gan(trace, to_file=str(folder / "system.svg"))
        if png:
            api.plot_gan(trace, to_file=str(folder / "system.png"), dpi=72)
    except Exception as exc:  # noqa: BLE001 - reported in the run, never raised into training
        outcome["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"
    write_atomic(folder / "system.json", json.dumps(outcome))
    return outcome


def _traced_or_held_loop(
    model: Any, data: Any, generator: Any, discriminator: Any, optimizers: Any, outcome: dict[str, Any]
) -> tuple[Any, str]:
    """The model's own ``train_step`` traced (TensorFlow, JAX, PyTorch). Off TensorFlow, a step the
    tracer cannot follow falls back to the standard loop of the generator and discriminator given or
    held, with a ``note`` in ``outcome`` saying why; else the trace's error stands."""
    from ...extract.step_trace import trace_gan

    try:
        return trace_gan(model, data=data), "traced"
    except TraceError as exc:
        if not _off_tensorflow():
            raise
        pair = (generator, discriminator) if generator is not None and discriminator is not None else None
        pair = pair or _held_pair(model)
        if pair is None:
            raise TraceError(
                f"{' '.join(str(exc).split())[:300]}; and {type(model).__name__} holds no one generator and one "
                f"discriminator to draw the standard loop of: pass Monitor.start(model, generator=..., "
                f"discriminator=...)"
            ) from exc
        reason = " ".join(str(exc).split())[:300]
    from ...extract.assumed import assumed_gan_trace

    trace = assumed_gan_trace(generator=pair[0], discriminator=pair[1])
    named = {**_held_optimizers(model), **(optimizers or {})}
    outcome["note"] = (
        f"the system diagram is the standard loop of {type(model).__name__}'s generator and discriminator, "
        f"not its train_step, which could not be traced on the {_backend()!r} backend: {reason}"
    )
    return _named_optimizers(trace, named), "assumed"


def _recipe_trace(gan: Any) -> Any:
    """The loop of a ``ganviz.GAN`` from its options (loss, R1, EMA, optimizers), or ``None`` for other models.

    Drawn without tracing, from the options, so every backend shows the same diagram of it.
    """
    if not type(gan).__module__.startswith("ganviz.train.gan") or not hasattr(gan, "loss_name"):
        return None
    import dataclasses

    from ...extract.assumed import assumed_gan_trace
    from ...extract.step_trace.build import learning_rate
    from ...ir.trace import OptimizerInfo

    ema = getattr(gan, "ema", None)
    r1 = float(getattr(gan, "r1_weight", 0.0) or 0.0)
    bits = [gan.loss_name] + ([f"R1 {r1:g}"] if r1 else []) + ([f"EMA {ema:g}"] if ema is not None else [])
    trace = assumed_gan_trace(generator=gan.generator, discriminator=gan.discriminator, loss=gan.loss_name,
                              r1_weight=r1, ema=ema, name=f"ganviz.GAN ({', '.join(bits)})")  # fmt: skip
    optimizers = []
    for info in trace.optimizers:
        opt = getattr(gan, info.name, None)
        optimizers.append(info if opt is None else OptimizerInfo(info.name, type(opt).__name__, learning_rate(opt)))
    return dataclasses.replace(trace, optimizers=tuple(optimizers))


def _named_optimizers(trace: Any, optimizers: dict[str, Any]) -> Any:
    """The assumed loop's optimizers with the class and learning rate of those given by the same name."""
    import dataclasses

    from ...extract.step_trace.build import learning_rate
    from ...ir.trace import OptimizerInfo

    infos = []
    for info in trace.optimizers:
        opt = optimizers.get(info.name)
        infos.append(info if opt is None else OptimizerInfo(info.name, type(opt).__name__, learning_rate(opt)))
    return dataclasses.replace(trace, optimizers=tuple(infos))


def _backend() -> str:
    import keras

    return str(keras.backend.backend())


def _off_tensorflow() -> bool:
    return _backend() != "tensorflow"


_D_PREFIXES = ("disc", "critic", "d_", "netd")


def _held_pair(model: Any) -> tuple[Any, Any] | None:
    """The one generator and the one discriminator ``model`` holds (by attribute name), else ``None``."""
    from ..roles import held_models, is_generator_name

    gens = [m for name, m in held_models(model) if is_generator_name(name)]
    discs = [m for name, m in held_models(model) if name.lower().lstrip("_").startswith(_D_PREFIXES)
             or name.lower().lstrip("_") == "d"]  # fmt: skip
    if len(gens) != 1 or len(discs) != 1 or _image_to_image(gens[0]):
        return None
    return gens[0], discs[0]


def _held_optimizers(model: Any) -> dict[str, Any]:
    """``d_optimizer`` / ``g_optimizer`` as the model holds them (Keras's GAN guides' names)."""
    import keras

    held = {name: getattr(model, name, None) for name in ("d_optimizer", "g_optimizer")}
    return {k: v for k, v in held.items() if isinstance(v, keras.optimizers.Optimizer)}


def _has_train_step(model: Any) -> bool:
    import keras

    step = getattr(type(model), "train_step", None)
    return step is not None and step is not getattr(keras.Model, "train_step", None)


def _image_to_image(generator: Any) -> bool:
    from ..roles import is_image_to_image

    return is_image_to_image(generator)
