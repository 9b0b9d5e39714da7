"""file_to_graph: .keras/.h5 files read without TensorFlow match the live extractor; hostile files fail cleanly."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ganviz.errors import ModelFileError
from ganviz.extract.keras_file import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MAX_MODEL_DEPTH, file_to_graph
from ganviz.extract.keras_file.hdf5 import TinyHDF5, Unsupported
from ganviz.extract.keras_file.legacy_h5 import H5Walk
from ganviz.ir import Graph

keras = pytest.importorskip("keras")
from fixtures import zoo  # noqa: E402  (never importorskip a helper: a moved one hid these 33 tests)

layers = keras.layers

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------
# Test files, made once per session
# --------------------------------------------------------------------------------------------
def _build_misc() -> Any:
    """Layers with unusual variables: sub-layers, a cell, non-trainable statistics, seed states."""
    x_in = keras.Input((5, 8), name="x")
    h = layers.Dropout(0.2, name="drop")(x_in)
    h = layers.MultiHeadAttention(2, 4, name="mha")(h, h)
    h = layers.LSTM(3, return_sequences=True, name="lstm")(h)
    norm = layers.Normalization(name="norm")
    norm.build((None, 5, 3))
    h = norm(h)
    bn = layers.BatchNormalization(name="bn_frozen")
    h = bn(h)
    bn.trainable = False
    h = layers.BatchNormalization(name="bn")(h)
    return keras.Model(x_in, layers.LayerNormalization(name="ln")(h), name="misc")


def _build_lambda(marker: Path) -> Any:
    """A Sequential whose Lambda writes ``marker`` whenever its code runs."""
    body = lambda t, path=str(marker): (__import__("pathlib").Path(path).write_text("ran"), t)[1]  # noqa: E731
    return keras.Sequential([keras.Input((3,), name="lam_in"), layers.Lambda(body, name="lam")], name="lam_model")


BUILDERS: dict[str, Any] = {
    "generator": zoo.build_generator,
    "discriminator": zoo.build_discriminator,
    "seed_gan": zoo.build_seed_gan,
    "nested": lambda: zoo.build_nested(3),
    "nested_seq": lambda: zoo.build_nested(2, outer="sequential"),
    "shared_layers": zoo.build_shared_layers,
    "shared_submodel": zoo.build_shared_submodel,
    "multi_io": zoo.build_multi_io,
    "weird_names": zoo.build_weird_names,
    "misc": _build_misc,
    "mobilenet": zoo.build_mobilenet,
}
H5_TOO = set(BUILDERS)  # every model above is also saved as legacy .h5


@pytest.fixture(scope="session")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, dict[str, Path]]]:
    """name -> (live model, {"keras": path, "h5": path}) for the small zoo."""
    folder = tmp_path_factory.mktemp("models")
    out: dict[str, tuple[Any, dict[str, Path]]] = {}
    for name, build in BUILDERS.items():
        model = build()
        paths = {"keras": folder / f"{name}.keras"}
        model.save(paths["keras"])
        if name in H5_TOO:
            paths["h5"] = folder / f"{name}.h5"
            model.save(paths["h5"])
        out[name] = (model, paths)
    return out


@pytest.fixture(scope="session")
def resnet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    model = zoo.build_resnet50()
    path = tmp_path_factory.mktemp("resnet") / "resnet50.keras"
    model.save(path)
    return model, path


@pytest.fixture(scope="session")
def lambda_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lambda")
    marker = folder / "lambda_ran.txt"
    model = _build_lambda(marker)
    assert marker.exists(), "control: building the model runs the Lambda, which writes the marker"
    path = folder / "lam.keras"
    model.save(path)
    marker.unlink()
    return path, marker


# --------------------------------------------------------------------------------------------
# Same structure as the live extractor
# --------------------------------------------------------------------------------------------
def _live(model: Any, **kwargs: Any) -> Graph:
    keras_model = pytest.importorskip("ganviz.extract.keras_model")
    return keras_model.model_to_graph(model, **kwargs)


def _nodes(g: Graph) -> list[tuple[Any, ...]]:
    return [
        (g.path_name(n.id), n.kind, n.class_name, n.params, n.trainable_params, n.trainable, n.activation)
        for n in g.nodes
    ]


def _shapes(g: Graph) -> list[tuple[Any, ...]]:
    return [(g.path_name(n.id), n.input_shapes, n.output_shapes, n.dtype) for n in g.nodes]


def _clusters(g: Graph) -> list[tuple[Any, ...]]:
    names = {c.id: c.name for c in g.clusters}
    return [
        (c.name, c.class_name, names.get(c.parent or ""), c.params, c.trainable_params, c.trainable, dict(c.details))
        for c in g.clusters
    ]


def _summary(g: Graph) -> tuple[Any, ...]:
    return (g.name, g.details["class_name"], g.details["params"], g.details["trainable_params"])


def _assert_same(live: Graph, got: Graph) -> None:
    assert _nodes(got) == _nodes(live)
    assert sorted(got.edge_names()) == sorted(live.edge_names())
    assert _clusters(got) == _clusters(live)
    assert _summary(got) == _summary(live)


CASES = [(name, fmt) for name in BUILDERS for fmt in ("keras", "h5") if fmt == "keras" or name in H5_TOO]


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n}.{f}" for n, f in CASES])
def test_file_matches_live_extractor(saved: dict[str, Any], name: str, fmt: str) -> None:
    model, paths = saved[name]
    live, got = _live(model), file_to_graph(paths[fmt])
    _assert_same(live, got)
    assert _shapes(got) == _shapes(live)
    assert got.details["file_format"] == fmt


@pytest.mark.slow
def test_resnet50_matches_live_with_every_shape(resnet: tuple[Any, Path]) -> None:
    model, path = resnet
    got = file_to_graph(path)
    live = _live(model)
    _assert_same(live, got)
    assert _shapes(got) == _shapes(live)
    assert got.details["params"] == model.count_params() == 25_636_712
    layer_nodes = [n for n in got.nodes if n.kind == "layer"]
    assert len(layer_nodes) == len(model.layers) - 1
    assert all(n.input_shapes and n.output_shapes and None not in n.output_shapes for n in layer_nodes)
    assert got.node("n0").output_shapes == ((None, 224, 224, 3),)
    assert got.nodes[-1].output_shapes == ((None, 1000),)


def test_mobilenet_every_layer_has_shapes(saved: dict[str, Any]) -> None:
    got = file_to_graph(saved["mobilenet"][1]["keras"])
    assert len(got.nodes) > 100
    for node in got.nodes:
        assert node.input_shapes and None not in node.input_shapes, node.name
        assert node.output_shapes and None not in node.output_shapes, node.name
    assert got.nodes[-1].output_shapes == ((None, 10),)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("depth", [0, 1, 2])
def test_depth_and_expand_nested_match_live(saved: dict[str, Any], fmt: str, depth: int) -> None:
    model, paths = saved["nested"]
    _assert_same(_live(model, depth=depth), file_to_graph(paths[fmt], depth=depth))
    if depth == 0:
        collapsed = file_to_graph(paths[fmt], expand_nested=False)
        _assert_same(_live(model, expand_nested=False), collapsed)
        assert [n.kind for n in collapsed.nodes] == ["input", "model", "layer"]


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_bad_depth_is_rejected_even_for_a_flat_model(saved: dict[str, Any], bad: Any) -> None:
    _, paths = saved["shared_layers"]  # no nested model, so nothing would be collapsed
    with pytest.raises(ValueError, match="depth must be None or an integer >= 0"):
        file_to_graph(paths["keras"], depth=bad)


def test_shared_layer_is_one_node_with_two_edges(saved: dict[str, Any]) -> None:
    got = file_to_graph(saved["shared_layers"][1]["keras"])
    assert [n.name for n in got.nodes].count("shared") == 1
    assert ("left", "shared") in got.edge_names() and ("right", "shared") in got.edge_names()


def test_shared_submodel_and_frozen_layers(saved: dict[str, Any]) -> None:
    got = file_to_graph(saved["shared_submodel"][1]["h5"])
    assert [c.name for c in got.clusters] == ["encoder"]
    assert {("a", "encoder > enc_dense"), ("b", "encoder > enc_dense")} <= set(got.edge_names())
    assert "encoder > encoder_in" not in {got.path_name(n.id) for n in got.nodes}
    frozen = next(n for n in got.nodes if n.name == "frozen_dense")
    assert (frozen.trainable, frozen.params, frozen.trainable_params) == (False, 8, 0)


def test_frozen_nested_model_counts_no_trainable_params(saved: dict[str, Any]) -> None:
    got = file_to_graph(saved["seed_gan"][1]["keras"])
    disc = next(c for c in got.clusters if c.name == "discriminator")
    assert disc.trainable is False and disc.params > 0 and disc.trainable_params == 0
    assert got.details["trainable_params"] == next(c for c in got.clusters if c.name == "generator").params


def test_non_trainable_statistics_and_sublayers(saved: dict[str, Any]) -> None:
    got = file_to_graph(saved["misc"][1]["keras"])
    by_name = {n.name: n for n in got.nodes}
    assert (by_name["bn"].params, by_name["bn"].trainable_params) == (12, 6)
    assert (by_name["bn_frozen"].params, by_name["bn_frozen"].trainable_params) == (12, 0)
    assert (by_name["norm"].params, by_name["norm"].trainable_params) == (7, 0)
    assert by_name["mha"].params == 288 and by_name["lstm"].params == 144 and by_name["drop"].params == 0
    assert by_name["mha"].input_shapes == ((None, 5, 8), (None, 5, 8))


def test_multi_io_inputs_and_outputs(saved: dict[str, Any]) -> None:
    got = file_to_graph(saved["multi_io"][1]["keras"])
    assert [n.name for n in got.nodes if n.kind == "input"] == ["image", "meta"]
    assert not [n for n in got.nodes if n.kind == "output"]
    by_name = {n.name: n for n in got.nodes}
    assert by_name["class"].output_shapes == ((None, 3),) and by_name["class"].activation == "softmax"
    assert by_name["score"].output_shapes == ((None, 1),)


def test_subclassed_parts_drawn_with_their_class_names(tmp_path: Path) -> None:
    path = tmp_path / "wrapper.keras"
    zoo.build_subclassed_in_functional().save(path)
    got = file_to_graph(path)
    assert [(n.name, n.class_name) for n in got.nodes] == [
        ("features", "InputLayer"),
        ("block", "BlockLayer"),
        ("residual", "TinyResidual"),
        ("final", "Dense"),
    ]
    assert got.edge_names() == [("features", "block"), ("block", "residual"), ("residual", "final")]
    assert next(n for n in got.nodes if n.name == "block").params == 2 * (6 * 6 + 6)


def test_subclassed_top_level_model_is_one_box(tmp_path: Path) -> None:
    model = zoo.build_subclassed()
    path = tmp_path / "sub.keras"
    model.save(path)
    got = file_to_graph(path)
    assert [(n.name, n.kind, n.class_name) for n in got.nodes] == [("tiny_residual", "model", "TinyResidual")]
    assert got.nodes[0].params == got.details["params"] == model.count_params() > 0
    assert got.edges == ()


def test_same_file_gives_identical_json(saved: dict[str, Any]) -> None:
    path = saved["nested"][1]["keras"]
    assert file_to_graph(path).to_json() == file_to_graph(str(path)).to_json()


# --------------------------------------------------------------------------------------------
# Nothing executed, TensorFlow never imported, bounded resources (checked in fresh processes)
# --------------------------------------------------------------------------------------------
_PROBE = r"""
import json, re, sys, time
from ganviz.extract.keras_file import file_to_graph
out = []
for path in sys.argv[1:]:
    start = time.perf_counter()
    g = file_to_graph(path)
    out.append({"seconds": time.perf_counter() - start, "nodes": [n.to_dict() for n in g.nodes]})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "torch", "jax"))
