"""A corpus of hostile model files, written byte by byte (no Keras): bombs, traversal names, deep JSON,
wrong types, cycles, Lambda bytecode that would leave a marker if it ever ran, huge declared HDF5 shapes."""

from __future__ import annotations

import base64
import json
import marshal
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["build_corpus", "MARKER_NAME"]

MARKER_NAME = "EXECUTED"


def _layer(name: str, cls: str = "ReLU", *sources: str, config: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"class_name": cls, "name": name, "inbound_nodes": [[[s, 0, 0, {}] for s in sources]]}
    if config is not None:
        entry["config"] = config
    return entry


def _model(layers: list[Any], outputs: list[str], inputs: tuple[str, ...] = ("x",)) -> dict[str, Any]:
    return {
        "class_name": "Functional",
        "name": "m",
        "config": {
            "name": "m",
            "layers": layers,
            "input_layers": [[i, 0, 0] for i in inputs],
            "output_layers": [[o, 0, 0] for o in outputs],
        },
    }


def _inp(name: str = "x") -> dict[str, Any]:
    return {"class_name": "InputLayer", "name": name, "config": {"batch_input_shape": [None, 4], "name": name}}


def _keras(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _cfg(config: Any) -> dict[str, bytes]:
    raw = config if isinstance(config, bytes) else json.dumps(config).encode()
    return {"metadata.json": b'{"keras_version": "3.15.1"}', "config.json": raw}


def _lambda_payload(marker: Path) -> str:
    code = compile(f"open({str(marker)!r}, 'w').write('ran')", "<hostile>", "exec")
    return base64.b64encode(marshal.dumps(code)).decode()


def _h5_huge(path: Path) -> None:
    import h5py

    layers = [_inp(), _layer("d", "Dense", "x", config={"name": "d", "units": 4})]
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(_model(layers, ["d"]))
        g = f.create_group("model_weights/d/d")
        g.create_dataset("kernel:0", shape=(2**40, 2**20), dtype="f4", chunks=(1, 1024))  # declared, never written
        f["model_weights"].attrs["layer_names"] = [b"d"]


def build_corpus(folder: Path, marker: Path) -> dict[str, Path]:
    """Write every hostile file into ``folder``; a Lambda that ran would create ``marker``."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def add(name: str, write: Callable[[Path], None]) -> None:
        path = folder / name
        write(path)
        files[name] = path

    ok_layers = [_inp(), _layer("r", "ReLU", "x")]
    add("zip_bomb.keras", lambda p: _keras(p, _cfg(b'{"a": "' + b"0" * (300 << 20) + b'"}')))
    add(
        "traversal.keras",
        lambda p: _keras(
            p,
            {
                **_cfg(_model(ok_layers, ["r"])),
                "../../escape.txt": b"x",
                "/abs/path.txt": b"x",
                "model.weights.h5": b"junk",
            },
        ),
    )
    deep = b'{"class_name": "Functional", "config": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    add("deep_json.keras", lambda p: _keras(p, _cfg(deep)))
    add("config_is_list.keras", lambda p: _keras(p, _cfg([1, 2, 3])))
    add("class_name_int.keras", lambda p: _keras(p, _cfg({"class_name": 7, "config": {}})))
    add("layers_is_string.keras", lambda p: _keras(p, _cfg({"class_name": "Functional", "config": {"layers": "x"}})))
    add(
        "inbound_garbage.keras",
        lambda p: _keras(
            p,
            _cfg(
                _model([_inp(), {"class_name": "ReLU", "name": "r", "inbound_nodes": {"a": [1e308, None, "z"]}}], ["r"])
            ),
        ),
    )
    add("self_cycle.keras", lambda p: _keras(p, _cfg(_model([_inp(), _layer("a", "ReLU", "a")], ["a"]))))
    add(
        "two_cycle.keras",
        lambda p: _keras(p, _cfg(_model([_inp(), _layer("a", "ReLU", "b"), _layer("b", "ReLU", "a")], ["b"]))),
    )
    add("missing_source.keras", lambda p: _keras(p, _cfg(_model([_inp(), _layer("a", "ReLU", "nowhere")], ["a"]))))
    add("unknown_output.keras", lambda p: _keras(p, _cfg(_model(ok_layers, ["ghost"]))))
    add(
        "huge_tensor_index.keras",
        lambda p: _keras(
            p,
            _cfg(
                _model(
                    [_inp(), {"class_name": "ReLU", "name": "r", "inbound_nodes": [[["x", 2**62, 2**62, {}]]]}], ["r"]
                )
            ),
        ),
    )
    add(
        "lambda_bytecode.keras",
        lambda p: _keras(
            p,
            _cfg(
                _model(
                    [
                        _inp(),
                        _layer(
                            "lam",
                            "Lambda",
                            "x",
                            config={
                                "name": "lam",
                                "function": {
                                    "class_name": "__lambda__",
                                    "config": {"code": _lambda_payload(marker), "defaults": None, "closure": None},
                                },
                            },
                        ),
                    ],
                    ["lam"],
                )
            ),
        ),
    )
    add("not_utf8.keras", lambda p: _keras(p, _cfg(b'{"class_name": "\xff\xfe"}')))
    add("empty.keras", lambda p: p.write_bytes(b""))
    add("truncated.keras", lambda p: (_keras(p, _cfg(_model(ok_layers, ["r"]))), p.write_bytes(p.read_bytes()[:60])))
    add("garbage.h5", lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\xff" * 4000))
    add("huge_declared_shape.h5", _h5_huge)
    add("nested_too_deep.keras", lambda p: _keras(p, _cfg(_nest(200))))
    add(
        "name_10k.keras",
        lambda p: _keras(
            p,
            _cfg(
                _model(
                    [_inp("i" * 10_000), _layer("n" * 10_000, "ReLU", "i" * 10_000)], ["n" * 10_000], ("i" * 10_000,)
                )
            ),
        ),
    )
    add(
        "markup_names.keras",
        lambda p: _keras(
            p,
            _cfg(
                _model(
                    [_inp(), _layer('<script>alert(1)</script>"]; x -> y [', "ReLU", "x")],
                    ['<script>alert(1)</script>"]; x -> y ['],
                )
            ),
        ),
    )
    return files


def _nest(levels: int) -> dict[str, Any]:
    inner: dict[str, Any] = _model([_inp(), _layer("r", "ReLU", "x")], ["r"])
    for i in range(levels):
        inner = dict(inner, name=f"m{i}", inbound_nodes=[[["x", 0, 0, {}]]])
        inner["config"] = dict(inner["config"], name=f"m{i}")
        inner = _model([_inp(), inner], [f"m{i}"])
    return inner
