"""Avro record fields -> table columns: the ClickHouse type, Arrow type and fill value of each.

The DDL and the Arrow batches both read this one mapping, so the type a column is declared
with and the Arrow type of the data sent to it cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyarrow as pa

from sinks.clickhouse.sql import quote_identifier, quote_literal
from topics.annotations import LOWCARD

# Proposed field annotation (to move to topics.annotations once the schemas use it): a long
# holding epoch time, "millis" or "micros", stored as DateTime64(3|6, 'UTC'). Unlike Avro's
# timestamp-millis logical type it leaves decoded values plain ints for every other consumer.
TIMESTAMP = "govbus.timestamp"
_TIMESTAMP_UNITS = {"millis": "timestamp-millis", "micros": "timestamp-micros"}

# Explicit so a table means the same instants on chDB and on a server in another zone.
TIMEZONE = "UTC"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class UnsupportedSchemaError(ValueError):
    """An Avro construct the sink has no column type for."""


@dataclass(frozen=True, slots=True)
class ColumnType:
    """How one Avro type is stored: SQL type, the Arrow type values are built as, fill value."""

    sql: str
    arrow: pa.DataType
    default: Any
    nullable: bool = False
    # Arrow type sent when it differs from the one Python values are built as (bool -> UInt8).
    send_as: pa.DataType | None = None
    # Python-side conversion for values pyarrow cannot take as decoded (uuid.UUID -> str).
    convert: Callable[[Any], Any] | None = None

    @property
    def wire(self) -> pa.DataType:
        return self.send_as if self.send_as is not None else self.arrow

    @property
    def is_composite(self) -> bool:
        return bool(pa.types.is_nested(self.arrow))


class Meta(StrEnum):
    """Ingest metadata the sink itself fills in every row."""

    TOPIC = "_topic"
    PARTITION = "_partition"
    OFFSET = "_offset"
    INGESTED = "_ingested_ms"
    BATCH = "_batch"


@dataclass(frozen=True, slots=True)
class Column:
    """A table column and where its values come from (a record field or ingest metadata)."""

    name: str
    type: ColumnType
    source_field: str | None = None
    meta: Meta | None = None
    sql_default: str | None = None
    comment: str = ""

    def definition(self) -> str:
        parts = [quote_identifier(self.name), self.type.sql]
        if self.sql_default is not None:
            parts.append(f"DEFAULT {self.sql_default}")
        if self.comment:
            parts.append(f"COMMENT {quote_literal(self.comment)}")
        return " ".join(parts)


META_COLUMNS: tuple[Column, ...] = (
    Column(
        Meta.TOPIC.value,
        ColumnType("LowCardinality(String)", pa.string(), ""),
        meta=Meta.TOPIC,
        comment="Kafka topic the row was read from.",
    ),
    Column(
        Meta.PARTITION.value,
        ColumnType("UInt16", pa.uint16(), 0),
        meta=Meta.PARTITION,
        comment="Kafka partition.",
    ),
    Column(
        Meta.OFFSET.value,
        ColumnType("UInt64", pa.uint64(), 0),
        meta=Meta.OFFSET,
        comment="Kafka offset of the message.",
    ),
    Column(
        Meta.INGESTED.value,
        ColumnType(f"DateTime64(3, '{TIMEZONE}')", pa.timestamp("ms", TIMEZONE), _EPOCH),
        meta=Meta.INGESTED,
        comment="When the sink sealed the batch; one value per insert.",
    ),
    Column(
        Meta.BATCH.value,
        ColumnType("LowCardinality(String)", pa.string(), ""),
        meta=Meta.BATCH,
        comment="Deduplication token of the insert: topic/partition/first-last offsets.",
    ),
)

_PRIMITIVES: dict[str, ColumnType] = {
    "string": ColumnType("String", pa.string(), ""),
    "bytes": ColumnType("String", pa.binary(), b""),
    "int": ColumnType("Int32", pa.int32(), 0),
    "long": ColumnType("Int64", pa.int64(), 0),
    "float": ColumnType("Float32", pa.float32(), 0.0),
    "double": ColumnType("Float64", pa.float64(), 0.0),
    "boolean": ColumnType("Bool", pa.bool_(), False),
}
_LOWCARD_STRING = ColumnType("LowCardinality(String)", pa.string(), "")

_NAMED = ("record", "enum", "fixed")


class _Names:
    """Avro named types seen so far, so a later reference by name resolves."""

    def __init__(self) -> None:
        self._types: dict[str, Mapping[str, Any]] = {}

    def register(self, schema: Mapping[str, Any], namespace: str) -> str:
        name = str(schema["name"])
        space = str(schema.get("namespace", namespace))
        full = name if "." in name else f"{space}.{name}".lstrip(".")
        self._types[full] = schema
        return full.rpartition(".")[0]

    def resolve(self, name: str, namespace: str) -> Mapping[str, Any]:
        for candidate in (f"{namespace}.{name}".lstrip("."), name):
            if candidate in self._types:
                return self._types[candidate]
        raise UnsupportedSchemaError(f"unknown Avro type name {name!r}")


def _nullable(inner: ColumnType) -> ColumnType:
    if inner.nullable:
        return inner
    if inner.is_composite:
        # ClickHouse has no Nullable(Array/Map/Tuple); a null becomes the empty value.
        return inner
    sql = inner.sql
    if sql.startswith("LowCardinality("):
        sql = f"LowCardinality(Nullable({sql[len('LowCardinality(') : -1]}))"
    else:
        sql = f"Nullable({sql})"
    return ColumnType(sql, inner.arrow, None, True, inner.send_as, inner.convert)


class _Mapper:
    def __init__(self) -> None:
        self.names = _Names()

    def column_type(
        self, avro: Any, namespace: str, lowcard: bool, where: str, top: bool
    ) -> ColumnType:
        if isinstance(avro, list):
            return self._union(avro, namespace, lowcard, where, top)
        if isinstance(avro, str):
            if avro in _PRIMITIVES:
                return _LOWCARD_STRING if (lowcard and avro == "string") else _PRIMITIVES[avro]
            if avro == "null":
                raise UnsupportedSchemaError(f"{where}: a field of type null holds nothing")
            return self.column_type(
                self.names.resolve(avro, namespace), namespace, lowcard, where, top
            )
        if not isinstance(avro, Mapping):
            raise UnsupportedSchemaError(f"{where}: unreadable Avro type {avro!r}")
        kind = avro.get("type")
        if kind in _NAMED and "name" in avro:
            namespace = self.names.register(avro, namespace)
        logical = avro.get("logicalType")
        if logical is not None:
            mapped = self._logical(avro, str(logical), where, top)
            if mapped is not None:
                return mapped
        if kind == "record":
            return self._record(avro, namespace, where)
        if kind == "enum":
            return _LOWCARD_STRING
        if kind == "fixed":
            size = int(avro["size"])
            return ColumnType(f"FixedString({size})", pa.binary(size), b"\0" * size)
        if kind == "array":
            item = self._element(
                avro["items"], namespace, lowcard or bool(avro.get(LOWCARD)), f"{where}[]"
            )
            return ColumnType(f"Array({item.sql})", pa.list_(item.arrow), [])
        if kind == "map":
            value = self._element(avro["values"], namespace, lowcard, f"{where}{{}}")
            return ColumnType(f"Map(String, {value.sql})", pa.map_(pa.string(), value.arrow), {})
        # {"type": "string"} and friends, possibly with an unknown logicalType (Avro says:
        # ignore it and use the underlying type).
        return self.column_type(kind, namespace, lowcard, where, top)

    def _element(self, avro: Any, namespace: str, lowcard: bool, where: str) -> ColumnType:
        return self.column_type(avro, namespace, lowcard, where, top=False)

    def _union(
        self, members: list[Any], namespace: str, lowcard: bool, where: str, top: bool
    ) -> ColumnType:
        others = [m for m in members if m != "null"]
        if len(others) != 1:
            raise UnsupportedSchemaError(
                f"{where}: union {members!r} has {len(others)} non-null branches; "
                "a column holds one type"
            )
        inner = self.column_type(others[0], namespace, lowcard, where, top)
        return _nullable(inner) if len(others) < len(members) else inner

    def _record(self, avro: Mapping[str, Any], namespace: str, where: str) -> ColumnType:
        parts: list[str] = []
        fields: list[pa.Field] = []
        default: dict[str, Any] = {}
        for f in avro["fields"]:
            name = str(f["name"])
            inner = self.column_type(
                field_type(f, f"{where}.{name}"),
                namespace,
                bool(f.get(LOWCARD)),
                f"{where}.{name}",
                top=False,
            )
            parts.append(f"{quote_identifier(name)} {inner.sql}")
            fields.append(pa.field(name, inner.arrow, nullable=inner.nullable))
            default[name] = inner.default
        return ColumnType(f"Tuple({', '.join(parts)})", pa.struct(fields), default)

    @staticmethod
    def _logical(avro: Mapping[str, Any], logical: str, where: str, top: bool) -> ColumnType | None:
        base = avro.get("type")
        if logical in ("timestamp-millis", "local-timestamp-millis") and base == "long":
            return ColumnType(f"DateTime64(3, '{TIMEZONE}')", pa.timestamp("ms", TIMEZONE), _EPOCH)
        if logical in ("timestamp-micros", "local-timestamp-micros") and base == "long":
            return ColumnType(f"DateTime64(6, '{TIMEZONE}')", pa.timestamp("us", TIMEZONE), _EPOCH)
        if logical == "date" and base == "int":
            return ColumnType("Date32", pa.date32(), dt.date(1970, 1, 1))
        if logical == "decimal" and base in ("bytes", "fixed"):
            precision = int(avro["precision"])
            scale = int(avro.get("scale", 0))
            if precision > 38:
                raise UnsupportedSchemaError(f"{where}: decimal precision {precision} > 38")
            from decimal import Decimal

            return ColumnType(
                f"Decimal({precision}, {scale})", pa.decimal128(precision, scale), Decimal(0)
            )
        if logical == "uuid" and base == "string":
            if not top:
                raise UnsupportedSchemaError(f"{where}: uuid inside a nested type")
            # The decoder yields uuid.UUID objects; stored as their text.
            return ColumnType("String", pa.string(), "", convert=str)
        if logical in ("time-millis", "time-micros"):
            raise UnsupportedSchemaError(f"{where}: {logical} has no column type; use a string")
        return None


def field_type(avro_field: Mapping[str, Any], where: str) -> Any:
    """The field's Avro type, as a timestamp logical type when annotated ``govbus.timestamp``."""
    unit = avro_field.get(TIMESTAMP)
    if unit is None:
        return avro_field["type"]
    logical = _TIMESTAMP_UNITS.get(str(unit))
    if logical is None:
        raise UnsupportedSchemaError(
            f"{where}: {TIMESTAMP} = {unit!r} is not one of {', '.join(_TIMESTAMP_UNITS)}"
        )
    return _with_logical(avro_field["type"], logical, where)


