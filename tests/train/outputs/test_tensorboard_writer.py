"""#22: TensorBoard event files written by hand (no TensorFlow), read back by ganviz, TensorFlow and TensorBoard."""

from __future__ import annotations

import importlib.util
import io
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganviz.errors import RunFileError
from ganviz.train.outputs import tfevents
from ganviz.train.outputs.tensorboard import TensorBoardWriter, read_events

ROOT = Path(__file__).resolve().parents[3]
GRAY = np.arange(6 * 5, dtype=np.uint8).reshape(6, 5) * 8
RGB = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)


def _has(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _write(log: Path) -> Path:
    tb = TensorBoardWriter(log)
    tb.scalars(1, {"g_loss": 1.25, "d_loss": -0.5})
    tb.scalars(2, {"g_loss": 0.75})
    tb.image("samples", 2, GRAY[..., None])
    tb.image("rgb", 3, RGB)
    tb.text("sampling", 0, "fixed noise, **64** — ünïcode")
    tb.scalars(10_000_000_000, {"g_loss": 3.0})  # an int64 step past 32 bits
    tb.close()
    (path,) = log.glob("events.out.tfevents.*")
    return path


def test_round_trip_through_read_events(tmp_path: Path) -> None:
    _write(tmp_path)
    events = read_events(tmp_path)
    assert events["train/g_loss"] == [(1, 1.25), (2, 0.75), (10_000_000_000, 3.0)]
    assert events["train/d_loss"] == [(1, -0.5)]
    (step, gray), ((step_rgb, rgb),) = events["samples"][0], events["rgb"]
    assert step == 2 and step_rgb == 3
    np.testing.assert_array_equal(gray, GRAY)
    np.testing.assert_array_equal(rgb, RGB)
    assert events["sampling"] == [(0, "fixed noise, **64** — ünïcode")]


def test_png_and_a_file_name_tensorboard_finds(tmp_path: Path) -> None:
    png = tmp_path / "d.png"
    Image.fromarray(RGB).save(png)
    tb = TensorBoardWriter(tmp_path / "tb")
    tb.png("system_diagram", 5, png)
    tb.close()
    tb.close()  # a second close does nothing
    (path,) = (tmp_path / "tb").iterdir()
    host, pid = re.escape(socket.gethostname()), os.getpid()
    assert re.fullmatch(rf"events\.out\.tfevents\.\d{{10}}\.{host}\.{pid}\.\d+", path.name), path.name
    np.testing.assert_array_equal(read_events(tmp_path / "tb")["system_diagram"][0][1], RGB)


def test_the_first_record_names_the_file_version(tmp_path: Path) -> None:
    path = _write(tmp_path)
    data = path.read_bytes()
    first = next(tfevents.iter_records(io.BytesIO(data).read, len(data)))
    event = tfevents.parse_event(first)
    assert event["file_version"] == "brain.Event:2" and event["values"] == [] and event["wall_time"] > 1e9


def test_crc32c_known_values() -> None:
    assert tfevents.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert tfevents.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4
    assert tfevents.crc32c(bytes(range(32))) == 0x46DD794E
    data = os.urandom(5000)
    assert tfevents._crc32c_table(data) == tfevents.crc32c(data)
    assert tfevents.masked_crc(b"") == 0xA282EAD8  # crc 0 masks to the constant


def test_each_event_is_on_disk_when_the_call_returns(tmp_path: Path) -> None:
    """A run killed (SIGKILL: no close, no flush) keeps every event written before it."""
    code = textwrap.dedent(
        """
        import os, signal, sys
        from ganviz.train.outputs.tensorboard import TensorBoardWriter
        tb = TensorBoardWriter(sys.argv[1])
        for step in range(1, 6):
            tb.scalars(step, {"g_loss": step / 2})
        tb.text("note", 5, "last words")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    events = read_events(tmp_path)
    assert events["train/g_loss"] == [(s, s / 2) for s in range(1, 6)]
    assert events["note"] == [(5, "last words")]


def test_a_file_cut_inside_a_record_keeps_the_records_before_it(tmp_path: Path) -> None:
    path = _write(tmp_path)
    data = path.read_bytes()
    whole = read_events(tmp_path)
    for cut in (len(data) - 1, len(data) - 30, len(data) - 45):  # inside the last record's data / header
        path.write_bytes(data[:cut])
        events = read_events(tmp_path)
        assert events["train/g_loss"] == whole["train/g_loss"][:2], cut
        assert events["sampling"] == whole["sampling"]


def test_a_damaged_record_is_a_run_file_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(RunFileError, match=re.escape(path.name) + r": damaged event file .*checksum mismatch"):
        read_events(tmp_path)


def test_a_hostile_event_file_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "events.out.tfevents.1.fifo")
    with pytest.raises(RunFileError, match="not a regular file"):
        read_events(tmp_path)
    (tmp_path / "events.out.tfevents.1.fifo").unlink()
    (tmp_path.parent / "outside").write_bytes(b"secret")
    (tmp_path / "events.out.tfevents.2.link").symlink_to(tmp_path.parent / "outside")
    with pytest.raises(RunFileError, match="outside the run folder"):
        read_events(tmp_path)


def test_a_well_framed_record_of_garbage_is_a_run_file_error(tmp_path: Path) -> None:
    (tmp_path / "events.out.tfevents.1.x").write_bytes(tfevents.frame(b"\x0b\xff\xff"))  # wire type 3, a group
    with pytest.raises(RunFileError, match="damaged event file"):
        read_events(tmp_path)
    (tmp_path / "events.out.tfevents.1.x").write_bytes(tfevents.frame(b"\x2a\x05\x0a\x09"))  # summary past its end
    with pytest.raises(RunFileError, match="damaged event file"):
        read_events(tmp_path)


def test_field_numbers_match_tensorflows_protos() -> None:
    if not _has("tensorflow"):
        pytest.skip("TensorFlow is not installed: the .proto field numbers are checked where it is")
    from tensorflow.core.framework import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow.core.util import event_pb2

    def numbers(message: object) -> dict[str, int]:
        return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]

    assert numbers(event_pb2.Event).items() >= {"wall_time": 1, "step": 2, "file_version": 3, "summary": 5,
                                                "source_metadata": 10}.items()  # fmt: skip
    assert numbers(summary_pb2.Summary)["value"] == 1
    assert numbers(summary_pb2.Summary.Value).items() >= {"tag": 1, "simple_value": 2, "tensor": 8,
                                                          "metadata": 9}.items()  # fmt: skip
    assert numbers(summary_pb2.SummaryMetadata)["plugin_data"] == 1
    assert numbers(summary_pb2.SummaryMetadata.PluginData) == {"plugin_name": 1, "content": 2}
    assert numbers(tensor_pb2.TensorProto).items() >= {"dtype": 1, "tensor_shape": 2, "tensor_content": 4,
                                                       "float_val": 5, "double_val": 6, "int_val": 7,
                                                       "string_val": 8, "int64_val": 10}.items()  # fmt: skip
    assert numbers(tensor_shape_pb2.TensorShapeProto)["dim"] == 2
    assert numbers(tensor_shape_pb2.TensorShapeProto.Dim)["size"] == 1
    assert (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_INT32, types_pb2.DT_STRING, types_pb2.DT_INT64) == (
        tfevents.DT_FLOAT, tfevents.DT_DOUBLE, tfevents.DT_INT32, tfevents.DT_STRING, tfevents.DT_INT64)  # fmt: skip


def test_tensorflow_reads_the_file_and_its_checksums(tmp_path: Path) -> None:
    if not _has("tensorflow"):
        pytest.skip("TensorFlow is not installed: its reader is checked where it is")
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    path = _write(tmp_path)
    events = [event_pb2.Event.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
    assert events[0].file_version == "brain.Event:2" and not events[0].HasField("summary")
    seen: dict[str, list[tuple[int, object]]] = {}
    for e in events[1:]:
        for v in e.summary.value:
            assert v.HasField("tensor") and v.tensor.dtype in (tf.float32.as_datatype_enum, tf.string.as_datatype_enum)
            seen.setdefault(v.tag, []).append((e.step, v.metadata.plugin_data.plugin_name, tf.make_ndarray(v.tensor)))
    assert [(s, p, float(x)) for s, p, x in seen["train/g_loss"]] == [
        (1, "scalars", 1.25), (2, "scalars", 0.75), (10_000_000_000, "scalars", 3.0)]  # fmt: skip
    assert seen["train/g_loss"][0][2].shape == ()
    ((step, plugin, rgb),) = seen["rgb"]
    assert (step, plugin, rgb.shape, list(rgb[:2])) == (3, "images", (3,), [b"9", b"7"])  # [width, height, png]
    np.testing.assert_array_equal(tf.io.decode_png(rgb[2]).numpy(), RGB)
    np.testing.assert_array_equal(tf.io.decode_png(seen["samples"][0][2][2]).numpy()[..., 0], GRAY)
    ((step, plugin, text),) = seen["sampling"]
    assert (step, plugin, text.shape, text.item().decode()) == (0, "text", (), "fixed noise, **64** — ünïcode")
    bad = bytearray(path.read_bytes())
    bad[-10] ^= 1  # TensorFlow checks the data CRC: its acceptance above means ours are right
    path.write_bytes(bytes(bad))
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(str(path)))


def test_read_events_reads_files_tf_summary_wrote(tmp_path: Path) -> None:
    """An event file from TensorFlow (tensor_content scalars, one event a value) reads back the same."""
    if not _has("tensorflow"):
        pytest.skip("TensorFlow is not installed")
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    def meta(plugin: str) -> summary_pb2.SummaryMetadata:
        return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))

    writer = tf.summary.create_file_writer(str(tmp_path))
    legacy = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="legacy", simple_value=2.5)])
    # tf.summary.scalar/text need the tensorboard package; these calls write the same records without it
    with writer.as_default():
        tf.summary.write("train/g_loss", tf.constant(0.5), step=7, metadata=meta("scalars"))
        tf.summary.experimental.write_raw_pb(legacy.SerializeToString(), step=8)
        tf.summary.write("note", tf.constant("hello"), step=9, metadata=meta("text"))
    writer.close()
    events = read_events(tmp_path)
    assert events["train/g_loss"] == [(7, 0.5)] and events["legacy"] == [(8, 2.5)] and events["note"] == [(9, "hello")]


def test_tensorboard_loads_the_file(tmp_path: Path) -> None:
    if not _has("tensorboard"):
        pytest.skip("the tensorboard package is not installed (pip install tensorboard) to check its loader")
    from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
    from tensorboard.util import tensor_util

    _write(tmp_path)
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    assert sorted(tags["tensors"]) == ["rgb", "samples", "sampling", "train/d_loss", "train/g_loss"]
    assert tags["scalars"] == [] and tags["images"] == []  # as for tf.summary.write: tensors, shown by plugin
    assert [(t.step, float(tensor_util.make_ndarray(t.tensor_proto))) for t in acc.Tensors("train/g_loss")] == [
        (1, 1.25), (2, 0.75), (10_000_000_000, 3.0)]  # fmt: skip
    plugins = plugin_event_accumulator.EventAccumulator(str(tmp_path))
    plugins.Reload()
    assert sorted(plugins.PluginTagToContent("scalars")) == ["train/d_loss", "train/g_loss"]
    assert sorted(plugins.PluginTagToContent("images")) == ["rgb", "samples"]
    assert sorted(plugins.PluginTagToContent("text")) == ["sampling"]
    png = tensor_util.make_ndarray(plugins.Tensors("rgb")[0].tensor_proto)[2]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), RGB)


_NO_TF = textwrap.dedent(
    """
    import sys
    for m in ("tensorflow", "tensorboard", "google.protobuf", "crc32c", "google_crc32c"):
        sys.modules[m] = None  # importing any of them now raises ImportError
    import numpy as np
    from ganviz.train.outputs.tensorboard import TensorBoardWriter, read_events
    tb = TensorBoardWriter(sys.argv[1])
    tb.scalars(1, {"g_loss": 0.5})
    tb.image("samples", 1, np.full((4, 6, 3), 200, np.uint8))
    tb.text("sampling", 1, "fixed noise")
    tb.close()
    ev = read_events(sys.argv[1])
    real = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tensorboard") and sys.modules[m])
    print(ev["train/g_loss"], ev["samples"][0][1].shape, ev["sampling"], real)
    """
)


def test_writing_and_reading_never_import_tensorflow(tmp_path: Path) -> None:
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", _NO_TF, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[(1, 0.5)] (4, 6, 3) [(1, 'fixed noise')] []"
