"""``govbus bench e2e``: the whole pipeline, side by side with a per-event faust baseline.

Two pipelines do the same work on the same simulated events:

- ``govbus``: ``govbus worker --role all`` (batched, fused raw layer; batched theme layer);
- ``baseline``: ``python -m govbus.bench.faust_baseline worker`` (faust, one event at a time, each
  output sent through faust's producer, one theme record per fact).

Two modes, each run in a fresh topic namespace and a temporary state folder (its own chDB,
query endpoint and worker state), so a running demo is never touched:

- fixed rate (``rate > 0``): the pipeline and ``govbus sink run`` are started and warmed up
  with the simulator's snapshot; then changes are published at the rate for the duration,
  each stamped with its real publish time as source time. Throughput is the published
  events over the time from the first publish to the last theme record written; the
  pipeline kept up when it drained within a short time after publishing stopped. Latency is
  source time -> row queryable in ClickHouse (``theme_*`` tables): the moment the sink's
  insert of the row was acknowledged (a MergeTree row is visible to the next query then),
  logged by the sink per insert (``sink run --latency-log``). Polling the engine instead
  cost the measured sink ~20% of a core.
- max sustained (``rate == 0``): the simulated events are published once into a staging
  namespace and read back as bytes. Each pipeline worker (no sink) is warmed up on a prefix
  of them, then the rest is written to its raw topics at once (pre-encoded, a fraction of a
  second): events/s from that write to the last theme record, next to the bare loop (the
  same stage work over the same messages in memory, no Kafka).

Every process started here is stopped when the run ends, fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import FrameType
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from connectors.publisher import publisher_config
from connectors.simulate import flush_all
from connectors.simulator import DepartmentSimulator, SimulatedEvent
from govbus.bench.faust_baseline import app_id as baseline_app_id
from govbus.bench.latency import percentile, publish_at_rate, read_latency_log
from govbus.bench.stage_rates import bare_raw_to_theme_rate, read_raw
from govbus.bench.stage_runs import fresh_namespace, prefill_raw
from govbus.keys import pseudonymizer
from govbus.wiring import publishers, registry, topic_admin
from ops.kafka_client import kafka_config
from ops.keys import key_env_for_child
from ops.runtime.client_config import offsets_watch_config
from ops.runtime.messages import InputMessage
from ops.settings import Settings
from sinks.clickhouse.tables import sink_tables
from sinks.query_client import QueryError, endpoint_url
from sinks.service import group_id as sink_group_id
from streams.runtime.raw_worker import group_id as raw_group_id
from streams.runtime.theme_worker import group_id as theme_app_id
from topics.catalog import Layer, catalog_for
from topics.schemas import source_names

PIPELINES = ("govbus", "baseline")
STARTUP_TIMEOUT_S = 180.0
STOP_GRACE_S = 25.0
QUIET_S = 1.5

Say = Callable[[str], None]


@dataclass
class RunResult:
    """One pipeline at one rate (0: max sustained)."""

    pipeline: str
    rate: float
    events: int
    duration_s: float
    throughput_per_s: float
    drained: bool
    kept_up: bool
    drain_s: float | None = None
    lag_at_end: int | None = None
    theme_records: int = 0
    rows_seen: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    theme_p50_ms: float | None = None  # source time -> theme record rendered
    theme_p99_ms: float | None = None
    error: str | None = None


@dataclass
class Report:
    duration_s: float
    rates: list[float]
    events: int
    runs: list[RunResult] = field(default_factory=list)
    bare_per_s: float | None = None

    def ratios(self) -> list[dict[str, Any]]:
        """govbus/baseline per rate: throughput ratio, and latency as baseline/govbus."""
        found = []
        for rate in self.rates:
            by = {r.pipeline: r for r in self.runs if r.rate == rate and r.error is None}
            ours, theirs = by.get("govbus"), by.get("baseline")
            if ours is None or theirs is None:
                continue
            found.append({
                "rate": rate,
                "throughput_govbus_over_baseline": _ratio(ours.throughput_per_s,
                                                          theirs.throughput_per_s),
                "p50_baseline_over_govbus": _ratio(theirs.p50_ms, ours.p50_ms),
                "p99_baseline_over_govbus": _ratio(theirs.p99_ms, ours.p99_ms),
            })
        return found

    def to_json(self, settings: Settings) -> dict[str, Any]:
        return {
            "benchmark": "govbus bench e2e",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                     "platform": platform.platform()},
            "settings": {"rates": self.rates, "duration_s": self.duration_s,
                         "max_sustained_events": self.events,
                         "batch_size": settings.batch_size,
                         "batch_seconds": settings.batch_seconds,
                         "sink_batch_rows": settings.sink_batch_rows,
                         "sink_batch_seconds": settings.sink_batch_seconds},
            "definitions": {
                "throughput_per_s": "events / (last theme record written - first publish); "
                "max sustained: events / (last theme record - start of the pre-encoded write "
                "into the warmed-up worker's raw topics); no sink",
                "latency": "p50/p99_ms: source time (stamped at publish) -> insert of the row "
                "into a ClickHouse theme_* table acknowledged (queryable from then on); "
                "theme_p50/p99_ms: source time -> theme record rendered (its updated_ms), for "
                "the same rows",
                "kept_up": f"drained within max({QUIET_S * 2:.0f} s, 10% of the duration) of "
                "the end of publishing",
                "lag_at_end": "raw and fact messages not yet committed by the pipeline when "
                "publishing ended (faust commits every few seconds)",
            },
            "bare_loop_per_s": self.bare_per_s,
            "runs": [asdict(r) for r in self.runs],
            "ratios": self.ratios(),
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


# ---------------------------------------------------------------- processes


class Processes:
    """Child processes of one run, with their logs; all stopped on exit of the block."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            self.running[name] = (
                subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env),
                log,
            )

    def check(self) -> None:
        for name, (process, log) in self.running.items():
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{tail}")

    def stop(self) -> None:
        """SIGTERM to all, then SIGKILL to any still running after the grace period (or at
        a second Ctrl-C)."""
        try:
            for process, _ in self.running.values():
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + STOP_GRACE_S
            for process, _ in self.running.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(max(0.1, deadline - time.monotonic()))
        finally:
            for process, _ in self.running.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
            self.running.clear()

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def worker_argv(pipeline: str) -> list[str]:
    if pipeline == "govbus":
        return [sys.executable, "-m", "govbus.cli", "worker", "--role", "all"]
    return [sys.executable, "-m", "govbus.bench.faust_baseline", "worker"]


