"""Table definitions derived from annotated Avro record schemas: CREATE and ALTER statements.

A table is a ``TableSpec`` (name, schema, kind, key) and nothing else: its columns come from
the schema's fields plus the ingest metadata, so the schema stays the one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

import pyarrow as pa

from sinks.clickhouse.columns import (
    META_COLUMNS,
    Column,
    ColumnType,
    UnsupportedSchemaError,
    check_unique,
    record_columns,
)
from sinks.clickhouse.sql import normalize_type, qualified, quote_identifier, quote_literal

# On a cluster each node holds its shard's replica under this name; the spec's own name is
# the Distributed table that every reader and writer uses, so nothing else changes.
LOCAL_SUFFIX = "_local"
# The usual replication path: one keeper node per shard and table, the replica named by the
# node's own macro.
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
REPLICA_NAME = "{replica}"

# Tokens of this many recent inserts are remembered per table; a retry arrives within seconds,
# so a thousand covers hours of batches at one insert per partition per second.
DEDUP_WINDOW = 1000

_IS_DELETED_TYPE = ColumnType("UInt8", pa.bool_(), False, send_as=pa.uint8())


class TableKind(StrEnum):
    """``profile``: one live row per entity (ReplacingMergeTree, versioned, deletable).
    ``event``: append-only facts (MergeTree, usually partitioned by month)."""

    PROFILE = "profile"
    EVENT = "event"


class TableDefinitionError(ValueError):
    """A TableSpec that cannot become a table (unknown key column, nullable key, ...)."""


@dataclass(frozen=True, eq=False)
class TableSpec:
    """Everything about a table that its schema does not say."""

    name: str
    schema: Mapping[str, Any]
    kind: TableKind
    order_by: tuple[str, ...]
    database: str = "govbus"
    version_column: str = "version"
    deleted_field: str = "deleted"
    is_deleted_column: str = "is_deleted"
    partition_by: str | None = None
    ttl: str | None = None  # a TTL expression: rows older than it are removed
    dedup_window: int = DEDUP_WINDOW
    settings: Mapping[str, str | int] = field(default_factory=dict)
    # A long (epoch ms) or DateTime64 column: when the row's change happened at the source
    # (end-to-end latency is measured from it).
    source_time_column: str | None = None
    title: str = ""

    @property
    def qualified_name(self) -> str:
        return qualified(self.database, self.name)

    @property
    def is_profile(self) -> bool:
        return self.kind is TableKind.PROFILE

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The entity key of a profile table: its sorting key, which ReplacingMergeTree
        deduplicates by."""
        return self.order_by

    @cached_property
    def columns(self) -> tuple[Column, ...]:
        """Record fields in order (``deleted`` becoming ``is_deleted UInt8``), then metadata."""
        record = record_columns(self.schema)
        columns: list[Column] = []
        has_deleted = False
        for item in record.items:
            column = item.column
            if self.is_profile and column.name == self.deleted_field:
                if column.type.sql not in ("Bool", "Nullable(Bool)"):
                    raise TableDefinitionError(
                        f"{self.name}: deletion flag {self.deleted_field!r} must be boolean"
                    )
                column = Column(
                    self.is_deleted_column,
                    _IS_DELETED_TYPE,
                    source_field=self.deleted_field,
                    comment=column.comment,
                )
                has_deleted = True
            columns.append(column)
        if self.is_profile and not has_deleted:
            # Tombstones still need somewhere to say "deleted" when the record has no flag.
            columns.append(
                Column(
                    self.is_deleted_column,
                    _IS_DELETED_TYPE,
                    source_field=self.deleted_field,
                    comment="1 when the entity was deleted at the source.",
                )
            )
        columns.extend(META_COLUMNS)
        try:
            check_unique(columns)
        except UnsupportedSchemaError as exc:
            raise TableDefinitionError(f"{self.name}: {exc}") from None
        self._validate(columns)
        return tuple(columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.type.wire, nullable=c.type.nullable) for c in self.columns]
        )

    def _validate(self, columns: list[Column]) -> None:
        by_name = {c.name: c for c in columns}
        if not self.order_by:
            raise TableDefinitionError(f"{self.name}: order_by is empty")
        for key in self.order_by:
            if key not in by_name:
                raise TableDefinitionError(f"{self.name}: order_by column {key!r} is no field")
            if by_name[key].type.nullable:
                raise TableDefinitionError(f"{self.name}: order_by column {key!r} is nullable")
        if self.source_time_column is not None and self.source_time_column not in by_name:
            raise TableDefinitionError(
                f"{self.name}: source time column {self.source_time_column!r} is no field"
            )
        if self.is_profile:
            version = by_name.get(self.version_column)
            if version is None or version.type.sql not in ("Int32", "Int64"):
                raise TableDefinitionError(
                    f"{self.name}: a profile table needs a non-null int/long "
                    f"{self.version_column!r} field"
                )


def on_cluster(cluster: str | None) -> str:
    """The ``ON CLUSTER`` clause of a statement every node must run, or nothing on one node."""
    return f" ON CLUSTER {quote_identifier(cluster)}" if cluster else ""


def local_table_name(spec: TableSpec) -> str:
    return spec.name + LOCAL_SUFFIX


def create_database_sql(database: str, cluster: str | None = None) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}{on_cluster(cluster)}"


