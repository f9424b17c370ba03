"""The raw layer's worker: standardize fused with fact extraction, on the consumer runtime.

Any member can take any raw partition; run one process per core and the consumer group
spreads the partitions. A member holds the source rows of the partitions it owns
(``row_store``), restored from their changelog when they are assigned, as the theme worker
does with its profiles.
"""

from __future__ import annotations

import time

from ops.kafka_client import registry_config
from ops.runtime.loop import ConsumerRuntime
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.partitioning import Partitioning
from ops.settings import Settings
from streams.processors.raw import RawLayerProcessor
from streams.runtime.instrumentation import observe_batch
from streams.runtime.row_store import RowTables, decode_entry, encode_entry
from streams.runtime.stage_runtime import stage_output, stage_runtime
from streams.runtime.state_store import Shard, stage_store
from streams.stages.enrich.facts import FactExtractor
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.standardize import STAGE
from topics.catalog import RAW_ROWS, catalog_for
from topics.principals import worker_group
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder


def group_id(settings: Settings, key_id: str) -> str:
    """Per pseudonym key: a new key starts a new group, which re-keys every retained raw
    event (see README, "Pseudonym keys")."""
    return worker_group(settings.topic_namespace, f"raw-{key_id}")


class RawStage:
    """The raw layer's processor as a loop stage, over the row tables of its partitions."""

    name = STAGE

    def __init__(self, processor: RawLayerProcessor) -> None:
        self.processor = processor
        self.partitioning = Partitioning(tuple(processor.input_topics),
                                         processor.rows.store.changelog, co_partitioned=False)

    @property
    def input_topics(self) -> list[str]:
        return self.processor.input_topics

    def process(self, messages: list[InputMessage]) -> None:
        started = time.perf_counter()
        stats = self.processor.process(messages)
        observe_batch(self.name, len(messages), time.perf_counter() - started, stats)

    def assigned(self, partitions: list[Partition]) -> None:
        self.processor.rows.own(self._shards(partitions))

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        # Lost: in-flight batches' changelog records were never produced, so the shards
        # may be ahead of their changelog.
        self.processor.rows.release(self._shards(partitions), clean=not lost)

    def restore(self, budget_s: float) -> frozenset[Partition]:
        store = self.processor.rows.store
        store.restore(budget_s)
        topics = {route.source: topic for topic, route in self.processor.routes.items()}
        return frozenset((topics[source], partition)
                         for source, partition in store.restoring if source in topics)

    def _shards(self, partitions: list[Partition]) -> list[Shard]:
        return [(self.processor.routes[topic].source, partition)
                for topic, partition in partitions]


def build_raw_runtime(settings: Settings, pseudonymizer: Pseudonymizer) -> ConsumerRuntime:
    registry = SchemaRegistry(registry_config(settings))
    group = group_id(settings, pseudonymizer.key_id)
    output = stage_output(settings, group)
    catalog = catalog_for(settings)
    rows = RowTables(
        stage_store(settings, group, catalog.state(RAW_ROWS).name, output, encode_entry,
                    decode_entry),
        FactExtractor(),
    )
    processor = RawLayerProcessor(
        catalog,
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        pseudonymizer,
        output,
        rows=rows,
    )
    return stage_runtime(settings, group, RawStage(processor), output)
