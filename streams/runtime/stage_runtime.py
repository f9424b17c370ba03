"""A stage's place in the consumer runtime: its producer and its loop, from the settings."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from ops.kafka_client import kafka_config
from ops.runtime.client_config import consumer_config, producer_config
from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import ConsumerRuntime
from ops.runtime.producing import ProducingStage, ProducingStep, TransactionalStep
from ops.settings import Settings


def stage_output(settings: Settings, group: str) -> KafkaOutput:
    """The stage's producer; with ``exactly_once``, transactional (an id of its own per
    process: the group's generation fences a member that lost its partitions, KIP-447)."""
    transactions = ({"transactional.id": f"{group}-{uuid.uuid4().hex[:12]}"}
                    if settings.exactly_once else {})
    return KafkaOutput(Producer(producer_config(kafka_config(settings), group, **transactions)))


def stage_runtime(settings: Settings, group: str, stage: ProducingStage,
                  output: KafkaOutput) -> ConsumerRuntime:
    step = (TransactionalStep(stage, output) if settings.exactly_once
            else ProducingStep(stage, output))
    return ConsumerRuntime(consumer_config(kafka_config(settings), group, settings.instance_id,
                                           settings.group_protocol),
                           step,
                           batch_size=settings.batch_size, batch_seconds=settings.batch_seconds)
