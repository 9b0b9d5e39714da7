"""``choose_sampler``: pick what the grids draw from a system's shape (noise, labels, images, many inputs, a VAE, a method)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import TrainOptionError
from ..keras_internals import all_layers
from ..outputs.images import output_range, to_uint8
from ..roles import find_generators, generator_feed, held_models, input_shapes, is_image_to_image, shape_of
from .sampler_kinds import encoder_decoder, many_inputs, own_method
from .samplers import Sampler, _cells_to_grid, batch_arrays, data_range, to_host

__all__ = ["choose_sampler", "batch_arrays"]

_LABEL_WORDS = ("label", "class", "cond", "digit", "onehot", "one_hot")
_SCHEDULE = ("alpha", "fade", "blend", "schedule")
_NO_SAMPLER = "pass Monitor(sample_fn=lambda: images) (or Monitor(generator=...) for a generator it did not find)"


def _fits(shape: tuple[Any, ...], arr: np.ndarray) -> bool:
    return arr.ndim == len(shape) + 1 and all(d is None or d == a for d, a in zip(shape, arr.shape[1:]))


def _pick(arrays: list[np.ndarray], shape: tuple[Any, ...], n: int, skip: int = 0) -> np.ndarray | None:
    matches = [a for a in arrays if _fits(shape, a)]
    return matches[skip][:n].astype("float32") if len(matches) > skip else None


def _call(generator: Any, x: Any) -> Any:
    return to_host(generator(x, training=False))


def _int_attr(obj: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


def _class_count(model: Any, generator: Any) -> int | None:
    found = _int_attr(model, ("num_classes", "n_classes", "num_labels")) or _int_attr(
        generator, ("num_classes", "n_classes", "num_labels")
    )
    if found:
        return found
    import keras

    for layer in all_layers(generator) or []:
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return None


def _plain_grid(rows: int, cols: int) -> Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]:
    def layout(_: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        cells = list(out[: rows * cols])
        return _cells_to_grid(cells, max(1, math.ceil(len(cells) / cols)), cols)

    return layout


def _onehot_vector(kind: str, generator: Any, width: int, n: int, rows: int, cols: int, rng: np.random.Generator,
                   what: str) -> Sampler:  # fmt: skip
    """One input vector of ``width``: fixed noise, then a one-hot of ``n`` in its last ``n`` values, a grid row
    per one-hot (the same noise down each column)."""
    noise = rng.standard_normal((cols, width - n)).astype("float32")
    k = min(n, max(rows, 10))
    onehot = np.eye(n, dtype="float32")[np.repeat(np.arange(k), cols)]
    z = np.concatenate([np.tile(noise, (k, 1)), onehot], axis=1)
    return Sampler(kind, what, lambda a: _call(generator, a["fixed_noise"]), {"fixed_noise": z},
                   _plain_grid(k, cols))  # fmt: skip


def _vector_width(generator: Any) -> int | None:
    """The width of a generator's one input vector, or ``None`` (several inputs, an image, an unknown size)."""
    ins = input_shapes(generator) if getattr(generator, "inputs", None) else []
    return int(ins[0][0]) if len(ins) == 1 and len(ins[0]) == 1 and ins[0][0] else None


def info_codes(model: Any, generator: Any) -> tuple[int, str] | None:
    """InfoGAN's categorical code: ``(k, the auxiliary model's name)`` when ``model`` holds a model that reads the
    generator's output into ``k`` values (``k`` smaller than the generator's input vector) and a model that
    calls both (``combined``, which trains the generator to make the code readable); else ``None``."""
    width = _vector_width(generator)
    outs = getattr(generator, "outputs", None)
    if width is None or not outs or model is None:
        return None
    held = held_models(model)
    for name, aux in held:
        ins, aux_outs = getattr(aux, "inputs", None) or [], getattr(aux, "outputs", None) or []
        if aux is generator or len(ins) != 1 or len(aux_outs) != 1 or shape_of(ins[0]) != shape_of(outs[0]):
            continue
        out = shape_of(aux_outs[0])
        if len(out) != 1 or not out[0] or not 2 <= int(out[0]) < width:
            continue
        both = [c for _, c in held if c is not aux and c is not generator
                and any(x is generator for x in getattr(c, "layers", []) or [])
                and any(x is aux for x in getattr(c, "layers", []) or [])]  # fmt: skip
        if both:
            return int(out[0]), name
    return None


