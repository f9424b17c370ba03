"""The resource catalog as the command line serves it: the topic catalog, the sharing
declaration and the sink's tables put together (``topics`` may not import ``sinks``)."""

from __future__ import annotations

from pathlib import Path

from ops.settings import Settings
from sinks.clickhouse.tables import sink_tables
from topics.catalog import catalog
from topics.resource_catalog import ResourceCatalog, build_catalog
from topics.sharing import SHARING_PATH, read_declaration


def landing_tables(database: str) -> dict[str, str]:
    """Each topic the sink lands, by full name, with its qualified ClickHouse table."""
    return {
        topic: f"{table.spec.database}.{table.spec.name}"
        for table in sink_tables(database)
        for topic in table.topics
    }


def resource_catalog(settings: Settings, declaration: Path = SHARING_PATH) -> ResourceCatalog:
    """The checked catalog; SharingDeclarationError names the first inconsistent resource."""
    return build_catalog(
        read_declaration(declaration),
        catalog(),
        settings.topic_namespace,
        landing_tables(settings.clickhouse_database),
        declaration.name,
    )
