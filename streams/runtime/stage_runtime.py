"""A stage's place in the consumer runtime: its producer and its loop, from the settings."""

from __future__ import annotations

from confluent_kafka import Producer

from ops.kafka_client import kafka_config
from ops.runtime.client_config import consumer_config, producer_config
from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.loop import ConsumerRuntime
from ops.runtime.producing import ProducingStage, ProducingStep
from ops.settings import Settings


def stage_output(settings: Settings, group: str) -> KafkaOutput:
    return KafkaOutput(Producer(producer_config(kafka_config(settings), group)))


def stage_runtime(settings: Settings, group: str, stage: ProducingStage,
                  output: KafkaOutput) -> ConsumerRuntime:
    return ConsumerRuntime(consumer_config(kafka_config(settings), group),
                           ProducingStep(stage, output), batch_size=settings.batch_size,
                           batch_seconds=settings.batch_seconds)
