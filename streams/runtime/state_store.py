"""The theme layer's profile states: a key-value store per owned partition, backed by a
compacted changelog topic, restored from it when partitions are assigned.

This is Kafka Streams' state-store design. A state is written to the store and to changelog
partition p, where p is the partition of the fact that changed it. Fact topics are keyed by
entity key and co-partitioned, so all facts of one entity, and its state, sit in one
partition. A store shard is one (category, partition): the facts of one category's topic
partition. Ownership follows the consumer group's assignment of the fact topics.

Values are held decoded in memory and encoded once per write, for the changelog.
Backends: ``memory://`` (dicts, restored from the changelog on every assignment) and
``rocksdb://`` (RocksDB through rocksdict, on disk under the state folder, for state larger
than memory). A RocksDB shard records how far it has read the changelog only when it is
released cleanly. After a crash it may hold writes whose changelog record never reached the
broker, so it is wiped and restored in full, as Kafka Streams does under exactly-once.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ops.kafka_client import kafka_config
from ops.settings import Settings

log = logging.getLogger("govbus.streams.state")

Shard = tuple[str, int]  # (category, changelog partition)
V = TypeVar("V")
WATERMARK_PATIENCE_S = 30.0


class ChangelogOutput(Protocol):
    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None: ...


class ShardBackend(Protocol):
    """Where the states of one shard live."""

    holds_objects: bool  # values may be kept decoded (else: encoded bytes only)

    def open(self, shard: Shard) -> tuple[MutableMapping[str, bytes], int]:
        """The shard's map and the changelog offset to restore from (0: from the start)."""
        ...

    def close(self, shard: Shard, states: MutableMapping[str, bytes],
              next_offset: int | None) -> None:
        """Release a shard; its states are correct up to ``next_offset``, or may be ahead of
        the changelog (None: writes were dropped, the next owner must restore in full)."""
        ...


class MemoryBackend:
    holds_objects = True

    def open(self, shard: Shard) -> tuple[MutableMapping[str, bytes], int]:
        return {}, 0

    def close(self, shard: Shard, states: MutableMapping[str, bytes],
              next_offset: int | None) -> None:
        states.clear()


class RocksDBBackend:
    """One RocksDB per shard under ``folder``; a checkpoint only after a clean release."""

    CHECKPOINT = "\x00changelog-next-offset"
    holds_objects = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self, shard: Shard) -> tuple[MutableMapping[str, bytes], int]:
        from rocksdict import Rdict

        path = self.folder / f"{shard[0]}-{shard[1]}"
        db = Rdict(str(path)) if path.exists() else None
        checkpoint = db.get(self.CHECKPOINT) if db is not None else None
        if db is not None and checkpoint is None:
            db.close()
            shutil.rmtree(path)  # not released cleanly: it may be ahead of the changelog
        if checkpoint is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = Rdict(str(path))
        assert db is not None
        if checkpoint is not None:
            del db[self.CHECKPOINT]  # from now on the shard is being written
        return _RdictStates(db), int(checkpoint or 0)

    def close(self, shard: Shard, states: MutableMapping[str, bytes],
              next_offset: int | None) -> None:
        assert isinstance(states, _RdictStates)
        if next_offset is not None:  # else no checkpoint: the next open wipes the shard
            states.db[self.CHECKPOINT] = next_offset
        states.db.close()


