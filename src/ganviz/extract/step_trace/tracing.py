"""``trace_gan`` and ``trace_step``: a GAN's training step traced with ``tf.function`` into a :class:`~ganviz.ir.Trace`, never updating."""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Callable
from typing import Any

from ...errors import TraceError
from ...ir.trace import Trace
from .. import tf_graph as tfg
from .build import build_trace
from .compiled import add_compiled
from .find import Step, data_paths, gan_found, gan_step, infer_data, keras_tf, step_function, to_spec
from .guard import no_trace_left
from .phases import unique_phase_names
from .record import Recorder, patched

__all__ = ["trace_gan", "trace_step"]


# -- the trace ---------------------------------------------------------------------------------------


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _fix_for(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}"
    if "symbolic tf.Tensor" in text or "NumPy call" in text:
        return (
            "while tracing, the step's data and what `predict` returns are symbolic tensors: combine them "
            "with tf ops (tf.concat, tf.ones_like), not numpy functions (np.concatenate, np.add)"
        )
    if "numpy" in text:
        return (
            "remove `.numpy()` (and other eager-only calls) from the step: while tracing, tensors are "
            "symbolic; keep values as tensors, or do that work outside the step"
        )
    if "Iterating over a symbolic" in text:
        return (
            "the step unpacks or iterates over its data: pass the example data as a tuple of arrays "
            "(e.g. data=(images, labels)), or use tf.unstack in the step"
        )
    if "OperatorNotAllowedInGraph" in text:
        return "use tf.cond / tf.where instead of a Python `if` or `while` on a tensor"
    return (
        "make the step traceable by tf.function (it must run on symbolic tensors), or draw the standard "
        "loop with plot_gan(generator=..., discriminator=...)"
    )


