"""The per-event faust baseline of `govbus bench e2e`: its wiring, without a broker."""

from __future__ import annotations

from typing import Any

import pytest

from govbus.bench import faust_baseline
from ops.settings import Settings
from tests.doubles import MemoryRegistry
from topics.catalog import Layer, catalog_for


def test_outbox_hands_out_what_one_event_produced() -> None:
    outbox = faust_baseline.Outbox()
    outbox.produce("a", b"k", b"v")
    outbox.produce("b", None, None, [("h", "x")], partition=2)
    assert outbox.take() == [("a", b"k", b"v", None, None),
                             ("b", None, None, [("h", "x")], 2)]
    assert outbox.take() == []


def test_headers_become_bytes_for_faust() -> None:
    assert faust_baseline.faust_headers(None) is None
    assert faust_baseline.faust_headers([("a", "x"), ("b", b"y"), ("c", None)]) == [
        ("a", b"x"), ("b", b"y"), ("c", b"")
    ]


def test_app_has_one_per_event_agent_per_hop(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Any) -> None:
    monkeypatch.setattr(faust_baseline, "SchemaRegistry", MemoryRegistry)
    # Plaintext: the app is only built here, it never connects (no CA to trust).
    settings = Settings(state_dir=tmp_path, topic_namespace="unit.", kafka_security="plaintext")
    app = faust_baseline.create_baseline_app(settings)
    assert faust_baseline.app_id(settings) == "govbus-unit-baseline"
    subscribed = {name.rsplit(".", 1)[-1]: set(agent.channel.topics)
                  for name, agent in app.agents.items()}
    assert subscribed == {
        "standardize": {t.name for t in catalog_for(settings).by_layer(Layer.RAW)},
        "theme": {t.name for t in catalog_for(settings).by_layer(Layer.FACT)},
    }