h5py_used = "h5py" in sys.modules
status = open("/proc/self/status").read()  # VmHWM: peak RSS of this process only (ru_maxrss counts the parent)
peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024 if "VmHWM" in status else 0
print(json.dumps({"graphs": out, "heavy": heavy, "peak_mib": peak, "h5py": h5py_used}))
"""


def _probe(*paths: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, paths)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_lambda_code_is_never_run_and_tensorflow_never_imported(
    lambda_file: tuple[Path, Path], saved: dict[str, Any]
) -> None:
    path, marker = lambda_file
    result = _probe(path, saved["misc"][1]["h5"])
    assert not marker.exists(), "reading the file ran the Lambda's code"
    assert result["heavy"] == []
    lam = next(n for n in result["graphs"][0]["nodes"] if n["name"] == "lam")
    assert lam["class_name"] == "Lambda"
    assert lam["details"]["note"] == "Lambda code not executed"
    function = lam["details"]["config"]["function"]
    assert "not executed" in function["code"]
    raw = json.loads(zipfile.ZipFile(path).read("config.json"))
    code = raw["config"]["layers"][1]["config"]["function"]["config"]["code"]
    assert code.strip()[:20] not in json.dumps(result), "the bytecode itself is not passed on"


@pytest.mark.slow
def test_resnet50_read_is_fast_and_small(resnet: tuple[Any, Path]) -> None:
    result = _probe(resnet[1])
    assert result["heavy"] == []
    assert result["h5py"] is False, "a .keras file in Keras's own layout needs neither h5py nor numpy"
    assert len(result["graphs"][0]["nodes"]) == 177
    assert result["peak_mib"] < 150
    assert result["graphs"][0]["seconds"] < 30  # a hang guard only (about 0.1 s); speed is in bench_file.py


# --------------------------------------------------------------------------------------------
# Hostile and broken files: one clear ModelFileError each, quickly, nothing written
# --------------------------------------------------------------------------------------------
def _raises(path: Path, *fragments: str) -> str:
    start = time.perf_counter()
    with pytest.raises(ModelFileError) as info:
        file_to_graph(path)
    message = str(info.value)
    assert time.perf_counter() - start < 30  # a hang guard, not a speed target
    assert "\n" not in message and len(message) < 300
    for fragment in fragments:
        assert fragment in message, message
    return message


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _config(**extra: Any) -> bytes:
    seq = {
        "class_name": "Sequential",
        "config": {
            "name": "tiny",
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 2]}},
                {
                    "class_name": "Dense",
                    "config": {"name": "d", "units": 1},
                    "build_config": {"input_shape": [None, 2]},
                },
            ],
        },
    }
    seq.update(extra)
    return json.dumps(seq).encode()


def test_missing_file_directory_and_unknown_extension(tmp_path: Path) -> None:
    _raises(tmp_path / "nope.keras", "not found", "nope.keras")
    (tmp_path / "folder.keras").mkdir()
    _raises(tmp_path / "folder.keras", "directory")
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04")
    _raises(tmp_path / "model.pt", "unknown model file extension '.pt'", ".keras")
    (tmp_path / "empty.h5").write_bytes(b"")
    _raises(tmp_path / "empty.h5", "empty")


def test_not_a_zip_and_truncated_archive(tmp_path: Path, saved: dict[str, Any]) -> None:
    (tmp_path / "text.keras").write_text("hello, I am not a model")
    _raises(tmp_path / "text.keras", "text.keras", "not a zip archive")
    data = saved["generator"][1]["keras"].read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    _raises(tmp_path / "cut.keras", "cut.keras", "truncated or corrupt")


def test_hdf5_without_model_and_truncated_hdf5(tmp_path: Path, saved: dict[str, Any]) -> None:
    import h5py
    import numpy as np

    with h5py.File(tmp_path / "weights_only.h5", "w") as h5:
        h5["dense/kernel"] = np.zeros((2, 2))
    _raises(tmp_path / "weights_only.h5", "without a model", "model.save")
    data = saved["generator"][1]["h5"].read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    _raises(tmp_path / "cut.h5", "cut.h5", "not a readable HDF5 file")
    (tmp_path / "text.h5").write_text("not hdf5")
    _raises(tmp_path / "text.h5", "not an HDF5 file")


def test_zip_bomb_config_is_refused_without_inflating_it(tmp_path: Path) -> None:
    # Really inflates past the limit (compressed to ~17 KiB): read with a hard cap.
    bomb = b"{" + b" " * (MAX_CONFIG_BYTES + 10) + b"}"
    path = _zip(tmp_path / "bomb.keras", {"config.json": bomb}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    _raises(path, "config.json", "limit")
    # Declares ~4 GiB in the central directory: refused before reading a byte.
    data = bytearray(_zip(tmp_path / "small.keras", {"config.json": _config()}).read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 0xFFFF_FFF0)
    (tmp_path / "liar.keras").write_bytes(bytes(data))
    _raises(tmp_path / "liar.keras", "4,294,967,280 bytes", "limit")


def test_size_lies_in_the_other_direction_are_caught(tmp_path: Path) -> None:
    data = bytearray(_zip(tmp_path / "ok.keras", {"config.json": _config()}, zipfile.ZIP_DEFLATED).read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 10)  # declares 10 bytes, inflates to more
    (tmp_path / "short.keras").write_bytes(bytes(data))
    _raises(tmp_path / "short.keras", "short.keras")


def test_deeply_nested_json_is_refused_without_recursion_error(tmp_path: Path) -> None:
    deep = b'{"class_name": "Sequential", "config": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    path = _zip(tmp_path / "deep.keras", {"config.json": deep}, zipfile.ZIP_DEFLATED)
    _raises(path, "nests over", str(MAX_JSON_DEPTH))
    many = b'{"a": [' + b"0," * 1_100_000 + b"0]}"
    _raises(_zip(tmp_path / "many.keras", {"config.json": many}, zipfile.ZIP_DEFLATED), "values")


def test_models_nested_too_deep_are_refused(tmp_path: Path) -> None:
    entry: dict[str, Any] = {"class_name": "Dense", "config": {"name": "d"}}
    for i in range(MAX_MODEL_DEPTH + 2):
        entry = {"class_name": "Sequential", "config": {"name": f"m{i}", "layers": [entry]}}
    _raises(_zip(tmp_path / "nest.keras", {"config.json": json.dumps(entry).encode()}), "nest more than")


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        (b"[1, 2]", "JSON list"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"config": {}}', "class_name"),
        (b'{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "Dense"}]}}', "no name"),
        (b'{"class_name": "Functional", "config": {"name": "m", "layers": [7], "input_layers": []}}', "malformed"),
    ],
)
def test_malformed_configs(tmp_path: Path, config: bytes, fragment: str) -> None:
    _raises(_zip(tmp_path / "bad.keras", {"config.json": config}), "bad.keras", fragment)


def test_archive_without_config(tmp_path: Path) -> None:
    _raises(_zip(tmp_path / "noconf.keras", {"readme.txt": b"hi"}), "without config.json")


def test_unknown_classes_draw_with_their_names(tmp_path: Path, saved: dict[str, Any]) -> None:
    source = saved["shared_layers"][1]["keras"]
    with zipfile.ZipFile(source) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer.update(class_name="MysteryLayer", module="evil.module", registered_name="evil>MysteryLayer")
    members["config.json"] = json.dumps(config).encode()
    got = file_to_graph(_zip(tmp_path / "mystery.keras", members))
    by_name = {n.name: n for n in got.nodes}
    assert by_name["shared"].class_name == "MysteryLayer" and by_name["head"].class_name == "MysteryLayer"
    assert by_name["shared"].params == 8 * 4 + 4  # weight groups found by their saved layer names
    assert ("left", "shared") in got.edge_names()


def test_hostile_member_paths_are_never_extracted(tmp_path: Path, saved: dict[str, Any]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with zipfile.ZipFile(saved["generator"][1]["keras"]) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["../../escaped.txt"] = b"owned"
    members["/tmp/absolute_escape.txt"] = b"owned"
    path = _zip(work / "evil.keras", members)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cwd = Path.cwd()
    os.chdir(work)
    try:
        got = file_to_graph(path)
    finally:
        os.chdir(cwd)
    assert got.name == "generator"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/absolute_escape.txt").exists()


def test_corrupt_weights_still_draw_with_a_warning(tmp_path: Path, saved: dict[str, Any]) -> None:
    with zipfile.ZipFile(saved["generator"][1]["keras"]) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["model.weights.h5"] = b"\x89HDF\r\n\x1a\n" + b"\0" * 100
    got = file_to_graph(_zip(tmp_path / "badweights.keras", members))
    assert len(got.nodes) == 7 and all(n.params == 0 for n in got.nodes)
    assert any("parameter counts unknown" in w for w in got.details["warnings"])
    del members["model.weights.h5"]
    got = file_to_graph(_zip(tmp_path / "noweights.keras", members, zipfile.ZIP_DEFLATED))
    assert got.edge_names()[0] == ("generator_input", "dense")
    assert "no model.weights.h5" in got.details["warnings"][0]


def test_compressed_weights_member_is_still_counted(tmp_path: Path, saved: dict[str, Any]) -> None:
    source = saved["generator"][1]["keras"]
    with zipfile.ZipFile(source) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    got = file_to_graph(_zip(tmp_path / "deflated.keras", members, zipfile.ZIP_DEFLATED))
    assert got.details["params"] == file_to_graph(source).details["params"] == saved["generator"][0].count_params()


def test_hand_written_sequential_without_input_layer(tmp_path: Path) -> None:
    config = json.loads(_config())
    del config["config"]["layers"][0]
    config["config"]["build_input_shape"] = [None, 2]
    got = file_to_graph(_zip(tmp_path / "noinput.keras", {"config.json": json.dumps(config).encode(), "x": b""}))
    assert [(n.name, n.kind) for n in got.nodes] == [("tiny_input", "input"), ("d", "layer")]
    assert got.node("n1").output_shapes == ((None, 1),)
    assert io.StringIO(got.to_json()).read().startswith("{")


# --------------------------------------------------------------------------------------------
# The built-in HDF5 reader (used for .keras weights) agrees with h5py and survives damage
# --------------------------------------------------------------------------------------------
def _weights_member(path: Path) -> tuple[bytes, int, int]:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.weights.h5")
    data = path.read_bytes()
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return data, start, info.compress_size


@pytest.mark.parametrize("name", ["misc", "nested", "mobilenet"])
def test_builtin_hdf5_reader_agrees_with_h5py(saved: dict[str, Any], name: str) -> None:
    import h5py

    data, start, size = _weights_member(saved[name][1]["keras"])
    tiny = TinyHDF5(io.BytesIO(data), start, size)
    with h5py.File(io.BytesIO(data[start : start + size]), "r") as h5:
        walk = H5Walk(h5.id)
        assert tiny.sizes == walk.sizes and tiny.groups == walk.groups
    assert len(tiny.sizes) > 5


def test_damaged_weights_never_crash(tmp_path: Path, saved: dict[str, Any]) -> None:
    """Seeded byte flips in the weights member: a graph (maybe without counts) or a ModelFileError."""
    import random

    data, start, size = _weights_member(saved["misc"][1]["keras"])
    rng = random.Random(5)
    path = tmp_path / "flipped.keras"
    outcomes = set()
    for _ in range(60):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[start + rng.randrange(min(size, 4096))] = rng.randrange(256)
        path.write_bytes(bytes(damaged))
        began = time.perf_counter()
        try:
            got = file_to_graph(path)
            outcomes.add("warned" if got.details.get("warnings") else "read")
            assert [n.name for n in got.nodes][:2] == ["x", "drop"]
        except ModelFileError:
            outcomes.add("refused")
        assert time.perf_counter() - began < 30  # a hang guard, not a speed target
    assert outcomes & {"read", "warned"}


def test_builtin_reader_refuses_garbage() -> None:
    for blob in (b"", b"\x89HDF\r\n\x1a\n" + b"\0" * 200, b"\x89HDF\r\n\x1a\n" + b"\xff" * 200):
        with pytest.raises(Unsupported):
            TinyHDF5(io.BytesIO(blob), 0, len(blob))


def test_keras2_style_legacy_h5(tmp_path: Path) -> None:
    """A hand-made tf.keras 2 file: list-form inbound nodes, batch_input_shape, ``:0`` weight names."""
    import h5py
    import numpy as np

    config = {
        "class_name": "Model",
        "config": {
            "name": "old",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "input_1",
                    "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "input_1"},
                    "inbound_nodes": [],
                },
                {
                    "class_name": "Dense",
                    "name": "dense",
                    "config": {"name": "dense", "units": 2, "activation": "relu", "trainable": True},
                    "inbound_nodes": [[["input_1", 0, 0, {}]]],
                },
                {
                    "class_name": "BatchNormalization",
                    "name": "bn",
                    "config": {"name": "bn", "trainable": True},
                    "inbound_nodes": [[["dense", 0, 0, {}]]],
                },
            ],
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["bn", 0, 0]],
        },
    }
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config).encode()
        h5.attrs["keras_version"] = b"2.4.0"
        weights = h5.create_group("model_weights")
        dense = weights.create_group("dense")
        dense.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        dense["dense/kernel:0"] = np.zeros((3, 2))
        dense["dense/bias:0"] = np.zeros(2)
        bn = weights.create_group("bn")
        names = ["gamma", "beta", "moving_mean", "moving_variance"]
        bn.attrs["weight_names"] = [f"bn/{n}:0".encode() for n in names]
        for n in names:
            bn[f"bn/{n}:0"] = np.zeros(2)
    got = file_to_graph(path)
    assert [(n.name, n.kind, n.params, n.trainable_params) for n in got.nodes] == [
        ("input_1", "input", 0, 0),
        ("dense", "layer", 8, 8),
        ("bn", "layer", 8, 4),
    ]
    assert got.edge_names() == [("input_1", "dense"), ("dense", "bn")]
    assert got.node("n0").output_shapes == ((None, 3),)
    assert got.node("n1").activation == "relu" and got.node("n1").output_shapes == ((None, 2),)
    assert got.details["keras_version"] == "2.4.0"