def _codes(generator: Any, codes: int, source: str, rows: int, cols: int, rng: np.random.Generator) -> Sampler:
    width = _vector_width(generator)
    if width is None or not 1 <= codes < width:
        shape = input_shapes(generator) if getattr(generator, "inputs", None) else "unknown"
        raise TrainOptionError(
            f"codes={codes} does not fit the generator's input {shape}: it needs one input vector with noise "
            "before its codes (give codes smaller than the vector's width, or Monitor(sample_inputs=...))"
        )
    what = (f"fixed noise ({width - codes}) + one-hot categorical code ({codes}) in the last {codes} input values "
            f"({source}); a row per code")  # fmt: skip
    return _onehot_vector("codes", generator, width, codes, rows, cols, rng, what)


def _conditional(model: Any, generator: Any, rows: int, cols: int, rng: np.random.Generator) -> Sampler | None:
    """Fixed noise and fixed labels (a row per class) for a generator that takes labels."""
    ins = input_shapes(generator)
    names = [str(getattr(t, "name", "")).lower() for t in generator.inputs]
    latent = _int_attr(model, ("latent_dim", "noise_dim", "z_dim", "codings_size"))
    classes = _class_count(model, generator)
    if len(ins) == 1:  # one vector: noise and a one-hot label concatenated (Keras's conditional GAN example)
        if len(ins[0]) != 1 or not latent or not ins[0][0] or ins[0][0] <= latent:
            return None
        width = int(ins[0][0])
        n = classes if classes and latent + classes == width else width - latent
        what = f"fixed noise ({width - n}) + one-hot label ({n} classes) concatenated; a row per class"
        return _onehot_vector("conditional", generator, width, n, rows, cols, rng, what)
    if len(ins) != 2 or any(len(s) > 1 for s in ins) or any(w in nm for nm in names for w in _SCHEDULE):
        return None  # a fade-in alpha beside the noise is no label: each input by its kind (sampler_kinds)
    label_at = next((i for i, nm in enumerate(names) if any(w in nm for w in _LABEL_WORDS)), None)
    if label_at is None:
        small = [i for i, s in enumerate(ins) if len(s) == 0 or s[0] in (1, classes)]
        label_at = small[0] if small else int(np.argmin([s[0] or 0 for s in ins]))
    noise_shape = ins[1 - label_at]
    label_shape = ins[label_at]
    onehot = len(label_shape) == 1 and (label_shape[0] or 1) > 1
    n = int(label_shape[0]) if onehot else (classes or 10)
    k = min(n, max(rows, 10))
    noise = rng.standard_normal((cols, *[int(d) for d in noise_shape])).astype("float32")
    ids = np.repeat(np.arange(k), cols)
    labels = np.eye(n, dtype="float32")[ids] if onehot else ids.reshape((-1, *([1] * len(label_shape))))
    if not onehot:
        labels = labels.astype("int32").reshape((-1,) + ((1,) if label_shape else ()))
    arrays = {"fixed_noise": np.tile(noise, (k, 1)), "fixed_labels": labels}

    def run(a: dict[str, np.ndarray]) -> np.ndarray:
        pair = [a["fixed_noise"], a["fixed_labels"]]
        return _call(generator, pair if label_at == 1 else pair[::-1])

    what = f"fixed noise + fixed labels ({n} classes{', one-hot' if onehot else ''}); a row per class"
    return Sampler("conditional", what, run, arrays, _plain_grid(k, cols))


