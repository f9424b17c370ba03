"""A delete that carries only its row key passes the standardize stage; the row table knows
what the row named."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.row_table import RowTable
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.outcomes import Rejected, Standardized
from streams.stages.standardize import StandardizeStage
from tests.unit.streams.samples import RAW_ROWS
from topics.schemas import source_names, std_change_event_schema

TODAY = date(2024, 3, 1)


def raw(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, ts: int
        ) -> dict[str, Any]:
    return {"before": before, "after": after, "op": op, "ts_ms": ts, "event_id": f"e{ts}",
            "source": {"dept": "", "system": "", "table": "", "sequence": str(ts), "ts_ms": ts,
                       "snapshot": "false"}}


def key_only(source: str) -> dict[str, Any]:
    stage = StandardizeStage(source, Pseudonymizer(b"k", "k1"))
    row = dict.fromkeys(RAW_ROWS[source])
    row.update({f: RAW_ROWS[source][f] for f in stage.key_fields})
    return row


@pytest.mark.parametrize("source", source_names())
def test_a_key_only_delete_is_standardized_and_fits_the_std_schema(source: str) -> None:
    stage = StandardizeStage(source, Pseudonymizer(b"k", "k1"))
    result = stage(raw("d", key_only(source), None, 2), TODAY)
    assert isinstance(result, Standardized)
    assert validate(result.envelope, parse_schema(std_change_event_schema(source)),
                    raise_errors=True)


def test_a_key_only_delete_retracts_what_the_row_named() -> None:
    source = "household.resident"
    stage = StandardizeStage(source, Pseudonymizer(b"k", "k1"))
    rows = RowTable(FactExtractor(), source, {})
    created = stage(raw("c", None, RAW_ROWS[source], 1), TODAY)
    deleted = stage(raw("d", key_only(source), None, 2), TODAY)
    assert isinstance(created, Standardized) and isinstance(deleted, Standardized)
    [person] = [f["entity_key"] for f in rows.apply(created.envelope).facts]
    notes: list[Any] = []
    outcome = rows.apply(deleted.envelope, notes)
    assert [(f["op"], f["entity_key"]) for f in outcome.facts] == [("retract", person)]
    assert notes == []  # a delete names no entity, so none lacks its key


def test_a_partial_delete_image_is_still_checked() -> None:
    source = "household.resident"
    stage = StandardizeStage(source, Pseudonymizer(b"k", "k1"))
    partial = {**key_only(source), "id_number": "not an id"}
    assert isinstance(stage(raw("d", partial, None, 2), TODAY), Rejected)
