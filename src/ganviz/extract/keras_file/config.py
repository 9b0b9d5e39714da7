"""Model-file config: bounded JSON parsing, the layer tree of a Keras config, JSON-safe config copies."""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import ModelFileError
from ...ir.graph import Shape
from ..sanitize import code_note, json_safe

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MODEL_DEPTH",
    "Entry",
    "Tensor",
    "fail",
    "layer_details",
    "parse_entry",
    "parse_json",
    "to_dtype",
    "to_shape",
    "to_shapes",
]

MAX_CONFIG_BYTES = 16 * 2**20  # a model config larger than this is refused
MAX_JSON_DEPTH = 400  # JSON nesting deeper than this is refused (Python's parser recurses)
MAX_MODEL_DEPTH = 40  # models nested deeper than this are refused
_MAX_JSON_ITEMS = 1_000_000  # separators (values) in a config: bounds the memory json.loads needs
_MAX_TENSOR_SEARCH_DEPTH = 16
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")


def fail(message: str) -> ModelFileError:
    """The one exception a bad model file raises (callers ``raise fail(...)``)."""
    return ModelFileError(message)


def _json_shape(raw: bytes) -> tuple[int, int]:
    """The bracket nesting depth of JSON text and its number of separators (strings ignored).

    Each pass deletes the innermost bracket pairs; a run of ``r`` opening brackets left after ``k``
    passes proves a depth of at least ``r + k``, which stops hostile input early. Bytes operations
    only: no recursion, and time bounded by the size of the text.

    >>> _json_shape(b'{"a": [1, {"b": "[[[,,"}]}')
    (3, 3)
    """
    stripped = _STRING_RE.sub(b"", raw)
    items = stripped.count(b",") + stripped.count(b":")
    brackets = stripped.translate(None, _NOT_BRACKETS).translate(_ONE_BRACKET_KIND)
    depth = 0
    while brackets:
        if b"[" * (MAX_JSON_DEPTH + 1 - depth) in brackets:
            return MAX_JSON_DEPTH + 1, items
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            break  # unbalanced: json.loads reports it
        brackets, depth = shorter, depth + 1
    return depth, items


def parse_json(raw: bytes, what: str, where: str) -> dict[str, Any]:
    depth, items = _json_shape(raw)
    if depth > MAX_JSON_DEPTH:
        raise fail(f"{what} in {where!r} nests over {MAX_JSON_DEPTH} levels deep: not a Keras model config")
    if items > _MAX_JSON_ITEMS:
        raise fail(f"{what} in {where!r} holds {items:,} values (limit {_MAX_JSON_ITEMS:,}): not a Keras model config")
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise fail(f"{what} in {where!r} is not UTF-8 text (the file is corrupt; re-save the model)") from None
    except (ValueError, RecursionError) as exc:
        raise fail(f"{what} in {where!r} is not valid JSON ({str(exc).splitlines()[0]}); re-save the model") from None
    if not isinstance(value, dict):
        raise fail(f"{what} in {where!r} holds a JSON {type(value).__name__}, not an object describing a model")
    return value


# --------------------------------------------------------------------------------------------
# The model config as a tree
# --------------------------------------------------------------------------------------------
class Tensor:
    """One tensor passed into a layer call: (producer layer, call index, output index) and its spec."""

    __slots__ = ("ref", "shape", "dtype")

    def __init__(self, ref: tuple[str, int, int], shape: Shape | None, dtype: str | None) -> None:
        self.ref, self.shape, self.dtype = ref, shape, dtype


class Entry:
    """One layer (or nested model) of a config; a model's ``children`` mirror ``model.layers``."""

    def __init__(self, name: str, class_name: str, config: dict[str, Any] | None = None, raw: Any = None) -> None:
        self.name = name
        self.class_name = class_name
        self.config: dict[str, Any] = config or {}
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.kind = "input" if class_name == "InputLayer" else "layer"
        self.children: list[Entry] = []
        self.calls: list[list[Tensor]] = []
        self.sequential = False
        self.seq_input: Entry | None = None
        self.input_refs: list[tuple[str, int, int]] = []
        self.output_refs: list[tuple[str, int, int]] = []


def _ref(value: Any) -> tuple[str, int, int] | None:
    if isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str):
        call, tensor = value[1], value[2]
        if isinstance(call, int) and isinstance(tensor, int) and 0 <= call < 2**31 and 0 <= tensor < 1024:
            return (value[0], call, tensor)
    return None


def _refs(value: Any) -> list[tuple[str, int, int]]:
    single = _ref(value)
    if single is not None:
        return [single]
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return []
    return [r for r in (_ref(v) for v in value) if r is not None]


