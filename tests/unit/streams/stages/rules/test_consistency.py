from streams.stages.rules.consistency import birth_date_mismatch, date_order_violation, sex_mismatch

ID = "11010519491231002X"  # a woman born 1949-12-31


def test_birth_date() -> None:
    assert birth_date_mismatch(ID, "1949-12-31", "birth_date") is None
    found = birth_date_mismatch(ID, "1949-12-30", "birth_date")
    assert found is not None and found.reason_code == "consistency.birth_date_mismatch"
    assert found.field == "birth_date" and not found.fatal


def test_sex() -> None:
    assert sex_mismatch(ID, "2", "sex") is None
    assert sex_mismatch(ID, "0", "sex") is None  # unknown contradicts nothing
    assert sex_mismatch(ID, "9", "sex") is None
    found = sex_mismatch(ID, "1", "sex")
    assert found is not None and found.reason_code == "consistency.sex_mismatch"


def test_date_order() -> None:
    assert date_order_violation("2020-01-01", "2030-01-01", "issue", "expiry") is None
    assert date_order_violation("2020-01-01", "2020-01-01", "issue", "expiry") is None
    found = date_order_violation("2020-01-01", "2019-12-31", "issue", "expiry")
    assert found is not None and found.reason_code == "consistency.date_order"
    assert found.field == "expiry"
