"""The Debezium connector's configuration, rendered from a department table's declaration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.cdc import (
    ARTIFACT_STRATEGY,
    DatabaseEndpoint,
    RegistryEndpoint,
    SnapshotMode,
    connector_config,
    registry_api_url,
)
from govbus.wiring import cdc_connector
from ops.settings import Settings
from ops.stack.connect import secret_reference
from topics.cdc import DepartmentTable, department_table

TABLE = department_table("household.resident")
DATABASE = DatabaseEndpoint("127.0.0.1", 45432, "postgres", "${dir:/access/postgres:pw}")
REGISTRY = RegistryEndpoint("https://127.0.0.1:48081/apis/registry/v2", "connect",
                            "${dir:/access/users:connect.password}", Path("/access/tls/ca.pem"))


def _config(namespace: str = "", snapshot: SnapshotMode = SnapshotMode.INITIAL
            ) -> dict[str, str]:
    return connector_config(TABLE, f"{namespace}raw.household.resident", namespace, DATABASE,
                            REGISTRY, snapshot)


def test_the_stock_connector_reads_the_declared_table_with_pgoutput() -> None:
    config = _config()
    assert config["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert config["plugin.name"] == "pgoutput"
    assert config["database.dbname"] == "household"
    assert config["table.include.list"] == "public.hj_resident"
    assert config["database.password"] == "${dir:/access/postgres:pw}"
    assert config["decimal.handling.mode"] == "precise"
    assert config["time.precision.mode"] == "adaptive_time_microseconds"
    assert config["snapshot.mode"] == "initial"
    assert _config(snapshot=SnapshotMode.NO_DATA)["snapshot.mode"] == "no_data"


def test_debeziums_topic_is_routed_to_the_sources_raw_topic_and_nothing_else() -> None:
    config = _config("t1.")
    assert config["transforms"] == "route"
    assert config["transforms.route.type"] == "org.apache.kafka.connect.transforms.RegexRouter"
    pattern = re.compile(config["transforms.route.regex"])  # Java and Python agree on it
    assert pattern.fullmatch(f"{config['topic.prefix']}.public.hj_resident")
    assert not pattern.fullmatch("householdXpublic.hj_resident")
    assert config["transforms.route.replacement"] == "t1.raw.household.resident"


def test_slot_and_publication_are_named_per_namespace() -> None:
    assert _config()["slot.name"] == "govbus_household_resident"
    config = _config("t1a.")
    assert config["slot.name"] == config["publication.name"] == "govbus_t1a_household_resident"
    assert config["publication.autocreate.mode"] == "filtered"


def test_both_converters_carry_the_verified_registry_keys() -> None:
    config = _config()
    for side in ("key", "value"):
        prefix = f"{side}.converter"
        assert config[prefix] == "io.apicurio.registry.utils.converter.AvroConverter"
        assert config[f"{prefix}.apicurio.registry.as-confluent"] == "true"
        assert config[f"{prefix}.apicurio.registry.use-id"] == "contentId"
        assert config[f"{prefix}.apicurio.registry.headers.enabled"] == "false"
        assert config[f"{prefix}.apicurio.registry.auto-register"] == "true"
        assert config[f"{prefix}.apicurio.registry.dereference-schema"] == "true"
        assert config[f"{prefix}.apicurio.registry.artifact-resolver-strategy"] == (
            ARTIFACT_STRATEGY)
        assert config[f"{prefix}.apicurio.auth.username"] == "connect"
        assert config[f"{prefix}.apicurio.rest.request.ssl.ca-bundle.location"] == (
            "/access/tls/ca.pem")


def test_the_converter_talks_to_the_registrys_own_api() -> None:
    assert registry_api_url("https://127.0.0.1:18081/apis/ccompat/v7") == (
        "https://127.0.0.1:18081/apis/registry/v2")


def test_the_rendered_config_of_the_local_stack_holds_no_secret(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, registry_url="https://127.0.0.1:18081/apis/ccompat/v7")
    connect_password = settings.access_folder / "users" / "connect.password"
    connect_password.parent.mkdir(parents=True)
    connect_password.write_text("s3cret-connect")
    name, config = cdc_connector(settings, "household.resident")
    assert name == "govbus-cdc.household.resident"
    assert "s3cret-connect" not in repr(config)
    assert config["value.converter.apicurio.auth.password"] == secret_reference(
        connect_password)
    assert config["database.password"].startswith("${dir:")
    assert config["database.port"] == str(settings.postgres_port)


def test_a_declaration_must_name_real_govbus_fields() -> None:
    with pytest.raises(ValueError, match="renames name no field"):
        DepartmentTable("household.resident", "household", "t", ("id",),
                        renames={"xm": "no_such_field"})
    with pytest.raises(ValueError, match="not a source"):
        DepartmentTable("nowhere.table", "db", "t", ("id",))
    with pytest.raises(ValueError, match="plain lower-case identifier"):
        DepartmentTable("household.resident", "household", "Bad-Name", ("id",))