def _with_logical(avro: Any, logical: str, where: str) -> Any:
    if avro == "long":
        return {"type": "long", "logicalType": logical}
    if isinstance(avro, list):
        return [m if m == "null" else _with_logical(m, logical, where) for m in avro]
    if isinstance(avro, Mapping) and avro.get("type") == "long":
        return {**avro, "logicalType": logical}
    raise UnsupportedSchemaError(f"{where}: {TIMESTAMP} needs a long (epoch) field")


def plain_default(avro_field: Mapping[str, Any], column_type: ColumnType) -> Any:
    """The field's Avro default when it is a plain scalar of the column's own kind, else None.

    Only such defaults become a column DEFAULT and a fill value; a timestamp's default is a
    number and a decimal's is bytes, which would mean something else as SQL.
    """
    value = avro_field.get("default")
    arrow = column_type.arrow
    if isinstance(value, bool):
        return value if pa.types.is_boolean(arrow) else None
    if isinstance(value, int):
        return value if pa.types.is_integer(arrow) or pa.types.is_floating(arrow) else None
    if isinstance(value, float):
        return value if pa.types.is_floating(arrow) else None
    if isinstance(value, str):
        return value if pa.types.is_string(arrow) else None
    return None


@dataclass(frozen=True, slots=True)
class FieldColumn:
    """A record field's column before the table spec decides on renames and metadata."""

    field: Mapping[str, Any]
    column: Column


