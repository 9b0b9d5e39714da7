"""Atomic training checkpoints: model and optimizer variables, step count, fixed noise, metadata."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..._io import write_atomic
from ...errors import ResumeMismatchError

__all__ = ["Checkpointer", "state_objects", "collect_state", "restore_state", "unbuilt_optimizers"]

_NAME = re.compile(r"^ckpt_(\d{8})\.npz$")


def state_objects(model: Any = None, **named: Any) -> dict[str, Any]:
    """Choose what a checkpoint holds: a model's variables and its optimizers, or named objects.

    For a model, optimizers are its optimizer attributes (``d_optimizer``, ``gen_G_optimizer``,
    ``generator_optimizer`` ...), or else its ``optimizer``. ``named`` adds (or, for hand-written loops, replaces) entries: models or
    optimizers by name; ``None`` values are skipped.
    """
    objects: dict[str, Any] = {}
    if model is not None:
        from ..monitor.step_counter import optimizers_of

        objects["model"] = model
        objects.update(optimizers_of(model))
    objects.update({k: v for k, v in named.items() if v is not None})
    return objects


def _is_model(value: Any) -> bool:
    """A model or layer whose variables an optimizer may train (never an optimizer)."""
    return hasattr(value, "trainable_variables") and not hasattr(value, "apply_gradients")


def _variable_sets(model: Any) -> list[list[Any]]:
    """The variable lists an optimizer of ``model`` may have been built for: its trainable variables as
    its flags are now, then as they are with ``model.trainable = True`` (a discriminator frozen for
    ``combined`` is trained unfrozen by its own optimizer; every flag is put back)."""
    sets = [list(model.trainable_variables)]
    from ..keras_internals import all_layers

    layers = [model, *(all_layers(model) or [])]
    flags = [(layer, layer.trainable) for layer in layers]
    marks = [(v, v.trainable) for v in model.variables if hasattr(v, "trainable")]
    if all(flag for _, flag in flags):
        return sets
    try:
        model.trainable = True
        sets.append(list(model.trainable_variables))
    finally:
        for layer, flag in flags:  # outermost first: each setter resets the layers inside it
            layer.trainable = flag
        for v, mark in marks:
            v.trainable = mark
    return sets


def _build_optimizer(name: str, opt: Any, objects: dict[str, Any], saved: list[tuple[int, ...]]) -> None:
    """Create an unbuilt optimizer's slots for the variables whose slots have the ``saved`` shapes.

    Candidates: the model its name points at (``g_optimizer`` -> ``generator``, ``gen_G_optimizer``
    -> ``gen_G``, ``combined_optimizer`` -> ``combined``), then every model held by the owner and
    every model given; each with its flags as they are, then unfrozen (:func:`_variable_sets`). A
    throw-away copy of the optimizer is built on each to compare the slots it would create.
    """
    if getattr(opt, "built", True):
        return
    import keras

    owner = objects.get("model")
    target = {"d_optimizer": "discriminator", "g_optimizer": "generator"}.get(name, name.removesuffix("_optimizer"))
    subs = [objects.get(target), getattr(owner, target, None) if owner is not None else None]
    if owner is not None:
        subs += [v for v in vars(owner).values() if isinstance(v, keras.Model)] + [owner]
    subs += [v for v in objects.values() if isinstance(v, keras.Model)]
    tried: set[int] = set()
    for sub in subs:
        if sub is None or id(sub) in tried or not _is_model(sub):
            continue
        tried.add(id(sub))
        for variables in _variable_sets(sub):
            probe = type(opt).from_config(opt.get_config())
            probe.build(variables)
            if [tuple(v.shape) for v in probe.variables] == saved:
                opt.build(variables)
                return


def collect_state(objects: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Read every variable of every object (models: ``variables``; optimizers: ``variables``)."""
    return {name: [np.asarray(v.numpy()) for v in obj.variables] for name, obj in objects.items()}