SINK_ARGV = [sys.executable, "-m", "govbus.cli", "sink", "run", "--loglevel", "warning"]


@contextlib.contextmanager
def isolated_run(prefix: str, say: Say) -> Iterator[tuple[Settings, Processes]]:
    """A fresh namespace, a temporary state folder for the children, their processes; the
    processes are stopped and the namespace's topics deleted afterwards."""
    with fresh_namespace(prefix) as settings, tempfile.TemporaryDirectory(
        prefix="govbus-bench-"
    ) as folder:
        state = Path(folder)
        key = key_env_for_child(settings)
        env = {**os.environ, "GOVBUS_STATE_DIR": str(state), "GOVBUS_SINK_QUERY_PORT": "0",
               "GOVBUS_METRICS_PORT": "0", "GOVBUS_ACCESS_DIR": str(settings.access_folder),
               **key}
        key_file = {"pseudonym_key_file": Path(next(iter(key.values())))} if key else {}
        local = settings.model_copy(update={
            "state_dir": state, "sink_query_port": 0, "access_dir": settings.access_folder,
            **key_file})
        try:
            with Processes(state, env) as processes:
                yield local, processes
        finally:
            _delete_namespace(settings, say)


def _delete_namespace(settings: Settings, say: Say) -> None:
    namespace = settings.topic_namespace
    apps = f"govbus-{namespace}".replace(".", "-")
    try:
        names = [t for t in AdminClient({**kafka_config(settings)})
                 .list_topics(timeout=10).topics if t.startswith((namespace, apps))]
        topic_admin(settings).delete(names)
    except Exception as exc:  # best effort: the figures are already taken
        say(f"could not delete the topics of {namespace!r}: {exc}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every started process is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- observation


def _partitions(consumer: Consumer, topics: list[str]) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in topics
            for p in sorted(consumer.list_topics(t, timeout=10).topics[t].partitions)]


