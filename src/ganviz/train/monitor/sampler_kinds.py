"""Samplers beyond one noise input: generators with many inputs, encoder/decoder pairs, a model's own sampling method."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..keras_internals import fixed_global_seed
from ..outputs.images import output_range, to_uint8
from ..roles import held_models, shape_of
from .samplers import Sampler, _cells_to_grid, batch_arrays, data_range, to_host

__all__ = ["InputRole", "classify_inputs", "many_inputs", "encoder_decoder", "own_method", "LABEL_WORDS"]

LABEL_WORDS = ("label", "class", "digit", "onehot", "one_hot", "y_")
_SCHEDULE_WORDS = ("alpha", "fade", "blend", "schedule", "lod", "progress", "mix")
_CONDITION_WORDS = ("map", "seg", "mask", "cond", "image", "img", "edge", "sketch", "layout", "semantic")
_METHODS = ("generate", "sample", "generate_images")
_COUNT_PARAMS = ("num_images", "n_images", "n", "num", "num_samples", "n_samples", "num_examples", "count",
                 "batch_size", "number", "samples")  # fmt: skip
_STEP_PARAMS = ("diffusion_steps", "steps", "num_steps", "sampling_steps", "timesteps")


@dataclass
class InputRole:
    """What one generator input is (``kind``), how the grid fills it (``how``), from its shape and name."""

    index: int
    name: str
    shape: tuple[Any, ...]
    kind: str  # noise, noise_map, mapped, label, onehot, constant, schedule, condition
    how: str = ""
    mapper: Any = None

    @property
    def key(self) -> str:
        return f"input{self.index}_{self.kind}"


def _has(name: str, words: tuple[str, ...]) -> bool:
    return any(w in name for w in words)


def _dims(shape: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(int(d) if d else 1 for d in shape)


def _fits(shape: tuple[Any, ...], arr: np.ndarray) -> bool:
    return arr.ndim == len(shape) + 1 and all(d is None or d == a for d, a in zip(shape, arr.shape[1:]))


def classify_inputs(model: Any, generator: Any, batch: Any = None) -> list[InputRole]:
    """Each input of ``generator``: noise, a per-resolution noise map, a style vector from a held mapping
    network, a label (integer or one-hot), a constant, a scalar schedule (a fade-in alpha) or a
    condition image/map (taken from the data), from its shape, dtype and name and the first batch."""
    arrays = batch_arrays(batch)
    mappers = [
        (n, m) for n, m in held_models(model)
        if m is not generator and len(getattr(m, "inputs", None) or []) == 1 and len(shape_of(m.inputs[0])) == 1
        and len(getattr(m, "outputs", None) or []) == 1
    ]  # fmt: skip
    roles: list[InputRole] = []
    for i, tensor in enumerate(generator.inputs):
        shape = shape_of(tensor)
        name = str(getattr(tensor, "name", "") or f"input_{i}")
        low, dtype = name.lower(), str(getattr(tensor, "dtype", ""))
        mapper = next(((n, m) for n, m in mappers if shape_of(m.outputs[0]) == shape), None)
        if "const" in low:
            kind = "constant"
        elif "int" in dtype or (_has(low, LABEL_WORDS) and len(shape) <= 1):
            kind = "onehot" if len(shape) == 1 and (shape[0] or 1) > 1 and "int" not in dtype else "label"
        elif _has(low, _SCHEDULE_WORDS) or shape in ((), (1,)):
            kind = "schedule"
        elif len(shape) == 3:
            fits = any(_fits(shape, a) for a in arrays)
            kind = (
                "noise_map" if "noise" in low else "condition" if fits or _has(low, _CONDITION_WORDS) else "noise_map"
            )
        elif mapper is not None:
            kind = "mapped"
        elif _has(low, _CONDITION_WORDS) and any(_fits(shape, a) for a in arrays):
            kind = "condition"
        else:
            kind = "noise"
        roles.append(InputRole(i, name, shape, kind, mapper=mapper if kind == "mapped" else None))
    return roles


def _schedule_value(role: InputRole, model: Any, generator: Any) -> tuple[float, str]:
    """The current value of a schedule input: a scalar attribute named like it (``alpha``), else 1.0."""
    base = re.sub(r"(^input_|_input$|:\d+$)", "", role.name.lower())
    for attr in dict.fromkeys((base, "alpha", "fade_in", "fade", "fade_alpha")):
        for owner, label in ((model, "model"), (generator, "generator")):
            value = getattr(owner, attr, None) if owner is not None and attr else None
            if value is None or callable(value) and not hasattr(value, "numpy"):
                continue
            try:
                arr = np.asarray(to_host(value), dtype="float32")
            except (TypeError, ValueError):
                continue
            if arr.size == 1:
                return float(arr.reshape(())), f"{label}.{attr}"
    return 1.0, ""


def many_inputs(model: Any, generator: Any, rows: int, cols: int, rng: np.random.Generator,
                value_range: Any, batch: Any = None, classes: int | None = None) -> Sampler:  # fmt: skip
    """Every input of a many-input generator filled by its kind; conditions drawn beside the outputs."""
    roles = classify_inputs(model, generator, batch)
    conds = [r for r in roles if r.kind == "condition"]
    per_row = max(1, cols // (1 + len(conds))) if conds else cols
    n = rows * per_row
    ids = np.arange(n) // per_row
    arrays: dict[str, np.ndarray] = {}
    for r in roles:
        dims = _dims(r.shape)
        if r.kind in ("noise", "noise_map"):
            arrays[r.key] = rng.standard_normal((n, *dims)).astype("float32")
            r.how = "fixed noise map" if r.kind == "noise_map" else "fixed noise"
        elif r.kind == "mapped":
            mname, mapper = r.mapper
            z = _dims(shape_of(mapper.inputs[0]))
            arrays[r.key] = rng.standard_normal((n, *z)).astype("float32")
            r.how = f"{mname}(fixed noise {z})"
        elif r.kind == "onehot":
            k = dims[0]
            arrays[r.key] = np.eye(k, dtype="float32")[ids % k]
            r.how = f"one-hot label ({k} classes), a row per class"
        elif r.kind == "label":
            k = classes or 10
            arrays[r.key] = (ids % k).astype("int32").reshape((n, *dims)) if dims else (ids % k).astype("int32")
            r.how = f"label ({k} classes), a row per class"
        elif r.kind == "constant":
            r.how = "constant ones"
        elif r.kind == "schedule":
            _, where = _schedule_value(r, model, generator)
            r.how = f"schedule: the current {where}" if where else "schedule: 1.0 (no attribute holds it)"
        else:
            r.how = "condition from the first batch"

    def take(batch: Any) -> dict[str, np.ndarray] | None:
        found = batch_arrays(batch)
        out: dict[str, np.ndarray] = {}
        for j, r in enumerate(conds):
            same = [c for c in conds[:j] if c.shape == r.shape]
            matches = [a for a in found if _fits(r.shape, a)]
            if len(matches) <= len(same):
                return None
            out[r.key] = matches[len(same)][:n].astype("float32")
        return out

    def run(a: dict[str, np.ndarray]) -> Any:
        m = min(len(v) for v in a.values()) if a else n
        feeds = []
        for r in roles:
            if r.kind == "constant":
                feeds.append(np.ones((m, *_dims(r.shape)), "float32"))
            elif r.kind == "schedule":
                feeds.append(np.full((m, *_dims(r.shape)), _schedule_value(r, model, generator)[0], "float32"))
            elif r.kind == "mapped":
                feeds.append(to_host(r.mapper[1](a[r.key][:m], training=False)))
            else:
                feeds.append(a[r.key][:m])
        return generator(feeds, training=False)

    def layout(a: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        if not conds:
            return _cells_to_grid(list(out), max(1, math.ceil(len(out) / cols)), cols)
        shown = [_condition_images(a[r.key][: len(out)]) for r in conds]
        cells = [c for i in range(len(out)) for c in (*(s[i] for s in shown), out[i])]
        return _cells_to_grid(cells, math.ceil(len(out) / per_row), per_row * (1 + len(conds)))

    said = "; ".join(f"{r.name} {tuple(r.shape)}: {r.how}" for r in roles)
    tail = f"; drawn {' | '.join(r.name for r in conds)} | output" if conds else ""
    return Sampler("inputs", f"each input by its kind: {said}{tail}", run, arrays, layout,
                   value_range=value_range, take_inputs=take if conds else None,
                   needs=tuple(r.key for r in conds))  # fmt: skip


def _condition_images(x: np.ndarray) -> np.ndarray:
    """Condition arrays as uint8 images: a one-hot (or many-channel) map as a colour per class, images by their range."""
    one_hot = x.ndim == 4 and x.shape[-1] >= 2 and bool(np.all((x == 0) | (x == 1))) and bool(np.all(x.sum(-1) == 1))
    if x.ndim == 4 and (one_hot or x.shape[-1] not in (1, 3)):
        idx = np.argmax(x, axis=-1)
        return _PALETTE[idx % len(_PALETTE)]
    return to_uint8(x, data_range(x))


# Distinct colours for the classes of a label map (class 0 first).
_PALETTE = np.array(
    [[230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [145, 30, 180], [70, 240, 240],
     [245, 130, 48], [240, 50, 230], [210, 245, 60], [250, 190, 190], [0, 128, 128], [170, 110, 40]],
    dtype=np.uint8,
)  # fmt: skip


def _named(models: list[tuple[str, Any]], word: str) -> tuple[str, Any] | None:
    return next(((n, m) for n, m in models if word in n.lower()), None)


def encoder_decoder(model: Any, rows: int, cols: int, rng: np.random.Generator,
                    value_range: Any = None) -> Sampler | None:  # fmt: skip
    """An encoder/decoder system (a VAE): the decoder on fixed prior noise (top rows) and the reconstructions
    of fixed inputs from the first batch, input | reconstruction (bottom rows)."""
    models = held_models(model)
    enc, dec = _named(models, "enc"), _named(models, "dec")
    if dec is None or not getattr(dec[1], "inputs", None):
        return None
    (dname, decoder), zshape = dec, _dims(shape_of(dec[1].inputs[0]))
    rec_rows = rows // 2 if enc is not None and getattr(enc[1], "inputs", None) else 0
    per_row = max(1, cols // 2)
    n_prior, n_rec = cols * (rows - rec_rows), per_row * rec_rows
    arrays = {"fixed_noise": rng.standard_normal((n_prior, *zshape)).astype("float32")}
    vr = value_range if value_range is not None else output_range(decoder)

    def take(batch: Any) -> dict[str, np.ndarray] | None:
        assert enc is not None
        shape = shape_of(enc[1].inputs[0])
        found = [a for a in batch_arrays(batch) if _fits(shape, a)]
        return {"fixed_inputs": found[0][:n_rec].astype("float32")} if found else None

    def run(a: dict[str, np.ndarray]) -> Any:
        prior = to_host(decoder(a["fixed_noise"], training=False))
        if "fixed_inputs" not in a or enc is None:
            return prior
        code = to_host(enc[1](a["fixed_inputs"], training=False))
        if isinstance(code, dict):
            code = next(iter(code.values()))
        elif isinstance(code, (tuple, list)):
            code = code[0]  # (mean, log variance, z): the mean
        return np.concatenate([np.asarray(prior), np.asarray(to_host(decoder(code, training=False)))], axis=0)

    def layout(a: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        cells = list(out[:n_prior])
        if "fixed_inputs" in a and len(out) > n_prior:
            x = a["fixed_inputs"]
            shown, blank = to_uint8(x, data_range(x)), np.full_like(out[0], 48)
            recs = out[n_prior:]
            for start in range(0, len(recs), per_row):
                row = [c for i in range(start, min(start + per_row, len(recs))) for c in (shown[i], recs[i])]
                cells += row + [blank] * (cols - len(row))
        return _cells_to_grid(cells, math.ceil(len(cells) / cols), cols)

    what = f"decoder {dname} on fixed prior noise {zshape} ({n_prior}, the top rows)"
    if rec_rows:
        what += f" + reconstructions through {enc[0]} of fixed inputs from the first batch, input | reconstruction"
    return Sampler("encoder_decoder", what, run, arrays, layout, value_range=vr,
                   take_inputs=take if rec_rows else None, needs=("fixed_inputs",) if rec_rows else (),
                   optional=True)  # fmt: skip


def own_method(model: Any, rows: int, cols: int, seed: int, value_range: Any = None) -> tuple[Sampler | None, str]:
    """A model's own sampling method (``generate``, ``sample``, ``generate_images``) called with a fixed seed.

    Returns the sampler, or ``None`` and why no method could be called.
    """
    import keras

    why = ""
    for name in _METHODS:
        fn = getattr(type(model), name, None)
        if not callable(fn) or fn is getattr(keras.Model, name, None):
            continue
        try:
            params = list(inspect.signature(getattr(model, name)).parameters.values())
        except (TypeError, ValueError):
            continue
        kwargs: dict[str, Any] = {}
        n, missing, counted = rows * cols, [], False
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            low = p.name.lower()
            if not counted and low in _COUNT_PARAMS:
                kwargs[p.name], counted = n, True
            elif low == "seed":
                kwargs[p.name] = seed
            elif low in _STEP_PARAMS and p.default is p.empty:
                kwargs[p.name] = 10
            elif p.default is p.empty:
                missing.append(p.name)
        if missing:
            why = f"{type(model).__name__}.{name} needs {', '.join(missing)}"
            continue
        bound: Callable[..., Any] = getattr(model, name)
        seeded = any(k.lower() == "seed" for k in kwargs)

        def run(_: dict[str, np.ndarray], bound: Callable[..., Any] = bound, kwargs: dict[str, Any] = kwargs,
                seeded: bool = seeded) -> Any:  # fmt: skip
            if seeded:
                return bound(**kwargs)
            with fixed_global_seed(seed):
                return bound(**kwargs)

        call = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        how = "" if seeded else f" under Keras's global seed {seed}, put back after"
        layout = _plain(rows, cols)
        return Sampler("method", f"the model's own {name}({call}){how}", run, {}, layout, value_range=value_range), ""
    return None, why


def _plain(rows: int, cols: int) -> Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]:
    def layout(_: dict[str, np.ndarray], out: np.ndarray) -> np.ndarray:
        cells = list(out[: rows * cols])
        return _cells_to_grid(cells, max(1, math.ceil(len(cells) / cols)), cols)

    return layout