def unbuilt_optimizers(objects: dict[str, Any]) -> list[str]:
    """The optimizers among ``objects`` not built yet (no update so far), kept in a checkpoint's metadata so a
    resume leaves them unbuilt for their model's first update to build."""
    return [n for n, o in objects.items() if hasattr(o, "apply_gradients") and not getattr(o, "built", True)]


def restore_state(objects: dict[str, Any], state: dict[str, list[np.ndarray]], *, unbuilt: Any = (),
                  models: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Assign saved arrays to the objects' variables, building unbuilt optimizers first (except those in
    ``unbuilt``: saved before their first update) for one of the objects' models or of ``models`` (those
    a checkpoint does not hold twice, such as ``combined``, by name).

    Raises:
        ValueError: a saved group is missing, or its variable count or shapes differ.
    """
    for name, obj in objects.items():
        if name not in state:
            raise ResumeMismatchError(f"checkpoint has no state for {name!r} (it holds {sorted(state)})")
        if name != "model" and hasattr(obj, "apply_gradients") and name not in set(unbuilt):
            _build_optimizer(name, obj, {**(models or {}), **objects}, [tuple(a.shape) for a in state[name]])
        variables, arrays = list(obj.variables), state[name]
        if len(variables) != len(arrays):
            raise ResumeMismatchError(
                f"checkpoint holds {len(arrays)} variables for {name!r}, the object has {len(variables)}"
            )
        for var, arr in zip(variables, arrays):
            if tuple(var.shape) != tuple(arr.shape):
                raise ResumeMismatchError(
                    f"checkpoint shape {arr.shape} does not fit variable {var.path!r} {tuple(var.shape)}"
                )
            var.assign(arr)


class Checkpointer:
    """Write and find checkpoints ``ckpt_NNNNNNNN.npz`` in a folder, keeping the newest ``keep``.

    Each file is written whole to a temporary name and renamed, so a crash leaves the previous
    checkpoints intact and never a partial one.
    """

    def __init__(self, directory: str | os.PathLike[str], *, keep: int = 2) -> None:
        self.directory = Path(directory)
        self.keep = max(1, int(keep))

    def paths(self) -> list[tuple[int, Path]]:
        """All checkpoints as (step, path), oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir() if (m := _NAME.match(p.name))]
        return sorted(found)

    def save(self, step: int, state: dict[str, list[np.ndarray]], *, extra: dict[str, np.ndarray], meta: dict) -> Path:
        """Write one checkpoint for ``step`` and delete the oldest beyond ``keep``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {f"extra/{k}": np.asarray(v) for k, v in extra.items()}
        for group, values in state.items():
            for i, arr in enumerate(values):
                arrays[f"state/{group}/{i:05d}"] = arr
        arrays["meta"] = np.array(json.dumps({**meta, "step": int(step), "groups": sorted(state)}))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path = write_atomic(self.directory / f"ckpt_{int(step):08d}.npz", buf.getvalue())
        for _, old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def load(self, path: str | os.PathLike[str]) -> tuple[dict[str, list[np.ndarray]], dict[str, np.ndarray], dict]:
        """Read a checkpoint: (state groups, extra arrays, metadata)."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            state: dict[str, list[np.ndarray]] = {g: [] for g in meta.get("groups", [])}
            extra: dict[str, np.ndarray] = {}
            for key in sorted(z.files):
                if key.startswith("state/"):
                    _, group, _ = key.split("/", 2)
                    state.setdefault(group, []).append(z[key])
                elif key.startswith("extra/"):
                    extra[key[len("extra/") :]] = z[key]
        return state, extra, meta

    def load_latest(self) -> tuple[dict[str, list[np.ndarray]], dict[str, np.ndarray], dict] | None:
        """Load the newest readable checkpoint, or ``None`` when there is none."""
        for _, path in reversed(self.paths()):
            try:
                return self.load(path)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                continue
        return None
