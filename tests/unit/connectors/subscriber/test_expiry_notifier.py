from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytest.importorskip("faust", reason="the subscriber kit needs the faust extra")

from connectors.subscriber.examples.expiry_notifier import ExpiryNotifier, licence_of
from connectors.subscriber.records import row_record_class
from topics.schemas import std_change_event_schema

TODAY = dt.date(2026, 11, 29)
Licence = row_record_class(std_change_event_schema("licence.licence"))


def event(expiry: str | None, op: str = "u", status: str = "有效", licence_id: str = "L-1"
          ) -> dict[str, Any]:
    row = {"licence_id": licence_id, "licence_type": "食品经营许可证", "licence_no": "JY-1",
           "holder_kind": "person", "holder_id_number_pseudonym": "k1:" + "0" * 32,
           "holder_id_number_masked": "340104************", "holder_uscc": None,
           "holder_name_masked": "张*明", "issue_date": "2021-01-01", "expiry_date": expiry,
           "issuing_authority": "市政务服务管理局", "status": status}
    return {"op": op, "before": row if op == "d" else None, "after": None if op == "d" else row}


def notice_line(notifier: ExpiryNotifier, change: dict[str, Any]) -> str | None:
    licence = licence_of(change, Licence)
    made = notifier.notice(licence, TODAY) if licence is not None else None
    return made.line() if made is not None else None


def test_the_row_record_is_made_from_the_change_events_schema() -> None:
    assert Licence.__name__ == "Value"
    assert {"licence_id", "expiry_date", "holder_name_masked"} <= set(Licence._options.fields)


def test_a_licence_expiring_within_the_window_is_noticed_once_without_personal_data() -> None:
    notifier = ExpiryNotifier(window_days=30)
    line = notice_line(notifier, event("2026-12-09"))
    assert line == ("notice: licence 食品经营许可证 JY-1 expires in 10 days (2026-12-09), "
                    "holder person 张*明")
    assert "340104" not in line and "k1:" not in line
    assert notice_line(notifier, event("2026-12-09")) is None  # an update of the same licence
    assert notice_line(notifier, event("2026-12-19")) is not None  # renewed: a new expiry


@pytest.mark.parametrize(("change", "why"), [
    (event("2027-06-01"), "beyond the window"),
    (event("2026-12-09", status="注销"), "cancelled"),
    (event(None), "no expiry"),
    (event("2026-13-01"), "no real date"),
    (event("2026-12-09", op="d"), "deleted"),
])
def test_no_notice(change: dict[str, Any], why: str) -> None:
    assert notice_line(ExpiryNotifier(window_days=30), change) is None, why


def test_an_expired_licence_still_valid_is_noticed() -> None:
    line = notice_line(ExpiryNotifier(), event("2026-11-26"))
    assert line is not None and "expired 3 days ago (2026-11-26)" in line


def test_a_theme_profile_schema_is_its_own_record() -> None:
    from topics.catalog import catalog_in

    schema = catalog_in("").theme("thing").value_schema()  # type: ignore[misc]
    assert row_record_class(schema).__name__ == "Thing"
