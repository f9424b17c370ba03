"""The ``govbus`` command line: parses arguments, calls the wings, prints results."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from govbus.cli_status import status
from ops.kafka_client import kafka_config
from ops.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from connectors.simulate import ChangeTarget
    from govbus.bench.stage_rates import StageBenchResult
    from topics.dead_letters import DeadLetterView

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="govbus: the city's government data integration bus.",
)
stack_app = typer.Typer(no_args_is_help=True, help="The local Kafka broker and schema registry.")
topics_app = typer.Typer(no_args_is_help=True, help="Topics as code: the catalog.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures.")
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(bench_app, name="bench")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead-letter queues: rejections and replay.")
app.add_typer(dlq_app, name="dlq")
users_app = typer.Typer(no_args_is_help=True, help="SCRAM users of the broker's principals.")
app.add_typer(users_app, name="users")

DLQ_PREFETCH_KB = 4096

# Piped output (CI logs, `| less`) gets wide lines rather than 80-column wrapping.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def operator_settings() -> Settings:
    """The operator's tools (tail, dlq, status, benchmarks' drivers) connect as the admin."""
    from govbus.wiring import connect
    from topics.principals import ADMIN

    return connect(get_settings(), ADMIN)


# ---------------------------------------------------------------- stack


@stack_app.command("up")
def stack_up(
    cdc: Annotated[
        bool,
        typer.Option(help="Also the department PostgreSQL for change data capture (started "
                     "anyway while a connector is configured)"),
    ] = False,
    brokers: Annotated[
        int | None,
        typer.Option(min=1, max=5, help="Kafka nodes (default GOVBUS_KAFKA_BROKERS, 1); 3 "
                     "replicates every topic three times, min.insync.replicas=2"),
    ] = None,
) -> None:
    """Start the local broker(s) and registry (harmless when already up)."""
    from govbus.demo import start_audit_shipper
    from ops.stack.manager import LocalStack

    settings = get_settings()
    if brokers is not None and brokers != settings.kafka_brokers:
        settings = settings.model_copy(update={"kafka_brokers": brokers})
        out.print(f"kafka: {brokers} nodes; give the other commands GOVBUS_KAFKA_BROKERS="
                  f"{brokers} too (their bootstrap list and the topics' replicas)")
    stack = LocalStack(settings)
    for line in stack.up(cdc=cdc):
        out.print(line)
    start_audit_shipper(settings, stack, out.print)


@stack_app.command("kill")
def stack_kill(
    service: Annotated[str, typer.Argument(help="kafka (kafka-1, kafka-2, ... with several "
                                           "brokers) or registry")],
) -> None:
    """SIGKILL one service, as a crash would (a fault drill); `govbus stack up` starts it
    again on the same ports and data."""
    from ops.stack.faults import service_faults
    from ops.stack.process import StackError

    faults = service_faults(get_settings())
    if service not in faults:
        raise fail(f"no service {service!r} here: one of {', '.join(faults)}")
    try:
        pid = faults[service].kill()
    except StackError as exc:
        raise fail(str(exc)) from None
    out.print(f"{service}: killed (pid {pid}); `govbus stack up` starts it again")


@stack_app.command("down")
def stack_down() -> None:
    """Stop every local service; nothing is left running."""
    from ops.stack.manager import LocalStack

    for line in LocalStack(get_settings()).down():
        out.print(line)


@stack_app.command("status")
def stack_status() -> None:
    """Show which local services run, with pid and address."""
    from ops.stack.manager import LocalStack

    table = Table("service", "state", "pid", "address")
    healthy = True
    for service in LocalStack(get_settings()).status():
        table.add_row(service.name, service.state, str(service.pid or "-"), service.address)
        healthy = healthy and service.state == "ready"
    out.print(table)
    if not healthy:
        raise typer.Exit(3)


# ---------------------------------------------------------------- topics


@topics_app.command("apply")
def topics_apply() -> None:
    """Create or update every catalog topic, register its schemas and, with security on,
    create the principals' users and apply their ACLs; then publish the resource catalog."""
    from govbus.resource_catalog import publish_catalog
    from govbus.sharing import subscribed
    from govbus.wiring import audit_changes, topic_admin
    from topics.catalog import catalog_for

    settings = operator_settings()
    table = Table("topic / principal", "action", "detail")
    admin = topic_admin(settings, subscribed(settings))
    for change in admin.apply(catalog_for(settings).all):
        table.add_row(change.topic, change.action, change.detail)
    out.print(table)
    audit_changes(settings, admin.access_changes)
    made = publish_catalog(settings)
    out.print(f"resource catalog: {made.revised} entries published, {made.withdrawn} "
              f"withdrawn, {made.unchanged} unchanged", highlight=False)


