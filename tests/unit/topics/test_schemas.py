"""Every schema parses, every field says what it is, envelopes are Debezium-shaped."""

from __future__ import annotations

import json

import pytest
from fastavro import parse_schema

from topics.annotations import (
    CAPTURE,
    GRADE,
    PII,
    RECONCILE_SNAPSHOTS,
    Capture,
    Category,
    FieldSpec,
    RecordSpec,
    SchemaAnnotationError,
)
from topics.schemas import (
    SCHEMA_DIR,
    change_event_schema,
    key_schema,
    row_schema,
    row_spec,
    source_names,
)

ALL_FILES = sorted(SCHEMA_DIR.rglob("*.avsc"))


def _fields(schema: object):
    """Every field of every record in a schema, nested ones included."""
    if isinstance(schema, dict):
        for field in schema.get("fields", []):
            yield field
            yield from _fields(field["type"])
    elif isinstance(schema, list):
        for branch in schema:
            yield from _fields(branch)


def test_four_department_systems_are_declared() -> None:
    sources = source_names()
    assert {s.split(".")[0] for s in sources} >= {"household", "market", "licence", "civil"}
    assert {row_spec(s).category for s in sources} == set(Category)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_field_is_annotated(path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    fields = list(_fields(schema)) if schema.get("type") == "record" else [
        {"name": "(primitive)", **schema}
    ]
    assert fields
    for field in fields:
        assert PII in field and GRADE in field, f"{path.name}: {field['name']} lacks annotations"
        assert field.get("doc"), f"{path.name}: {field['name']} has no doc"


@pytest.mark.parametrize("source", source_names())
def test_envelope_parses_and_is_debezium_shaped(source: str) -> None:
    envelope = change_event_schema(source)
    parse_schema(envelope)
    parse_schema(key_schema(source))
    names = [f["name"] for f in envelope["fields"]]
    assert names[:4] == ["before", "after", "source", "op"]
    assert {"ts_ms", "event_id"} <= set(names)
    source_fields = {f["name"] for f in envelope["fields"][2]["type"]["fields"]}
    assert source_fields == {"dept", "system", "table", "sequence", "ts_ms", "snapshot"}


@pytest.mark.parametrize("source", source_names())
def test_key_fields_are_row_fields(source: str) -> None:
    spec = row_spec(source)
    for field in key_schema(source)["fields"]:
        assert not spec.field(field["name"]).nullable


def test_unknown_annotation_value_is_an_error() -> None:
    with pytest.raises(SchemaAnnotationError, match=r"govbus\.pii"):
        FieldSpec.from_avro("r", {"name": "x", "type": "string", PII: "dna", GRADE: "core"})
    with pytest.raises(SchemaAnnotationError, match="missing"):
        FieldSpec.from_avro("r", {"name": "x", "type": "string", PII: "none"})


def test_the_demo_sources_are_cdc_and_reconcile_their_snapshots() -> None:
    for source in source_names():
        assert row_schema(source)[CAPTURE] == "cdc", source
        assert row_spec(source).reconcile_snapshots


@pytest.mark.parametrize(
    ("declared", "capture", "reconcile"),
    [
        ({}, Capture.CDC, True),
        ({CAPTURE: "cdc", RECONCILE_SNAPSHOTS: False}, Capture.CDC, False),
        ({CAPTURE: "file"}, Capture.FILE, False),
        ({CAPTURE: "file", RECONCILE_SNAPSHOTS: True}, Capture.FILE, True),
    ],
)
def test_snapshot_reconciliation_is_declared_per_source(
    declared: dict[str, object], capture: Capture, reconcile: bool
) -> None:
    spec = RecordSpec.from_avro({**row_schema("household.resident"), **declared})
    assert (spec.capture, spec.reconcile_snapshots) == (capture, reconcile)


@pytest.mark.parametrize(
    "declared", [{CAPTURE: "ftp"}, {RECONCILE_SNAPSHOTS: "true"}, {RECONCILE_SNAPSHOTS: 1}]
)
def test_a_bad_capture_declaration_is_an_error(declared: dict[str, object]) -> None:
    with pytest.raises(SchemaAnnotationError, match=r"household\.resident"):
        RecordSpec.from_avro({**row_schema("household.resident"), **declared})
