"""The theme layer sets a fact it cannot apply, or a profile it cannot render, aside in its
DLQ with the reason, and goes on with the rest of the batch (no worker dies on a poison pill)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams import theme_processor
from streams.dlq import DETAIL, OFFSET, REASON, header_map
from streams.enrich.profile import ProfileState
from streams.processor_types import InputMessage
from streams.theme_processor import ThemeProcessor
from tests.unit.streams.enrich.rows import BOB, CAROL, event, fact_for, resident
from topics.catalog import dlq_topic, fact_topic, theme_topic


class JsonFacts:
    """Decodes the test's facts (JSON) in place of the registry's Avro."""

    def decode(self, value: bytes) -> Any:
        return json.loads(value)


class Produced:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None, Any]] = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None) -> None:
        self.records.append((topic, key, value, headers))

    def to(self, topic: str) -> list[tuple[str, bytes | None, bytes | None, Any]]:
        return [r for r in self.records if r[0] == topic]


class Store:
    def __init__(self) -> None:
        self.states: dict[str, ProfileState | None] = {}

    def get(self, key: str, token: int) -> ProfileState | None:
        return self.states.get(key)

    def put(self, key: str, value: ProfileState | None, token: int) -> None:
        self.states[key] = value


def message(offset: int, fact: dict[str, Any]) -> tuple[InputMessage, int]:
    topic = fact_topic("individual").name
    return InputMessage(topic, 0, offset, b"k", json.dumps(fact).encode()), offset


def person(key: str, seq: str) -> dict[str, Any]:
    source = "household.resident"
    return fact_for(source, event(resident(id_number_pseudonym=key), seq=seq), key)


@pytest.fixture
def processor() -> tuple[ThemeProcessor, Produced]:
    output = Produced()
    processor = ThemeProcessor(JsonFacts(), lambda subject, schema: 1, output,  # type: ignore[arg-type]
                               clock_ms=lambda: 5_000)
    return processor, output


def test_a_fact_the_merge_cannot_take_goes_to_the_dlq_and_the_batch_goes_on(
    processor: tuple[ThemeProcessor, Produced],
) -> None:
    stage, output = processor
    broken = {k: v for k, v in person(BOB, "1").items() if k != "record_key"}
    stats = stage.process([message(0, broken), message(1, person(CAROL, "2"))], Store())
    (letter,) = output.to(dlq_topic("theme").name)
    headers = header_map(letter[3])
    assert headers[REASON] == "theme.apply_failed"
    assert headers[DETAIL].startswith("KeyError")
    assert headers[OFFSET] == "0"
    assert stats.rejected == 1
    assert len(output.to(theme_topic("individual").name)) == 1  # CAROL's profile


def test_a_profile_that_cannot_be_rendered_dead_letters_its_last_fact(
    processor: tuple[ThemeProcessor, Produced], monkeypatch: pytest.MonkeyPatch,
) -> None:
    stage, output = processor
    real = theme_processor.render

    def render(category: str, key: str, state: ProfileState, now_ms: int) -> Any:
        if key == BOB:
            raise ValueError("no such district")
        return real(category, key, state, now_ms)  # type: ignore[arg-type]

    monkeypatch.setattr(theme_processor, "render", render)
    store = Store()
    stats = stage.process([message(0, person(BOB, "1")), message(1, person(CAROL, "2"))], store)
    (letter,) = output.to(dlq_topic("theme").name)
    assert header_map(letter[3])[REASON] == "theme.render_failed"
    assert stats.rejected == 1
    assert len(output.to(theme_topic("individual").name)) == 1
    assert store.states["individual:" + BOB] is not None  # the state moved on; a later fact retries
