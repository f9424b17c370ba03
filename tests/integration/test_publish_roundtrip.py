"""Events read back by confluent-kafka's own deserializer; the registry guards compatibility."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from connectors.simulate import publish_all
from connectors.simulator import DepartmentSimulator
from govbus.wiring import publishers, registry, topic_admin
from ops.kafka_client import kafka_config, registry_config
from ops.settings import Settings
from topics.catalog import Layer, catalog_for
from topics.registry import IncompatibleSchemaError
from topics.schemas import change_event_schema, source_names

EVENTS = 400


def _read_all(connection: Mapping[str, Any], topic: str, expected: int) -> list:
    consumer = Consumer(
        {**connection, "group.id": "roundtrip", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages = []
    idle = 0
    while len(messages) < expected and idle < 50:
        message = consumer.poll(0.2)
        if message is None or message.error():
            idle += 1
            continue
        messages.append(message)
    consumer.close()
    return messages


def test_sdk_events_read_back_by_confluent_deserializer(settings: Settings) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.by_layer(Layer.RAW))
    events = DepartmentSimulator(seed=3, defect_rate=0.1).events(EVENTS)
    report = publish_all(events, publishers(settings, list(source_names())), 30.0)
    assert report.failed == 0 and report.pending == 0

    client = SchemaRegistryClient(registry_config(settings))
    deserializer = AvroDeserializer(client)
    by_id = {e.event_id: e for e in events}
    seen = 0
    for source in source_names():
        topic = catalog.raw(source).name
        expected = sum(1 for e in events if e.source == source)
        tombstones = sum(1 for e in events if e.source == source and e.op == "d")
        messages = _read_all(kafka_config(settings), topic, expected + tombstones)
        assert len(messages) == expected + tombstones
        for message in messages:
            key = deserializer(message.key(), SerializationContext(topic, MessageField.KEY))
            if message.value() is None:
                continue  # the tombstone after a delete
            value = deserializer(message.value(), SerializationContext(topic, MessageField.VALUE))
            original = by_id[value["event_id"]]
            assert value["op"] == original.op
            assert value["before"] == original.before and value["after"] == original.after
            assert value["source"]["sequence"] == original.sequence
            assert key == original.key
            seen += 1
    assert seen == EVENTS


def test_incompatible_schema_is_refused(settings: Settings) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.by_layer(Layer.RAW))
    topic = catalog.raw("household.resident")
    schemas = registry(settings)
    assert schemas.compatibility(topic.value_subject) == "BACKWARD_TRANSITIVE"

    breaking = copy.deepcopy(change_event_schema("household.resident"))
    breaking["fields"].append({"name": "mandatory_new", "type": "string"})  # no default
    with pytest.raises(IncompatibleSchemaError):
        schemas.register(topic.value_subject, breaking)

    compatible = copy.deepcopy(change_event_schema("household.resident"))
    compatible["fields"].append(
        {"name": "optional_new", "type": ["null", "string"], "default": None}
    )
    assert schemas.register(topic.value_subject, compatible) > 0
