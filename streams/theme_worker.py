"""The theme layer's worker: fact topics in, profile states in a changelog-backed store, theme
records out, on the same consumer loop as the raw layer."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from ops.kafka_client import kafka_config, registry_config
from ops.settings import Settings
from streams.consumer_loop import BatchConsumerLoop, consumer_config
from streams.enrich.profile import ProfileState
from streams.output import KafkaOutput, output_config
from streams.processor_types import InputMessage
from streams.state_store import ChangelogStore, Shard, backend_for
from streams.theme_processor import STAGE, ThemeProcessor, ThemeStats
from topics.catalog import THEME_PROFILES, state_topic
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder


def group_id(settings: Settings) -> str:
    return f"govbus-{settings.topic_namespace}theme".replace(".", "-")


class ThemeStage:
    """The theme processor over the shards of the store this member owns."""

    name = STAGE

    def __init__(self, processor: ThemeProcessor, store: ChangelogStore[ProfileState]) -> None:
        self.processor = processor
        self.store = store

    @property
    def input_topics(self) -> list[str]:
        return self.processor.input_topics

    def process(self, batch: list[InputMessage]) -> ThemeStats:
        return self.processor.process([(m, m.partition) for m in batch], self.store)

    def assigned(self, partitions: list[TopicPartition]) -> None:
        self.store.own(self._shards(partitions))

    def revoked(self, partitions: list[TopicPartition], lost: bool = False) -> None:
        # Its changelog records are produced with its outputs, flushed even when lost.
        self.store.release(self._shards(partitions))

    def _shards(self, partitions: list[TopicPartition]) -> list[Shard]:
        return [(str(self.processor.category_of(tp.topic)), tp.partition) for tp in partitions]


def build_theme_loop(settings: Settings) -> BatchConsumerLoop:
    registry = SchemaRegistry(registry_config(settings))
    group = group_id(settings)
    output = KafkaOutput(Producer(output_config(kafka_config(settings), group)))
    processor = ThemeProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        output,
    )
    store = ChangelogStore(
        state_topic(THEME_PROFILES).name,
        output,
        backend_for(settings.theme_store, settings.state_dir / "streams" / group),
        lambda: Consumer({**kafka_config(settings),
                          "group.id": f"{group}-restore", "enable.auto.commit": False,
                          "enable.partition.eof": True}),
        ProfileState.to_bytes,
        ProfileState.from_bytes,
    )
    consumer = Consumer(consumer_config(kafka_config(settings), group))
    return BatchConsumerLoop(consumer, ThemeStage(processor, store), output,
                             settings.batch_size, settings.batch_seconds, group)