class _RdictStates(MutableMapping[str, bytes]):
    """A RocksDB shard as a mapping of table keys to state bytes."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def __getitem__(self, key: str) -> bytes:
        value = self.db.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def get(self, key: str, default: Any = None) -> Any:
        return self.db.get(key, default)

    def __setitem__(self, key: str, value: bytes) -> None:
        self.db[key] = value

    def __delitem__(self, key: str) -> None:
        del self.db[key]

    def __iter__(self) -> Any:
        return (k for k in self.db.keys() if k != RocksDBBackend.CHECKPOINT)  # noqa: SIM118 (Rdict iterates items)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def backend_for(url: str, folder: Path) -> ShardBackend:
    if url.startswith("memory://"):
        return MemoryBackend()
    if url.startswith("rocksdb://"):
        return RocksDBBackend(folder)
    raise ValueError(f"unknown theme store {url!r}: use memory:// or rocksdb://")


# None: shards start empty (for the benchmark's bare loop, which has no broker).
RestoreConsumer = Callable[[], Consumer] | None


def restore_consumer(settings: Settings, group: str) -> Callable[[], Consumer]:
    """Makes the consumer a restore reads the changelog with (assigned by hand, no commits)."""
    def make() -> Consumer:
        return Consumer({**kafka_config(settings), "group.id": f"{group}-restore",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    return make


class ChangelogStore(Generic[V]):
    """States of the owned shards, written through to the changelog. ``get``/``put`` take the
    partition of the fact being applied as token; ``encode``/``decode`` give the changelog
    form of a state."""

    def __init__(self, changelog: str, output: ChangelogOutput, backend: ShardBackend,
                 restore_consumer: RestoreConsumer, encode: Callable[[V], bytes],
                 decode: Callable[[bytes], V]) -> None:
        self.changelog = changelog
        self.output = output
        self.backend = backend
        self.restore_consumer = restore_consumer
        self.encode = encode
        self.decode = decode
        self._keep_decoded = backend.holds_objects
        self._shards: dict[Shard, MutableMapping[str, Any]] = {}

    def get(self, key: str, partition: int) -> V | None:
        states = self._shards[_category(key), partition]
        value = states.get(key)
        if type(value) is not bytes:
            return value
        state = self.decode(value)
        if self._keep_decoded:
            states[key] = state
        return state

    def put(self, key: str, value: V | None, partition: int) -> None:
        states = self._shards[_category(key), partition]
        data = self.encode(value) if value is not None else None
        if data is None:
            states.pop(key, None)
        else:
            states[key] = value if self._keep_decoded else data
        self.output.produce(self.changelog, key.encode(), data, partition=partition)

    @property
    def shards(self) -> set[Shard]:
        return set(self._shards)

    def keys(self, shard: Shard) -> list[str]:
        """The table keys an owned shard holds (a copy: the shard may change meanwhile)."""
        return list(self._shards[shard])

    def own(self, shards: Iterable[Shard]) -> None:
        """Take the shards over: open each, then bring it up to the changelog's end."""
        opened: dict[Shard, tuple[MutableMapping[str, bytes], int]] = {
            shard: self.backend.open(shard) for shard in set(shards) - set(self._shards)}
        if not opened:
            return
        by_partition: dict[int, dict[str, MutableMapping[str, bytes]]] = {}
        start: dict[int, int] = {}
        for (category, partition), (states, offset) in opened.items():
            by_partition.setdefault(partition, {})[category] = states
            start[partition] = min(start.get(partition, offset), offset)
        restored = self._restore(by_partition, start) if self.restore_consumer is not None else 0
        for shard, (states, _) in opened.items():
            self._shards[shard] = states
        log.info("restored %d changelog records into %d shards", restored, len(opened))

    def release(self, shards: Iterable[Shard], clean: bool = True) -> None:
        """Give shards up: cleanly when every write reached the changelog (their outputs
        are flushed by then), else (``clean`` false) so that the next owner restores them
        in full."""
        shards = list(shards)
        ends: dict[int, int | None] = (
            dict(self._ends({p for _, p in shards})) if clean
            else dict.fromkeys({p for _, p in shards}))
        for shard in shards:
            states = self._shards.pop(shard, None)
            if states is not None:
                self.backend.close(shard, states, ends[shard[1]])

    def _ends(self, partitions: set[int]) -> dict[int, int]:
        if not partitions or self.restore_consumer is None:
            return dict.fromkeys(partitions, 0)
        consumer = self.restore_consumer()
        try:
            return self._watermarks(consumer, partitions)
        finally:
            consumer.close()

    def _watermarks(self, consumer: Consumer, partitions: Iterable[int]) -> dict[int, int]:
        """The changelog's end offset (next to be written) per partition.

        A leader that is still being elected (a new topic, a broker restart) answers with a
        retriable error: it is asked again until WATERMARK_PATIENCE_S has passed.
        """
        deadline = time.monotonic() + WATERMARK_PATIENCE_S
        ends: dict[int, int] = {}
        for p in partitions:
            while p not in ends:
                try:
                    ends[p] = consumer.get_watermark_offsets(
                        TopicPartition(self.changelog, p), timeout=10)[1]
                except KafkaException as exc:
                    if not exc.args[0].retriable() or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        return ends

    def _restore(self, by_partition: dict[int, dict[str, MutableMapping[str, bytes]]],
                 start: dict[int, int]) -> int:
        assert self.restore_consumer is not None
        consumer = self.restore_consumer()
        try:
            ends = self._watermarks(consumer, by_partition)
            pending = {p for p in by_partition if ends[p] > start[p]}
            if not pending:
                return 0
            consumer.assign([TopicPartition(self.changelog, p, start[p]) for p in pending])
            count = 0
            while pending:
                for message in consumer.consume(10_000, timeout=1.0):
                    partition = message.partition() or 0
                    error = message.error()
                    if error is not None:
                        # The end can be short of the watermark when compaction removed it.
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(partition)
                        continue
                    count += 1
                    key = _table_key(message.key() or b"")
                    states = by_partition[partition].get(_category(key))
                    value = message.value()
                    if states is not None:
                        if value is None:
                            states.pop(key, None)
                        else:
                            states[key] = value
                    if (message.offset() or 0) + 1 >= ends[partition]:
                        pending.discard(partition)
            return count
        finally:
            consumer.close()


def _category(key: str) -> str:
    return key.partition(":")[0]


def _table_key(raw: bytes) -> str:
    key = raw.decode()
    # Changelogs written by the faust-based theme worker hold JSON-encoded keys.
    return orjson.loads(raw) if key.startswith('"') else key
