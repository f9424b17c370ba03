"""The raw layer's worker: standardize fused with fact extraction, on the batch consumer loop.

Stateless: any member can take any raw partition; run one process per core and the consumer
group spreads the partitions.
"""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from ops.kafka_client import kafka_config, registry_config
from ops.settings import Settings
from streams.consumer_loop import BatchConsumerLoop, consumer_config
from streams.masking.pseudonym import Pseudonymizer
from streams.output import KafkaOutput, output_config
from streams.processor import BatchStats, RawLayerProcessor
from streams.processor_types import InputMessage
from streams.standardize import STAGE
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder


def group_id(settings: Settings, key_id: str) -> str:
    """Per pseudonym key: a new key starts a new group, which re-keys every retained raw
    event (see README, "Pseudonym keys")."""
    return f"govbus-{settings.topic_namespace}raw-{key_id}".replace(".", "-")


class RawStage:
    """The raw layer's processor as a loop stage; it owns no state."""

    name = STAGE

    def __init__(self, processor: RawLayerProcessor) -> None:
        self.processor = processor

    @property
    def input_topics(self) -> list[str]:
        return self.processor.input_topics

    def process(self, batch: list[InputMessage]) -> BatchStats:
        return self.processor.process(batch)

    def assigned(self, partitions: list[TopicPartition]) -> None:
        pass

    def revoked(self, partitions: list[TopicPartition]) -> None:
        pass


def build_raw_loop(settings: Settings, pseudonymizer: Pseudonymizer) -> BatchConsumerLoop:
    registry = SchemaRegistry(registry_config(settings))
    group = group_id(settings, pseudonymizer.key_id)
    output = KafkaOutput(Producer(output_config(kafka_config(settings), group)))
    processor = RawLayerProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        pseudonymizer,
        output,
    )
    consumer = Consumer(consumer_config(kafka_config(settings), group))
    return BatchConsumerLoop(consumer, RawStage(processor), output, settings.batch_size,
                             settings.batch_seconds, group)
