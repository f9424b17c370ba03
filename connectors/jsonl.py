"""Publishes change events from a JSON Lines file, one event or row per line.

A line is either a change event ``{"op": "u", "before": {...}, "after": {...},
"sequence": "...", "ts_ms": ..., "event_id": "..."}`` or a bare row, published as a create.
A bad line is reported with its number and not sent; the good lines are sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.publisher import ChangeEventPublisher, RecordRejectedError

EVENT_KEYS = frozenset({"op", "before", "after", "sequence", "ts_ms", "event_id"})


@dataclass
class FileReport:
    published: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def publish_lines(publisher: ChangeEventPublisher, lines: Iterable[str]) -> FileReport:
    report = FileReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            publisher.publish(**_event_arguments(line))
        except (ValueError, RecordRejectedError) as exc:
            report.bad_lines.append((number, str(exc)))
            continue
        report.published += 1
        if report.published % 1000 == 0:
            publisher.poll()
    return report


def _event_arguments(line: str) -> dict[str, Any]:
    try:
        document = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    if "op" not in document:
        return {"op": "c", "after": document}
    unknown = document.keys() - EVENT_KEYS
    if unknown:
        raise ValueError(f"unknown event key(s): {', '.join(sorted(unknown))}")
    return {
        "op": document["op"],
        "before": document.get("before"),
        "after": document.get("after"),
        "sequence": document.get("sequence"),
        "source_ts_ms": document.get("ts_ms"),
        "event_id": document.get("event_id"),
    }