@topics_app.command("list")
def topics_list() -> None:
    """Show the catalog: layer, partitions, retention, cleanup, owner, grade, schemas."""
    from topics.catalog import catalog_for

    table = Table(
        "topic", "layer", "parts", "retention", "cleanup", "dept", "grade", "value schema"
    )
    for topic in catalog_for(get_settings()).all:
        value = topic.value_schema() if topic.value_schema else None
        retention = "forever" if topic.retention_ms < 0 else f"{topic.retention_ms // 86_400_000}d"
        table.add_row(
            topic.name,
            topic.layer,
            str(topic.partitions),
            retention,
            topic.cleanup,
            topic.dept,
            topic.grade,
            f"{value['namespace']}.{value['name']}" if value else "-",
        )
    out.print(table)


# ---------------------------------------------------------------- users

PrincipalName = Annotated[str, typer.Argument(help="Principal, as `govbus users list` shows")]


@users_app.command("list")
def users_list() -> None:
    """The declared principals, their roles, and whether the broker has their user."""
    from govbus.wiring import access_admin
    from topics.principals import principals

    existing = access_admin(operator_settings()).users()
    table = Table("principal", "role", "grants", "user on broker")
    for principal in principals(get_settings()):
        table.add_row(principal.name, principal.role, str(len(principal.grants)),
                      "yes" if principal.name in existing else "no")
    out.print(table)


@users_app.command("add")
def users_add(name: PrincipalName) -> None:
    """Create a declared principal's SCRAM user; its password goes to the access folder."""
    _change_user("add", name)


@users_app.command("rotate")
def users_rotate(name: PrincipalName) -> None:
    """Give a principal a new password (its processes pick it up on their next start)."""
    _change_user("rotate", name)


@users_app.command("remove")
def users_remove(name: PrincipalName) -> None:
    """Delete a principal's SCRAM user and its password file; its ACLs stay declared."""
    _change_user("remove", name)


def _change_user(action: str, name: str) -> None:
    from govbus.wiring import access_admin, audit_changes
    from topics.principals import principal

    try:
        principal(name, get_settings())
    except KeyError as exc:
        raise fail(str(exc.args[0]), 2) from None
    settings = operator_settings()
    admin = access_admin(settings)
    change = getattr(admin, action)(name)
    audit_changes(settings, [change])
    where = "" if action == "remove" else f"; password in {admin.access.password_file(name)}"
    out.print(f"{change.kind}: {name}{where}")


# ---------------------------------------------------------------- audit

audit_app = typer.Typer(invoke_without_command=True,
                        help="The audit trail: denials, user and ACL changes, queries.")
app.add_typer(audit_app, name="audit")


@audit_app.callback()
def audit_list(
    ctx: typer.Context,
    last: Annotated[int, typer.Option(min=1, help="How many recent events")] = 30,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. broker.denied")] = None,
) -> None:
    """List recent audit events (broker denials are shipped first)."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from govbus.wiring import registry, ship_denials
    from topics.catalog import catalog_for
    from topics.reader import TopicReader

    settings = operator_settings()
    if settings.manage_stack:
        ship_denials(settings)
    reader = TopicReader(kafka_config(settings), registry(settings),
                         catalog_for(settings).audit.name)
    events = [m.value for m in reader.messages(idle_timeout_s=2.0)
              if m.value is not None and (kind is None or m.value["kind"] == kind)]
    events.sort(key=lambda e: e["source_ts_ms"])
    table = Table("time (UTC)", "kind", "principal", "action", "resource", "outcome", "detail",
                  title=f"audit: {min(last, len(events))} of {len(events)} events")
    for event in events[-last:]:
        when = datetime.fromtimestamp(event["source_ts_ms"] / 1000, UTC)
        table.add_row(when.strftime("%Y-%m-%d %H:%M:%S"), event["kind"], event["principal"],
                      event["action"][:80], event["resource"], event["outcome"],
                      event["detail"][:60])
    out.print(table)


@audit_app.command("ship")
def audit_ship(
    follow: Annotated[bool, typer.Option(help="Keep shipping until stopped")] = False,
) -> None:
    """Ship the local broker's authorization denials to the audit topic."""
    import signal
    import threading

    from govbus.wiring import ship_denials

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    shipped = ship_denials(operator_settings(), follow, stopped.is_set)
    out.print(f"shipped {shipped} broker denials")


# ---------------------------------------------------------------- publish / tail


