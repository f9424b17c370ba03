"""`govbus status`: one terminal view of the running bus.

Stack health from the local stack manager; stage rates, dead letters, sink freshness and
quality from the metrics of the running govbus processes (discovered through their
announcement files, scraped twice for rates); consumer lag from those metrics, or straight
from Kafka (committed offsets against high watermarks) when no process reports it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ops.http import Target, targets
from ops.kafka_client import kafka_config
from ops.settings import Settings, get_settings
from ops.stack.manager import LocalStack, ServiceStatus

if TYPE_CHECKING:
    from confluent_kafka.admin._metadata import ClusterMetadata

STALE_INSERT_S = 600.0
MAX_ROWS = 12
KAFKA_TIMEOUT_S = 5.0
LabelKey = tuple[tuple[str, str], ...]


# ------------------------------------------------------------------ scraping


@dataclass(frozen=True)
class TargetState:
    target: Target
    ready: str  # "ready", "not ready: <reason>" or "unreachable"


@dataclass
class Snapshot:
    """Every govbus_* sample of every live target at one moment (instance label added)."""

    taken_at: float
    samples: dict[tuple[str, LabelKey], float] = field(default_factory=dict)
    targets: list[TargetState] = field(default_factory=list)

    def series(self, name: str, **where: str) -> Iterable[tuple[dict[str, str], float]]:
        for (sample, labels), value in self.samples.items():
            if sample == name:
                as_dict = dict(labels)
                if all(as_dict.get(k) == v for k, v in where.items()):
                    yield as_dict, value

    def sum_by(self, name: str, by: Sequence[str], **where: str) -> dict[tuple[str, ...], float]:
        sums: dict[tuple[str, ...], float] = defaultdict(float)
        for labels, value in self.series(name, **where):
            sums[tuple(labels.get(k, "") for k in by)] += value
        return dict(sums)


def scrape(found: Sequence[Target], timeout_s: float = 3.0) -> Snapshot:
    snapshot = Snapshot(time.time())
    with httpx.Client(timeout=timeout_s) as client:
        for target in found:
            try:
                text = client.get(target.metrics_url).text
                reply = client.get(f"{target.url}/readyz")
            except httpx.HTTPError:
                snapshot.targets.append(TargetState(target, "unreachable"))
                continue
            ready = "ready" if reply.status_code == 200 else f"not ready: {reply.text.strip()}"
            snapshot.targets.append(TargetState(target, ready))
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if not sample.name.startswith("govbus_"):
                        continue
                    labels = {**sample.labels, "instance": target.host_port}
                    key = (sample.name, tuple(sorted(labels.items())))
                    snapshot.samples[key] = sample.value
    return snapshot


def rates(prev: Snapshot | None, cur: Snapshot, name: str, by: Sequence[str],
          **where: str) -> dict[tuple[str, ...], float]:
    """Per-second increase of a counter between two snapshots, summed by labels.

    A series that went down (its process restarted) counts from zero; a new one counts whole
    only if its process started after the previous snapshot (otherwise it is skipped).
    """
    if prev is None or cur.taken_at <= prev.taken_at:
        return {}
    elapsed = cur.taken_at - prev.taken_at
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for (sample, labels), value in cur.samples.items():
        if sample != name:
            continue
        as_dict = dict(labels)
        if not all(as_dict.get(k) == v for k, v in where.items()):
            continue
        before = prev.samples.get((sample, labels))
        if before is None:
            continue
        increase = value - before if value >= before else value
        out[tuple(as_dict.get(k, "") for k in by)] += increase / elapsed
    return dict(out)


# ------------------------------------------------------------------ Kafka, directly


@dataclass
class KafkaFacts:
    lag: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, topic) -> messages
    topic_messages: dict[str, int] = field(default_factory=dict)  # topic -> high - low
    brokers: int | None = None
    controller: int | None = None  # node id of the local cluster's active controller
    # "topic[partition]" of the bus's partitions with fewer in-sync replicas than replicas
    under_replicated: list[str] = field(default_factory=list)
    error: str | None = None


def under_replicated(metadata: ClusterMetadata, topic_names: Iterable[str]) -> list[str]:
    """The named topics' partitions whose in-sync replicas are fewer than their replicas
    (a broker is down or behind): their writes wait for fewer copies than were asked for."""
    found = []
    for name in sorted(topic_names):
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            continue
        for partition in sorted(topic.partitions.values(), key=lambda p: p.id):
            if len(partition.isrs) < len(partition.replicas):
                found.append(f"{name}[{partition.id}]")
    return found


def kafka_facts(settings: Settings, topic_names: Sequence[str], dlq_topics: Sequence[str],
                lag_wanted: bool) -> KafkaFacts:
    """Committed offsets against watermarks for the bus's groups, and DLQ topic sizes."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    from ops.runtime.client_config import offsets_watch_config

    facts = KafkaFacts()
    wanted = set(topic_names)
    # A node down is shown in the view, not logged over it.
    consumer = Consumer(offsets_watch_config(kafka_config(settings), "govbus-status",
                                             log_level=0))
    try:
        watermarks: dict[tuple[str, int], tuple[int, int]] = {}

        def marks(topic: str, partition: int) -> tuple[int, int]:
            if (topic, partition) not in watermarks:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=KAFKA_TIMEOUT_S, cached=False)
                watermarks[topic, partition] = (int(low), int(high))
            return watermarks[topic, partition]

        metadata = consumer.list_topics(timeout=KAFKA_TIMEOUT_S)
        facts.brokers = len(metadata.brokers)
        facts.under_replicated = under_replicated(metadata, wanted)
        for name in dlq_topics:
            topic = metadata.topics.get(name)
            if topic is not None and topic.error is None:
                facts.topic_messages[name] = sum(
                    high - low for low, high in (marks(name, p) for p in topic.partitions))
        if lag_wanted:
            admin = AdminClient({**kafka_config(settings)})
            listing = admin.list_consumer_groups(request_timeout=KAFKA_TIMEOUT_S).result()
            groups = [g.group_id for g in listing.valid if g.group_id != "govbus-status"]
            for group in groups:
                future = admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(group)], request_timeout=KAFKA_TIMEOUT_S
                )[group]
                for tp in future.result().topic_partitions or []:
                    if tp.topic not in wanted or tp.offset < 0:
                        continue
                    _, high = marks(tp.topic, tp.partition)
                    key = (group, tp.topic)
                    facts.lag[key] = facts.lag.get(key, 0) + max(0, high - tp.offset)
    except Exception as exc:  # a status view reports what it cannot see, it does not crash
        facts.error = f"{type(exc).__name__}: {exc}"
    finally:
        consumer.close()
    return facts


