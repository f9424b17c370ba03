"""Builds the bus's clients from the settings; the one place that knows how they connect.

Each client connects as the principal of its role (topics/principals.py): the admin for
topics, users and the operator's tools, a department's publisher for its own raw topics.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import Producer

from connectors.publisher import ChangeEventPublisher, publisher_config
from ops.access import AccessFolder
from ops.kafka_client import as_principal, check_connection, kafka_config, registry_config
from ops.runtime.client_config import producer_config
from ops.settings import Settings
from ops.stack.kafka import KafkaCluster
from sinks.clickhouse.query_server import QueryRecord
from topics.access_admin import AccessAdmin, AccessChange
from topics.admin import TopicAdmin
from topics.audit import AuditEvent, AuditTrail, broker_denials
from topics.catalog import Topic, catalog_for
from topics.headers import version_headers
from topics.principals import ADMIN, SINK, principals, publisher
from topics.registry import SchemaRegistry
from topics.schemas import row_spec
from topics.serde import AvroEncoder

if TYPE_CHECKING:
    import psycopg

    from connectors.department_db import TableWriter
    from topics.cdc import DepartmentTable


def connect(settings: Settings, principal: str) -> Settings:
    """The settings as ``principal``, after one quiet connection attempt: a refusal (wrong
    password, untrusted certificate, no broker) is one clear KafkaAccessError."""
    chosen = as_principal(settings, principal)
    check_connection(chosen)
    return chosen


def admin_settings(settings: Settings) -> Settings:
    return as_principal(settings, ADMIN)


def registry(settings: Settings) -> SchemaRegistry:
    return SchemaRegistry(registry_config(settings))


def access_admin(settings: Settings) -> AccessAdmin:
    return AccessAdmin(kafka_config(admin_settings(settings)), AccessFolder(settings),
                       settings.topic_namespace)


def topic_admin(settings: Settings, subscribed: Mapping[str, frozenset[str]] | None = None
                ) -> TopicAdmin:
    """Topics, schemas and, with security on, the principals' users and ACLs: as the admin.
    ``subscribed``: the consuming departments' granted topics (``govbus topics apply`` reads
    them from the subscriptions topic, so applying the declaration keeps every grant)."""
    return TopicAdmin(
        kafka_config(admin_settings(settings)),
        registry(settings),
        settings.default_compatibility,
        access_admin(settings) if settings.secure else None,
        principals(settings, subscribed),
        settings.replication_factor,
        settings.min_insync_replicas,
    )


def publishers(settings: Settings, sources: list[str]) -> dict[str, ChangeEventPublisher]:
    """One publisher per source table; the tables of one department share one producer (one
    connection, one queue), connected as that department's publisher principal."""
    by_dept: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        by_dept[row_spec(source).dept].append(source)
    result = {}
    for dept, dept_sources in by_dept.items():
        principal = as_principal(settings, publisher(dept))
        producer = Producer(publisher_config(kafka_config(principal)))
        schema_registry = registry(principal)
        for source in dept_sources:
            result[source] = ChangeEventPublisher(
                catalog_for(settings), source, producer, schema_registry,
                settings.default_compatibility,
            )
    return result


def write_as_admin(settings: Settings, topic: Topic,
                   records: Iterable[tuple[str, dict[str, Any] | None, int | None]]) -> int:
    """Keyed records of a compacted bus topic (string key; a None value is a tombstone, its
    version in the header), written as the admin and acknowledged by all replicas; returns
    how many."""
    admin = admin_settings(settings)
    assert topic.key_schema is not None and topic.value_schema is not None
    schemas = registry(admin)
    key = AvroEncoder(topic.key_schema(), schemas.register(topic.key_subject, topic.key_schema()))
    value = AvroEncoder(topic.value_schema(),
                        schemas.register(topic.value_subject, topic.value_schema()))
    producer = Producer(producer_config(kafka_config(admin), "govbus-admin", log_level=0))
    written = 0
    for record_key, record, version in records:
        producer.produce(topic.name, None if record is None else value.encode(record),
                         key.encode(record_key),
                         headers=version_headers(version) if version is not None else None)
        written += 1
    if producer.flush(30):
        raise RuntimeError(f"the broker did not acknowledge every record of {topic.name}")
    return written


def audit_trail(settings: Settings) -> AuditTrail:
    """The audit topic's producer, connected as the settings' principal."""
    return AuditTrail(catalog_for(settings).audit, kafka_config(settings), registry(settings))


def audit_changes(settings: Settings, changes: Iterable[AccessChange]) -> int:
    """User and ACL changes the admin made, as audit events; returns how many."""
    events = [
        AuditEvent(kind=c.kind, principal=ADMIN, action=c.action,
                   resource=f"{c.principal} {c.resource}".strip())
        for c in changes
    ]
    if not events:
        return 0
    trail = audit_trail(admin_settings(settings))
    trail.record(events)
    trail.flush()
    return len(events)


def query_auditor(settings: Settings) -> Callable[[QueryRecord], None]:
    """Every query of the endpoint as an audit event, produced as the sink principal."""
    trail = audit_trail(as_principal(settings, SINK))

    def audit(record: QueryRecord) -> None:
        trail.record([AuditEvent(
            kind="query", principal=record.user, action=" ".join(record.sql.split())[:2000],
            resource="query endpoint",
            outcome="done" if record.status == 200 else f"refused {record.status}",
            detail=f"{record.seconds * 1000:.0f} ms, {record.rows} rows"
                   + (f"; {record.detail}" if record.detail else ""),
        )])

    return audit


