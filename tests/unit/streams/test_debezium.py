"""Debezium's own events (the writer schema as the stock PostgreSQL connector registers it)
mapped onto the govbus raw envelope, with the declared column renames."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from streams.stages.debezium import DebeziumMapper, Ignored, is_debezium
from streams.stages.outcomes import Rejected
from topics.annotations import RecordSpec
from topics.cdc import DepartmentTable, department_table
from topics.schemas import row_schema

TABLE = department_table("household.resident")
ROW = RecordSpec.from_avro(row_schema("household.resident"))


def _nullable(avro_type: Any) -> list[Any]:
    return ["null", avro_type]


def _date() -> dict[str, Any]:
    return {"type": "int", "connect.version": 1, "connect.name": "io.debezium.time.Date"}


# As registered by the registry's converter for a table with these columns (taken from the
# real stack: dereferenced Source, Decimal with logicalType, VariableScaleDecimal record).
COLUMNS: list[dict[str, Any]] = [
    {"name": "rybh", "type": "string"},
    {"name": "gmsfhm", "type": _nullable("string"), "default": None},
    {"name": "xm", "type": _nullable("string"), "default": None},
    {"name": "csrq", "type": _nullable(_date()), "default": None},
    {"name": "lxdh", "type": _nullable("string"), "default": None},
    {"name": "djrq", "type": _nullable({"type": "long", "connect.version": 1,
                                         "connect.name": "io.debezium.time.MicroTimestamp"}),
     "default": None},
    {"name": "zt", "type": _nullable({"type": "string", "connect.version": 1,
                                       "connect.parameters": {"allowed": "1,2,3"},
                                       "connect.name": "io.debezium.data.Enum"}),
     "default": None},
    {"name": "fy", "type": _nullable({
        "type": "bytes", "scale": 2, "precision": 10, "connect.version": 1,
        "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"},
        "connect.name": "org.apache.kafka.connect.data.Decimal", "logicalType": "decimal"}),
     "default": None},
    {"name": "jf", "type": _nullable({
        "type": "record", "name": "VariableScaleDecimal", "namespace": "io.debezium.data",
        "fields": [{"name": "scale", "type": "int"}, {"name": "value", "type": "bytes"}],
        "connect.name": "io.debezium.data.VariableScaleDecimal"}), "default": None},
]
SOURCE = {
    "type": "record", "name": "Source", "namespace": "io.debezium.connector.postgresql",
    "connect.name": "io.debezium.connector.postgresql.Source",
    "fields": [
        {"name": "version", "type": "string"}, {"name": "connector", "type": "string"},
        {"name": "name", "type": "string"}, {"name": "ts_ms", "type": "long"},
        {"name": "snapshot", "type": [{"type": "string", "connect.name":
                                       "io.debezium.data.Enum"}, "null"], "default": "false"},
        {"name": "db", "type": "string"},
        {"name": "sequence", "type": ["null", "string"], "default": None},
        {"name": "schema", "type": "string"}, {"name": "table", "type": "string"},
        {"name": "txId", "type": ["null", "long"], "default": None},
        {"name": "lsn", "type": ["null", "long"], "default": None},
    ],
}


def envelope_schema(columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "record", "name": "Envelope", "namespace": "household.public.hj_resident",
        "connect.name": "household.public.hj_resident.Envelope",
        "fields": [
            {"name": "before", "type": ["null", {"type": "record", "name": "Value",
                                                 "fields": columns}], "default": None},
            {"name": "after", "type": ["null", "Value"], "default": None},
            {"name": "source", "type": SOURCE},
            {"name": "op", "type": "string"},
            {"name": "ts_ms", "type": ["null", "long"], "default": None},
        ],
    }


SCHEMA = envelope_schema(COLUMNS)


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {c["name"]: None for c in COLUMNS}
    return {**base, "rybh": "R1", **values}


def event(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
          lsn: int = 26663248, snapshot: str = "false") -> dict[str, Any]:
    """An event as the raw layer decodes it: through Avro, with the writer schema."""
    value = {
        "before": before, "after": after, "op": op, "ts_ms": 1_795_902_110_475,
        "source": {"version": "3.6.1.Final", "connector": "postgresql", "name": "household",
                   "ts_ms": 1_795_902_110_328, "snapshot": snapshot, "db": "household",
                   "sequence": f'[null,"{lsn}"]', "schema": "public", "table": "hj_resident",
                   "txId": 741, "lsn": lsn},
    }
    parsed = fastavro.parse_schema(SCHEMA)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, value)
    buffer.seek(0)
    decoded: dict[str, Any] = fastavro.schemaless_reader(buffer, parsed, None)
    return decoded


@pytest.fixture
def mapper() -> DebeziumMapper:
    return DebeziumMapper(SCHEMA, TABLE, ROW)


def test_a_snapshot_read_becomes_a_govbus_row_under_the_declared_names(
        mapper: DebeziumMapper) -> None:
    mapped = mapper(event("r", None, row(
        gmsfhm="11010519491231002X", xm="张三", csrq=-7306, zt="1",
        djrq=1_704_164_645_123_456, fy=Decimal("12.34"),
        jf={"scale": 5, "value": (314159).to_bytes(3, "big")}), snapshot="last"))
    assert isinstance(mapped, dict)
    assert mapped["op"] == "r" and mapped["before"] is None
    after = mapped["after"]
    assert after["resident_id"] == "R1"
    assert after["id_number"] == "11010519491231002X"
    assert after["name"] == "张三"
    assert after["birth_date"] == "1949-12-31"  # io.debezium.time.Date: days
    assert after["registered_date"] == "2024-01-02 03:04:05.123456"  # MicroTimestamp
    assert after["status"] == "1"  # an enum's label
    assert after["phone"] is None and after["address"] is None  # not in the table: null
    assert set(after) == {f.name for f in ROW.fields}
    assert mapped["source"] == {"dept": "household", "system": ROW.system,
                                "table": ROW.table, "sequence": "26663248",
                                "ts_ms": 1_795_902_110_328, "snapshot": "last"}
    assert mapped["ts_ms"] == 1_795_902_110_475 and mapped["event_id"] == ""
    assert mapper.unmapped == ("fy", "jf")  # columns the govbus row has no field for


def test_updates_and_deletes_keep_both_images_and_order_by_lsn(mapper: DebeziumMapper) -> None:
    update = mapper(event("u", row(lxdh=None), row(lxdh="13900001111"), lsn=9_000_000_001))
    delete = mapper(event("d", row(gmsfhm="110105491231002"), None, lsn=10_000_000_000))
    assert isinstance(update, dict) and isinstance(delete, dict)
    assert update["before"]["phone"] is None and update["after"]["phone"] == "13900001111"
    assert delete["after"] is None and delete["before"]["id_number"] == "110105491231002"
    # Digits: the profile order compares them as numbers ("9..." < "10..." as text is not).
    assert update["source"]["sequence"] == "9000000001"
    assert delete["source"]["sequence"] == "10000000000"


def test_tombstones_truncates_messages_and_heartbeats_are_ignored_with_a_reason(
        mapper: DebeziumMapper) -> None:
    assert mapper(None) == Ignored("debezium.tombstone")
    assert mapper({"op": "t", "before": None, "after": None, "source": {}}) == Ignored(
        "debezium.truncate")
    assert mapper({"op": "m", "source": {}}) == Ignored("debezium.message")
    heartbeat = {"type": "record", "name": "Heartbeat", "namespace": "io.debezium.connector.common",
                 "connect.name": "io.debezium.connector.common.Heartbeat",
                 "fields": [{"name": "ts_ms", "type": "long"}]}
    assert is_debezium(heartbeat)
    assert DebeziumMapper(heartbeat, TABLE, ROW)({"ts_ms": 1}) == Ignored("debezium.heartbeat")
    rejected = mapper({"op": "x", "source": {}})
    assert isinstance(rejected, Rejected) and rejected.reason_code == "debezium.unknown_op"


def test_decimals_and_times_keep_every_digit() -> None:
    columns = [
        {"name": "rybh", "type": "string"},
        {"name": "fy", "type": _nullable({"type": "bytes", "connect.name":
                                          "org.apache.kafka.connect.data.Decimal",
                                          "connect.parameters": {"scale": "2"}})},
        {"name": "jf", "type": _nullable({"type": "record", "name": "VariableScaleDecimal",
                                          "namespace": "io.debezium.data",
                                          "connect.name": "io.debezium.data.VariableScaleDecimal",
                                          "fields": [{"name": "scale", "type": "int"},
                                                     {"name": "value", "type": "bytes"}]})},
        {"name": "djrq", "type": _nullable({"type": "long", "connect.name":
                                            "io.debezium.time.NanoTimestamp"})},
        {"name": "csrq", "type": _nullable({"type": "long", "connect.name":
                                            "io.debezium.time.MicroTime"})},
    ]
    table = DepartmentTable("household.resident", "household", "hj_resident", ("rybh",),
                            renames={"rybh": "resident_id", "fy": "address", "jf": "ethnicity",
                                     "djrq": "registered_date", "csrq": "birth_date"})
    mapper = DebeziumMapper(envelope_schema(columns), table, ROW)
    mapped = mapper.map_row({
        "rybh": "R1",
        "fy": (-1234).to_bytes(2, "big", signed=True),  # bytes without logicalType
        "jf": {"scale": 12, "value": (1).to_bytes(1, "big")},
        "djrq": -1,  # one nanosecond before the epoch
        "csrq": (13 * 3600 + 5 * 60 + 7) * 1_000_000 + 250_000,
    })
    assert mapped is not None
    assert mapped["address"] == "-12.34"
    assert mapped["ethnicity"] == "0.000000000001"  # never 1E-12
    assert mapped["registered_date"] == "1969-12-31 23:59:59.999999999"
    assert mapped["birth_date"] == "13:05:07.25"


def test_a_table_without_a_required_field_is_rejected_per_event() -> None:
    columns = [{"name": "gmsfhm", "type": _nullable("string")}]
    table = DepartmentTable("household.resident", "household", "hj_resident", ("gmsfhm",),
                            renames={"gmsfhm": "id_number"})
    mapped = DebeziumMapper(envelope_schema(columns), table, ROW)(
        {"op": "c", "before": None, "after": {"gmsfhm": "x"}, "source": {}})
    assert isinstance(mapped, Rejected) and mapped.reason_code == "debezium.missing_field"
    assert "resident_id" in mapped.detail


def test_the_key_is_mapped_onto_the_govbus_key(mapper: DebeziumMapper) -> None:
    assert mapper.map_key({"rybh": "R7"}) == {"resident_id": "R7"}
    assert is_debezium(SCHEMA)
    assert not is_debezium(row_schema("household.resident"))
