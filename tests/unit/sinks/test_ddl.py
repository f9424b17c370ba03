"""Column types, table DDL and the evolution diff, all derived from Avro record schemas."""

from __future__ import annotations

import copy
from typing import Any

import pyarrow as pa
import pytest

from sinks.clickhouse.columns import UnsupportedSchemaError, record_columns
from sinks.clickhouse.ddl import (
    TableDefinitionError,
    TableKind,
    TableSpec,
    create_table_sql,
    plan_evolution,
)
from tests.unit.sinks.samples import PROFILE_SCHEMA


def one_field(avro_type: Any, **annotations: Any) -> dict[str, Any]:
    return {
        "type": "record",
        "name": "R",
        "namespace": "t",
        "fields": [{"name": "f", "type": avro_type, **annotations}],
    }


def sql_type(avro_type: Any, **annotations: Any) -> str:
    return record_columns(one_field(avro_type, **annotations)).items[0].column.type.sql


@pytest.mark.parametrize(
    ("avro_type", "expected"),
    [
        ("string", "String"),
        ("bytes", "String"),
        ("int", "Int32"),
        ("long", "Int64"),
        ("float", "Float32"),
        ("double", "Float64"),
        ("boolean", "Bool"),
        ({"type": "long", "logicalType": "timestamp-millis"}, "DateTime64(3, 'UTC')"),
        ({"type": "long", "logicalType": "timestamp-micros"}, "DateTime64(6, 'UTC')"),
        ({"type": "int", "logicalType": "date"}, "Date32"),
        (
            {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
            "Decimal(12, 2)",
        ),
        ({"type": "string", "logicalType": "uuid"}, "String"),
        ({"type": "fixed", "name": "F4", "size": 4}, "FixedString(4)"),
        ({"type": "enum", "name": "E", "symbols": ["a", "b"]}, "LowCardinality(String)"),
        (["null", "string"], "Nullable(String)"),
        (["null", "long"], "Nullable(Int64)"),
        (["string", "null"], "Nullable(String)"),
        (
            ["null", {"type": "long", "logicalType": "timestamp-millis"}],
            "Nullable(DateTime64(3, 'UTC'))",
        ),
        (
            ["null", {"type": "enum", "name": "E", "symbols": ["a"]}],
            "LowCardinality(Nullable(String))",
        ),
        ({"type": "array", "items": "string"}, "Array(String)"),
        (["null", {"type": "array", "items": "string"}], "Array(String)"),
        ({"type": "array", "items": ["null", "long"]}, "Array(Nullable(Int64))"),
        ({"type": "map", "values": "long"}, "Map(String, Int64)"),
        (["null", {"type": "map", "values": "string"}], "Map(String, String)"),
        (
            {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Item",
                    "fields": [
                        {"name": "a", "type": "string"},
                        {"name": "b", "type": ["null", "int"]},
                    ],
                },
            },
            "Array(Tuple(`a` String, `b` Nullable(Int32)))",
        ),
        (
            {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "double"}]},
            "Tuple(`x` Float64)",
        ),
    ],
)
def test_avro_types_map_to_clickhouse_types(avro_type: Any, expected: str) -> None:
    assert sql_type(avro_type) == expected


def test_lowcard_annotation_on_strings_and_string_arrays() -> None:
    assert sql_type("string", **{"govbus.lowcard": True}) == "LowCardinality(String)"
    assert (
        sql_type(["null", "string"], **{"govbus.lowcard": True})
        == "LowCardinality(Nullable(String))"
    )
    assert (
        sql_type({"type": "array", "items": "string"}, **{"govbus.lowcard": True})
        == "Array(LowCardinality(String))"
    )


def test_named_types_resolve_on_second_use() -> None:
    enum = {"type": "enum", "name": "Kind", "symbols": ["a"]}
    schema = {
        "type": "record",
        "name": "R",
        "namespace": "t",
        "fields": [{"name": "first", "type": enum}, {"name": "second", "type": "Kind"}],
    }
    types = [i.column.type.sql for i in record_columns(schema).items]
    assert types == ["LowCardinality(String)", "LowCardinality(String)"]


@pytest.mark.parametrize(
    "avro_type",
    [["string", "long"], ["null", "string", "long"], {"type": "int", "logicalType": "time-millis"}],
)
def test_types_without_a_column_are_refused(avro_type: Any) -> None:
    with pytest.raises(UnsupportedSchemaError):
        sql_type(avro_type)


