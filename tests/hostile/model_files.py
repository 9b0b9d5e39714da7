"""Valid but huge ``.keras`` files written directly (no Keras needed): fan-outs and chains of weightless layers.

Layers are written in the shortest form the reader accepts (Keras 2 inbound nodes, no per-layer
config), so 100,000 layers stay within the reader's bound on config values.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["write_keras", "fanout_config", "chain_config", "nested_fanout_config"]


def _input(name: str) -> dict[str, Any]:
    return {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": name}, "name": name}


def _relu(name: str, *sources: str) -> dict[str, Any]:
    return {"class_name": "ReLU", "name": name, "inbound_nodes": [[[s, 0, 0, {}] for s in sources]]}


def _functional(name: str, layers: list[dict[str, Any]], inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    return {
        "class_name": "Functional",
        "name": name,
        "config": {
            "name": name,
            "layers": layers,
            "input_layers": [[n, 0, 0] for n in inputs],
            "output_layers": [[n, 0, 0] for n in outputs],
        },
    }


def fanout_config(n: int) -> dict[str, Any]:
    """One input feeding ``n`` layers; the last of them is the model's output."""
    names = [f"r{i}" for i in range(n)]
    return _functional("fanout", [_input("x"), *(_relu(nm, "x") for nm in names)], ["x"], names[-1:])


def chain_config(n: int) -> dict[str, Any]:
    """``n`` layers in a chain."""
    layers = [_input("x")]
    prev = "x"
    for i in range(n):
        layers.append(_relu(f"r{i}", prev))
        prev = f"r{i}"
    return _functional("chain", layers, ["x"], [prev])


def nested_fanout_config(n: int) -> dict[str, Any]:
    """A model holding a nested model whose one input feeds ``n`` layers (the nested-input path)."""
    inner = fanout_config(n)
    inner["name"] = inner["config"]["name"] = "inner"
    inner["inbound_nodes"] = [[["x", 0, 0, {}]]]
    return _functional("outer", [_input("x"), inner], ["x"], ["inner"])


def write_keras(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` as a ``.keras`` archive (config and metadata; no weights file)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}, separators=(",", ":")))
        z.writestr("config.json", json.dumps(config, separators=(",", ":")))
    return path