class Progress:
    """Committed offsets of consumer groups next to the topics' end offsets."""

    def __init__(self, connection: Mapping[str, Any], watches: list[tuple[str, list[str]]]) -> None:
        self._connection = connection
        self._groups = watches
        self.watches: list[tuple[Consumer, list[TopicPartition]]] = []
        self._open()

    def _open(self) -> None:
        for group, topics in self._groups:
            consumer = Consumer(offsets_watch_config(self._connection, group))
            self.watches.append((consumer, _partitions(consumer, topics)))

    def partition_positions(self) -> list[list[tuple[int, int]]]:
        """(end offset, committed offset) of each partition, per watch. A question the
        cluster does not answer (a broker restarting) raises, and the next is asked with new
        consumers: one of a three-node cluster's, asked before a restarted node took its
        partitions back, answered "not coordinator" for minutes while new ones were answered."""
        found = []
        try:
            if not self.watches:
                self._open()
            for consumer, partitions in self.watches:
                ends = [consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1]
                        for tp in partitions]
                done = [max(tp.offset, 0) for tp in consumer.committed(partitions, timeout=10)]
                found.append(list(zip(ends, done, strict=True)))
        except KafkaException:
            self.close()
            raise
        return found

    def positions(self) -> list[tuple[int, int]]:
        """(end offsets, committed offsets) summed per watch."""
        return [(sum(e for e, _ in watch), sum(d for _, d in watch))
                for watch in self.partition_positions()]

    def lag(self, positions: list[list[tuple[int, int]]] | None = None) -> int:
        """Messages not committed yet (of ``positions``, else fetched now). The govbus
        runtime commits its positions, past the markers transactions end with."""
        return sum(max(0, end - done)
                   for watch in positions or self.partition_positions() for end, done in watch)

    def drained(self, quiet_s: float) -> Callable[[], bool]:
        """A condition to wait for: the groups have committed all of their inputs, which
        hold something, and nothing moved for ``quiet_s``."""
        seen: list[tuple[list[list[tuple[int, int]]], float]] = []

        def quiet() -> bool:
            now = self.partition_positions()
            if self.lag(now) or not any(end for watch in now for end, _ in watch):
                seen.clear()
                return False
            if not seen or seen[0][0] != now:
                seen[:] = [(now, time.monotonic())]
            return time.monotonic() - seen[0][1] >= quiet_s

        return quiet

    def close(self) -> None:
        watches, self.watches = self.watches, []
        for consumer, _ in watches:
            consumer.close()


@dataclass
class _Seen:
    count: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    last_at: float = 0.0  # monotonic time the last message was read


