"""``govbus bench soak``: the whole pipeline at a steady rate for minutes; every minute each
process's resident memory and each layer's lag, and at the end the memory's growth since
minute 5 (before then the caches, the state stores and the engine are still filling). The
lag tells growth that is a backlog (a layer behind holds fetched messages) from growth that
is not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from connectors.simulate import flush_all, publish_event
from connectors.simulator import DepartmentSimulator
from govbus.chaos.pipeline import Pipeline, layer_progress, running_pipeline
from govbus.wiring import publishers
from topics.schemas import source_names

Say = Callable[[str], None]
BASELINE_MINUTE = 5
# The simulated city's residents at the start (it grows to three times that). A city with a
# thousand changes a second has many people: with the demo's 200, each resident changed
# every 0.6 s, a week of source time passed every 3.6 minutes, and a busy person's profile
# held 155 retraction markers inside the horizon, each decoded and merged with every fact.
SOAK_POPULATION = 20_000


@dataclass
class SoakResult:
    rate: float
    published: int = 0
    rss_mb: dict[str, list[float]] = field(default_factory=dict)  # per process, per minute
    lag: dict[str, list[int]] = field(default_factory=dict)  # per layer, per minute

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


Minute = tuple[int, dict[str, float], dict[str, int]]


def soak(minutes: int, rate: float, say: Say, population: int = SOAK_POPULATION
         ) -> Iterator[Minute]:
    """Yields (minute, RSS MB per process, lag per layer) every minute (see ``run``)."""
    with running_pipeline(say) as pipeline:
        yield from _steady(pipeline, minutes, rate, population)


def _lag(pipeline: Pipeline) -> dict[str, int]:
    """Messages each layer's group has not committed yet."""
    layers = ["raw", "theme", "sink"]
    progress = layer_progress(pipeline.settings, layers)
    try:
        found = progress.partition_positions()
        return {layer: progress.lag([watch]) for layer, watch in zip(layers, found, strict=True)}
    finally:
        progress.close()


def _steady(pipeline: Pipeline, minutes: int, rate: float, population: int
            ) -> Iterator[Minute]:
    targets = publishers(pipeline.settings, list(source_names()))
    changes = DepartmentSimulator(seed=23, defect_rate=0.05, population=population).changes()
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
                       for name, (process, _) in pipeline.processes.running.items()
                       }, _lag(pipeline)
    flush_all(targets, 60.0)


def run(minutes: int, rate: float, say: Say, population: int = SOAK_POPULATION) -> SoakResult:
    result = SoakResult(rate)
    for minute, rss, lag in soak(minutes, rate, say, population):
        for name, mb in rss.items():
            result.rss_mb.setdefault(name, []).append(mb)
        for layer, behind in lag.items():
            result.lag.setdefault(layer, []).append(behind)
        say(f"minute {minute}: " + ", ".join(f"{n} {mb:,.0f} MB" for n, mb in rss.items())
            + "; lag " + ", ".join(f"{layer} {n:,}" for layer, n in lag.items()))
    result.published = int(minutes * 60 * rate)
    return result
