"""Random row histories through the row table and the theme merge: the final live profiles are
those the source tables' final rows name, whatever the ops, before images, re-snapshots,
lost deletes, duplicates and late events on the way.

The reference is written apart from the stage code: a simulated source database (the rows'
final states), each row's last position as the greatest position delivered for it, and the
theme rules restated in their simplest form (the authority's latest value wins, links and
departments are unions).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.profile import ProfileState, apply_fact
from streams.stages.enrich.row_table import RowTable
from streams.stages.enrich.rows import RowState
from streams.stages.enrich.snapshots import Closing, SnapshotRun
from streams.stages.enrich.theme import render

HOUSEHOLD, MARKET = "household.resident", "market.enterprise"
ROWS = {HOUSEHOLD: ("R0", "R1", "R2"), MARKET: ("E0", "E1")}
PEOPLE = ("k1:p0", "k1:p1", "k1:p2", "k1:p3")
NAMES = ("周*国", "吴*兰", "李*")
FIRMS = ("91340100MA0000000A", "91340100MA0000001B")
PARTITIONS = 2
Row = dict[str, Any]
Envelope = dict[str, Any]


class Change(NamedTuple):
    source: str
    row_id: str
    delete: bool
    person: int
    name: int
    firm: int
    create_op: bool  # an existing row's change sent as a create
    before: str  # "none", "old" or "wrong": what an update's before image holds
    key_only: bool  # a delete's image holds the key alone
    lost: bool  # never delivered (compacted away, or sent while the bus was away)
    late: int  # delivered this many events later on its partition
    duplicate: bool


class Snapshot(NamedTuple):
    per_table: bool  # *_in_data_collection markers


changes = st.builds(
    Change,
    source=st.sampled_from(tuple(ROWS)),
    row_id=st.integers(0, 2),
    delete=st.booleans(),
    person=st.integers(0, len(PEOPLE) - 1),
    name=st.integers(0, len(NAMES) - 1),
    firm=st.integers(0, len(FIRMS) - 1),
    create_op=st.booleans(),
    before=st.sampled_from(("none", "old", "wrong")),
    key_only=st.booleans(),
    lost=st.booleans(),
    late=st.integers(0, 4),
    duplicate=st.booleans(),
)
histories = st.lists(st.one_of(changes, st.builds(Snapshot, st.booleans())), min_size=1,
                     max_size=40)


def make_row(source: str, row_id: str, change: Change) -> Row:
    if source == HOUSEHOLD:
        return {"resident_id": row_id, "id_number_pseudonym": PEOPLE[change.person],
                "name_masked": NAMES[change.name]}
    return {"enterprise_id": row_id, "uscc": FIRMS[change.firm], "name": f"firm {change.name}",
            "legal_rep_id_number_pseudonym": PEOPLE[change.person],
            "legal_rep_name_masked": NAMES[(change.name + 1) % len(NAMES)]}


def key_of(source: str, row_id: str) -> Row:
    return {"resident_id" if source == HOUSEHOLD else "enterprise_id": row_id}


def envelope(op: str, before: Row | None, after: Row | None, t: int, event_id: str,
             snapshot: str = "false") -> Envelope:
    return {"before": before, "after": after, "op": op, "ts_ms": t, "event_id": event_id,
            "source": {"dept": "", "system": "", "table": "", "sequence": str(t), "ts_ms": t,
                       "snapshot": snapshot}}


def partition(row_id: str) -> int:
    return int(row_id[1:]) % PARTITIONS


class Queued(NamedTuple):
    item: Envelope | Closing
    sent: int  # when the source sent it (a late event is appended later than that)
    snapshot: int = -1  # the snapshot a read (or a close) belongs to


class Simulated(NamedTuple):
    database: dict[tuple[str, str], Row]  # the source tables' final rows
    queues: dict[tuple[str, int], list[Queued]]  # per (source, partition), in offset order


def simulate(history: list[Change | Snapshot]) -> Simulated:
    """The source tables under ``history`` and the events the bus receives of them."""
    database: dict[tuple[str, str], Row] = {}
    sent: list[tuple[str, str, Envelope, Change | int]] = []
    t = 0
    for number, step in enumerate(history):
        if isinstance(step, Snapshot):
            for source in ROWS:
                live = sorted(r for (s, r) in database if s == source)
                for i, row_id in enumerate(live):
                    first = "first_in_data_collection" if step.per_table else "first"
                    last = "last_in_data_collection" if step.per_table else "last"
                    mark = last if i == len(live) - 1 else first if i == 0 else "true"
                    t += 1
                    event = envelope("r", None, dict(database[source, row_id]), t,
                                     f"{source}:{row_id}@{t}", mark)
                    sent.append((source, row_id, event, number))
            continue
        source, row_id = step.source, ROWS[step.source][step.row_id % len(ROWS[step.source])]
        old = database.get((source, row_id))
        t += 1
        event_id = f"{source}:{row_id}@{t}"
        if step.delete:
            if old is None:
                continue
            del database[source, row_id]
            image = key_of(source, row_id) if step.key_only else old
            event = envelope("d", image, None, t, event_id)
        else:
            new = make_row(source, row_id, step)
            database[source, row_id] = new
            op = "c" if old is None or step.create_op else "u"
            wrong = make_row(source, row_id, step._replace(person=(step.person + 1) % 4))
            before = {"none": None, "old": old, "wrong": wrong}[step.before]
            event = envelope(op, before if op == "u" else None, new, t, event_id)
        sent.append((source, row_id, event, step))
    return Simulated(database, deliver(sent))


def deliver(sent: list[tuple[str, str, Envelope, Change | int]]
            ) -> dict[tuple[str, int], list[Queued]]:
    """Per partition, the events as delivered: a lost one only when a later snapshot of its
    table reads at least one row (else nothing could tell the bus), late ones moved on,
    duplicates repeated later."""
    covered: set[str] = set()
    keep = [True] * len(sent)
    for i in range(len(sent) - 1, -1, -1):
        source, _, _, step = sent[i]
        if isinstance(step, int):
            covered.add(source)
        elif step.lost and source in covered:
            keep[i] = False
    queues: dict[tuple[str, int], list[Queued]] = {
        (source, p): [] for source in ROWS for p in range(PARTITIONS)
    }
    moves: list[tuple[tuple[str, int], Queued, Change]] = []
    for i, ((source, row_id, event, step), kept) in enumerate(zip(sent, keep, strict=True)):
        if kept:
            queue = (source, partition(row_id))
            queues[queue].append(Queued(event, i, step if isinstance(step, int) else -1))
            if not isinstance(step, int):
                moves.append((queue, queues[queue][-1], step))
    for queue, queued, step in moves:
        events = queues[queue]
        if step.late:
            at = events.index(queued)
            events.insert(min(at + step.late, len(events) - 1), events.pop(at))
        if step.duplicate:
            events.insert(min(events.index(queued) + 2, len(events)), queued)
    return queues


class Run(NamedTuple):
    profiles: dict[tuple[str, str], ProfileState]
    tables: dict[tuple[str, int], RowTable]


def run_stage(simulated: Simulated, rng: random.Random, crash_at: int = -1) -> Run:
    """The row tables of every (source, partition) and the theme merge, partitions
    interleaved at random; a closing marker reaches a table's other partitions after their
    own reads of the run. No partition lags a whole snapshot behind another: a read waits
    until every partition of its table has closed the table's earlier snapshots (else the
    later run starts early, which keeps rows: see ``snapshots``).

    After ``crash_at`` events the raw worker dies: its row states come back from their
    changelog form as they were, every partition goes back to an earlier committed offset,
    and what was emitted stays emitted."""
    extractor = FactExtractor()
    tables = {queue: RowTable(extractor, queue[0], {}) for queue in simulated.queues}
    queues = {queue: list(events) for queue, events in simulated.queues.items()}
    offsets = dict.fromkeys(queues, 0)
    unclosed: dict[tuple[str, int], set[int]] = defaultdict(set)  # (source, snapshot) -> p
    for (source, _), events in queues.items():
        for queued in events:
            if queued.snapshot >= 0:
                unclosed[source, queued.snapshot] = set(range(PARTITIONS))

    def ready(queue: tuple[str, int]) -> bool:
        snapshot = queues[queue][offsets[queue]].snapshot
        return not any(waiting for (source, earlier), waiting in unclosed.items()
                       if source == queue[0] and earlier < snapshot)

    profiles: dict[tuple[str, str], ProfileState] = {}
    processed = 0
    while live := [q for q in queues if offsets[q] < len(queues[q])]:
        if processed == crash_at:
            tables = {q: restored(extractor, q[0], t) for q, t in tables.items()}
            offsets = {q: rng.randint(0, offset) for q, offset in offsets.items()}
            live = [q for q in queues if offsets[q] < len(queues[q])]
        processed += 1
        queue = rng.choice([q for q in live if ready(q)] or live)
        queued = queues[queue][offsets[queue]]
        offsets[queue] += 1
        if isinstance(queued.item, Closing):
            outcome = tables[queue].close(queued.item)
            unclosed[queue[0], queued.snapshot].discard(queue[1])
        else:
            outcome = tables[queue].apply(queued.item)
        if outcome.closing is not None:
            unclosed[queue[0], queued.snapshot].discard(queue[1])
            broadcast(queues, offsets, queue, outcome.closing, queued)
        for fact in outcome.facts:
            entity = (fact["category"], fact["entity_key"])
            state, _ = apply_fact(profiles.get(entity), fact)
            if state is not None:
                profiles[entity] = state
    return Run(profiles, tables)


def restored(extractor: FactExtractor, source: str, table: RowTable) -> RowTable:
    """A row table as its changelog gives it back."""
    rows = {key: RowState.from_bytes(state.to_bytes()) for key, state in table.rows.items()}
    return RowTable(extractor, source, rows, SnapshotRun.from_bytes(table.run.to_bytes()))


def broadcast(queues: dict[tuple[str, int], list[Queued]], offsets: dict[tuple[str, int], int],
              origin: tuple[str, int], closing: Closing, read: Queued) -> None:
    """Appends ``closing`` to the table's other partitions as they stood when the closing
    marker was read: before anything sent after it, so after its run's reads."""
    for queue, events in queues.items():
        if queue[0] != origin[0] or queue == origin:
            continue
        at = next((i for i in range(offsets[queue], len(events))
                   if events[i].sent > read.sent), len(events))
        events.insert(at, Queued(closing, read.sent, read.snapshot))


