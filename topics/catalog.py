"""The topic catalog: every topic of the bus, declared once.

Topic names appear nowhere else: stages, sinks and tools look topics up in a ``Catalog``, by
source table, layer or category. A catalog is a value made from a namespace: whoever holds the
settings makes it (``catalog_for(settings)``) and hands it down; nothing reads a global one.
Grades derive from the schemas' field annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from ops.settings import Settings
from ops.stack.connect import STORES as CONNECT_STORES
from ops.stack.connect import storage_topic
from topics.annotations import Category, Grade, RecordSpec
from topics.schemas import (
    Schema,
    change_event_schema,
    key_schema,
    load_avsc,
    row_spec,
    source_names,
    std_change_event_schema,
    std_row_schema,
)

DAY_MS = 24 * 3600 * 1000


class Layer(StrEnum):
    """The 4360 stages plus the dead-letter layer."""

    RAW = "raw"
    STD = "std"
    FACT = "fact"
    THEME = "theme"
    DLQ = "dlq"
    QUALITY = "quality"
    STATE = "state"
    AUDIT = "audit"
    SHARING = "sharing"
    CONNECT = "connect"


class Cleanup(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True)
class Topic:
    """One topic: its layer, shape, retention, schemas, owner and grade."""

    name: str
    layer: Layer
    description: str
    partitions: int = 4
    retention_ms: int = 7 * DAY_MS
    cleanup: Cleanup = Cleanup.DELETE
    key_schema: Callable[[], Schema] | None = None
    value_schema: Callable[[], Schema] | None = None
    dept: str = "govbus"
    grade: Grade = Grade.GENERAL
    source: str | None = None
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def key_subject(self) -> str:
        return f"{self.name}-key"

    @property
    def value_subject(self) -> str:
        return f"{self.name}-value"

    def kafka_config(self) -> dict[str, str]:
        config = {"cleanup.policy": str(self.cleanup), "retention.ms": str(self.retention_ms)}
        if self.cleanup is Cleanup.COMPACT:
            # Keep delete tombstones a day so slow consumers still see deletions.
            config["delete.retention.ms"] = str(DAY_MS)
            config["min.compaction.lag.ms"] = "60000"
        return {**config, **self.extra_config}


_GRADE_ORDER = {Grade.GENERAL: 0, Grade.IMPORTANT: 1, Grade.CORE: 2}


def highest_grade(grades: Iterator[Grade]) -> Grade:
    return max(grades, key=_GRADE_ORDER.__getitem__, default=Grade.GENERAL)


def _raw_topic(namespace: str, source: str) -> Topic:
    spec = row_spec(source)
    return Topic(
        name=f"{namespace}raw.{source}",
        layer=Layer.RAW,
        description=f"Change events of {spec.dept}/{spec.system} table {spec.table}, as sent.",
        retention_ms=7 * DAY_MS,
        key_schema=lambda: key_schema(source),
        value_schema=lambda: change_event_schema(source),
        dept=spec.dept,
        grade=highest_grade(spec.fields_grades()),
        source=source,
    )


def _std_topic(namespace: str, source: str) -> Topic:
    spec = row_spec(source)
    return Topic(
        name=f"{namespace}std.{source}",
        layer=Layer.STD,
        description=f"{spec.dept}/{spec.table} changes, validated, coded and desensitized.",
        retention_ms=30 * DAY_MS,
        key_schema=lambda: key_schema(source),
        value_schema=lambda: std_change_event_schema(source),
        dept=spec.dept,
        grade=highest_grade(RecordSpec.from_avro(std_row_schema(source)).fields_grades()),
        source=source,
    )


def _dlq_topic(namespace: str, stage: str) -> Topic:
    return Topic(
        name=f"{namespace}dlq.{stage}",
        layer=Layer.DLQ,
        description=f"Events the {stage} stage rejected: original bytes, reason in headers.",
        retention_ms=30 * DAY_MS,
        # Original raw bytes: as restricted as the raw layer they came from.
        grade=Grade.CORE,
        source=stage,
    )


def _quality_topic(namespace: str) -> Topic:
    return Topic(
        name=f"{namespace}quality.findings",
        layer=Layer.QUALITY,
        description="Data quality findings by department and dimension, one per defect.",
        retention_ms=30 * DAY_MS,
        key_schema=lambda: load_avsc("keys/string_key.avsc"),
        value_schema=lambda: load_avsc("quality/finding.avsc"),
    )


STAGES = ("standardize", "theme", "sink")
# The stages' tables: the theme layer's profiles, the raw layer's source rows (per row key,
# what the row names and since which position; see streams/runtime/row_store.py).
THEME_PROFILES, RAW_ROWS = "theme.profiles", "raw.rows"
# China's Cybersecurity Law (art. 21) keeps network logs at least six months.
AUDIT_RETENTION_DAYS = 190


def _audit_topic(namespace: str) -> Topic:
    return Topic(
        name=f"{namespace}audit.events",
        layer=Layer.AUDIT,
        description="Authorization denials, user and grant changes, queries: who, what, when.",
        partitions=1,
        retention_ms=AUDIT_RETENTION_DAYS * DAY_MS,
        key_schema=lambda: load_avsc("keys/string_key.avsc"),
        value_schema=lambda: load_avsc("audit/event.avsc"),
    )


SUBSCRIPTIONS, RESOURCE_CATALOG = "subscriptions", "catalog"


def _sharing_topic(namespace: str, name: str, description: str, schema: str) -> Topic:
    """A compacted sharing topic: the latest record per key, kept for ever."""
    return Topic(
        name=f"{namespace}sharing.{name}",
        layer=Layer.SHARING,
        description=description,
        partitions=1,
        retention_ms=-1,
        cleanup=Cleanup.COMPACT,
        key_schema=lambda: load_avsc("keys/string_key.avsc"),
        value_schema=lambda: load_avsc(schema),
        source=name,
    )


def _subscriptions_topic(namespace: str) -> Topic:
    return _sharing_topic(
        namespace, SUBSCRIPTIONS,
        "Subscriptions to catalog resources: requests and the providers' decisions, the "
        "latest per subscription (the grants' one source).", "sharing/subscription.avsc")


def _resource_catalog_topic(namespace: str) -> Topic:
    return _sharing_topic(
        namespace, RESOURCE_CATALOG,
        "The resource catalog (政务信息资源目录): the latest revision of each entry, keyed by "
        "resource code; a withdrawn resource is a tombstone.", "sharing/resource.avsc")


def _connect_topic(namespace: str, store: str) -> Topic:
    """Kafka Connect's own topics (its worker's `*.storage.topic`): connector configs, source
    offsets (Debezium's LSN), task status. Compacted and kept forever: they are its state."""
    return Topic(
        name=storage_topic(namespace, store),
        layer=Layer.CONNECT,
        description=f"Kafka Connect's {store} (change data capture): the worker's own state.",
        partitions=CONNECT_STORES[store],
        retention_ms=-1,
        cleanup=Cleanup.COMPACT,
        source=store,
    )


def _state_topic(namespace: str, table: str, stage: str) -> Topic:
    """A stage's table changelog: declared here so it exists, compacted and co-partitioned
    with the stage's input topics (the catalog's default partition count), before the first
    worker starts."""
    return Topic(
        name=f"{namespace}state.{table}",
        layer=Layer.STATE,
        description=f"Changelog of the {table} table: the {stage} stage's state, restored on "
        "start.",
        retention_ms=-1,
        cleanup=Cleanup.COMPACT,
        grade=Grade.IMPORTANT,
        source=table,
    )


def _fact_topic(namespace: str, category: Category) -> Topic:
    return Topic(
        name=f"{namespace}fact.{category}",
        layer=Layer.FACT,
        description=f"Facts about {category} entities, keyed by entity key (repartition point).",
        retention_ms=7 * DAY_MS,
        key_schema=lambda: load_avsc("keys/string_key.avsc"),
        value_schema=lambda: load_avsc("fact/fact.avsc"),
        grade=Grade.IMPORTANT,
        source=str(category),
    )


def _theme_topic(namespace: str, category: Category) -> Topic:
    return Topic(
        name=f"{namespace}theme.{category}",
        layer=Layer.THEME,
        description=f"Current 360 profiles of {category} entities (upserts, tombstones).",
        retention_ms=-1,
        cleanup=Cleanup.COMPACT,
        key_schema=lambda: load_avsc("keys/string_key.avsc"),
        value_schema=lambda: load_avsc(f"theme/{category}.avsc"),
        grade=Grade.IMPORTANT,
        source=str(category),
    )


def _topics(namespace: str) -> tuple[Topic, ...]:
    sources = source_names()
    return (
        *(_raw_topic(namespace, source) for source in sources),
        *(_std_topic(namespace, source) for source in sources),
        *(_fact_topic(namespace, category) for category in Category),
        *(_theme_topic(namespace, category) for category in Category),
        *(_dlq_topic(namespace, stage) for stage in STAGES),
        _quality_topic(namespace),
        _state_topic(namespace, THEME_PROFILES, "theme"),
        _state_topic(namespace, RAW_ROWS, "standardize"),
        _audit_topic(namespace),
        _subscriptions_topic(namespace),
        _resource_catalog_topic(namespace),
        *(_connect_topic(namespace, store) for store in CONNECT_STORES),
    )


@dataclass(frozen=True)
class Catalog:
    """Every topic of the bus, named in one namespace, with its lookups."""

    namespace: str
    all: tuple[Topic, ...]

    def by_name(self, name: str) -> Topic:
        """A topic by its full name, or by its name without the namespace."""
        qualified = self.namespace + name
        for topic in self.all:
            if topic.name in (name, qualified):
                return topic
        known = ", ".join(t.name for t in self.all)
        raise KeyError(f"no topic {name!r} in the catalog; known topics: {known}")

    def by_layer(self, layer: Layer) -> tuple[Topic, ...]:
        return tuple(t for t in self.all if t.layer is layer)

    def _by_source(self, layer: Layer, source: str) -> Topic:
        for topic in self.by_layer(layer):
            if topic.source == source:
                return topic
        raise KeyError(f"no {layer} topic for {source!r}")

    def raw(self, source: str) -> Topic:
        """The raw topic a source table publishes to."""
        try:
            return self._by_source(Layer.RAW, source)
        except KeyError:
            known = ", ".join(source_names())
            raise KeyError(f"unknown source {source!r}; known sources: {known}") from None

    def std(self, source: str) -> Topic:
        return self._by_source(Layer.STD, source)

    def dlq(self, stage: str) -> Topic:
        return self._by_source(Layer.DLQ, stage)

    def fact(self, category: Category | str) -> Topic:
        return self._by_source(Layer.FACT, str(category))

    def theme(self, category: Category | str) -> Topic:
        return self._by_source(Layer.THEME, str(category))

    def state(self, table: str) -> Topic:
        return self._by_source(Layer.STATE, table)

    def connect(self, store: str) -> Topic:
        """One of Kafka Connect's storage topics: configs, offsets or status."""
        return self._by_source(Layer.CONNECT, store)

    @property
    def quality(self) -> Topic:
        return self.by_layer(Layer.QUALITY)[0]

    @property
    def audit(self) -> Topic:
        return self.by_layer(Layer.AUDIT)[0]

    @property
    def subscriptions(self) -> Topic:
        return self._by_source(Layer.SHARING, SUBSCRIPTIONS)

    @property
    def resource_catalog(self) -> Topic:
        """The resource catalog as published: one record per resource code."""
        return self._by_source(Layer.SHARING, RESOURCE_CATALOG)


@cache
def catalog_in(namespace: str) -> Catalog:
    """The catalog with every topic named in ``namespace`` (e.g. ``"staging."``)."""
    return Catalog(namespace, _topics(namespace))


def catalog_for(settings: Settings) -> Catalog:
    """The catalog in the settings' topic namespace."""
    return catalog_in(settings.topic_namespace)
