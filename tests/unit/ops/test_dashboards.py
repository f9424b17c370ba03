"""Grafana dashboards: generated from ops.metrics, up to date, referencing declared metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops import dashboards
from ops.metrics import BROKER_METRICS, METRICS

from .conftest import Promtool
from .promql import DECLARED_SERIES, metric_names


def _loaded() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text())
            for path in sorted(dashboards.GRAFANA_DIR.glob("*.json"))}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _exprs(dashboard: dict[str, Any]) -> Iterator[str]:
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["query"]


def test_the_files_are_what_the_generator_makes() -> None:
    rendered = dashboards.render()
    on_disk = {path.name: path.read_text() for path in dashboards.GRAFANA_DIR.glob("*.json")}
    assert on_disk == rendered, "run `python -m ops.dashboards` and keep the result"


def test_expressions_reference_only_declared_metrics() -> None:
    for name, dashboard in _loaded().items():
        for expr in _exprs(dashboard):
            unknown = metric_names(expr) - DECLARED_SERIES
            assert not unknown, f"{name}: {expr} uses undeclared {unknown}"


def test_every_metric_but_build_info_is_on_a_dashboard() -> None:
    used = {n for dashboard in _loaded().values() for e in _exprs(dashboard)
            for n in metric_names(e)}
    missing = [spec.name for spec in (*METRICS, *BROKER_METRICS)
               if spec.name != "govbus_build_info" and not set(spec.series_names) & used]
    assert not missing


def test_the_generator_refuses_undeclared_metrics() -> None:
    with pytest.raises(KeyError):
        dashboards.m("govbus_not_declared_total")
    with pytest.raises(KeyError):
        dashboards.m("govbus_stage_events_total", "_bucket")
    with pytest.raises(KeyError):
        dashboards.m("kafka_server_replicamanager_notdeclared")
    assert dashboards.m("kafka_server_replicamanager_underreplicatedpartitions") == \
        "kafka_server_replicamanager_underreplicatedpartitions"


def test_dashboards_are_well_formed() -> None:
    uids = set()
    for name, dashboard in _loaded().items():
        assert dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        ids = [panel["id"] for panel in _panels(dashboard)]
        assert len(ids) == len(set(ids)), name
        for panel in _panels(dashboard):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}"


def test_expressions_parse(tmp_path: Path, promtool: Promtool) -> None:
    """promtool parses each expression as a recording rule (Grafana variables filled in)."""
    for name, dashboard in _loaded().items():
        rules = [{"record": f"govbus:check:{i}",
                  "expr": expr.replace("$dept", ".*").replace("$table", ".*")}
                 for i, expr in enumerate(_exprs(dashboard)) if not expr.startswith("label_")]
        path = tmp_path / f"{name}.rules.json"  # JSON is YAML
        path.write_text(json.dumps({"groups": [{"name": name, "rules": rules}]}))
        result = promtool("check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