def test_arrow_types_match_the_columns() -> None:
    columns = {i.column.name: i.column.type for i in record_columns(PROFILE_SCHEMA).items}
    assert columns["updated_ms"].arrow == pa.timestamp("ms", "UTC")
    assert columns["licences"].arrow == pa.list_(
        pa.struct(
            [
                pa.field("licence_key", pa.string(), nullable=False),
                pa.field("kind", pa.string(), nullable=False),
                pa.field("valid_until", pa.date32()),
            ]
        )
    )
    assert columns["attributes"].arrow == pa.map_(pa.string(), pa.string())


def test_profile_table_ddl(profile_spec: TableSpec) -> None:
    sql = create_table_sql(profile_spec)
    assert f"CREATE TABLE IF NOT EXISTS `{profile_spec.database}`.`person_profile`" in sql
    assert "ENGINE = ReplacingMergeTree(`version`, `is_deleted`)" in sql
    assert "ORDER BY (`person_key`)" in sql
    assert "non_replicated_deduplication_window = 1000" in sql
    assert "PARTITION BY" not in sql
    names = [c.name for c in profile_spec.columns]
    # The deletion flag keeps its place but becomes the engine's UInt8 column.
    assert names[:3] == ["person_key", "version", "is_deleted"]
    assert profile_spec.column("is_deleted").type.sql == "UInt8"
    assert profile_spec.column("is_deleted").source_field == "deleted"
    assert names[-5:] == ["_topic", "_partition", "_offset", "_ingested_ms", "_batch"]
    assert "`_topic` LowCardinality(String)" in sql
    assert "`_ingested_ms` DateTime64(3, 'UTC')" in sql


def test_event_table_ddl(finding_spec: TableSpec) -> None:
    sql = create_table_sql(finding_spec)
    assert "ENGINE = MergeTree\n" in sql
    assert "PARTITION BY toYYYYMM(fromUnixTimestamp64Milli(`detected_ms`, 'UTC'))" in sql
    assert "`field` String DEFAULT ''" in sql  # the Avro default
    assert "is_deleted" not in sql


def test_profile_without_deleted_flag_still_gets_is_deleted() -> None:
    schema = copy.deepcopy(PROFILE_SCHEMA)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "deleted"]
    spec = TableSpec("p", schema, TableKind.PROFILE, ("person_key",))
    assert spec.column("is_deleted").type.sql == "UInt8"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"order_by": ("nope",)}, "is no field"),
        ({"order_by": ("name_masked",)}, "nullable"),
        ({"version_column": "score"}, "int/long"),
        ({"order_by": ()}, "empty"),
    ],
)
def test_invalid_specs_are_refused(changes: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"order_by": ("person_key",), **changes}
    spec = TableSpec("p", PROFILE_SCHEMA, TableKind.PROFILE, **options)
    with pytest.raises(TableDefinitionError, match=message):
        _ = spec.columns


def test_a_field_clashing_with_ingest_metadata_is_refused() -> None:
    schema = one_field("string")
    schema["fields"].append({"name": "_offset", "type": "long"})
    with pytest.raises(TableDefinitionError, match="_offset"):
        _ = TableSpec("x", schema, TableKind.EVENT, ("f",)).columns


def test_evolution_adds_new_optional_field_as_nullable(profile_spec: TableSpec) -> None:
    existing = {c.name: c.type.sql for c in profile_spec.columns}
    schema = copy.deepcopy(PROFILE_SCHEMA)
    schema["fields"].append({"name": "nickname", "type": ["null", "string"], "default": None})
    schema["fields"].append({"name": "level", "type": "int", "default": 3})
    newer = TableSpec("person_profile", schema, TableKind.PROFILE, ("person_key",))
    plan = plan_evolution(newer, existing)
    assert [(c.name, c.type.sql, c.sql_default) for c in plan.add] == [
        ("nickname", "Nullable(String)", None),
        ("level", "Int32", "3"),
    ]
    assert plan.conflicts == ()


def test_evolution_ignores_server_formatting_and_reports_real_changes(
    profile_spec: TableSpec,
) -> None:
    existing = {c.name: c.type.sql for c in profile_spec.columns}
    existing["licences"] = (
        "Array(Tuple(\n    licence_key String,\n    kind LowCardinality(String),\n"
        "    valid_until Nullable(Date32)))"
    )
    existing["score"] = "Nullable(Float32)"
    plan = plan_evolution(profile_spec, existing)
    assert plan.add == ()
    assert [(c.column, c.table_type, c.schema_type) for c in plan.conflicts] == [
        ("score", "Nullable(Float32)", "Nullable(Float64)")
    ]