# ------------------------------------------------------------------ the view


@dataclass
class StatusView:
    stack: list[ServiceStatus]
    prev: Snapshot | None
    cur: Snapshot
    kafka: KafkaFacts | None


def _fmt(value: float | None, digits: int = 1) -> str:
    """Counts as integers, other values with ``digits`` decimals, missing as '-'."""
    if value is None:
        return "-"
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _empty(table: Table, note: str) -> Table:
    if not table.row_count:
        table.add_row(Text(note, style="dim"), *([""] * (len(table.columns) - 1)))
    return table


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _stack_table(view: StatusView) -> Table:
    table = Table("service / process", "state", "pid", "address", title="stack",
                  title_justify="left", expand=True)
    for service in view.stack:
        style = "green" if service.state.endswith("ready") else "red"
        table.add_row(service.name, Text(service.state, style=style), str(service.pid or "-"),
                      service.address)
    for state in view.cur.targets:
        style = "green" if state.ready == "ready" else "yellow"
        table.add_row(f"govbus {state.target.role}", Text(state.ready, style=style),
                      str(state.target.pid), state.target.metrics_url)
    if not view.cur.targets:
        table.add_row("govbus workers", Text("none running", style="yellow"), "-",
                      "no metrics targets announced")
    if view.kafka is not None and view.kafka.brokers is not None:
        lagging = view.kafka.under_replicated
        shown = ", ".join(lagging[:3]) + (f" ... {len(lagging) - 3} more" if len(lagging) > 3
                                          else "")
        table.add_row("kafka partitions",
                      Text(f"{len(lagging)} under-replicated",
                           style="red" if lagging else "green"),
                      "-", f"{view.kafka.brokers} broker(s) up"
                      + (f", controller node {view.kafka.controller}"
                         if view.kafka.controller is not None else "")
                      + (f": {shown}" if shown else ""))
    return table


OUTCOMES = ("in", "out", "rejected", "filtered", "stale")


def _stages_table(view: StatusView) -> Table:
    table = Table("stage", *(f"{o}/s" for o in OUTCOMES), "in (total)", "rejected %",
                  title="stages (events/s over the last interval)", title_justify="left",
                  expand=True)
    per_s = rates(view.prev, view.cur, "govbus_stage_events_total", ("stage", "outcome"))
    totals = view.cur.sum_by("govbus_stage_events_total", ("stage", "outcome"))
    for stage in sorted({stage for stage, _ in totals}):
        total_in = totals.get((stage, "in"), 0.0)
        rejected = totals.get((stage, "rejected"), 0.0)
        table.add_row(stage, *(_rate(per_s.get((stage, o))) for o in OUTCOMES),
                      _fmt(total_in), _rate(100 * rejected / total_in if total_in else None))
    return _empty(table, "no stage reports events")


def _lag_table(view: StatusView) -> Table:
    table = Table("group", "topic", "lag (messages)", "source", title="consumer lag",
                  title_justify="left", expand=True)
    from_metrics = view.cur.sum_by("govbus_consumer_lag_messages", ("group", "topic"))
    rows = [(g, t, v, "metrics") for (g, t), v in from_metrics.items()]
    if not rows and view.kafka is not None:
        rows = [(g, t, float(v), "kafka") for (g, t), v in view.kafka.lag.items()]
    rows.sort(key=lambda row: (-row[2], row[0], row[1]))
    shown = [row for row in rows if row[2] > 0][:MAX_ROWS] or rows[:3]
    for group, topic, lag, source in shown:
        style = "green" if lag == 0 else ("yellow" if lag < 10_000 else "red")
        table.add_row(group, topic, Text(_fmt(lag), style=style), source)
    if len(rows) > len(shown):
        rest = rows[len(shown):]
        table.add_row(Text(f"... {len(rest)} more", style="dim"), "",
                      _fmt(sum(row[2] for row in rest)), "")
    if view.kafka is not None and view.kafka.error:
        table.add_row("-", "-", "-", Text(f"kafka: {view.kafka.error}", style="red"))
    return _empty(table, "no committed offsets")


