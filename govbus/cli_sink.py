"""``govbus sink ...``, ``govbus query`` and ``govbus bench sink``: the ClickHouse theme
libraries from the command line. Parses arguments, calls ``sinks``, prints."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ops.kafka_client import kafka_config
from ops.settings import get_settings

sink_app = typer.Typer(
    no_args_is_help=True, help="The ClickHouse sink: theme libraries, facts, data quality."
)

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

QUERY_FORMATS = {"table": "jsoncompact", "csv": "csv", "json": "json", "jsonl": "jsoneachrow"}


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


@sink_app.command("migrate")
def sink_migrate() -> None:
    """Create or evolve the database, tables and views (idempotent)."""
    from sinks.clickhouse.backend_factory import open_backend
    from sinks.clickhouse.migration import migrate
    from sinks.clickhouse.tables import sink_tables
    from topics.catalog import catalog_for

    settings = get_settings()
    backend = open_backend(settings)
    try:
        steps = migrate(
            backend,
            settings.clickhouse_database,
            sink_tables(catalog_for(settings), settings.clickhouse_database),
            k=settings.privacy_k,
            cluster=settings.clickhouse_cluster,
        )
    finally:
        backend.close()
    table = Table("object", "kind", "action", "detail", title=settings.clickhouse_database)
    for step in steps:
        table.add_row(step.name, step.kind, step.action, step.detail)
    out.print(table)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    # One line per schema fetched from the registry is noise at info.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


@sink_app.command("run")
def sink_run(
    loglevel: Annotated[str, typer.Option(help="error, warning, info or debug")] = "info",
    serve: Annotated[bool, typer.Option(help="Serve the read-only query endpoint")] = True,
    latency_log: Annotated[Path | None, typer.Option(
        help="Append each profile-table insert's row latencies to this file (benchmarks)")] = None,
) -> None:
    """Sink theme, fact and quality topics into ClickHouse until SIGTERM or Ctrl-C."""
    from ops.runtime.allocator import return_free_memory
    from ops.runtime.unused_libraries import keep_out_unused_libraries

    keep_out_unused_libraries()
    return_free_memory()
    from govbus.bench.latency import LatencyLog
    from govbus.wiring import connect, query_auditor, registry
    from ops.http import start_metrics_server
    from ops.runtime.gc_policy import tune_gc
    from sinks.instrumentation import MetricsObserver, Observers
    from sinks.query_access import query_access
    from sinks.service import SinkService, group_id
    from topics.principals import SINK

    _logging(loglevel)
    settings = connect(get_settings(), SINK)
    stop = _stop_on_signals()
    observer = (MetricsObserver() if latency_log is None
                else Observers(MetricsObserver(), LatencyLog(latency_log)))
    service = SinkService(
        settings, registry(settings).schema_by_id, observer=observer, serve_queries=serve,
        query_access=query_access(
            settings, query_auditor(settings) if settings.secure else None),
    )
    metrics_server = start_metrics_server(settings, "sink")
    tune_gc()

    def ready(url: str | None) -> None:
        if metrics_server is not None:
            metrics_server.set_ready()
        topics = len(service.step.routes)
        where = f"; queries at {url}" if url else ""
        err.print(
            f"sink: {topics} topics -> {settings.clickhouse_database} "
            f"(group {group_id(settings)}){where}",
            highlight=False,
            markup=False,
        )

    from govbus.lineage import reported_run
    from sinks.lineage import sink_flow
    from topics.catalog import catalog_for

    try:
        with reported_run(settings, sink_flow(catalog_for(settings), settings.clickhouse_database)):
            service.run(stop, on_ready=ready)
    finally:
        service.close()
        if metrics_server is not None:
            metrics_server.stop()
    err.print(
        f"sink stopped: {service.stats.messages} messages read, {service.stats.rows} rows sent",
        highlight=False,
    )


@sink_app.command("serve")
def sink_serve() -> None:
    """Serve only the read-only query endpoint (owns the chDB folder; no sinking)."""
    from ops.runtime.unused_libraries import keep_out_unused_libraries

    keep_out_unused_libraries()
    from sinks.clickhouse.backend_factory import open_backend
    from sinks.clickhouse.query_server import QueryServer
    from sinks.query_client import endpoint_file
    from sinks.service import QUERY_HOST, announce, withdraw

    settings = get_settings()
    stop = _stop_on_signals()
    backend = open_backend(settings, read_only=True)
    server = QueryServer(backend, QUERY_HOST, settings.sink_query_port)
    server.start()
    path = announce(endpoint_file(settings), server.url)
    err.print(f"queries at {server.url}", highlight=False)
    try:
        stop.wait()
    finally:
        withdraw(path, server.url)
        server.close()
        backend.close()


def query(
    sql: Annotated[str, typer.Argument(help="One SELECT, SHOW, DESCRIBE, EXPLAIN or WITH")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv, json or jsonl")
    ] = "table",
) -> None:
    """Run one read-only query on the theme libraries and print the result."""
    from sinks.query_client import QueryError, run_query

    if format not in QUERY_FORMATS:
        raise _fail(f"--format {format!r} is not one of {', '.join(QUERY_FORMATS)}", 2)
    try:
        body = run_query(get_settings(), sql, QUERY_FORMATS[format])
    except QueryError as exc:
        raise _fail(str(exc).replace("[", r"\["), 2 if exc.refused else 1) from None
    if format != "table":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    result = json.loads(body)
    table = Table(*(column["name"] for column in result["meta"]))
    for row in result["data"]:
        table.add_row(*(_cell(value) for value in row))
    out.print(table)
    err.print(f"{result.get('rows', len(result['data']))} rows", highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def bench_sink(
    rows: Annotated[int, typer.Option(min=1000, help="Profiles to pre-fill")] = 200_000,
    batch_rows: Annotated[int, typer.Option(min=100, help="Rows per insert")] = 10_000,
    rate: Annotated[float, typer.Option(min=1, help="Events/s of the latency run")] = 1000.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of the latency run")] = 20.0,
) -> None:
    """Sink rows/s into chDB from a pre-filled theme topic next to the bare loop; then the
    sink-stage latency (source time -> queryable row) at a fixed rate."""
    import tempfile
    from pathlib import Path

    from govbus.bench.sink_from_topic import bench_from_topic, sink_latency
    from govbus.bench.stage_runs import fresh_namespace
    from govbus.wiring import registry
    from sinks.clickhouse.chdb_backend import ChdbBackend
    from sinks.clickhouse.tables import profile_table
    from topics.annotations import Category
    from topics.catalog import catalog_for

    with fresh_namespace("bench-sink-") as settings, tempfile.TemporaryDirectory() as folder:
        backend = ChdbBackend(Path(folder))
        try:
            catalog = catalog_for(settings)
            spec = profile_table(catalog, Category.INDIVIDUAL, "bench").spec
            schemas = registry(settings)
            topic = catalog.theme(Category.INDIVIDUAL)
            result = bench_from_topic(
                backend, spec, kafka_config(settings), schemas, topic, rows, batch_rows,
                settings.sink_batch_seconds,
            )
            for line in result.lines():
                out.print(line, highlight=False)
            latency = sink_latency(
                backend, spec, kafka_config(settings), schemas, topic, rate, duration,
                batch_rows, settings.sink_batch_seconds,
            )
            for line in latency.lines("sink latency (theme topic -> queryable row)"):
                out.print(line, highlight=False)
        finally:
            backend.close()


def bench_latency(
    rate: Annotated[float, typer.Option(min=1, help="Raw change events per second")] = 1000.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds of publishing")] = 30.0,
    drain: Annotated[float, typer.Option(min=1, help="Seconds to wait for the last rows")] = 30.0,
) -> None:
    """End-to-end latency of a RUNNING pipeline (`govbus worker` and `govbus sink run`):
    resident changes published at a fixed rate, source time -> row queryable in
    theme_individual, seen through the sink's query endpoint."""
    import time

    from connectors.simulator import DepartmentSimulator
    from govbus.bench.latency import poll_latency, publish_at_rate, summarize
    from govbus.wiring import publishers
    from sinks.clickhouse.tables import SOURCE_TIME, epoch_ms_expression, profile_table
    from sinks.query_client import QueryError, endpoint_url, run_query
    from topics.annotations import Category
    from topics.catalog import catalog_for

    settings = get_settings()
    source = "household.resident"
    target = publishers(settings, [source])[source]
    total = int(rate * duration)
    simulated = DepartmentSimulator(seed=int(time.time()) % 10_000).events(total * 5)
    events = iter([e for e in simulated if e.source == source])
    spec = profile_table(catalog_for(settings), Category.INDIVIDUAL,
                         settings.clickhouse_database).spec

    def publish(_i: int, ts_ms: int) -> None:
        event = next(events)
        target.publish(event.op, before=event.before, after=event.after,
                       sequence=event.sequence, source_ts_ms=ts_ms, event_id=event.event_id)
        target.poll()

    def ask(sql: str) -> bytes:
        return run_query(settings, sql, "jsoneachrow")

    if not settings.clickhouse_url and endpoint_url(settings) is None:
        raise _fail("no sink is running: start `govbus worker` and `govbus sink run` first")
    try:
        ask(f"SELECT 1 FROM {spec.qualified_name} LIMIT 1")
    except QueryError as exc:
        raise _fail(f"{spec.name} is not queryable: {exc}") from None
    since_ms = time.time_ns() // 1_000_000
    found: list[float] = []
    poller = threading.Thread(
        target=lambda: found.extend(
            poll_latency(ask, spec.qualified_name, epoch_ms_expression(spec.schema, SOURCE_TIME),
                         since_ms, total, duration + drain)
        ),
        daemon=True,
    )
    poller.start()
    published = publish_at_rate(publish, rate, duration)
    target.flush(60)
    poller.join()
    result = summarize(found, rate, published)
    for line in result.lines(f"end to end ({source} publish -> {spec.name} row)"):
        out.print(line, highlight=False)
    if not found:
        raise _fail("no row arrived: is `govbus worker` running against this namespace?")
