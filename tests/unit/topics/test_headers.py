"""The tombstone version header: written and read back, tolerant of what others send."""

from __future__ import annotations

from topics.headers import VERSION_HEADER, version_headers, version_of


def test_a_version_round_trips() -> None:
    assert version_of(version_headers(17)) == 17
    assert version_of({VERSION_HEADER: "3"}) == 3


def test_missing_or_foreign_headers_give_no_version() -> None:
    assert version_of(None) is None
    assert version_of([("other", b"5")]) is None
    assert version_of([(VERSION_HEADER, None)]) is None
    assert version_of([(VERSION_HEADER, b"-1")]) is None
    assert version_of([(VERSION_HEADER, b"seven")]) is None