def _message(exc: BaseException) -> str:
    """The informative part of an exception's message, on one line (Keras wraps the real cause)."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [
        line for line in lines if line and not line.startswith(("Exception encountered when calling", "Arguments"))
    ]
    text = " ".join(lines[:2])
    if len(text) > 160 and ". " in text:
        text = text.split(". ", 1)[0] + "."
    return text if len(text) <= 300 else text[:297] + "..."


def _trace_error(exc: BaseException, what: str, note: str = "") -> TraceError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not tfg.is_library_file(f.filename)]
    where = ""
    if frames:
        f = frames[-1]
        where = f" at {f.filename}:{f.lineno}: `{(f.line or '').strip()}`"
    return TraceError(f"cannot trace {what}{where}: {type(exc).__name__}: {_message(exc)}{note}; fix: {_fix_for(exc)}")


def _run_trace(step: Callable[..., Any], specs: tuple[Any, ...], rec: Recorder, autograph: bool) -> None:
    import tensorflow as tf

    target = step
    if autograph:  # convert the function, keeping a method bound to its object
        owner = getattr(step, "__self__", None)
        func = tf.autograph.to_graph(getattr(step, "__func__", step))
        target = func if owner is None else functools.partial(func, owner)

    def entry(*args: Any) -> None:
        rec.reset()
        rec.data = [p for i, a in enumerate(args) for p in data_paths(a, str(i))]
        rec.recording = True
        try:
            rec.result = target(*args)
        finally:
            rec.recording = False

    rec.stop_code = entry.__code__
    tf.function(entry, autograph=False, reduce_retracing=False).get_concrete_function(*specs)


def _trace(step: Step) -> Trace:
    import tensorflow as tf

    found, what, note = step.found, step.what, step.note
    names, models, opts, inner = step.models()
    specs = tuple(to_spec(a) for a in step.args)
    rec = Recorder(names)
    rec.containers = inner
    with no_trace_left([*models, *opts, *step.owners]) as guard, patched(rec, models, opts, guard):
        try:
            _run_trace(step.fn, specs, rec, autograph=False)
        except TraceError:
            raise
        except tf.errors.OperatorNotAllowedInGraphError as exc:
            try:  # Python control flow on tensors: AutoGraph may convert it
                _run_trace(step.fn, specs, rec, autograph=True)
            except Exception:
                raise _trace_error(exc, what, note) from exc  # the plain error names the user's own line
        except Exception as exc:
            raise _trace_error(exc, what, note) from exc
    for name, model in rec.emulator.extra_models:  # compiled models reached through train_on_batch/predict
        found.models.setdefault(id(model), (name, model))
    for r in rec.emulator.records:  # a compiled model's optimizer, as the script reaches it
        name = rec.model_names.get(id(r.model), r.model.name)
        found.optimizers.setdefault(id(r.optimizer), (f"{name}.optimizer", r.optimizer))
    trace = build_trace(rec, found, names, step.name, step.params)
    opt_names = {key: attr for key, (attr, _) in found.optimizers.items()}
    return unique_phase_names(add_compiled(trace, rec.emulator, opt_names))


def _backend() -> str:
    import keras

    return str(keras.backend.backend())


def trace_gan(gan: Any, *, data: Any = None) -> Trace:
    """Trace a GAN's ``train_step`` symbolically and record its models, losses and updates.

    Args:
        gan: a ``keras.Model`` subclass (or any object) that overrides ``train_step`` and holds its
            models and optimizers as attributes (``self.generator``, ``self.d_optimizer`` ...).
        data: an example batch (numpy array or tensor), a ``tf.TensorSpec``, or a tuple/dict of
            them such as ``(images, labels)``. When missing, the shape is taken from the input of
            the discriminator (critic, encoder) where possible.

    Returns:
        The :class:`~ganviz.ir.Trace`; no weight, optimizer iteration or slot variable changes.

    Raises:
        TraceError: the step cannot be traced, no models were found, or data cannot be inferred.

    On the JAX backend, ``train_step(self, state, data)`` (Keras's JAX trainer) is traced by
    ``jax.make_jaxpr`` instead (``jax_trace.py``); TensorFlow is not imported. On PyTorch the step
    runs once on fake tensors (``torch_trace.py``): nothing computes, nothing changes.
    """
    if _backend() == "jax":
        from .jax_trace import trace_gan_jax

        return trace_gan_jax(gan, data=data)
    if _backend() == "torch":
        from .torch_trace import trace_gan_torch

        return trace_gan_torch(gan, data=data)
    keras = keras_tf()
    train_step, found = gan_found(gan, keras)
    step = gan_step(gan, train_step, found, data, infer_data, 1)
    uncompiled = isinstance(gan, keras.Model) and not getattr(gan, "compiled", True)
    try:
        return _trace(step)
    except TraceError as exc:
        cause = exc.__cause__
        if uncompiled and isinstance(cause, AttributeError):
            raise TraceError(
                f"cannot trace {step.what}: {type(gan).__name__} is not compiled ({_message(cause)}); "
                f"call compile(...) first, with the optimizers and losses its train_step uses"
            ) from exc
        raise


def trace_step(step_fn: Callable[..., Any], *example_args: Any, models: Any = None) -> Trace:
    """Trace a plain training-step function, finding the models and optimizers it closes over.

    Args:
        step_fn: the step (``def train_step(real_images): ...``), plain or a ``tf.function``.
        *example_args: example values (or ``tf.TensorSpec`` s) for its positional arguments;
            for a one-argument step they may be left out and are then taken from the input of
            its discriminator (critic, encoder).
        models: the models (and optionally optimizers) it uses, as a list or a ``{name: obj}``
            dict, when they cannot be found in its closure or globals.

    Returns:
        The :class:`~ganviz.ir.Trace`.

    Raises:
        TraceError: the step cannot be traced or uses no models that could be found.

    On the JAX backend the step (a pure function of arrays: the models' variables and the data) is
    traced by ``jax.make_jaxpr`` (``jax_trace.py``); on PyTorch it runs once on fake tensors
    (``torch_trace.py``).
    """
    if _backend() == "jax":
        from .jax_trace import trace_step_jax

        return trace_step_jax(step_fn, *example_args, models=models)
    if _backend() == "torch":
        from .torch_trace import trace_step_torch

        return trace_step_torch(step_fn, *example_args, models=models)
    keras_tf()
    return _trace(step_function(step_fn, example_args, models, infer_data))