class OutputWatch(threading.Thread):
    """Counts the messages written to topics (by layer) from now on, and their first and
    last timestamps (the producers' create time)."""

    def __init__(self, connection: Mapping[str, Any], layers: dict[str, list[str]]) -> None:
        super().__init__(daemon=True, name="output-watch")
        # Fetches wait to fill up: a fetch per produced batch loaded the measured broker.
        self.consumer = Consumer({**connection,
                                  "group.id": "govbus-bench-e2e-watch",
                                  "enable.auto.commit": False,
                                  "fetch.min.bytes": 1024 * 1024, "fetch.wait.max.ms": 100})
        self.layer_of = {t: layer for layer, topics in layers.items() for t in topics}
        self.seen = {layer: _Seen() for layer in layers}
        assignment = _partitions(self.consumer, list(self.layer_of))
        for tp in assignment:
            tp.offset = self.consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1]
        self.consumer.assign(assignment)
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                batch = self.consumer.consume(10_000, timeout=0.1)
                now = time.monotonic()
                with self.lock:
                    for message in batch:
                        topic = message.topic()
                        if message.error() is not None or topic is None:
                            continue
                        seen = self.seen[self.layer_of[topic]]
                        stamp = message.timestamp()[1]
                        seen.count += 1
                        seen.first_ms = stamp if seen.first_ms is None else min(seen.first_ms,
                                                                                 stamp)
                        seen.last_ms = stamp if seen.last_ms is None else max(seen.last_ms, stamp)
                        seen.last_at = now
        finally:
            self.consumer.close()

    def layer(self, name: str) -> _Seen:
        with self.lock:
            return _Seen(**asdict(self.seen[name]))

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def _wait(condition: Callable[[], bool], timeout_s: float, processes: Processes,
          interval_s: float = 0.25) -> bool:
    """True once ``condition`` holds, False at the timeout; raises if a process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        processes.check()
        if condition():
            return True
        time.sleep(interval_s)
    return False


def pipeline_watches(pipeline: str, settings: Settings) -> list[tuple[str, list[str]]]:
    """(consumer group, input topics) of the pipeline's raw and theme stages."""
    catalog = catalog_for(settings)
    raw = [t.name for t in catalog.by_layer(Layer.RAW)]
    facts = [t.name for t in catalog.by_layer(Layer.FACT)]
    if pipeline == "govbus":
        return [(raw_group_id(settings, pseudonymizer(settings).key_id), raw),
                (theme_app_id(settings), facts)]
    return [(baseline_app_id(settings), raw), (baseline_app_id(settings), facts)]


def sink_watch(settings: Settings) -> tuple[str, list[str]]:
    tables = sink_tables(catalog_for(settings), settings.clickhouse_database)
    topics = [t for table in tables for t in table.topics]
    return sink_group_id(settings), topics


# ---------------------------------------------------------------- runs


