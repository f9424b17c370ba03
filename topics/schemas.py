"""Loads the ``.avsc`` definitions in ``avro_schemas/`` and builds the derived schemas.

Source tables are declared once, by their two files ``raw/<dept>.<table>.{key,value}.avsc``;
their change-event envelope is the template ``envelope/change_event.avsc`` with the row type
filled in, so the envelope itself has one definition for every source.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema

from ops.settings import PROJECT_ROOT
from topics.annotations import RecordSpec

SCHEMA_DIR = PROJECT_ROOT / "avro_schemas"
ROW_PLACEHOLDER = "govbus.row"

Schema = dict[str, Any]


def load_avsc(relative: str) -> Schema:
    """One schema file, as JSON (a fresh copy each call, so callers may change it)."""
    path = SCHEMA_DIR / relative
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _cached(relative: str) -> str:
    return (SCHEMA_DIR / relative).read_text(encoding="utf-8")


def source_names() -> tuple[str, ...]:
    """Every declared source table, as ``<dept>.<table>``."""
    return tuple(
        sorted(
            p.name.removesuffix(".value.avsc") for p in (SCHEMA_DIR / "raw").glob("*.value.avsc")
        )
    )


def row_schema(source: str) -> Schema:
    return json.loads(_cached(f"raw/{source}.value.avsc"))  # type: ignore[no-any-return]


def key_schema(source: str) -> Schema:
    return json.loads(_cached(f"raw/{source}.key.avsc"))  # type: ignore[no-any-return]


def row_spec(source: str) -> RecordSpec:
    """The annotated field specs of a source table's row."""
    return _row_spec(source)


@cache
def _row_spec(source: str) -> RecordSpec:
    return RecordSpec.from_avro(row_schema(source))


def change_event_schema(source: str) -> Schema:
    """The Debezium-compatible envelope of one source table, as the department sends it."""
    return envelope_of(row_schema(source))


def std_row_schema(source: str) -> Schema:
    """A source table's row after the standardize stage: validated, coded, desensitized."""
    return json.loads(_cached(f"std/{source}.value.avsc"))  # type: ignore[no-any-return]


def std_change_event_schema(source: str) -> Schema:
    """The std topic's envelope: the same change-event shape, carrying std rows."""
    return envelope_of(std_row_schema(source))


def envelope_of(row: Schema) -> Schema:
    """The envelope template with ``row`` as the type of before and after."""
    envelope = json.loads(_cached("envelope/change_event.avsc"))
    envelope["namespace"] = row["namespace"]
    first = True
    for field in envelope["fields"]:
        if field["type"] == ["null", ROW_PLACEHOLDER]:
            # Avro names a record once; the second use refers to it by name.
            field["type"] = ["null", copy.deepcopy(row) if first else row["name"]]
            first = False
    return envelope  # type: ignore[no-any-return]


def full_name(schema: Mapping[str, Any]) -> str:
    """A named schema's full name: its namespace and name (a dotted name is full already)."""
    name = str(schema.get("name", ""))
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def parsed(schema: Schema) -> Any:
    """fastavro's parsed form, for the codec's hot path."""
    return parse_schema(schema)


def schema_text(schema: Schema) -> str:
    """The canonical-ish JSON text registered in the schema registry."""
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


def schema_path(relative: str) -> Path:
    return SCHEMA_DIR / relative
