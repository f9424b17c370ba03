"""A registry that does not answer is waited out; one that answers is believed at once."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry.common._httpx_compat import httpx as client_http
from confluent_kafka.schema_registry.error import SchemaRegistryError

from topics.patience import REGISTRY_PATIENCE_S, RegistryUnavailableError, patiently
from topics.registry import IncompatibleSchemaError, SchemaRegistry

SCHEMA = {"type": "record", "name": "Row", "fields": [{"name": "a", "type": "string"}]}


class _Client:
    """The confluent client's register call, answering from a script."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def register_schema(self, _subject: str, _schema: Any) -> int:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return int(answer)


def _registry(client: _Client, monkeypatch: pytest.MonkeyPatch) -> SchemaRegistry:
    monkeypatch.setattr("topics.patience.time.sleep", lambda _s: None)
    registry = SchemaRegistry({"url": "http://127.0.0.1:9"})
    registry.client = client  # type: ignore[assignment]
    return registry


def test_register_waits_out_a_registry_that_is_away(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _Client(client_http.ConnectError("refused"),
                     SchemaRegistryError(502, -1, "registry unreachable"),
                     SchemaRegistryError(503, -1, "starting"), 42)
    assert _registry(client, monkeypatch).register("s-value", SCHEMA) == 42
    assert client.calls == 4


@pytest.mark.parametrize("answer", [
    SchemaRegistryError(409, 409, "incompatible"),
    SchemaRegistryError(403, 40301, "only the admin registers"),
    SchemaRegistryError(422, 42201, "invalid schema"),
])
def test_register_believes_an_answer(answer: SchemaRegistryError,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = _Client(answer, 42)
    with pytest.raises((SchemaRegistryError, IncompatibleSchemaError)):
        _registry(client, monkeypatch).register("s-value", SCHEMA)
    assert client.calls == 1


def test_patience_ends_as_an_infrastructure_fault() -> None:
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    def away() -> int:
        raise client_http.ConnectError("refused")

    with pytest.raises(RegistryUnavailableError, match="registering s-value"):
        patiently(away, "registering s-value", settled=lambda _e: False, sleep=sleep,
                  clock=lambda: now[0])
    assert REGISTRY_PATIENCE_S - 10 <= now[0] <= REGISTRY_PATIENCE_S
    assert pauses[:3] == [0.5, 1.0, 2.0] and max(pauses) == 10.0