@app.command("publish")
def publish(
    source: Annotated[str, typer.Option("--source", help="Source table, e.g. household.resident")],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="JSON Lines: one change event or row per line",
        ),
    ],
) -> None:
    """Publish change events from a JSON Lines file; bad lines are reported and not sent."""
    from connectors.jsonl import publish_lines
    from govbus.wiring import connect, publishers
    from topics.principals import publisher as publisher_of
    from topics.schemas import row_spec, source_names

    if source not in source_names():
        raise fail(f"unknown source {source!r}; known: {', '.join(source_names())}", 2)
    settings = get_settings()
    connect(settings, publisher_of(row_spec(source).dept))
    publisher = publishers(settings, [source])[source]
    with file.open(encoding="utf-8") as lines:
        report = publish_lines(publisher, lines)
    delivery = publisher.flush()
    for number, reason in report.bad_lines:
        err.print(f"{file}:{number}: {reason}", highlight=False, markup=False)
    out.print(
        f"published {report.published} events to {publisher.topic.name} "
        f"({delivery.delivered} acknowledged, {delivery.failed} failed); "
        f"{len(report.bad_lines)} bad lines"
    )
    for error in delivery.errors:
        err.print(error, markup=False)
    if report.bad_lines or delivery.failed or delivery.pending:
        raise typer.Exit(1)


@app.command("import")
def import_file(
    source: Annotated[str, typer.Option("--source", help="Source table, e.g. household.resident")],
    file: Annotated[Path, typer.Argument(help="A .csv file or an .xlsx workbook (first sheet)")],
    complete: Annotated[bool, typer.Option(
        help="The file is the whole table: rows it lacks are deleted (one snapshot run)")] = False,
) -> None:
    """Import a department's table export as snapshot reads; columns by header through the
    source's declaration. One bad row and nothing is sent; a re-import changes nothing."""
    from connectors.file_import import ImportFileError, prepare
    from govbus.wiring import connect, publishers
    from topics.cdc import department_table
    from topics.principals import publisher as publisher_of
    from topics.schemas import row_spec, source_names

    if source not in source_names():
        raise fail(f"unknown source {source!r}; known: {', '.join(source_names())}", 2)
    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    settings = get_settings()
    connect(settings, publisher_of(row_spec(source).dept))
    publisher = publishers(settings, [source])[source]
    try:
        events, report = prepare(file, department_table(source), publisher, complete)
    except ImportFileError as exc:
        raise fail(f"{file}: {exc}", 2) from None
    for number, reason in report.bad_rows:
        err.print(f"{file}:{number}: {reason}", highlight=False, markup=False)
    if report.bad_rows:
        raise fail(f"{len(report.bad_rows)} bad rows of {report.rows}: nothing sent")
    for event in events:
        publisher.send(event)
    delivery = publisher.flush()
    out.print(f"imported {len(events)} rows of {file.name} to {publisher.topic.name} as "
              f"snapshot reads ({delivery.delivered} acknowledged, {delivery.failed} failed)")
    if delivery.failed or delivery.pending:
        for error in delivery.errors[:5]:
            err.print(error, markup=False)
        raise typer.Exit(1)


@app.command("tail")
def tail(
    topic: Annotated[str, typer.Argument(help="Topic name, as `govbus topics list` shows it")],
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Stop after N")] = None,
    from_end: Annotated[bool, typer.Option("--from-end", help="Only new messages")] = False,
    idle: Annotated[float, typer.Option(help="Stop after this many idle seconds")] = 5.0,
) -> None:
    """Decode and print a topic's messages as JSON lines."""
    from govbus.wiring import registry
    from topics.catalog import catalog_for
    from topics.reader import TopicReader

    settings = operator_settings()
    try:
        name = catalog_for(settings).by_name(topic).name
    except KeyError as exc:
        raise fail(str(exc.args[0]), 2) from None
    reader = TopicReader(kafka_config(settings), registry(settings), name, not from_end)
    for message in reader.messages(max_messages, idle):
        record: dict[str, object] = {
            "partition": message.partition,
            "offset": message.offset,
            "key": message.key,
            "value": message.value,
        }
        if message.headers:
            record["headers"] = message.headers
        if message.error:
            record["error"] = message.error
        sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


