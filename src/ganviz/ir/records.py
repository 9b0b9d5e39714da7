"""One JSON form for the IR's frozen dataclasses: ``Record`` (an item) and ``Document`` (a file with a format).

Each field is written under its own name, in field order, converted by its type: a shape (``Shape``,
a bare ``tuple``) as a list with ``null`` for unknown dimensions, a ``tuple[X, ...]`` as a list, a
``Mapping`` as an object, a ``Record`` by its own ``to_dict``; plain values as they are. Reading
turns each value back into the field's type. A class says only where it departs from that:

- ``_json_first``: the keys written before the others (the rest follow in field order);
- ``_json_when_set``: keys written only when the value is set (not None, not empty), so files
  written before the field existed read and write as they were;
- ``_json_written_with``: ``{key: other}``, a key written exactly when ``other`` is written;
- ``_json_read_defaults``: the value a missing key reads as, where it is not the field's default
  (or the field has none); a field with neither is required.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Point(Record):
...     name: str
...     at: tuple = (0, 0)
...     tags: tuple[str, ...] = ()
...     _json_when_set = ("tags",)
>>> Point("p", (1, None)).to_dict()
{'name': 'p', 'at': [1, None]}
>>> Point.from_dict({"name": "q", "tags": ["a"]})
Point(name='q', at=(0, 0), tags=('a',))
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, Self

__all__ = ["Record", "Document", "mapping_field", "shape_to_json", "shape_from_json"]


def mapping_field() -> Any:
    """A mapping field of an IR dataclass: empty by default, left out of equality and hashing."""
    return dataclasses.field(default_factory=dict, compare=False, hash=False)


def shape_to_json(shape: tuple[int | None, ...] | None) -> list[int | None] | None:
    """Turn a shape tuple into its JSON form (a list with ``null`` for unknown dimensions).

    >>> shape_to_json((None, 28, 28, 1))
    [None, 28, 28, 1]
    >>> shape_to_json(None) is None
    True
    """
    return None if shape is None else [None if d is None else int(d) for d in shape]


def shape_from_json(value: Sequence[int | None] | None) -> tuple[int | None, ...] | None:
    """Turn a JSON shape (list with ``null``) back into a tuple.

    >>> shape_from_json([None, 28, 28, 1])
    (None, 28, 28, 1)
    >>> shape_from_json(None) is None
    True
    """
    return None if value is None else tuple(None if d is None else int(d) for d in value)


Convert = Callable[[Any], Any]
_REQUIRED = object()


def _is_set(value: Any) -> bool:
    """Not None and not empty: what a ``_json_when_set`` key needs to be written."""
    return value is not None and not (isinstance(value, (str, tuple, list, Mapping)) and len(value) == 0)


def _optional(convert: Convert) -> Convert:
    return lambda v: None if v is None else convert(v)


def _each(convert: Convert | None) -> Convert:
    if convert is None:
        return list
    return lambda v: [convert(x) for x in v]


def _codec(hint: Any) -> tuple[Convert | None, Convert]:
    """How a value of type ``hint`` is written (None: as it is) and read back."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        (inner,) = (a for a in args if a is not type(None))
        if inner is tuple:  # an unknown shape: the shape functions take None themselves
            return shape_to_json, shape_from_json
        write, read = _codec(inner)
        return (None if write is None else _optional(write)), _optional(read)
    if hint is tuple:  # ``Shape``: a tuple of int | None
        return shape_to_json, shape_from_json
    if origin is tuple:
        write, read = _codec(args[0])
        return _each(write), lambda v: tuple(read(x) for x in v or ())
    if origin is Mapping:
        if args[1] is str:
            return dict, lambda v: {str(k): str(x) for k, x in dict(v or {}).items()}
        return dict, lambda v: dict(v or {})
    if isinstance(hint, type) and issubclass(hint, Record):
        return (lambda v: v.to_dict()), hint.from_dict
    if hint in (str, int, float, bool):
        return None, hint
    if hint is Any:
        return None, lambda v: v
    raise TypeError(f"no JSON form for a field of type {hint!r}")


