"""What the user's models are to a GAN: which held models are generators, and which map images to images.

Shared by the Monitor (what to sample), the system diagram (what the standard loop may assume) and
``ganviz train --model`` (the image size), so each reads a model's role the same way.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "find_generators",
    "held_models",
    "input_shapes",
    "is_image_to_image",
    "shape_of",
    "generator_feed",
    "is_generator_name",
]


def is_generator_name(name: str) -> bool:
    """Whether an attribute name says generator: ``generator``, ``gen_G``, ``g_model``, ``netG``, ``G``."""
    low = name.lower().lstrip("_")
    return low.startswith("gen") or low.startswith("g_") or low in ("netg", "g")


def shape_of(tensor: Any) -> tuple[Any, ...]:
    """A tensor's shape without the batch axis."""
    return tuple(tensor.shape[1:])


def is_image_to_image(generator: Any) -> bool:
    """Whether ``generator`` maps images to images: one input and one output of rank 3 (H, W, C)."""
    ins, outs = getattr(generator, "inputs", None), getattr(generator, "outputs", None)
    return bool(ins) and bool(outs) and len(ins) == 1 and len(shape_of(ins[0])) == 3 and len(shape_of(outs[0])) >= 2


def find_generators(model: Any) -> list[tuple[str, Any]]:
    """The generator-like Keras models a GAN holds: ``generator``, or ``gen_G`` / ``generator_f`` style names.

    A GAN that keeps an exponential moving average of its generator (``ema_generator``, as
    ``ganviz.GAN(ema=...)`` and Keras's GAN-ADA example do) is sampled from that copy.

    Attribute order is kept, so CycleGAN's G (X -> Y) comes before F (Y -> X). Attributes are read
    wherever the backend keeps them (PyTorch: ``_modules``).
    """
    import keras

    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    from .keras_internals import held_attributes

    for name, value in held_attributes(model):
        if not isinstance(value, keras.Model) or id(value) in seen:
            continue
        if is_generator_name(name):
            found.append((name, value))
            seen.add(id(value))
    ema = getattr(model, "ema_generator", None) if model is not None else None
    if found and isinstance(ema, keras.Model) and id(ema) not in seen:
        found[0] = ("ema_generator", ema)  # a GAN keeping an EMA copy is sampled from it, as it is used
    return found


def held_models(model: Any) -> list[tuple[str, Any]]:
    """Every Keras model ``model`` holds as an attribute (each once), in attribute order."""
    import keras

    from .keras_internals import held_attributes

    found: list[tuple[str, Any]] = []
    for name, value in held_attributes(model):
        if isinstance(value, keras.Model) and all(value is not v for _, v in found):
            found.append((name, value))
    return found


def input_shapes(model: Any) -> list[tuple[Any, ...]]:
    """Each input's shape without the batch axis."""
    return [shape_of(t) for t in model.inputs]


def generator_feed(model: Any, generator: Any) -> tuple[str, int, int] | None:
    """Which input of a held model that calls ``generator`` feeds it: ``(model name, its input count, position)``.

    Of the models ``model`` holds (``combined`` of a classic script), the first whose graph feeds
    ``generator`` from exactly one of its inputs (pix2pix's ``combined([img_A, img_B])`` calls
    ``generator(img_B)``: position 1 of 2). ``None`` when no held model says.
    """
    from .keras_internals import inputs_feeding

    for name, held in held_models(model):
        if held is generator:
            continue
        try:
            feeding = inputs_feeding(held, generator)
        except Exception:  # noqa: BLE001 - a graph that cannot be read says nothing
            continue
        if feeding is not None and len(feeding) == 1:
            return name, len(held.inputs), next(iter(feeding))
    return None
