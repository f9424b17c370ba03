"""The checked-in std schemas are exactly what the raw schemas and the policy derive."""

from __future__ import annotations

import pytest
from fastavro import parse_schema

from streams.stages.masking.std_schema import std_schema_text
from topics.schemas import SCHEMA_DIR, source_names, std_change_event_schema


@pytest.mark.parametrize("source", source_names())
def test_checked_in_std_schema_matches_the_derivation(source: str) -> None:
    checked_in = (SCHEMA_DIR / "std" / f"{source}.value.avsc").read_text(encoding="utf-8")
    assert checked_in == std_schema_text(source), (
        "regenerate with: python -m streams.stages.masking.std_schema"
    )


@pytest.mark.parametrize("source", source_names())
def test_std_envelope_parses(source: str) -> None:
    parse_schema(std_change_event_schema(source))
