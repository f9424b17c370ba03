"""``govbus bench soak``: the whole pipeline at a steady rate for minutes; every minute each
process's resident memory, and at the end its growth since minute 5 (before then the
caches, the state stores and the engine are still filling)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connectors.simulate import flush_all, publish_event
from connectors.simulator import DepartmentSimulator
from govbus.chaos.pipeline import Pipeline, running_pipeline
from govbus.wiring import publishers
from topics.schemas import source_names

Say = Callable[[str], None]
BASELINE_MINUTE = 5


@dataclass
class SoakResult:
    rate: float
    published: int = 0
    rss_mb: dict[str, list[float]] = field(default_factory=dict)  # per process, per minute

    def growth(self) -> dict[str, float | None]:
        """Per process: RSS growth from minute 5 to the last minute, as a share."""
        result: dict[str, float | None] = {}
        for name, series in self.rss_mb.items():
            if len(series) > BASELINE_MINUTE:
                base = series[BASELINE_MINUTE - 1]
                result[name] = (series[-1] - base) / base if base else None
            else:
                result[name] = None
        return result


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def soak(minutes: int, rate: float, say: Say) -> Iterator[tuple[int, dict[str, float]]]:
    """Yields (minute, RSS MB per process) every minute; the result's figures at the end are
    in the last value yielded (see ``run``)."""
    with running_pipeline(say) as pipeline:
        yield from _steady(pipeline, minutes, rate)


def _steady(pipeline: Pipeline, minutes: int, rate: float
            ) -> Iterator[tuple[int, dict[str, float]]]:
    targets = publishers(pipeline.settings, list(source_names()))
    changes = DepartmentSimulator(seed=23, defect_rate=0.05).changes()
    started = time.monotonic()
    sent = 0
    for minute in range(1, minutes + 1):
        until = started + 60 * minute
        while (now := time.monotonic()) < until:
            due = int((now - started) * rate)
            while sent < due:
                publish_event(next(changes), targets)
                sent += 1
            for target in targets.values():
                target.poll()
            time.sleep(0.01)
        pipeline.processes.check()
        yield minute, {name: rss_mb(process.pid)
                       for name, (process, _) in pipeline.processes.running.items()}
    flush_all(targets, 60.0)


def run(minutes: int, rate: float, say: Say) -> SoakResult:
    result = SoakResult(rate)
    for minute, rss in soak(minutes, rate, say):
        for name, mb in rss.items():
            result.rss_mb.setdefault(name, []).append(mb)
        say(f"minute {minute}: " + ", ".join(f"{n} {mb:,.0f} MB" for n, mb in rss.items()))
    result.published = int(minutes * 60 * rate)
    return result
