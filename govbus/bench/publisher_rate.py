"""Publisher benchmark: sustained events/s into the broker next to the bare Avro encode rate.

Both run on the same simulated events in the same process, so the ratio says how much of
the codec's ceiling the publisher keeps (the producer, its checks and acknowledgements).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from connectors.publisher import ChangeEventPublisher
from connectors.simulate import publish_all
from connectors.simulator import DepartmentSimulator, SimulatedEvent
from topics.schemas import change_event_schema, key_schema
from topics.serde import AvroEncoder


@dataclass(frozen=True)
class PublisherBenchResult:
    events: int
    bare_encode_per_s: float
    publisher_per_s: float

    @property
    def ratio(self) -> float:
        return self.publisher_per_s / self.bare_encode_per_s


def bench_events(count: int, seed: int = 7) -> list[SimulatedEvent]:
    """Defect-free events, so every one is sent (defects are the stage's business)."""
    return DepartmentSimulator(seed=seed, defect_rate=0.0).events(count)


def bare_encode_rate(events: list[SimulatedEvent]) -> float:
    """Events/s of building and encoding each envelope and key, nothing else."""
    encoders = {
        source: (AvroEncoder(change_event_schema(source), 1), AvroEncoder(key_schema(source), 2))
        for source in {e.source for e in events}
    }
    started = time.perf_counter()
    for event in events:
        value_encoder, key_encoder = encoders[event.source]
        key_encoder.encode(event.key)
        value_encoder.encode(
            {
                "before": event.before,
                "after": event.after,
                "source": {
                    "dept": "",
                    "system": "",
                    "table": "",
                    "sequence": event.sequence,
                    "ts_ms": event.ts_ms,
                    "snapshot": "false",
                },
                "op": event.op,
                "ts_ms": event.ts_ms,
                "event_id": event.event_id,
            }
        )
    return len(events) / (time.perf_counter() - started)


def publisher_rate(events: list[SimulatedEvent], publishers: dict[str, ChangeEventPublisher]
                   ) -> float:
    """Events/s from the first publish until the broker acknowledged the last one."""
    started = time.perf_counter()
    publish_all(events, publishers)
    return len(events) / (time.perf_counter() - started)


def run(
    publishers: dict[str, ChangeEventPublisher], count: int, rounds: int = 3
) -> PublisherBenchResult:
    """Alternate bare and publisher rounds; keep each side's best, so a noisy moment on a
    shared machine does not decide the ratio."""
    events = bench_events(count)
    bare_encode_rate(events[: min(count, 5000)])  # warm the codec before measuring
    bare = sent = 0.0
    for _ in range(rounds):
        bare = max(bare, bare_encode_rate(events))
        sent = max(sent, publisher_rate(events, publishers))
    return PublisherBenchResult(count, bare, sent)
