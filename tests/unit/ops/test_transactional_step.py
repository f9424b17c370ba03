"""The exactly-once step's patience with a transaction coordinator that does not answer."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, KafkaException

from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import Batch, RewindError
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.producing import TRANSACTION_TIMEOUT_MS, TransactionalStep
from tests.doubles import HeldProducer

TIMED_OUT = KafkaError(KafkaError._TIMED_OUT, "Failed to commit transaction: Local: Timed out",
                       retriable=True)


class TransactionalProducer(HeldProducer):
    """Records transactional calls; ``commit_errors`` are raised by the next commits."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.commit_errors: list[KafkaError] = []
        self.abort_errors: list[KafkaError] = []
        self.purged = False

    def purge(self) -> None:
        self.purged = True

    def init_transactions(self, _timeout: float) -> None:
        self.calls.append("init")

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def commit_transaction(self, _timeout: float) -> None:
        self.calls.append("commit")
        if self.commit_errors:
            raise KafkaException(self.commit_errors.pop(0))

    def abort_transaction(self, _timeout: float) -> None:
        self.calls.append("abort")
        if self.abort_errors:
            raise KafkaException(self.abort_errors.pop(0))


class Stage:
    name = "standardize"
    input_topics: ClassVar[list[str]] = ["raw.t"]

    def process(self, messages: list[InputMessage]) -> None:
        pass

    def assigned(self, partitions: list[Partition]) -> None:
        pass

    def revoked(self, partitions: list[Partition], lost: bool) -> None:
        pass

    def restore(self, budget_s: float) -> frozenset[Partition]:
        return frozenset()


def _step(producer: TransactionalProducer, clock: list[float],
          replacements: list[TransactionalProducer] | None = None) -> TransactionalStep:
    def new_producer() -> TransactionalProducer:
        assert replacements is not None
        replacements.append(TransactionalProducer())
        return replacements[-1]

    step = TransactionalStep(Stage(), KafkaOutput(producer),  # type: ignore[arg-type]
                             clock=lambda: clock[0],
                             new_producer=new_producer if replacements is not None else None)
    step.attach(object())
    step.process(Batch([], {}, 0.0))
    return step


def test_a_commit_the_broker_times_out_is_tried_again_within_the_transaction_timeout() -> None:
    producer, clock = TransactionalProducer(), [0.0]
    producer.commit_errors = [TIMED_OUT, TIMED_OUT]
    step = _step(producer, clock)
    clock[0] = 1.0
    step.acknowledged(final=False)
    assert producer.calls == ["init", "begin", "commit", "commit", "commit"]


def test_a_commit_unanswered_past_the_transaction_timeout_is_aborted_and_rewound() -> None:
    producer, clock = TransactionalProducer(), [0.0]
    step = _step(producer, clock)
    calls: list[Any] = []

    def commit(_timeout: float) -> None:
        calls.append(1)
        clock[0] += TRANSACTION_TIMEOUT_MS / 1000 / 2  # each try blocks half the timeout
        raise KafkaException(TIMED_OUT)

    producer.commit_transaction = commit  # type: ignore[method-assign]
    with pytest.raises(RewindError, match="transaction aborted"):
        step.acknowledged(final=True)
    assert len(calls) == 2 and producer.calls[-1] == "abort"
    # The next batch opens a new transaction.
    step.process(Batch([], {}, 0.0))
    assert producer.calls[-1] == "begin"


def test_a_producer_that_cannot_abort_is_replaced_by_one_with_its_transactional_id() -> None:
    producer, clock, replacements = TransactionalProducer(), [0.0], []
    step = _step(producer, clock, replacements)
    producer.commit_errors = [KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
                                         "skipped sequence numbers", txn_requires_abort=True)]
    producer.abort_errors = [TIMED_OUT]
    with pytest.raises(RewindError, match="skipped sequence numbers"):
        step.acknowledged(final=True)
    assert producer.purged and len(replacements) == 1
    assert step.output.producer is replacements[0] and replacements[0].calls == ["init"]
    step.process(Batch([], {}, 0.0))
    assert replacements[0].calls == ["init", "begin"]
