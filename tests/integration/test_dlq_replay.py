"""`govbus dlq list` and `dlq replay` on a real DLQ larger than one chunk: counted and replayed
chunk by chunk, each replayed letter back on its original topic, marked."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from govbus import cli
from govbus.cli import app
from govbus.wiring import topic_admin
from ops.kafka_client import kafka_config
from ops.runtime.client_config import producer_config
from ops.runtime.kafka_output import KafkaOutput
from ops.runtime.messages import InputMessage
from ops.settings import Settings
from tests.integration.workers import read_topic
from topics.catalog import catalog_for
from topics.dead_letters import CHUNK, REPLAYED, DeadLetterEmitter, Failure
from topics.reader import ReadMessage

LETTERS = CHUNK * 2 + 500
SOURCE = "household.resident"


def test_a_dlq_of_several_chunks_is_listed_and_replayed_by_reason(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The commands run in this process: they read the test's settings as a run would its own.
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)
    output = KafkaOutput(Producer(producer_config(kafka_config(settings), "test-dlq")))
    emitter = DeadLetterEmitter(catalog, "standardize", output)
    origin = catalog.raw(SOURCE).name

    for i in range(LETTERS):
        reason = "citizen_id.check_digit" if i % 2 else "division.unknown"
        emitter.emit(InputMessage(origin, 0, i, b"key", f"original-{i}".encode()),
                     Failure("raw.rules", reason, "d", "RuleViolation"), now_ms=1,
                     dept="household", event_id=f"e{i}")
    output.flush()

    runner = CliRunner()
    listed = runner.invoke(app, ["dlq", "list"], env={"COLUMNS": "160"})
    assert listed.exit_code == 0, listed.output
    assert f"{LETTERS} events" in listed.output
    assert str(LETTERS // 2) in listed.output

    dry = runner.invoke(app, ["dlq", "replay", "--reason", "division.unknown", "--dry-run"])
    assert dry.exit_code == 0 and f"would replay {LETTERS // 2} events" in dry.output

    replayed = runner.invoke(app, ["dlq", "replay", "--reason", "division.unknown"])
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed {LETTERS // 2} events" in replayed.output
    back: list[ReadMessage] = read_topic(settings, origin)
    assert len(back) == LETTERS // 2
    assert {m.raw_value for m in back} == {f"original-{i}".encode()
                                          for i in range(0, LETTERS, 2)}
    assert all(REPLAYED in m.headers for m in back)

    nothing = runner.invoke(app, ["dlq", "replay", "--dept", "civil"])
    assert nothing.exit_code == 1