@dataclass(frozen=True)
class RecordColumns:
    """The columns of one Avro record schema's top-level fields, in field order."""

    full_name: str
    items: tuple[FieldColumn, ...] = field(default_factory=tuple)

    def names(self) -> tuple[str, ...]:
        return tuple(item.column.name for item in self.items)


def record_columns(schema: Mapping[str, Any]) -> RecordColumns:
    """Columns for a record schema: one per top-level field, named as the field."""
    if schema.get("type") != "record":
        raise UnsupportedSchemaError("a table derives from an Avro record schema")
    mapper = _Mapper()
    namespace = mapper.names.register(schema, "")
    full_name = f"{namespace}.{schema['name']}".lstrip(".")
    items: list[FieldColumn] = []
    for f in schema["fields"]:
        name = str(f["name"])
        where = f"{full_name}.{name}"
        column_type = mapper.column_type(
            field_type(f, where), namespace, bool(f.get(LOWCARD)), where, top=True
        )
        default = plain_default(f, column_type)
        if default is not None and not column_type.nullable:
            column_type = _with_default(column_type, default)
        items.append(
            FieldColumn(
                f,
                Column(
                    name,
                    column_type,
                    source_field=name,
                    sql_default=None if default is None else quote_literal(default),
                    comment=str(f.get("doc", "")),
                ),
            )
        )
    return RecordColumns(full_name, tuple(items))


def _with_default(column_type: ColumnType, default: Any) -> ColumnType:
    if default is column_type.default:
        return column_type
    return ColumnType(
        column_type.sql,
        column_type.arrow,
        default,
        column_type.nullable,
        column_type.send_as,
        column_type.convert,
    )


def check_unique(columns: Iterable[Column]) -> None:
    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            raise UnsupportedSchemaError(f"two columns named {column.name!r}")
        seen.add(column.name)