def last_positions(simulated: Simulated) -> dict[tuple[str, str], int]:
    """Each row's greatest delivered position: what its profile contributions are ordered by."""
    latest: dict[tuple[str, str], int] = {}
    for (source, _), events in simulated.queues.items():
        for queued in events:
            if isinstance(queued.item, Closing):
                continue
            image = queued.item["after"] or queued.item["before"]
            row = (source, image["resident_id" if source == HOUSEHOLD else "enterprise_id"])
            latest[row] = max(latest.get(row, 0), queued.item["source"]["ts_ms"])
    return latest


def expected(simulated: Simulated) -> dict[tuple[str, str], dict[str, Any]]:
    """The profiles the final rows imply: per entity, its departments, links and the
    winning name (the authority's latest; without the authority, anyone's latest)."""
    position = last_positions(simulated)
    named: dict[tuple[str, str], list[tuple[bool, int, str, str, tuple[str, str, str] | None]]]
    named = defaultdict(list)  # entity -> (authoritative, position, dept, name, link)
    for (source, row_id), row in simulated.database.items():
        at = position[source, row_id]
        if source == HOUSEHOLD:
            named["individual", row["id_number_pseudonym"]].append(
                (True, at, "household", row["name_masked"], None))
        else:
            firm, rep = row["uscc"], row["legal_rep_id_number_pseudonym"]
            named["organization", firm].append(
                (True, at, "market", row["name"], ("legal_rep", "individual", rep)))
            named["individual", rep].append(
                (False, at, "market", row["legal_rep_name_masked"],
                 ("enterprise", "organization", firm)))
    profiles = {}
    for entity, statements in named.items():
        best = max(statements, key=lambda s: (s[0], s[1]))
        profiles[entity] = {
            "sources": sorted({s[2] for s in statements}),
            "links": sorted({s[4] for s in statements if s[4] is not None}),
            "name": best[3],
        }
    return profiles


