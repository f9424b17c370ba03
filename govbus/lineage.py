"""Lineage, both ways: each stage's runs reported as OpenLineage events, and one theme row
traced back to the raw messages of every department that contributed to it.

The flows are the wings' (``streams/stages/lineage.py``, ``sinks/lineage.py``); this module only
renders them as OpenLineage run events. Events go where the OpenLineage client's own
configuration says (``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG``, ...: a lineage server such
as Marquez), and without one to ``<state_dir>/lineage/events.jsonl``, one event a line.

A theme row's trace reads the facts library: every fact of the entity names its source
record, role, event id and ``source_position``, the raw message it was made from
(``topic:partition:offset``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    column_lineage_dataset,
    error_message_run,
    schema_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.uuid import generate_new_uuid

from ops.settings import Settings
from sinks.clickhouse.sql import quote_literal
from sinks.clickhouse.tables import PROFILE_PREFIX, entity_key_field, facts_table, profile_table
from topics.catalog import Catalog, catalog_for
from topics.lineage import Columns, Flow

PRODUCER: Final = "https://github.com/govbus/govbus"
EVENTS_FILE: Final = "events.jsonl"
Row = Mapping[str, Any]


def events_path(settings: Settings) -> Path:
    return settings.state_dir / "lineage" / EVENTS_FILE


def lineage_client(settings: Settings) -> OpenLineageClient:
    """The client its own configuration sets up, or one writing to the state folder."""
    if any(name.startswith("OPENLINEAGE") for name in os.environ):
        return OpenLineageClient()
    path = events_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))


def run_event(flow: Flow, state: RunState, run_id: str, settings: Settings,
              error: BaseException | None = None) -> RunEvent:
    """``flow``'s run as one OpenLineage event: its inputs, and its outputs with their
    schemas and column lineage (masking transformations marked)."""
    topics = f"kafka://{settings.kafka_bootstrap.split(',')[0].strip()}"
    tables = _clickhouse_namespace(settings)
    catalog = catalog_for(settings)

    def namespace(dataset: str) -> str:
        return tables if dataset in flow.tables else topics

    run_facets: dict[str, RunFacet] = {}
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}"[:500], programmingLanguage="python")
    return RunEvent(
        eventType=state,
        eventTime=dt.datetime.now(dt.UTC).isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(namespace=f"govbus{_suffix(settings.topic_namespace)}", name=flow.job),
        producer=PRODUCER,
        inputs=[InputDataset(namespace(name), name, facets=_schema_facet(catalog, name, flow))
                for name in flow.inputs],
        outputs=[OutputDataset(namespace(name), name,
                               facets={**_schema_facet(catalog, name, flow),
                                       **_column_facet(flow.columns.get(name), namespace)})
                 for name in flow.outputs],
    )


@contextmanager
def reported_run(settings: Settings, flow: Flow,
                 client: Callable[[Settings], OpenLineageClient] = lineage_client
                 ) -> Iterator[None]:
    """START before the body, then COMPLETE, ABORT (stopped by a signal) or FAIL."""
    reporter = client(settings)
    run_id = str(generate_new_uuid())
    reporter.emit(run_event(flow, RunState.START, run_id, settings))
    try:
        yield
    except KeyboardInterrupt:
        reporter.emit(run_event(flow, RunState.ABORT, run_id, settings))
        raise
    except BaseException as exc:
        reporter.emit(run_event(flow, RunState.FAIL, run_id, settings, exc))
        raise
    reporter.emit(run_event(flow, RunState.COMPLETE, run_id, settings))


@contextmanager
def reported_runs(settings: Settings, flows: Iterable[Flow]) -> Iterator[None]:
    """One reported run per flow of one process (a worker of every role runs two)."""
    with ExitStack() as runs:
        for flow in flows:
            runs.enter_context(reported_run(settings, flow))
        yield


def worker_flows(catalog: Catalog, role: str) -> tuple[Flow, ...]:
    """The flows a streams worker of ``role`` (raw, theme or all) runs."""
    from streams.stages.lineage import raw_flow, theme_flow

    flows = {"raw": (raw_flow(catalog),), "theme": (theme_flow(catalog),)}
    return flows.get(role, (*flows["raw"], *flows["theme"]))


def _suffix(namespace: str) -> str:
    return f".{namespace.rstrip('.-_')}" if namespace else ""


def _clickhouse_namespace(settings: Settings) -> str:
    if settings.clickhouse_url:
        return settings.clickhouse_url.replace("https://", "clickhouse://").replace(
            "http://", "clickhouse://")
    return "clickhouse://embedded"


def _schema_facet(catalog: Catalog, name: str, flow: Flow) -> dict[str, DatasetFacet]:
    fields = _fields(catalog, name, flow)
    if not fields:
        return {}
    return {"schema": schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=f, type=t) for f, t in fields])}


def _fields(catalog: Catalog, name: str, flow: Flow) -> list[tuple[str, str | None]]:
    """A topic's value fields from its schema; a library's columns from its lineage."""
    if name in flow.tables:
        return [(column, None) for column in flow.columns.get(name, {})]
    try:
        topic = catalog.by_name(name)
    except KeyError:
        return []
    if topic.value_schema is None:
        return []
    return [(f["name"], _avro_type(f["type"])) for f in topic.value_schema()["fields"]]


def _avro_type(avro: Any) -> str:
    if isinstance(avro, list):
        return " | ".join(_avro_type(t) for t in avro)
    if isinstance(avro, dict):
        return str(avro.get("logicalType") or avro.get("type"))
    return str(avro)


def _column_facet(columns: Columns | None, namespace: Callable[[str], str]
                  ) -> dict[str, DatasetFacet]:
    if not columns:
        return {}
    lineage = column_lineage_dataset
    return {"columnLineage": lineage.ColumnLineageDatasetFacet(fields={
        column: lineage.Fields(inputFields=[
            lineage.InputField(
                namespace(source.dataset), source.dataset, source.field,
                transformations=[lineage.Transformation(
                    type="DIRECT",
                    subtype="IDENTITY" if source.transformation == "identity"
                    else "TRANSFORMATION",
                    description=source.transformation,
                    masking=source.masking,
                )])
            for source in sources])
        for column, sources in columns.items()})}


# -- tracing one theme row ------------------------------------------------------------------

FACT_COLUMNS: Final = ("category", "entity_type", "dept", "source", "record_key", "role", "op",
                       "event_id", "sequence", "source_ts_ms", "source_position")


@dataclass(frozen=True)
class Contribution:
    """One source record's part in the entity, with every change of it that reached the bus."""

    dept: str
    source: str
    record_key: str
    role: str
    changes: tuple[Row, ...]  # facts, oldest first

    @property
    def active(self) -> bool:
        return bool(self.changes) and self.changes[-1]["op"] != "retract"


