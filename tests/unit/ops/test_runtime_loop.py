"""The consumer runtime with a producing step, over a scripted consumer and a producer that
holds its delivery reports: a batch's offsets are committed only after its outputs, and
those of every earlier batch, are acknowledged; commits the broker cannot take are retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException

from ops.runtime.kafka_output import KafkaOutput, OutputError
from ops.runtime.loop import ConsumerRuntime, RewindError
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.producing import ProducingStep
from tests.doubles import HeldProducer, KafkaMessage, Script, ScriptedConsumer, scripted

TOPIC = "raw.household.resident"


def message(partition: int, offset: int) -> KafkaMessage:
    return KafkaMessage(TOPIC, partition, offset)


class Stage:
    name = "standardize"
    input_topics: ClassVar[list[str]] = [TOPIC]

    def __init__(self, output: KafkaOutput, after_batch: Callable[[int], None] | None,
                 changelog: bool) -> None:
        self.output = output
        self.after_batch = after_batch
        self.changelog = changelog
        self.batches = 0
        self.events: list[str] = []
        self.restoring: dict[Partition, int] = {}  # partition -> restore rounds still needed

    def process(self, messages: list[InputMessage]) -> None:
        for _ in messages:
            self.output.produce("std", b"k", b"v")
            if self.changelog:
                self.output.defer("changelog", b"row", b"state", partition=0)
        self.batches += 1
        if self.after_batch is not None:
            self.after_batch(self.batches)

    def assigned(self, partitions: list[Partition]) -> None:
        self.events.append("assigned")

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        self.events.append("lost" if lost else "revoked")

    def restore(self, budget_s: float) -> frozenset[Partition]:
        if budget_s:
            self.restoring = {p: n - 1 for p, n in self.restoring.items() if n > 1}
        return frozenset(self.restoring)


def make_runtime(script: list[Script], after_batch: Callable[[int], None] | None = None,
                 commit_interval_s: float = 0.0, changelog: bool = False,
                 restoring: dict[Partition, int] | None = None,
                 config: dict[str, Any] | None = None,
                 ) -> tuple[ConsumerRuntime, ScriptedConsumer, HeldProducer, Stage]:
    producer = HeldProducer()
    output = KafkaOutput(producer)  # type: ignore[arg-type]
    stage = Stage(output, after_batch, changelog)
    stage.restoring = dict(restoring or {})
    factory, made = scripted(script, assign=[(TOPIC, 0), (TOPIC, 1)])
    runtime = ConsumerRuntime({"group.id": "g", **(config or {})}, ProducingStep(stage, output),
                              batch_size=10, batch_seconds=0.01,
                              commit_interval_s=commit_interval_s, consumer_factory=factory)
    made[0].when_done = runtime.stop
    return runtime, made[0], producer, stage


def test_nothing_is_committed_before_its_outputs_are_acknowledged() -> None:
    seen: list[list[Any]] = []
    runtime, consumer, _, _ = make_runtime(
        [[message(0, 0), message(0, 1)], [message(1, 5)]],
        after_batch=lambda n: seen.append(list(consumer.commits)))
    runtime.run()
    assert seen == [[], []]  # while batches were processed, nothing was committed
    # At stop, everything is flushed, then committed synchronously once.
    assert consumer.commits == [({(TOPIC, 0): 2, (TOPIC, 1): 6}, False)]
    assert consumer.closed


def test_batches_commit_in_order_even_when_a_later_one_is_acknowledged_first() -> None:
    def acknowledge(batch: int) -> None:
        if batch == 2:
            producer.ack(2)  # the second batch's one output, before the first batch's
        if batch == 3:
            assert consumer.commits == []  # batch 2 must wait for batch 1
            producer.ack(0, 1)

    runtime, consumer, producer, _ = make_runtime(
        [[message(0, 0), message(0, 1)], [message(0, 2)], [message(1, 0)]],
        after_batch=acknowledge)
    runtime.run()
    assert consumer.commits[0] == ({(TOPIC, 0): 3}, True)  # batches 1 and 2, once 1 was in


def test_acknowledged_offsets_are_held_until_the_commit_interval_or_caught_up() -> None:
    def acknowledge(batch: int) -> None:
        assert consumer.commits == []  # held while batches keep coming
        producer.ack(batch - 1)

    runtime, consumer, producer, _ = make_runtime(
        [[message(0, 0)], [message(1, 0)], [message(0, 1)]], after_batch=acknowledge,
        commit_interval_s=3600)
    runtime.run()
    # Once, when a fetch came back empty (nothing left to wait for), long before the interval.
    assert consumer.commits == [({(TOPIC, 0): 2, (TOPIC, 1): 1}, True)]


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

    runtime, consumer, producer, _ = make_runtime(
        [[message(0, 0), message(0, 1)], [message(0, 2)]], after_batch=acknowledge,
        changelog=True)
    runtime.run()
    assert producer.topics == ["std", "std", "changelog", "std", "changelog"]
    assert consumer.commits == [({(TOPIC, 0): 2}, True), ({(TOPIC, 0): 3}, False)]


def test_a_failed_output_stops_the_runtime_and_its_batch_is_never_committed() -> None:
    def fail_first(batch: int) -> None:
        if batch == 1:
            producer.ack(0, error=_Error("broker down"))

    runtime, consumer, producer, _ = make_runtime([[message(0, 0)], [message(0, 1)]],
                                                  after_batch=fail_first)
    with pytest.raises(OutputError, match="broker down"):
        runtime.run()
    assert consumer.commits == []
    assert consumer.closed


def test_a_revocation_drains_and_commits_before_the_stage_gives_partitions_up() -> None:
    def revoke(consumer: ScriptedConsumer) -> None:
        assert consumer.commits == []  # the batch's output is not acknowledged yet
        consumer.rebalance("on_revoke", [(TOPIC, 0)])

    runtime, consumer, _, stage = make_runtime([[message(0, 0), message(0, 1)], revoke])
    runtime.run()
    assert consumer.commits[0] == ({(TOPIC, 0): 2}, False)
    assert stage.events == ["assigned", "revoked"]
    assert runtime.assignment == {(TOPIC, 1)}


def test_a_rebalance_mid_batch_commits_nothing_of_a_lost_partition() -> None:
    def lose(consumer: ScriptedConsumer) -> None:
        consumer.rebalance("on_lost", [(TOPIC, 0)])

    runtime, consumer, _, stage = make_runtime(
        [[message(0, 0), message(1, 0)], lose, [message(1, 1)]], commit_interval_s=3600)
    runtime.run()
    assert stage.events == ["assigned", "lost"]
    # Another member may own partition 0 already: only partition 1 is committed.
    assert consumer.commits == [({(TOPIC, 1): 2}, False)]


def test_a_commit_the_coordinator_cannot_take_is_retried_not_fatal() -> None:
    """A broker restart: 'Waiting for coordinator' on commit. The outputs are safe; the
    offsets go with the next commit."""
    def acknowledge(batch: int) -> None:
        producer.flush()

    runtime, consumer, producer, _ = make_runtime(
        [[message(0, 0)], [message(1, 0)]], after_batch=acknowledge)
    consumer.commit_errors = [KafkaError(KafkaError._WAIT_COORD, "Waiting for coordinator")]
    runtime.run()
    assert consumer.commits == [({(TOPIC, 0): 1, (TOPIC, 1): 1}, True)]


# As librdkafka gives it: the _FATAL event, not flagged fatal itself (measured).
FENCED = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced by other "
                    "consumer with same group.instance.id")


def _fenced_runtime(scripts: list[list[Script]], commit_error_on_first: bool = False
                    ) -> tuple[ConsumerRuntime, list[ScriptedConsumer], Stage]:
    """A runtime whose consumer factory hands out one scripted consumer per script."""
    producer = HeldProducer()
    output = KafkaOutput(producer)  # type: ignore[arg-type]
    def acknowledge(batch: int) -> None:
        producer.flush()

    stage = Stage(output, acknowledge, False)
    made: list[ScriptedConsumer] = []

    def factory(config: dict[str, Any]) -> ScriptedConsumer:
        consumer = ScriptedConsumer(config, scripts[min(len(made), len(scripts) - 1)],
                                    assign=[(TOPIC, 0)])
        if commit_error_on_first and not made:
            consumer.commit_errors = [FENCED]
        if made:
            consumer.when_done = runtime.stop
        made.append(consumer)
        return consumer

    runtime = ConsumerRuntime({"group.id": "g"}, ProducingStep(stage, output), batch_size=10,
                              batch_seconds=0.01, commit_interval_s=0.0,
                              consumer_factory=factory)
    made[0].when_done = runtime.stop
    return runtime, made, stage


def test_a_fenced_consumer_is_replaced_and_its_partitions_taken_back() -> None:
    """After a coordinator restart librdkafka may report a static member fenced by its own
    retried join: a new consumer with the same identity goes on from the committed offsets."""
    fenced = KafkaMessage(TOPIC, 0, -1, error=FENCED)
    runtime, made, stage = _fenced_runtime([[[message(0, 0)], [fenced]], [[message(0, 1)]]])
    runtime.run()
    assert len(made) == 2 and made[0].closed and made[1].closed
    assert stage.events == ["assigned", "lost", "assigned"] and stage.batches == 2
    assert made[1].commits[-1] == ({(TOPIC, 0): 2}, True)


def test_a_commit_refused_as_fenced_replaces_the_consumer_too() -> None:
    runtime, made, stage = _fenced_runtime([[[message(0, 0)], [message(0, 1)]], []],
                                           commit_error_on_first=True)
    runtime.run()
    assert len(made) == 2 and stage.events[:2] == ["assigned", "lost"]


def test_fenced_again_and_again_means_a_second_process_with_the_identity() -> None:
    fenced = KafkaMessage(TOPIC, 0, -1, error=FENCED)
    runtime, made, _ = _fenced_runtime([[[fenced]]])
    with pytest.raises(KafkaException, match="another process"):
        runtime.run()
    assert len(made) == 4


def test_transient_consume_errors_are_skipped() -> None:
    unknown = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "not yet created")
    runtime, _, _, stage = make_runtime(
        [[KafkaMessage(TOPIC, 0, -1, error=unknown), message(0, 0)]])
    runtime.run()
    assert stage.batches == 1


def test_a_consumer_s_fatal_error_event_stops_the_runtime() -> None:
    dead = KafkaError(KafkaError._FATAL, "Fatal error: Broker: The instance ID is still used "
                      "by another member in the consumer group")
    runtime, _, _, _ = make_runtime([[KafkaMessage(TOPIC, 0, -1, error=dead)]])
    with pytest.raises(KafkaException, match="instance ID"):
        runtime.run()


def test_the_broker_s_answer_to_an_asynchronous_commit_is_kept_or_retried() -> None:
    runtime, _, _, _ = make_runtime([])
    runtime.start()
    from confluent_kafka import TopicPartition

    runtime.on_commit(None, [TopicPartition(TOPIC, 0, 7)])
    assert runtime.committed == {(TOPIC, 0): 7}
    runtime.on_commit(KafkaError(KafkaError.REQUEST_TIMED_OUT), [TopicPartition(TOPIC, 1, 3)])
    assert runtime._to_commit == {(TOPIC, 1): 3}


class _Error:
    def __init__(self, text: str) -> None:
        self.text = text

    def str(self) -> str:
        return self.text


def test_partitions_restoring_their_state_are_paused_until_restored_in_the_loop() -> None:
    seen: list[tuple[set[Partition], str]] = []

    def watch(consumer: ScriptedConsumer) -> None:
        seen.append((set(consumer.paused), runtime.state))

    runtime, consumer, _, _ = make_runtime([watch, watch, [message(0, 0)]],
                                           restoring={(TOPIC, 1): 2})
    runtime.run()
    assert consumer.assigned == [(TOPIC, 0), (TOPIC, 1)]  # assigned in the callback
    # Two rounds of changelog to read: paused for the first, resumed as the second ends.
    assert seen == [({(TOPIC, 1)}, "restoring"), (set(), "processing")]
    assert consumer.resumed == [(TOPIC, 1)]


def test_under_the_consumer_protocol_restoring_partitions_are_added_to_the_assignment(
) -> None:
    """KIP-848 assigns incrementally: a plain assign in the callback would drop the
    partitions held already (librdkafka refuses it)."""
    runtime, consumer, _, _ = make_runtime([[message(0, 0)]], restoring={(TOPIC, 1): 1},
                                           config={"group.protocol": "consumer"})
    consumer.assigned = [(TOPIC, 3)]
    runtime.run()
    assert consumer.assigned == [(TOPIC, 3), (TOPIC, 0), (TOPIC, 1)]
    assert consumer.incrementally


def test_an_aborted_transaction_rewinds_to_the_committed_offsets() -> None:
    def abort_first(batch: int) -> None:
        if batch == 1:
            raise RewindError("transaction aborted: fenced by the coordinator")

    runtime, consumer, _, stage = make_runtime([[message(0, 0)], [message(0, 0)]],
                                               after_batch=abort_first)
    consumer.offsets[(TOPIC, 1)] = 7
    subscribed: list[int] = []
    plain = consumer.subscribe

    def subscribe(topics: list[str], **callbacks: Any) -> None:
        subscribed.append(1)
        plain(topics, **callbacks)

    consumer.subscribe = subscribe  # type: ignore[method-assign]
    runtime.run()
    # Its state dropped as lost and taken back, each partition sought to its committed offset
    # (none yet: the beginning), the batch read and processed again; the member never left
    # its group, whose static identity would have fenced it.
    assert stage.events == ["assigned", "lost", "assigned"]
    assert sorted(consumer.seeks) == [(TOPIC, 0, OFFSET_BEGINNING), (TOPIC, 1, 7)]
    assert len(subscribed) == 1 and stage.batches == 2
    assert consumer.commits == [({(TOPIC, 0): 1}, False)]


def test_a_partition_ending_in_transaction_markers_is_committed_past_them() -> None:
    # librdkafka steps over commit and abort markers and aborted records without returning
    # them: a partition whose writer's last transaction was aborted ends two offsets or more
    # past the last message read. The position is committed, as Kafka's own clients do, so
    # a caught-up group has no lag left.
    runtime, consumer, _, stage = make_runtime([
        [message(0, 0), message(0, 1)],
        lambda c: (c.step_over(TOPIC, 0, 5), c.step_over(TOPIC, 1, 3)),
    ])
    runtime.run()
    assert consumer.offsets == {(TOPIC, 0): 5, (TOPIC, 1): 3}
    assert stage.batches == 1  # the markers made no batch of the stage's


def test_a_paused_partition_s_position_is_left_alone() -> None:
    runtime, consumer, _, _ = make_runtime(
        [lambda c: c.step_over(TOPIC, 1, 3)], restoring={(TOPIC, 1): 99})
    runtime.run()
    assert (TOPIC, 1) not in consumer.offsets
