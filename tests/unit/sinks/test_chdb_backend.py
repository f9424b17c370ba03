"""The embedded engine honours insert deduplication tokens and read-only connections."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.backend import BackendError
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.schema_manager import SchemaManager
from tests.unit.sinks.samples import finding


def batch(spec: TableSpec, first: int, count: int) -> pa.Table:
    offsets = list(range(first, first + count))
    return ArrowBatchBuilder(spec).build([finding(i) for i in offsets], "q", 0, offsets, 1)


def count(engine: ChdbBackend, spec: TableSpec) -> int:
    return int(engine.query(f"SELECT count() FROM {spec.qualified_name}").rows[0][0])


def test_same_token_keeps_one_copy(engine: ChdbBackend, finding_spec: TableSpec) -> None:
    SchemaManager(engine).ensure_table(finding_spec)
    data = batch(finding_spec, 0, 500)
    assert engine.insert_arrow(finding_spec.qualified_name, data, "q/0/0-499") == 500
    engine.insert_arrow(finding_spec.qualified_name, data, "q/0/0-499")
    assert count(engine, finding_spec) == 500


def test_different_tokens_keep_both(engine: ChdbBackend, finding_spec: TableSpec) -> None:
    SchemaManager(engine).ensure_table(finding_spec)
    data = batch(finding_spec, 0, 500)
    engine.insert_arrow(finding_spec.qualified_name, data, "a")
    engine.insert_arrow(finding_spec.qualified_name, data, "b")
    assert count(engine, finding_spec) == 1000


def test_token_spans_every_part_of_a_multi_partition_insert(
    engine: ChdbBackend, finding_spec: TableSpec
) -> None:
    SchemaManager(engine).ensure_table(finding_spec)
    month = 31 * 24 * 3600 * 1000
    rows = [finding(i) | {"detected_ms": 1_700_000_000_000 + i * month} for i in range(4)]
    data = ArrowBatchBuilder(finding_spec).build(rows, "q", 0, [0, 1, 2, 3], 1)
    engine.insert_arrow(finding_spec.qualified_name, data, "multi")
    engine.insert_arrow(finding_spec.qualified_name, data, "multi")
    assert count(engine, finding_spec) == 4
    partitions = engine.query(
        f"SELECT uniqExact(_partition_id) FROM {finding_spec.qualified_name}"
    ).rows[0][0]
    assert partitions == 4


def test_without_token_identical_content_is_dropped(
    engine: ChdbBackend, finding_spec: TableSpec
) -> None:
    # With the window on, a token-less insert is identified by its content hash instead;
    # the sink always sends a token, so two equal batches from different offsets both land.
    SchemaManager(engine).ensure_table(finding_spec)
    data = batch(finding_spec, 0, 10)
    engine.insert_arrow(finding_spec.qualified_name, data)
    engine.insert_arrow(finding_spec.qualified_name, data)
    assert count(engine, finding_spec) == 10
    engine.insert_arrow(finding_spec.qualified_name, batch(finding_spec, 10, 10))
    assert count(engine, finding_spec) == 20


def test_read_only_connection_reads_but_refuses_writes(
    engine: ChdbBackend, finding_spec: TableSpec
) -> None:
    SchemaManager(engine).ensure_table(finding_spec)
    engine.insert_arrow(finding_spec.qualified_name, batch(finding_spec, 0, 3), "x")
    reader = ChdbBackend(engine.path, read_only=True)
    try:
        assert reader.query(f"SELECT count() FROM {finding_spec.qualified_name}").rows == [(3,)]
        for statement in (
            f"INSERT INTO {finding_spec.qualified_name} (finding_id) VALUES ('z')",
            f"DROP TABLE {finding_spec.qualified_name}",
            f"SELECT 1 FROM {finding_spec.qualified_name} SETTINGS readonly = 0",
        ):
            with pytest.raises(BackendError) as refused:
                reader.execute(statement)
            assert refused.value.code == 164  # READONLY
            assert not refused.value.retryable
    finally:
        reader.close()


def test_query_shapes(engine: ChdbBackend) -> None:
    result = engine.query("SELECT 1 AS a, 'x' AS b")
    assert result.columns == ("a", "b")
    assert result.rows == [(1, "x")]
    assert engine.query_formatted("SELECT 1 AS a", "CSVWithNames") == b'"a"\n1\n'
    assert engine.query_arrow("SELECT number FROM numbers(3)").num_rows == 3


def test_errors_carry_the_server_code(engine: ChdbBackend) -> None:
    with pytest.raises(BackendError) as failed:
        engine.query("SELECT * FROM no_such_db.no_such_table")
    assert failed.value.code == 81  # UNKNOWN_DATABASE
    assert not failed.value.retryable
