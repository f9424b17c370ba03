"""Builds the bus's clients from the settings; the one place that knows how they connect.

Each client connects as the principal of its role (topics/principals.py): the admin for
topics, users and the operator's tools, a department's publisher for its own raw topics.
"""

from __future__ import annotations

from collections import defaultdict

from confluent_kafka import Producer

from connectors.publisher import ChangeEventPublisher, producer_config
from ops.access import AccessFolder
from ops.kafka_client import as_principal, check_connection, kafka_config
from ops.settings import Settings
from topics.access_admin import AccessAdmin
from topics.admin import TopicAdmin
from topics.principals import ADMIN, publisher
from topics.registry import SchemaRegistry
from topics.schemas import row_spec


def connect(settings: Settings, principal: str) -> Settings:
    """The settings as ``principal``, after one quiet connection attempt: a refusal (wrong
    password, untrusted certificate, no broker) is one clear KafkaAccessError."""
    chosen = as_principal(settings, principal)
    check_connection(chosen)
    return chosen


def admin_settings(settings: Settings) -> Settings:
    return as_principal(settings, ADMIN)


def registry(settings: Settings) -> SchemaRegistry:
    return SchemaRegistry(settings.registry_url)


def access_admin(settings: Settings) -> AccessAdmin:
    return AccessAdmin(kafka_config(admin_settings(settings)), AccessFolder(settings))


def topic_admin(settings: Settings) -> TopicAdmin:
    """Topics, schemas and, with security on, the principals' users and ACLs: as the admin."""
    return TopicAdmin(
        kafka_config(admin_settings(settings)),
        registry(settings),
        settings.default_compatibility,
        access_admin(settings) if settings.secure else None,
    )


def publishers(settings: Settings, sources: list[str]) -> dict[str, ChangeEventPublisher]:
    """One publisher per source table; the tables of one department share one producer (one
    connection, one queue), connected as that department's publisher principal."""
    by_dept: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        by_dept[row_spec(source).dept].append(source)
    schema_registry = registry(settings)
    result = {}
    for dept, dept_sources in by_dept.items():
        config = kafka_config(as_principal(settings, publisher(dept)))
        producer = Producer(producer_config(config))
        for source in dept_sources:
            result[source] = ChangeEventPublisher(
                source, producer, schema_registry, settings.default_compatibility
            )
    return result
