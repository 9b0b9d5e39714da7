"""Parameter counts per layer from the shapes of the datasets in a weights file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .config import MAX_MODEL_DEPTH, Entry
from .hdf5 import MAX_H5_OBJECTS, TinyHDF5, Unsupported
from .legacy_h5 import H5Walk, as_text, read_attr, scalar

__all__ = ["Chain", "Params", "ALL_NON_TRAINABLE", "NON_TRAINABLE_TAIL", "keras_params", "weights_params"]

# Layers whose trailing own variables are not trainable (moving statistics), and layers whose
# variables never are; every other layer's variables count as trainable while the layer is.
NON_TRAINABLE_TAIL = {"BatchNormalization": 2, "SyncBatchNormalization": 2}
ALL_NON_TRAINABLE = frozenset({"Normalization", "Discretization", "TextVectorization", "IntegerLookup"})

Chain = tuple[str, ...]
Params = dict[Chain, tuple[int, list[int]]]


def keras_params(walk: H5Walk | TinyHDF5, root: Entry) -> Params:
    """Per-layer sizes from ``layers/<key>/vars/<i>`` groups of a ``.keras`` weights file."""
    totals: dict[str, int] = {}
    own: dict[str, list[tuple[int, int]]] = {}
    for path, size in walk.sizes.items():
        parts = path.split("/")
        for i in range(1, len(parts)):
            key = "/".join(parts[:i])
            totals[key] = totals.get(key, 0) + size
        if len(parts) >= 3 and parts[-2] == "vars" and parts[-1].isdigit():
            own.setdefault("/".join(parts[:-2]), []).append((int(parts[-1]), size))
    out: Params = {}

    def collect(model: Entry, prefix: str, chain: Chain, depth: int) -> None:
        layers = f"{prefix}/layers/" if prefix else "layers/"
        keys = _snake_keys(model.children)
        if not all(f"{layers}{key}/vars" in walk.groups for key in keys.values()):
            if walk.loc is None:
                raise Unsupported("layer names needed")
            named: dict[str, str] = {}  # custom classes or another Keras version: ask each group its layer
            for group in sorted(walk.groups):  # a set: sorted, so a repeated name always maps the same way
                group_key = group[len(layers) : -len("/vars")]
                if group.startswith(layers) and group.endswith("/vars") and "/" not in group_key:
                    layer_name = as_text(scalar(read_attr(walk.loc, group.encode(), b"name")))
                    if layer_name is not None:
                        named.setdefault(layer_name, group_key)
            keys = named or keys  # files without the names: the class-derived keys that exist
        for child in model.children:
            key = keys.get(child.name)
            if key is None:
                continue
            path = f"{layers}{key}"
            sub = (*chain, child.name)
            out[sub] = (totals.get(path, 0), [size for _, size in sorted(own.get(path, []))])
            if child.kind == "model" and depth < MAX_MODEL_DEPTH:
                collect(child, path, sub, depth + 1)

    collect(root, "", (), 0)
    out[()] = (sum(size for path, size in walk.sizes.items() if not path.startswith(("optimizer/", "metrics/"))), [])
    return out


def _legacy_params(walk: H5Walk, root: Entry) -> Params:
    """Per-layer sizes from a legacy ``model_weights`` group (``<layer>/<weight name>`` datasets)."""
    out: Params = {(): (sum(walk.sizes.values()), [])}
    for child in root.children:
        if child.name not in walk.groups or "/" in child.name:
            continue
        names = read_attr(walk.loc, child.name.encode(), b"weight_names")
        if names is None or names.ndim != 1 or names.size > 100_000:
            continue
        wnames = [n for n in (as_text(v) for v in names.tolist()) if n is not None]
        sizes = [walk.sizes.get(f"{child.name}/{n}", 0) for n in wnames]
        out[(child.name,)] = (sum(sizes), sizes)
        if child.kind != "model":
            continue
        leaves = _leaves(child)
        for wname, size in zip(wnames, sizes):
            chain = _match_chain(leaves, wname.split("/")[:-1])
            if chain:
                total, own = out.get((child.name, *chain), (0, []))
                out[(child.name, *chain)] = (total + size, [*own, size])
    return out


def _leaves(model: Entry, chain: Chain = (), out: dict[str, list[Chain]] | None = None) -> dict[str, list[Chain]]:
    """Every non-model layer below ``model``, by name, with its chain of names inside ``model``."""
    out = {} if out is None else out
    for child in model.children:
        if child.kind == "model":
            _leaves(child, (*chain, child.name), out)
        else:
            out.setdefault(child.name, []).append((*chain, child.name))
    return out


def _match_chain(leaves: dict[str, list[Chain]], parts: Sequence[str]) -> Chain:
    """The layer owning a legacy weight name such as ``level3/dense/kernel``, from its path parts.

    The first part that names a layer wins; among layers of that name, the one whose enclosing
    models appear most among the parts.

    >>> _match_chain({"d": [("m", "d"), ("n", "d")]}, ["n", "d"])
    ('n', 'd')
    """
    for part in parts:
        found = leaves.get(part)
        if found:
            return max(found, key=lambda chain: sum(name in parts for name in chain[:-1]))
    return ()


def _snake_keys(children: Sequence[Entry]) -> dict[str, str]:
    """The weight-group keys Keras derives from class names (``dense``, ``dense_1`` ...).

    >>> _snake_keys([Entry("a", "Dense"), Entry("b", "BatchNormalization"), Entry("c", "Dense")])
    {'a': 'dense', 'b': 'batch_normalization', 'c': 'dense_1'}
    """
    used: dict[str, int] = {}
    keys: dict[str, str] = {}
    for child in children:
        name = re.sub(r"\W+", "", child.class_name)
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
        name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        keys.setdefault(child.name, name)
    return keys


def weights_params(source: Any, group: str | None, root: Entry, warnings: list[str]) -> Params | None:
    """Open an HDF5 file (path or file object) and count each layer's parameters from its shapes."""
    import h5py

    try:
        with h5py.File(source, "r") as h5:
            loc = h5.id
            if group is not None:
                from h5py import h5g

                if group not in h5 or not isinstance(h5.get(group, getlink=True), h5py.HardLink):
                    warnings.append(f"no '{group}' group in the file: parameter counts unknown")
                    return None
                loc = h5g.open(h5.id, group.encode())
            walk = H5Walk(loc)
            if walk.truncated:
                warnings.append(f"weights file holds over {MAX_H5_OBJECTS:,} objects: parameter counts incomplete")
            return keras_params(walk, root) if group is None else _legacy_params(walk, root)
    except Exception as exc:  # noqa: BLE001 - any failure inside HDF5 only costs the parameter counts
        warnings.append(f"weights unreadable ({type(exc).__name__}): parameter counts unknown")
        return None
