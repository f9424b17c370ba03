"""The Kafka Connect worker's configuration: its own principal over SASL_SSL with the stack's
CA, its storage topics as the catalog names them, and no secret in its files."""

from __future__ import annotations

from pathlib import Path

from ops.settings import Settings
from ops.stack.connect import ConnectWorker, render_properties
from topics.catalog import Layer, catalog_for


def test_the_worker_connects_as_connect_and_writes_no_secret(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    worker = ConnectWorker(settings)
    password = worker.access.new_password("connect").get_secret_value()
    config = worker.worker_config()
    text = render_properties(config)
    assert password not in text
    for prefix in ("", "producer.", "consumer.", "admin."):
        assert config[f"{prefix}security.protocol"] == "SASL_SSL"
        assert config[f"{prefix}ssl.truststore.location"] == str(worker.access.ca_file)
        assert 'username="connect"' in config[f"{prefix}sasl.jaas.config"]
        assert f"${{dir:{tmp_path / 'access' / 'users'}:connect.password}}" in config[
            f"{prefix}sasl.jaas.config"]
    assert config["topic.creation.enable"] == "false"


def test_its_storage_topics_are_the_catalogs() -> None:
    settings = Settings(topic_namespace="unit.")
    config = ConnectWorker(settings).worker_config()
    stored = {config[f"{kind}.storage.topic"] for kind in ("config", "offset", "status")}
    assert stored == {t.name for t in catalog_for(settings).by_layer(Layer.CONNECT)}


def test_a_connector_added_here_brings_the_worker_back_on_stack_up(tmp_path: Path) -> None:
    worker = ConnectWorker(Settings(state_dir=tmp_path))
    assert worker.configured() == []
    worker.mark_configured("govbus-cdc.household.resident", True)
    assert worker.configured() == ["govbus-cdc.household.resident"]
    worker.mark_configured("govbus-cdc.household.resident", False)
    assert worker.configured() == []
