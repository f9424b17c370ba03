"""The sink conformance suite's tools: theme records, a publisher for the test's namespace,
`govbus sink run` as a child process, and reads through the same query path users take."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from govbus.wiring import registry, topic_admin
from ops.kafka_client import kafka_config
from ops.settings import Settings
from sinks.clickhouse.tables import entity_key_field
from sinks.query_client import endpoint_file, run_query
from topics.annotations import Category
from topics.catalog import Catalog, Layer, Topic, catalog_for, catalog_in
from topics.serde import AvroEncoder

GOVBUS = [sys.executable, "-m", "govbus.cli"]
BASE_MS = 1_710_000_000_000
DIVISIONS = ("110101", "110105", "310104", "440305")
DISTRICTS = ("北京市东城区", "北京市朝阳区", "上海市徐汇区", "深圳市南山区")


# ------------------------------------------------------------------ records


def profile(category: Category, i: int, version: int = 1, **changes: Any) -> dict[str, Any]:
    """A theme profile of ``category`` with every field of its schema set."""
    # A topic's schema is the same in every namespace.
    schema = catalog_in("").theme(category).value_schema()  # type: ignore[misc]
    rng = random.Random(f"{category}:{i}:{version}")
    record: dict[str, Any] = {}
    for f in schema["fields"]:
        name = f["name"]
        kind = f["type"]
        if kind == "string" or kind == ["null", "string"]:
            record[name] = f"{name}-{i % 7}-{rng.randint(0, 999)}"
        elif isinstance(kind, dict) and kind.get("type") == "array":
            record[name] = []
    record.update(
        {
            entity_key_field(schema): key_of(category, i),
            "version": version,
            "source_ts_ms": BASE_MS + i * 1000 + version,
            "updated_ms": BASE_MS + i * 1000 + version + 7,
            "deleted": False,
            "sources": ["household", "civil"][: 1 + i % 2],
            "links": [{"relation": "licence", "category": "thing", "key": f"licence:x:{i}"}],
            "candidates": [
                {"attribute": "name", "value": None if i % 3 else "李*", "dept": "civil",
                 "source_ts_ms": BASE_MS + i}
            ],
        }
    )
    k = i % len(DIVISIONS)
    if category is Category.INDIVIDUAL:
        record.update(sex=("1", "2", None)[i % 3], birth_year=f"{1940 + i % 80}",
                      district=DISTRICTS[k], division_code=DIVISIONS[k])
    elif category is Category.ORGANIZATION:
        record.update(enterprise_type=("有限责任公司", "个体工商户")[i % 2],
                      status=("存续", "注销")[i % 5 == 0], division_code=DIVISIONS[k])
    elif category is Category.THING:
        expiry = time.strftime("%Y-%m-%d", time.gmtime(time.time() + (i % 200 - 20) * 86400))
        record.update(thing_type="licence", licence_type=("营业执照", "驾驶证")[i % 2],
                      holder_kind=("organization", "person")[i % 2], expiry_date=expiry)
    record.update(changes)
    return record


def key_of(category: Category, i: int) -> str:
    return f"{category}-{i:06d}"


def fact(i: int, category: Category = Category.INDIVIDUAL) -> dict[str, Any]:
    return {
        "fact_id": f"e{i}/{key_of(category, i)}", "category": str(category),
        "entity_type": "person", "entity_key": key_of(category, i), "op": "assert",
        "source": "household.resident", "dept": "household", "record_key": f"r{i}",
        "role": "self", "event_id": f"e{i}", "sequence": str(i),
        # Spread over three months, so one insert makes several parts.
        "source_ts_ms": BASE_MS + (i % 3) * 31 * 86_400_000 + i,
        "attributes": {"name": "张*", "sex": None},
        "links": [{"relation": "licence", "category": "thing", "key": f"licence:x:{i}"}],
    }


def finding(i: int) -> dict[str, Any]:
    return {
        "finding_id": f"e{i}:citizen_id.check_digit:id_number", "event_id": f"e{i}",
        "stage": "standardize", "dept": ("household", "market")[i % 2],
        "source": "household.resident", "dimension": ("validity", "completeness")[i % 3 == 0],
        "reason": "citizen_id.check_digit", "field": "id_number",
        "outcome": ("repaired", "rejected", "flagged")[i % 3], "detail": "",
        "source_ts_ms": BASE_MS + i, "detected_ms": BASE_MS + i + 500,
    }


# ------------------------------------------------------------------ publishing


class ThemePublisher:
    """Encodes with ids from the registry (the namespace's subjects) and produces."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = catalog_for(settings)
        self.registry = registry(settings)
        self.producer = Producer(
            {**kafka_config(settings), "enable.idempotence": True,
             "linger.ms": 20}
        )
        self._encoders: dict[str, tuple[AvroEncoder, AvroEncoder]] = {}
        self.sent = 0

    def encoders(self, topic: Topic, value_schema: dict[str, Any] | None = None
                 ) -> tuple[AvroEncoder, AvroEncoder]:
        wanted = value_schema or topic.value_schema()  # type: ignore[misc]
        ident = f"{topic.name}:{json.dumps(wanted, sort_keys=True)}"
        if ident not in self._encoders:
            key_schema = topic.key_schema()  # type: ignore[misc]
            self._encoders[ident] = (
                AvroEncoder(key_schema, self.registry.register(topic.key_subject, key_schema)),
                AvroEncoder(wanted, self.registry.register(topic.value_subject, wanted)),
            )
        return self._encoders[ident]

    def send(self, topic: Topic, key: str, value: dict[str, Any] | None,
             schema: dict[str, Any] | None = None) -> None:
        encode_key, encode_value = self.encoders(topic, schema)
        self.producer.produce(
            topic.name,
            key=encode_key.encode(key),
            value=None if value is None else encode_value.encode(value),
        )
        self.sent += 1
        if self.sent % 5000 == 0:
            self.producer.poll(0)

    def flush(self) -> None:
        assert self.producer.flush(60) == 0


def sink_topics(catalog: Catalog) -> list[Topic]:
    return [*(catalog.theme(c) for c in Category), *(catalog.fact(c) for c in Category),
            catalog.quality]


def apply_sink_topics(settings: Settings) -> None:
    # The sink reads the audit and subscriptions topics too; its endpoint audits into the first.
    catalog = catalog_for(settings)
    wanted = [*catalog.by_layer(Layer.THEME), *catalog.by_layer(Layer.FACT), catalog.quality,
              *catalog.by_layer(Layer.AUDIT), *catalog.by_layer(Layer.SHARING)]
    topic_admin(settings).apply(wanted)


# ------------------------------------------------------------------ the sink process


@dataclass
class SinkRun:
    """`govbus sink run` in a state folder of its own (its chDB folder, its query URL)."""

    settings: Settings
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        # The announcement of a killed run is stale; queries wait for the new one.
        endpoint_file(self.settings).unlink(missing_ok=True)
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n--- start {self.starts}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [*GOVBUS, "sink", "run", "--loglevel", "info"],
                stdout=out, stderr=subprocess.STDOUT, env=self.env,
            )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"sink ignored SIGTERM:\n{self.tail()}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def rows(self, sql: str, user: str | None = None) -> list[dict[str, Any]]:
        """The rows of a query, asked as ``user`` (default: the settings' query user)."""
        if self.alive() and not self.settings.clickhouse_url:
            # Never open the folder the starting sink is about to own.
            deadline = time.monotonic() + 60
            while not endpoint_file(self.settings).exists():
                if time.monotonic() > deadline or not self.alive():
                    raise AssertionError(f"the sink announced no query endpoint:\n{self.tail()}")
                time.sleep(0.1)
        body = run_query(self.as_user(user), sql, "jsoneachrow")
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

    def as_user(self, user: str | None) -> Settings:
        return self.settings if user is None else self.settings.model_copy(
            update={"query_user": user})

    def scalar(self, sql: str, user: str | None = None) -> int:
        (row,) = self.rows(sql, user)
        return int(next(iter(row.values())))

    def wait(
        self, condition: Any, what: str, timeout_s: float = 120.0, poll_s: float = 0.3
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"sink exited ({self.process.returncode}) before {what}:\n"
                                     f"{self.tail()}")
            try:
                if condition():
                    return
            except Exception:  # the endpoint may not be up yet
                pass
            time.sleep(poll_s)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{self.tail()}")


