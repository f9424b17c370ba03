"""Builds the bus's clients from the settings; the one place that knows how they connect."""

from __future__ import annotations

from confluent_kafka import Producer

from connectors.publisher import ChangeEventPublisher, producer_config
from ops.settings import Settings
from topics.admin import TopicAdmin
from topics.registry import SchemaRegistry


def registry(settings: Settings) -> SchemaRegistry:
    return SchemaRegistry(settings.registry_url)


def topic_admin(settings: Settings) -> TopicAdmin:
    return TopicAdmin(settings.kafka_bootstrap, registry(settings), settings.default_compatibility)


def publishers(settings: Settings, sources: list[str]) -> dict[str, ChangeEventPublisher]:
    """One publisher per source table, sharing one producer (one connection, one queue)."""
    producer = Producer(producer_config(settings.kafka_bootstrap))
    schema_registry = registry(settings)
    return {
        source: ChangeEventPublisher(
            source, producer, schema_registry, settings.default_compatibility
        )
        for source in sources
    }
