"""Debezium's own change events mapped onto the govbus raw envelope the standardize stage reads.

Pure: a decoded Debezium event (its Envelope: before/after rows with the department's column
names and Debezium's logical types, its ``source`` block, op, ts_ms) in, the govbus raw
envelope (the row under govbus field names and types, ``source`` with dept/system/table and
``sequence``) out, or a counted reason it was ignored, or a rejection. No Kafka, no registry:
the runtime hands in the writer schema it decoded with, and compiles one mapper per schema id.

- Logical types are read from the writer schema's ``connect.name``: ``io.debezium.time.Date``
  (days), ``Timestamp``/``MicroTimestamp``/``NanoTimestamp`` (epoch ms/us/ns, no zone),
  ``ZonedTimestamp`` (ISO text), ``Time``/``MicroTime``/``NanoTime``, Kafka Connect's
  ``Decimal`` (bytes with a scale, or a Decimal when the schema carries ``logicalType``),
  ``VariableScaleDecimal`` ({scale, value}) and ``Enum`` (the label). Each becomes the govbus
  field's type: text in the notation the rules read (ISO dates, ``YYYY-MM-DD HH:MM:SS.ffffff``,
  plain decimals, never an exponent), or a number.
- Column renames come from the department table's declaration, not from code; columns the
  govbus row does not have are left out (and listed by ``unmapped``).
- Order: ``source.sequence`` is the change's LSN as digits, which the profile order compares
  as a number (Debezium's own ``sequence`` is a JSON pair of LSNs, text that misorders).
- Ignored, with a reason to count: tombstones (the delete before them says it all),
  truncates (``op=t``), logical-decoding messages (``op=m``) and heartbeats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from streams.stages.outcomes import Rejected
from topics.annotations import RecordSpec
from topics.cdc import DepartmentTable

EPOCH_DAY = date(1970, 1, 1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CONNECT_NAME = "connect.name"
_OPS = frozenset({"c", "u", "d", "r"})

Value = Any
Converter = Callable[[Value], Value]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A Debezium event the raw layer deliberately does not standardize; counted by reason."""

    reason: str  # debezium.tombstone | debezium.truncate | debezium.message | debezium.heartbeat


class MappingError(ValueError):
    """A Debezium value that does not fit the govbus field: the event is rejected."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(detail)
        self.reason_code = reason_code
        self.detail = detail


def is_debezium(writer_schema: Mapping[str, Any]) -> bool:
    """True for the value schemas Debezium writes (its envelope or its heartbeat)."""
    name = str(writer_schema.get(CONNECT_NAME) or writer_schema.get("name", ""))
    if name.endswith("Heartbeat") and name.startswith("io.debezium"):
        return True
    source = _field(writer_schema, "source")
    return source is not None and str(_branch(source["type"]).get(CONNECT_NAME, "")).startswith(
        "io.debezium.connector.")


class DebeziumMapper:
    """Maps the events of one writer schema of one department table; build once per id."""

    def __init__(self, writer_schema: Mapping[str, Any], table: DepartmentTable,
                 row: RecordSpec) -> None:
        self.heartbeat = str(writer_schema.get(CONNECT_NAME, "")).endswith("Heartbeat")
        self.row = row
        self.dept, self.system, self.govbus_table = row.dept, row.system, row.table
        columns = {} if self.heartbeat else _row_columns(writer_schema)
        targets = {f.name: f for f in row.fields}
        self.columns: dict[str, tuple[str, Converter]] = {}
        self.unmapped: tuple[str, ...] = tuple(
            sorted(c for c in columns if table.field_of(c) not in targets))
        for column, avro_type in columns.items():
            field_name = table.field_of(column)
            if field_name in targets:
                self.columns[column] = (
                    field_name, _converter(column, avro_type, targets[field_name].avro_type))
        carried = {name for name, _ in self.columns.values()}
        self.missing_required = tuple(
            f.name for f in row.fields if f.name not in carried and not f.nullable)
        self.key_columns = tuple((column, table.field_of(column)) for column in table.key)

    def __call__(self, event: Mapping[str, Any] | None) -> dict[str, Any] | Ignored | Rejected:
        if self.heartbeat:
            return Ignored("debezium.heartbeat")
        if event is None:
            return Ignored("debezium.tombstone")
        op = event.get("op")
        if op == "t":
            return Ignored("debezium.truncate")
        if op == "m":
            return Ignored("debezium.message")
        if op not in _OPS:
            return Rejected("debezium.unknown_op", f"op {op!r}", exception_class="MappingError")
        try:
            before, after = self.map_row(event.get("before")), self.map_row(event.get("after"))
        except MappingError as exc:
            return Rejected(exc.reason_code, exc.detail, exception_class="MappingError")
        source = event.get("source") or {}
        lsn = source.get("lsn")
        return {
            "before": before,
            "after": after,
            "source": {
                "dept": self.dept,
                "system": self.system,
                "table": self.govbus_table,
                "sequence": None if lsn is None else str(lsn),
                "ts_ms": int(source.get("ts_ms") or 0),
                "snapshot": source.get("snapshot", "false"),
            },
            "op": op,
            "ts_ms": event.get("ts_ms"),
            "event_id": "",  # the runtime names it by its topic position
        }

    def map_row(self, image: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """One row image under govbus field names and types (None stays None)."""
        if image is None:
            return None
        if self.missing_required:
            raise MappingError("debezium.missing_field",
                               f"the table has no column for {', '.join(self.missing_required)}")
        row: dict[str, Any] = {f.name: None for f in self.row.fields}
        for column, (field_name, convert) in self.columns.items():
            value = image.get(column)
            row[field_name] = None if value is None else convert(value)
        return row

    def map_key(self, key: Mapping[str, Any]) -> dict[str, Any]:
        """Debezium's key record (the table's primary key) under govbus field names; the std
        and fact outputs are keyed by the govbus key schema, not Debezium's."""
        try:
            return {field: self.columns[column][1](key[column]) if column in self.columns
                    else _as_text(key[column]) for column, field in self.key_columns}
        except KeyError as exc:
            raise MappingError("debezium.key", f"the key has no column {exc.args[0]}") from None


