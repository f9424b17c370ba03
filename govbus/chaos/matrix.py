"""``govbus chaos``: each fault driven during a steady simulated load, then reconciled.

A run per fault: a fresh namespace and processes, the load (the simulator's changes with its
injected defects, plus any poison the fault adds), the fault a third of the way in, the
pipeline drained, then the accounting: every raw event in std or the DLQ exactly once, the
theme topics' final records equal to an undisturbed run's over the same raw messages (the
processors run in this process), the ClickHouse rows after ``FINAL`` one per live entity at
its final version, and no clear personal value of the raw events anywhere downstream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from govbus.chaos.faults import Fault
from govbus.chaos.pipeline import Recovery, Say, SteadyLoad, running_pipeline
from govbus.chaos.poison import poisoner
from govbus.chaos.reconcile import (
    Accounting,
    account,
    as_input,
    clear_values_found,
    differing,
    writer_schema_ids,
)
from govbus.keys import pseudonymizer
from govbus.wiring import admin_settings, registry
from ops.kafka_client import as_principal, kafka_config
from ops.runtime.client_config import producer_config
from ops.runtime.messages import InputMessage
from ops.settings import Settings
from sinks.clickhouse.tables import entity_key_field, profile_table
from sinks.query_client import run_query
from streams.processors.raw import RawLayerProcessor
from streams.processors.theme import ThemeProcessor
from topics.annotations import Category, Pii
from topics.catalog import Catalog, Layer, catalog_for
from topics.principals import publisher
from topics.reader import ReadMessage, TopicReader
from topics.schemas import row_spec, source_names
from topics.serde import AvroDecoder

DRAIN_TIMEOUT_S = 300.0
CLEAR_VALUE_MIN_LENGTH = 8  # shorter values match by chance
# What must never be downstream in clear. Names, dates and free text may be, as policy keeps
# them (an enterprise's name, a date that is not a birth date, a business scope).
NEVER_CLEAR = frozenset({Pii.ID_NUMBER, Pii.PHONE, Pii.ADDRESS})


@dataclass(frozen=True)
class FaultRow:
    fault: str
    accounting: Accounting
    theme_differing: int
    clickhouse_differing: int
    clear_values: int
    recovery: Recovery

    @property
    def passed(self) -> bool:
        a = self.accounting
        return not (a.lost or a.duplicated or self.theme_differing or self.clickhouse_differing
                    or self.clear_values)


def run_fault(fault: Fault, rate: float, seconds: float, say: Say,
              static: bool | None = None, exactly_once: bool = True,
              drain_timeout_s: float = DRAIN_TIMEOUT_S) -> FaultRow:
    """``static``: the pipeline's processes are static group members (KIP-345); None:
    as suits the group protocol (``running_pipeline``). ``exactly_once``: the stages'
    batches are Kafka transactions. A drain not done within ``drain_timeout_s`` raises
    with the tail of each process's log."""
    env = {**fault.env, "GOVBUS_EXACTLY_ONCE": "true" if exactly_once else "false"}
    with running_pipeline(say, raw_workers=fault.raw_workers, env=env,
                          static=static) as pipeline:
        settings = pipeline.settings
        producers = _poison_producers(settings) if fault.poison else {}
        extra = poisoner(settings, producers) if fault.poison else None
        load = SteadyLoad(settings, rate, seconds, extra=extra, publish=fault.publish)
        say(f"{fault.name}: warming up with {len(load.snapshot)} snapshot events")
        load.warm_up()
        pipeline.drained(drain_timeout_s)
        say(f"{fault.name}: {len(load.changes)} changes at {rate:.0f}/s; the fault at "
            f"{seconds / 3:.0f} s")
        load.start()
        time.sleep(seconds / 3)
        recovery = fault.inject(pipeline)
        load.join()
        for producer in producers.values():
            producer.flush(60)
        if load.error is not None:
            raise load.error
        pipeline.drained(drain_timeout_s)
        pipeline.processes.check()
        say(f"{fault.name}: drained; reconciling")
        return reconcile(fault.name, settings, recovery, say)


def _poison_producers(settings: Settings) -> dict[str, Producer]:
    producers: dict[str, Producer] = {}
    by_dept: dict[str, Producer] = {}
    for source in source_names():
        dept = row_spec(source).dept
        if dept not in by_dept:
            by_dept[dept] = Producer(producer_config(
                kafka_config(as_principal(settings, publisher(dept))), "chaos-poison"))
        producers[source] = by_dept[dept]
    return producers


