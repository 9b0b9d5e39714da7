"""Find the models and optimizers a training step uses, and the example data to trace it with."""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import TraceError
from .. import tf_graph as tfg

__all__ = [
    "keras_tf",
    "Found",
    "unwrap",
    "find_in_function",
    "model_names",
    "to_spec",
    "data_paths",
    "infer_data",
    "containers",
]

_AUTO_NAME = re.compile(r"^(sequential|functional|model)(_\d+)?$")
_DATA_HINTS = ("disc", "critic", "encoder")


def keras_tf() -> Any:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise TraceError(
            f"tracing a training step needs TensorFlow (the step runs under tf.function), but the Keras "
            f"backend is {keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras, "
            f"or draw the standard loop on any backend with plot_gan(generator=..., discriminator=...)"
        )
    return keras


class Found:
    """Models and optimizers found, by the name the user holds them under, plus what was searched."""

    def __init__(self) -> None:
        self.models: dict[int, tuple[str, Any]] = {}
        self.optimizers: dict[int, tuple[str, Any]] = {}
        self.searched: list[str] = []

    def add_given(self, models: Any) -> None:
        """Add the models a caller named: a ``{name: model}`` dict, a list of models, or one model."""
        if isinstance(models, dict):
            for name, obj in models.items():
                self.add(str(name), obj)
        elif models is not None:
            for obj in models if isinstance(models, (list, tuple)) else [models]:
                self.add(getattr(obj, "name", "model"), obj)

    def add(self, name: str, value: Any, depth: int = 0) -> None:
        keras = sys.modules["keras"]
        if isinstance(value, keras.Model):
            self.models.setdefault(id(value), (name, value))
        elif isinstance(value, keras.optimizers.Optimizer):
            self.optimizers.setdefault(id(value), (name, value))
        elif depth < 3 and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.add(f"{name}[{i}]", item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for key, item in value.items():
                self.add(f"{name}[{key!r}]", item, depth + 1)
        elif depth < 3 and _holds_models(value, keras):
            # A loss object, a layer or a user's callable object may hold a model (a perceptual loss's
            # feature network): the step calls it through them, so it is one of the step's models.
            for attr, item in list(vars(value).items()):
                if not attr.startswith("_"):
                    self.add(f"{name}.{attr}", item, depth + 1)

    def add_attributes(self, obj: Any) -> None:
        for name, value in list(getattr(obj, "__dict__", {}).items()):
            if not name.startswith("_"):
                self.searched.append(name)
                self.add(name, value)


def _holds_models(value: Any, keras: Any) -> bool:
    """Whether ``value`` is an object whose attributes may hold models: a Keras loss or layer, or an
    instance of a user's class with ``__call__`` (never a module, class, function or tensor)."""
    if isinstance(value, (type, types.ModuleType, types.FunctionType, types.MethodType)):
        return False
    if not hasattr(value, "__dict__"):
        return False
    if isinstance(value, (keras.losses.Loss, keras.layers.Layer)):
        return True
    call = next((k.__dict__["__call__"] for k in type(value).__mro__ if "__call__" in k.__dict__), None)
    code = getattr(call, "__code__", None)
    return code is not None and not tfg.is_library_file(code.co_filename)


def containers(models: list[Any]) -> set[int]:
    """Ids of the models that hold other models of the step as layers (``combined = Model(z, D(G(z)))``).

    Calling one is calling its parts: the parts' calls are recorded, so a gradient through the
    container reaches the call whose variables receive it.
    """
    ids = {id(m) for m in models}
    out: set[int] = set()
    for m in models:
        try:
            inner = m._flatten_layers(include_self=False, recursive=True)  # noqa: SLF001
            if any(id(x) in ids for x in inner):
                out.add(id(m))
        except Exception:
            continue
    return out


def unwrap(fn: Any) -> Any:
    """The Python function behind a ``tf.function`` (or the object itself)."""
    return getattr(fn, "python_function", fn)


def _code_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += [n for n in _code_names(const) if n not in names]
    return names


def find_in_function(fn: Any, found: Found, depth: int = 0, seen: set[int] | None = None) -> None:
    """Models and optimizers in ``fn``'s closure and globals, and in those of the plain functions
    (and ``tf.function`` s) it calls from there, two levels down (``update_discriminator(...)``)."""
    seen = set() if seen is None else seen
    fn = unwrap(fn)
    if id(fn) in seen:
        return
    seen.add(id(fn))
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        found.add_attributes(owner)
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    helpers: list[Any] = []
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        with contextlib.suppress(ValueError):
            found.searched.append(name)
            found.add(name, cell.cell_contents)
            helpers.append(cell.cell_contents)
    glb = getattr(fn, "__globals__", {})
    for name in _code_names(code):
        if name in glb:
            found.searched.append(name)
            found.add(name, glb[name])
            helpers.append(glb[name])
    if depth < 2:
        for value in helpers:
            inner = unwrap(value)
            if isinstance(inner, types.FunctionType) and not tfg.is_library_file(inner.__code__.co_filename):
                find_in_function(inner, found, depth + 1, seen)


def model_names(found: Found) -> dict[int, str]:
    """A unique display name per model: its Keras name, or the attribute name for an automatic one."""
    out: dict[int, str] = {}
    used: set[str] = set()
    for key, (attr, model) in found.models.items():
        name = model.name
        if _AUTO_NAME.match(name) and attr.isidentifier():
            name = attr
        base, i = name, 1
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        out[key] = name
    return out


def to_spec(value: Any) -> Any:
    """An example batch (or spec, or nested structure of them) as ``tf.TensorSpec`` s."""
    import numpy as np
    import tensorflow as tf

    if isinstance(value, tf.TensorSpec):
        return value
    if hasattr(value, "element_spec"):  # a tf.data.Dataset
        return value.element_spec
    if isinstance(value, dict):
        return {k: to_spec(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not isinstance(value, np.ndarray):
        return tuple(to_spec(v) for v in value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        dtype = tf.as_dtype(value.dtype)
        if dtype == tf.float64:
            dtype = tf.float32
        return tf.TensorSpec(tuple(value.shape), dtype)
    if isinstance(value, (int, float, bool)):
        return value  # a plain Python value is passed through as a constant argument
    raise TraceError(
        f"cannot use {type(value).__name__} as example data: pass a numpy array, a tensor, a tf.TensorSpec "
        f"or a tuple/dict of them"
    )


def data_paths(structure: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(structure, dict):
        return [p for k, v in structure.items() for p in data_paths(v, f"{prefix}[{k!r}]")]
    if isinstance(structure, (list, tuple)):
        return [p for i, v in enumerate(structure) for p in data_paths(v, f"{prefix}[{i}]")]
    return [(prefix, structure)] if tfg.is_graph_tensor(structure) else []


def keras_tensors(model: Any, attr: str) -> Any:
    """``model.inputs`` or ``model.outputs`` (``attr``); None for no model or one that cannot say
    (a subclassed model never called)."""
    if model is None:
        return None
    try:
        return getattr(model, attr)
    except Exception:
        return None


def data_input(found: Found) -> tuple[str, Any] | None:
    """The one input of the model whose name says it reads the data (discriminator first), as
    ``(attribute, Keras input)``, or ``None``; the backends make their own spec from it."""
    candidates = sorted(
        found.models.values(),
        key=lambda am: next((i for i, h in enumerate(_DATA_HINTS) if h in (am[0] + am[1].name).lower()), 99),
    )
    for attr, model in candidates:
        if not any(h in (attr + model.name).lower() for h in _DATA_HINTS):
            continue
        inputs = keras_tensors(model, "inputs")
        if inputs and len(inputs) == 1:
            return attr, inputs[0]
    return None


def check_gan_object(gan: Any, keras: Any) -> Any:
    """``gan.train_step``, after the checks every backend makes: an object, not a class, with a step of its own."""
    if isinstance(gan, type):
        raise TraceError(
            f"{gan.__name__} is a class, not a GAN object: build and compile one first, e.g. "
            f"gan = {gan.__name__}(...); gan.compile(...); then trace gan"
        )
    step = getattr(gan, "train_step", None)
    if step is None:
        raise TraceError(
            f"{type(gan).__name__} has no train_step to trace; for separate models use "
            f"plot_gan(generator=..., discriminator=...)"
        )
    if isinstance(gan, keras.Model) and getattr(type(gan), "train_step", None) is getattr(
        keras.Model, "train_step", None
    ):
        raise TraceError(
            f"{type(gan).__name__} does not override train_step, so there is no GAN step to trace; "
            f"for separate models use plot_gan(generator=..., discriminator=...)"
        )
    return step


def inferred_input(found: Found, batch: int | None, example: str) -> tuple[tuple[Any, ...], Any, str]:
    """``(shape, dtype, origin)`` of the data as :func:`data_input` reads it from the models, a
    missing batch size as ``batch`` (None: left missing); no such model is one line asking for ``example``."""
    hit = data_input(found)
    if hit is None:
        raise TraceError(f"cannot tell the shape of the training data from the models: pass data=<{example}>")
    attr, keras_input = hit
    dims = tuple(keras_input.shape)
    shape = dims if batch is None else tuple(batch if d is None else int(d) for d in dims)
    return shape, keras_input.dtype, f"the input shape of {attr!r} {shape}"


def infer_data(found: Found) -> tuple[Any, str]:
    import tensorflow as tf

    shape, dtype, origin = inferred_input(
        found, None, "an example batch, a tf.TensorSpec, or a tuple of them for (images, labels)"
    )
    return tf.TensorSpec(shape, dtype), origin


def plain_example(value: Any, backend: str, accepted: str) -> Any:
    """A plain Python value (or None) in example data, passed on as a constant argument; anything
    else is refused in one line naming what the ``backend`` takes (``accepted``)."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    raise TraceError(
        f"cannot use {type(value).__name__} as example data on {backend}: pass {accepted}, or a tuple/dict of them"
    )


def first_line(exc: BaseException) -> str:
    """The first informative line of an exception's message, at most 300 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass
class Step:
    """A step to trace, as every backend's tracer takes it: the function and its example arguments,
    the models found, what messages call it, the trace's name, its parameter names, the note saying
    the data was inferred, and the object it is a method of."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    found: Found
    what: str
    name: str
    params: list[str]
    note: str = ""
    owner: Any = None

    @property
    def owners(self) -> list[Any]:
        return [] if self.owner is None else [self.owner]

    def models(self) -> tuple[dict[int, str], list[Any], list[Any], set[int]]:
        """``(display names, models, optimizers, containers)`` of what was found (:func:`models_to_trace`,
        :func:`containers`); no model found is one line saying where to put them."""
        names, models, opts = models_to_trace(self.found, self.what)
        return names, models, opts, containers(models)


def gan_found(gan: Any, keras: Any) -> tuple[Any, Found]:
    """``(gan.train_step, the models and optimizers among gan's attributes)``, after the checks of
    :func:`check_gan_object`."""
    step = check_gan_object(gan, keras)
    found = Found()
    found.add_attributes(gan)
    return step, found


def gan_step(
    gan: Any, step: Callable[..., Any], found: Found, data: Any, infer: Callable[[Found], tuple[Any, str]], params: int
) -> Step:
    """A GAN object's ``train_step`` with its data (``infer`` makes it when missing) and its first
    ``params`` parameter names (``data`` for a step that shows none)."""
    note = ""
    if data is None:
        data, origin = infer(found)
        note = f" (data was inferred from {origin}; pass data=<an example batch>)"
    names = [p for p in inspect.signature(step).parameters][:params] or ["data"]
    name = type(gan).__name__
    return Step(step, (data,), found, f"{name}.train_step", name, names, note, gan)


def step_function(
    step_fn: Callable[..., Any], example_args: tuple[Any, ...], models: Any, infer: Callable[[Found], tuple[Any, str]]
) -> Step:
    """What every tracer takes from a plain step function.

    The models it uses are found; for a one-argument step given no example, ``infer`` makes its data.
    """
    found = Found()
    found.add_given(models)
    find_in_function(step_fn, found)
    fn = unwrap(step_fn)
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    note = ""
    if not example_args and len(params) == 1 and found.models:
        spec, origin = infer(found)
        example_args, note = (spec,), f" (data was inferred from {origin}; pass example arguments)"
    name = getattr(fn, "__name__", "step")
    owner = getattr(fn, "__self__", None)
    return Step(fn, tuple(example_args), found, f"step function {name!r}", name, params, note, owner)


def models_to_trace(found: Found, what: str) -> tuple[Any, list[Any], list[Any]]:
    """``(model_names(found), models, optimizers)``; no model found is one line saying where to put them."""
    if not found.models:
        searched = ", ".join(dict.fromkeys(found.searched)) or "nothing"
        raise TraceError(
            f"no Keras models found in {what} (searched: {searched}); hold the models as attributes "
            f"(self.generator = ...) or pass models=[generator, discriminator]"
        )
    return model_names(found), [m for _, m in found.models.values()], [o for _, o in found.optimizers.values()]