def _engine(spec: TableSpec, cluster: str | None) -> str:
    arguments: list[str] = []
    if cluster:
        arguments += [quote_literal(REPLICA_PATH), quote_literal(REPLICA_NAME)]
    if spec.is_profile:
        arguments += [
            quote_identifier(spec.version_column),
            quote_identifier(spec.is_deleted_column),
        ]
    family = "ReplacingMergeTree" if spec.is_profile else "MergeTree"
    engine = ("Replicated" if cluster else "") + family
    return f"{engine}({', '.join(arguments)})" if arguments else engine


def create_table_sql(spec: TableSpec, cluster: str | None = None) -> str:
    """The table that holds the rows: on one node the spec's table itself; on a cluster the
    replicated ``<name>_local`` on every node, behind the Distributed table of
    ``create_distributed_sql``."""
    body = ",\n".join(f"    {c.definition()}" for c in spec.columns)
    name = qualified(spec.database, local_table_name(spec)) if cluster else spec.qualified_name
    lines = [
        f"CREATE TABLE IF NOT EXISTS {name}{on_cluster(cluster)}",
        "(",
        body,
        ")",
        f"ENGINE = {_engine(spec, cluster)}",
    ]
    if spec.partition_by:
        lines.append(f"PARTITION BY {spec.partition_by}")
    lines.append(f"ORDER BY ({', '.join(quote_identifier(k) for k in spec.order_by)})")
    if spec.ttl:
        lines.append(f"TTL {spec.ttl}")
    # Without its window a table ignores insert_deduplication_token (and with it, an insert
    # without a token is deduplicated by its content hash). A replicated table keeps its
    # window in the keeper, shared by the replicas, so a retry on another replica is caught.
    window = (
        "replicated_deduplication_window" if cluster else "non_replicated_deduplication_window"
    )
    settings: dict[str, str | int] = {window: spec.dedup_window, **spec.settings}
    lines.append("SETTINGS " + ", ".join(f"{k} = {_setting(v)}" for k, v in settings.items()))
    if spec.title:
        lines.append(f"COMMENT {quote_literal(spec.title)}")
    return "\n".join(lines)


def sharding_key(spec: TableSpec) -> str:
    """Rows of one key go to one shard: ReplacingMergeTree collapses versions only within a
    shard, so an entity's versions must meet there for FINAL to leave one row."""
    return f"cityHash64({', '.join(quote_identifier(k) for k in spec.order_by)})"


def create_distributed_sql(spec: TableSpec, cluster: str) -> str:
    """The table under the spec's name on every node: reads fan out to the shards, inserts
    are routed by ``sharding_key``."""
    engine = (
        f"Distributed({quote_identifier(cluster)}, {quote_identifier(spec.database)}, "
        f"{quote_identifier(local_table_name(spec))}, {sharding_key(spec)})"
    )
    lines = [
        f"CREATE TABLE IF NOT EXISTS {spec.qualified_name}{on_cluster(cluster)}",
        f"AS {qualified(spec.database, local_table_name(spec))}",
        f"ENGINE = {engine}",
    ]
    if spec.title:
        lines.append(f"COMMENT {quote_literal(spec.title)}")
    return "\n".join(lines)


def create_table_statements(spec: TableSpec, cluster: str | None = None) -> tuple[str, ...]:
    """What makes the spec's table, in order: one statement on one node; on a cluster the
    replicated local tables, then the Distributed table over them."""
    if not cluster:
        return (create_table_sql(spec),)
    return (create_table_sql(spec, cluster), create_distributed_sql(spec, cluster))


def _setting(value: str | int) -> str:
    return str(value) if isinstance(value, int) else quote_literal(value)


def add_column_statements(
    spec: TableSpec, column: Column, cluster: str | None = None
) -> tuple[str, ...]:
    """A new field's column: on a cluster added to the local tables first, so the Distributed
    table never names a column a shard lacks."""
    names: tuple[str, ...] = (spec.qualified_name,)
    if cluster:
        names = (qualified(spec.database, local_table_name(spec)), spec.qualified_name)
    return tuple(
        f"ALTER TABLE {name}{on_cluster(cluster)} ADD COLUMN IF NOT EXISTS {column.definition()}"
        for name in names
    )


@dataclass(frozen=True, slots=True)
class TypeConflict:
    column: str
    table_type: str
    schema_type: str


@dataclass(frozen=True, slots=True)
class EvolutionPlan:
    """What an existing table lacks compared with its spec."""

    add: tuple[Column, ...]
    conflicts: tuple[TypeConflict, ...]

    @property
    def is_empty(self) -> bool:
        return not self.add and not self.conflicts


def plan_evolution(spec: TableSpec, existing: Mapping[str, str]) -> EvolutionPlan:
    """Compare the spec with the table's ``name -> type`` from ``system.columns``.

    Columns the table has but the schema dropped stay: old rows keep their values and new
    rows get the column's default.
    """
    add: list[Column] = []
    conflicts: list[TypeConflict] = []
    for column in spec.columns:
        current = existing.get(column.name)
        if current is None:
            # A new optional field arrives as Nullable(T), a new defaulted one with DEFAULT.
            add.append(column)
        elif normalize_type(current) != normalize_type(column.type.sql):
            conflicts.append(TypeConflict(column.name, current, column.type.sql))
    return EvolutionPlan(tuple(add), tuple(conflicts))