def reconcile(name: str, settings: Settings, recovery: Recovery,
              say: Say = lambda _: None) -> FaultRow:
    admin = admin_settings(settings)
    read = _reader(admin)
    catalog = catalog_for(settings)
    raw = [m for t in catalog.by_layer(Layer.RAW) for m in read(t.name)]
    say(f"{name}: writer schema ids of the raw topics: " + "; ".join(
        f"{topic} {ids}" for topic, ids in writer_schema_ids(raw).items()))
    std = [m for t in catalog.by_layer(Layer.STD) for m in read(t.name)]
    letters = read(catalog.dlq("standardize").name)
    accounting = account(raw, std, letters)
    expected = undisturbed_themes(admin, raw)
    found = {str(c): _final_records(read(catalog.theme(c).name)) for c in Category}
    theme_differing = sum(len(differing(expected[c], found[c])) for c in expected)
    clickhouse_differing = sum(_clickhouse_differing(settings, Category(c), found[c])
                               for c in found)
    clear = _clear_values(catalog, raw)
    leaked = clear_values_found(clear, [m.value for m in std if m.value is not None]
                                + [r for c in found.values() for r in c.values()])
    return FaultRow(name, accounting, theme_differing, clickhouse_differing, len(leaked),
                    recovery)


def _reader(settings: Settings) -> Callable[[str], list[ReadMessage]]:
    schemas = registry(settings)

    def read(topic: str) -> list[ReadMessage]:
        return list(TopicReader(kafka_config(settings), schemas, topic).messages(
            idle_timeout_s=3.0))

    return read


def _final_records(messages: list[ReadMessage]) -> dict[str, dict[str, Any]]:
    """The last record of each entity (a tombstone removes it)."""
    final: dict[str, dict[str, Any] | None] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        final[_entity(message.key)] = message.value
    return {k: v for k, v in final.items() if v is not None}


def _entity(key: Any) -> str:
    """The entity key of a theme record's key (a one-field record)."""
    return str(next(iter(key.values()))) if isinstance(key, dict) else str(key)


class _Captured:
    def __init__(self) -> None:
        self.records: list[InputMessage] = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        self.records.append(InputMessage(topic, max(partition, 0), len(self.records), key,
                                         value))


def undisturbed_themes(settings: Settings, raw: list[ReadMessage]
                       ) -> dict[str, dict[str, dict[str, Any]]]:
    """The theme records an undisturbed run makes of the same raw messages, by category and
    entity: the raw and theme processors over them in this process, each partition in its
    order."""
    schemas = registry(settings)
    facts, themes = _Captured(), _Captured()
    catalog = catalog_for(settings)
    raw_layer = RawLayerProcessor(catalog, AvroDecoder(schemas.schema_by_id), schemas.register,
                                  pseudonymizer(settings), facts)
    theme_layer = ThemeProcessor(catalog, AvroDecoder(schemas.schema_by_id), schemas.register,
                                 themes)
    ordered = sorted(raw, key=lambda m: (m.topic, m.partition, m.offset))
    raw_layer.process([as_input(m) for m in ordered])
    fact_topics = set(theme_layer.input_topics)
    store = _MemoryStore()
    theme_layer.process([(m, m.partition) for m in facts.records if m.topic in fact_topics],
                        store)
    decode = AvroDecoder(schemas.schema_by_id).decode
    result: dict[str, dict[str, dict[str, Any]]] = {str(c): {} for c in Category}
    categories = {catalog.theme(c).name: c for c in Category}
    for message in themes.records:
        category = categories.get(message.topic)
        if category is None:
            continue  # findings and dead letters
        entity = _entity(decode(message.key) if message.key else None)
        if message.value is None:
            result[str(category)].pop(entity, None)
        else:
            result[str(category)][entity] = decode(message.value)
    return result


class _MemoryStore:
    def __init__(self) -> None:
        self.states: dict[str, Any] = {}

    def get(self, key: str, token: Any) -> Any:
        return self.states.get(key)

    def put(self, key: str, value: Any, token: Any) -> None:
        self.states[key] = value


def _clickhouse_differing(settings: Settings, category: Category,
                          topic_final: dict[str, dict[str, Any]]) -> int:
    """Live entities whose ClickHouse row (after FINAL) is missing, doubled, or at another
    version than the topic's final record."""
    spec = profile_table(catalog_for(settings), category, settings.clickhouse_database).spec
    key = entity_key_field(spec.schema)
    rows = json.loads(run_query(
        settings, f"SELECT {key} AS k, version FROM {spec.qualified_name} FINAL",
        "json"))["data"]
    live: dict[str, list[int]] = {}  # FINAL leaves deleted rows out
    for row in rows:
        live.setdefault(str(row["k"]), []).append(int(row["version"]))
    expected = {k: [int(v["version"])] for k, v in topic_final.items()}
    return len({k for k in set(live) | set(expected) if live.get(k) != expected.get(k)})


def _clear_values(catalog: Catalog, raw: list[ReadMessage]) -> set[str]:
    """Every value of the kinds never shown in clear (by the schemas' ``govbus.pii``) the raw
    events carried."""
    fields = {source: {f.name for f in row_spec(source).fields if f.pii in NEVER_CLEAR}
              for source in source_names()}
    by_topic = {t.name: t.source for t in catalog.by_layer(Layer.RAW)}
    clear: set[str] = set()
    for message in raw:
        value = message.value
        if not value:
            continue
        names = fields.get(by_topic.get(message.topic, "") or "", set())
        for image in (value.get("before") or {}, value.get("after") or {}):
            for name in names & set(image):
                text = str(image[name] or "")
                if len(text) >= CLEAR_VALUE_MIN_LENGTH:
                    clear.add(text)
    return clear
