import json
from datetime import date
from typing import Any

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from streams.stages.masking.desensitizer import Desensitizer
from streams.stages.masking.errors import PolicyError
from streams.stages.masking.policy import parse_policy
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.masking.std_schema import std_fields
from streams.stages.rules.record_rules import RecordRules
from tests.unit.streams.samples import RAW_ROWS
from topics.annotations import RecordSpec
from topics.schemas import row_schema, row_spec, source_names

KEY, KEY_ID = b"test-key", "k9"

RESIDENT = {
    "resident_id": "R0001",
    "id_number": "34010419491231123X",
    "name": "张三明",
    "sex": "1",
    "birth_date": "1949-12-31",
    "ethnicity": "汉族",
    "division_code": "340104",
    "address": "安徽省合肥市蜀山区长江西路1号",
    "phone": "+8613812345678",
    "status": "正常",
    "registered_date": "2001-03-04",
}


def test_resident_std_row() -> None:
    std = Desensitizer.for_source("household.resident", KEY, KEY_ID).apply(RESIDENT)
    assert std == {
        "resident_id": "R0001",
        "id_number_pseudonym": Pseudonymizer(KEY, KEY_ID)("34010419491231123X"),
        "id_number_masked": "340104************",
        "name_masked": "张*明",
        "sex": "1",
        "birth_date_year": "1949",
        "ethnicity": "汉族",
        "division_code": "340104",
        "address_district": "安徽省合肥市蜀山区",
        "phone_masked": "138****5678",
        "status": "正常",
        "registered_date": "2001-03-04",
    }
    assert std["id_number_pseudonym"].startswith("k9:")


def test_none_stays_none() -> None:
    row = {**RESIDENT, "address": None, "phone": None, "name": None}
    std = Desensitizer.for_source("household.resident", KEY, KEY_ID).apply(row)
    assert std["address_district"] is std["phone_masked"] is std["name_masked"] is None


def test_no_personal_value_survives_in_clear() -> None:
    std = Desensitizer.for_source("household.resident", KEY, KEY_ID, "sm3").apply(RESIDENT)
    text = json.dumps(std, ensure_ascii=False)
    for secret in ("34010419491231123X", "张三明", "13812345678", "长江西路", "1949-12-31"):
        assert secret not in text


def test_two_fields_with_one_std_name_are_refused() -> None:
    schema = row_schema("household.resident")
    schema["fields"].append({**schema["fields"][2], "name": "name_masked", "govbus.pii": "none"})
    pseudonymizer = Pseudonymizer(KEY, KEY_ID)
    with pytest.raises(PolicyError, match="name_masked"):
        Desensitizer(RecordSpec.from_avro(schema), pseudonymizer)


def test_a_policy_is_applied_as_given() -> None:
    document: dict[str, Any] = {
        "disclosure": {"min_candidates": {"core": 1, "important": 1, "general": 1}},
        "pii": {
            p: {"default": {"{field}": "keep"}}
            for p in ("none", "id_number", "name", "phone", "address", "birth_date", "free_text")
        }
    }
    document["pii"]["name"]["default"] = {"{field}_m": "mask_name"}
    spec = row_spec("household.resident")
    std = Desensitizer(spec, Pseudonymizer(KEY, KEY_ID), parse_policy(document)).apply(RESIDENT)
    assert std["name_m"] == "张*明" and std["id_number"] == RESIDENT["id_number"]


@pytest.mark.parametrize("source", source_names())
def test_std_schema_matches_what_apply_produces(source: str) -> None:
    fields = std_fields(source)
    desensitizer = Desensitizer.for_source(source, KEY, KEY_ID)
    assert [f["name"] for f in fields] == list(desensitizer.output_names)
    std_schema = {"type": "record", "name": "Std", "namespace": "t", "fields": fields}
    # Derived fields carry the annotations a std schema needs to be read like a raw one.
    RecordSpec.from_avro(
        {
            **std_schema,
            "govbus.dept": "d",
            "govbus.system": "s",
            "govbus.table": "t",
            "govbus.category": "event",
        }
    )
    checked = RecordRules.for_source(source).apply(RAW_ROWS[source], date(2024, 6, 1))
    assert checked.fatal is None
    assert validate(desensitizer.apply(checked.row), parse_schema(std_schema))