@dataclass(frozen=True)
class Trace:
    key: str
    category: str
    library: str
    profile: Row | None  # the live theme row, None when deleted or not landed yet
    contributions: tuple[Contribution, ...]


def trace(select: Callable[[str], list[Row]], catalog: Catalog, database: str, key: str
          ) -> Trace | None:
    """The entity ``key``'s theme row and the facts behind it; None when no fact names it."""
    facts = facts_table(catalog, database).spec
    rows = select(f"SELECT {', '.join(FACT_COLUMNS)} FROM {facts.qualified_name} "
                  f"WHERE entity_key = {quote_literal(key)} "
                  f"ORDER BY dept, source, record_key, role, source_ts_ms, sequence")
    if not rows:
        return None
    category = str(rows[0]["category"])
    table = profile_table(catalog, category, database).spec
    profiles = select(
        f"SELECT * FROM {table.qualified_name} FINAL "
        f"WHERE {entity_key_field(table.schema)} = {quote_literal(key)} "
        f"AND {table.is_deleted_column} = 0")
    grouped: dict[tuple[str, str, str, str], dict[tuple[str, str], Row]] = {}
    for row in rows:
        changes = grouped.setdefault(
            (row["dept"], row["source"], row["record_key"], row["role"]), {})
        # A fact landed twice (an event re-sent) is one change; the copy naming its raw
        # message is kept over one landed before positions were recorded.
        seen = changes.get((row["event_id"], row["op"]))
        if seen is None or not seen["source_position"]:
            changes[(row["event_id"], row["op"])] = row
    return Trace(key, category, f"{PROFILE_PREFIX}{category}",
                 profiles[0] if profiles else None,
                 tuple(Contribution(*group, changes=tuple(changes.values()))
                       for group, changes in grouped.items()))


def render(found: Trace, most_records: int | None = None, most_changes: int | None = None
           ) -> list[str]:
    """The trace as lines: the theme row, then per contributing record its raw messages;
    optionally only ``most_records`` records per department and their last changes."""
    state = "live" if found.profile is not None else "not in the library (deleted or pending)"
    active = sum(c.active for c in found.contributions)
    depts = sorted({c.dept for c in found.contributions})
    lines = [f"{found.library} {found.key}: {state}; {active} active contributions "
             f"of {len(found.contributions)} from {len(depts)} departments ({', '.join(depts)})"]
    shown: dict[str, int] = {}
    for part in found.contributions:
        shown[part.dept] = shown.get(part.dept, 0) + 1
        if most_records is not None and shown[part.dept] > most_records:
            continue
        lines.append(f"  {part.dept:<10} {part.source:<22} record {part.record_key}  "
                     f"role {part.role}  {'active' if part.active else 'retracted'}")
        for change in part.changes[-(most_changes or len(part.changes)):]:
            when = dt.datetime.fromtimestamp(int(change["source_ts_ms"]) / 1000, dt.UTC)
            lines.append(f"      {when:%Y-%m-%d %H:%M:%S}  {change['op']:<7} "
                         f"event {change['event_id']}  "
                         f"<- {change['source_position'] or 'position not recorded'}")
    return lines
