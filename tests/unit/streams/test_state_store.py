"""The theme layer's changelog-backed state store, without a broker: shards, write-through,
the RocksDB backend's clean-release checkpoint and its wipe after a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ops.runtime.kafka_output import KafkaOutput
from ops.settings import Settings
from streams.runtime.state_store import (
    ChangelogStore,
    MemoryBackend,
    RocksDBBackend,
    backend_for,
    stage_store,
)
from tests.doubles import HeldProducer, KafkaMessage

CHANGELOG = "state.theme.profiles"


class Recorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None, int]] = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        self.records.append((topic, key, value, partition))


def store(backend: Any, output: Recorder) -> ChangelogStore[dict[str, Any]]:
    return ChangelogStore(CHANGELOG, output, backend, None, orjson.dumps, orjson.loads)


def test_a_write_goes_to_the_shard_and_to_the_facts_changelog_partition() -> None:
    out = Recorder()
    states = store(MemoryBackend(), out)
    states.own([("individual", 2)])
    value = {"k": "individual", "v": 1}
    states.put("individual:p1", value, 2)
    assert states.get("individual:p1", 2) is value  # held decoded, not re-parsed
    assert out.records == [(CHANGELOG, b"individual:p1", orjson.dumps(value), 2)]


def test_a_removed_state_is_a_changelog_tombstone() -> None:
    out = Recorder()
    states = store(MemoryBackend(), out)
    states.own([("thing", 0)])
    states.put("thing:licence:1", {"v": 1}, 0)
    states.put("thing:licence:1", None, 0)
    assert states.get("thing:licence:1", 0) is None
    assert out.records[-1] == (CHANGELOG, b"thing:licence:1", None, 0)


def test_a_state_of_a_shard_not_owned_is_an_error_not_a_silent_miss() -> None:
    states = store(MemoryBackend(), Recorder())
    states.own([("individual", 0)])
    with pytest.raises(KeyError):
        states.get("individual:p1", 1)
    with pytest.raises(KeyError):
        states.get("organization:9133", 0)


def test_released_shards_are_forgotten() -> None:
    states = store(MemoryBackend(), Recorder())
    states.own([("individual", 0), ("event", 0)])
    states.put("individual:p1", {"v": 1}, 0)
    states.release([("individual", 0)])
    assert states.shards == {("event", 0)}
    states.own([("individual", 0)])  # taken again: from the changelog, not from memory
    assert states.get("individual:p1", 0) is None


def test_rocksdb_reopens_a_cleanly_released_shard_from_its_checkpoint(tmp_path: Path) -> None:
    backend = RocksDBBackend(tmp_path)
    states, start = backend.open(("individual", 1))
    assert start == 0
    states["individual:p1"] = b'{"v":1}'
    backend.close(("individual", 1), states, 42)
    again, start = backend.open(("individual", 1))
    assert start == 42
    assert dict(again.items()) == {"individual:p1": b'{"v":1}'}
    backend.close(("individual", 1), again, 42)


def test_rocksdb_wipes_a_shard_that_was_not_released_cleanly(tmp_path: Path) -> None:
    backend = RocksDBBackend(tmp_path)
    states, _ = backend.open(("individual", 1))
    states["individual:p1"] = b'{"v":1}'
    states.db.close()  # type: ignore[attr-defined]  # a crash: no checkpoint written
    again, start = backend.open(("individual", 1))
    assert start == 0  # restored in full from the changelog
    assert len(again) == 0
    backend.close(("individual", 1), again, 0)


def test_a_shard_given_up_with_writes_dropped_is_restored_in_full_next_time(
        tmp_path: Path) -> None:
    states = store(RocksDBBackend(tmp_path), Recorder())
    states.own([("individual", 1)])
    states.put("individual:p1", {"v": 1}, 1)
    states.release([("individual", 1)], clean=False)  # its changelog record never left
    again, start = RocksDBBackend(tmp_path).open(("individual", 1))
    assert start == 0 and len(again) == 0
    RocksDBBackend(tmp_path).close(("individual", 1), again, 0)


def test_rocksdb_shards_hold_bytes_and_decode_on_read(tmp_path: Path) -> None:
    states = store(RocksDBBackend(tmp_path), Recorder())
    states.own([("organization", 3)])
    states.put("organization:9134", {"v": 2}, 3)
    assert states.get("organization:9134", 3) == {"v": 2}
    states.release([("organization", 3)])


def test_store_urls() -> None:
    assert isinstance(backend_for("memory://", Path(".")), MemoryBackend)
    assert isinstance(backend_for("rocksdb://", Path(".")), RocksDBBackend)
    with pytest.raises(ValueError, match="unknown theme store"):
        backend_for("redis://", Path("."))


def test_the_store_setting_accepts_only_known_stores(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from ops.settings import Settings

    assert Settings(state_dir=tmp_path, theme_store="rocksdb://").theme_store == "rocksdb://"
    with pytest.raises(ValidationError, match="theme_store"):
        Settings(state_dir=tmp_path, theme_store="redis://")


class Changelog:
    """A changelog topic's partitions, read as a restore consumer reads them (a fetch gives
    at most ``per_fetch`` messages)."""

    def __init__(self, partitions: dict[int, list[tuple[bytes, bytes | None]]],
                 per_fetch: int = 2) -> None:
        self.partitions = partitions
        self.per_fetch = per_fetch
        self.positions: dict[int, int] = {}
        self.closed = 0

    def __call__(self) -> Changelog:
        return self

    def get_watermark_offsets(self, tp: Any, timeout: float = 0) -> tuple[int, int]:
        return 0, len(self.partitions.get(tp.partition, []))

    def assign(self, partitions: list[Any]) -> None:
        self.positions = {tp.partition: tp.offset for tp in partitions}

    def consume(self, num: int, timeout: float = 0) -> list[Any]:
        out = []
        for partition, position in self.positions.items():
            records = self.partitions[partition][position:position + self.per_fetch]
            out += [KafkaMessage(CHANGELOG, partition, position + i, key, value)
                    for i, (key, value) in enumerate(records)]
            self.positions[partition] = position + len(records)
        return out

    def close(self) -> None:
        self.closed += 1


def test_a_restore_progresses_in_slices_and_a_shard_is_readable_once_restored() -> None:
    changelog = Changelog({1: [(b"individual:a", b'{"v":1}'), (b"individual:b", b'{"v":2}'),
                               (b"individual:a", b'{"v":3}'), (b"organization:x", b'{"v":4}'),
                               (b"individual:b", None)]})
    states: ChangelogStore[dict[str, Any]] = ChangelogStore(
        CHANGELOG, Recorder(), MemoryBackend(), changelog, orjson.dumps, orjson.loads)
    states.own([("individual", 1), ("individual", 0)])
    assert states.shards == {("individual", 0)}  # nothing to read for partition 0
    assert states.restoring == {("individual", 1)}
    assert states.restore(0.0) == 2  # one fetch
    assert states.restoring == {("individual", 1)}
    states.restore_all()
    assert states.restoring == set() and changelog.closed == 1
    assert states.get("individual:a", 1) == {"v": 3}
    assert states.get("individual:b", 1) is None


def test_a_shard_given_up_while_restoring_is_restored_in_full_by_the_next_owner(
    tmp_path: Path,
) -> None:
    changelog = Changelog({0: [(b"thing:t1", b'{"v":1}'), (b"thing:t2", b'{"v":2}'),
                               (b"thing:t3", b'{"v":3}')]}, per_fetch=1)
    backend = RocksDBBackend(tmp_path)
    states: ChangelogStore[dict[str, Any]] = ChangelogStore(
        CHANGELOG, Recorder(), backend, changelog, orjson.dumps, orjson.loads)
    states.own([("thing", 0)])
    states.restore(0.0)
    states.release([("thing", 0)])
    assert states.restoring == set() and changelog.closed == 1
    _, start = backend.open(("thing", 0))
    assert start == 0  # what it held was short of the changelog


def test_a_stage_s_changelog_records_wait_for_the_outputs_of_their_batch(tmp_path: Path
                                                                          ) -> None:
    """Written beside its outputs, a state could reach the changelog while an output did not:
    restored after a crash, it took the replayed fact for applied, and the output was lost."""
    producer = HeldProducer()
    output = KafkaOutput(producer)
    states: ChangelogStore[dict[str, Any]] = stage_store(
        Settings(state_dir=tmp_path), "govbus-theme", CHANGELOG, output, orjson.dumps,
        orjson.loads)
    states.restore_consumer = None  # no broker here: the shard opens empty
    states.own([("individual", 0)])
    batch = output.begin({("fact.individual", 0): 8})
    output.produce("theme.individual", b"p1", b"profile")
    states.put("individual:p1", {"v": 1}, 0)
    output.begin()
    assert producer.topics == ["theme.individual"]
    assert states.get("individual:p1", 0) == {"v": 1}  # readable at once, in the store
    producer.ack(0)
    output.release(batch)
    assert producer.topics == ["theme.individual", CHANGELOG]
