"""Benchmark wiring: fills topics with simulated events, runs workers, reads the figures.

Each benchmark runs in a fresh topic namespace, so it measures an empty, known workload.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer

from connectors.simulate import publish_all
from connectors.simulator import DepartmentSimulator
from govbus.bench.stage_rates import (
    StageBenchResult,
    bare_rate,
    bare_raw_to_theme_rate,
    committed_total,
    drain_rate,
    first_output,
    read_raw,
)
from govbus.keys import pseudonymizer
from govbus.wiring import admin_settings, publishers, registry, topic_admin
from ops.kafka_client import kafka_config
from ops.settings import Settings, get_settings
from ops.stack.process import terminate
from streams.runtime.theme_worker import group_id as theme_app_id
from topics.catalog import Layer, catalog_for
from topics.principals import principals
from topics.schemas import source_names


@contextmanager
def fresh_namespace(prefix: str) -> Iterator[Settings]:
    """Settings (and child processes) in a namespace of their own for the block; its topics
    are deleted at the end."""
    previous = os.environ.get("GOVBUS_TOPIC_NAMESPACE")
    os.environ["GOVBUS_TOPIC_NAMESPACE"] = f"{prefix}{uuid.uuid4().hex[:8]}."
    get_settings.cache_clear()
    try:
        settings = admin_settings(get_settings())
        admin = topic_admin(settings)
        catalog = catalog_for(settings)
        admin.apply(catalog.all)
        try:
            yield settings
        finally:
            # A benchmark's topics are of no use afterwards; thousands of partitions left
            # behind would slow the broker down for every later run. Nor are its ACLs.
            admin.delete(t.name for t in catalog.all)
            if admin.access is not None:
                admin.access.revoke_declared(principals(settings))
    finally:
        if previous is None:
            os.environ.pop("GOVBUS_TOPIC_NAMESPACE", None)
        else:
            os.environ["GOVBUS_TOPIC_NAMESPACE"] = previous
        get_settings.cache_clear()


def prefill_raw(settings: Settings, events: int, seed: int = 5) -> int:
    """Publish simulated events (5% with defects); returns how many (tombstones not counted)."""
    events_list = DepartmentSimulator(seed=seed, defect_rate=0.05).events(events)
    publish_all(events_list, publishers(settings, list(source_names())), 120.0)
    return events


@contextmanager
def worker_process(log: Path, role: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "govbus.cli", "worker", "--role", role],
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            terminate(process)


def standardize(events: int) -> StageBenchResult:
    with fresh_namespace("bench-std-") as settings:
        prefill_raw(settings, events)
        catalog = catalog_for(settings)
        raw_names = [t.name for t in catalog.by_layer(Layer.RAW)]
        messages = [m for m in read_raw(kafka_config(settings), raw_names)
                    if m.value is not None]
        schemas = registry(settings)
        bare = bare_rate(catalog, messages, schemas.schema_by_id,
                         lambda subject, schema: schemas.register(subject, schema),
                         pseudonymizer(settings), settings.batch_size)
        outputs = [*(catalog.std(s).name for s in source_names()),
                   catalog.dlq("standardize").name]
        with worker_process(settings.state_dir / "run" / "bench-worker.log", "raw") as worker:
            stage = drain_rate(kafka_config(settings), outputs, len(messages),
                               alive=lambda: worker.poll() is None)
        return StageBenchResult(len(messages), bare, stage)


def raw_to_theme(events: int) -> StageBenchResult:
    """One `worker --role all` process: raw events in, profiles out, next to the bare loop."""
    with fresh_namespace("bench-theme-") as settings:
        prefill_raw(settings, events)
        catalog = catalog_for(settings)
        messages = [m for m in read_raw(kafka_config(settings),
                                        [t.name for t in catalog.by_layer(Layer.RAW)])
                    if m.value is not None]
        schemas = registry(settings)
        bare, facts = bare_raw_to_theme_rate(
            catalog, messages, schemas.schema_by_id,
            lambda subject, schema: schemas.register(subject, schema),
            pseudonymizer(settings), settings.batch_size)
        fact_names = [t.name for t in catalog.by_layer(Layer.FACT)]
        watch = Consumer({**kafka_config(settings),
                          "group.id": theme_app_id(settings), "enable.auto.commit": False})
        outputs = [catalog.std(s).name for s in source_names()]
        try:
            with worker_process(settings.state_dir / "run" / "bench-theme.log", "all") as worker:
                started = first_output(kafka_config(settings), outputs,
                                       alive=lambda: worker.poll() is None)
                while committed_total(watch, fact_names) < facts:
                    if worker.poll() is not None:
                        raise RuntimeError("the worker exited during the benchmark")
                    time.sleep(0.2)
                rate = len(messages) / (time.monotonic() - started)
        finally:
            watch.close()
        return StageBenchResult(len(messages), bare, rate)