def to_shape(value: Any) -> Shape | None:
    if isinstance(value, (list, tuple)) and len(value) <= 64:
        if all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in value):
            return tuple(value)
    return None


def to_shapes(value: Any) -> tuple[Shape | None, ...]:
    """A build config's ``input_shape``: one shape, a list of shapes or a dict of them.

    >>> to_shapes([None, 4]), to_shapes([[None, 4], [None, 2]]), to_shapes(None)
    (((None, 4),), ((None, 4), (None, 2)), ())
    """
    single = to_shape(value)
    if single is not None:
        return (single,)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list) and len(value) <= 1024:
        return tuple(to_shape(v) for v in value)
    return ()


def to_dtype(value: Any) -> str | None:
    """The compute dtype of a config's ``dtype`` (a string or a serialized DTypePolicy)."""
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name") if isinstance(value.get("config"), dict) else None
    if not isinstance(value, str):
        return None
    return value.split("_", 1)[1] if value.startswith("mixed_") else value


def _find_tensors(value: Any, out: list[Tensor], depth: int = 0) -> None:
    if depth > _MAX_TENSOR_SEARCH_DEPTH or len(out) > 10_000:
        return
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            spec = value.get("config")
            if isinstance(spec, dict):
                ref = _ref(spec.get("keras_history"))
                if ref is not None:
                    dtype = spec.get("dtype")
                    out.append(Tensor(ref, to_shape(spec.get("shape")), dtype if isinstance(dtype, str) else None))
            return
        for item in value.values():
            _find_tensors(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _find_tensors(item, out, depth + 1)


def _calls(inbound: Any) -> list[list[Tensor]]:
    """Inbound nodes in Keras 3 form (``{"args", "kwargs"}``) or Keras 2 form (``[[name, i, j, {}]]``)."""
    calls: list[list[Tensor]] = []
    if not isinstance(inbound, list):
        return calls
    for node in inbound:
        tensors: list[Tensor] = []
        if isinstance(node, dict):
            _find_tensors(node.get("args"), tensors)
            _find_tensors(node.get("kwargs"), tensors)
        elif isinstance(node, list):
            for item in node:
                ref = _ref(item)
                if ref is not None:
                    tensors.append(Tensor(ref, None, None))
        calls.append(tensors)
    return calls


def _is_model(class_name: str, config: dict[str, Any]) -> bool:
    if not isinstance(config.get("layers"), list):
        return False
    return class_name in ("Sequential", "Functional", "Model") or "input_layers" in config


def parse_entry(raw: Any, depth: int, where: str) -> Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("class_name"), str):
        raise fail(f"malformed config in {where!r}: a layer entry has no 'class_name' (the file is corrupt)")
    config = raw.get("config")
    config = config if isinstance(config, dict) else {}
    name = raw.get("name") if isinstance(raw.get("name"), str) else config.get("name")
    if not isinstance(name, str):
        raise fail(f"malformed config in {where!r}: a {raw['class_name']} layer has no name (the file is corrupt)")
    entry = Entry(name, raw["class_name"], config, raw)
    entry.calls = _calls(raw.get("inbound_nodes"))
    if not _is_model(entry.class_name, config):
        return entry
    if depth >= MAX_MODEL_DEPTH:
        raise fail(f"models in {where!r} nest more than {MAX_MODEL_DEPTH} levels deep: refusing a hostile config")
    entry.kind = "model"
    children = [parse_entry(item, depth + 1, where) for item in config["layers"]]
    entry.sequential = "input_layers" not in config
    if entry.sequential:
        if children and children[0].kind == "input":
            entry.seq_input = children.pop(0)
        entry.children = children
    else:
        entry.children = children
        entry.input_refs = _refs(config.get("input_layers"))
        entry.output_refs = _refs(config.get("output_layers"))
    return entry


# --------------------------------------------------------------------------------------------
# JSON-safe copies of configs for node details (Lambda code shown as such, never decoded)
# --------------------------------------------------------------------------------------------
def layer_details(entry: Entry) -> dict[str, Any]:
    config = dict(entry.config)
    details: dict[str, Any] = {}
    if entry.class_name == "Lambda":
        details["note"] = "Lambda code not executed"
        for key in ("function", "output_shape", "mask"):
            value = config.get(key)
            if isinstance(value, list) and value and isinstance(value[0], str):  # Keras 2: [code, defaults, closure]
                config[key] = [code_note(value[0])]
            elif isinstance(value, str) and config.get(f"{key}_type") == "lambda":
                config[key] = code_note(value)
    details["config"] = json_safe(config)
    return details
