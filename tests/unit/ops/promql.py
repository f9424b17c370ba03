"""Metric names in PromQL expressions, for checking them against ops.metrics."""

from __future__ import annotations

import re

from ops.metrics import METRICS

#: Every sample name a scrape of govbus shows for a declared metric.
DECLARED_SERIES = frozenset(name for spec in METRICS for name in spec.series_names)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"\bgovbus_[A-Za-z0-9_]+")


def govbus_names(expr: str) -> set[str]:
    """govbus_* identifiers in an expression, outside string literals (label values)."""
    return set(_IDENTIFIER.findall(_STRING.sub('""', expr)))
