"""No metric lies by silence: each declared metric is set somewhere the bus runs, so a panel
or an alert over it shows what happened, not a flat nothing.

A static scan, no services: a metric object of ``ops.metrics`` counts as set when code in the
bus's packages (outside ``ops/metrics.py``) uses it, when a helper of ``ops/metrics.py`` that
such code calls uses it, or when ``ops/metrics.py`` sets it at import (``build_info``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

from ops import dashboards, metrics
from ops.http import ALERT_RULES
from ops.metrics import METRICS
from ops.stack.broker_metrics import exporter_config

from .promql import BROKER_SERIES, metric_names

PROJECT = Path(metrics.__file__).resolve().parents[1]
RUNTIME_PACKAGES = ("govbus", "streams", "sinks", "connectors", "ops", "topics")
METRICS_FILE = Path(metrics.__file__).resolve()
DECLARERS = {"_counter", "_gauge", "_histogram"}


def _declared_objects(tree: ast.Module) -> dict[str, str]:
    """Module attribute -> declared metric name, from ``x = _counter("govbus_...", ...)``."""
    objects = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in DECLARERS
                and isinstance(node.targets[0], ast.Name)):
            first = node.value.args[0]
            assert isinstance(first, ast.Constant)
            objects[node.targets[0].id] = str(first.value)
    return objects


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _used_from_outside() -> set[str]:
    """Attributes of ops.metrics that modules other than ops/metrics.py use."""
    used: set[str] = set()
    for package in RUNTIME_PACKAGES:
        for path in (PROJECT / package).rglob("*.py"):
            if path.resolve() == METRICS_FILE:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id == "metrics"):
                    used.add(node.attr)
                elif isinstance(node, ast.ImportFrom) and node.module == "ops.metrics":
                    used.update(alias.name for alias in node.names)
    return used


def set_metrics() -> set[str]:
    """Declared metric names that some running code sets."""
    tree = ast.parse(METRICS_FILE.read_text())
    objects = _declared_objects(tree)
    touched = _used_from_outside()
    helpers = {node.name: _names_in(node) for node in tree.body
               if isinstance(node, ast.FunctionDef)}
    for name in touched & helpers.keys():
        touched |= helpers[name]
    at_import = {name for node in tree.body if isinstance(node, ast.Expr)
                 for name in _names_in(node)}
    return {metric for attr, metric in objects.items() if attr in touched | at_import}


def _dashboard_exprs() -> Iterator[str]:
    for path in dashboards.GRAFANA_DIR.glob("*.json"):
        text = json.loads(path.read_text())
        for panel in text["panels"]:
            for target in panel.get("targets", []):
                yield target["expr"]
        for variable in text["templating"]["list"]:
            if variable["type"] == "query":
                yield variable["query"]


def _declared_name(series: str) -> str:
    for spec in METRICS:
        if series in spec.series_names:
            return spec.name
    raise KeyError(series)


def test_the_scan_finds_every_declaration() -> None:
    objects = _declared_objects(ast.parse(METRICS_FILE.read_text()))
    assert set(objects.values()) == {spec.name for spec in METRICS}


def test_every_declared_metric_is_set_somewhere() -> None:
    silent = {spec.name for spec in METRICS} - set_metrics()
    assert not silent, f"declared but never set (set them where the event happens, or remove "\
        f"them with their panels): {sorted(silent)}"


def exported_by_the_brokers() -> set[str]:
    """Names the brokers' JMX exporter agents serve, read from the configuration they are
    given as the agent reads it: an MBean its object filter lets through, named by the first
    rule whose pattern matches ``domain<key=value, ...><>Value``."""
    config = exporter_config()
    served = set()
    for object_name in config["includeObjectNames"]:
        domain, _, keys = object_name.partition(":")
        bean = f"{domain}<{', '.join(keys.split(','))}><>Value"
        named = [r["name"] for r in config["rules"] if re.fullmatch(r["pattern"], bean)]
        if named:
            served.add(named[0])
    return served


def test_every_metric_on_a_dashboard_or_in_an_alert_is_set() -> None:
    """govbus's own metrics by govbus code, the brokers' by the brokers' agents."""
    referenced = {series for text in (*_dashboard_exprs(), ALERT_RULES.read_text())
                  for series in metric_names(text)}
    assert referenced, "no metric found on the dashboards: have they moved?"
    of_brokers = referenced & BROKER_SERIES
    assert of_brokers, "no broker metric on a dashboard: has the Kafka dashboard moved?"
    assert not of_brokers - exported_by_the_brokers()
    assert not {_declared_name(series) for series in referenced - of_brokers} - set_metrics()