def actual(profiles: dict[tuple[str, str], ProfileState]) -> dict[tuple[str, str], Any]:
    live = {}
    for (category, key), state in profiles.items():
        record = render(category, key, state, 0)
        if record is not None:
            live[category, key] = {
                "sources": record["sources"],
                "links": sorted((k["relation"], k["category"], k["key"])
                                for k in record["links"]),
                "name": record["name"],
            }
    return live


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, rng=st.randoms(use_true_random=False))
def test_final_profiles_are_those_the_final_rows_name(
    history: list[Change | Snapshot], rng: random.Random
) -> None:
    simulated = simulate(history)
    assert actual(run_stage(simulated, rng).profiles) == expected(simulated)


@settings(max_examples=100, deadline=None)
@given(history=histories, rng=st.randoms(use_true_random=False))
def test_replaying_everything_changes_nothing(
    history: list[Change | Snapshot], rng: random.Random
) -> None:
    simulated = simulate(history)
    twice = Simulated(simulated.database,
                      {q: [*events, *events] for q, events in simulated.queues.items()})
    assert actual(run_stage(twice, rng).profiles) == expected(simulated)


def rendered(profiles: dict[tuple[str, str], ProfileState]) -> dict[tuple[str, str], Any]:
    """Every profile as the theme topic shows it, but for what depends on how partitions
    happened to interleave, crash or not: the revision counter, and the freshness time when
    a snapshot's close and the row's next change race to retract its old entity."""
    out = {}
    for (category, key), state in profiles.items():
        record = render(category, key, state, 0)
        if record is not None:
            out[category, key] = {k: v for k, v in record.items()
                                  if k not in ("version", "source_ts_ms")}
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, rng=st.randoms(use_true_random=False), crash=st.integers(0, 200))
def test_a_crash_of_the_raw_worker_ends_where_an_undisturbed_run_ends(
    history: list[Change | Snapshot], rng: random.Random, crash: int
) -> None:
    simulated = simulate(history)
    calm = run_stage(simulated, random.Random(0))
    crashed = run_stage(simulated, rng, crash_at=crash)
    assert rendered(crashed.profiles) == rendered(calm.profiles)
    for queue, table in calm.tables.items():  # ``left`` is replay bookkeeping, raced too
        assert ({k: r._replace(left={}) for k, r in crashed.tables[queue].rows.items()}
                == {k: r._replace(left={}) for k, r in table.rows.items()})
