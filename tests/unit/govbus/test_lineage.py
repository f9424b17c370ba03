"""Lineage: the flows derived from schemas, their OpenLineage rendering, one row's trace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openlineage.client.event_v2 import RunState
from openlineage.client.serde import Serde

from govbus.lineage import render, reported_run, run_event, trace, worker_flows
from ops.settings import Settings
from sinks.lineage import sink_flow
from streams.stages.enrich.theme_spec import theme_spec
from streams.stages.lineage import raw_flow, theme_flow
from topics.annotations import PII, Category
from topics.catalog import catalog_in
from topics.lineage import IDENTITY, std_columns
from topics.schemas import row_schema, source_names

CATALOG = catalog_in("unit.")


@pytest.mark.parametrize("source", source_names())
def test_no_personal_raw_column_reaches_std_unmasked(source: str) -> None:
    personal = {f["name"] for f in row_schema(source)["fields"] if f.get(PII, "none") != "none"}
    for column, made_from in std_columns(CATALOG, source).items():
        for origin in made_from:
            assert origin.dataset == CATALOG.raw(source).name
            if origin.field in personal:
                assert origin.masking and origin.transformation != IDENTITY, (column, origin)


def test_fact_columns_name_existing_raw_columns() -> None:
    flow = raw_flow(CATALOG)
    raw_fields = {CATALOG.raw(s).name: {f["name"] for f in row_schema(s)["fields"]}
                  for s in source_names()}
    facts = [name for name in flow.columns if name.startswith("unit.fact.")]
    assert facts
    for name in facts:
        for column, made_from in flow.columns[name].items():
            assert column.startswith("attributes.")
            assert made_from, column
            for origin in made_from:
                assert origin.field in raw_fields[origin.dataset], (name, column, origin)


def test_theme_flow_covers_every_attribute() -> None:
    flow = theme_flow(CATALOG)
    for category in Category:
        assert set(flow.columns[CATALOG.theme(category).name]) == set(
            theme_spec(category).attributes)


def test_sink_flow_lands_every_column_from_its_topics() -> None:
    flow = sink_flow(CATALOG, "lib")
    assert flow.tables == set(flow.outputs)
    for table, columns in flow.columns.items():
        assert columns, table
        assert all(o.dataset in flow.inputs for made in columns.values() for o in made)


def test_run_event_marks_masked_columns() -> None:
    settings = Settings(kafka_bootstrap="broker-a:9093,broker-b:9093", topic_namespace="unit.")
    run_id = "0190c2a4-6a3e-7c7d-9b5e-2f1a3b4c5d6e"
    event = json.loads(Serde.to_json(run_event(raw_flow(CATALOG), RunState.START, run_id,
                                               settings)))
    std = CATALOG.std("household.resident").name
    output = next(o for o in event["outputs"] if o["name"] == std)
    assert output["namespace"] == "kafka://broker-a:9093"
    masked = output["facets"]["columnLineage"]["fields"]["id_number_masked"]["inputFields"][0]
    assert masked["field"] == "id_number"
    assert masked["transformations"][0]["masking"] is True
    assert masked["transformations"][0]["description"] == "mask_id_division"
    copied = output["facets"]["columnLineage"]["fields"]["sex"]["inputFields"][0]
    assert copied["transformations"][0]["subtype"] == "IDENTITY"
    assert {f["name"] for f in output["facets"]["schema"]["fields"]} >= {"after", "op"}


class _Collector:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any) -> None:
        self.events.append(event)


def test_reported_run_start_then_complete_or_fail() -> None:
    settings = Settings()
    collected = _Collector()
    with reported_run(settings, theme_flow(CATALOG), client=lambda _: collected):  # type: ignore[arg-type,return-value]
        pass
    with pytest.raises(ValueError), \
            reported_run(settings, theme_flow(CATALOG), client=lambda _: collected):  # type: ignore[arg-type,return-value]
        raise ValueError("boom")
    states = [e.eventType for e in collected.events]
    assert states == [RunState.START, RunState.COMPLETE, RunState.START, RunState.FAIL]
    assert collected.events[0].run.runId == collected.events[1].run.runId
    assert "boom" in collected.events[3].run.facets["errorMessage"].message


def test_worker_flows_by_role() -> None:
    assert [f.job for f in worker_flows(CATALOG, "raw")] == ["raw"]
    assert [f.job for f in worker_flows(CATALOG, "theme")] == ["theme"]
    assert [f.job for f in worker_flows(CATALOG, "all")] == ["raw", "theme"]


def _fact(dept: str, source: str, record: str, role: str, op: str, ts: int, position: str
          ) -> dict[str, Any]:
    return {"category": "individual", "entity_type": "person", "dept": dept, "source": source,
            "record_key": record, "role": role, "op": op, "event_id": f"e-{ts}",
            "sequence": None, "source_ts_ms": ts, "source_position": position}


def test_trace_groups_facts_by_contributing_record() -> None:
    facts = [
        _fact("civil", "civil.marriage", "M1", "party_a", "assert", 1_000,
              "raw.civil.marriage:0:7"),
        _fact("civil", "civil.marriage", "M1", "party_a", "retract", 2_000,
              "raw.civil.marriage:0:9"),
        _fact("household", "household.resident", "R1", "self", "assert", 1_500,
              "raw.household.resident:2:41"),
    ]
    asked: list[str] = []

    def select(sql: str) -> list[dict[str, Any]]:
        asked.append(sql)
        return facts if "facts" in sql else [{"person_key": "p'1"}]

    found = trace(select, CATALOG, "lib", "p'1")
    assert found is not None
    assert "'p\\'1'" in asked[0] and "FINAL" in asked[1]
    assert [(c.source, c.active) for c in found.contributions] == [
        ("civil.marriage", False), ("household.resident", True)]
    lines = render(found)
    assert "1 active contributions of 2 from 2 departments (civil, household)" in lines[0]
    assert any(line.endswith("<- raw.household.resident:2:41") for line in lines)


def test_trace_of_an_unknown_key_is_none() -> None:
    assert trace(lambda sql: [], CATALOG, "lib", "nobody") is None


def test_render_can_shorten_to_a_few_records_and_changes() -> None:
    facts = [_fact("civil", "civil.marriage", f"M{i}", "party_a", "assert", 1_000 + j,
                   f"raw.civil.marriage:0:{i * 10 + j}") for i in range(4) for j in range(3)]
    found = trace(lambda sql: facts if "facts" in sql else [], CATALOG, "lib", "p1")
    assert found is not None
    lines = render(found, most_records=2, most_changes=1)
    assert "4 active contributions of 4 from 1 departments" in lines[0]
    assert "not in the library" in lines[0]
    assert len(lines) == 1 + 2 * (1 + 1)
    assert lines[2].endswith("<- raw.civil.marriage:0:2")


def test_a_fact_landed_twice_is_one_change() -> None:
    first = _fact("civil", "civil.marriage", "M1", "party_a", "assert", 1_000, "")
    again = {**first, "source_position": "raw.civil.marriage:0:7"}
    found = trace(lambda sql: [first, again] if "facts" in sql else [], CATALOG, "lib", "p1")
    assert found is not None
    assert [c["source_position"] for c in found.contributions[0].changes] == [
        "raw.civil.marriage:0:7"]
