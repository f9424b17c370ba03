from streams.stages.rules.pairing import pair_fields


def test_single_subject_pairs_whatever_the_names() -> None:
    assert pair_fields(["id_number"], ["birth_date"]) == {"birth_date": "id_number"}


def test_several_subjects_pair_by_name_prefix() -> None:
    ids = ["party_a_id_number", "party_b_id_number"]
    births = ["party_a_birth_date", "party_b_birth_date"]
    assert pair_fields(ids, births) == {
        "party_a_birth_date": "party_a_id_number",
        "party_b_birth_date": "party_b_id_number",
    }


def test_unclear_fields_stay_unpaired() -> None:
    assert pair_fields(["a_id", "b_id"], ["birth_date"]) == {}
    assert pair_fields(["x_a_id", "x_b_id"], ["x_birth"]) == {}  # tie
    assert pair_fields(["id_number"], ["birth_date", "child_birth_date"]) == {}
    assert pair_fields([], ["birth_date"]) == {}
