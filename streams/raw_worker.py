"""The raw-layer worker process: standardize (fused with fact extraction) without faust.

Stateless, so it needs none of faust's tables; inside a faust worker its loop competed for
the GIL with faust's own event loop (measured: faust's main thread busy at ~100% CPU with no
agent consuming). Run one process per core; the consumer group spreads the partitions.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType

from confluent_kafka import Consumer, Producer

from ops.http import start_metrics_server
from ops.settings import Settings
from streams.masking.pseudonym import pseudonymizer_from
from streams.output import KafkaOutput, output_config
from streams.processor import BatchStats, RawLayerProcessor
from streams.raw_consumer import RawConsumerLoop, consumer_config
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder

log = logging.getLogger("govbus.streams.raw")


def group_id(settings: Settings) -> str:
    return f"govbus-{settings.topic_namespace}raw".replace(".", "-")


def build_raw_loop(settings: Settings,
                   on_batch: Callable[[BatchStats], None] | None = None) -> RawConsumerLoop:
    registry = SchemaRegistry(settings.registry_url)
    output = KafkaOutput(Producer(output_config(settings.kafka_bootstrap, group_id(settings))))
    processor = RawLayerProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        pseudonymizer_from(settings),
        output,
    )
    consumer = Consumer(consumer_config(settings.kafka_bootstrap, group_id(settings)))
    return RawConsumerLoop(consumer, processor, output, settings.batch_size,
                           settings.batch_seconds, on_batch, group_id(settings))


def run_raw_worker(settings: Settings,
                   on_batch: Callable[[BatchStats], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM; the batch in hand is finished and committed first."""
    loop = build_raw_loop(settings, on_batch)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        loop.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = start_metrics_server(settings, "raw", ready=lambda: (True, "consuming"))
    log.info("raw worker consuming %s", ", ".join(loop.processor.input_topics))
    try:
        loop.run()
    finally:
        if server is not None:
            server.stop()
