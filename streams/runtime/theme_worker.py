"""The theme layer's worker: fact topics in, profile states in a changelog-backed store, theme
records out, on the same consumer runtime as the raw layer."""

from __future__ import annotations

import time

from ops.kafka_client import registry_config
from ops.runtime.loop import ConsumerRuntime
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.partitioning import Partitioning
from ops.settings import Settings
from streams.processors.theme import STAGE, ThemeProcessor
from streams.runtime.instrumentation import observe_batch
from streams.runtime.stage_runtime import stage_output, stage_runtime
from streams.runtime.state_store import ChangelogStore, Shard, stage_store
from streams.stages.enrich.profile import HOUR_MS, ProfileState
from topics.catalog import THEME_PROFILES, catalog_for
from topics.principals import worker_group
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder


def group_id(settings: Settings) -> str:
    return worker_group(settings.topic_namespace, "theme")


class ThemeStage:
    """The theme processor over the shards of the store this member owns."""

    name = STAGE

    def __init__(self, processor: ThemeProcessor, store: ChangelogStore[ProfileState]) -> None:
        self.processor = processor
        self.store = store
        self.partitioning = Partitioning(tuple(processor.input_topics), store.changelog,
                                         co_partitioned=True)

    @property
    def input_topics(self) -> list[str]:
        return self.processor.input_topics

    def process(self, messages: list[InputMessage]) -> None:
        started = time.perf_counter()
        stats = self.processor.process([(m, m.partition) for m in messages], self.store)
        observe_batch(self.name, len(messages), time.perf_counter() - started, stats)

    def assigned(self, partitions: list[Partition]) -> None:
        self.store.own(self._shards(partitions))

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        # Lost: in-flight batches' changelog records were never produced, so the shards
        # may be ahead of their changelog.
        self.store.release(self._shards(partitions), clean=not lost)

    def restore(self, budget_s: float) -> frozenset[Partition]:
        self.store.restore(budget_s)
        facts = self.processor.catalog.fact
        return frozenset((facts(category).name, partition)
                         for category, partition in self.store.restoring)

    def _shards(self, partitions: list[Partition]) -> list[Shard]:
        return [(str(self.processor.category_of(topic)), partition)
                for topic, partition in partitions]


def build_theme_runtime(settings: Settings) -> ConsumerRuntime:
    registry = SchemaRegistry(registry_config(settings))
    group = group_id(settings)
    output = stage_output(settings, group)
    catalog = catalog_for(settings)
    processor = ThemeProcessor(
        catalog,
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        output,
        retraction_horizon_ms=settings.retraction_horizon_hours * HOUR_MS,
    )
    store = stage_store(settings, group, catalog.state(THEME_PROFILES).name, output,
                        ProfileState.to_bytes, ProfileState.from_bytes)
    return stage_runtime(settings, group, ThemeStage(processor, store), output)