@app.command("simulate")
def simulate(
    rate: Annotated[float, typer.Option(min=0.1, help="Change events per second")] = 200.0,
    duration: Annotated[float, typer.Option(min=0.0, help="Seconds of changes")] = 30.0,
    seed: Annotated[int, typer.Option(help="Same seed, same events")] = 1,
    defect_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of events with a defect")
    ] = 0.05,
    population: Annotated[int, typer.Option(min=10, help="Residents in the snapshot")] = 200,
    via: Annotated[str, typer.Option(
        help="kafka: publish through the SDK; postgres: write the departments' own tables "
             "with SQL, for Debezium to carry (`govbus stack up --cdc`)")] = "kafka",
) -> None:
    """Realistic, consistent changes of the four department systems, published or written
    to their databases."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from connectors.simulate import run_simulation
    from connectors.simulator import DepartmentSimulator

    if via not in ("kafka", "postgres"):
        raise fail(f"--via {via!r} is not one of kafka, postgres", 2)
    simulator = DepartmentSimulator(seed=seed, defect_rate=defect_rate, population=population)
    settings = get_settings()
    targets: Mapping[str, ChangeTarget] = (
        _department_tables(settings) if via == "postgres" else _publishers(settings))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("publishing", total=None)
        report = run_simulation(
            simulator, targets, rate, duration, lambda done: bar.update(task, completed=done)
        )
    table = Table("source", "events")
    for source, count in sorted(report.by_source.items()):
        table.add_row(source, str(count))
    out.print(table)
    made = (f"{report.published} events ({report.snapshot} snapshot reads, "
            f"{report.changes} changes, {sum(report.defects.values())} with injected defects)")
    if via == "postgres":
        # A department's database refuses some defects (a row without its key): they never
        # become changes, as in a real system.
        out.print(f"wrote {made} as SQL: {report.delivery.delivered} committed, "
                  f"{report.delivery.failed} refused by the database")
        for error in report.delivery.errors[:3]:
            err.print(f"refused: {error}", markup=False)
        return
    out.print(f"published {made}; {report.delivery.delivered} acknowledged, "
              f"{report.delivery.failed} failed")
    if report.delivery.failed or report.delivery.pending:
        for error in report.delivery.errors[:5]:
            err.print(error, markup=False)
        raise typer.Exit(1)


@bench_app.command("publisher")
def bench_publisher(
    events: Annotated[int, typer.Option(min=1000, help="Events to publish")] = 50_000,
) -> None:
    """Publisher events/s into the local broker next to the bare Avro encode rate."""
    from govbus.bench.publisher_rate import run
    from govbus.wiring import publishers, topic_admin
    from topics.catalog import Layer, catalog_for
    from topics.schemas import source_names

    settings = operator_settings()
    topic_admin(settings).apply(catalog_for(settings).by_layer(Layer.RAW))
    result = run(publishers(settings, list(source_names())), events)
    out.print(f"events:                 {result.events}")
    out.print(f"bare Avro encode:       {result.bare_encode_per_s:,.0f} events/s")
    out.print(f"publisher (acks=all):   {result.publisher_per_s:,.0f} events/s")
    out.print(f"ratio:                  {result.ratio:.0%} of the bare encode rate")


@app.command("worker")
def worker(
    role: Annotated[str, typer.Option(help="raw (standardize, facts), theme, or all")] = "all",
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug")] = "warn",
) -> None:
    """Run a streams worker until stopped; start one per core and role."""
    import logging

    if loglevel not in LOG_LEVELS:
        raise fail(f"--loglevel {loglevel!r} is not one of {', '.join(LOG_LEVELS)}", 2)
    from streams.runtime.worker import ROLES, run_worker

    if role not in ROLES:
        raise fail(f"--role {role!r} is not one of {', '.join(ROLES)}", 2)
    logging.basicConfig(
        level=LOG_LEVELS[loglevel], format="[%(asctime)s] %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    from govbus.keys import pseudonymizer

    keyed = pseudonymizer(settings) if role != "theme" else None  # before any connection
    for principal in WORKER_PRINCIPALS[role]:
        _require_topics(settings, principal)
    from govbus.lineage import reported_runs, worker_flows
    from topics.catalog import catalog_for

    with reported_runs(settings, worker_flows(catalog_for(settings), role)):
        code = run_worker(settings, role, keyed)
    if code:
        raise typer.Exit(code)


def _publishers(settings: Settings) -> Mapping[str, ChangeTarget]:
    from govbus.wiring import connect, publishers
    from topics.principals import publisher
    from topics.schemas import row_spec, source_names

    for dept in sorted({row_spec(s).dept for s in source_names()}):
        connect(settings, publisher(dept))
    return publishers(settings, list(source_names()))


def _department_tables(settings: Settings) -> Mapping[str, ChangeTarget]:
    """The declared tables in the local department PostgreSQL, each with its connector."""
    import psycopg

    from govbus.wiring import department_targets
    from ops.stack.connect import ConnectError
    from ops.stack.process import StackError
    from topics.cdc import DEPARTMENT_TABLES

    try:
        return department_targets(settings, [t.source for t in DEPARTMENT_TABLES],
                                  lambda line: err.print(line, markup=False))
    except (psycopg.Error, StackError) as exc:
        raise fail(f"the department PostgreSQL is not usable: {exc} "
                   "(run `govbus stack up --cdc`)") from None
    except ConnectError as exc:
        raise fail(f"Kafka Connect: {exc} (run `govbus stack up --cdc`)") from None


LOG_LEVELS = {"crit": 50, "error": 40, "warn": 30, "info": 20, "debug": 10}
WORKER_PRINCIPALS = {"raw": ("raw-worker",), "theme": ("theme-worker",),
                     "all": ("raw-worker", "theme-worker")}


def _require_topics(settings: Settings, principal: str) -> None:
    """A worker needs its principal's access and its topics: say so at once, not as a loop
    failing on a partition or a client logging refused handshakes."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from govbus.wiring import connect
    from topics.principals import principal_topics

    chosen = connect(settings, principal)
    try:
        listed = AdminClient({**kafka_config(chosen), "log_level": 0}).list_topics(timeout=10)
    except KafkaException as exc:
        raise fail(f"cannot reach Kafka at {settings.kafka_servers}: {exc}") from None
    missing = [t for t in principal_topics(principal, settings) if t not in listed.topics]
    if missing:
        raise fail(f"{len(missing)} catalog topics do not exist, {missing[0]} among them: "
                   "run `govbus topics apply` first")


