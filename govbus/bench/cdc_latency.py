"""`govbus bench cdc`: change-capture latency, a row committed in the department's PostgreSQL
until its theme row is queryable in ClickHouse, next to the same changes published through
the SDK in the same run.

The CDC run writes the household registry's resident table (in a database of the benchmark's
own, so a demo's connector never sees it) at a fixed rate with SQL; the stock Debezium
connector, on a Connect worker of the run's namespace, carries each commit to the raw topic;
the worker and the sink run as in production. A theme row's source time is the commit time
Debezium reports (``source.ts_ms``), and the sink logs when each row's insert was
acknowledged (``sink run --latency-log``): the difference is the latency. The SDK run
publishes the same changes (stamped when sent) through the publisher instead.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

from psycopg import sql

from connectors.department_db import TableWriter, create_table
from connectors.simulator import DepartmentSimulator, SimulatedEvent
from govbus.bench.latency import percentile, publish_at_rate, read_latency_log
from govbus.bench.pipelines import (
    SINK_ARGV,
    STARTUP_TIMEOUT_S,
    Processes,
    _ms,
    _wait,
    isolated_run,
    latency_log,
    worker_argv,
)
from govbus.wiring import cdc_connector, department_connection, publishers
from ops.settings import Settings
from ops.stack.connect import ConnectWorker
from ops.stack.postgres import PostgresServer
from sinks.query_client import endpoint_url
from topics.cdc import DepartmentTable, department_table

SOURCE = "household.resident"
BENCH_DATABASE = "govbus_bench"
Say = Callable[[str], None]


@dataclass(frozen=True)
class LatencyRun:
    path: str  # cdc | sdk
    rate: float
    changes: int
    rows: int  # theme rows whose latency was logged
    p50_ms: float | None
    p99_ms: float | None


def run(rate: float, duration_s: float, say: Say) -> list[LatencyRun]:
    """The CDC path, then the SDK path, over the same resident changes."""
    simulator = DepartmentSimulator(seed=17, defect_rate=0.0)
    snapshot = [e for e in simulator.initial_snapshot() if e.source == SOURCE]
    changes = list(islice((e for e in simulator.changes() if e.source == SOURCE),
                          int(rate * duration_s)))
    return [_cdc(snapshot, changes, rate, duration_s, say),
            _sdk(snapshot, changes, rate, duration_s, say)]


def _cdc(snapshot: list[SimulatedEvent], changes: list[SimulatedEvent], rate: float,
         duration_s: float, say: Say) -> LatencyRun:
    with isolated_run("bench-cdc-", say) as (settings, processes), \
            _department_table(settings, say) as (writer, table):
        _pipeline(settings, processes)
        # A worker of the run's namespace, beside any the stack runs.
        connect = ConnectWorker(settings.model_copy(update={"connect_rest_port": _free_port()}))
        say("cdc: starting a Connect worker for the run and its connector")
        connect.start()
        try:
            name, config = cdc_connector(settings, SOURCE, table=table)
            connect.put_config(name, config)
            _apply(writer, snapshot)  # the warm-up: the connector's first records
            return _measure("cdc", settings, processes, rate, duration_s, say,
                            lambda i, _ts: _apply(writer, [changes[i]]), len(changes))
        finally:
            connect.stop()
            PostgresServer(settings).drop_slot(table.database,
                                               table.slot_name(settings.topic_namespace))


def _sdk(snapshot: list[SimulatedEvent], changes: list[SimulatedEvent], rate: float,
         duration_s: float, say: Say) -> LatencyRun:
    with isolated_run("bench-cdc-sdk-", say) as (settings, processes):
        _pipeline(settings, processes)
        publisher = publishers(settings, [SOURCE])[SOURCE]

        def publish(event: SimulatedEvent, ts_ms: int) -> None:
            publisher.publish(event.op, before=event.before, after=event.after,
                              sequence=event.sequence, source_ts_ms=ts_ms)
            publisher.poll()

        for event in snapshot:
            publish(event, time.time_ns() // 1_000_000)
        return _measure("sdk", settings, processes, rate, duration_s, say,
                        lambda i, ts: publish(changes[i], ts), len(changes))


def _pipeline(settings: Settings, processes: Processes) -> None:
    processes.start("sink", [*SINK_ARGV, "--latency-log", str(latency_log(settings))])
    processes.start("worker", worker_argv("govbus"))
    if not _wait(lambda: endpoint_url(settings) is not None, STARTUP_TIMEOUT_S, processes):
        raise RuntimeError("the sink announced no query endpoint in time")


def _measure(path: str, settings: Settings, processes: Processes, rate: float,
             duration_s: float, say: Say, send: Callable[[int, int], None],
             total: int) -> LatencyRun:
    log = latency_log(settings)
    # The warm-up has landed once the sink logged rows and then fell quiet.
    _wait(lambda: log.exists() and time.time() - log.stat().st_mtime > 3.0, STARTUP_TIMEOUT_S,
          processes)
    since_ms = time.time_ns() // 1_000_000
    say(f"{path}: {total:,} changes at {rate:,.0f}/s")
    sent = publish_at_rate(send, rate, duration_s)
    _wait(lambda: time.time() - log.stat().st_mtime > 5.0, max(60.0, duration_s), processes)
    processes.check()
    queryable, _ = read_latency_log(log, since_ms)
    latencies = sorted(queryable)
    return LatencyRun(path, rate, sent, len(latencies),
                      _ms(percentile(latencies, 0.50)), _ms(percentile(latencies, 0.99)))


@contextmanager
def _department_table(settings: Settings, say: Say) -> Iterator[tuple[TableWriter,
                                                                      DepartmentTable]]:
    """The resident table, empty, in the benchmark's own database of the local department
    PostgreSQL (`govbus stack up --cdc`)."""
    table = dataclasses.replace(department_table(SOURCE), database=BENCH_DATABASE)
    postgres = PostgresServer(settings)
    if not postgres.ready():
        raise RuntimeError("the department PostgreSQL is not running: `govbus stack up --cdc`")
    connection = department_connection(settings, table.database)
    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
        sql.Identifier(table.schema, table.table)))
    try:
        connection.execute(create_table(table))
        say(f"cdc: {table.database}.{table.qualified_table} created")
        yield TableWriter(table, connection), table
    finally:
        connection.close()


def _apply(writer: TableWriter, events: list[SimulatedEvent]) -> None:
    for event in events:
        writer.publish(event.op, before=event.before, after=event.after)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
