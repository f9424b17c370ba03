"""Theme records and findings fit their schemas, also over a simulated stream."""

from __future__ import annotations

from collections import Counter
from datetime import date

from fastavro.validation import validate

from connectors.simulator.simulator import DepartmentSimulator
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.profile import ProfileState, apply_fact
from streams.stages.enrich.row_table import RowTable
from streams.stages.enrich.theme import conflict_findings, render
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.outcomes import Standardized
from streams.stages.quality import finding_records
from streams.stages.rules.findings import RuleViolation
from streams.stages.standardize import StandardizeStage
from tests.unit.streams.stages.enrich.rows import (
    ACME,
    ALICE,
    FACT_SCHEMA,
    FINDING_SCHEMA,
    THEME_SCHEMAS,
    enterprise,
    event,
    fact_for,
    fold,
    marriage,
    person_licence,
    resident,
)


def test_rendered_person_fits_the_schema() -> None:
    state = fold(
        fact_for("household.resident", event(resident(), ts=1), ALICE),
        fact_for("civil.marriage", event(marriage(), ts=2), ALICE),
        fact_for("licence.licence", event(person_licence(), ts=3), ALICE),
    )
    record = render("individual", ALICE, state, now_ms=10)
    assert record is not None and validate(record, THEME_SCHEMAS["individual"], raise_errors=True)
    assert record["person_key"] == ALICE and record["deleted"] is False
    assert record["sources"] == ["civil", "household", "licence"]
    assert (record["version"], record["source_ts_ms"], record["updated_ms"]) == (3, 3, 10)
    assert record["marital_status"] == "married" and record["name"] == "张*明"


def test_rendered_organization_fits_the_schema() -> None:
    state = fold(fact_for("market.enterprise", event(enterprise(), ts=1), ACME))
    record = render("organization", ACME, state, now_ms=1)
    assert record is not None and validate(record, THEME_SCHEMAS["organization"], raise_errors=True)
    assert record["org_key"] == ACME and record["registered_capital"] == "100"
    assert render("organization", ACME, None, 1) is None


def test_note_records_fit_the_finding_schema() -> None:
    note = RuleViolation("enrich.missing_key", "holder_uscc", "no key", "completeness")  # type: ignore[arg-type]
    [record] = finding_records(
        [note],
        event_id="e",
        stage="enrich",
        source="licence.licence",
        dept="licence",
        source_ts_ms=1,
        detected_ms=2,
    )
    assert validate(record, FINDING_SCHEMA, raise_errors=True)
    assert record["outcome"] == "flagged"


def test_a_simulated_stream_fits_every_schema() -> None:
    pseudonymizer = Pseudonymizer(b"k", "k1")
    stages: dict[str, StandardizeStage] = {}
    extractor = FactExtractor()
    states: dict[tuple[str, str], ProfileState | None] = {}
    tables: dict[str, RowTable] = {}
    notes: list[RuleViolation] = []
    statuses: Counter[str] = Counter()
    for e in DepartmentSimulator(seed=3, defect_rate=0.05).events(1500):
        stage = stages.setdefault(e.source, StandardizeStage(e.source, pseudonymizer))
        std = stage(
            {
                "before": e.before,
                "after": e.after,
                "op": e.op,
                "ts_ms": e.ts_ms,
                "source": {"sequence": e.sequence, "ts_ms": e.ts_ms},
                "event_id": e.event_id,
            },
            date(2024, 3, 1),
        )
        if not isinstance(std, Standardized):
            continue
        table = tables.setdefault(
            e.source, RowTable(extractor, e.source, {}, reconcile_snapshots=False))
        facts = table.apply(std.envelope, notes).facts
        for fact in facts:
            assert validate(fact, FACT_SCHEMA, raise_errors=True)
            key = (fact["category"], fact["entity_key"])
            state, applied = apply_fact(states.get(key), fact)
            states[key] = state
            statuses[applied.status] += 1
            for finding in conflict_findings(fact, applied.conflicts, 0):
                assert validate(finding, FINDING_SCHEMA, raise_errors=True)
            theme = render(fact["category"], fact["entity_key"], state, 0)
            if theme is not None:
                assert validate(theme, THEME_SCHEMAS[fact["category"]], raise_errors=True)
    assert statuses["updated"] > 1000 and statuses["deleted"] > 0