def _pairs(generator: Any, rows: int, cols: int, value_range: Any, feed: tuple[str, int, int] | None = None) -> Sampler:
    """Fixed input images from the first batch, drawn input | output side by side.

    Of a batch with several elements that fit the generator's input (pix2pix's ``(imgs_A,
    imgs_B)``), the one at the position a held compiled model feeds the generator from (``feed``:
    its name, input count and that position, when the batch has as many elements); else the first,
    and the description says so and how to choose (``generator_inputs=``).
    """
    shape, n, per_row = shape_of(generator.inputs[0]), max(1, rows * max(1, cols // 2)), max(1, cols // 2)
    base = "fixed input images from the first batch"
    tail = ": input | output"

    def take(batch: Any, given: bool = False) -> dict[str, np.ndarray] | None:
        arrays = batch_arrays(batch)
        fits = [i for i, a in enumerate(arrays) if _fits(shape, a)]
        if not fits:
            return None
        at, how = fits[0], ""
        keys = [str(k).lower() for k in batch] if isinstance(batch, dict) else []
        name = str(getattr(generator.inputs[0], "name", "")).lower()
        held, count, position = feed if feed is not None else ("", 0, -1)
        if given:
            how = "the generator_inputs given to Monitor.step()"
        elif len(fits) > 1 and len(keys) == len(arrays) and name in keys and keys.index(name) in fits:
            at = keys.index(name)
            how = f"batch key {keys[at]!r}, the generator's input name"
        elif len(fits) > 1 and count == len(arrays) and position in fits:
            at = position
            how = f"element {at + 1} of {len(arrays)} of the batch: what {held} feeds the generator"
        elif len(fits) > 1:
            how = (f"element 1 of {len(arrays)} of the batch, the first that fits; pass "
                   "Monitor.step(..., generator_inputs=...) to say what the generator takes")  # fmt: skip
        sampler.description = (
            f"fixed input images from {how}" if given else base + (f" ({how})" if how else "")
        ) + tail
        return {"fixed_inputs": arrays[at][:n].astype("float32")}

    def layout(a: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        x = a["fixed_inputs"]
        ins = to_uint8(x, data_range(x))
        cells = [c for i in range(len(out)) for c in (ins[i], out[i])]
        return _cells_to_grid(cells, math.ceil(len(out) / per_row), 2 * per_row)

    sampler = Sampler("image_to_image", base + tail, lambda a: _call(generator, a["fixed_inputs"]), {}, layout,
                      value_range=value_range, take_inputs=take, take_given=True)  # fmt: skip
    return sampler


def _cycle(g: tuple[str, Any], f: tuple[str, Any], rows: int) -> Sampler:
    """Both directions of a CycleGAN: x | G(x) | y | F(y) per row."""
    (g_name, gen_g), (f_name, gen_f) = g, f
    gx_shape, fy_shape = shape_of(gen_g.inputs[0]), shape_of(gen_f.inputs[0])

    def take(batch: Any) -> dict[str, np.ndarray] | None:
        arrays = batch_arrays(batch)
        x = _pick(arrays, gx_shape, rows)
        y = _pick(arrays, fy_shape, rows, skip=1) if len(arrays) > 1 else None
        if x is None:
            return None
        return {"fixed_x": x, **({"fixed_y": y} if y is not None else {})}

    def run(a: dict[str, np.ndarray]) -> np.ndarray:
        gx = _call(gen_g, a["fixed_x"])
        fy = _call(gen_f, a["fixed_y"] if "fixed_y" in a else gx)
        return np.concatenate([gx, fy], axis=0)

    def layout(a: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        x = a["fixed_x"]
        y = a.get("fixed_y")
        n = len(x)
        xs = to_uint8(x, data_range(x))
        ys = to_uint8(y, data_range(y)) if y is not None else out[:n]
        cells = [c for i in range(n) for c in (xs[i], out[i], ys[i], out[n + i])]
        return _cells_to_grid(cells, n, 4)

    what = f"both directions: x | {g_name}(x) | y | {f_name}(y), fixed images from the first batch"
    return Sampler("cycle", what, run, {}, layout, value_range=output_range(gen_g), take_inputs=take)


def choose_sampler(
    *,
    model: Any = None,
    generator: Any = None,
    grid: tuple[int, int] = (4, 4),
    seed: int = 0,
    value_range: tuple[float, float] | None = None,
    sample_inputs: Any = None,
    sample_fn: Callable[[], Any] | None = None,
    batch: Any = None,
    codes: int | None = None,
) -> Sampler:
    """Choose what to feed the generator for the sample grids, from the GAN's shape.

    ``sample_fn`` (returns images) wins, then ``sample_inputs`` (fixed generator inputs; images
    for an image-to-image generator are drawn input | output). Otherwise: two image-to-image
    generators (CycleGAN) show both directions; one image-to-image generator gets fixed input
    images from the first batch (never noise); a generator that takes labels gets fixed noise
    and a row per class; a generator whose input vector ends in ``codes`` categorical codes (given,
    or :func:`info_codes`: InfoGAN) gets fixed noise and a row per one-hot code; a generator with
    several inputs gets each input by its kind
    (:func:`~.sampler_kinds.classify_inputs`; ``batch``, the first training batch, tells condition
    inputs); any other gets fixed noise. Without a generator: an encoder/decoder pair (a VAE)
    draws the decoder on prior noise and reconstructions; a model with its own ``generate`` /
    ``sample`` / ``generate_images`` is called with a fixed seed.

    Raises:
        ValueError: nothing to sample from, in one line saying what to pass.
    """
    rows, cols = grid
    rng = np.random.default_rng(seed)
    if sample_fn is not None:
        return Sampler("function", "sample_fn(): your own samples", lambda a: sample_fn(), {}, _plain_grid(rows, cols),
                       value_range=value_range)  # fmt: skip
    gens = [("generator", generator)] if generator is not None else find_generators(model)
    if not gens:
        vae = encoder_decoder(model, rows, cols, rng, value_range) if model is not None else None
        if vae is not None:
            vae.set_inputs(batch)
            return vae
        method, why = own_method(model, rows, cols, seed, value_range) if model is not None else (None, "")
        if method is not None:
            return method
        found = "no generator, decoder or sampling method"
        raise TrainOptionError(f"found {found} on {type(model).__name__}{f' ({why})' if why else ''}: {_NO_SAMPLER}")
    name, gen = gens[0]
    vr = value_range if value_range is not None else output_range(gen)
    if sample_inputs is not None:
        if is_image_to_image(gen):
            sampler = _pairs(gen, rows, cols, vr)
            sampler.set_inputs(sample_inputs)
            return sampler
        fixed = sample_inputs if isinstance(sample_inputs, (list, tuple)) else [sample_inputs]
        arrays = {f"fixed_input_{i}": np.asarray(a) for i, a in enumerate(fixed)}

        def run(a: dict[str, np.ndarray]) -> np.ndarray:
            values = [a[f"fixed_input_{i}"] for i in range(len(a))]
            return _call(gen, values if len(values) > 1 else values[0])

        return Sampler("inputs", "sample_inputs: your fixed generator inputs", run, arrays, _plain_grid(rows, cols),
                       value_range=vr)  # fmt: skip
    if len(gens) >= 2 and is_image_to_image(gens[0][1]) and is_image_to_image(gens[1][1]):
        return _cycle(gens[0], gens[1], rows)
    if is_image_to_image(gen):
        return _pairs(gen, rows, cols, vr, generator_feed(model, gen) if model is not None else None)
    if codes is not None:
        sampler = _codes(gen, int(codes), f"codes={codes}", rows, cols, rng)
        sampler.value_range = vr
        return sampler
    found = info_codes(model, gen)
    if found is not None:
        sampler = _codes(gen, found[0], f"read back by {found[1]}, which {name} is trained with", rows, cols, rng)
        sampler.value_range = vr
        return sampler
    if getattr(gen, "inputs", None):
        cond = _conditional(model, gen, rows, cols, rng)
        if cond is not None:
            cond.value_range = vr
            return cond
        if len(gen.inputs) > 1:
            many = many_inputs(model, gen, rows, cols, rng, vr, batch, classes=_class_count(model, gen))
            many.set_inputs(batch)
            return many
    shape = noise_shape(model, gen)
    z = rng.standard_normal((rows * cols, *shape)).astype("float32")
    what = f"fixed noise {shape}" + (" into the EMA generator" if name == "ema_generator" else "")
    return Sampler("noise", what, lambda a: _call(gen, a["fixed_noise"]), {"fixed_noise": z},
                   _plain_grid(rows, cols), value_range=vr)  # fmt: skip


def noise_shape(model: Any, generator: Any) -> tuple[int, ...]:
    inputs = getattr(generator, "inputs", None)
    if inputs and all(d is not None for d in shape_of(inputs[0])):
        return tuple(int(d) for d in shape_of(inputs[0]))
    dim = getattr(model, "latent_dim", None) or getattr(generator, "latent_dim", None)
    if dim:
        return tuple(dim) if isinstance(dim, (tuple, list)) else (int(dim),)
    raise TrainOptionError(
        "cannot tell the generator's noise shape: set model.latent_dim or give the generator an Input"
    )
