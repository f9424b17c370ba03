"""The raw layer's processor, driven through the in-memory doubles: a poison message at each
of its steps goes to the DLQ with that step and its reason while the rest of the batch lands;
a registry that times out is waited for, never a reason to dead-letter."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ops.runtime.messages import InputMessage
from streams.processors.raw import RawLayerProcessor
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.doubles import CapturingOutput, MemoryRegistry
from tests.unit.streams.samples import RAW_ROWS
from topics.catalog import catalog_in
from topics.dead_letters import REASON, STEP
from topics.patience import RegistryUnavailableError
from topics.schemas import change_event_schema
from topics.serde import AvroDecoder, AvroEncoder

SOURCE = "household.resident"
CATALOG = catalog_in("unit.")
DLQ = CATALOG.dlq("standardize").name
STD = CATALOG.std(SOURCE).name


class Raw:
    """A raw layer over doubles, and a department's encoder for its topic."""

    def __init__(self, registry: MemoryRegistry | None = None, **decoder: Any) -> None:
        self.registry = registry or MemoryRegistry()
        self.output = CapturingOutput()
        self.processor = RawLayerProcessor(
            CATALOG, AvroDecoder(self.registry.schema_by_id, **decoder), self.registry.register,
            Pseudonymizer(b"k", "k1"), self.output, clock_ms=lambda: 1_700_000_000_000)
        self.topic = CATALOG.raw(SOURCE)
        schema = change_event_schema(SOURCE)
        self.encode = AvroEncoder(schema, self.registry.register(self.topic.value_subject,
                                                                 schema)).encode
        self.offset = 0

    def event(self, resident: str, **row: Any) -> InputMessage:
        after = {**copy.deepcopy(RAW_ROWS[SOURCE]), "resident_id": resident, **row}
        envelope = {"before": None, "after": after, "op": "c", "ts_ms": 1_000,
                    "event_id": f"e-{resident}",
                    "source": {"dept": "household", "system": "hh", "table": "resident",
                               "sequence": str(self.offset), "ts_ms": 1_000,
                               "snapshot": "false"}}
        return self.message(self.encode(envelope))

    def message(self, value: bytes) -> InputMessage:
        self.offset += 1
        return InputMessage(self.topic.name, 0, self.offset, b"key", value)

    def letters(self) -> list[tuple[str, str, int]]:
        """(step, reason, offset of the original) of each dead letter."""
        return [(h[STEP], h[REASON], int(h["__govbus.errors.offset"]))
                for _, _, _, h, _ in self.output.to(DLQ)]

    def std_ids(self) -> list[str]:
        decode = AvroDecoder(self.registry.schema_by_id).decode
        return [decode(v)["event_id"] for _, _, v, _, _ in self.output.to(STD) if v]


def test_undecodable_messages_fail_at_raw_decode_and_the_batch_goes_on() -> None:
    raw = Raw()
    good = raw.event("R1")
    unknown_id = b"\x00\x00\x00\x03\xe7" + good.value[5:]  # type: ignore[index]
    stats = raw.processor.process([
        raw.message(b"garbage"), raw.message(unknown_id), raw.message(good.value[:12]),  # type: ignore[index]
        raw.event("R2")])
    assert raw.letters() == [("raw.decode", "serde.bad_magic", 2),
                             ("raw.decode", "serde.unknown_schema_id", 3),
                             ("raw.decode", "serde.corrupt", 4)]
    assert raw.std_ids() == ["e-R2"]
    assert stats.dead_letters[("household", "raw.decode", "serde.corrupt")] == 1


def test_an_event_the_rules_reject_fails_at_raw_rules() -> None:
    raw = Raw()
    raw.processor.process([raw.event("R1", id_number="340104194912311230"), raw.event("R2")])
    assert raw.letters() == [("raw.rules", "citizen_id.check_digit", 1)]
    assert raw.std_ids() == ["e-R2"]


def poison(raw: Raw, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the step ``where`` raise for resident R1's event only."""
    route = raw.processor.routes[raw.topic.name]

    def failing(real: Any, pick: Any) -> Any:
        def call(*args: Any) -> Any:
            if pick(*args):
                raise RuntimeError(f"poisoned {where}")
            return real(*args)
        return call

    if where == "raw.rules":
        object.__setattr__(route, "stage", failing(
            route.stage, lambda envelope, _today: envelope["after"]["resident_id"] == "R1"))
    elif where == "raw.encode":
        object.__setattr__(route, "encode", failing(
            route.encode, lambda envelope: envelope["after"]["resident_id"] == "R1"))
    else:
        extractor = raw.processor.rows.extractor
        calls = iter(range(1_000))
        monkeypatch.setattr(extractor, "change", failing(
            extractor.change, lambda *args: next(calls) == 0))  # R1's, the first


@pytest.mark.parametrize("step", ["raw.rules", "raw.encode", "raw.facts"])
def test_a_step_that_raises_dead_letters_that_message_alone(
    step: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = Raw()
    poison(raw, step, monkeypatch)
    stats = raw.processor.process([raw.event("R1"), raw.event("R2")])
    assert raw.letters() == [(step, f"{step}_failed", 1)]
    # Nothing of the poisoned event went downstream; the other one did, with its facts.
    assert raw.std_ids() == ["e-R2"]
    assert len(raw.output.to(CATALOG.fact("individual").name)) == 1
    assert stats.rejected == 1 and stats.standardized == 1


def test_a_registry_that_times_out_is_waited_for_and_nothing_is_dead_lettered() -> None:
    registry = MemoryRegistry()
    slept: list[float] = []
    raw = Raw(registry, sleep=slept.append, clock=lambda: sum(slept))
    registry.unavailable = 3  # the worker's first fetch of the schema times out three times
    raw.processor.process([raw.event("R1")])
    assert raw.letters() == [] and raw.std_ids() == ["e-R1"]
    assert len(slept) == 3


def test_a_registry_away_past_its_patience_stops_the_batch_instead() -> None:
    registry = MemoryRegistry()
    slept: list[float] = []
    raw = Raw(registry, sleep=slept.append, clock=lambda: sum(slept))
    registry.unavailable = 10_000
    with pytest.raises(RegistryUnavailableError):
        raw.processor.process([raw.event("R1")])
    assert raw.letters() == []  # the runtime commits nothing; the batch is read again