def _dlq_table(view: StatusView) -> Table:
    table = Table("stage", "reason", "dept", "since start", "per s",
                  title="dead letters", title_justify="left", expand=True)
    by = ("stage", "reason", "dept")
    totals = view.cur.sum_by("govbus_dlq_events_total", by)
    per_s = rates(view.prev, view.cur, "govbus_dlq_events_total", by)
    for key, total in sorted(totals.items(), key=lambda kv: -kv[1])[:MAX_ROWS]:
        table.add_row(*key, _fmt(total), _rate(per_s.get(key)))
    if view.kafka is not None:
        for topic, count in sorted(view.kafka.topic_messages.items()):
            table.add_row(topic, Text("(messages in the topic)", style="dim"), "",
                          _fmt(float(count)), "")
    return _empty(table, "none")


def _sink_table(view: StatusView) -> Table:
    table = Table("table", "rows (total)", "rows/s", "last insert", title="ClickHouse sink",
                  title_justify="left", expand=True)
    latest: dict[str, float] = defaultdict(float)
    for labels, value in view.cur.series("govbus_sink_last_insert_timestamp_seconds"):
        latest[labels["table"]] = max(latest[labels["table"]], value)
    rows = view.cur.sum_by("govbus_sink_rows_total", ("table",))
    per_s = rates(view.prev, view.cur, "govbus_sink_rows_total", ("table",))
    for name in sorted({t for (t,) in rows} | set(latest)):
        age = view.cur.taken_at - latest[name] if latest.get(name) else None
        style = "red" if age is None or age > STALE_INSERT_S else "green"
        table.add_row(name, _fmt(rows.get((name,))), _rate(per_s.get((name,))),
                      Text("never" if age is None else f"{_age(max(0.0, age))} ago", style=style))
    return _empty(table, "no sink reports inserts")


def _quality_table(view: StatusView) -> Table:
    table = Table("dept", "events in", "rejected", "rejected %", "findings by dimension",
                  title="quality by department", title_justify="left", expand=True)
    events = view.cur.sum_by("govbus_stage_events_total", ("dept", "outcome"))
    findings = view.cur.sum_by("govbus_quality_findings_total", ("dept", "dimension"))
    depts = sorted({d for d, _ in events} | {d for d, _ in findings})
    for dept in depts:
        total_in = events.get((dept, "in"), 0.0)
        rejected = events.get((dept, "rejected"), 0.0)
        dims = ", ".join(f"{dim} {_fmt(n)}" for (d, dim), n in sorted(findings.items())
                         if d == dept and n)
        table.add_row(dept, _fmt(total_in), _fmt(rejected),
                      _rate(100 * rejected / total_in if total_in else None), dims or "-")
    return _empty(table, "no department reports yet")


def render(view: StatusView) -> RenderableType:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(view.cur.taken_at))
    return Panel(
        Group(_stack_table(view), _stages_table(view), _lag_table(view), _dlq_table(view),
              _sink_table(view), _quality_table(view)),
        title=f"govbus status  {stamp}", title_align="left",
    )


def collect(settings: Settings, prev: Snapshot | None) -> StatusView:
    from topics.catalog import Layer, catalog_for

    stack = LocalStack(settings).status()
    snapshot = scrape(targets(settings.state_dir))
    kafka_up = any(s.name.startswith("kafka") and s.state.endswith("ready") for s in stack)
    kafka = None
    if kafka_up:
        has_lag = any(True for _ in snapshot.series("govbus_consumer_lag_messages"))
        catalog = catalog_for(settings)
        kafka = kafka_facts(settings, [t.name for t in catalog.all],
                            [t.name for t in catalog.by_layer(Layer.DLQ)], lag_wanted=not has_lag)
        if settings.manage_stack:
            kafka.controller = LocalStack(settings).kafka.active_controller()
    return StatusView(stack, prev, snapshot, kafka)


def status(
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(
        min=0.2, help="Seconds between the scrapes that rates are computed over.")] = 2.0,
) -> None:
    """One view of the running bus: stack, stages, lag, dead letters, sink, quality."""
    from govbus.wiring import admin_settings

    settings = admin_settings(get_settings())
    console = Console()
    if not watch:
        first = scrape(targets(settings.state_dir))
        if first.targets:
            time.sleep(interval)
        view = collect(settings, first)
        console.print(render(view))
        if not all(s.state.endswith("ready") for s in view.stack):
            raise typer.Exit(3)
        return
    view = collect(settings, None)
    with Live(render(view), console=console, refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(interval)
                view = collect(settings, view.cur)
                live.update(render(view))
        except KeyboardInterrupt:
            pass
