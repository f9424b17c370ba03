"""The theme layer, driven through the in-memory doubles, sets a fact it cannot decode or
apply, or a profile it cannot render or encode, aside in its DLQ with the step and the
reason, and goes on with the rest of the batch (no worker dies on a poison pill)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops.runtime.messages import InputMessage
from streams.processors import theme as theme_processor
from streams.processors.theme import ThemeProcessor
from streams.stages.enrich.profile import ProfileState
from tests.doubles import CapturingOutput, MemoryStore
from tests.unit.streams.stages.enrich.rows import (
    ALICE,
    BOB,
    CAROL,
    event,
    fact_for,
    marriage,
    resident,
)
from topics.catalog import catalog_in
from topics.dead_letters import DETAIL, OFFSET, REASON, STEP

CATALOG = catalog_in("unit.")


class JsonFacts:
    """Decodes the test's facts (JSON) in place of the registry's Avro."""

    def decode(self, value: bytes) -> Any:
        return json.loads(value)


def message(offset: int, fact: dict[str, Any]) -> tuple[InputMessage, int]:
    topic = CATALOG.fact("individual").name
    return InputMessage(topic, 0, offset, b"k", json.dumps(fact).encode()), offset


def person(key: str, seq: str) -> dict[str, Any]:
    source = "household.resident"
    return fact_for(source, event(resident(id_number_pseudonym=key), seq=seq), key)


@pytest.fixture
def processor() -> tuple[ThemeProcessor, CapturingOutput]:
    output = CapturingOutput()
    processor = ThemeProcessor(CATALOG, JsonFacts(),  # type: ignore[arg-type]
                               lambda subject, schema: 1, output, clock_ms=lambda: 5_000)
    return processor, output


def test_a_fact_the_merge_cannot_take_goes_to_the_dlq_and_the_batch_goes_on(
    processor: tuple[ThemeProcessor, CapturingOutput],
) -> None:
    stage, output = processor
    broken = {k: v for k, v in person(BOB, "1").items() if k != "record_key"}
    stats = stage.process([message(0, broken), message(1, person(CAROL, "2"))], MemoryStore())
    (letter,) = output.to(CATALOG.dlq("theme").name)
    headers = letter[3]
    assert (headers[STEP], headers[REASON]) == ("theme.apply", "theme.apply_failed")
    assert headers[DETAIL].startswith("KeyError")
    assert headers[OFFSET] == "0"
    assert stats.rejected == 1
    assert len(output.to(CATALOG.theme("individual").name)) == 1  # CAROL's profile


def test_a_profile_that_cannot_be_rendered_dead_letters_its_last_fact(
    processor: tuple[ThemeProcessor, CapturingOutput], monkeypatch: pytest.MonkeyPatch,
) -> None:
    stage, output = processor
    real = theme_processor.render

    def render(category: str, key: str, state: ProfileState, now_ms: int) -> Any:
        if key == BOB:
            raise ValueError("no such district")
        return real(category, key, state, now_ms)  # type: ignore[arg-type]

    monkeypatch.setattr(theme_processor, "render", render)
    store = MemoryStore()
    stats = stage.process([message(0, person(BOB, "1")), message(1, person(CAROL, "2"))], store)
    (letter,) = output.to(CATALOG.dlq("theme").name)
    assert (letter[3][STEP], letter[3][REASON]) == ("theme.render", "theme.render_failed")
    assert stats.rejected == 1
    assert len(output.to(CATALOG.theme("individual").name)) == 1
    assert store.states["individual:" + BOB] is not None  # the state moved on; a later fact retries


def test_a_fact_that_does_not_decode_fails_at_theme_decode(
    processor: tuple[ThemeProcessor, CapturingOutput],
) -> None:
    stage, output = processor
    topic = CATALOG.fact("individual").name
    stats = stage.process([(InputMessage(topic, 0, 0, b"k", b"\x00\x00"), 0),
                           message(1, person(CAROL, "2"))], MemoryStore())
    assert stats.rejected == 1
    [letter] = output.to(CATALOG.dlq("theme").name)
    assert letter[3][STEP] == "theme.decode"
    assert len(output.to(CATALOG.theme("individual").name)) == 1


def test_a_profile_that_cannot_be_encoded_fails_at_theme_encode(
    processor: tuple[ThemeProcessor, CapturingOutput],
) -> None:
    stage, output = processor
    name, encode_key, encode_value = stage._theme["individual"]  # type: ignore[index]

    def encode(record: dict[str, Any]) -> bytes:
        if record.get("entity_key") == BOB or BOB in repr(record):
            raise TypeError("not a string")
        return encode_value(record)

    stage._theme["individual"] = (name, encode_key, encode)  # type: ignore[index]
    stats = stage.process([message(0, person(BOB, "1")), message(1, person(CAROL, "2"))],
                          MemoryStore())
    [letter] = output.to(CATALOG.dlq("theme").name)
    assert (letter[3][STEP], letter[3][REASON]) == ("theme.encode", "theme.encode_failed")
    assert stats.rejected == 1
    assert len(output.to(CATALOG.theme("individual").name)) == 1


def test_a_fact_beyond_the_retraction_horizon_is_dead_lettered_not_applied() -> None:
    output = CapturingOutput()
    hour = 3_600_000
    stage = ThemeProcessor(CATALOG, JsonFacts(), lambda subject, schema: 1, output,  # type: ignore[arg-type]
                           clock_ms=lambda: 5_000, retraction_horizon_ms=10 * hour)
    home = fact_for("household.resident", event(resident(), ts=20 * hour), ALICE)
    late = fact_for("civil.marriage", event(marriage(), ts=hour), ALICE)
    store = MemoryStore()
    stats = stage.process([message(0, home), message(1, late), message(2, person(CAROL, "2"))],
                          store)
    [letter] = output.to(CATALOG.dlq("theme").name)
    assert (letter[3][STEP], letter[3][REASON]) == ("theme.apply", "theme.beyond_horizon")
    assert letter[3][OFFSET] == "1" and stats.rejected == 1
    state = store.states["individual:" + ALICE]
    assert state is not None and [k[0] for k in state.contributions] == ["household.resident"]
    assert len(output.to(CATALOG.theme("individual").name)) == 2  # ALICE's and CAROL's
