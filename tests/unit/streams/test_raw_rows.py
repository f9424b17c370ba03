"""The raw layer's processor over row tables, with an in-memory registry and output: facts
follow what each source row says now, whatever the event's op and before image."""

from __future__ import annotations

from typing import Any

from ops.runtime.messages import InputMessage
from streams.processors.raw import RawLayerProcessor
from streams.runtime.row_store import CLOSING_KEY, RUN_KEY, RowTables, decode_entry, encode_entry
from streams.runtime.state_store import ChangelogStore, MemoryBackend
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.rows import RowState
from streams.stages.enrich.snapshots import SnapshotRun
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.doubles import MemoryRegistry
from tests.unit.streams.samples import RAW_ROWS
from topics.catalog import RAW_ROWS as ROWS_TABLE
from topics.catalog import catalog_in
from topics.schemas import change_event_schema
from topics.serde import AvroDecoder, AvroEncoder

SOURCE = "household.resident"
PERSON_A, PERSON_B = "34010419491231123x", "11010519491231002X"
NOW_MS = 1_700_000_000_000
CATALOG = catalog_in("unit.")


class Output:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None, int]] = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None, partition: int = -1) -> None:
        self.records.append((topic, key, value, partition))

    def take(self, topic: str) -> list[tuple[bytes | None, bytes | None, int]]:
        taken = [(k, v, p) for t, k, v, p in self.records if t == topic]
        self.records = [r for r in self.records if r[0] != topic]
        return taken


class Harness:
    def __init__(self) -> None:
        self.registry = MemoryRegistry()
        self.output = Output()
        self.changelog = CATALOG.state(ROWS_TABLE).name
        store = ChangelogStore(self.changelog, self.output, MemoryBackend(), None,
                               encode_entry, decode_entry)
        self.processor = RawLayerProcessor(
            CATALOG, AvroDecoder(self.registry.schema_by_id), self.registry.register,
            Pseudonymizer(b"k", "k1"), self.output, clock_ms=lambda: NOW_MS,
            rows=RowTables(store, FactExtractor()))
        schema = change_event_schema(SOURCE)
        self.raw = CATALOG.raw(SOURCE)
        self.encode = AvroEncoder(schema, self.registry.register(self.raw.value_subject,
                                                                 schema)).encode
        self.decode = AvroDecoder(self.registry.schema_by_id).decode
        self.offset = 0

    def send(self, op: str, id_number: str, ts: int, *, resident: str = "RK9000000001",
             snapshot: str = "false", partition: int = 0) -> Any:
        row = {**RAW_ROWS[SOURCE], "resident_id": resident, "id_number": id_number}
        envelope = {
            "before": row if op == "d" else None, "after": None if op == "d" else row,
            "op": op, "ts_ms": ts, "event_id": f"{resident}-{ts}",
            "source": {"dept": "household", "system": "hh", "table": "resident",
                       "sequence": str(ts), "ts_ms": ts, "snapshot": snapshot},
        }
        return self.deliver(InputMessage(self.raw.name, partition, self._next(),
                                         b"\x00key", self.encode(envelope)))

    def deliver(self, *messages: InputMessage) -> Any:
        return self.processor.process(list(messages))

    def facts(self) -> list[tuple[str, str]]:
        """(op, entity key) of the individual facts produced since the last call."""
        return [(f["op"], f["entity_key"]) for f in
                (self.decode(v) for _, v, _ in self.output.take(CATALOG.fact("individual").name))]

    def _next(self) -> int:
        self.offset += 1
        return self.offset


def test_a_resnapshot_of_a_row_now_naming_someone_else_retracts_the_first_person() -> None:
    h = Harness()
    h.send("c", PERSON_A, 1_000)
    [(_, a)] = h.facts()
    h.send("r", PERSON_B, 2_000)  # before: null, as Debezium re-snapshots
    [(_, b), retract] = h.facts()
    assert b != a and retract == ("retract", a)
    [(key, value, partition)] = h.output.take(h.changelog)[-1:]
    assert key == f"{SOURCE}:RK9000000001".encode() and partition == 0
    state = decode_entry(value or b"")
    assert isinstance(state, RowState) and state.ts == 2_000


def test_an_older_event_is_not_applied_and_is_reported_as_stale() -> None:
    h = Harness()
    h.send("u", PERSON_B, 2_000)
    h.facts()
    h.output.records.clear()
    stats = h.send("u", PERSON_A, 1_000)
    assert h.facts() == [] and stats.stale == 1
    [finding] = [f for f in (h.decode(v) for _, v, _ in h.output.take(CATALOG.quality.name))
                 if f["reason"] == "timeliness.stale"]
    assert finding["dimension"] == "timeliness"
    assert "1000/1000" in finding["detail"] and "2000/2000" in finding["detail"]
    assert h.output.take(h.changelog) == []  # the row's state did not change


def test_a_replayed_event_changes_nothing_new() -> None:
    h = Harness()
    h.send("c", PERSON_A, 1_000)
    first = h.facts()
    h.offset -= 1
    h.send("c", PERSON_A, 1_000)  # the same event id again
    assert h.facts() == first


def test_a_closed_snapshot_deletes_the_unread_rows_of_every_partition() -> None:
    h = Harness()
    h.send("c", PERSON_A, 1_000, resident="R1", partition=0)
    h.send("c", PERSON_B, 1_000, resident="R2", partition=1)
    [(_, a), (_, b)] = h.facts()
    h.output.records.clear()
    h.send("r", PERSON_A, 5_000, resident="R1", snapshot="first", partition=0)
    run = [decode_entry(v or b"") for k, v, _ in h.output.take(h.changelog)
           if k == f"{SOURCE}:{RUN_KEY}".encode()]
    assert isinstance(run[-1], SnapshotRun) and run[-1].start is not None
    h.send("r", PERSON_A, 5_001, resident="R1", snapshot="last", partition=0)
    closings = h.output.take(h.raw.name)
    assert sorted(p for _, _, p in closings) == list(range(1, h.raw.partitions))
    assert {k for k, _, _ in closings} == {CLOSING_KEY}
    assert h.facts() == [("assert", a)] * 2  # partition 0 read its only row, twice
    [closing] = [v for _, v, p in closings if p == 1]
    h.deliver(InputMessage(h.raw.name, 1, 99, CLOSING_KEY, closing))
    assert h.facts() == [("retract", b)]  # R2 was not read: deleted
    h.deliver(InputMessage(h.raw.name, 1, 99, CLOSING_KEY, closing))
    assert h.facts() == []  # a replayed closing changes nothing


def test_an_unreadable_closing_is_dead_lettered() -> None:
    h = Harness()
    stats = h.deliver(InputMessage(h.raw.name, 1, 7, CLOSING_KEY, b"not json"))
    assert stats.rejected == 1 and stats.rejected_by_reason["snapshot.bad_closing"] == 1
    assert len(h.output.take(CATALOG.dlq("standardize").name)) == 1


def test_the_changelog_entries_keep_their_kind() -> None:
    state = RowState(1, "2", "e", {"self/individual": ["individual", "person", "p"]}, False,
                     {}, (1, 0, 2, ""))
    run = SnapshotRun()
    assert decode_entry(encode_entry(state)) == state
    assert decode_entry(encode_entry(run)) == run
