"""Key rotation by re-keying: the raw layer replays its events under the new key.

The raw worker's consumer group is per key id, so a new key starts a group that reads every
retained raw event again; the derived layers are rebuilt from scratch (README, "Pseudonym
keys"). This test runs the same stage functions the workers run, on one person's events
from before and after a rotation.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable
from typing import Any

from ops.settings import Settings
from streams.runtime.raw_worker import group_id
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.profile import ProfileState, apply_fact
from streams.stages.enrich.theme import render
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.standardize import StandardizeStage
from tests.unit.streams.people import Resident, envelope
from topics.codes.sex import SexCode

TODAY = dt.date(2026, 6, 1)
OLD = Pseudonymizer(secrets.token_bytes(32), "k1")
NEW = Pseudonymizer(secrets.token_bytes(32), "k2")
PERSON = Resident("340104", dt.date(1980, 5, 6), SexCode.MALE, 17)
# Raw events in log order: the residence before the rotation, the licence after it.
RAW_LOG = (
    ("household.resident", envelope(PERSON.household_row(), 1)),
    ("licence.licence", envelope(PERSON.licence_row(), 2)),
)


def derive(events: Iterable[tuple[str, dict[str, Any]]], keys: Iterable[Pseudonymizer]
           ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Std rows and facts, and the person profiles built from them, event by event."""
    extractor = FactExtractor()
    published: list[dict[str, Any]] = []
    states: dict[str, ProfileState | None] = {}
    for (source, event), key in zip(events, keys, strict=True):
        result = StandardizeStage(source, key)(event, TODAY)
        assert result is not None and hasattr(result, "envelope")
        published.append(result.envelope)
        for fact in extractor.extract(source, result.envelope):
            published.append(fact)
            if fact["category"] == "individual":
                states[fact["entity_key"]], _ = apply_fact(states.get(fact["entity_key"]), fact)
    profiles = {k: render("individual", k, s, 0) for k, s in states.items()}
    return published, {k: p for k, p in profiles.items() if p is not None}


def test_pseudonyms_record_their_key_id() -> None:
    assert OLD(PERSON.id_number).startswith("k1:") and NEW(PERSON.id_number).startswith("k2:")
    assert OLD(PERSON.id_number)[3:] != NEW(PERSON.id_number)[3:]


def test_without_re_keying_one_person_splits_into_two_profiles() -> None:
    _, profiles = derive(RAW_LOG, (OLD, NEW))
    assert set(profiles) == {OLD(PERSON.id_number), NEW(PERSON.id_number)}


def test_re_keying_joins_the_person_under_the_new_key_alone() -> None:
    published, profiles = derive(RAW_LOG, (NEW, NEW))
    person = NEW(PERSON.id_number)
    assert list(profiles) == [person]
    assert profiles[person]["sources"] == ["household", "licence"]
    everything = json.dumps([published, profiles], ensure_ascii=False)
    assert "k1:" not in everything and OLD(PERSON.id_number)[3:] not in everything


def test_a_new_key_is_a_new_raw_consumer_group_that_replays_from_the_start() -> None:
    settings = Settings(topic_namespace="city.")
    assert group_id(settings, "k1") != group_id(settings, "k2") == "govbus-city-raw-k2"
