"""Read a Keras ``.keras`` archive or legacy ``.h5`` file into the graph IR, safely and without TensorFlow."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ...errors import ModelFileError
from ...ir.graph import Graph
from ...ir.transforms import check_depth, view
from .archive import archive_params, read_archive
from .config import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MAX_MODEL_DEPTH, fail, parse_entry
from .graph import Reader
from .hdf5 import HDF5_MAGIC
from .legacy_h5 import read_legacy_h5
from .params import weights_params

__all__ = ["file_to_graph", "MAX_CONFIG_BYTES", "MAX_JSON_DEPTH", "MAX_MODEL_DEPTH"]

# Only the model configuration (JSON) and the *shapes* of the weight datasets are read: no weight data,
# no TensorFlow or Keras import, nothing unpickled, unmarshalled, evaluated or extracted to disk. A
# ``Lambda`` layer's bytecode stays an opaque string. Hostile files (oversized or deeply nested
# configs, truncated archives, HDF5 files without a model) raise one ModelFileError each.
#
# This module checks the file and wires the steps together; each step lives in its own module:
#   archive    the .keras zip container: members read with size caps, weights read in place
#   legacy_h5  legacy .h5 configs and HDF5 attributes through h5py (imported only when needed)
#   hdf5       a bounded standard-library HDF5 reader for weight shapes (no h5py for .keras files)
#   config     bounded JSON parsing, the config as a tree of layers, JSON-safe config copies
#   params     weight shapes -> parameter counts per layer
#   shapes     output shapes the file does not record
#   graph      the layer tree -> Graph, shaped like the live extractor's

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EXTENSIONS = (".h5", ".hdf5", ".keras")


def _sniff(path: Path) -> str:
    """Return ``"keras"`` or ``"h5"`` after checking the path, its extension and its first bytes."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise fail(f"model file not found: {str(path)!r} (check the path)") from None
    except (OSError, ValueError) as exc:
        raise fail(f"cannot open {str(path)!r}: {exc} (check the path and its permissions)") from None
    if stat.S_ISDIR(mode):
        raise fail(
            f"{str(path)!r} is a directory, not a model file (give a .keras or .h5 file; "
            "TensorFlow SavedModel folders are not supported)"
        )
    if not stat.S_ISREG(mode):  # a FIFO or a device would block the read, or never end
        raise fail(f"{str(path)!r} is not a regular file (a pipe, socket or device): give a .keras or .h5 file")
    ext = path.suffix.lower()
    if ext not in _EXTENSIONS:
        raise fail(
            f"unknown model file extension {ext or '(none)'!r} for {path.name!r} (must be one of {list(_EXTENSIONS)})"
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(2056)
    except OSError as exc:
        raise fail(f"cannot read {str(path)!r}: {exc.strerror or exc} (check its permissions)") from None
    if not head:
        raise fail(f"{path.name!r} is empty (re-save the model with model.save())")
    if head[:4] in _ZIP_MAGIC:
        return "keras"
    if any(head[at : at + 8] == HDF5_MAGIC for at in (0, 512, 1024, 2048)):
        return "h5"
    kind = "a zip archive (.keras)" if ext == ".keras" else "an HDF5 file (.h5)"
    raise fail(f"{path.name!r} is not {kind}: the file is corrupt, truncated or of another kind (re-save the model)")


def file_to_graph(path: str | os.PathLike[str], *, expand_nested: bool = True, depth: int | None = None) -> Graph:
    """Read a Keras 3 ``.keras`` archive or a legacy ``.h5`` model file into a :class:`Graph`.

    The structure matches :func:`ganviz.extract.keras_model.model_to_graph` on the live model: one
    ``input`` node per model input, one node per layer in config order, nested models as clusters.
    Nothing in the file is executed, and TensorFlow/Keras are never imported.

    Args:
        path: the model file (``.keras``, ``.h5`` or ``.hdf5``).
        expand_nested: draw nested models open (``False`` collapses each into one ``model`` node).
        depth: how many levels of nested models to keep open (overrides ``expand_nested``).

    Returns:
        The architecture graph; ``graph.details`` holds the class name and parameter counts, plus
        ``warnings`` when the parameter counts could not be read.

    Raises:
        ModelFileError: the file is missing, of an unknown kind, corrupt, hostile or holds no model.
        ValueError: ``depth`` is not None or an integer >= 0.
    """
    check_depth(depth)  # before reading the file
    p = Path(os.fspath(path))
    kind = _sniff(p)
    warnings: list[str] = []
    if kind == "keras":
        config, metadata, weights, warnings = read_archive(p)
    else:
        config, metadata = read_legacy_h5(p)
    try:
        root = parse_entry(config, 0, p.name)
        if kind == "h5":
            params = weights_params(p, "model_weights", root, warnings)
        else:
            params = archive_params(p, weights, root, warnings) if weights is not None else None
        graph = Reader(params).read(root)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError) as exc:
        raise fail(f"malformed model config in {p.name!r} ({type(exc).__name__}: {exc}); re-save the model") from None
    details = dict(graph.details)
    details["file_format"] = kind
    if isinstance(metadata.get("keras_version"), str):
        details["keras_version"] = metadata["keras_version"]
    if warnings:
        details["warnings"] = warnings
    graph = Graph(graph.name, graph.nodes, graph.clusters, graph.edges, details)
    return view(graph, expand_nested=expand_nested, depth=depth)
