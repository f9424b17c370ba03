"""The pipeline a fault is driven against: a namespace of its own, each layer a process of its
own (so each can be killed), and a steady simulated load published beside it."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from confluent_kafka import KafkaException

from connectors.publisher import ChangeEventPublisher
from connectors.simulate import ChangeTarget, flush_all, publish_event
from connectors.simulator import DepartmentSimulator
from govbus.bench.latency import publish_at_rate
from govbus.bench.pipelines import Processes, Progress, isolated_run, sink_watch
from govbus.keys import pseudonymizer
from govbus.wiring import publishers
from ops.kafka_client import kafka_config
from ops.settings import Settings, get_settings
from ops.stack.process import terminate
from sinks.query_client import endpoint_url
from streams.runtime.raw_worker import group_id as raw_group
from streams.runtime.theme_worker import group_id as theme_group
from topics.catalog import Layer, catalog_for
from topics.schemas import source_names

Say = Callable[[str], None]
Publish = Callable[[Settings, dict[str, ChangeEventPublisher]], Mapping[str, ChangeTarget]]
GOVBUS = [sys.executable, "-m", "govbus.cli"]
ROLES = {
    "raw": [*GOVBUS, "worker", "--role", "raw", "--loglevel", "warn"],
    "theme": [*GOVBUS, "worker", "--role", "theme", "--loglevel", "warn"],
    "sink": [*GOVBUS, "sink", "run", "--loglevel", "warning"],
}
STARTUP_TIMEOUT_S = 120.0
QUIET_S = 3.0


@dataclass(frozen=True)
class Recovery:
    """How long the layers a fault hit took: ``recover_s`` until they had committed what
    their inputs held when the fault ended; ``resumed_s`` from a kill until every partition
    of the killed process's layer was committed again (its partitions consumed again by a
    member, the restarted one or another)."""

    recover_s: float | None = None
    resumed_s: float | None = None


@dataclass(frozen=True)
class Kill:
    """When a process was killed, and its layer's committed offsets then."""

    at: float
    committed: list[int]


class Pipeline:
    """The processes of one run, by name (``raw``, ``raw-2``, ``theme``, ``sink``)."""

    def __init__(self, settings: Settings, processes: Processes, say: Say,
                 static: bool | None = None, stack_dir: Path | None = None) -> None:
        """``static``: the processes are static group members, or not; None: as their
        settings' ``static_membership`` says by default. ``stack_dir``: the local stack's
        state folder (the run's processes have one of their own), where a fault finds the
        services to kill."""
        self.settings = settings
        self.processes = processes
        self.say = say
        self.static = static
        self.stack = (settings if stack_dir is None
                      else settings.model_copy(update={"state_dir": stack_dir}))

    def start(self, name: str) -> None:
        """A layer's process, with an identity kept across its restarts as a deployment
        gives each (its transactions' name: restarted, it aborts what its predecessor left
        open at once); a static group member if the run says so."""
        self.processes.env["GOVBUS_INSTANCE_ID"] = name
        if self.static is not None:
            self.processes.env["GOVBUS_STATIC_MEMBERSHIP"] = str(self.static).lower()
        self.processes.start(name, ROLES[_layer(name)])

    def kill(self, name: str) -> Kill:
        """SIGKILL, mid-batch: nothing flushed, nothing committed, the group not left."""
        progress = self.progress([_layer(name)])
        try:
            committed = [d for watch in progress.partition_positions() for _, d in watch]
        finally:
            progress.close()
        process, _ = self.processes.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait()
        return Kill(time.monotonic(), committed)

    def stop(self, name: str) -> None:
        process, _ = self.processes.running.pop(name)
        terminate(process)

    def progress(self, layers: list[str] | None = None) -> Progress:
        return layer_progress(self.settings, layers)

    def wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Seconds until ``condition`` held; raises at the timeout."""
        started = time.monotonic()
        unanswered = ""
        while time.monotonic() - started < timeout_s:
            self.processes.check()
            try:
                if condition():
                    return time.monotonic() - started
            except KafkaException as exc:  # a broker restarting: ask again
                unanswered = f" (last asked: {exc.args[0].str()})"
            time.sleep(0.25)
        logs = "\n".join(f"--- {name}\n{log.read_text(errors='replace')[-1500:]}"
                         for name, (_, log) in self.processes.running.items())
        raise TimeoutError(f"{what}: not within {timeout_s:.0f} s{unanswered}\n{logs}")

    def caught_up(self, layers: list[str], timeout_s: float, kill: Kill | None = None
                  ) -> Recovery:
        """Seconds until the layers' groups have committed what their inputs held when
        asked (the time a layer takes to recover; the runtime commits its positions, past
        any transaction markers). After a ``kill`` (of the first layer's
        process), also the seconds from it until each of its layer's partitions was
        committed past where it stood at the kill, or had nothing left to read."""
        progress = self.progress(layers)
        resumed: list[float] = []
        try:
            targets: list[int] = []

            def done() -> bool:
                watches = progress.partition_positions()
                if not targets:  # asked once the broker answers (it may be restarting)
                    targets.extend(end for watch in watches for end, _ in watch)
                if kill is not None and not resumed and all(
                        d > before or d >= end
                        for (end, d), before in zip(watches[0], kill.committed, strict=True)):
                    resumed.append(time.monotonic() - kill.at)
                now = [d for watch in watches for _, d in watch]
                return (kill is None or bool(resumed)) and all(
                    d >= end for d, end in zip(now, targets, strict=True))

            return Recovery(self.wait(done, timeout_s, f"{', '.join(layers)} catching up"),
                            resumed[0] if resumed else None)
        finally:
            progress.close()

    def drained(self, timeout_s: float) -> float:
        """Seconds until every layer has committed all of its input and nothing moved for
        ``QUIET_S``."""
        progress = self.progress()
        try:
            return self.wait(progress.drained(QUIET_S), timeout_s, "the pipeline draining")
        finally:
            progress.close()


def layer_groups(settings: Settings) -> dict[str, tuple[str, list[str]]]:
    """Each layer's consumer group and input topics."""
    catalog = catalog_for(settings)
    return {
        "raw": (raw_group(settings, pseudonymizer(settings).key_id),
                [t.name for t in catalog.by_layer(Layer.RAW)]),
        "theme": (theme_group(settings), [t.name for t in catalog.by_layer(Layer.FACT)]),
        "sink": sink_watch(settings),
    }


