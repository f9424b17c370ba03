"""The stock Debezium PostgreSQL connector's configuration, rendered from a declaration.

A department never writes connector JSON: `govbus connect add <source>` renders it from the
department table declared in topics/cdc.py and submits it to Kafka Connect. Debezium's events
reach the source's raw topic unchanged (no bridge, no second encode), framed as the raw layer
reads every topic: Confluent wire format carrying the registry's content id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from topics.cdc import DepartmentTable

CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
CONVERTER_CLASS = "io.apicurio.registry.utils.converter.AvroConverter"
# Schemas go to the registry as <raw topic>-<record name> in the group of the record's
# namespace, beside the raw topic's own govbus subjects and not among them.
ARTIFACT_STRATEGY = "io.apicurio.registry.serde.avro.strategy.TopicRecordIdStrategy"


class SnapshotMode(StrEnum):
    """Debezium's snapshot.mode values govbus offers."""

    INITIAL = "initial"  # the table's rows as reads (op=r), then its changes
    NO_DATA = "no_data"  # changes from now on only
    WHEN_NEEDED = "when_needed"  # a snapshot again when the slot's position is gone


@dataclass(frozen=True)
class DatabaseEndpoint:
    """Where the department's database is, and whom the connector logs in as."""

    host: str
    port: int
    user: str
    password: str  # a ${dir:...} reference resolved inside the worker, never the secret


@dataclass(frozen=True)
class RegistryEndpoint:
    """The registry as the converter reaches it: its own API, through the door."""

    url: str  # the registry's own API base, .../apis/registry/v2
    user: str | None = None
    password: str | None = None  # a ${dir:...} reference
    ca_file: Path | None = None


def registry_api_url(confluent_url: str) -> str:
    """The registry's own API beside its Confluent-compatible one (the converter's)."""
    return re.sub(r"/apis/ccompat/v\d+/?$", "/apis/registry/v2", confluent_url)


def converter_config(registry: RegistryEndpoint) -> dict[str, str]:
    """The registry's Avro converter with the keys verified against the local registry."""
    config = {
        "apicurio.registry.url": registry.url,
        "apicurio.registry.auto-register": "true",
        # Confluent framing carrying the content id, the id the Confluent API resolves.
        "apicurio.registry.as-confluent": "true",
        "apicurio.registry.use-id": "contentId",
        "apicurio.registry.headers.enabled": "false",
        # Debezium's Source record inlined, not registered as a referenced artifact.
        "apicurio.registry.dereference-schema": "true",
        "apicurio.registry.artifact-resolver-strategy": ARTIFACT_STRATEGY,
    }
    if registry.user is not None and registry.password is not None:
        config["apicurio.auth.username"] = registry.user
        config["apicurio.auth.password"] = registry.password
    if registry.ca_file is not None:
        config["apicurio.rest.request.ssl.ca-bundle.location"] = str(registry.ca_file)
    return config


def connector_config(
    table: DepartmentTable,
    raw_topic: str,
    namespace: str,
    database: DatabaseEndpoint,
    registry: RegistryEndpoint,
    snapshot: SnapshotMode = SnapshotMode.INITIAL,
) -> dict[str, str]:
    """The stock connector's configuration for one department table."""
    slot = table.slot_name(namespace)
    converter = converter_config(registry)
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": database.host,
        "database.port": str(database.port),
        "database.user": database.user,
        "database.password": database.password,
        "database.dbname": table.database,
        "topic.prefix": table.topic_prefix,
        "table.include.list": table.qualified_table,
        "slot.name": slot,
        "publication.name": slot,
        # The publication names this table alone.
        "publication.autocreate.mode": "filtered",
        "snapshot.mode": str(snapshot),
        # Decimals as exact bytes (Decimal, VariableScaleDecimal), not doubles; times to the
        # microsecond as the database keeps them.
        "decimal.handling.mode": "precise",
        "time.precision.mode": "adaptive_time_microseconds",
        "schema.name.adjustment.mode": "avro",
        "tombstones.on.delete": "true",
        # Debezium waits this long for more changes before it hands a batch on (500 ms by
        # default, most of the commit-to-theme latency at 200 changes/s; `bench cdc`).
        "poll.interval.ms": "50",
        # Debezium names the topic <prefix>.<schema>.<table>; the stock router sends it to
        # the source's raw topic.
        "transforms": "route",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": re.escape(table.record_namespace),
        "transforms.route.replacement": raw_topic,
        "key.converter": CONVERTER_CLASS,
        "value.converter": CONVERTER_CLASS,
        **{f"key.converter.{k}": v for k, v in converter.items()},
        **{f"value.converter.{k}": v for k, v in converter.items()},
    }
