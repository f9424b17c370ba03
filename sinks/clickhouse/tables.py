"""The theme library tables, derived from the topic catalog and its schemas.

- ``theme_<category>``: one per theme category (individual, organization, thing, event), the
  current 360 profiles: ReplacingMergeTree(version, is_deleted) ordered by the entity key
  (the field annotated ``govbus.entity_key``); ``FINAL`` shows one live row per entity.
- ``facts``: every fact topic, append-only MergeTree partitioned by month of source time.
- ``quality_findings``: the quality topic, append-only MergeTree partitioned by month.
- ``subscriptions``: the subscriptions topic, one live row per subscription (``FINAL``).
- ``resource_catalog``: the published resource catalog, one live row per resource code
  (``FINAL``; a withdrawn resource's tombstone deletes it).

Names of topics come from the catalog, columns from the schemas; nothing here repeats them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sinks.clickhouse.columns import record_columns
from sinks.clickhouse.ddl import TableKind, TableSpec
from sinks.clickhouse.sql import quote_identifier
from topics.annotations import ENTITY_KEY, Category
from topics.catalog import Catalog, Topic

PROFILE_PREFIX = "theme_"
FACTS_TABLE = "facts"
QUALITY_TABLE = "quality_findings"
AUDIT_TABLE = "audit"
SUBSCRIPTIONS_TABLE = "subscriptions"
RESOURCE_CATALOG_TABLE = "resource_catalog"

# Contract fields every theme, fact and quality record carries (see their schemas).
SOURCE_TIME = "source_ts_ms"
DETECTED_TIME = "detected_ms"


class CatalogSchemaError(ValueError):
    """A catalog schema lacks what its table needs (an entity key, a time field)."""


@dataclass(frozen=True, eq=False)
class SinkTable:
    """A table and the topics that feed it."""

    spec: TableSpec
    topics: tuple[str, ...]


def entity_key_field(schema: Mapping[str, Any]) -> str:
    """The one field annotated ``govbus.entity_key``."""
    keys = [str(f["name"]) for f in schema["fields"] if f.get(ENTITY_KEY)]
    if len(keys) != 1:
        raise CatalogSchemaError(
            f"{schema.get('name')}: needs exactly one field annotated {ENTITY_KEY}, has {keys}"
        )
    return keys[0]


def time_expression(schema: Mapping[str, Any], field: str) -> str:
    """SQL giving a DateTime64 for a time field: the column itself when it is stored as one
    (annotated ``govbus.timestamp``), else the epoch milliseconds converted."""
    column = quote_identifier(field)
    if is_datetime(schema, field):
        return column
    return f"fromUnixTimestamp64Milli({column}, 'UTC')"


def epoch_ms_expression(schema: Mapping[str, Any], field: str) -> str:
    """SQL giving the epoch milliseconds of a time field, stored as a number or a DateTime64."""
    column = quote_identifier(field)
    return f"toUnixTimestamp64Milli({column})" if is_datetime(schema, field) else column


def is_datetime(schema: Mapping[str, Any], field: str) -> bool:
    for item in schema["fields"]:
        if item["name"] == field:
            probe = record_columns({"type": "record", "name": "Probe", "fields": [item]})
            return probe.items[0].column.type.sql.startswith(("DateTime64", "Nullable(DateTime64"))
    raise CatalogSchemaError(f"{schema.get('name')}: no time field {field!r}")


def profile_table(
    catalog: Catalog, category: Category | str, database: str,
    schema: Mapping[str, Any] | None = None,
) -> SinkTable:
    """``schema``: another version of the topic's value schema (default: the catalog's)."""
    topic = catalog.theme(category)
    return _latest_table(f"{PROFILE_PREFIX}{category}", topic, database,
                         schema or _value_schema(topic))


def subscriptions_table(catalog: Catalog, database: str) -> SinkTable:
    """The subscriptions topic's latest revisions: one live row per subscription (FINAL)."""
    topic = catalog.subscriptions
    return _latest_table(SUBSCRIPTIONS_TABLE, topic, database, _value_schema(topic))


def resource_catalog_table(catalog: Catalog, database: str) -> SinkTable:
    """The published resource catalog: one live row per resource code (FINAL)."""
    topic = catalog.resource_catalog
    return _latest_table(RESOURCE_CATALOG_TABLE, topic, database, _value_schema(topic))


def _latest_table(name: str, topic: Topic, database: str, schema: Mapping[str, Any]
                  ) -> SinkTable:
    """A compacted topic's latest record per entity key (ReplacingMergeTree)."""
    spec = TableSpec(
        name=name,
        schema=schema,
        kind=TableKind.PROFILE,
        order_by=(entity_key_field(schema),),
        database=database,
        source_time_column=_optional(schema, SOURCE_TIME),
        title=str(schema.get("doc", "")),
    )
    return SinkTable(spec, (topic.name,))


def facts_table(catalog: Catalog, database: str,
                schema: Mapping[str, Any] | None = None) -> SinkTable:
    topics = tuple(catalog.fact(c) for c in Category)
    return _event_table(FACTS_TABLE, topics, database, schema or _value_schema(topics[0]),
                        ("category", "entity_key", SOURCE_TIME, "fact_id"), SOURCE_TIME)


def quality_table(catalog: Catalog, database: str,
                  schema: Mapping[str, Any] | None = None) -> SinkTable:
    topic = catalog.quality
    return _event_table(QUALITY_TABLE, (topic,), database, schema or _value_schema(topic),
                        ("dept", "dimension", DETECTED_TIME, "finding_id"), DETECTED_TIME)


def audit_table(catalog: Catalog, database: str,
                schema: Mapping[str, Any] | None = None) -> SinkTable:
    """Audit events, kept as long as their topic keeps them (at least six months)."""
    topic = catalog.audit
    keep_days = topic.retention_ms // (24 * 3600 * 1000)
    return _event_table(AUDIT_TABLE, (topic,), database, schema or _value_schema(topic),
                        ("kind", SOURCE_TIME, "event_id"), SOURCE_TIME,
                        ttl=f"{time_expression(schema or _value_schema(topic), SOURCE_TIME)}"
                            f" + INTERVAL {keep_days} DAY")


def _event_table(name: str, topics: tuple[Topic, ...], database: str,
                 schema: Mapping[str, Any], order_by: tuple[str, ...],
                 month_of: str, ttl: str | None = None) -> SinkTable:
    """An append-only table partitioned by the month of ``month_of``."""
    spec = TableSpec(
        ttl=ttl,
        name=name,
        schema=schema,
        kind=TableKind.EVENT,
        order_by=order_by,
        database=database,
        partition_by=f"toYYYYMM({time_expression(schema, month_of)})",
        source_time_column=SOURCE_TIME,
        title=str(schema.get("doc", "")),
    )
    return SinkTable(spec, tuple(t.name for t in topics))


def sink_tables(catalog: Catalog, database: str) -> tuple[SinkTable, ...]:
    """Every table the sink fills, in a stable order: profiles, facts, quality, audit,
    subscriptions, the resource catalog."""
    return (
        *(profile_table(catalog, c, database) for c in Category),
        facts_table(catalog, database),
        quality_table(catalog, database),
        audit_table(catalog, database),
        subscriptions_table(catalog, database),
        resource_catalog_table(catalog, database),
    )


def _value_schema(topic: Topic) -> dict[str, Any]:
    if topic.value_schema is None:
        raise CatalogSchemaError(f"{topic.name} has no value schema")
    return topic.value_schema()


def _optional(schema: Mapping[str, Any], field: str) -> str | None:
    return field if any(f["name"] == field for f in schema["fields"]) else None
