"""The audit's counting of published rows, per row and per person joined."""

from __future__ import annotations

import datetime as dt

from govbus.privacy_audit import JOINED, audit_rows, person_views

TODAY = dt.date(2026, 11, 28)
MINIMUM = 10_000


def ms(day: str) -> int:
    return int(dt.datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp() * 1000)


def test_a_profile_alone_leaves_its_birth_year_times_the_order_codes() -> None:
    profile = {"person_key": "p1", "id_masked": "340104************", "sex": "2",
               "birth_year": "1990", "source_ts_ms": ms("2026-03-01")}
    line = audit_rows("theme", [[profile]], MINIMUM, TODAY)
    assert (line.rows, line.narrowing, line.below) == (1, 1, 0)
    assert line.fewest == 365 * 500


def test_a_fact_recorded_days_into_the_birth_year_bounds_the_joined_person() -> None:
    profile = {"person_key": "p1", "id_masked": "340104************", "sex": "1",
               "birth_year": "2026", "source_ts_ms": ms("2026-06-01")}
    first = {"entity_key": "p1", "source_ts_ms": ms("2026-01-04"), "attributes": {}}
    other = {"entity_key": "p2", "source_ts_ms": ms("2026-01-01"), "attributes": {}}
    views = list(person_views([profile], [first, other], "person_key"))
    assert views == [[profile, first]]
    line = audit_rows(JOINED, views, MINIMUM, TODAY)
    assert (line.fewest, line.below) == (4 * 500, 1)


def test_rows_that_say_nothing_of_an_id_are_counted_but_not_assessed() -> None:
    line = audit_rows("facts", [[{"entity_key": "o1", "attributes": {"uscc": "x"}}]],
                      MINIMUM, TODAY)
    assert (line.rows, line.narrowing, line.fewest, line.below) == (1, 0, None, 0)
