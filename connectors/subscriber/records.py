"""faust ``Record`` classes made from the registered Avro schemas, never typed by hand.

A field's Python type follows its Avro type (nested records and logical types stay ``Any``:
the codec hands the subscriber what the bus's decoder made of them); a nullable field or one
with a default is optional, so a provider's compatible schema change does not break a reader.
"""

from __future__ import annotations

import types
from typing import Any, Optional

import faust

_PRIMITIVES: dict[str, type] = {
    "string": str, "int": int, "long": int, "float": float, "double": float,
    "boolean": bool, "bytes": bytes,
}
_NO_DEFAULT = object()


def record_class(schema: dict[str, Any]) -> type[faust.Record]:
    """The faust Record of an Avro record schema, named after it."""
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    # faust wants the fields without defaults first, as a dataclass does.
    for field in sorted(schema["fields"], key=lambda f: _default(f) is not _NO_DEFAULT):
        annotations[field["name"]] = _python_type(field["type"])
        default = _default(field)
        if default is not _NO_DEFAULT:
            defaults[field["name"]] = default

    def body(namespace: dict[str, Any]) -> None:
        namespace["__annotations__"] = annotations
        namespace.update(defaults)

    made = types.new_class(schema["name"], (faust.Record,), {"serializer": None}, body)
    return made


def _default(field: dict[str, Any]) -> Any:
    if "default" in field:
        return field["default"]
    if isinstance(field["type"], list) and "null" in field["type"]:
        return None
    return _NO_DEFAULT


def _python_type(avro: Any) -> Any:
    if isinstance(avro, str):
        return _PRIMITIVES.get(avro, Any)
    if isinstance(avro, list):
        rest = [t for t in avro if t != "null"]
        inner = _python_type(rest[0]) if len(rest) == 1 else Any
        return Optional[inner] if "null" in avro else inner  # noqa: UP045 (a runtime type)
    if isinstance(avro, dict) and "logicalType" not in avro and avro.get("type") in _PRIMITIVES:
        return _PRIMITIVES[avro["type"]]
    return Any


def row_record_class(schema: dict[str, Any]) -> type[faust.Record]:
    """The Record of what a message carries: the row of a change event (its ``after``), or
    the record itself for a topic of records (a theme profile)."""
    fields = {f["name"]: f["type"] for f in schema["fields"]}
    if "after" not in fields or "op" not in fields:
        return record_class(schema)
    named = dict(_named_records(schema))
    for member in fields["after"] if isinstance(fields["after"], list) else [fields["after"]]:
        if isinstance(member, dict) and member.get("type") == "record":
            return record_class(member)
        if isinstance(member, str) and member in named:
            return record_class(named[member])
    raise ValueError(f"{schema['name']}: a change event whose 'after' is not a record")


def _named_records(avro: Any) -> Any:
    """(name, record) for every record defined in the schema, by short and full name: a
    change event's ``after`` names the row record its ``before`` defines."""
    if isinstance(avro, list):
        for member in avro:
            yield from _named_records(member)
    elif isinstance(avro, dict):
        if avro.get("type") == "record":
            yield avro["name"], avro
            if "namespace" in avro:
                yield f"{avro['namespace']}.{avro['name']}", avro
            for field in avro["fields"]:
                yield from _named_records(field["type"])
        elif avro.get("type") in ("array", "map"):
            yield from _named_records(avro.get("items", avro.get("values")))
