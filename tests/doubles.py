"""In-memory doubles of what the processors and the consumer runtime talk to: a schema
registry, an output, a producer that holds its delivery reports, a scripted consumer and a
state store. Unit tests drive the real processors and the real runtime through them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from streams.stages.enrich.profile import ProfileState


class MemoryRegistry:
    """Schemas by id, in memory: what the processors ask a registry for (the URL, the
    compatibility argument: accepted, unused). ``unavailable`` fetches raise as a registry
    that times out does."""

    def __init__(self, _url: str = "") -> None:
        self.schemas: list[str] = []
        self.unavailable = 0

    def register(self, _subject: str, schema: dict[str, Any], *_args: Any) -> int:
        text = json.dumps(schema, sort_keys=True)
        if text not in self.schemas:
            self.schemas.append(text)
        return self.schemas.index(text) + 1

    def schema_by_id(self, schema_id: int) -> str:
        if self.unavailable:
            self.unavailable -= 1
            raise TimeoutError("registry: read timed out")
        if not 0 < schema_id <= len(self.schemas):
            raise KeyError(f"no schema with id {schema_id}")
        return self.schemas[schema_id - 1]


Record = tuple[str, bytes | None, bytes | None, dict[str, str], int]
"""(topic, key, value, headers decoded, partition)"""


class CapturingOutput:
    """Keeps what a processor produces, in order."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.flushes: list[int] = []  # how many records there were at each flush

    def flush(self, _timeout_s: float = 0) -> None:
        self.flushes.append(len(self.records))

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        decoded = {k: (v.decode() if isinstance(v, bytes) else v or "")
                   for k, v in headers or []}
        self.records.append((topic, key, value, decoded, partition))

    def to(self, topic: str) -> list[Record]:
        return [r for r in self.records if r[0] == topic]

    def take(self, topic: str) -> list[Record]:
        """What went to ``topic``, removed from the records."""
        taken = self.to(topic)
        self.records = [r for r in self.records if r[0] != topic]
        return taken


class MemoryStore:
    """The theme layer's profile states in a dict."""

    def __init__(self) -> None:
        self.states: dict[str, ProfileState | None] = {}

    def get(self, key: str, token: Any) -> ProfileState | None:
        return self.states.get(key)

    def put(self, key: str, value: ProfileState | None, token: Any) -> None:
        self.states[key] = value


class KafkaMessage:
    """A consumed message as confluent-kafka gives it (or an error event)."""

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None = b"k",
                 value: bytes | None = b"v", error: KafkaError | None = None,
                 headers: list[tuple[str, bytes]] | None = None) -> None:
        self._topic, self._partition, self._offset = topic, partition, offset
        self._key, self._value, self._error = key, value, error
        self._headers = headers

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers


class HeldProducer:
    """A producer whose delivery reports wait until the test acknowledges (or fails) them."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, Callable[[Any, Any], None]]] = []
        self.sent = 0
        self.topics: list[str] = []

    def produce(self, topic: str, value: Any = None, key: Any = None, headers: Any = None,
                partition: int = -1, on_delivery: Any = None) -> None:
        self.pending.append((self.sent, on_delivery))
        self.sent += 1
        self.topics.append(topic)

    def ack(self, *numbers: int, error: Any = None) -> None:
        for number, callback in list(self.pending):
            if number in numbers:
                callback(error, None)
                self.pending.remove((number, callback))

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        self.ack(*(n for n, _ in self.pending))
        return 0


Script = list[KafkaMessage] | Callable[["ScriptedConsumer"], None]


class ScriptedConsumer:
    """A consumer that gives its script, one entry per ``consume``: a batch of messages, or
    an action run inside ``consume`` as librdkafka runs rebalance callbacks there. Once the
    script is out it calls ``when_done`` (a runtime's ``stop``) and gives nothing. It
    remembers commits, pauses and resumes; ``commit_errors`` are raised by the next commits."""

    def __init__(self, config: dict[str, Any], script: list[Script] | None = None,
                 assign: list[tuple[str, int]] | None = None,
                 committed: dict[tuple[str, int], int] | None = None) -> None:
        self.config = config
        self.script: list[Script] = list(script or [])
        self.initial = assign or []
        self.offsets = dict(committed or {})
        self.commits: list[tuple[dict[tuple[str, int], int], bool]] = []
        self.commit_errors: list[KafkaError] = []
        self.paused: set[tuple[str, int]] = set()
        self.resumed: list[tuple[str, int]] = []
        self.callbacks: dict[str, Any] = {}
        self.when_done: Callable[[], None] | None = None
        self.closed = False
        self.assigned: list[tuple[str, int]] = []
        self.seeks: list[tuple[str, int, int]] = []
        self.incrementally = False  # assigned by additions (KIP-848's consumer protocol)
        # Where each partition's reading stands (past the last message returned, or past
        # transaction markers a script action stepped over: ``step_over``).
        self.positions: dict[tuple[str, int], int] = {}

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks
        if self.initial:
            self.rebalance("on_assign", self.initial)

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = [(tp.topic, tp.partition) for tp in partitions]

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        self.incrementally = True
        self.assigned += [(tp.topic, tp.partition) for tp in partitions]

    def rebalance(self, callback: str, partitions: list[tuple[str, int]]) -> None:
        self.callbacks[callback](self, [TopicPartition(t, p) for t, p in partitions])

    def consume(self, num_messages: int, timeout: float = 0) -> list[KafkaMessage]:
        if not self.script:
            if self.when_done is not None:
                self.when_done()
            return []
        entry = self.script[0]
        if callable(entry):
            self.script.pop(0)
            entry(self)
            return []
        taken, rest = entry[:num_messages], entry[num_messages:]
        if rest:
            self.script[0] = rest
        else:
            self.script.pop(0)
        for message in taken:
            if message.error() is None:
                self.positions[(message.topic(), message.partition())] = message.offset() + 1
        return taken

    def step_over(self, topic: str, partition: int, to: int) -> None:
        """As librdkafka steps over transaction markers and aborted records: the position
        moves to ``to`` with nothing returned."""
        self.positions[(topic, partition)] = to

    def get_watermark_offsets(self, partition: TopicPartition, cached: bool = False
                              ) -> tuple[int, int]:
        return 0, self.positions.get((partition.topic, partition.partition), -1001)

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition,
                               self.positions.get((tp.topic, tp.partition), -1001))
                for tp in partitions]

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        if self.commit_errors:
            from confluent_kafka import KafkaException

            raise KafkaException(self.commit_errors.pop(0))
        done = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self.offsets.update(done)
        self.commits.append((done, asynchronous))

    def committed(self, partitions: list[TopicPartition], timeout: float = 0
                  ) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition,
                               self.offsets.get((tp.topic, tp.partition), -1001))
                for tp in partitions]

    def seek(self, partition: TopicPartition) -> None:
        self.seeks.append((partition.topic, partition.partition, partition.offset))

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(p.topic, p.partition) for p in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            self.paused.discard((p.topic, p.partition))
            self.resumed.append((p.topic, p.partition))

    def close(self) -> None:
        self.closed = True


def scripted(script: list[Script], assign: list[tuple[str, int]] | None = None,
             committed: dict[tuple[str, int], int] | None = None,
             ) -> tuple[Callable[[dict[str, Any]], ScriptedConsumer], list[ScriptedConsumer]]:
    """A consumer factory for ``ConsumerRuntime`` and the consumers it made."""
    made: list[ScriptedConsumer] = []

    def factory(config: dict[str, Any]) -> ScriptedConsumer:
        made.append(ScriptedConsumer(config, script, assign, committed))
        return made[-1]

    return factory, made
