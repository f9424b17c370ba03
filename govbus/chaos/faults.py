"""The faults of the matrix: what each does to a running pipeline, and how long the pipeline
took to recover from it (``Recovery``: seconds until the layers it hit had caught up with
what their inputs held when the fault ended, and after a kill until the killed layer's
partitions were consumed again; None where nothing was stopped)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from govbus.chaos.pipeline import Pipeline, Publish, Recovery
from govbus.chaos.versions import two_versions
from ops.settings import Settings
from ops.stack.faults import ServiceFault, broker_fault, registry_fault
from sinks.clickhouse.outage import OUTAGE_ENV, outage_file

RESTART_AFTER_S = 2.0
RECOVER_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[Pipeline], Recovery]
    raw_workers: int = 1
    poison: bool = False
    env: dict[str, str] = field(default_factory=dict)
    publish: Publish | None = None  # what the load publishes through, if not the sources' own


def _killed(name: str, layer: str) -> Callable[[Pipeline], Recovery]:
    def inject(pipeline: Pipeline) -> Recovery:
        kill = pipeline.kill(name)
        time.sleep(RESTART_AFTER_S)
        pipeline.start(name)
        return pipeline.caught_up([layer], RECOVER_TIMEOUT_S, kill)
    return inject


def _member_killed(pipeline: Pipeline) -> Recovery:
    """One of two raw workers dies for good: its partitions, and their row state, move."""
    kill = pipeline.kill("raw-2")
    pipeline.processes.running.pop("raw-2")
    return pipeline.caught_up(["raw"], RECOVER_TIMEOUT_S, kill)


def _clickhouse_away(seconds: float) -> Callable[[Pipeline], Recovery]:
    def inject(pipeline: Pipeline) -> Recovery:
        switch = outage_file(pipeline.settings)
        switch.parent.mkdir(parents=True, exist_ok=True)
        switch.touch()
        try:
            time.sleep(seconds)
        finally:
            switch.unlink()
        return pipeline.caught_up(["sink"], RECOVER_TIMEOUT_S)
    return inject


def _service_down(make: Callable[[Settings], ServiceFault], seconds: float,
                  layers: list[str]) -> Callable[[Pipeline], Recovery]:
    """A service of the local stack SIGKILLed, started again ``seconds`` later."""
    def inject(pipeline: Pipeline) -> Recovery:
        with make(pipeline.stack).down():
            time.sleep(seconds)
        return pipeline.caught_up(layers, RECOVER_TIMEOUT_S)
    return inject


def _nothing(pipeline: Pipeline) -> Recovery:
    return Recovery()


def _one_after_another(*faults: Callable[[Pipeline], Recovery]
                       ) -> Callable[[Pipeline], Recovery]:
    """Several faults in one run (the short form: one load, one reconciliation); the
    longest recovery counts."""
    def inject(pipeline: Pipeline) -> Recovery:
        recoveries = [fault(pipeline) for fault in faults]
        return Recovery(
            max((r.recover_s for r in recoveries if r.recover_s is not None), default=None),
            max((r.resumed_s for r in recoveries if r.resumed_s is not None), default=None))
    return inject


FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("raw-worker-killed", "SIGKILL of the raw worker mid-batch, restarted 2 s later",
          _killed("raw", "raw")),
    Fault("theme-worker-killed", "SIGKILL of the theme worker mid-batch, restarted 2 s later",
          _killed("theme", "theme")),
    Fault("sink-killed", "SIGKILL of the sink mid-batch, restarted 2 s later",
          _killed("sink", "sink")),
    Fault("raw-member-killed", "two raw workers; one SIGKILLed for good (its partitions and "
          "their state move)", _member_killed, raw_workers=2),
    Fault("broker-killed", "the single broker SIGKILLed under load, restarted 15 s later",
          _service_down(broker_fault, 15.0, ["raw", "theme", "sink"])),
    Fault("registry-stopped-30s", "the schema registry SIGKILLed, restarted 30 s later",
          _service_down(registry_fault, 30.0, ["raw", "theme", "sink"])),
    Fault("clickhouse-away-60s", "ClickHouse unavailable for 60 s", _clickhouse_away(60.0),
          env={OUTAGE_ENV: "1"}),
    Fault("poison-1pct", "1% poison input: garbage bytes, unknown schema ids, truncated Avro, "
          "an update without its row (beside the simulator's 5% invalid fields)", _nothing,
          poison=True),
    Fault("two-schema-versions", "producers on the old and the new schema version at once: "
          "half of each source's rows through a second producer on a compatible version "
          "with an undeclared field (carrying the row's ID number)", _nothing,
          publish=two_versions),
    Fault("short", "the short form CI runs in one load: the raw worker and then the sink "
          "SIGKILLed (each restarted 2 s later) among 1% poison input",
          _one_after_another(_killed("raw", "raw"), _killed("sink", "sink")), poison=True),
)}
SHORT = ("short",)
