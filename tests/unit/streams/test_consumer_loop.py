"""The workers' consumer loop with scripted consumer and producer: a batch's offsets are
committed only after its outputs, and those of every earlier batch, are acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from confluent_kafka import TopicPartition

from streams.consumer_loop import BatchConsumerLoop
from streams.output import KafkaOutput, OutputError
from streams.processor import BatchStats
from streams.processor_types import InputMessage

TOPIC = "raw.household.resident"


class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"v"


class Producer:
    """Holds delivery callbacks until the test acknowledges (or fails) them."""

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

    def __len__(self) -> int:
        return len(self.pending)


Step = list[Message] | Callable[["Consumer"], None]


class Consumer:
    """Gives the scripted steps (a batch, or an action run inside ``consume`` as librdkafka
    runs rebalance callbacks), then stops the loop."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.commits: list[tuple[list[tuple[int, int]], bool]] = []
        self.loop: BatchConsumerLoop | None = None
        self.callbacks: dict[str, Any] = {}

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks
        callbacks["on_assign"](self, [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])

    def consume(self, _n: int, timeout: float = 0) -> list[Message]:
        if not self.steps:
            assert self.loop is not None
            self.loop.stop()
            return []
        step = self.steps.pop(0)
        if callable(step):
            step(self)
            return []
        return step

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.commits.append(([(tp.partition, tp.offset) for tp in offsets], asynchronous))

    def assignment(self) -> list[TopicPartition]:
        return []

    def close(self) -> None:
        pass


class Stage:
    name = "standardize"
    input_topics: ClassVar[list[str]] = [TOPIC]

    def __init__(self, output: KafkaOutput,
                 after_batch: Callable[[int], None] | None = None,
                 changelog: bool = False) -> None:
        self.output = output
        self.after_batch = after_batch
        self.changelog = changelog
        self.batches = 0
        self.events: list[str] = []

    def process(self, batch: list[InputMessage]) -> BatchStats:
        for _ in batch:
            self.output.produce("std", b"k", b"v")
            if self.changelog:
                self.output.defer("changelog", b"row", b"state", partition=0)
        self.batches += 1
        if self.after_batch is not None:
            self.after_batch(self.batches)
        return BatchStats()

    def assigned(self, partitions: list[TopicPartition]) -> None:
        self.events.append("assigned")

    def revoked(self, partitions: list[TopicPartition], lost: bool = False) -> None:
        self.events.append("revoked")


def make_loop(steps: list[Step], after_batch: Callable[[int], None] | None = None,
              commit_interval_s: float = 0.0,
              changelog: bool = False) -> tuple[BatchConsumerLoop, Consumer, Producer]:
    consumer, producer = Consumer(steps), Producer()
    output = KafkaOutput(producer)  # type: ignore[arg-type]
    stage = Stage(output, after_batch=after_batch, changelog=changelog)
    loop = BatchConsumerLoop(consumer, stage,  # type: ignore[arg-type]
                             output, 10, 0.01, "g", max_in_flight=4,
                             commit_interval_s=commit_interval_s)
    consumer.loop = loop
    return loop, consumer, producer


def test_nothing_is_committed_before_its_outputs_are_acknowledged() -> None:
    seen: list[list[Any]] = []
    loop, consumer, _ = make_loop(
        [[Message(0, 0), Message(0, 1)], [Message(1, 5)]],
        after_batch=lambda n: seen.append(list(consumer.commits)))
    loop.run()
    assert seen == [[], []]  # while batches were processed, nothing was committed
    # At stop, everything is flushed, then committed synchronously once.
    assert consumer.commits == [([(0, 2), (1, 6)], False)]


def test_batches_commit_in_order_even_when_a_later_one_is_acknowledged_first() -> None:
    def acknowledge(batch: int) -> None:
        if batch == 2:
            producer.ack(2)  # the second batch's one output, before the first batch's
        if batch == 3:
            assert consumer.commits == []  # batch 2 must wait for batch 1
            producer.ack(0, 1)

    loop, consumer, producer = make_loop(
        [[Message(0, 0), Message(0, 1)], [Message(0, 2)], [Message(1, 0)]],
        after_batch=acknowledge)
    loop.run()
    assert consumer.commits[0] == ([(0, 3)], True)  # batch 1 and 2, once 1 was acknowledged


def test_delivered_offsets_are_held_until_the_commit_interval() -> None:
    def acknowledge(batch: int) -> None:
        producer.ack(batch - 1)

    loop, consumer, producer = make_loop(
        [[Message(0, 0)], [Message(1, 0)], [Message(0, 1)]], after_batch=acknowledge,
        commit_interval_s=3600)
    loop.run()
    assert consumer.commits == [([(0, 2), (1, 1)], False)]  # one commit, at stop


def test_a_batchs_changelog_follows_its_outputs_and_its_commit_follows_the_changelog() -> None:
    def acknowledge(batch: int) -> None:
        if batch == 1:
            assert producer.topics == ["std", "std"]  # the changelog waits for the outputs
            producer.ack(0, 1)
        if batch == 2:
            # Released once, with the row's last state of the batch; not committed before
            # it is acknowledged.
            assert producer.topics == ["std", "std", "changelog", "std"]
            assert consumer.commits == []
            producer.ack(2, 3)

    loop, consumer, producer = make_loop(
        [[Message(0, 0), Message(0, 1)], [Message(0, 2)]], after_batch=acknowledge,
        changelog=True)
    loop.run()
    assert producer.topics == ["std", "std", "changelog", "std", "changelog"]
    assert consumer.commits == [([(0, 2)], True), ([(0, 3)], False)]


def test_a_failed_output_stops_the_loop_and_its_batch_is_never_committed() -> None:
    def fail_first(batch: int) -> None:
        if batch == 1:
            producer.ack(0, error=_Error("broker down"))

    loop, consumer, producer = make_loop([[Message(0, 0)], [Message(0, 1)]],
                                         after_batch=fail_first)
    with pytest.raises(OutputError, match="broker down"):
        loop.run()
    assert consumer.commits == []


def test_a_revocation_drains_and_commits_before_the_stage_gives_partitions_up() -> None:
    def revoke(consumer: Consumer) -> None:
        assert consumer.commits == []  # the batch's output is not acknowledged yet
        consumer.callbacks["on_revoke"](consumer, [TopicPartition(TOPIC, 0)])

    loop, consumer, _ = make_loop([[Message(0, 0), Message(0, 1)], revoke])
    loop.run()
    assert consumer.commits[0] == ([(0, 2)], False)
    assert isinstance(loop.stage, Stage)
    assert loop.stage.events == ["assigned", "revoked"]


class _Error:
    def __init__(self, text: str) -> None:
        self.text = text

    def str(self) -> str:
        return self.text
