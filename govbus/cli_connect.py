"""``govbus connect add|list|status|remove``: department tables carried by change data capture
(the stock Debezium connector on the local Kafka Connect worker)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ops.settings import Settings, get_settings

if TYPE_CHECKING:
    from ops.stack.connect import ConnectorState, ConnectWorker

connect_app = typer.Typer(no_args_is_help=True,
                          help="Change data capture: department tables through Debezium.")

Source = Annotated[str, typer.Argument(help="Source, e.g. household.resident (see `list`)")]


def _worker(settings: Settings) -> ConnectWorker:
    from govbus.cli import fail
    from ops.stack.connect import ConnectWorker

    worker = ConnectWorker(settings)
    if not worker.ready():
        raise fail(f"Kafka Connect is not answering at {worker.url}: run `govbus topics apply` "
                   "and `govbus stack up --cdc`")
    return worker


def _declared(source: str) -> None:
    from govbus.cli import fail
    from topics.cdc import department_table

    try:
        department_table(source)
    except KeyError as exc:
        raise fail(str(exc.args[0]), 2) from None


@connect_app.command("add")
def connect_add(
    source: Source,
    snapshot: Annotated[str, typer.Option(
        help="initial (the table's rows first, as reads), no_data (changes from now on) or "
             "when_needed")] = "initial",
) -> None:
    """Render the declared table's Debezium connector and submit it (create or update)."""
    from govbus.cli import fail, out
    from govbus.wiring import cdc_connector
    from ops.stack.connect import ConnectError

    settings = get_settings()
    _declared(source)
    if snapshot not in ("initial", "no_data", "when_needed"):
        raise fail(f"unknown snapshot mode {snapshot!r}: initial, no_data or when_needed", 2)
    worker = _worker(settings)
    name, config = cdc_connector(settings, source, snapshot)
    try:
        created = worker.put_config(name, config)
    except ConnectError as exc:
        raise fail(str(exc)) from None
    worker.mark_configured(name, True)
    topic = config["transforms.route.replacement"]
    out.print(f"{name}: {'created' if created else 'updated'} -> {topic} "
              f"(slot {config['slot.name']}, snapshot {snapshot})")
    state = _settled(worker, name)
    out.print(f"{state.summary()}" + (f": {state.trace.splitlines()[0]}" if state.trace else ""))
    if not state.healthy:
        raise typer.Exit(1)


def _settled(worker: ConnectWorker, name: str, timeout_s: float = 30.0) -> ConnectorState:
    """The connector's state once its task runs or fails (or the timeout passes)."""
    from ops.stack.connect import ConnectError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            state = worker.connector_state(name)
        except ConnectError:
            state = None
        if state is not None and (state.healthy or "FAILED" in (state.state, *state.tasks)):
            return state
        if time.monotonic() > deadline:
            if state is None:
                raise ConnectError(f"{name}: no status after {timeout_s:.0f} s")
            return state
        time.sleep(0.5)


@connect_app.command("list")
def connect_list() -> None:
    """The declared department tables, their raw topics and connectors (with state)."""
    from govbus.cli import out
    from ops.stack.connect import ConnectError, ConnectWorker
    from topics.catalog import catalog_for
    from topics.cdc import DEPARTMENT_TABLES

    settings = get_settings()
    worker = ConnectWorker(settings)
    running = worker.ready()
    table = Table("source", "department table", "raw topic", "connector", "state")
    for declared in DEPARTMENT_TABLES:
        name = declared.connector_name(settings.topic_namespace)
        state = "worker down"
        if running:
            try:
                state = (worker.connector_state(name).summary().removeprefix(name).strip()
                         if name in worker.connectors() else "not added")
            except ConnectError as exc:
                state = str(exc)
        table.add_row(declared.source,
                      f"{declared.database}.{declared.qualified_table}",
                      catalog_for(settings).raw(declared.source).name, name, state)
    out.print(table)


@connect_app.command("status")
def connect_status() -> None:
    """Every connector on the worker, its tasks, and the first line of any failure."""
    from govbus.cli import out

    worker = _worker(get_settings())
    table = Table("connector", "state", "tasks", "failure")
    healthy = True
    for name in sorted(worker.connectors()):
        state = worker.connector_state(name)
        healthy = healthy and state.healthy
        table.add_row(name, state.state, ", ".join(state.tasks) or "-",
                      state.trace.splitlines()[0][:120] if state.trace else "")
    out.print(table)
    if not healthy:
        raise typer.Exit(3)


@connect_app.command("remove")
def connect_remove(source: Source) -> None:
    """Delete the table's connector; on the local department database also its replication
    slot and publication (a slot left behind keeps the database's WAL forever)."""
    from govbus.cli import out
    from ops.stack.postgres import PostgresServer
    from topics.cdc import department_table

    settings = get_settings()
    _declared(source)
    table = department_table(source)
    worker = _worker(settings)
    name = table.connector_name(settings.topic_namespace)
    removed = worker.delete(name)
    worker.mark_configured(name, False)
    out.print(f"{name}: {'removed' if removed else 'was not there'}")
    postgres = PostgresServer(settings)
    if settings.manage_stack and postgres.ready():
        slot = table.slot_name(settings.topic_namespace)
        dropped = postgres.drop_slot(table.database, slot)
        out.print(f"slot and publication {slot}: {'dropped' if dropped else 'not there'}")
