"""The raw layer's source rows as tables: one ``RowTable`` per owned (source, raw partition),
its row states and its snapshot run held in a shard of the theme layer's changelog-backed
store (``state_store.ChangelogStore``), on the raw rows' own changelog.

Raw topics are keyed by source row, so the member that owns a raw partition owns its rows:
the changelog has the raw topics' partition count, and a row's state is written to the
partition of the event that changed it. Changelog keys are ``<source>:<record key>``; a
shard's open snapshot run sits under the reserved record key ``RUN_KEY``.

A table's snapshot closes on the one partition its closing marker landed on. The others
must close the same run after their own reads of it, which only their own order can tell:
so the closing is appended to each other partition of the raw topic as a control record
(key ``CLOSING_KEY``, never a Confluent-framed key, value ``Closing.to_bytes()``), and the
member owning that partition closes its table when it reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import orjson

from streams.runtime.state_store import ChangelogStore, Shard
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.row_table import RowTable
from streams.stages.enrich.rows import RowState
from streams.stages.enrich.snapshots import SnapshotRun

RUN_KEY = "\x00snapshot-run"  # record keys are row key values: none starts with NUL
CLOSING_KEY = b"\x01govbus.snapshot-closing"  # a raw key starts with the Confluent magic 0

Entry = RowState | SnapshotRun


def encode_entry(entry: Entry) -> bytes:
    return entry.to_bytes()


def decode_entry(data: bytes) -> Entry:
    """A changelog value: a run has two fields, a row state six."""
    fields = orjson.loads(data)
    return SnapshotRun.from_fields(fields) if len(fields) == 2 else RowState.from_fields(fields)


class _ShardRows(MutableMapping[str, RowState]):
    """One shard's row states by record key; a write goes through to the changelog."""

    __slots__ = ("partition", "prefix", "shard", "store")

    def __init__(self, store: ChangelogStore[Entry], shard: Shard) -> None:
        self.store = store
        self.shard = shard
        self.prefix = f"{shard[0]}:"
        self.partition = shard[1]

    def get(self, key: str, default: Any = None) -> Any:
        state = self.store.get(self.prefix + key, self.partition)
        return default if state is None else state

    def __getitem__(self, key: str) -> RowState:
        state = self.store.get(self.prefix + key, self.partition)
        if not isinstance(state, RowState):
            raise KeyError(key)
        return state

    def __setitem__(self, key: str, state: RowState) -> None:
        self.store.put(self.prefix + key, state, self.partition)

    def __delitem__(self, key: str) -> None:
        self.store.put(self.prefix + key, None, self.partition)

    def __iter__(self) -> Iterator[str]:
        size = len(self.prefix)
        return (k[size:] for k in self.store.keys(self.shard) if k[size:] != RUN_KEY)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class RowTables:
    """The row tables of the raw partitions this member owns."""

    def __init__(self, store: ChangelogStore[Entry], extractor: FactExtractor) -> None:
        self.store = store
        self.extractor = extractor
        self._tables: dict[Shard, RowTable] = {}

    def table(self, source: str, partition: int) -> RowTable:
        """The table of a source's raw partition (opened, and restored, on first use when
        the partition was not assigned through ``own``: a benchmark's bare loop)."""
        table = self._tables.get((source, partition))
        return table if table is not None else self._open((source, partition))

    def write_run(self, table: RowTable, partition: int) -> None:
        """The table's snapshot run changed: write it with the rows."""
        self.store.put(f"{table.source}:{RUN_KEY}", table.run, partition)

    def own(self, shards: Iterable[Shard]) -> None:
        shards = list(shards)
        for shard in shards:
            self._tables.pop(shard, None)
        self.store.own(shards)

    def release(self, shards: Iterable[Shard], clean: bool = True) -> None:
        """``clean`` false: changelog records were dropped (partitions lost)."""
        shards = list(shards)
        for shard in shards:
            self._tables.pop(shard, None)
        self.store.release(shards, clean)

    def _open(self, shard: Shard) -> RowTable:
        if shard not in self.store.shards:
            self.store.own([shard])
        run = self.store.get(f"{shard[0]}:{RUN_KEY}", shard[1])
        table = RowTable(self.extractor, shard[0], _ShardRows(self.store, shard),
                         run if isinstance(run, SnapshotRun) else None)
        self._tables[shard] = table
        return table