# ---------------------------------------------------------------- writer schema


def _field(record: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    return next((f for f in record.get("fields", ()) if f["name"] == name), None)


def _branch(avro_type: Any) -> Mapping[str, Any]:
    """The non-null branch of a union, as a mapping ({"type": name} for a plain type)."""
    if isinstance(avro_type, list):
        avro_type = next(t for t in avro_type if t != "null")
    return avro_type if isinstance(avro_type, Mapping) else {"type": avro_type}


def _row_columns(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The table's columns and their Avro types, from the envelope's before (or after)."""
    for name in ("before", "after"):
        image = _field(envelope, name)
        if image is not None and "fields" in _branch(image["type"]):
            return {f["name"]: f["type"] for f in _branch(image["type"])["fields"]}
    raise MappingError("debezium.schema", "the envelope declares no row record")


# ---------------------------------------------------------------- values


def _converter(column: str, source_type: Any, target_type: Any) -> Converter:
    """Debezium's value of this column -> the govbus field's type."""
    source = _branch(source_type)
    target = _branch(target_type)["type"]
    read = _reader(source)
    write = _writer(target)

    def convert(value: Value) -> Value:
        try:
            return write(read(value))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise MappingError("debezium.type_mismatch",
                               f"{column}: {value!r} does not fit {target}: {exc}") from None

    return convert


def _reader(source: Mapping[str, Any]) -> Converter:
    """Debezium's wire value -> a Python value (date, datetime text, Decimal, ...)."""
    logical = str(source.get(CONNECT_NAME, ""))
    if logical == "io.debezium.time.Date":
        return lambda days: EPOCH_DAY + timedelta(days=int(days))
    if logical in _EPOCH_DIGITS:
        digits = _EPOCH_DIGITS[logical]
        return lambda ticks: _timestamp_text(int(ticks), digits)
    if logical in _TIME_DIGITS:
        digits = _TIME_DIGITS[logical]
        return lambda ticks: _time_text(int(ticks), digits)
    if logical == "org.apache.kafka.connect.data.Decimal":
        scale = int((source.get("connect.parameters") or {}).get("scale", source.get("scale", 0)))
        return lambda v: v if isinstance(v, Decimal) else _unscaled(v, scale)
    if logical == "io.debezium.data.VariableScaleDecimal":
        return lambda v: _unscaled(v["value"], int(v["scale"]))
    return lambda v: v


_EPOCH_DIGITS = {
    "io.debezium.time.Timestamp": 3,
    "io.debezium.time.MicroTimestamp": 6,
    "io.debezium.time.NanoTimestamp": 9,
}
_TIME_DIGITS = {
    "io.debezium.time.Time": 3,
    "io.debezium.time.MicroTime": 6,
    "io.debezium.time.NanoTime": 9,
}


def _unscaled(raw: bytes, scale: int) -> Decimal:
    return Decimal(int.from_bytes(raw, "big", signed=True)).scaleb(-scale)


def _fraction(fraction: int, digits: int) -> str:
    text = f"{fraction:0{digits}d}".rstrip("0")
    return f".{text}" if text else ""


def _timestamp_text(ticks: int, digits: int) -> str:
    """Epoch ticks of a zone-less timestamp as the database showed it, to the last digit."""
    seconds, fraction = divmod(ticks, 10**digits)
    moment = EPOCH + timedelta(seconds=seconds)
    return moment.replace(tzinfo=None).isoformat(sep=" ") + _fraction(fraction, digits)


def _time_text(ticks: int, digits: int) -> str:
    seconds, fraction = divmod(ticks, 10**digits)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}" + _fraction(fraction, digits)


def _writer(target: Any) -> Converter:
    """A Python value -> the govbus field's Avro type."""
    if target == "string":
        return _as_text
    if target in ("double", "float"):
        return lambda v: float(v)
    if target in ("int", "long"):
        return _as_integer
    if target == "boolean":
        return lambda v: v if isinstance(v, bool) else _refuse(v, "a boolean")
    return lambda v: v


def _as_text(value: Value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    return _refuse(value, "text")


def _as_integer(value: Value) -> int:
    if isinstance(value, bool):
        return _refuse(value, "an integer")
    number = Decimal(value) if isinstance(value, str) else value
    if isinstance(number, Decimal | float) and number != int(number):
        return _refuse(value, "an integer")
    return int(number)


def _refuse(value: Value, what: str) -> NoReturn:
    raise TypeError(f"{type(value).__name__} is not {what}")