class _Plan(NamedTuple):
    """How one class is written (``(key, convert or None, the key deciding or None)`` in key order)
    and read (``(key, convert, default, default factory)``; default ``_REQUIRED``: none)."""

    write: tuple[tuple[str, Convert | None, str | None], ...]
    read: tuple[tuple[str, Convert, Any, Callable[[], Any] | None], ...]


def _plan_of(cls: type[Record]) -> _Plan:
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    said = [*cls._json_first, *cls._json_when_set, *cls._json_written_with, *cls._json_written_with.values()]
    unknown = sorted({*said, *cls._json_read_defaults} - {f.name for f in fields})
    if unknown:
        raise TypeError(f"{cls.__name__} declares a JSON form for fields it does not have: {unknown}")
    hints = typing.get_type_hints(cls)
    write, read = [], []
    for f in fields:
        to_json, from_json = _codec(hints[f.name])
        when = cls._json_written_with.get(f.name, f.name if f.name in cls._json_when_set else None)
        write.append((f.name, to_json, when))
        default, factory = _REQUIRED, None
        if f.name in cls._json_read_defaults:
            default = cls._json_read_defaults[f.name]
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            factory = f.default_factory
        read.append((f.name, from_json, default, factory))
    first = list(cls._json_first)
    write.sort(key=lambda w: first.index(w[0]) if w[0] in first else len(first))
    return _Plan(tuple(write), tuple(read))


_PLANS: dict[type, _Plan] = {}


class Record:
    """A frozen dataclass with one JSON form: ``to_dict`` / ``from_dict`` (see the module's doc)."""

    _json_first: ClassVar[tuple[str, ...]] = ()
    _json_when_set: ClassVar[tuple[str, ...]] = ()
    _json_written_with: ClassVar[Mapping[str, str]] = {}
    _json_read_defaults: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def _json_plan(cls) -> _Plan:
        plan = _PLANS.get(cls)
        if plan is None:
            plan = _PLANS[cls] = _plan_of(cls)
        return plan

    def to_dict(self) -> dict[str, Any]:
        """The plain-data form, ready for ``json.dumps``."""
        out: dict[str, Any] = {}
        for name, write, when in self._json_plan().write:
            value = getattr(self, name)
            if when is not None and not _is_set(value if when == name else getattr(self, when)):
                continue
            out[name] = value if write is None else write(value)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Read the plain-data form back (a missing required key raises ``KeyError``)."""
        values: dict[str, Any] = {}
        for name, read, default, factory in cls._json_plan().read:
            value = d.get(name, default)
            if value is _REQUIRED:
                value = d[name] if factory is None else factory()
            values[name] = read(value)
        return cls(**values)


class Document(Record):
    """A ``Record`` that is a whole file: ``"format"`` first, checked on reading; ``to_json`` / ``from_json``."""

    _json_format: ClassVar[str]  # what is written
    _json_formats: ClassVar[tuple[str, ...]] = ()  # what is read (default: only ``_json_format``)
    _json_kind: ClassVar[str]  # "graph", "trace": for the refusal of another file

    def to_dict(self) -> dict[str, Any]:
        return {"format": self._json_format, **super().to_dict()}

    def to_json(self, *, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def _json_upgrade(cls, d: Mapping[str, Any]) -> Mapping[str, Any]:
        """An older format's layout turned into this one's (nothing to do by default)."""
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        formats = cls._json_formats or (cls._json_format,)
        if d.get("format") not in formats:
            expected = repr(formats[0]) if len(formats) == 1 else f"one of {list(formats)}"
            raise ValueError(f"not a ganviz {cls._json_kind}: format is {d.get('format')!r}, expected {expected}")
        return super().from_dict(cls._json_upgrade(d))

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))
