"""Grafana dashboards as code, built from the declared metrics with Grafana's typed
builders (``grafana-foundation-sdk``): a field or value Grafana's schema does not know cannot
be written.

Every expression names metrics through ``m()``, which looks the name up in ``ops.metrics``:
a dashboard cannot reference a metric that is not declared. ``python -m ops.dashboards``
rewrites ``ops/grafana/*.json``; a unit test fails when the files are out of date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as gcommon
from grafana_foundation_sdk.builders import dashboard as gdash
from grafana_foundation_sdk.builders import prometheus as gprometheus
from grafana_foundation_sdk.builders import stat as gstat
from grafana_foundation_sdk.builders import table as gtable
from grafana_foundation_sdk.builders import timeseries as gtimeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as mcommon
from grafana_foundation_sdk.models import dashboard as mdashboard
from grafana_foundation_sdk.models import prometheus as mprometheus

from ops.metrics import BROKER_METRICS_BY_NAME, METRICS_BY_NAME, BrokerMetricSpec, MetricSpec

GRAFANA_DIR = Path(__file__).resolve().parent / "grafana"
DATASOURCE = mdashboard.DataSourceRef(type_val="prometheus", uid="${datasource}")


def m(name: str, suffix: str = "") -> str:
    """A declared metric's series name (``suffix``: _bucket, _sum or _count of a histogram):
    govbus's own or one the brokers export."""
    # KeyError: the metric is not declared in ops.metrics
    spec: MetricSpec | BrokerMetricSpec = (METRICS_BY_NAME[name] if name in METRICS_BY_NAME
                                           else BROKER_METRICS_BY_NAME[name])
    series = name + suffix
    if series not in spec.series_names:
        raise KeyError(f"{series} is not a series of {spec.type} {name}")
    return series


def quantile(q: float, name: str, by: str, selector: str = "", window: str = "5m") -> str:
    return (f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({m(name, '_bucket')}{selector}[{window}])))")


class _Layout:
    """Panels in order, left to right on Grafana's 24-column grid, with rows between; the
    dashboard builder places them."""

    def __init__(self) -> None:
        self.panels: list[Builder[Any]] = []

    def row(self, title: str) -> None:
        self.panels.append(gdash.Row(title).collapsed(False).id(len(self.panels) + 1))

    def add(self, panel: _PanelBuilder, w: int = 12, h: int = 8) -> None:
        self.panels.append(panel.span(w).height(h).id(len(self.panels) + 1))


_PanelBuilder = gtimeseries.Panel | gstat.Panel | gtable.Panel


def _with_targets(panel: _PanelBuilder, queries: Sequence[tuple[str, str]],
                  instant: bool = False) -> _PanelBuilder:
    for i, (expr, legend) in enumerate(queries):
        query = (gprometheus.Dataquery().datasource(DATASOURCE).expr(expr)
                 .legend_format(legend).ref_id(chr(ord("A") + i)))
        if instant:
            query = query.instant().format(mprometheus.PromQueryFormat.TABLE)
        panel.with_target(query)
    return panel


def timeseries(title: str, unit: str, *queries: tuple[str, str], stack: bool = False,
               description: str = "") -> gtimeseries.Panel:
    panel = (gtimeseries.Panel().title(title).description(description).datasource(DATASOURCE)
             .unit(unit).draw_style(mcommon.GraphDrawStyle.LINE)
             .fill_opacity(10 if stack else 0).show_points(mcommon.VisibilityMode.NEVER)
             .legend(gcommon.VizLegendOptions().show_legend(True)
                     .display_mode(mcommon.LegendDisplayMode.TABLE)
                     .placement(mcommon.LegendPlacement.BOTTOM).calcs(["lastNotNull", "max"]))
             .tooltip(gcommon.VizTooltipOptions().mode(mcommon.TooltipDisplayMode.MULTI)
                      .sort(mcommon.SortOrder.DESCENDING)))
    if stack:
        panel.stacking(gcommon.StackingConfig().mode(mcommon.StackingMode.NORMAL).group("A"))
    _with_targets(panel, queries)
    return panel


