import copy
from datetime import date
from typing import Any

import pytest

from streams.stages.rules.record_rules import DATE_ORDER, RecordRules, date_order_of
from tests.unit.streams.samples import RAW_ROWS
from topics.annotations import RecordSpec, SchemaAnnotationError
from topics.schemas import row_schema, source_names

TODAY = date(2024, 6, 1)


def resident(**changes: Any) -> dict[str, Any]:
    row = {
        "resident_id": "R0001",
        "id_number": "11010519491231002X",
        "name": "张三",
        "sex": "女",
        "birth_date": "1949/12/31",
        "ethnicity": "汉族",
        "division_code": "110105",
        "address": "北京市朝阳区建国路88号",
        "phone": "138-1234-5678",
        "status": "正常",
        "registered_date": "2001年3月4日",
    }
    row.update(changes)
    return row


RESIDENT = RecordRules.for_source("household.resident")


def codes(findings: list[Any]) -> list[str]:
    return [f.reason_code for f in findings]


def test_a_good_row_is_normalized() -> None:
    row = resident()
    checked = RESIDENT.apply(row, TODAY)
    assert checked.fatal is None and checked.findings == []
    assert checked.row == resident(
        sex="2", birth_date="1949-12-31", phone="+8613812345678", registered_date="2001-03-04"
    )
    assert row == resident()  # the input is not changed


def test_repairs_are_findings_and_the_event_passes() -> None:
    full_width_legacy_id = "１１０１０５４９１２３１００２"
    row = resident(id_number=full_width_legacy_id, name=" 张三\u3000", division_code="110103")
    checked = RESIDENT.apply(row, TODAY)
    assert checked.fatal is None
    assert codes(checked.findings) == [
        "clean.full_width",
        "citizen_id.upgraded",
        "division.retired",
    ]
    assert checked.row["id_number"] == "11010519491231002X"
    assert checked.row["name"] == "张三"


def test_lower_case_x_is_repaired() -> None:
    checked = RESIDENT.apply(resident(id_number="11010519491231002x"), TODAY)
    assert checked.row["id_number"] == "11010519491231002X"
    assert codes(checked.findings) == ["clean.case"]


def test_an_invalid_phone_is_dropped_not_fatal() -> None:
    checked = RESIDENT.apply(resident(phone="12345"), TODAY)
    assert checked.fatal is None and checked.row["phone"] is None
    assert codes(checked.findings) == ["phone.invalid"]


def test_null_likes_become_none() -> None:
    checked = RESIDENT.apply(resident(address="无", phone="-", registered_date=" "), TODAY)
    assert checked.fatal is None
    assert checked.row["address"] is None and checked.row["phone"] is None
    assert checked.row["registered_date"] is None


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"id_number": None}, "required.missing", "id_number"),
        ({"name": "NULL"}, "required.missing", "name"),
        ({"id_number": "11010519491231003X"}, "citizen_id.check_digit", "id_number"),
        ({"birth_date": "1949-02-30"}, "date.impossible", "birth_date"),
        ({"registered_date": "去年"}, "date.unparseable", "registered_date"),
        ({"division_code": "110199"}, "division.unknown", "division_code"),
        ({"sex": "X"}, "sex.unknown", "sex"),
    ],
)
def test_fatal_violations(changes: dict[str, Any], code: str, field: str) -> None:
    checked = RESIDENT.apply(resident(**changes), TODAY)
    assert checked.fatal is not None
    assert (checked.fatal.reason_code, checked.fatal.field) == (code, field)


def test_id_disagreeing_with_birth_date_and_sex_is_a_finding() -> None:
    checked = RESIDENT.apply(resident(birth_date="1950-01-01", sex="男"), TODAY)
    assert checked.fatal is None
    assert codes(checked.findings) == [
        "consistency.birth_date_mismatch",
        "consistency.sex_mismatch",
    ]