@bench_app.command("standardize")
def bench_standardize(
    events: Annotated[int, typer.Option(min=1000, help="Raw events to pre-fill")] = 50_000,
) -> None:
    """One worker's sustained standardize events/s next to the bare per-event loop."""
    from govbus.bench import stage_runs

    _print_stage_bench(stage_runs.standardize(events),
                       "bare loop (decode, rules, masking, facts, encode)",
                       "raw worker (1 process)")


@bench_app.command("theme")
def bench_theme(
    events: Annotated[int, typer.Option(min=1000, help="Raw events to pre-fill")] = 50_000,
) -> None:
    """Raw-to-theme events/s of one `worker --role all` process next to the bare loop."""
    from govbus.bench import stage_runs

    _print_stage_bench(stage_runs.raw_to_theme(events), "bare loop (both layers, same work)",
                       "raw-to-theme worker (1 process)")


@bench_app.command("soak")
def bench_soak(
    minutes: Annotated[int, typer.Option(min=1, help="Minutes of steady load")] = 30,
    rate: Annotated[float, typer.Option(min=1.0, help="Change events per second")] = 1000.0,
    population: Annotated[int | None, typer.Option(
        min=10, help="Residents of the simulated city at the start [default: 20,000]")] = None,
) -> None:
    """The whole pipeline at a steady rate: every minute each process's RSS (the median and
    the peak of 12 samples), and at the end its growth from minute 5 (the target: under 10%
    over 30 minutes at 1,000 events/s)."""
    from govbus.bench.pipelines import sigterm_as_interrupt
    from govbus.bench.soak import BASELINE_MINUTE, SOAK_POPULATION, run

    with sigterm_as_interrupt():
        result = run(minutes, rate, lambda text: err.print(text, highlight=False),
                     population or SOAK_POPULATION)
    for name, growth in result.growth().items():
        shown = "-" if growth is None else f"{growth:+.1%}"
        out.print(f"{name:8} RSS {result.rss_mb[name][-1]:,.0f} MB (the last minute's "
                  f"median); growth from minute {BASELINE_MINUTE}: {shown}", highlight=False)


@bench_app.command("restore")
def bench_restore(
    events: Annotated[int, typer.Option(min=1000, help="Raw events to pre-fill")] = 50_000,
) -> None:
    """The theme worker's state restore: its profile changelog into a fresh store, next to a
    bare read of the same changelog."""
    from govbus.bench.restore_rate import theme_restore

    result = theme_restore(events)
    out.print(f"changelog:    {result.records:,} records, {result.megabytes:,.1f} MB")
    out.print(f"bare read:    {result.bare_mb_per_s:,.1f} MB/s ({result.bare_s:.1f} s)")
    out.print(f"restore:      {result.restore_mb_per_s:,.1f} MB/s ({result.restore_s:.1f} s) "
              f"into {result.store}")
    out.print(f"per GB:       {result.seconds_per_gb:,.0f} s of restore")


