"""``govbus chaos``: the fault matrix, one row per fault."""

from __future__ import annotations

from typing import Annotated

import typer


def chaos(
    fault: Annotated[list[str] | None, typer.Option(
        help="A fault to run (repeatable; default: every fault). See --list.")] = None,
    rate: Annotated[float, typer.Option(min=1.0, help="Change events per second")] = 200.0,
    seconds: Annotated[float, typer.Option(min=6.0, help="Seconds of load per fault")] = 60.0,
    short: Annotated[bool, typer.Option(
        help="The short form CI runs: two kills among poison in one load, 100 events/s "
             "for 15 s")] = False,
    membership: Annotated[str, typer.Option(
        help="Each process has an identity kept across restarts (its transactions' name); "
             "static: it is also a static group member (KIP-345); dynamic: not; auto: "
             "static under the classic group protocol, dynamic under KIP-848's (which "
             "refuses a static member restarted before its old session expired)")] = "auto",
    exactly_once: Annotated[bool, typer.Option(
        "--exactly-once/--at-least-once",
        help="The stages' batches as Kafka transactions (GOVBUS_EXACTLY_ONCE), or not")] = True,
    list_faults: Annotated[bool, typer.Option("--list", help="List the faults")] = False,
) -> None:
    """Drive each fault during a steady simulated load, drain, reconcile: events in, in std,
    in the DLQ, lost, duplicated, theme rows differing, and the time to recover."""
    from confluent_kafka import KafkaException
    from rich.table import Table

    from govbus.bench.pipelines import sigterm_as_interrupt
    from govbus.chaos.faults import FAULTS, SHORT
    from govbus.chaos.matrix import run_fault
    from govbus.cli import err, fail, out

    if list_faults:
        for each in FAULTS.values():
            out.print(f"{each.name:22} {each.description}", highlight=False)
        return
    names = list(SHORT) if short and not fault else (
        fault or [n for n in FAULTS if n not in SHORT])
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise fail(f"unknown fault {unknown[0]!r}; `govbus chaos --list` shows them", 2)
    if membership not in ("static", "dynamic", "auto"):
        raise fail(f"--membership {membership!r} is not one of static, dynamic, auto", 2)
    if short:
        rate, seconds = 100.0, 15.0
    table = Table("fault", "events in", "in std", "in DLQ", "lost", "duplicated",
                  "theme rows differing", "ClickHouse rows differing", "clear PII found",
                  "recover s", "resumed s")
    failed = 0

    def say(text: str) -> None:
        err.print(text, highlight=False)

    static = None if membership == "auto" else membership == "static"
    with sigterm_as_interrupt():
        for name in names:
            try:
                row = run_fault(FAULTS[name], rate, seconds, say, static, exactly_once)
            except (TimeoutError, RuntimeError, KafkaException) as exc:
                # A fault the pipeline did not get over is a row of the matrix too; the
                # others still run.
                failed += 1
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                say(f"{name}: failed: {reason}")
                table.add_row(name, *["-"] * 9, f"failed: {reason[:60]}")
                continue
            a = row.accounting
            failed += not row.passed
            cells = (f"{a.events_in:,}", f"{a.in_std:,}", f"{a.in_dlq:,}", str(a.lost),
                     str(a.duplicated), str(row.theme_differing),
                     str(row.clickhouse_differing), str(row.clear_values),
                     _seconds(row.recovery.recover_s), _seconds(row.recovery.resumed_s))
            table.add_row(row.fault, *cells)
            say(f"{row.fault}: " + " | ".join(cells))
            if a.lost_examples or a.duplicated_examples:
                say(f"{row.fault}: lost {list(a.lost_examples)}, duplicated "
                    f"{list(a.duplicated_examples)}")
    out.print(table)
    if failed:
        raise fail(f"{failed} of {len(names)} faults lost, doubled, differed or leaked", 1)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
