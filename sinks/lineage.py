"""The sink's flow (``topics/lineage.py``): each library table from the topics that feed it,
column by column as the topics' value fields land."""

from __future__ import annotations

from types import MappingProxyType

from sinks.clickhouse.tables import sink_tables
from topics.catalog import Catalog
from topics.lineage import Columns, ColumnSource, Flow


def sink_flow(catalog: Catalog, database: str) -> Flow:
    tables = sink_tables(catalog, database)
    columns: dict[str, Columns] = {}
    for table in tables:
        columns[_name(database, table.spec.name)] = MappingProxyType({
            field["name"]: tuple(ColumnSource(topic, field["name"]) for topic in table.topics)
            for field in table.spec.schema["fields"]
        })
    return Flow(
        job="sink",
        inputs=tuple(dict.fromkeys(topic for table in tables for topic in table.topics)),
        outputs=tuple(columns),
        columns=MappingProxyType(columns),
        tables=frozenset(columns),
    )


def _name(database: str, table: str) -> str:
    return f"{database}.{table}"