def committed(settings: Settings, group: str, topics: list[Topic]) -> dict[tuple[str, int], int]:
    probe = Consumer({**kafka_config(settings), "group.id": group})
    try:
        parts = [KafkaTopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        return {(tp.topic, tp.partition): max(tp.offset, 0)
                for tp in probe.committed(parts, timeout=10)}
    finally:
        probe.close()


def ends(settings: Settings, topics: list[Topic]) -> dict[tuple[str, int], int]:
    probe = Consumer({**kafka_config(settings), "group.id": "probe"})
    try:
        return {
            (t.name, p): probe.get_watermark_offsets(KafkaTopicPartition(t.name, p), timeout=10)[1]
            for t in topics for p in range(t.partitions)
        }
    finally:
        probe.close()


def drained(run: SinkRun, group: str) -> bool:
    topics = sink_topics(catalog_for(run.settings))
    return committed(run.settings, group, topics) == ends(run.settings, topics)


@contextmanager
def running(run: SinkRun) -> Iterator[SinkRun]:
    run.start()
    run.wait(lambda: endpoint_file(run.settings).exists(), "the sink to start")
    try:
        yield run
    finally:
        if run.alive():
            run.stop()


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        GOVBUS_STATE_DIR=str(settings.state_dir),
        GOVBUS_ACCESS_DIR=str(settings.access_folder),
        GOVBUS_TOPIC_NAMESPACE=settings.topic_namespace,
        GOVBUS_CLICKHOUSE_DATABASE=settings.clickhouse_database,
        GOVBUS_SINK_QUERY_PORT="0",
        GOVBUS_METRICS_PORT="0",
        GOVBUS_SINK_GROUP_ID=settings.sink_group_id,
        GOVBUS_SINK_BATCH_ROWS=str(settings.sink_batch_rows),
        GOVBUS_SINK_BATCH_SECONDS=str(settings.sink_batch_seconds),
        # The suite reconciles every table with its topics: the k-anonymity monitor's
        # findings come from no topic, so it is off here (it has tests of its own).
        GOVBUS_PRIVACY_MONITOR_SECONDS="0",
    )
    if settings.clickhouse_url:
        env["GOVBUS_CLICKHOUSE_URL"] = settings.clickhouse_url
    else:
        env.pop("GOVBUS_CLICKHOUSE_URL", None)
    env.update(extra)
    return env
