"""Checking a case record read back from ``cases.jsonl`` against ``CaseRecord``, the typed record
itself (its annotations), so that a line that parses as JSON but lacks a field or holds a wrong type
is skipped with one line naming it instead of crashing a reader."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union

from portability.records import CaseRecord

# -- checking a record read back -------------------------------------------------------------------

@dataclass(frozen=True)
class _Shape:
    """What a JSON value may be under an annotation: its exact types (JSON gives exact types: no
    subclass, and ``true`` is a bool, never an int), and what the items of a list or the values of a
    dict may be. ``expected`` is the annotation in words. A nested TypedDict is checked as a dict."""

    types: frozenset[type] | None  # None: Any
    items: dict[type, _Shape]
    expected: str


def _shape(annotation: Any) -> _Shape:
    if annotation is Any:
        return _Shape(None, {}, "Any")
    if annotation is None or annotation is type(None):
        return _Shape(frozenset({type(None)}), {}, "None")
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Union or origin is types.UnionType:
        parts = [_shape(a) for a in args]
        if any(p.types is None for p in parts):
            return _Shape(None, {}, "Any")
        return _Shape(frozenset(t for p in parts for t in p.types or ()),
                      {t: s for p in parts for t, s in p.items.items()}, " | ".join(p.expected for p in parts))
    if origin is list:
        (item,) = args
        inner = _shape(item)
        return _Shape(frozenset({list}), {} if inner.types is None else {list: inner}, f"list[{inner.expected}]")
    if origin is dict:
        _, value = args  # JSON object keys are always str
        inner = _shape(value)
        return _Shape(frozenset({dict}), {} if inner.types is None else {dict: inner},
                      f"dict[str, {inner.expected}]")
    if typing.is_typeddict(annotation):
        return _Shape(frozenset({dict}), {}, "dict")
    if annotation is float:  # a JSON number without a fraction is read as an int
        return _Shape(frozenset({float, int}), {}, "float")
    if annotation in (str, int, bool):
        return _Shape(frozenset({annotation}), {}, annotation.__name__)
    raise TypeError(f"no record check for the annotation {annotation!r}")


def _fits(value: Any, shape: _Shape) -> bool:
    if shape.types is None:
        return True
    kind = type(value)
    if kind not in shape.types:
        return False
    inner = shape.items.get(kind)
    if inner is None:
        return True
    return all(_fits(v, inner) for v in (value.values() if kind is dict else value))


def _json_type(value: Any) -> str:
    return "None" if value is None else type(value).__name__


_T = TypeVar("_T")


class _NotRequired(Generic[_T]):
    """Stands for ``typing.NotRequired`` (3.11+; the annotations here name it for type checkers only)
    when a TypedDict's annotations are evaluated at run time: it marks the keys a record may lack,
    which the TypedDict's own ``__required_keys__`` cannot tell from annotations left as text."""


def _fields(record_type: Any) -> list[tuple[str, bool, _Shape]]:
    """(name, required, shape) of each key of a TypedDict, from its annotations."""
    hints = typing.get_type_hints(record_type, localns={"NotRequired": _NotRequired})
    out = []
    for name, annotation in hints.items():
        optional = typing.get_origin(annotation) is _NotRequired
        out.append((name, not optional, _shape(typing.get_args(annotation)[0] if optional else annotation)))
    return out


_CASE_FIELDS = _fields(CaseRecord)


def case_record_problem(record: Any) -> str | None:
    """What is wrong with a parsed ``cases.jsonl`` record, in today's form, against ``CaseRecord``:
    the first missing field or field of a wrong type, or ``None`` for a good record. Keys that
    ``CaseRecord`` does not name are let be."""
    if not isinstance(record, dict):
        return f"not a case record (a JSON {_json_type(record)})"
    for name, required, shape in _CASE_FIELDS:
        if name not in record:
            if required:
                return f"field {name!r} is missing"
            continue
        value = record[name]
        if shape.types is None:
            continue
        kind = type(value)
        # the type, then the items of a list or dict, if there is a rule for them (fast: few are)
        if kind not in shape.types:
            return f"field {name!r} is {_json_type(value)}, expected {shape.expected}"
        if kind in shape.items and not _fits(value, shape):
            inner = shape.items[kind]
            bad = next(v for v in (value.values() if kind is dict else value) if not _fits(v, inner))
            return f"field {name!r} is {_json_type(value)} holding {_json_type(bad)}, expected {shape.expected}"
    return None