def ship_denials(settings: Settings, follow: bool = False,
                 stop: Callable[[], bool] = lambda: False) -> int:
    """Broker authorization denials from the local broker's authorizer log to the audit
    topic, from where the last call stopped; with ``follow``, until ``stop``."""
    trail = audit_trail(admin_settings(settings))
    # One log per node: each broker logs the requests it refused itself.
    logs = [(node.authorizer_log, settings.state_dir / "run" / (
        "audit-denials.pos" if node.node == 1 else f"audit-denials-{node.node}.pos"))
        for node in KafkaCluster(settings).nodes]
    shipped = 0
    while True:
        for log_file, position_file in logs:
            shipped += _ship_new_denials(trail, log_file, position_file)
        if not follow or stop():
            return shipped
        time.sleep(1.0)


def _ship_new_denials(trail: AuditTrail, log_file: Path, position_file: Path) -> int:
    """The denials ``log_file`` gained since ``position_file``'s offset."""
    if not log_file.exists():
        return 0
    position = int(position_file.read_text()) if position_file.exists() else 0
    if log_file.stat().st_size < position:
        position = 0  # the log was started afresh
    with log_file.open("rb") as handle:
        handle.seek(position)
        chunk = handle.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    lines = complete.decode("utf-8", errors="replace").splitlines()
    shipped = trail.record(broker_denials(lines))
    if trail.flush() == 0 and complete:
        position_file.parent.mkdir(parents=True, exist_ok=True)
        position_file.write_text(str(position + len(complete)))
    return shipped


def cdc_connector(settings: Settings, source: str, snapshot: str = "initial",
                  table: DepartmentTable | None = None) -> tuple[str, dict[str, str]]:
    """The Debezium connector's name and configuration for a declared department table,
    against the local stack's department database and registry; every password in it is a
    reference the Connect worker resolves from the access folder."""
    from connectors.cdc import (
        DatabaseEndpoint,
        RegistryEndpoint,
        SnapshotMode,
        connector_config,
        registry_api_url,
    )
    from ops.stack.connect import PRINCIPAL, secret_reference
    from ops.stack.postgres import SUPERUSER, PostgresServer
    from topics.cdc import department_table

    table = table or department_table(source)
    postgres = PostgresServer(settings)
    access = AccessFolder(settings)
    database = DatabaseEndpoint(postgres.host, postgres.port, SUPERUSER,
                                secret_reference(postgres.password_file))
    secure_registry = settings.secure
    registry_endpoint = RegistryEndpoint(
        registry_api_url(settings.registry_url),
        PRINCIPAL if secure_registry else None,
        secret_reference(access.password_file(PRINCIPAL)) if secure_registry else None,
        access.ca_file if settings.registry_url.startswith("https") else None,
    )
    name = table.connector_name(settings.topic_namespace)
    raw = catalog_for(settings).raw(source).name
    config = connector_config(table, raw, settings.topic_namespace, database,
                              registry_endpoint, SnapshotMode(snapshot))
    return name, config


def department_connection(settings: Settings, database: str) -> psycopg.Connection[Any]:
    """A database of the local department PostgreSQL (made if missing), as the superuser,
    each statement its own transaction."""
    import psycopg

    from ops.stack.postgres import SUPERUSER, PostgresServer

    postgres = PostgresServer(settings)
    postgres.ensure_database(database)
    return psycopg.connect(host=postgres.host, port=postgres.port, user=SUPERUSER,
                           password=postgres.password().get_secret_value(), dbname=database,
                           autocommit=True)


def department_writers(settings: Settings, sources: Iterable[str]) -> dict[str, TableWriter]:
    """One writer per declared department table, on its database in the local department
    PostgreSQL (the database and the table made if missing)."""
    from connectors.department_db import TableWriter, create_table
    from topics.cdc import department_table

    connections: dict[str, psycopg.Connection[Any]] = {}
    writers = {}
    for source in sources:
        table = department_table(source)
        if table.database not in connections:
            connections[table.database] = department_connection(settings, table.database)
        connection = connections[table.database]
        connection.execute(create_table(table))
        writers[source] = TableWriter(table, connection)
    return writers


def department_targets(settings: Settings, sources: Iterable[str],
                       say: Callable[[str], None]) -> dict[str, TableWriter]:
    """The simulator's targets when departments write their own databases: each table's
    writer, its Debezium connector added if missing (said)."""
    chosen = list(sources)
    writers = department_writers(settings, chosen)
    for name in ensure_connectors(settings, chosen):
        say(f"connector {name} added")
    return writers


def ensure_connectors(settings: Settings, sources: Iterable[str]) -> list[str]:
    """Each source's Debezium connector submitted unless configured already; what was added."""
    from ops.stack.connect import ConnectWorker

    worker = ConnectWorker(settings)
    present = set(worker.connectors())
    added = []
    for source in sources:
        name, config = cdc_connector(settings, source)
        if name not in present:
            worker.put_config(name, config)
            worker.mark_configured(name, True)
            added.append(name)
    return added
