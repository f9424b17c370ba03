"""Batches decoded messages per partition into deduplicated Arrow inserts.

Kafka stays outside: the caller adds messages, calls ``flush`` and commits exactly the
offsets it returns, which ClickHouse has acknowledged. A batch is sealed when it reaches
``max_rows`` or ``max_seconds``; its token is (topic, partition, first offset, last offset),
so a retry, or a re-read after a crash between insert and commit, is dropped by the engine.
Every row keeps its insert's token (``_batch``): after a crash ``recover`` reads the tokens of
inserts that landed past the committed offset, and the re-read messages are cut into exactly
those ranges again, under the very same tokens.

Profile tables insert the sealed batches of all their partitions together: every INSERT
costs the engine a fixed ~7-10 ms (a new part), and with one insert per partition and time
window the engine was the sink's bottleneck at 1,000 events/s. A grouped insert is one
block (profile tables have no partition key), so it lands whole or not at all, under a token
joining its members' tokens; each row keeps its own partition's token in ``_batch``. After a
crash, a range ``recover`` finds in a profile table therefore landed whole and is committed
without inserting it again. Event tables keep one insert per partition batch: their monthly
partitions can split an insert into several blocks, and only an identical re-insert under
the same token completes a partly landed one.

Deletes: a record whose ``deleted`` flag is set is stored as is (``is_deleted`` = 1, its own
version). A tombstone carries only the key (a record of the key columns, or the entity key
itself), so it becomes a row with the key columns, every other column at its default,
``is_deleted`` = 1 and a version one above the highest stored or earlier in the batch for
that entity; ``FINAL`` then hides the entity.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pyarrow as pa

from sinks.backoff import ExponentialBackoff
from sinks.clickhouse.arrow_batch import ArrowBatchBuilder, BatchConversionError
from sinks.clickhouse.backend import BackendError, ClickHouseBackend
from sinks.clickhouse.columns import Meta
from sinks.clickhouse.ddl import EvolutionPlan, TableSpec
from sinks.clickhouse.schema_manager import SchemaManager
from sinks.clickhouse.sealed_batch import EntityKey, OffsetRange, SealedBatch, token_range
from sinks.clickhouse.sql import quote_identifier, quote_literal
from sinks.message import SinkMessage, TopicPartition

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_SECONDS = 1.0
# With background inserts, intake waits for ClickHouse once this many batches are sealed.
MAX_SEALED_BATCHES = 4


class SinkUnavailableError(RuntimeError):
    """ClickHouse did not take a batch but may later: pause ``partitions``, retry in
    ``retry_in`` seconds. ``committable`` holds offsets of batches that did land first."""

    retryable = True

    def __init__(
        self,
        message: str,
        committable: Mapping[TopicPartition, int],
        partitions: frozenset[TopicPartition],
        retry_in: float,
    ) -> None:
        super().__init__(message)
        self.committable = dict(committable)
        self.partitions = partitions
        self.retry_in = retry_in


class SinkRejectedError(RuntimeError):
    """ClickHouse (or the conversion) refused a batch for good: a bug or schema mismatch.
    Retrying cannot help; the process should stop without committing past it."""

    retryable = False

    def __init__(self, message: str, committable: Mapping[TopicPartition, int]) -> None:
        super().__init__(message)
        self.committable = dict(committable)


class InsertObserver(Protocol):
    """Told about every insert the engine acknowledged (metrics, latency probes)."""

    def inserted(
        self, spec: TableSpec, data: pa.Table, seconds: float, attempt: int, recovered: bool
    ) -> None:
        """``data`` was acknowledged after ``seconds``. ``attempt`` > 1: the token was sent
        before; ``recovered``: an earlier process inserted this range (so the engine most
        likely dropped it as a duplicate)."""


@dataclass
class _OpenBatch:
    opened_at: float
    messages: list[SinkMessage] = field(default_factory=list)
    recorded: OffsetRange | None = None
    first: bool = False  # the partition's first batch since it was taken on: due at once


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ClickHouseWriter:
    """Per topic-partition batching into one table; called from one consumer loop. With
    ``background`` its inserts run in a thread of its own (one at a time, in order), so a
    backend shared by several writers must serialize calls (``SerializedBackend``)."""

    def __init__(
        self,
        backend: ClickHouseBackend,
        spec: TableSpec,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        backoff: ExponentialBackoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = _wall_ms,
        observer: InsertObserver | None = None,
        background: bool = False,
        cluster: str | None = None,
    ) -> None:
        if max_rows < 1 or max_seconds <= 0:
            raise ValueError("max_rows >= 1 and max_seconds > 0")
        self.backend = backend
        self.spec = spec
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.backoff = backoff or ExponentialBackoff()
        self._clock = clock
        self._wall_ms = wall_ms
        self.observer = observer
        self._schemas = SchemaManager(backend, cluster)
        self._builders: dict[int, ArrowBatchBuilder] = {}
        self._open: dict[TopicPartition, _OpenBatch] = {}
        self._sealed: dict[TopicPartition, deque[SealedBatch]] = {}
        self._last_ingested: dict[TopicPartition, int] = {}
        self._recorded: dict[TopicPartition, deque[OffsetRange]] = {}
        # Partitions taken on (``recover``) whose first batch has not opened yet.
        self._taken_on: set[TopicPartition] = set()
        self._retry_at = 0.0
        # Sealed batches in the order they go in (per partition, that is offset order).
        self._order: deque[SealedBatch] = deque()
        self._pool = (
            ThreadPoolExecutor(1, thread_name_prefix=f"insert-{spec.name}") if background else None
        )
        self._inflight: tuple[list[SealedBatch], Future[None]] | None = None
        # A group that failed is retried as it was (same members, same token).
        self._retry_group: list[SealedBatch] | None = None
        self.rows_inserted = 0
        self.recovered_batches = 0

    # -- table --------------------------------------------------------------------------

    def prepare(self) -> EvolutionPlan:
        """Create or evolve the table; call once before the first flush."""
        return self._schemas.ensure_table(self.spec)

    def evolve(self, schema: Mapping[str, Any]) -> EvolutionPlan:
        """Switch to a newer value schema: add its new columns first, then batch with it.

        Batches already sealed keep the spec they were sealed with, so a retry still sends
        the rows it first sent.
        """
        spec = replace(self.spec, schema=schema)
        plan = self._schemas.ensure_table(spec)
        self.spec = spec
        return plan

    # -- intake -------------------------------------------------------------------------

    def add(self, message: SinkMessage, waiting_since: float | None = None) -> None:
        """Batch ``message``. ``waiting_since`` (on this writer's clock): the earliest time
        it may have arrived; a batch it opens counts its age from then, not from now."""
        tp = message.topic_partition
        offset = message.offset
        recorded = self._recorded.get(tp)
        batch = self._open.get(tp)
        while recorded and offset > recorded[0].last:
            # The range's last messages are gone (compacted away): its batch ends here.
            done = recorded.popleft()
            if batch is not None and batch.recorded == done:
                self._seal(tp)
                batch = None
        span = recorded[0] if recorded and offset >= recorded[0].first else None
        if batch is not None and batch.recorded != span:
            # A batch never ends inside a recorded range, nor spans into one.
            self._seal(tp)
            batch = None
        if batch is None:
            opened = self._clock()
            if waiting_since is not None:
                opened = min(opened, waiting_since)
            first = span is None and tp in self._taken_on
            if first:
                self._taken_on.discard(tp)
            batch = self._open[tp] = _OpenBatch(opened, recorded=span, first=first)
        batch.messages.append(message)
        if span is not None:
            if offset >= span.last:
                assert recorded is not None
                recorded.popleft()
                self._seal(tp)
        elif len(batch.messages) >= self.max_rows:
            self._seal(tp)

    def add_many(self, messages: Iterable[SinkMessage]) -> None:
        for message in messages:
            self.add(message)

    # -- state --------------------------------------------------------------------------

    @property
    def pending_messages(self) -> int:
        open_count = sum(len(b.messages) for b in self._open.values())
        return open_count + sum(len(b.messages) for q in self._sealed.values() for b in q)

    def holds(self, tp: TopicPartition) -> bool:
        """True while a message of ``tp`` is batched or being inserted (not safe yet)."""
        batch = self._open.get(tp)
        return bool(batch is not None and batch.messages) or bool(self._sealed.get(tp))

    def backlogged(self) -> frozenset[TopicPartition]:
        """Partitions with a sealed batch still waiting for ClickHouse (keep them paused)."""
        return frozenset(tp for tp, queue in self._sealed.items() if queue)

    def retry_in(self) -> float:
        return max(0.0, self._retry_at - self._clock())

    def due(self) -> bool:
        """True when ``flush`` has something to do now."""
        now = self._clock()
        if self._inflight is not None:
            if self._inflight[1].done():
                return True
        elif self._order and now >= self._retry_at:
            return True
        return any(self._is_due(b, now) for b in self._open.values())

    def due_in(self) -> float | None:
        """Seconds until an open batch is due by age (None: no open batch can become due)."""
        now = self._clock()
        waits = [0.0 if b.first else b.opened_at + self.max_seconds - now
                 for b in self._open.values() if b.messages and b.recorded is None]
        return max(0.0, min(waits)) if waits else None

    def forget(self, partitions: Iterable[TopicPartition]) -> int:
        """Drop everything held for partitions this process no longer owns (rebalance);
        their uncommitted messages will be read again by the new owner."""
        gone = set(partitions)
        if self._inflight is not None and any(
            b.topic_partition in gone for b in self._inflight[0]
        ):
            self._inflight[1].exception()  # wait; whatever it did, the messages are read again
            self._inflight = None
        dropped = 0
        for tp in gone:
            batch = self._open.pop(tp, None)
            dropped += len(batch.messages) if batch else 0
            dropped += sum(len(b.messages) for b in self._sealed.pop(tp, deque()))
            self._recorded.pop(tp, None)
        self._taken_on -= gone
        self._order = deque(b for b in self._order if b.topic_partition not in gone)
        self._retry_group = None
        return dropped

    def recover(self, tp: TopicPartition, committed_offset: int) -> int:
        """Find the inserts that landed past the committed offset but were never committed.

        After a crash between insert and commit the same messages are read again; cut into
        the same ranges they get the same tokens and the engine drops them. Each stored
        insert names its range in ``_batch``. Returns how many were found.

        The partition's first batch after them goes in at once, not when ``max_seconds``
        have passed: what a restarted sink (or the partition's new owner) catches up on
        lands, and its offsets are committed, within a poll of being read.
        """
        self._taken_on.add(tp)
        spec = self.spec
        batch = quote_identifier(Meta.BATCH.value)
        result = self.backend.query(
            f"SELECT DISTINCT {batch} FROM {spec.qualified_name} "
            f"WHERE {quote_identifier(Meta.TOPIC.value)} = {quote_literal(tp.topic)} "
            f"AND {quote_identifier(Meta.PARTITION.value)} = {tp.partition} "
            f"AND {quote_identifier(Meta.OFFSET.value)} >= {int(committed_offset)} "
            f"AND {batch} != ''"
        )
        spans = sorted(
            {span for (token,) in result.rows if (span := token_range(str(token))) is not None}
        )
        self.recovered_batches += len(spans)
        if spans:
            self._recorded[tp] = deque(spans)
        else:
            self._recorded.pop(tp, None)
        return len(spans)

    # -- output -------------------------------------------------------------------------

    def flush(self, force: bool = False) -> dict[TopicPartition, int]:
        """Insert every batch that is due (all, with ``force``); returns the offsets that
        are now safe to commit, per partition.

        With ``background``, an insert runs in the writer's thread while the caller goes on
        (decoding the next messages); its offsets come back from the first flush after it
        finished, and ``force`` waits for all of them.

        Raises ``SinkUnavailableError`` (retryable; batches kept) or ``SinkRejectedError``.
        While backing off after a failure it inserts nothing and returns ``{}``.
        """
        now = self._clock()
        for tp, open_batch in list(self._open.items()):
            # Forced or not, a batch inside a recorded range waits for the range's end:
            # cut short it would insert part of the range again under the range's token.
            if (force and open_batch.recorded is None) or self._is_due(open_batch, now):
                self._seal(tp)
        committable: dict[TopicPartition, int] = {}
        if self._inflight is not None:
            self._reap(committable, wait=force)
        if now < self._retry_at:
            return committable
        if self._pool is None:
            while self._order:
                group = self._next_group()
                try:
                    self._send(group, self._prepared(group))
                except (BackendError, BatchConversionError) as exc:
                    self._failed(group, exc, committable)
                self._done(group, committable)
        else:
            self._pump(committable, force)
        return committable

    def close(self) -> None:
        """Wait for an insert in flight (its offsets are then lost to this process: the
        next owner reads them again and the token drops the repeat) and stop the thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _pump(self, committable: dict[TopicPartition, int], force: bool) -> None:
        assert self._pool is not None
        while True:
            if self._inflight is None:
                if not self._order:
                    return
                group = self._next_group()
                try:
                    table = self._prepared(group)
                except (BackendError, BatchConversionError) as exc:
                    self._failed(group, exc, committable)
                self._inflight = (group, self._pool.submit(self._send, group, table))
            # Wait for it when told to, or when too much waits behind it; else go on.
            crowded = len(self._order) > MAX_SEALED_BATCHES
            if not (force or crowded or self._inflight[1].done()):
                return
            self._reap(committable, wait=True)

    def _reap(self, committable: dict[TopicPartition, int], wait: bool) -> None:
        assert self._inflight is not None
        group, running = self._inflight
        if not wait and not running.done():
            return
        error = running.exception()
        self._inflight = None
        if error is not None:
            if isinstance(error, BackendError | BatchConversionError):
                self._failed(group, error, committable)
            raise error
        self._done(group, committable)

    def _next_group(self) -> list[SealedBatch]:
        """The batches of the next insert, from the head of the queue: for a profile table
        the sealed batches of all partitions (up to ``max_rows``); else the head alone."""
        head = self._order[0]
        if self._retry_group is not None and self._retry_group[0] is head:
            return self._retry_group
        if not head.spec.is_profile or head.recorded is not None:
            return [head]
        group: list[SealedBatch] = []
        rows = 0
        for batch in self._order:
            if batch.recorded is not None or batch.spec is not head.spec:
                break
            if group and rows + len(batch.messages) > self.max_rows:
                break
            group.append(batch)
            rows += len(batch.messages)
        return group

    def _done(self, group: list[SealedBatch], committable: dict[TopicPartition, int]) -> None:
        for batch in group:
            tp = batch.topic_partition
            assert self._order[0] is batch and self._sealed[tp][0] is batch
            self._order.popleft()
            self._sealed[tp].popleft()
            committable[tp] = batch.commit_offset
        self._retry_group = None
        self.backoff.reset()

    def _failed(
        self,
        group: list[SealedBatch],
        exc: BackendError | BatchConversionError,
        committable: dict[TopicPartition, int],
    ) -> None:
        self._retry_group = group
        batch = group[0]
        if isinstance(exc, BatchConversionError):
            raise SinkRejectedError(f"{batch.token}: {exc}", committable) from exc
        if not exc.retryable:
            raise SinkRejectedError(
                f"{batch.token}: ClickHouse refused the batch: {exc}", committable
            ) from exc
        delay = self.backoff.next_delay()
        self._retry_at = self._clock() + delay
        raise SinkUnavailableError(
            f"{batch.token}: ClickHouse unavailable, retry in {delay:.1f}s: {exc}",
            committable,
            self.backlogged(),
            delay,
        ) from exc

    def build(self, batch: SealedBatch) -> pa.Table:
        """The Arrow table a sealed batch inserts; the same every time it is built."""
        rows, offsets = self._rows(batch)
        builder = self._builder(batch.spec)
        tp = batch.topic_partition
        return builder.build(
            rows, tp.topic, tp.partition, offsets, batch.ingested_ms, batch.token
        )

    # -- internals ----------------------------------------------------------------------

    def _is_due(self, batch: _OpenBatch, now: float) -> bool:
        if not batch.messages or batch.recorded is not None:
            return False
        return (batch.first or len(batch.messages) >= self.max_rows
                or now - batch.opened_at >= self.max_seconds)

    def _seal(self, tp: TopicPartition) -> None:
        batch = self._open.pop(tp, None)
        if batch is None or not batch.messages:
            return
        # Strictly increasing per partition, so each insert has its own stamp (recover).
        ingested = max(self._wall_ms(), self._last_ingested.get(tp, 0) + 1)
        self._last_ingested[tp] = ingested
        sealed = SealedBatch(
            tp, tuple(batch.messages), ingested, self.spec, recorded=batch.recorded
        )
        self._sealed.setdefault(tp, deque()).append(sealed)
        self._order.append(sealed)

    def _prepared(self, group: list[SealedBatch]) -> pa.Table | None:
        """The group's rows, built in the caller's thread (Python work holds the GIL anyway;
        only the engine's part runs in the insert thread). None: nothing to insert, as for
        a profile range an earlier process inserted whole."""
        head = group[0]
        if head.spec.is_profile and head.recorded is not None:
            return None
        tables = []
        for batch in group:
            batch.attempts += 1
            if batch.spec.is_profile and batch.tombstone_versions is None and batch.tombstones:
                batch.tombstone_versions = self._resolve_tombstones(batch)
            tables.append(self.build(batch))
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def _send(self, group: list[SealedBatch], table: pa.Table | None) -> None:
        if table is not None and table.num_rows:
            head = group[0]
            token = "+".join(batch.token for batch in group)
            started = time.perf_counter()
            self.backend.insert_arrow(head.spec.qualified_name, table, token)
            seconds = time.perf_counter() - started
            self.rows_inserted += table.num_rows
            if self.observer is not None:
                recovered = head.recorded is not None
                self.observer.inserted(head.spec, table, seconds, head.attempts, recovered)

    def _builder(self, spec: TableSpec) -> ArrowBatchBuilder:
        builder = self._builders.get(id(spec))
        if builder is None or builder.spec is not spec:
            builder = self._builders[id(spec)] = ArrowBatchBuilder(spec)
        return builder

    def _rows(self, batch: SealedBatch) -> tuple[list[Mapping[str, Any]], list[int]]:
        spec = batch.spec
        rows: list[Mapping[str, Any]] = []
        offsets: list[int] = []
        versions = batch.tombstone_versions or {}
        for message in batch.messages:
            value = message.value
            if value is None:
                if not spec.is_profile or message.key is None:
                    # An event table has nothing to delete; a keyless tombstone names nothing.
                    continue
                key = _entity_key(spec, message.key)
                rows.append(
                    {
                        **dict(zip(spec.key_columns, key, strict=True)),
                        spec.deleted_field: True,
                        spec.version_column: versions[key],
                    }
                )
            else:
                rows.append(value)
            offsets.append(message.offset)
        return rows, offsets

    def _resolve_tombstones(self, batch: SealedBatch) -> dict[EntityKey, int]:
        spec = batch.spec
        # Only a tombstone without a version header needs the stored version looked up.
        keys = {_entity_key(spec, m.key) for m in batch.tombstones if m.version is None}
        stored = self._stored_versions(spec, keys)
        versions: dict[EntityKey, int] = {}
        seen: dict[EntityKey, int] = dict(stored)
        for message in batch.messages:
            if message.key is None and message.value is None:
                continue
            if message.value is not None:
                source = message.value
                key = tuple(source.get(k) for k in spec.key_columns)
                version = source.get(spec.version_column)
                if key in keys and isinstance(version, int):
                    seen[key] = max(seen.get(key, version), version)
            else:
                assert message.key is not None
                key = _entity_key(spec, message.key)
                new = message.version if message.version is not None else seen.get(key, 0) + 1
                versions[key] = new
                seen[key] = new
        return versions

    def _stored_versions(self, spec: TableSpec, keys: set[EntityKey]) -> dict[EntityKey, int]:
        if not keys:
            return {}
        columns = ", ".join(quote_identifier(k) for k in spec.key_columns)
        if len(spec.key_columns) == 1:
            wanted = ", ".join(quote_literal(k[0]) for k in sorted(keys, key=repr))
            target = columns
        else:
            wanted = ", ".join(
                "(" + ", ".join(quote_literal(v) for v in k) + ")" for k in sorted(keys, key=repr)
            )
            target = f"({columns})"
        result = self.backend.query(
            f"SELECT {columns}, max({quote_identifier(spec.version_column)}) "
            f"FROM {spec.qualified_name} WHERE {target} IN ({wanted}) GROUP BY {columns}"
        )
        width = len(spec.key_columns)
        return {tuple(row[:width]): int(row[width]) for row in result.rows}


def _entity_key(spec: TableSpec, key: Any) -> EntityKey:
    """The entity a tombstone deletes: a key record names the key columns; a plain key (the
    catalog's string keys) is the entity key itself."""
    columns = spec.key_columns
    if not isinstance(key, Mapping):
        if len(columns) != 1:
            raise BatchConversionError(
                f"tombstone key {key!r} is one value but the entity key is {columns}"
            )
        return (key,)
    try:
        return tuple(key[k] for k in columns)
    except KeyError as exc:
        raise BatchConversionError(
            f"tombstone key {sorted(key)} lacks entity key column {exc.args[0]!r}"
        ) from None