def fixed_rate(pipeline: str, rate: float, duration_s: float, say: Say,
               seed: int = 11) -> RunResult:
    """Pipeline + sink; changes published at ``rate`` for ``duration_s``."""
    with isolated_run(f"bench-e2e-{pipeline[:4]}-", say) as (settings, processes):
        simulator = DepartmentSimulator(seed=seed, defect_rate=0.05)
        snapshot = list(simulator.initial_snapshot())
        changes = list(islice(simulator.changes(), int(rate * duration_s)))
        targets = publishers(settings, list(source_names()))
        processes.start("sink", [*SINK_ARGV, "--latency-log", str(latency_log(settings))])
        processes.start("worker", worker_argv(pipeline))
        if not _wait(lambda: endpoint_url(settings) is not None, STARTUP_TIMEOUT_S, processes):
            raise RuntimeError("the sink announced no query endpoint in time")
        progress = Progress(kafka_config(settings),
                            [*pipeline_watches(pipeline, settings), sink_watch(settings)])
        try:
            say(f"{pipeline} @ {rate:,.0f}/s: warming up with {len(snapshot)} snapshot events")
            for event in snapshot:
                _publish(event, targets, time.time_ns() // 1_000_000)
            _flushed(targets)
            if not _wait(lambda: progress.lag() == 0, STARTUP_TIMEOUT_S, processes):
                raise RuntimeError("the pipeline did not process the warm-up in time")
            return _measure(pipeline, rate, duration_s, changes, targets, settings, processes,
                            progress, say)
        finally:
            progress.close()


def _flushed(targets: dict[str, Any]) -> None:
    report = flush_all(targets, 60.0)
    if report.failed or report.pending:
        raise RuntimeError(f"published events not acknowledged: {report.errors[:3]}")


def _publish(event: SimulatedEvent, targets: dict[str, Any], ts_ms: int) -> None:
    targets[event.source].publish(event.op, before=event.before, after=event.after,
                                  sequence=event.sequence, source_ts_ms=ts_ms,
                                  event_id=event.event_id)
    targets[event.source].poll()


def _measure(pipeline: str, rate: float, duration_s: float, changes: list[SimulatedEvent],
             targets: dict[str, Any], settings: Settings, processes: Processes,
             progress: Progress, say: Say) -> RunResult:
    n_pipeline = len(pipeline_watches(pipeline, settings))
    themes = [t.name for t in catalog_for(settings).by_layer(Layer.THEME)]
    watch = OutputWatch(kafka_config(settings), {"theme": themes})
    start_positions = progress.positions()
    since_ms = time.time_ns() // 1_000_000
    log = latency_log(settings)
    watch.start()
    try:
        say(f"{pipeline} @ {rate:,.0f}/s: publishing {len(changes):,} changes "
            f"for {duration_s:.0f} s")
        started_ms = time.time_ns() // 1_000_000
        published = publish_at_rate(lambda i, ts: _publish(changes[i], targets, ts), rate,
                                    duration_s)
        ended_ms = time.time_ns() // 1_000_000
        _flushed(targets)
        positions = progress.positions()
        lag_at_end = sum(end - done for end, done in positions[:n_pipeline])
        drain_timeout = max(30.0, duration_s)
        drained = _wait(lambda: progress.lag() == 0, drain_timeout, processes)
        quiet_deadline = time.monotonic() + 30.0
        while drained and time.monotonic() < quiet_deadline and (
            time.monotonic() - watch.layer("theme").last_at < QUIET_S
            or time.time() - _modified_at(log) < QUIET_S
        ):
            time.sleep(0.1)
        processes.check()
        theme = watch.layer("theme")
        if drained and theme.last_ms is not None:
            drain_s = max(0.0, (theme.last_ms - ended_ms) / 1000)
            throughput = published / ((theme.last_ms - started_ms) / 1000)
        else:
            drain_s = None
            # Share of the run's raw and fact messages the pipeline has committed by now.
            now_positions = progress.positions()[:n_pipeline]
            shares = [(done - start_done) / max(1, end - start_end)
                      for (end, done), (start_end, start_done)
                      in zip(now_positions, start_positions, strict=False)]
            elapsed = (time.time_ns() // 1_000_000 - started_ms) / 1000
            throughput = published * min(shares, default=0.0) / elapsed
        kept_up = drain_s is not None and drain_s <= max(2 * QUIET_S, 0.1 * duration_s)
    finally:
        watch.stop()
    queryable, made = read_latency_log(log, since_ms)
    latencies, rendered = sorted(queryable), sorted(made)
    return RunResult(
        pipeline, rate, published, duration_s, round(throughput, 1), drained, kept_up,
        drain_s=None if drain_s is None else round(drain_s, 3), lag_at_end=lag_at_end,
        theme_records=theme.count, rows_seen=len(latencies),
        p50_ms=_ms(percentile(latencies, 0.50)), p99_ms=_ms(percentile(latencies, 0.99)),
        max_ms=_ms(latencies[-1]) if latencies else None,
        theme_p50_ms=_ms(percentile(rendered, 0.50)),
        theme_p99_ms=_ms(percentile(rendered, 0.99)),
    )


def latency_log(settings: Settings) -> Path:
    """Where the run's sink logs each profile insert's row latencies."""
    return settings.state_dir / "run" / "latency.jsonl"


def _modified_at(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _ms(seconds: float) -> float | None:
    return round(seconds * 1000, 1) if seconds else None


@dataclass(frozen=True)
class Staged:
    """Raw messages as the publisher encoded them, by topic name without namespace; replayed
    byte for byte, so both pipelines get the same workload. Per-partition order is kept:
    ``warm`` is a prefix of every partition, ``measured`` the rest."""

    warm: list[InputMessage]
    measured: list[InputMessage]
    namespace_length: int


WARM_MESSAGES = 1000


def stage(events: int, report: Report, say: Say) -> Staged:
    """Publish the simulated events once (in a namespace of their own), read them back, and
    measure the bare loop over them."""
    with fresh_namespace("bench-e2e-stage-") as settings:
        try:
            say(f"max sustained: staging {events:,} simulated events")
            prefill_raw(settings, events + WARM_MESSAGES)
            catalog = catalog_for(settings)
            messages = read_raw(kafka_config(settings),
                                [t.name for t in catalog.by_layer(Layer.RAW)])
            values = [m for m in messages if m.value is not None]
            schemas = registry(settings)
            rate, _facts = bare_raw_to_theme_rate(
                catalog, values, schemas.schema_by_id,
                lambda subject, schema: schemas.register(subject, schema),
                pseudonymizer(settings), settings.batch_size)
            report.bare_per_s = round(rate, 1)
            say(f"bare loop (same work, no Kafka): {rate:,.0f} events/s")
        finally:
            _delete_namespace(settings, say)
        return Staged(messages[:WARM_MESSAGES], messages[WARM_MESSAGES:],
                      len(settings.topic_namespace))


def _replay(settings: Settings, staged: Staged, messages: list[InputMessage]) -> None:
    producer = Producer(publisher_config(kafka_config(settings)))
    namespace = settings.topic_namespace
    failed: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failed.append(error.str())

    for m in messages:
        topic = namespace + m.topic[staged.namespace_length:]
        while True:
            try:
                producer.produce(topic, value=m.value, key=m.key, partition=m.partition,
                                 on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(60.0) or failed:
        raise RuntimeError(f"staged events not acknowledged: {failed[:3]}")


def max_sustained(pipeline: str, staged: Staged, say: Say) -> RunResult:
    """The worker alone, warmed up on a prefix of the staged events; then the rest written
    at once (pre-encoded, ~0.1 s). Events/s from that write to the last theme record."""
    events = sum(1 for m in staged.measured if m.value is not None)
    with isolated_run(f"bench-e2e-{pipeline[:4]}-", say) as (settings, processes):
        progress = Progress(kafka_config(settings), pipeline_watches(pipeline, settings))
        try:
            processes.start("worker", worker_argv(pipeline))
            _replay(settings, staged, staged.warm)
            if not _wait(lambda: progress.lag() == 0, STARTUP_TIMEOUT_S, processes):
                raise RuntimeError("the pipeline did not process the warm-up in time")
            themes = [t.name for t in catalog_for(settings).by_layer(Layer.THEME)]
            watch = OutputWatch(kafka_config(settings), {"theme": themes})
            watch.start()
            try:
                say(f"{pipeline} max sustained: {events:,} events written at once")
                started_ms = time.time_ns() // 1_000_000
                _replay(settings, staged, staged.measured)
                timeout = max(120.0, events / 100)
                drained = _wait(lambda: progress.lag() == 0, timeout, processes)
                deadline = time.monotonic() + 30.0
                while (time.monotonic() < deadline
                       and time.monotonic() - watch.layer("theme").last_at < QUIET_S):
                    time.sleep(0.1)
                theme = watch.layer("theme")
            finally:
                watch.stop()
            if not drained or theme.last_ms is None:
                raise RuntimeError(f"the {pipeline} worker did not drain {events} events "
                                   f"in {timeout:.0f} s")
            elapsed_s = (theme.last_ms - started_ms) / 1000
            say(f"{pipeline} max sustained: {events:,} events in {elapsed_s:.1f} s")
            return RunResult(pipeline, 0.0, events, round(elapsed_s, 3),
                             round(events / elapsed_s, 1), True, True, theme_records=theme.count)
        finally:
            progress.close()


def run(rates: list[float], duration_s: float, events: int, pipelines: list[str],
        say: Say) -> Report:
    """Every rate for every pipeline; a failed run is recorded and the others go on.
    Ctrl-C (or SIGTERM) stops the processes of the run in progress and ends the benchmark."""
    report = Report(duration_s, rates, events)
    staged: Staged | None = None
    with sigterm_as_interrupt():
        for rate in rates:
            for pipeline in pipelines:
                try:
                    if rate <= 0:
                        staged = staged or stage(events, report, say)
                        result = max_sustained(pipeline, staged, say)
                    else:
                        result = fixed_rate(pipeline, rate, duration_s, say)
                except (RuntimeError, QueryError, OSError) as exc:
                    say(f"{pipeline} @ {rate:,.0f}/s failed: {exc}")
                    result = RunResult(pipeline, rate, 0, duration_s, 0.0, False, False,
                                       error=str(exc)[:2000])
                report.runs.append(result)
    return report


def write_json(report: Report, settings: Settings, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(settings), indent=2) + "\n", encoding="utf-8")
