import tomllib
from pathlib import Path
from typing import Any

import pytest

from streams.stages.masking.disclosure import assess_policy, check_disclosure, published_records
from streams.stages.masking.errors import DisclosureError
from streams.stages.masking.operators import OPERATORS, REVEALS
from streams.stages.masking.policy import POLICY_PATH, load_policy, parse_policy
from topics.disclosure import Identifier


def shipped() -> dict[str, Any]:
    return tomllib.loads(POLICY_PATH.read_text(encoding="utf-8"))


def test_every_operator_declares_what_it_reveals() -> None:
    assert set(REVEALS) == set(OPERATORS)


@pytest.mark.parametrize("assessment", assess_policy(load_policy()), ids=lambda a: a.record)
def test_no_published_record_type_narrows_an_identifier_below_its_minimum(
    assessment: Any,
) -> None:
    assert assessment.passes, assessment.describe()


def test_every_published_record_type_is_assessed() -> None:
    names = {record.name for record in published_records(load_policy())}
    assert {"std.household.resident", "theme.individual",
            "fact.individual (household.resident, self)"} <= names
    people = {a.record for a in assess_policy(load_policy())
              if a.identifier is Identifier.CITIZEN_ID}
    assert "theme.individual" in people


def test_a_leaky_policy_fails_at_startup_naming_the_fields(tmp_path: Path) -> None:
    text = POLICY_PATH.read_text(encoding="utf-8")
    leaky = text.replace('"mask_id_division"', '"mask_id_number"').replace(
        '"{field}_year" = "birth_year"', '"{field}_year_month" = "year_month"'
    )
    assert leaky != text
    path = tmp_path / "policy.toml"
    path.write_text(leaky, encoding="utf-8")
    with pytest.raises(DisclosureError) as raised:
        load_policy(path)
    message = str(raised.value)
    assert "std.household.resident: citizen_id left with 2 candidates (< 10,000, core)" in message
    assert "id_number_masked, sex, birth_date_year_month, division_code" in message
    assert "fact map household.resident/self.birth_year reads 'birth_date_year'" in message


def test_the_last_four_with_a_birth_year_leak_through_the_theme_library() -> None:
    document = shipped()
    document["pii"]["id_number"]["default"]["{field}_masked"] = "mask_id_number"
    with pytest.raises(DisclosureError, match=r"theme\.individual: citizen_id left with 33 cand"):
        check_disclosure(parse_policy(document))


def test_the_minimum_is_per_grade_and_configurable() -> None:
    document = shipped()
    document["disclosure"]["min_candidates"]["core"] = 10**9
    assert not all(a.passes for a in assess_policy(parse_policy(document)))
