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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ops.kafka_client import kafka_config
from ops.settings import Settings
from sinks.clickhouse.backend import BackendError, ClickHouseBackend, SerializedBackend
from sinks.clickhouse.backend_factory import open_backend
from sinks.clickhouse.migration import MigrationStep, migrate
from sinks.clickhouse.query_server import QueryServer
from sinks.clickhouse.tables import QUALITY_TABLE, SinkTable, sink_tables
from sinks.clickhouse.writer import ClickHouseWriter, InsertObserver
from sinks.collector import scheduled_collection
from sinks.connect_monitor import ConnectorTasks
from sinks.consumer import SinkConsumer
from sinks.instrumentation import report_lag
from sinks.privacy_monitor import KAnonymityMonitor
from sinks.query_access import QueryAccess
from sinks.query_client import endpoint_file
from sinks.sharing_monitor import OverdueSubscriptions

log = logging.getLogger(__name__)

QUERY_HOST = "127.0.0.1"
LAG_EVERY_S = 5.0
# A fetch returns once it has this much or has waited this long: with the defaults (1 byte,
# at once) the broker answered a fetch per produced batch, spending its CPU on requests.
# The wait is well inside the batch time, and a batch's age counts from the poll's start.
FETCH_CONFIG = {"fetch.min.bytes": 256 * 1024, "fetch.wait.max.ms": 50}


def group_id(settings: Settings) -> str:
    """The sink's consumer group, in the settings' topic namespace."""
    return f"{settings.topic_namespace}{settings.sink_group_id}"


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
        self.tables = tables or sink_tables(settings.clickhouse_database)
        # The writers insert from threads of their own, one call into the engine at a time.
        self.backend: ClickHouseBackend = SerializedBackend(_open_owned(settings))
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
        self.consumer = SinkConsumer(
            connection=kafka_config(settings),
            group_id=group_id(settings),
            routes=routes,
            fetch_schema=fetch_schema,
            poll_seconds=min(0.2, settings.sink_batch_seconds),
            extra_config=FETCH_CONFIG,
        )
        self.serve_queries = serve_queries
        self.kanon = KAnonymityMonitor(
            self.backend, settings.clickhouse_database, self.writers[QUALITY_TABLE].spec,
            settings.privacy_monitor_seconds,
            also=(OverdueSubscriptions(self.backend, settings.clickhouse_database).check,
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
            self.consumer.prepare()
            if on_ready is not None:
                on_ready(url)
            try:
                next_lag = time.monotonic() + LAG_EVERY_S
                with scheduled_collection() as collector:
                    while not stop.is_set():
                        self.consumer.step()
                        collector.tick()
                        if time.monotonic() >= next_lag:
                            self._report_lag()
                            next_lag = time.monotonic() + LAG_EVERY_S
                    self.consumer.finish()
            finally:
                self.consumer.close()
        self.stats.rows = self.rows_inserted
        self.stats.messages = self.consumer.messages_read

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

    def _report_lag(self) -> None:
        report_lag(group_id(self.settings), self.consumer.lag())


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
