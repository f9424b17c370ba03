"""The raw layer's worker: standardize fused with fact extraction, on the batch consumer loop.

Any member can take any raw partition; run one process per core and the consumer group
spreads the partitions. A member holds the source rows of the partitions it owns
(``row_store``), restored from their changelog when they are assigned, as the theme worker
does with its profiles.
"""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from ops.kafka_client import kafka_config, registry_config
from ops.settings import Settings
from streams.consumer_loop import BatchConsumerLoop, consumer_config
from streams.enrich.facts import FactExtractor
from streams.masking.pseudonym import Pseudonymizer
from streams.output import Deferred, KafkaOutput, output_config
from streams.processor import BatchStats, RawLayerProcessor
from streams.processor_types import InputMessage
from streams.row_store import RowTables, decode_entry, encode_entry
from streams.standardize import STAGE
from streams.state_store import ChangelogStore, Shard, backend_for
from topics.catalog import RAW_ROWS, state_topic
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder


def group_id(settings: Settings, key_id: str) -> str:
    """Per pseudonym key: a new key starts a new group, which re-keys every retained raw
    event (see README, "Pseudonym keys")."""
    return f"govbus-{settings.topic_namespace}raw-{key_id}".replace(".", "-")


class RawStage:
    """The raw layer's processor as a loop stage, over the row tables of its partitions."""

    name = STAGE

    def __init__(self, processor: RawLayerProcessor) -> None:
        self.processor = processor

    @property
    def input_topics(self) -> list[str]:
        return self.processor.input_topics

    def process(self, batch: list[InputMessage]) -> BatchStats:
        return self.processor.process(batch)

    def assigned(self, partitions: list[TopicPartition]) -> None:
        self.processor.rows.own(self._shards(partitions))

    def revoked(self, partitions: list[TopicPartition], lost: bool = False) -> None:
        # Lost: in-flight batches' changelog records were never produced, so the shards
        # may be ahead of their changelog.
        self.processor.rows.release(self._shards(partitions), clean=not lost)

    def _shards(self, partitions: list[TopicPartition]) -> list[Shard]:
        return [(self.processor.routes[tp.topic].source, tp.partition) for tp in partitions]


def build_raw_loop(settings: Settings, pseudonymizer: Pseudonymizer) -> BatchConsumerLoop:
    registry = SchemaRegistry(registry_config(settings))
    group = group_id(settings, pseudonymizer.key_id)
    output = KafkaOutput(Producer(output_config(kafka_config(settings), group)))
    # The rows' changelog waits for the facts it was computed with (see streams/output.py).
    rows = RowTables(
        ChangelogStore(
            state_topic(RAW_ROWS).name,
            Deferred(output),
            backend_for(settings.theme_store, settings.state_dir / "streams" / group),
            lambda: Consumer({**kafka_config(settings),
                              "group.id": f"{group}-restore", "enable.auto.commit": False,
                              "enable.partition.eof": True}),
            encode_entry,
            decode_entry,
        ),
        FactExtractor(),
    )
    processor = RawLayerProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        pseudonymizer,
        output,
        rows=rows,
    )
    consumer = Consumer(consumer_config(kafka_config(settings), group))
    return BatchConsumerLoop(consumer, RawStage(processor), output, settings.batch_size,
                             settings.batch_seconds, group)
