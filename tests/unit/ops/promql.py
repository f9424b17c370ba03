"""Metric names in PromQL expressions, for checking them against ops.metrics."""

from __future__ import annotations

import re

from ops.metrics import BROKER_METRICS, METRICS

#: Every sample name a scrape of govbus shows for a declared metric.
GOVBUS_SERIES = frozenset(name for spec in METRICS for name in spec.series_names)
#: Every sample name the brokers' metrics agents serve for a declared broker metric.
BROKER_SERIES = frozenset(name for spec in BROKER_METRICS for name in spec.series_names)
DECLARED_SERIES = GOVBUS_SERIES | BROKER_SERIES

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"\b(?:govbus|kafka)_[A-Za-z0-9_]+")


def metric_names(expr: str) -> set[str]:
    """govbus_* and kafka_* identifiers in an expression, outside string literals (label
    values such as job="kafka")."""
    return set(_IDENTIFIER.findall(_STRING.sub('""', expr)))
