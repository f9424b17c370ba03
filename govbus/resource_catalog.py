"""The resource catalog as the command line serves and publishes it: the topic catalog, the
sharing declaration and the sink's tables put together (``topics`` may not import ``sinks``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govbus.wiring import admin_settings, registry, write_as_admin
from ops.kafka_client import kafka_config
from ops.settings import Settings
from sinks.clickhouse.tables import sink_tables
from topics.catalog import Catalog, catalog_for
from topics.reader import TopicReader
from topics.resource_catalog import ResourceCatalog, build_catalog, catalog_revisions
from topics.sharing import SHARING_PATH, read_declaration


def landing_tables(catalog: Catalog, database: str) -> dict[str, str]:
    """Each topic the sink lands, by full name, with its qualified ClickHouse table."""
    return {
        topic: f"{table.spec.database}.{table.spec.name}"
        for table in sink_tables(catalog, database)
        for topic in table.topics
    }


def resource_catalog(settings: Settings, declaration: Path = SHARING_PATH) -> ResourceCatalog:
    """The checked catalog; SharingDeclarationError names the first inconsistent resource."""
    topics = catalog_for(settings)
    return build_catalog(
        read_declaration(declaration),
        topics.all,
        topics.namespace,
        landing_tables(topics, settings.clickhouse_database),
        declaration.name,
    )


@dataclass(frozen=True, slots=True)
class Publication:
    revised: int  # entries new or changed
    withdrawn: int  # entries gone from the catalog (tombstones)
    unchanged: int


def published_catalog(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest published record per resource code (a withdrawn one is absent)."""
    admin = admin_settings(settings)
    latest: dict[str, dict[str, Any]] = {}
    reader = TopicReader(kafka_config(admin), registry(admin),
                         catalog_for(settings).resource_catalog.name)
    for message in reader.messages_to_end():
        if message.value is None:
            latest.pop(str(message.key), None)
        else:
            latest[str(message.key)] = message.value
    return latest


def publish_catalog(settings: Settings) -> Publication:
    """The catalog to its compacted topic (the sink lands it in ClickHouse): a revision per
    new or changed entry, a tombstone per withdrawn one; a second run writes nothing."""
    resources = resource_catalog(settings)
    published = published_catalog(settings)
    revisions = catalog_revisions(resources, published, int(time.time() * 1000))
    write_as_admin(settings, catalog_for(settings).resource_catalog,
                   [(r.code, r.record, r.version if r.record is None else None)
                    for r in revisions])
    withdrawn = sum(r.record is None for r in revisions)
    return Publication(len(revisions) - withdrawn, withdrawn,
                       len(resources.resources) - (len(revisions) - withdrawn))