def _print_stage_bench(result: StageBenchResult, bare: str, stage: str) -> None:
    width = max(len(bare), len(stage)) + 2
    out.print(f"{'events:':{width}}{result.events}")
    out.print(f"{bare + ':':{width}}{result.bare_per_s:,.0f} events/s")
    out.print(f"{stage + ':':{width}}{result.stage_per_s:,.0f} events/s")
    out.print(f"{'ratio:':{width}}{result.ratio:.0%} of the bare loop")


@app.command("demo")
def demo(
    rate: Annotated[float, typer.Option(min=1.0, help="Change events per second")] = 300.0,
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds of changes")] = 60.0,
    seed: Annotated[int, typer.Option(help="Same seed, same events")] = 1,
    via: Annotated[str, typer.Option(
        help="postgres: the departments write their own PostgreSQL tables and Debezium "
             "carries the changes; kafka: they publish through the SDK; auto: postgres when "
             "PostgreSQL is installed")] = "auto",
) -> None:
    """The whole bus on this machine: stack, pipeline, simulated departments, theme libraries."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from govbus import demo as run
    from govbus.cli_privacy import audit_table
    from govbus.privacy_audit import audit
    from govbus.wiring import admin_settings, registry
    from streams.stages.masking.policy import load_policy
    from topics.annotations import Grade
    from topics.catalog import catalog_for
    from topics.dead_letters import read_dead_letters, summarize
    from topics.reader import TopicReader

    settings = get_settings()
    if via not in ("auto", "kafka", "postgres"):
        raise fail(f"--via {via!r} is not one of auto, kafka, postgres", 2)
    cdc = via == "postgres" or (via == "auto" and run.postgres_available(settings))
    try:
        out.rule("[bold]govbus demo[/]: starting the bus")
        run.start(settings, out.print, cdc)
        how = ("writing their own PostgreSQL tables; Debezium carries the changes" if cdc
               else "publishing through the SDK")
        out.rule(f"simulated departments: {rate:.0f} changes/s for {duration:.0f} s, {how}")
        expected = int(rate * duration)
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=out) as bar:
            task = bar.add_task("publishing", total=None)
            report = run.simulate(settings, rate, duration, seed,
                                  lambda done: bar.update(task, completed=done,
                                                          total=max(done, expected)),
                                  cdc, out.print)
        if cdc:
            out.print(f"wrote {report.published} changes as SQL "
                      f"({sum(report.defects.values())} with injected defects): "
                      f"{report.delivery.delivered} committed, {report.delivery.failed} "
                      "refused by the departments' databases")
        else:
            out.print(f"published {report.published} events "
                      f"({sum(report.defects.values())} with injected defects)")
        with out.status("waiting for the theme libraries to catch up..."):
            profiles = run.wait_for_landing(settings)
        out.rule(f"theme libraries: {profiles} profiles landed in ClickHouse")
        for summary in run.summaries(settings):
            table = Table(*summary.columns, title=summary.title)
            for row in summary.rows:
                table.add_row(*(str(v) for v in row))
            out.print(table)
        out.rule(f"re-identification risk: k-anonymity per library (k={settings.privacy_k})")
        for line in run.kanon_summary(settings):
            out.print(line, highlight=False)
        minimum = load_policy().min_candidates[Grade.CORE]
        out.print(audit_table(audit(settings, minimum), minimum))
        out.rule("sharing: the resource catalog and a department's subscriptions")
        for line in run.sharing_summary(settings):
            out.print(line, highlight=False)
        out.rule("a consuming department's subscriber: granted, then running (faust)")
        run.subscriber_example(settings,
                               lambda line: out.print(line, highlight=False, markup=False))
        out.rule("lineage: one person's theme row back to each department's raw messages")
        for line in run.lineage_example(settings):
            out.print(line, highlight=False, markup=False)
        admin = admin_settings(settings)
        counts = summarize(read_dead_letters(TopicReader(
            kafka_config(admin), registry(admin), catalog_for(admin).dlq("standardize").name)))
        dlq = Table("reason", "dept", "events",
                    title=f"DLQ: {sum(counts.values())} rejected events")
        for (reason, dept), count in sorted(counts.items(), key=lambda i: -i[1]):
            dlq.add_row(reason, dept, str(count))
        out.print(dlq)
    except KeyboardInterrupt:
        from ops.stack.manager import LocalStack

        err.print("interrupted: stopping everything")
        for line in LocalStack(settings).down():
            err.print(line)
        raise typer.Exit(130) from None
    out.rule("what next")
    for url in run.metrics_urls(settings):
        out.print(f"metrics:  {url}")
    out.print("try:      govbus status --watch")
    out.print("          govbus query \"SELECT * FROM govbus.v_licences_expiring LIMIT 10\"")
    out.print("          govbus tail theme.individual --max 3")
    out.print("          govbus query \"SELECT * FROM govbus.v_k_anonymity\"")
    out.print("          govbus dlq list; govbus connect status")
    out.print("          govbus catalog list; govbus subscribe list")
    out.print("          govbus query \"SELECT code, name, sharing FROM govbus.resource_catalog "
              "FINAL\"")
    out.print(f"          GOVBUS_KAFKA_USER=consumer-market python -m {run.NOTIFIER_MODULE}"
              "   (the subscriber; connectors/subscriber/examples/)")
    out.print("          govbus lineage <a theme row's entity key>")
    out.print("stop:     govbus stack down")


@bench_app.command("cdc")
def bench_cdc(
    rate: Annotated[float, typer.Option(min=1.0, help="Committed changes per second")] = 200.0,
    duration: Annotated[float, typer.Option(min=5.0, help="Seconds of changes")] = 30.0,
) -> None:
    """Change-capture latency: a row committed in the department's PostgreSQL until its theme
    row is queryable, p50/p99, next to the same changes published through the SDK."""
    from govbus.bench.cdc_latency import run

    try:
        results = run(rate, duration, lambda line: err.print(line, markup=False))
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    table = Table("path", "changes", "theme rows timed", "p50 ms", "p99 ms",
                  title=f"change to queryable theme row at {rate:,.0f} changes/s")
    for result in results:
        table.add_row("PostgreSQL -> Debezium" if result.path == "cdc" else "publisher SDK",
                      f"{result.changes:,}", f"{result.rows:,}", str(result.p50_ms),
                      str(result.p99_ms))
    out.print(table)


@bench_app.command("e2e")
def bench_e2e(
    rates: Annotated[
        str, typer.Option(help="Publish rates, events/s, comma-separated; 0 = max sustained")
    ] = "0,500,1000,2000",
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds of publishing per rate")] = 30.0,
    events: Annotated[
        int, typer.Option(min=1000, help="Pre-filled raw events of the max-sustained run")
    ] = 20_000,
    pipelines: Annotated[str, typer.Option(help="Comma-separated: govbus, baseline")] = (
        "govbus,baseline"
    ),
    json_path: Annotated[Path, typer.Option("--json", help="Where to write all figures")] = Path(
        "bench-results/e2e.json"
    ),
) -> None:
    """The whole pipeline (worker + sink) at fixed publish rates next to a per-event faust
    baseline: throughput, p50/p99 source time -> queryable row, and their ratio."""
    from govbus.bench import pipelines as bench

    try:
        rate_list = [float(r) for r in rates.split(",") if r.strip()]
    except ValueError:
        raise fail(f"--rates {rates!r} is not a comma-separated list of numbers", 2) from None
    chosen = [p.strip() for p in pipelines.split(",") if p.strip()]
    if not rate_list or any(r < 0 for r in rate_list):
        raise fail("--rates needs one or more rates >= 0", 2)
    if not chosen or any(p not in bench.PIPELINES for p in chosen):
        raise fail(f"--pipelines must name some of {', '.join(bench.PIPELINES)}", 2)
    report = bench.run(rate_list, duration, events, chosen,
                       lambda line: err.print(line, highlight=False, markup=False))
    table = Table("rate/s", "pipeline", "events", "throughput/s", "kept up", "drain s",
                  "p50 ms", "p99 ms", "theme p50/p99 ms", "rows",
                  title="end to end: source time -> queryable row (theme: -> record rendered)")
    for r in report.runs:
        table.add_row(
            "max" if r.rate <= 0 else f"{r.rate:,.0f}", r.pipeline, f"{r.events:,}",
            "failed" if r.error else f"{r.throughput_per_s:,.0f}",
            "-" if r.rate <= 0 else ("yes" if r.kept_up else "no"),
            "-" if r.drain_s is None else f"{r.drain_s:.2f}",
            "-" if r.p50_ms is None else f"{r.p50_ms:,.0f}",
            "-" if r.p99_ms is None else f"{r.p99_ms:,.0f}",
            "-" if r.theme_p50_ms is None else f"{r.theme_p50_ms:,.0f}/{r.theme_p99_ms or 0:,.0f}",
            "-" if r.rate <= 0 else f"{r.rows_seen:,}",
        )
    out.print(table)
    if report.bare_per_s:
        out.print(f"bare loop (same stage work, no Kafka): "
                  f"{report.bare_per_s:,.0f} events/s")
    for ratio in report.ratios():
        rate = "max sustained" if ratio["rate"] <= 0 else f"{ratio['rate']:,.0f}/s"
        parts = [f"throughput {ratio['throughput_govbus_over_baseline'] or 0:.2f}x"]
        if ratio["p50_baseline_over_govbus"]:
            parts.append(f"latency baseline/govbus p50 {ratio['p50_baseline_over_govbus']:.2f}x, "
                         f"p99 {ratio['p99_baseline_over_govbus'] or 0:.2f}x")
        out.print(f"govbus vs baseline at {rate}: " + ", ".join(parts))
    bench.write_json(report, get_settings(), json_path)
    out.print(f"figures written to {json_path}")
    if any(r.error for r in report.runs):
        raise typer.Exit(1)


def _dead_letters(stage: str) -> Iterator[DeadLetterView]:
    """The stage's DLQ up to its end when asked, a chunk at a time (``read_dead_letters``)."""
    from govbus.wiring import registry
    from topics.catalog import STAGES, catalog_for
    from topics.dead_letters import read_dead_letters
    from topics.reader import TopicReader

    if stage not in STAGES:
        raise fail(f"--stage {stage!r} is not one of {', '.join(STAGES)}", 2)
    settings = operator_settings()
    # librdkafka's prefetch is bounded too (64 MB by default): a few chunks of letters.
    connection = {**kafka_config(settings), "queued.max.messages.kbytes": DLQ_PREFETCH_KB}
    return read_dead_letters(TopicReader(connection, registry(settings),
                                         catalog_for(settings).dlq(stage).name))