def stat(title: str, unit: str, expr: str, legend: str = "",
         thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
         description: str = "", show: mcommon.BigValueTextMode | None = None) -> gstat.Panel:
    steps = gdash.ThresholdsConfig().mode(mdashboard.ThresholdsMode.ABSOLUTE).steps(
        [mdashboard.Threshold(value=value, color=color) for value, color in thresholds])
    panel = (gstat.Panel().title(title).description(description).datasource(DATASOURCE)
             .unit(unit).thresholds(steps)
             .reduce_options(gcommon.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
             .color_mode(mcommon.BigValueColorMode.BACKGROUND)
             .graph_mode(mcommon.BigValueGraphMode.AREA))
    if show is not None:
        panel.text_mode(show)
    _with_targets(panel, [(expr, legend)])
    return panel


def table(title: str, unit: str, *queries: tuple[str, str],
          description: str = "") -> gtable.Panel:
    panel = (gtable.Panel().title(title).description(description).datasource(DATASOURCE)
             .unit(unit).show_header(True)
             .with_transformation(mdashboard.DataTransformerConfig(id_val="merge", options={})))
    _with_targets(panel, queries, instant=True)
    return panel


def _variable(name: str, query: str, label: str) -> gdash.QueryVariable:
    return (gdash.QueryVariable(name).id(name).label(label).datasource(DATASOURCE)
            .query(query).refresh(mdashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .include_all(True).multi(True).all_value(".*")
            .current(mdashboard.VariableOption(selected=True, text=["All"], value=["$__all"]))
            .sort(mdashboard.VariableSort.ALPHABETICAL_ASC))


def _dashboard(uid: str, title: str, description: str, panels: Sequence[Builder[Any]],
               variables: Sequence[gdash.QueryVariable] = ()) -> dict[str, Any]:
    board = (gdash.Dashboard(title).uid(uid).description(description).tags(["govbus"])
             .editable().tooltip(mdashboard.DashboardCursorSync.CROSSHAIR)
             .refresh("30s").time("now-3h", "now").timezone("browser")
             .with_variable(gdash.DatasourceVariable("datasource").id("datasource").label("Prometheus")
                            .type("prometheus")))
    for variable in variables:
        board.with_variable(variable)
    for panel in panels:
        if isinstance(panel, gdash.Row):
            board.with_row(panel)
        else:
            board.with_panel(panel)
    loaded: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return loaded


# ------------------------------------------------------------------ the dashboards


def pipeline_overview() -> dict[str, Any]:
    events, dlq = m("govbus_stage_events_total"), m("govbus_dlq_events_total")
    lag = m("govbus_consumer_lag_messages")
    grid = _Layout()
    grid.row("Health")
    grid.add(stat("Workers up", "none", 'sum(up{job="govbus"})', thresholds=[(None, "red"),
                                                                              (1, "green")]), 6, 4)
    grid.add(stat("Events in /s", "ops", f'sum(rate({events}{{outcome="in"}}[5m]))'), 6, 4)
    grid.add(stat("DLQ /s", "ops", f"sum(rate({dlq}[5m]))",
                  thresholds=[(None, "green"), (0.1, "orange"), (1, "red")]), 6, 4)
    grid.add(stat("Consumer lag", "short", f"sum({lag})",
                  thresholds=[(None, "green"), (1000, "orange"), (100000, "red")]), 6, 4)
    grid.row("Stages")
    grid.add(timeseries("Events by stage and outcome", "ops",
                        (f"sum by (stage, outcome) (rate({events}[5m]))", "{{stage}} {{outcome}}")))
    grid.add(timeseries("Dead letters by step and reason", "ops",
                        (f"sum by (step, reason) (rate({dlq}[5m]))", "{{step}} {{reason}}"),
                        stack=True))
    grid.add(timeseries("Batch processing time", "s",
                        (quantile(0.5, "govbus_stage_batch_seconds", "stage"), "p50 {{stage}}"),
                        (quantile(0.95, "govbus_stage_batch_seconds", "stage"), "p95 {{stage}}")),
             8)
    grid.add(timeseries("Events per batch", "short",
                        (quantile(0.5, "govbus_stage_batch_events", "stage"), "p50 {{stage}}"),
                        (f"sum by (stage) (rate({m('govbus_stage_batch_events', '_sum')}[5m]))"
                         f" / sum by (stage) "
                         f"(rate({m('govbus_stage_batch_events', '_count')}[5m]))",
                         "mean {{stage}}")), 8)
    grid.add(timeseries("Batches /s", "ops",
                        (f"sum by (stage) (rate({m('govbus_stage_batch_seconds', '_count')}[5m]))",
                         "{{stage}}")), 8)
    grid.row("Latency and lag")
    grid.add(timeseries("End-to-end latency (source -> ClickHouse)", "s",
                        *((quantile(q, "govbus_end_to_end_latency_seconds", "table"),
                           f"p{round(q * 100)} {{{{table}}}}") for q in (0.5, 0.95, 0.99))))
    grid.add(timeseries("Consumer lag by group and topic", "short",
                        (f"sum by (group, topic) ({lag})", "{{group}} {{topic}}")))
    grid.add(timeseries("State restore: changelog messages still to read", "short",
                        (f"sum by (table) ({m('govbus_state_restore_remaining_messages')})",
                         "{{table}}")))
    return _dashboard("govbus-pipeline", "govbus / pipeline overview",
                      "Events through the stages, dead letters, batches, latency and lag.",
                      grid.panels)


def department_quality() -> dict[str, Any]:
    events, dlq = m("govbus_stage_events_total"), m("govbus_dlq_events_total")
    findings = m("govbus_quality_findings_total")
    dept = '{dept=~"$dept"}'
    grid = _Layout()
    grid.row("Volume")
    grid.add(timeseries("Events in by department", "ops",
                        (f'sum by (dept) (rate({events}{{dept=~"$dept", outcome="in"}}[5m]))',
                         "{{dept}}"), stack=True))
    grid.add(timeseries("Rejected share by department", "percentunit",
                        (f'sum by (dept) (rate({events}{{dept=~"$dept", outcome="rejected"}}[15m]))'
                         f' / sum by (dept) (rate({events}{{dept=~"$dept", outcome="in"}}[15m]))',
                         "{{dept}}")))
    grid.row("Quality findings")
    grid.add(timeseries("Findings by department and dimension", "ops",
                        (f"sum by (dept, dimension) (rate({findings}{dept}[15m]))",
                         "{{dept}} {{dimension}}"), stack=True))
    grid.add(timeseries("Findings per event in, by dimension", "percentunit",
                        (f"sum by (dimension) (rate({findings}{dept}[15m])) / scalar("
                         f'sum(rate({events}{{dept=~"$dept", outcome="in"}}[15m])))',
                         "{{dimension}}")))
    grid.add(table("Top reasons (last 24 h)", "short",
                   (f"topk(20, sum by (dept, dimension, reason) "
                    f"(increase({findings}{dept}[24h])))", "")), 12, 10)
    grid.add(table("Dead letters by reason (last 24 h)", "short",
                   (f"topk(20, sum by (dept, stage, reason) (increase({dlq}{dept}[24h])))", "")),
             12, 10)
    grid.add(table("Ignored by reason (change capture's tombstones, truncates, heartbeats; "
                   "last 24 h)", "short",
                   (f"sum by (dept, stage, reason) "
                    f"(increase({m('govbus_stage_ignored_events_total')}{dept}[24h]))", "")),
             12, 6)
    grid.add(table("Captured tables' undeclared columns (left out until declared)", "short",
                   (f"max by (table) ({m('govbus_source_undeclared_columns')}) > 0", "")), 12, 6)
    grid.add(table("Change-capture connector tasks by state (Kafka Connect)", "short",
                   (f"max by (table, outcome) ({m('govbus_cdc_connector_tasks')}) > 0", "")),
             24, 6)
    grid.row("Freshness")
    grid.add(table("Silent departments (events in the last 6 h, none in the last 30 min)",
                   "short",
                   (f'group by (dept) (max_over_time({events}{{dept=~"$dept", outcome="in"}}[6h]))'
                    f' unless group by (dept) '
                    f'(increase({events}{{dept=~"$dept", outcome="in"}}[30m]) > 0)', "")), 24, 6)
    variables = [_variable("dept", f"label_values({events}, dept)", "Department")]
    return _dashboard("govbus-quality", "govbus / department quality",
                      "Per-department volume, rejections, quality findings and dead letters.",
                      grid.panels, variables)


def sink_health() -> dict[str, Any]:
    rows = m("govbus_sink_rows_total")
    last = m("govbus_sink_last_insert_timestamp_seconds")
    table_sel = '{table=~"$table"}'
    grid = _Layout()
    grid.row("Freshness")
    grid.add(table("Seconds since the last insert", "s",
                   (f"time() - max by (table) ({last}{table_sel})", "")), 12, 8)
    grid.add(timeseries("Rows inserted /s", "rowsps",
                        (f"sum by (table) (rate({rows}{table_sel}[5m]))", "{{table}}"),
                        stack=True))
    grid.row("Inserts")
    grid.add(timeseries("Insert duration", "s",
                        (quantile(0.5, "govbus_sink_insert_seconds", "table", table_sel),
                         "p50 {{table}}"),
                        (quantile(0.95, "govbus_sink_insert_seconds", "table", table_sel),
                         "p95 {{table}}")), 8)
    grid.add(timeseries("Rows per insert", "short",
                        (quantile(0.5, "govbus_sink_batch_rows", "table", table_sel),
                         "p50 {{table}}")), 8)
    grid.add(timeseries("Deduplicated retries /s", "ops",
                        (f"sum by (table) "
                         f"(rate({m('govbus_sink_dedup_retries_total')}{table_sel}[5m]))",
                         "{{table}}")), 8)
    grid.row("Latency")
    grid.add(timeseries("End-to-end latency (source -> ClickHouse)", "s",
                        *((quantile(q, "govbus_end_to_end_latency_seconds", "table", table_sel),
                           f"p{round(q * 100)} {{{{table}}}}") for q in (0.5, 0.95, 0.99))), 24)
    grid.row("Re-identification risk (k-anonymity over each library's quasi-identifiers)")
    small = m("govbus_library_small_class_rows")
    grid.add(table("Rows in classes below k, smallest class, rows", "short",
                   (f"max by (table) ({small})", "below k"),
                   (f"min by (table) ({m('govbus_library_smallest_class_rows')})", "smallest"),
                   (f"max by (table) ({m('govbus_library_rows')})", "rows"),
                   description="A row in a class smaller than k can be singled out by someone "
                               "who knows its district, sex, birth month and ethnicity."), 8)
    grid.add(timeseries("Share of rows in classes below k", "percentunit",
                        (f"max by (table) ({small}) / max by (table) "
                         f"({m('govbus_library_rows')} > 0)", "{{table}}")), 8)
    grid.add(timeseries("Smallest class (k reached)", "short",
                        (f"min by (table) ({m('govbus_library_smallest_class_rows')})",
                         "{{table}}")), 8)
    grid.row("Sharing (subscriptions to catalog resources)")
    grid.add(timeseries("有条件 requests past their due date", "short",
                        (f"max by (dept) ({m('govbus_subscriptions_overdue_requests')})",
                         "{{dept}}")), 24)
    variables = [_variable("table", f"label_values({rows}, table)", "Table")]
    return _dashboard("govbus-sink", "govbus / ClickHouse sink health",
                      "Freshness, throughput, insert time and retries of the theme libraries.",
                      grid.panels, variables)


def kafka_brokers() -> dict[str, Any]:
    """The brokers' own metrics (their JMX exporter agents, job "kafka", label node)."""
    under_replicated = m("kafka_server_replicamanager_underreplicatedpartitions")
    under_min_isr = m("kafka_server_replicamanager_underminisrpartitioncount")
    controller = m("kafka_controller_kafkacontroller_activecontrollercount")

    def controllers_view(name: str) -> str:
        # Every node of the quorum reports the controller gauges; the leader's are current.
        return f"max({m(name)} and on (node) ({controller} == 1))"

    offline = controllers_view("kafka_controller_kafkacontroller_offlinepartitionscount")
    fenced = controllers_view("kafka_controller_kafkacontroller_fencedbrokercount")
    alarm = [(None, "green"), (1, "red")]
    grid = _Layout()
    grid.row("Cluster")
    grid.add(stat("Nodes down", "none", 'count(up{job="kafka"} == 0) or vector(0)',
                  thresholds=alarm, description="Nodes whose metrics agent does not answer "
                  "(the broker process is gone or hangs)."), 4, 4)
    grid.add(stat("Active controller", "none", f"max by (node) ({controller}) == 1",
                  "node {{node}}", show=mcommon.BigValueTextMode.NAME,
                  description="The node leading the KRaft controller quorum."), 4, 4)
    grid.add(stat("Brokers (controller's view)", "none",
                  controllers_view("kafka_controller_kafkacontroller_activebrokercount"),
                  description="Registered, unfenced brokers."), 4, 4)
    grid.add(stat("Fenced brokers", "none", fenced, thresholds=alarm), 4, 4)
    grid.add(stat("Offline partitions", "none", offline, thresholds=alarm,
                  description="Partitions without a leader: nobody can write or read them."),
             4, 4)
    grid.add(stat("Under-replicated partitions", "none", f"sum({under_replicated})",
                  thresholds=[(None, "green"), (1, "orange")]), 4, 4)
    grid.row("Replication")
    grid.add(timeseries("Under-replicated partitions by broker", "short",
                        (f"sum by (node) ({under_replicated})", "node {{node}}"),
                        description="Partitions each broker leads that have a replica out of "
                                    "sync: a broker down or falling behind."))
    grid.add(timeseries("Partitions under min ISR by broker (acks=all writes refused)", "short",
                        (f"sum by (node) ({under_min_isr})", "node {{node}}")))
    grid.row("Controller")
    grid.add(timeseries("Active controller by node (1 = leads the quorum)", "short",
                        (f"max by (node) ({controller})", "node {{node}}")))
    grid.add(timeseries("Offline partitions and fenced brokers (controller's view)", "short",
                        (offline, "offline partitions"), (fenced, "fenced brokers")))
    return _dashboard("govbus-kafka", "govbus / Kafka brokers",
                      "Replication and the controller, from the brokers' own metrics.",
                      grid.panels)


DASHBOARDS = {
    "pipeline-overview.json": pipeline_overview,
    "department-quality.json": department_quality,
    "sink-health.json": sink_health,
    "kafka-brokers.json": kafka_brokers,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
            for name, build in DASHBOARDS.items()}


def write(folder: Path = GRAFANA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else GRAFANA_DIR):
        print(written_path)
