"""Drives the department simulator at a steady rate: into the raw topics through the
publisher SDK, or into the departments' own PostgreSQL tables (``department_db``), from which
Debezium carries the changes."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.publisher import DeliveryReport
from connectors.simulator import DepartmentSimulator, SimulatedEvent


class ChangeTarget(Protocol):
    """Where a source's changes go: a publisher, or a department table's writer."""

    def publish(self, op: str, *, before: Mapping[str, Any] | None = ...,
                after: Mapping[str, Any] | None = ..., sequence: str | None = ...,
                source_ts_ms: int | None = ..., event_id: str | None = ...) -> str: ...

    def poll(self) -> None: ...

    def flush(self, timeout_s: float = ...) -> DeliveryReport: ...


@dataclass
class SimulationReport:
    snapshot: int = 0
    changes: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    defects: Counter[str] = field(default_factory=Counter)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def published(self) -> int:
        return self.snapshot + self.changes


def run_simulation(
    simulator: DepartmentSimulator,
    publishers: Mapping[str, ChangeTarget],
    rate: float,
    duration_s: float,
    progress: Callable[[int], None] = lambda _: None,
) -> SimulationReport:
    """Publish the initial snapshot, then changes at `rate` events/s for `duration_s`."""
    report = SimulationReport()
    for event in simulator.initial_snapshot():
        _publish(event, publishers, report)
        report.snapshot += 1
    progress(report.published)
    total = int(rate * duration_s)
    started = time.monotonic()
    changes: Iterable[SimulatedEvent] = itertools.islice(simulator.changes(), total)
    for sent, event in enumerate(changes, start=1):
        _publish(event, publishers, report)
        report.changes += 1
        # Pace against the clock, not per event, so a slow moment is caught up afterwards.
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0.005:
            for publisher in publishers.values():
                publisher.poll()
            progress(report.published)
            time.sleep(ahead)
    progress(report.published)
    report.delivery = flush_all(publishers, 60.0)
    return report


def publish_event(event: SimulatedEvent, publishers: Mapping[str, ChangeTarget]) -> None:
    """Send one simulated event through its source's publisher."""
    publishers[event.source].publish(
        event.op,
        before=event.before,
        after=event.after,
        sequence=event.sequence,
        source_ts_ms=event.ts_ms,
        event_id=event.event_id,
    )


def publish_all(events: Iterable[SimulatedEvent], publishers: Mapping[str, ChangeTarget],
                timeout_s: float = 60.0) -> DeliveryReport:
    """Send the events and wait until the broker acknowledged them all."""
    for count, event in enumerate(events, start=1):
        publish_event(event, publishers)
        if count % 2000 == 0:
            publishers[event.source].poll()
    total = flush_all(publishers, timeout_s)
    if total.failed or total.pending:
        raise RuntimeError(f"events not acknowledged: {total.errors[:3]}")
    return total


def flush_all(publishers: Mapping[str, ChangeTarget], timeout_s: float) -> DeliveryReport:
    """Wait for every publisher's events; their delivery reports added up."""
    total = DeliveryReport()
    for publisher in publishers.values():
        report = publisher.flush(timeout_s)
        total.sent += report.sent
        total.delivered += report.delivered
        total.failed += report.failed
        total.errors.extend(report.errors)
    return total


def _publish(
    event: SimulatedEvent, publishers: Mapping[str, ChangeTarget], report: SimulationReport
) -> None:
    publish_event(event, publishers)
    report.by_source[event.source] += 1
    if event.defect is not None:
        report.defects[str(event.defect)] += 1
