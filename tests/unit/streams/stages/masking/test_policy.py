import tomllib
from pathlib import Path
from typing import Any

import pytest

from streams.stages.masking.errors import PolicyError
from streams.stages.masking.operators import OPERATORS
from streams.stages.masking.policy import POLICY_PATH, load_policy, parse_policy
from topics.annotations import FieldSpec, Grade, Pii
from topics.schemas import row_spec, source_names


def shipped() -> dict[str, Any]:
    return tomllib.loads(POLICY_PATH.read_text(encoding="utf-8"))


def every_annotated_field() -> list[FieldSpec]:
    return [field for source in source_names() for field in row_spec(source).fields]


def test_shipped_policy_loads_and_covers_every_pii_type() -> None:
    policy = load_policy()
    for pii in Pii:
        assert (pii, None) in policy.rules


@pytest.mark.parametrize("field", every_annotated_field(), ids=lambda f: f.name)
def test_every_annotated_raw_field_has_known_operators(field: FieldSpec) -> None:
    outputs = load_policy().outputs(field)
    assert outputs
    assert all(output.operator in OPERATORS for output in outputs)
    if field.pii is not Pii.NONE:
        assert "keep" not in {output.operator for output in outputs}, field


def test_the_shipped_mapping() -> None:
    policy = load_policy()
    expected = {
        Pii.ID_NUMBER: [
            ("{field}_pseudonym", "pseudonym"), ("{field}_masked", "mask_id_division")
        ],
        Pii.NAME: [("{field}_masked", "mask_name")],
        Pii.PHONE: [("{field}_masked", "mask_phone")],
        Pii.ADDRESS: [("{field}_district", "generalize_district")],
        Pii.BIRTH_DATE: [("{field}_year", "birth_year")],
        Pii.FREE_TEXT: [("{field}_masked", "scan_and_mask")],
        Pii.NONE: [("{field}", "keep")],
    }
    for pii, outputs in expected.items():
        assert [(o.template, o.operator) for o in policy.rules[(pii, None)]] == outputs


def test_a_grade_table_overrides_the_default() -> None:
    document = shipped()
    document["pii"]["name"]["general"] = {"{field}": "keep"}
    policy = parse_policy(document)
    general = FieldSpec("n", "string", Pii.NAME, Grade.GENERAL, None, False, "", False)
    important = FieldSpec("n", "string", Pii.NAME, Grade.IMPORTANT, None, False, "", False)
    assert [o.operator for o in policy.outputs(general)] == ["keep"]
    assert [o.operator for o in policy.outputs(important)] == ["mask_name"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["pii"].update(fingerprint={"default": {"{field}": "keep"}}),
            "unknown pii type 'fingerprint'",
        ),
        (
            lambda d: d["pii"]["name"]["default"].update({"{field}_x": "shuffle"}),
            "unknown operator 'shuffle'",
        ),
        (lambda d: d["pii"]["name"].update(secret={"{field}": "keep"}), "unknown grade 'secret'"),
        (lambda d: d["pii"].pop("phone"), "pii types ['phone']"),
        (lambda d: d["pii"]["phone"].update(default={}), "at least one"),
        (lambda d: d["pii"]["phone"].update(default={"masked": "mask_phone"}), "{field}"),
        (lambda d: d["pii"]["phone"].update(default={"{field}-x": "mask_phone"}), "Avro name"),
        (lambda d: d.update(extra={}), "top-level"),
        (lambda d: d.pop("disclosure"), "min_candidates] is required"),
        (lambda d: d["disclosure"]["min_candidates"].pop("core"), "exactly the grades"),
        (lambda d: d["disclosure"]["min_candidates"].update(core=0), "positive integer"),
    ],
)
def test_gaps_are_startup_errors(change: Any, message: str) -> None:
    document = shipped()
    change(document)
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(document)


def test_invalid_toml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[pii", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)
