"""Grafana dashboards as code, built from the declared metrics.

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

from ops.metrics import METRICS_BY_NAME

GRAFANA_DIR = Path(__file__).resolve().parent / "grafana"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
Panel = dict[str, Any]


def m(name: str, suffix: str = "") -> str:
    """A declared metric's series name (``suffix``: _bucket, _sum or _count of a histogram)."""
    spec = METRICS_BY_NAME[name]  # KeyError: the metric is not declared in ops.metrics
    series = name + suffix
    if series not in spec.series_names:
        raise KeyError(f"{series} is not a series of {spec.type} {name}")
    return series


def quantile(q: float, name: str, by: str, selector: str = "", window: str = "5m") -> str:
    return (f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({m(name, '_bucket')}{selector}[{window}])))")


class _Layout:
    """Places panels left to right on Grafana's 24-column grid, with rows between."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self.x = 0
        self.y = 0
        self.row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                            "id": len(self.panels) + 1})
        self.y += 1

    def add(self, panel: Panel, w: int = 12, h: int = 8) -> None:
        if self.x + w > 24:
            self._newline()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = len(self.panels) + 1
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def _newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0


def _targets(queries: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"datasource": DATASOURCE, "expr": expr, "legendFormat": legend,
             "refId": chr(ord("A") + i)} for i, (expr, legend) in enumerate(queries)]


def timeseries(title: str, unit: str, *queries: tuple[str, str], stack: bool = False,
               description: str = "") -> Panel:
    custom: dict[str, Any] = {"drawStyle": "line", "fillOpacity": 10 if stack else 0,
                              "showPoints": "never"}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {"type": "timeseries", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets(queries),
            "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title: str, unit: str, expr: str, legend: str = "",
         thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
         description: str = "") -> Panel:
    return {"type": "stat", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": _targets([(expr, legend)]),
            "fieldConfig": {"defaults": {
                "unit": unit,
                "thresholds": {"mode": "absolute", "steps": [
                    {"value": value, "color": color} for value, color in thresholds]}},
                "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False},
                        "colorMode": "background", "graphMode": "area"}}


def table(title: str, unit: str, *queries: tuple[str, str], description: str = "") -> Panel:
    targets = _targets(queries)
    for target in targets:
        target.update({"instant": True, "format": "table"})
    return {"type": "table", "title": title, "description": description,
            "datasource": DATASOURCE, "targets": targets,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "transformations": [{"id": "merge"}], "options": {"showHeader": True}}


def _variable(name: str, query: str, label: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": query, "refId": f"var-{name}"}, "definition": query,
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1}


def _dashboard(uid: str, title: str, description: str, panels: list[Panel],
               variables: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    datasource = {"name": "datasource", "label": "Prometheus", "type": "datasource",
                  "query": "prometheus", "current": {}, "hide": 0}
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["govbus"], "editable": True, "graphTooltip": 1,
        "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"}, "timezone": "browser",
        "templating": {"list": [datasource, *variables]},
        "annotations": {"list": []}, "links": [],
        "panels": panels,
    }


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
    grid.add(timeseries("Dead letters by stage and reason", "ops",
                        (f"sum by (stage, reason) (rate({dlq}[5m]))", "{{stage}} {{reason}}"),
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


DASHBOARDS = {
    "pipeline-overview.json": pipeline_overview,
    "department-quality.json": department_quality,
    "sink-health.json": sink_health,
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
