"""The standardize stage on the real broker: every event accounted for, no clear PII past it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from connectors.simulate import publish_all
from connectors.simulator import DefectKind, DepartmentSimulator
from govbus.wiring import publishers, topic_admin
from ops.settings import Settings
from tests.integration.workers import namespace_env, read_topic, running_worker, wait_for
from topics.catalog import catalog_for
from topics.codes.citizen_id import is_valid_citizen_id
from topics.dead_letters import EVENT_ID, REASON
from topics.schemas import source_names

EVENTS = 1500
FATAL = {
    DefectKind.BAD_ID_CHECK_CHAR: "citizen_id.check_digit",
    DefectKind.INVALID_ID_BIRTH_DATE: "citizen_id.birth_date",
    DefectKind.MISSING_REQUIRED: "required.missing",
    DefectKind.UNKNOWN_DIVISION: "division.unknown",
    DefectKind.BAD_USCC_CHECK_CHAR: "uscc.check_digit",
}
# Hex pseudonyms are digit runs too: a candidate must not sit inside one.
ID_CANDIDATE = re.compile(rb"(?<![0-9a-f])[1-9][0-9]{16}[0-9Xx](?![0-9a-f])")
MOBILE = re.compile(rb"(?<![0-9a-f])1[3-9][0-9]{9}(?![0-9a-f])")


def _count(settings: Settings, topic: str) -> int:
    return len([m for m in read_topic(settings, topic) if m.value is not None])


def test_every_event_is_standardized_or_dead_lettered(settings: Settings, tmp_path: Path
                                                      ) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)
    simulator = DepartmentSimulator(seed=11, defect_rate=0.08, population=150)
    events = simulator.events(EVENTS)
    publish_all(events, publishers(settings, list(source_names())))

    std_names = [catalog.std(s).name for s in source_names()]
    dlq = catalog.dlq("standardize").name
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "raw") as worker:
        wait_for(lambda: sum(_count(settings, t) for t in [*std_names, dlq]) >= EVENTS, 180,
                 "every event in std or DLQ", worker, log)

    std_messages = [m for name in std_names for m in read_topic(settings, name)]
    dead = read_topic(settings, dlq)
    # Exactly once each: every input event is in one place, none twice, none missing.
    std_ids = [m.value["event_id"] for m in std_messages]
    dead_ids = [m.headers[EVENT_ID] for m in dead]
    assert len(std_ids) + len(dead_ids) == EVENTS
    assert set(std_ids) | set(dead_ids) == {e.event_id for e in events}
    assert not set(std_ids) & set(dead_ids)

    # The DLQ holds exactly the events with fatal defects, for the injected reason.
    expected = {e.event_id: FATAL[e.defect] for e in events if e.defect in FATAL}
    assert {m.headers[EVENT_ID]: m.headers[REASON] for m in dead} == expected
    assert len(expected) > 10

    # No clear personal data in any std message's bytes.
    names = {name for e in events for image in (e.before, e.after) if image
             for key, name in image.items() if key.endswith("name") and name
             and "公司" not in name and len(name) >= 2}
    phones = {re.sub(r"[^0-9]", "", value)[-11:].encode() for e in events
              for image in (e.before, e.after) if image
              for key, value in image.items() if "phone" in key and value}
    phones = {p for p in phones if len(p) == 11}
    assert phones
    for message in std_messages:
        raw = message.raw_value or b""
        assert not [p for p in phones if p in raw], message.topic
        for candidate in ID_CANDIDATE.findall(raw):
            assert not is_valid_citizen_id(candidate.decode().upper()), message.topic
        assert not MOBILE.search(raw), message.topic
        text = raw.decode("utf-8", errors="ignore")
        leaked = [n for n in names if n in text and not _is_public_org_name(message, n)]
        assert not leaked, (message.topic, leaked[:3])

    # Every defect, repaired or not, was counted on the quality topic.
    findings = [m.value for m in read_topic(settings, catalog.quality.name)]
    reasons = {f["reason"] for f in findings}
    assert set(expected.values()) <= reasons
    assert {"clean.full_width", "consistency.birth_date_mismatch"} <= reasons
    assert all(f["dept"] and f["dimension"] for f in findings)


def _is_public_org_name(message, name: str) -> bool:
    """Enterprise names are public registration data, kept in clear in std.market.*."""
    return message.topic.endswith("market.enterprise") and name in (
        message.value["after"] or message.value["before"] or {}).get("name", "")


def test_a_worker_without_its_topics_says_so_and_exits(settings: Settings) -> None:
    result = subprocess.run([sys.executable, "-m", "govbus.cli", "worker"], capture_output=True,
                            text=True, timeout=60, env=namespace_env(settings))
    assert result.returncode == 1
    assert "run `govbus topics apply` first" in result.stderr
    assert "Traceback" not in result.stderr

