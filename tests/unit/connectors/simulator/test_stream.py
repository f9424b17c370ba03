"""The event stream: determinism, envelope shape, ordering, schema conformance."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from collections import Counter
from typing import Any

import pytest
from fastavro.validation import validate

from connectors.simulator import DepartmentSimulator, SimulatedEvent
from ops.settings import PROJECT_ROOT
from topics.schemas import key_schema, parsed, row_schema

SOURCES = ("household.resident", "market.enterprise", "licence.licence", "civil.marriage")


def test_same_seed_same_events() -> None:
    first = DepartmentSimulator(5, population=50).events(3000)
    second = DepartmentSimulator(5, population=50).events(3000)
    assert first == second


def test_other_seed_other_events() -> None:
    first = DepartmentSimulator(5, population=50).events(300)
    other = DepartmentSimulator(6, population=50).events(300)
    assert [e.event_id for e in first] != [e.event_id for e in other]
    assert [e.after for e in first] != [e.after for e in other]


def test_events_continue_one_stream() -> None:
    whole = DepartmentSimulator(9, population=30).events(400)
    simulator = DepartmentSimulator(9, population=30)
    assert simulator.events(150) + simulator.events(250) == whole


def test_snapshot_then_changes(run: list[SimulatedEvent]) -> None:
    ops = [e.op for e in run]
    snapshot_end = ops.index(next(op for op in ops if op != "r"))
    assert snapshot_end > 300
    assert set(ops[snapshot_end:]) <= {"c", "u", "d"}
    assert [e.source for e in run[:snapshot_end]] == sorted(
        (e.source for e in run[:snapshot_end]), key=SOURCES.index
    )
    counts = Counter((e.source, e.op) for e in run[snapshot_end:])
    for source in SOURCES:
        assert counts[(source, "c")] and counts[(source, "u")], source
    assert counts[("market.enterprise", "d")] and counts[("licence.licence", "d")]


def test_envelope_shape(run: list[SimulatedEvent]) -> None:
    for event in run:
        row_fields = [f["name"] for f in row_schema(event.source)["fields"]]
        key_field = key_schema(event.source)["fields"][0]["name"]
        if event.op in ("r", "c"):
            assert event.before is None and event.after is not None
        elif event.op == "u":
            assert event.before is not None and event.after is not None
            assert event.before != (event.clean_after or event.after)
        else:
            assert event.before is not None and event.after is None
        for image in (event.before, event.after):
            if image is not None:
                assert list(image) == row_fields
                assert event.key == {key_field: image[key_field]}


def test_sequences_and_times_move_forward(run: list[SimulatedEvent]) -> None:
    last: dict[str, str] = {}
    for previous, event in itertools.pairwise(run):
        assert event.ts_ms >= previous.ts_ms
    for event in run:
        assert len(event.sequence) == 12 and event.sequence.isdigit()
        assert event.sequence > last.get(event.source, "")
        last[event.source] = event.sequence
    assert {s: int(seq) for s, seq in last.items()} == Counter(e.source for e in run)


def test_event_ids_are_unique_uuid4(run: list[SimulatedEvent]) -> None:
    ids = [e.event_id for e in run]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_updates_carry_the_previous_after_image(run: list[SimulatedEvent]) -> None:
    current: dict[tuple[str, Any], dict[str, Any]] = {}
    for event in run:
        key = (event.source, tuple(event.key.values()))
        if event.op in ("u", "d"):
            assert event.before == current[key]
        if event.after is None:
            del current[key]
        else:
            current[key] = event.clean_after or event.after


@pytest.mark.parametrize("source", SOURCES)
def test_every_row_fits_its_schema(run: list[SimulatedEvent], source: str) -> None:
    schema = parsed(row_schema(source))
    keys = parsed(key_schema(source))
    rows = [r for e in run if e.source == source for r in (e.before, e.after) if r is not None]
    assert rows
    for row in rows:
        assert validate(row, schema, raise_errors=True)
    for event in run:
        if event.source == source:
            assert validate(event.key, keys, raise_errors=True)


def test_a_long_run_generates_every_event_asked_for() -> None:
    # Its speed is `govbus bench publisher`'s to measure, beside a bare loop of the same run.
    simulator = DepartmentSimulator(3, population=500)
    simulator.events(2_000)
    assert len(simulator.events(20_000)) == 20_000


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        DepartmentSimulator(1, defect_rate=1.5)
    with pytest.raises(ValueError):
        DepartmentSimulator(1, population=3)
    with pytest.raises(ValueError):
        DepartmentSimulator(1, prefectures=("9999",))


def test_same_seed_same_events_in_another_process() -> None:
    # A set or dict iterated in hash order would make runs differ between processes.
    script = (
        "import hashlib; from connectors.simulator import DepartmentSimulator; "
        "events = DepartmentSimulator(42, defect_rate=0.1, population=80).events(3000); "
        "print(hashlib.sha256(repr(events).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed}, cwd=PROJECT_ROOT,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1
