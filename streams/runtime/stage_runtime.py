"""A stage's place in the consumer runtime: its producer and its loop, from the settings."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from ops.kafka_client import kafka_config
from ops.runtime.client_config import consumer_config, producer_config
from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import ConsumerRuntime
from ops.runtime.producing import (
    TRANSACTION_TIMEOUT_MS,
    ProducingStage,
    ProducingStep,
    TransactionalStep,
)
from ops.settings import Settings

_PROCESS_ID = uuid.uuid4().hex[:12]


def stage_output(settings: Settings, group: str) -> KafkaOutput:
    """The stage's producer; with ``exactly_once``, transactional (see ``_producer_config``)."""
    return KafkaOutput(Producer(_producer_config(settings, group)))


def _producer_config(settings: Settings, group: str) -> dict[str, object]:
    """With ``exactly_once``, a transactional id: the process's identity when it has one
    (``instance_id``, static group member or not), so that, restarted, it fences its
    predecessor and aborts the transaction that one left open at once, instead of its group's
    offsets and every read_committed consumer of its outputs waiting for that transaction to
    time out. Without one, an id of its own per process run (the group's generation still
    fences a member that lost its partitions, KIP-447)."""
    transactions = ({"transactional.id": f"{group}-{settings.instance_id or _PROCESS_ID}",
                     "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS}
                    if settings.exactly_once else {})
    return producer_config(kafka_config(settings), group, **transactions)


def stage_runtime(settings: Settings, group: str, stage: ProducingStage,
                  output: KafkaOutput) -> ConsumerRuntime:
    step = (TransactionalStep(stage, output,
                              new_producer=lambda: Producer(_producer_config(settings, group)))
            if settings.exactly_once else ProducingStep(stage, output))
    return ConsumerRuntime(consumer_config(kafka_config(settings), group,
                                           settings.group_instance_id, settings.group_protocol),
                           step,
                           batch_size=settings.batch_size, batch_seconds=settings.batch_seconds)
