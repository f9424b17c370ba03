"""Sample records for the sink tests: quality findings and a theme-like person profile."""

from __future__ import annotations

import datetime as dt
from typing import Any

PROFILE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "PersonProfile",
    "namespace": "govbus.theme.test",
    "doc": "A theme-like person profile, written for these tests only.",
    "govbus.category": "individual",
    "fields": [
        {"name": "person_key", "type": "string", "doc": "Keyed pseudonym."},
        {"name": "version", "type": "long", "doc": "Source order."},
        {"name": "deleted", "type": "boolean", "default": False},
        {"name": "name_masked", "type": ["null", "string"], "default": None},
        {"name": "sex", "type": ["null", "string"], "default": None, "govbus.lowcard": True},
        {"name": "division_code", "type": "string", "default": "", "govbus.lowcard": True},
        {"name": "updated_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "source_depts", "type": {"type": "array", "items": "string"}, "default": []},
        {
            "name": "licences",
            "default": [],
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "LicenceRef",
                    "fields": [
                        {"name": "licence_key", "type": "string"},
                        {
                            "name": "kind",
                            "type": {
                                "type": "enum",
                                "name": "LicenceKind",
                                "symbols": ["business", "driving"],
                            },
                        },
                        {
                            "name": "valid_until",
                            "type": ["null", {"type": "int", "logicalType": "date"}],
                            "default": None,
                        },
                    ],
                },
            },
        },
        {"name": "attributes", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "score", "type": ["null", "double"], "default": None},
    ],
}


def finding(i: int, dept: str = "household") -> dict[str, Any]:
    return {
        "finding_id": f"e{i}:citizen_id.check_digit:id_number",
        "event_id": f"e{i}",
        "stage": "standardize",
        "dept": dept,
        "source": f"{dept}.resident",
        "dimension": "validity",
        "reason": "citizen_id.check_digit",
        "field": "id_number",
        "outcome": "repaired",
        "detail": "check digit recomputed",
        "source_ts_ms": 1_700_000_000_000 + i,
        "detected_ms": 1_700_000_000_500 + i,
    }


def profile(key: str, version: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "person_key": key,
        "version": version,
        "deleted": False,
        "name_masked": "张*",
        "sex": "1",
        "division_code": "110105",
        "updated_ms": dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC),
        "source_depts": ["household", "civil"],
        "licences": [{"licence_key": "L1", "kind": "driving", "valid_until": dt.date(2030, 1, 1)}],
        "attributes": {"status": "正常"},
        "score": 0.5,
    }
    record.update(changes)
    return record