def test_marriage_parties_are_paired_by_prefix() -> None:
    rules = RecordRules.for_source("civil.marriage")
    row = {
        "registration_id": "M1",
        "kind": "结婚",
        "party_a_id_number": "11010519491231002X",
        "party_a_name": "张三",
        "party_a_birth_date": "1949-12-31",
        "party_b_id_number": "110105491231001",  # a man born the same day -> upgraded
        "party_b_name": "李四",
        "party_b_birth_date": "1949-12-31",
        "registered_date": "2020-05-20",
        "office_division_code": None,
        "certificate_no": None,
        "remarks": None,
    }
    assert codes(rules.apply(row, TODAY).findings) == ["citizen_id.upgraded"]
    swapped = RecordRules.for_source("civil.marriage").apply(
        {**row, "party_a_birth_date": "1950-01-01"}, TODAY
    )
    assert [(f.reason_code, f.field) for f in swapped.findings] == [
        ("citizen_id.upgraded", "party_b_id_number"),
        ("consistency.birth_date_mismatch", "party_a_birth_date"),
    ]


def test_rules_follow_annotations_not_field_names() -> None:
    schema = copy.deepcopy(row_schema("household.resident"))
    for field in schema["fields"]:
        field["name"] = "f_" + field["name"][::-1]
    rules = RecordRules(RecordSpec.from_avro(schema))
    row = {"f_" + k[::-1]: v for k, v in resident(birth_date="1950-01-01").items()}
    checked = rules.apply(row, TODAY)
    assert codes(checked.findings) == ["consistency.birth_date_mismatch"]
    assert checked.row["f_xes"] == "2"


def licence_schema(order: list[list[str]]) -> dict[str, Any]:
    schema = copy.deepcopy(row_schema("licence.licence"))
    schema[DATE_ORDER] = order
    return schema


def test_declared_date_order() -> None:
    schema = licence_schema([["issue_date", "expiry_date"]])
    rules = RecordRules(RecordSpec.from_avro(schema), date_order_of(schema))
    row = {
        "licence_id": "L1",
        "licence_type": "营业执照",
        "licence_no": "N1",
        "holder_kind": "organization",
        "holder_id_number": None,
        "holder_uscc": "91110000600037341l",
        "holder_name": "某公司",
        "issue_date": "2020-01-01",
        "expiry_date": "2019-12-31",
        "issuing_authority": None,
        "status": None,
    }
    checked = rules.apply(row, TODAY)
    assert checked.fatal is None
    assert codes(checked.findings) == ["clean.case", "consistency.date_order"]
    assert checked.row["holder_uscc"] == "91110000600037341L"
    assert rules.apply({**row, "expiry_date": "长期"}, TODAY).findings[1:] == []


def test_date_order_must_name_date_fields() -> None:
    schema = licence_schema([["issue_date", "holder_name"]])
    with pytest.raises(SchemaAnnotationError, match="holder_name"):
        RecordRules(RecordSpec.from_avro(schema), date_order_of(schema))
    with pytest.raises(SchemaAnnotationError):
        date_order_of({DATE_ORDER: "issue_date<expiry_date"})


@pytest.mark.parametrize("source", source_names())
def test_a_good_row_of_every_source_passes(source: str) -> None:
    checked = RecordRules.for_source(source).apply(RAW_ROWS[source], TODAY)
    assert checked.fatal is None
    assert {f.reason_code for f in checked.findings} <= {"clean.case", "citizen_id.upgraded"}


def test_remembered_outcomes_repeat_their_findings() -> None:
    rules = RecordRules.for_source("household.resident")
    row = resident(division_code="110103", birth_date="１９４９/12/31")
    first, second = rules.apply(row, TODAY), rules.apply(row, TODAY)
    assert first == second
    assert codes(second.findings) == ["clean.full_width", "division.retired"]
    bad = rules.apply(resident(birth_date="1949-02-30"), TODAY)
    assert (
        bad.fatal is not None
        and bad.fatal == rules.apply(resident(birth_date="1949-02-30"), TODAY).fatal
    )
