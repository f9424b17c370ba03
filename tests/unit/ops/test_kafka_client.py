"""Connection configuration from settings: one place, secrets from the access folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from ops.access import AccessError, AccessFolder
from ops.kafka_client import as_principal, kafka_config
from ops.settings import Settings


def test_plaintext_is_an_explicit_opt_in(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_security="plaintext")
    assert kafka_config(settings) == {"bootstrap.servers": settings.kafka_bootstrap}
    assert Settings(state_dir=tmp_path).kafka_security == "sasl_ssl"


def test_a_principal_reads_its_password_from_the_access_folder(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    access = AccessFolder(settings)
    access.tls.folder.mkdir(parents=True)
    access.tls.ca_cert.write_text("CA")
    password = access.new_password("sink")
    assert oct(access.password_file("sink").stat().st_mode & 0o777) == "0o600"
    config = kafka_config(as_principal(settings, "sink"))
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == "sink"
    assert config["sasl.password"] == password.get_secret_value()
    assert config["ssl.ca.location"] == str(access.tls.ca_cert)


def test_a_given_password_wins_for_its_user_only(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_user="x", kafka_password=SecretStr("given"))
    AccessFolder(settings).tls.folder.mkdir(parents=True)
    AccessFolder(settings).tls.ca_cert.write_text("CA")
    assert kafka_config(settings)["sasl.password"] == "given"
    with pytest.raises(AccessError, match="no password for principal 'sink'"):
        kafka_config(as_principal(settings, "sink"))


def test_no_ca_is_one_clear_error(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_user="sink")
    with pytest.raises(AccessError, match="no CA certificate"):
        kafka_config(settings)
