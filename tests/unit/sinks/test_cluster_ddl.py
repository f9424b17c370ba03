"""The DDL for a ClickHouse cluster: ON CLUSTER, Replicated engines, Distributed tables.

No cluster runs here; the statements are checked by what they say and parsed by the real
engine's own SQL parser (``formatQuery``), which rejects what a server would not accept.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from sinks.clickhouse.backend import QueryResult
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import (
    TableSpec,
    add_column_statements,
    create_database_sql,
    create_table_statements,
)
from sinks.clickhouse.schema_manager import SchemaManager
from sinks.clickhouse.sql import quote_literal

CLUSTER = "govbus_cluster"


def test_one_node_makes_one_plain_table(profile_spec: TableSpec) -> None:
    (statement,) = create_table_statements(profile_spec)
    assert "ON CLUSTER" not in statement
    assert "ENGINE = ReplacingMergeTree(`version`, `is_deleted`)" in statement
    assert "non_replicated_deduplication_window" in statement
    assert create_database_sql(profile_spec.database).endswith(f"`{profile_spec.database}`")


def test_profile_table_on_a_cluster_is_replicated_behind_a_distributed_table(
    profile_spec: TableSpec,
) -> None:
    db = profile_spec.database
    local, distributed = create_table_statements(profile_spec, CLUSTER)
    assert local.startswith(
        f"CREATE TABLE IF NOT EXISTS `{db}`.`person_profile_local` ON CLUSTER `{CLUSTER}`"
    )
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
        "'{replica}', `version`, `is_deleted`)"
    ) in local
    # The deduplication window that counts on a replicated table, shared by its replicas.
    assert "replicated_deduplication_window = 1000" in local
    assert "non_replicated" not in local
    assert distributed.splitlines() == [
        f"CREATE TABLE IF NOT EXISTS `{db}`.`person_profile` ON CLUSTER `{CLUSTER}`",
        f"AS `{db}`.`person_profile_local`",
        f"ENGINE = Distributed(`{CLUSTER}`, `{db}`, `person_profile_local`, "
        "cityHash64(`person_key`))",
    ]


def test_event_table_on_a_cluster_keeps_partitioning_and_shards_by_its_key(
    finding_spec: TableSpec,
) -> None:
    local, distributed = create_table_statements(finding_spec, CLUSTER)
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
        "'{replica}')"
    ) in local
    assert "PARTITION BY toYYYYMM(" in local
    assert "ORDER BY (`dept`, `detected_ms`, `finding_id`)" in local
    assert "cityHash64(`dept`, `detected_ms`, `finding_id`)" in distributed


def test_database_is_made_on_every_node(profile_spec: TableSpec) -> None:
    assert create_database_sql(profile_spec.database, CLUSTER) == (
        f"CREATE DATABASE IF NOT EXISTS `{profile_spec.database}` ON CLUSTER `{CLUSTER}`"
    )


def test_a_new_column_reaches_the_local_tables_before_the_distributed_one(
    profile_spec: TableSpec,
) -> None:
    column = profile_spec.column("version")
    local, distributed = add_column_statements(profile_spec, column, CLUSTER)
    assert local.startswith(
        f"ALTER TABLE `{profile_spec.database}`.`person_profile_local` ON CLUSTER `{CLUSTER}` "
        "ADD COLUMN IF NOT EXISTS `version`"
    )
    assert distributed.startswith(
        f"ALTER TABLE `{profile_spec.database}`.`person_profile` ON CLUSTER `{CLUSTER}` "
        "ADD COLUMN IF NOT EXISTS `version`"
    )
    (single,) = add_column_statements(profile_spec, column)
    assert "ON CLUSTER" not in single


@pytest.mark.parametrize("spec_name", ["profile_spec", "finding_spec"])
def test_the_engine_parses_every_cluster_statement(
    engine: ChdbBackend, request: pytest.FixtureRequest, spec_name: str
) -> None:
    spec: TableSpec = request.getfixturevalue(spec_name)
    statements = (
        create_database_sql(spec.database, CLUSTER),
        *create_table_statements(spec, CLUSTER),
        *add_column_statements(spec, spec.columns[0], CLUSTER),
    )
    for statement in statements:
        formatted = engine.query(f"SELECT formatQuery({quote_literal(statement)})").rows
        assert "ON CLUSTER" in str(formatted[0][0])


class _RecordingBackend:
    """Records the DDL; the column lookups answer ``columns`` once a table exists."""

    def __init__(self, columns: dict[str, str], exists: bool) -> None:
        self.columns = columns
        self.existing = columns if exists else {}
        self.executed: list[str] = []

    def execute(self, sql: str) -> None:
        self.executed.append(sql)
        if sql.startswith("CREATE TABLE"):
            self.existing = self.columns

    def query(self, sql: str) -> QueryResult:
        return QueryResult(("name", "type"), [(k, v) for k, v in self.existing.items()])


def test_schema_manager_creates_and_evolves_on_the_cluster(profile_spec: TableSpec) -> None:
    current = {c.name: c.type.sql for c in profile_spec.columns}
    backend = _RecordingBackend(current, exists=False)
    SchemaManager(backend, CLUSTER).ensure_table(profile_spec)  # type: ignore[arg-type]
    assert backend.executed[0] == create_database_sql(profile_spec.database, CLUSTER)
    assert tuple(backend.executed[1:]) == create_table_statements(profile_spec, CLUSTER)

    schema = copy.deepcopy(dict(profile_spec.schema))
    schema["fields"].append({"name": "nickname", "type": ["null", "string"], "default": None})
    evolved = replace(profile_spec, schema=schema)
    backend = _RecordingBackend(current, exists=True)
    plan = SchemaManager(backend, CLUSTER).ensure_table(evolved)  # type: ignore[arg-type]
    assert [c.name for c in plan.add] == ["nickname"]
    assert tuple(backend.executed[1:]) == add_column_statements(
        evolved, evolved.column("nickname"), CLUSTER
    )