def layer_progress(settings: Settings, layers: list[str] | None = None) -> Progress:
    """The layers' groups (all by default) against their inputs' end offsets."""
    groups = layer_groups(settings)
    return Progress(kafka_config(settings), [groups[layer] for layer in layers or list(groups)])


def _layer(name: str) -> str:
    """The layer a process of the run belongs to (``raw-2``: raw)."""
    return name.split("-")[0]


@contextmanager
def running_pipeline(say: Say, raw_workers: int = 1, env: dict[str, str] | None = None,
                     static: bool | None = None) -> Iterator[Pipeline]:
    """A fresh namespace with its raw worker(s), theme worker and sink running (``env``: more
    of their environment). Each process has an identity kept across its restarts (its
    transactions' name); ``static``: it is also a static group member; None: as the
    settings' ``static_membership`` says by default, under the classic protocol only
    (KIP-848 refuses a static member restarted before its killed predecessor's session
    expired, a fatal error)."""
    stack_dir = get_settings().state_dir
    with isolated_run("chaos-", say) as (settings, processes):
        processes.env.update(env or {})
        pipeline = Pipeline(settings, processes, say, static, stack_dir)
        pipeline.start("sink")
        pipeline.start("theme")
        pipeline.start("raw")
        for n in range(2, raw_workers + 1):
            pipeline.start(f"raw-{n}")
        pipeline.wait(lambda: endpoint_url(settings) is not None, STARTUP_TIMEOUT_S,
                      "the sink's query endpoint")
        yield pipeline


class SteadyLoad(threading.Thread):
    """The simulator's changes (with its injected defects) at a fixed rate; ``extra`` is
    called with each change's index and may publish something of its own beside it."""

    def __init__(self, settings: Settings, rate: float, seconds: float, seed: int = 17,
                 extra: Callable[[int], None] | None = None,
                 publish: Publish | None = None) -> None:
        """``publish``: the publishers the load goes through, made of the sources' own
        (default: those)."""
        super().__init__(daemon=True, name="chaos-load")
        self.settings = settings
        self.rate = rate
        self.seconds = seconds
        self.extra = extra
        simulator = DepartmentSimulator(seed=seed, defect_rate=0.05)
        self.snapshot = list(simulator.initial_snapshot())
        self.changes = list(islice(simulator.changes(), int(rate * seconds)))
        own = publishers(settings, list(source_names()))
        self.targets: Mapping[str, ChangeTarget] = (own if publish is None
                                                    else publish(settings, own))
        self.published = 0
        self.error: BaseException | None = None

    def warm_up(self) -> None:
        for event in self.snapshot:
            publish_event(event, self.targets)
        self._flush()

    def run(self) -> None:
        try:
            self.published = publish_at_rate(self._one, self.rate, self.seconds)
            self._flush()
        except BaseException as exc:  # reported by the run, not lost in a thread
            self.error = exc

    def _one(self, index: int, _ts_ms: int) -> None:
        publish_event(self.changes[index], self.targets)
        if self.extra is not None:
            self.extra(index)

    def _flush(self) -> None:
        report = flush_all(self.targets, 120.0)
        if report.failed or report.pending:
            raise RuntimeError(f"published events not acknowledged: {report.errors[:3]}")
