"""How fast the theme worker gets its state back: the profile changelog restored into a
fresh store, next to a bare read of the same changelog in the same run.

This bounds how quickly a theme partition moves to another host (or a crashed worker comes
back): a shard is processed again only once its changelog is replayed.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from govbus.bench.stage_rates import read_raw
from govbus.bench.stage_runs import fresh_namespace, prefill_raw, worker_process
from ops.kafka_client import kafka_config
from ops.settings import Settings
from streams.runtime.state_store import ChangelogStore, backend_for
from streams.runtime.theme_worker import group_id
from streams.stages.enrich.profile import ProfileState
from topics.annotations import Category
from topics.catalog import THEME_PROFILES, catalog_for

# The changelog counts as complete when its end offsets stayed put this long.
SETTLED_S = 15.0
SETTLE_TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True)
class RestoreBenchResult:
    store: str
    records: int
    megabytes: float
    bare_s: float
    restore_s: float

    @property
    def bare_mb_per_s(self) -> float:
        return self.megabytes / self.bare_s

    @property
    def restore_mb_per_s(self) -> float:
        return self.megabytes / self.restore_s

    @property
    def seconds_per_gb(self) -> float:
        return 1024 / self.restore_mb_per_s


class _NoOutput:
    """Restoring writes nothing back."""

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: object = None, partition: int = -1) -> None:
        raise AssertionError("a restore produced a changelog record")


def _changelog_end(consumer: Consumer, changelog: str) -> int:
    """The sum of the changelog's end offsets."""
    partitions = consumer.list_topics(changelog, timeout=10).topics[changelog].partitions
    return sum(consumer.get_watermark_offsets(TopicPartition(changelog, p), timeout=10)[1]
               for p in partitions)


def _fill_changelog(settings: Settings, changelog: str) -> None:
    """Run one `worker --role all` until its profile changelog stops growing."""
    watch = Consumer({**kafka_config(settings), "group.id": "govbus-bench-restore-watch"})
    try:
        with worker_process(settings.state_dir / "run" / "bench-restore.log", "all") as worker:
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            last, since = -1, time.monotonic()
            while time.monotonic() < deadline:
                if worker.poll() is not None:
                    raise RuntimeError("the worker exited while filling the changelog")
                end = _changelog_end(watch, changelog)
                if end != last:
                    last, since = end, time.monotonic()
                elif end > 0 and time.monotonic() - since >= SETTLED_S:
                    return
                time.sleep(1.0)
    finally:
        watch.close()
    raise RuntimeError("the profile changelog did not settle in time")


def theme_restore(events: int) -> RestoreBenchResult:
    with fresh_namespace("bench-restore-") as settings:
        prefill_raw(settings, events)
        changelog = catalog_for(settings).state(THEME_PROFILES).name
        _fill_changelog(settings, changelog)

        started = time.monotonic()
        messages = read_raw(kafka_config(settings), [changelog])
        bare_s = time.monotonic() - started
        size = sum(len(m.key or b"") + len(m.value or b"") for m in messages)
        partitions = {m.partition for m in messages}

        group = group_id(settings)
        shards = [(str(c), p) for c in Category for p in partitions]
        # The store the worker is configured with (GOVBUS_THEME_STORE), in a folder of its own.
        with tempfile.TemporaryDirectory(dir=settings.state_dir) as folder:
            store = ChangelogStore(
                changelog, _NoOutput(), backend_for(settings.theme_store, Path(folder),
                                            settings.state_memory_mb),
                lambda: Consumer({**kafka_config(settings), "group.id": f"{group}-restore",
                                  "enable.auto.commit": False, "enable.partition.eof": True}),
                ProfileState.to_bytes, ProfileState.from_bytes,
            )
            started = time.monotonic()
            store.own(shards)
            store.restore_all()
            restore_s = time.monotonic() - started
            store.release(shards, clean=False)
        return RestoreBenchResult(settings.theme_store, len(messages), size / 1_048_576,
                                  bare_s, restore_s)
