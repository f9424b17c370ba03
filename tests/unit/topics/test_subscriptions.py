"""The subscription workflow's rules, pure: who decides what, when a decision is due."""

from __future__ import annotations

import datetime as dt

import pytest

from govbus.resource_catalog import resource_catalog
from ops.settings import Settings
from topics.resource_catalog import Resource
from topics.subscriptions import (
    CITY_TIME,
    RULE,
    Status,
    SubscriptionError,
    decide,
    due_ms,
    granted_topics,
    latest,
    request,
    revoke,
)
from topics.working_days import add_working_days, is_working_day

NOW = int(dt.datetime(2026, 9, 28, 10, 0, tzinfo=CITY_TIME).timestamp() * 1000)


def resource(topic: str) -> Resource:
    return resource_catalog(Settings(topic_namespace="")).find(topic)


def test_unconditional_is_granted_and_not_shared_rejected_with_its_basis_at_once() -> None:
    granted = request(resource("theme.organization"), "civil", "婚姻登记核验", "s1", NOW)
    assert (granted.status, granted.decided_by, granted.due_ms) == (Status.GRANTED, RULE, None)
    rejected = request(resource("raw.household.resident"), "civil", "核验", "s2", NOW)
    assert rejected.status == Status.REJECTED and rejected.reason.startswith("不予共享: ")
    assert granted_topics([granted, rejected]) == {"civil": frozenset({"theme.organization"})}


def test_conditional_waits_ten_working_days_for_its_provider() -> None:
    waiting = request(resource("std.household.resident"), "civil", "婚姻登记身份核验", "s3", NOW)
    assert waiting.status == Status.REQUESTED and waiting.reason  # the conditions
    # Requested on 28 September 2026: the National Day holiday (1-7 October) does not count,
    # and Saturday 10 October is worked in exchange that year.
    due = dt.datetime.fromtimestamp((waiting.due_ms or 0) / 1000, CITY_TIME)
    assert due.date() == add_working_days(dt.date(2026, 9, 28), 10) == dt.date(2026, 10, 16)
    assert not waiting.overdue(NOW) and waiting.overdue((waiting.due_ms or 0) + 1)
    with pytest.raises(SubscriptionError, match="household's to decide"):
        decide(waiting, "market", True, "", NOW)
    with pytest.raises(SubscriptionError, match="rejection states its reason"):
        decide(waiting, "household", False, " ", NOW)
    granted = decide(waiting, "household", True, "", NOW + 1)
    assert (granted.status, granted.version, granted.decided_by) == ("granted", 2, "household")
    assert not granted.overdue((granted.due_ms or 0) + 10)
    with pytest.raises(SubscriptionError, match="not market"):
        revoke(granted, "market", "用途已完成", NOW + 2)
    revoked = revoke(granted, "household", "用途已完成", NOW + 2)
    assert granted_topics([revoked]) == {}
    assert latest([granted.record(), revoked.record(), waiting.record()]) == {"s3": revoked}
    with pytest.raises(SubscriptionError, match="only a grant is revoked"):
        revoke(revoked, "household", "again", NOW + 3)


def test_a_request_needs_a_purpose_and_a_department_does_not_request_its_own() -> None:
    with pytest.raises(SubscriptionError, match="purpose"):
        request(resource("theme.organization"), "civil", "  ", "s4", NOW)
    with pytest.raises(SubscriptionError, match="nothing to request"):
        request(resource("std.household.resident"), "household", "x", "s5", NOW)


def test_working_days_follow_the_published_calendar_and_weekdays_beyond_it() -> None:
    assert not is_working_day(dt.date(2026, 10, 1))  # National Day
    assert is_working_day(dt.date(2026, 10, 10))  # a Saturday worked in exchange (调休)
    assert is_working_day(dt.date(2099, 3, 2)) and not is_working_day(dt.date(2099, 3, 1))
    assert due_ms(NOW) > NOW
