"""Decoded records -> Arrow tables typed exactly as the DDL, built column-wise."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from sinks.clickhouse.arrow_batch import ArrowBatchBuilder, BatchConversionError
from sinks.clickhouse.ddl import TableSpec
from tests.unit.sinks.samples import PROFILE_SCHEMA, finding, profile
from topics.schemas import schema_text
from topics.serde import AvroDecoder, AvroEncoder


def test_schema_equals_the_ddl_columns(profile_spec: TableSpec) -> None:
    table = ArrowBatchBuilder(profile_spec).build([profile("p1", 1)], "theme.person", 2, [7], 5)
    assert table.schema == profile_spec.arrow_schema
    assert table.column_names == [c.name for c in profile_spec.columns]
    assert table.schema.field("is_deleted").type == pa.uint8()


def test_decoded_avro_values_convert(profile_spec: TableSpec) -> None:
    # Values as the wire decoder yields them (datetime, date), not hand-made ones.
    encoder = AvroEncoder(PROFILE_SCHEMA, 1)
    decoder = AvroDecoder(lambda _id: schema_text(PROFILE_SCHEMA))
    record = decoder.decode(encoder.encode(profile("p1", 3)))
    row = ArrowBatchBuilder(profile_spec).build([record], "t", 0, [0], 1).to_pylist()[0]
    assert row["updated_ms"] == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
    assert row["licences"] == [
        {"licence_key": "L1", "kind": "driving", "valid_until": dt.date(2030, 1, 1)}
    ]
    assert row["attributes"] == [("status", "正常")]
    assert row["is_deleted"] == 0
    assert row["version"] == 3


def test_missing_values_get_defaults_and_nullables_stay_null(profile_spec: TableSpec) -> None:
    sparse = {"person_key": "p2", "version": 1, "deleted": True, "updated_ms": None}
    row = ArrowBatchBuilder(profile_spec).build([sparse], "t", 0, [0], 1).to_pylist()[0]
    assert row["is_deleted"] == 1
    assert row["name_masked"] is None
    assert row["division_code"] == ""
    assert row["updated_ms"] == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert row["source_depts"] == []
    assert row["attributes"] == []
    assert row["licences"] == []
    assert row["score"] is None


def test_metadata_columns(finding_spec: TableSpec) -> None:
    table = ArrowBatchBuilder(finding_spec).build(
        [finding(1), finding(2)], "quality.finding", 3, [10, 11], 1_700_000_000_123
    )
    assert table.column("_topic").to_pylist() == ["quality.finding"] * 2
    assert table.column("_partition").to_pylist() == [3, 3]
    assert table.column("_offset").to_pylist() == [10, 11]
    stamp = dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC)
    assert table.column("_ingested_ms").to_pylist() == [stamp, stamp]


def test_same_input_builds_the_same_table(finding_spec: TableSpec) -> None:
    builder = ArrowBatchBuilder(finding_spec)
    rows = [finding(i) for i in range(100)]
    first = builder.build(rows, "q", 0, list(range(100)), 42)
    second = builder.build([dict(r) for r in rows], "q", 0, list(range(100)), 42)
    assert first.equals(second)


def test_a_value_of_the_wrong_type_names_its_column(finding_spec: TableSpec) -> None:
    bad = finding(1) | {"detected_ms": "yesterday"}
    with pytest.raises(BatchConversionError, match="detected_ms"):
        ArrowBatchBuilder(finding_spec).build([bad], "q", 0, [0], 1)


def test_ten_thousand_findings_build_into_one_table(finding_spec: TableSpec) -> None:
    # Its speed is `govbus bench sink`'s to measure, beside a bare loop of the same run.
    rows = [finding(i) for i in range(10_000)]
    table = ArrowBatchBuilder(finding_spec).build(rows, "q", 0, list(range(10_000)), 1)
    assert table.num_rows == 10_000
