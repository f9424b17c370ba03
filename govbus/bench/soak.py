"""``govbus bench soak``: the whole pipeline at a steady rate for minutes; every minute each
process's resident memory and each layer's lag, and at the end the memory's growth since
minute 5 (before then the caches, the state stores and the engine are still filling). The
lag tells growth that is a backlog (a layer behind holds fetched messages) from growth that
is not.

A minute's memory is the median of samples taken through it, its peak the largest: the
sink's swings by up to 120 MB within a minute as chDB merges parts, so one reading at the
minute's end measured where a merge stood (a 30-minute run at 1,000/s: +10.4% from minute 5
by single readings, 615 MB at minute 5 between 645 and 634 at minutes 4 and 6, and 679 MB at
minute 30 after 651 at minute 29). Growth that lasts moves the median; a merge does not."""

from __future__ import annotations

import statistics
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
SAMPLES_PER_MINUTE = 12


@dataclass
class SoakResult:
    rate: float
    published: int = 0
    rss_mb: dict[str, list[float]] = field(default_factory=dict)  # per process, per minute
    lag: dict[str, list[int]] = field(default_factory=dict)  # per layer, per minute

    def growth(self) -> dict[str, float | None]:
        """Per process: growth of its minutes' median RSS from minute 5 to the last minute,
        as a share."""
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


@dataclass(frozen=True)
class Minute:
    """One minute of a soak: per process its median and its peak RSS (MB), per layer its lag
    at the minute's end."""

    number: int
    rss_mb: dict[str, float]
    peak_mb: dict[str, float]
    lag: dict[str, int]

    def line(self) -> str:
        return (f"minute {self.number}: "
                + ", ".join(f"{name} {mb:,.0f} MB (peak {self.peak_mb[name]:,.0f})"
                            for name, mb in self.rss_mb.items())
                + "; lag " + ", ".join(f"{layer} {n:,}" for layer, n in self.lag.items()))


def soak(minutes: int, rate: float, say: Say, population: int = SOAK_POPULATION
         ) -> Iterator[Minute]:
    """Yields each minute's memory and lag (see ``run``)."""
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
    every = 60 / SAMPLES_PER_MINUTE
    for minute in range(1, minutes + 1):
        until = started + 60 * minute
        next_sample = until - 60 + every
        samples: dict[str, list[float]] = {}
        while (now := time.monotonic()) < until:
            due = int((now - started) * rate)
            while sent < due:
                publish_event(next(changes), targets)
                sent += 1
            for target in targets.values():
                target.poll()
            if now >= next_sample:
                _sample(pipeline, samples)
                next_sample += every
            time.sleep(0.01)
        pipeline.processes.check()
        _sample(pipeline, samples)
        yield Minute(minute, {name: statistics.median(s) for name, s in samples.items()},
                     {name: max(s) for name, s in samples.items()}, _lag(pipeline))
    flush_all(targets, 60.0)


def _sample(pipeline: Pipeline, samples: dict[str, list[float]]) -> None:
    for name, (process, _) in pipeline.processes.running.items():
        samples.setdefault(name, []).append(rss_mb(process.pid))


def run(minutes: int, rate: float, say: Say, population: int = SOAK_POPULATION) -> SoakResult:
    result = SoakResult(rate)
    for minute in soak(minutes, rate, say, population):
        for name, mb in minute.rss_mb.items():
            result.rss_mb.setdefault(name, []).append(mb)
        for layer, behind in minute.lag.items():
            result.lag.setdefault(layer, []).append(behind)
        say(minute.line())
    result.published = int(minutes * 60 * rate)
    return result
