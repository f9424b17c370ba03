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

from ops import metrics
from ops.kafka_client import kafka_config
from ops.runtime.kafka_output import Deferred, KafkaOutput
from ops.settings import DEFAULT_STATE_MEMORY_MB, Settings

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
    """One RocksDB per shard under ``folder``; a checkpoint only after a clean release.

    Memory is bounded across the shards, as Kafka Streams' bounded-memory configuration
    does: one LRU block cache of ``memory_mb`` for all of them, with their memtables charged
    to it (a write buffer manager of half of it). RocksDB's defaults give each shard 64 MB
    memtables and a cache of its own: a worker's memory then grew with its tables (measured:
    +71% in 25 minutes of a steady load whose population grows)."""

    CHECKPOINT = "\x00changelog-next-offset"
    holds_objects = False
    SHARD_WRITE_BUFFER_MB = 4

    def __init__(self, folder: Path, memory_mb: int = DEFAULT_STATE_MEMORY_MB) -> None:
        self.folder = folder
        self.memory_mb = memory_mb
        self._options: Any = None

    def options(self) -> Any:
        """The options every shard of this store opens with (one cache, one budget)."""
        if self._options is None:
            from rocksdict import BlockBasedOptions, Cache, Options, WriteBufferManager

            budget = self.memory_mb << 20
            cache = Cache(budget)
            table = BlockBasedOptions()
            table.set_block_cache(cache)
            table.set_cache_index_and_filter_blocks(True)
            options = Options()
            options.create_if_missing(True)
            options.set_block_based_table_factory(table)
            options.set_write_buffer_manager(
                WriteBufferManager.new_write_buffer_manager_with_cache(budget // 2, False, cache))
            options.set_write_buffer_size(min(self.SHARD_WRITE_BUFFER_MB << 20, budget // 4))
            options.set_max_write_buffer_number(2)
            self._options = options
        return self._options

    def open(self, shard: Shard) -> tuple[MutableMapping[str, bytes], int]:
        from rocksdict import Rdict

        path = self.folder / f"{shard[0]}-{shard[1]}"
        db = Rdict(str(path), self.options()) if path.exists() else None
        checkpoint = db.get(self.CHECKPOINT) if db is not None else None
        if db is not None and checkpoint is None:
            db.close()
            shutil.rmtree(path)  # not released cleanly: it may be ahead of the changelog
        if checkpoint is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = Rdict(str(path), self.options())
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


def backend_for(url: str, folder: Path, memory_mb: int = DEFAULT_STATE_MEMORY_MB
                ) -> ShardBackend:
    """``memory_mb``: a rocksdb:// store's cache and memtables together."""
    if url.startswith("memory://"):
        return MemoryBackend()
    if url.startswith("rocksdb://"):
        return RocksDBBackend(folder, memory_mb)
    raise ValueError(f"unknown theme store {url!r}: use memory:// or rocksdb://")


# None: shards start empty (for the benchmark's bare loop, which has no broker).
RestoreConsumer = Callable[[], Consumer] | None


def restore_consumer(settings: Settings, group: str) -> Callable[[], Consumer]:
    """Makes the consumer a restore reads the changelog with (assigned by hand, no commits)."""
    def make() -> Consumer:
        return Consumer({**kafka_config(settings), "group.id": f"{group}-restore",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    return make


def stage_store(settings: Settings, group: str, changelog: str, output: KafkaOutput,
                encode: Callable[[V], bytes], decode: Callable[[bytes], V]
                ) -> ChangelogStore[V]:
    """A stage's state store on the settings' backend, restored from ``changelog`` and
    written to it through the stage's ``output``, each record held back until the outputs of
    the batch it was computed with are acknowledged (``kafka_output``). Written beside them,
    a changelog record could reach the broker while an output did not: after a crash, the
    restored state took the batch's replayed input for applied, and the output stayed lost
    (found by the theme layer's SIGKILL test: profiles whose state was in the changelog and
    whose theme record was nowhere)."""
    return ChangelogStore(
        changelog,
        Deferred(output),
        backend_for(settings.theme_store, settings.state_dir / "streams" / group,
                    settings.state_memory_mb),
        restore_consumer(settings, group),
        encode,
        decode,
    )


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
        self._restores: dict[int, _Restore] = {}  # by changelog partition
        self._consumer: Consumer | None = None

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

    @property
    def restoring(self) -> set[Shard]:
        """Shards taken over but not yet up to the changelog's end (not readable yet)."""
        return {(category, partition) for partition, restore in self._restores.items()
                for category in restore.states}

    def own(self, shards: Iterable[Shard]) -> None:
        """Take the shards over: open each; it is readable once ``restore`` has brought it up
        to the changelog's end (at once when the changelog holds nothing past it)."""
        opened: dict[Shard, tuple[MutableMapping[str, bytes], int]] = {
            shard: self.backend.open(shard)
            for shard in set(shards) - set(self._shards) - self.restoring}
        if not opened:
            return
        if self.restore_consumer is None:
            self._shards.update({shard: states for shard, (states, _) in opened.items()})
            return
        by_partition: dict[int, _Restore] = {}
        for (category, partition), (states, offset) in opened.items():
            restore = by_partition.setdefault(partition, _Restore(offset))
            restore.states[category] = states
            restore.start = min(restore.start, offset)
        if self._consumer is None:
            self._consumer = self.restore_consumer()
        ends = self._watermarks(self._consumer, by_partition)
        for partition, restore in by_partition.items():
            restore.position, restore.end = restore.start, ends[partition]
            if restore.end > restore.start:
                self._restores[partition] = restore
            else:
                self._ready(partition, restore)
        self._assign_restores()

    def restore(self, budget_s: float) -> int:
        """Restore for about ``budget_s`` seconds (at least one fetch); returns the records
        applied. The consumer runtime calls it in its poll loop, so a large changelog never
        holds a rebalance or the other partitions up."""
        if not self._restores:
            return 0
        assert self._consumer is not None
        deadline = time.monotonic() + budget_s
        count = 0
        while self._restores:
            for message in self._consumer.consume(10_000, timeout=min(budget_s, 0.1)):
                partition = message.partition() or 0
                restore = self._restores.get(partition)
                if restore is None:
                    continue
                error = message.error()
                if error is not None:
                    # The end can be short of the watermark when compaction removed it.
                    if error.code() == KafkaError._PARTITION_EOF:
                        self._ready(partition, self._restores.pop(partition))
                    continue
                count += 1
                restore.apply(_table_key(message.key() or b""), message.value())
                restore.position = (message.offset() or 0) + 1
                if restore.position >= restore.end:
                    self._ready(partition, self._restores.pop(partition))
            metrics.state_restore_remaining.labels(table=self.changelog).set(
                sum(max(r.end - r.position, 0) for r in self._restores.values()))
            if time.monotonic() >= deadline:
                break
        if not self._restores:
            self._close_consumer()
        return count

    def restore_all(self) -> int:
        """Restore every shard taken over (tests and benchmarks: no loop to do it in)."""
        count = 0
        while self._restores:
            count += self.restore(1.0)
        return count

    def release(self, shards: Iterable[Shard], clean: bool = True) -> None:
        """Give shards up: cleanly when every write reached the changelog (their outputs
        are flushed by then), else (``clean`` false) so that the next owner restores them
        in full."""
        shards = list(shards)
        for shard in shards:  # still restoring: what it holds is short of the changelog
            restore = self._restores.get(shard[1])
            if restore is not None and shard[0] in restore.states:
                self.backend.close(shard, restore.states.pop(shard[0]), None)
                if not restore.states:
                    del self._restores[shard[1]]
        self._assign_restores()
        owned = [shard for shard in shards if shard in self._shards]
        ends: dict[int, int | None] = (
            dict(self._ends({p for _, p in owned})) if clean
            else dict.fromkeys({p for _, p in owned}))
        for shard in owned:
            self.backend.close(shard, self._shards.pop(shard), ends[shard[1]])

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

    def _ready(self, partition: int, restore: _Restore) -> None:
        for category, states in restore.states.items():
            self._shards[(category, partition)] = states
        log.info("%s partition %d restored: %d records", self.changelog, partition,
                 restore.applied)

    def _assign_restores(self) -> None:
        if self._consumer is None:
            return
        if not self._restores:
            self._close_consumer()
            return
        self._consumer.assign([TopicPartition(self.changelog, p, r.position)
                               for p, r in self._restores.items()])

    def _close_consumer(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        metrics.state_restore_remaining.labels(table=self.changelog).set(0)


class _Restore:
    """One changelog partition being read into the shards of its categories."""

    __slots__ = ("applied", "end", "position", "start", "states")

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = 0
        self.position = start  # next offset to read
        self.applied = 0
        self.states: dict[str, MutableMapping[str, bytes]] = {}

    def apply(self, key: str, value: bytes | None) -> None:
        self.applied += 1
        states = self.states.get(_category(key))
        if states is not None:
            if value is None:
                states.pop(key, None)
            else:
                states[key] = value


def _category(key: str) -> str:
    return key.partition(":")[0]


def _table_key(raw: bytes) -> str:
    key = raw.decode()
    # Changelogs written by the faust-based theme worker hold JSON-encoded keys.
    return orjson.loads(raw) if key.startswith('"') else key
