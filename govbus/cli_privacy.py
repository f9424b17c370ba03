"""``govbus privacy check|audit|scrub-eval`` and ``govbus keys``: what the libraries reveal, how
well free text is scrubbed, and the pseudonym key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ops.settings import get_settings

if TYPE_CHECKING:
    from govbus.privacy_audit import AuditLine
    from streams.stages.masking.disclosure import PublishedRecord

privacy_app = typer.Typer(no_args_is_help=True, help="Re-identification risk of the libraries.")
keys_app = typer.Typer(no_args_is_help=True, help="The pseudonym key: show its id, rotate it.")


@privacy_app.command("check")
def privacy_check(
    policy: Annotated[
        Path | None, typer.Option(help="A policy file to assess instead of the shipped one.")
    ] = None,
    fields: Annotated[bool, typer.Option(help="List the revealing fields of each row.")] = False,
) -> None:
    """Per published record type (std, fact, theme, ClickHouse table and view): what its
    fields together reveal of each identifier and how many candidates that leaves."""
    from govbus.cli import fail, out
    from streams.stages.masking.disclosure import (
        assess_records,
        joined,
        published_records,
        unknown_lineage,
    )
    from streams.stages.masking.policy import POLICY_PATH, read_policy

    checked = read_policy(policy or POLICY_PATH)
    records = published_records(checked)
    everything = (*records, joined(records), *_clickhouse(records))
    table = Table(title=f"disclosure under {(policy or POLICY_PATH).name}")
    for column in ("record type", "identifier", "grade", "revealed", "candidates", "minimum", ""):
        table.add_column(column, justify="right" if column in ("candidates", "minimum") else "left")
    if fields:
        table.add_column("fields")
    assessments = assess_records(everything, checked)
    for item in assessments:
        row = [item.record, item.identifier, item.grade, ", ".join(item.revealed),
               f"{item.candidates:,}", f"{item.threshold:,}", "ok" if item.passes else "LEAK"]
        table.add_row(*row, *((", ".join(item.fields),) if fields else ()))
    out.print(table)
    gaps = unknown_lineage(checked)
    for gap in gaps:
        out.print(f"not assessed: {gap}")
    leaks = [a for a in assessments if not a.passes]
    if leaks or gaps:
        raise fail(f"{len(leaks)} record types narrow an identifier below the minimum, "
                   f"{len(gaps)} attributes not assessed")


def _clickhouse(records: Sequence[PublishedRecord]) -> list[PublishedRecord]:
    """Tables as the union of the record types their topics carry (an entity's rows can be
    grouped), views as the union of the tables they read (aggregation reveals no more)."""
    from sinks.clickhouse.tables import sink_tables
    from sinks.clickhouse.views import theme_views
    from streams.stages.masking.disclosure import full_name, joined
    from topics.catalog import catalog_for

    settings = get_settings()
    database = settings.clickhouse_database
    tables = {t.spec.name: t.spec for t in sink_tables(catalog_for(settings), database)}
    by_table = {
        name: joined([r for r in records if r.schema == full_name(spec.schema)],
                     f"clickhouse {name}")
        for name, spec in tables.items()
    }
    views = [
        joined([r for name, spec in tables.items() if spec.qualified_name in view.select
                for r in records if r.schema == full_name(spec.schema)],
               f"clickhouse {view.name}")
        for view in theme_views(database, tables)
    ]
    return [*by_table.values(), *views]


@privacy_app.command("audit")
def privacy_audit(
    topics: Annotated[bool, typer.Option(
        help="Read every std topic from the broker too (as the admin).")] = False,
) -> None:
    """Counts, on the rows the bus published, the citizen IDs each row and each person's
    joined rows still allow, record times included; non-zero exit if any falls below."""
    from govbus.cli import fail, out
    from govbus.privacy_audit import audit
    from streams.stages.masking.policy import load_policy
    from topics.annotations import Grade

    minimum = load_policy().min_candidates[Grade.CORE]
    lines = audit(get_settings(), minimum, topics=topics)
    out.print(audit_table(lines, minimum))
    below = sum(line.below for line in lines)
    if below:
        raise fail(f"{below} published rows or persons leave fewer than {minimum:,} "
                   "candidate citizen IDs (persons on record days into their birth year; "
                   "README, \"Privacy\")")


def audit_table(lines: Sequence[AuditLine], minimum: int) -> Table:
    table = Table("published", "rows", "naming an ID", "fewest candidates", "below", "",
                  title=f"citizen IDs left by the published rows (minimum {minimum:,})")
    for line in lines:
        table.add_row(line.published, f"{line.rows:,}", f"{line.narrowing:,}",
                      "-" if line.fewest is None else f"{line.fewest:,}", f"{line.below:,}",
                      "ok" if not line.below else "BELOW")
    return table


@privacy_app.command("scrub-eval")
def scrub_eval(
    samples: Annotated[int, typer.Option(min=1, help="Remarks to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Simulator seed")] = 1,
) -> None:
    """Recall and precision of the free-text scrubber, per kind, on the simulator's labelled
    remarks (targets: recall >= 99.5% structured, >= 95% names; precision >= 95%)."""
    from connectors.simulator import labelled_remarks
    from govbus.cli import out
    from streams.stages.masking.scrub_score import score

    scores = score(labelled_remarks(samples, seed))
    table = Table("kind", "labelled", "recall", "found", "precision",
                  title=f"free-text scrubber on {samples} simulated remarks (seed {seed})")
    for kind, entry in scores.items():
        table.add_row(str(kind), str(entry.labelled), f"{entry.recall:.2%}", str(entry.found),
                      f"{entry.precision:.2%}")
    out.print(table)
    for kind, entry in scores.items():
        for text in entry.missed[:2]:
            out.print(f"missed {kind}: {text}", highlight=False)
        for text in entry.wrong[:2]:
            out.print(f"not an identifier, masked as {kind}: {text}", highlight=False)


@keys_app.command("show")
def keys_show() -> None:
    """The key id in use (never the key)."""
    from govbus.cli import out
    from ops.keys import pseudonym_key

    key = pseudonym_key(get_settings())
    out.print(f"pseudonym key id: {key.key_id} ({key.algorithm})")


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str | None, typer.Option(help="The new key id (default: k<UTC time>).")]
    = None,
) -> None:
    """Replace the local stack's key (the old one is destroyed) and say how to re-key."""
    from govbus.cli import fail, out
    from govbus.rekey import rekey
    from ops.keys import rotate_local_key
    from ops.stack.manager import LocalStack

    settings = get_settings()
    if not settings.manage_stack:
        raise fail("the stack is not managed here: give the new key as GOVBUS_PSEUDONYM_KEY "
                   "with a new GOVBUS_PSEUDONYM_KEY_ID (or a new key file), then re-key "
                   "(README, \"Pseudonym keys\")")
    stack = LocalStack(settings)
    running = [name for name, process in stack.pipeline.items() if process.pid()]
    if running:
        raise fail(f"stop the pipeline first ({', '.join(running)} running)")
    if not stack.is_up():
        raise fail("the stack is down: `govbus stack up` first (re-keying rebuilds topics)")
    old, new = rotate_local_key(settings, key_id)
    out.print(f"pseudonym key: {old or '(none)'} -> {new.key_id}; the old key is destroyed")
    for line in rekey(settings, old):
        out.print(line)
