"""``govbus sink run``: the sink process. Theme, fact and quality topics into ClickHouse.

It migrates (idempotently), then consumes every sink topic of the catalog with one consumer
group until stopped, and, owning the engine, serves the read-only query endpoint on
127.0.0.1, announced in ``<state_dir>/run/sink-query.url`` (removed on a clean stop; a stale
file after a crash is noticed by the client, nothing listens there).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from ops.kafka_client import kafka_config
from ops.runtime.client_config import (
    DEFAULT_GROUP_PROTOCOL,
    GroupProtocol,
    consumer_config,
    producer_config,
)
from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import ConsumerRuntime
from ops.settings import Settings
from sinks.clickhouse.backend import BackendError, ClickHouseBackend, SerializedBackend
from sinks.clickhouse.backend_factory import open_backend
from sinks.clickhouse.migration import MigrationStep, migrate
from sinks.clickhouse.outage import OutageSwitch, outage_file
from sinks.clickhouse.query_server import QueryServer
from sinks.clickhouse.tables import QUALITY_TABLE, SUBSCRIPTIONS_TABLE, SinkTable, sink_tables
from sinks.clickhouse.writer import ClickHouseWriter, InsertObserver
from sinks.connect_monitor import ConnectorTasks
from sinks.privacy_monitor import KAnonymityMonitor
from sinks.query_access import QueryAccess
from sinks.query_client import endpoint_file
from sinks.sharing_monitor import OverdueSubscriptions
from sinks.step import STEP, SinkStep
from topics.catalog import catalog_for
from topics.dead_letters import DeadLetterEmitter
from topics.principals import worker_group

log = logging.getLogger(__name__)

QUERY_HOST = "127.0.0.1"
POLL_MESSAGES = 2000
# A fetch may wait this long for data: well inside the batch time, and a batch's age counts
# from the poll's start.
FETCH_WAIT_MS = 50


def sink_runtime(connection: Mapping[str, Any], group: str, step: SinkStep,
                 batch_size: int = POLL_MESSAGES, instance_id: str | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 protocol: GroupProtocol = DEFAULT_GROUP_PROTOCOL) -> ConsumerRuntime:
    """The consumer runtime of a sink step (the service's, and the benchmarks')."""
    return ConsumerRuntime(
        consumer_config(connection, group, instance_id, protocol,
                        **{"fetch.wait.max.ms": FETCH_WAIT_MS, **(overrides or {})}),
        step, batch_size=batch_size, batch_seconds=step.poll_seconds,
        # The sink acknowledges an insert at a time (a second or more apart): its offsets
        # are committed as soon as ClickHouse has them.
        commit_interval_s=0.0)


def group_id(settings: Settings) -> str:
    """The sink's consumer group, in the settings' topic namespace."""
    return worker_group(settings.topic_namespace, settings.sink_group_id)


@dataclass
class SinkStats:
    started: float = field(default_factory=time.monotonic)
    rows: int = 0
    messages: int = 0


class SinkService:
    """One sink process: backend, writers, consumer and query endpoint, wired from settings."""

    def __init__(
        self,
        settings: Settings,
        fetch_schema: Callable[[int], str],
        *,
        observer: InsertObserver | None = None,
        serve_queries: bool = True,
        tables: tuple[SinkTable, ...] | None = None,
        query_access: QueryAccess | None = None,
    ) -> None:
        self.settings = settings
        self.query_access = query_access or QueryAccess()
        catalog = catalog_for(settings)
        self.tables = tables or sink_tables(catalog, settings.clickhouse_database)
        # The writers insert from threads of their own, one call into the engine at a time.
        owned = _open_owned(settings)
        if settings.clickhouse_outage_switch:
            owned = OutageSwitch(owned, outage_file(settings))
        self.backend: ClickHouseBackend = SerializedBackend(owned)
        self.writers = {
            t.spec.name: ClickHouseWriter(
                self.backend,
                t.spec,
                max_rows=settings.sink_batch_rows,
                max_seconds=settings.sink_batch_seconds
                if t.spec.is_profile
                else settings.sink_history_batch_seconds,
                observer=observer,
                background=True,
                cluster=settings.clickhouse_cluster,
            )
            for t in self.tables
        }
        routes = {topic: self.writers[t.spec.name] for t in self.tables for topic in t.topics}
        self.step = SinkStep(
            routes=routes, fetch_schema=fetch_schema,
            poll_seconds=min(0.2, settings.sink_batch_seconds),
            dead_letters=DeadLetterEmitter(catalog, STEP, KafkaOutput(Producer(
                producer_config(kafka_config(settings), group_id(settings))))))
        self.runtime = sink_runtime(kafka_config(settings), group_id(settings), self.step,
                                    instance_id=settings.group_instance_id,
                                    protocol=settings.group_protocol)
        self.serve_queries = serve_queries
        self.kanon = KAnonymityMonitor(
            self.backend, settings.clickhouse_database, self.writers[QUALITY_TABLE].spec,
            settings.privacy_monitor_seconds,
            also=(OverdueSubscriptions(self.backend, self.writers[SUBSCRIPTIONS_TABLE].spec).check,
                  ConnectorTasks(settings).check),
        )
        self.query_server: QueryServer | None = None
        self._query_backend: ClickHouseBackend | None = None
        self.stats = SinkStats()

    def migrate(self) -> list[MigrationStep]:
        return migrate(
            self.backend,
            self.settings.clickhouse_database,
            self.tables,
            self.settings.privacy_k,
            self.settings.clickhouse_cluster,
        )

    @property
    def rows_inserted(self) -> int:
        return sum(w.rows_inserted for w in self.writers.values())

    def run(
        self, stop: threading.Event, on_ready: Callable[[str | None], None] | None = None
    ) -> None:
        """Sink until ``stop`` is set; ``on_ready`` gets the query URL once consuming."""
        self.migrate()
        with self._query_endpoint() as url, self.kanon.running():
            self.step.prepare()
            self.runtime.stop_requested = stop
            self.runtime.run(started=None if on_ready is None else lambda: on_ready(url))
        self.stats.rows = self.rows_inserted
        self.stats.messages = self.runtime.messages_read

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.backend.close()

    @contextlib.contextmanager
    def _query_endpoint(self) -> Iterator[str | None]:
        if not self.serve_queries:
            yield None
            return
        self._query_backend = open_backend(self.settings, read_only=True)
        server = QueryServer(self._query_backend, QUERY_HOST, self.settings.sink_query_port,
                             **self.query_access.server_options())
        server.start()
        self.query_server = server
        announced = announce(endpoint_file(self.settings), server.url)
        log.info("query endpoint %s", server.url)
        try:
            yield server.url
        finally:
            withdraw(announced, server.url)
            server.close()
            self._query_backend.close()
            self._query_backend = None
            self.query_server = None


def _open_owned(settings: Settings, patience_s: float = 15.0) -> ClickHouseBackend:
    """The engine for writing; chDB's folder may be held a moment by a direct reader."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return open_backend(settings)
        except BackendError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def announce(path: Path, url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(url + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def withdraw(path: Path, url: str) -> None:
    # Only our own announcement: a newer sink may have replaced it.
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8").strip() == url:
            path.unlink()