@dlq_app.command("list")
def dlq_list(
    stage: Annotated[str, typer.Option(help="Stage whose DLQ to read")] = "standardize",
) -> None:
    """Rejected events by reason and department."""
    from topics.dead_letters import summarize

    counts = summarize(_dead_letters(stage))
    table = Table("reason", "dept", "events",
                  title=f"dlq.{stage}: {sum(counts.values())} events")
    for (reason, dept), count in sorted(counts.items(), key=lambda i: -i[1]):
        table.add_row(reason, dept, str(count))
    out.print(table)


@dlq_app.command("replay")
def dlq_replay(
    stage: Annotated[str, typer.Option(help="Stage whose DLQ to read")] = "standardize",
    reason: Annotated[str | None, typer.Option(help="Only this reason code")] = None,
    dept: Annotated[str | None, typer.Option(help="Only this department")] = None,
    event_id: Annotated[list[str] | None, typer.Option(help="Only these event ids")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be replayed")] = False,
) -> None:
    """Re-publish selected rejected events to their original topic (after a fix). The DLQ
    is read up to its end when the command starts, and replayed a chunk at a time (each
    acknowledged before the next is read)."""
    import time

    from confluent_kafka import Producer

    from ops.runtime.client_config import producer_config
    from ops.runtime.kafka_output import KafkaOutput
    from topics.dead_letters import replay, select

    chosen = select(_dead_letters(stage), reason=reason, dept=dept,
                    event_ids=set(event_id or []))
    if dry_run:
        count = sum(1 for _ in chosen)
        if not count:
            raise fail("no dead letters match the filters", 1)
        out.print(f"would replay {count} events")
        return
    settings = operator_settings()
    output = KafkaOutput(Producer(producer_config(kafka_config(settings), "govbus-dlq-replay")))
    replayed = replay(chosen, output, int(time.time() * 1000))
    if not replayed:
        raise fail("no dead letters match the filters", 1)
    out.print(f"replayed {replayed} events to their original topics")


from govbus.cli_sink import bench_latency, bench_sink, query, sink_app  # noqa: E402

app.add_typer(sink_app, name="sink")
from govbus.cli_privacy import keys_app, privacy_app  # noqa: E402

app.add_typer(privacy_app, name="privacy")
from govbus.cli_catalog import catalog_app  # noqa: E402
from govbus.cli_subscribe import acl_app, subscribe_app  # noqa: E402

app.add_typer(catalog_app, name="catalog")
app.add_typer(subscribe_app, name="subscribe")
app.add_typer(acl_app, name="acl")
app.add_typer(keys_app, name="keys")
app.command("query")(query)
bench_app.command("sink")(bench_sink)
bench_app.command("latency")(bench_latency)


app.command("status")(status)
from govbus.cli_chaos import chaos  # noqa: E402
from govbus.cli_connect import connect_app  # noqa: E402
from govbus.cli_lineage import lineage  # noqa: E402

app.add_typer(connect_app, name="connect")
app.command("lineage")(lineage)
app.command("chaos")(chaos)


def main() -> None:
    """Entry point: one clear line and a non-zero exit for any failure, no traceback.
    ``kill -USR1`` makes a running process print every thread's stack to stderr (a stuck
    worker says where it waits)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        app()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("GOVBUS_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {message}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
