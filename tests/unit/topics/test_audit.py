"""Broker denials from the authorizer log become audit events; other lines are skipped."""

from __future__ import annotations

from topics.audit import AuditEvent, broker_denials

LINES = [
    "[2026-11-28T18:03:13,278] INFO Principal = User:subscriber is Denied operation = DESCRIBE "
    "from host = 127.0.0.1 on resource = Topic:LITERAL:t1.raw.civil.marriage for request = "
    "Metadata with resourceRefCount = 1 based on rule DefaultDeny",
    "[2026-11-28T18:03:14,000] INFO Principal = User:sink is Allowed operation = READ from host "
    "= 127.0.0.1 on resource = Topic:LITERAL:theme.thing for request = Fetch",
    "garbage",
]


def test_only_denials_become_events() -> None:
    (event,) = list(broker_denials(LINES))
    assert event.kind == "broker.denied"
    assert event.principal == "subscriber"
    assert event.action == "DESCRIBE (Metadata)"
    assert event.resource == "Topic:LITERAL:t1.raw.civil.marriage"
    assert event.outcome == "denied"
    assert event.source_host == "127.0.0.1"
    assert event.ts_ms == 1795888993278


def test_an_event_renders_the_audit_record() -> None:
    record = AuditEvent("query", "analyst", "SELECT 1", ts_ms=5).record()
    assert record["kind"] == "query" and record["source_ts_ms"] == 5 and record["event_id"]
