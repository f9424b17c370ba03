"""The one place that turns settings into a Kafka client's connection configuration.

Every client of the bus spreads ``kafka_config(settings)`` into its own configuration, so
bootstrap, TLS trust and SASL credentials are decided here alone. The principal is the
settings' ``kafka_user``: the command line sets it per command with ``as_principal``.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import SecretStr

from ops.access import AccessError, AccessFolder
from ops.settings import Settings

SASL_MECHANISM = "SCRAM-SHA-512"


def as_principal(settings: Settings, principal: str) -> Settings:
    """The same settings, connecting as another principal (its password from the folder)."""
    if settings.kafka_user == principal:
        return settings
    return settings.model_copy(update={"kafka_user": principal, "kafka_password": None})


def kafka_config(settings: Settings) -> dict[str, Any]:
    """bootstrap.servers plus the security settings of the settings' principal."""
    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_servers}
    if not settings.secure:
        return config
    user = _principal(settings, "Kafka")
    access = AccessFolder(settings)
    if not access.ca_file.exists():
        raise AccessError(
            f"no CA certificate at {access.ca_file}: run `govbus stack up` for the local one, "
            "or point GOVBUS_KAFKA_CA_FILE at the cluster's"
        )
    return {
        **config,
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": SASL_MECHANISM,
        "sasl.username": user,
        "sasl.password": password_of(settings, user).get_secret_value(),
        "ssl.ca.location": str(access.ca_file),
    }


def registry_config(settings: Settings) -> dict[str, Any]:
    """The schema registry client's configuration: the URL and, with security on, the
    principal's basic credentials (the registry's door takes the broker's passwords)."""
    config: dict[str, Any] = {"url": settings.registry_url}
    if not settings.secure:
        return config
    user = _principal(settings, "the schema registry")
    config["basic.auth.user.info"] = f"{user}:{password_of(settings, user).get_secret_value()}"
    if settings.registry_url.startswith("https"):
        config["ssl.ca.location"] = str(AccessFolder(settings).ca_file)
    return config


def _principal(settings: Settings, service: str) -> str:
    if not settings.kafka_user:
        raise AccessError(f"no principal chosen for {service}: set GOVBUS_KAFKA_USER")
    return settings.kafka_user


def password_of(settings: Settings, user: str) -> SecretStr:
    if settings.kafka_password is not None and settings.kafka_user == user:
        return settings.kafka_password
    return AccessFolder(settings).password(user)


class KafkaAccessError(RuntimeError):
    """The broker could not be reached, or refused this client's trust or credentials."""


def check_connection(settings: Settings, timeout_s: float = 10.0) -> None:
    """Connect once, quietly; a refusal becomes one line naming its cause.

    librdkafka retries a failed handshake forever and logs every attempt; checking at start
    turns that storm into a single KafkaAccessError before any long-lived client exists.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list[KafkaError] = []
    config = {**kafka_config(settings), "log_level": 0, "error_cb": errors.append}
    admin = AdminClient(config)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=1.0)
            return
        except KafkaException as exc:
            admin.poll(0.1)  # serves the error callbacks that say why
            refused = any(e.code() in _REFUSALS for e in errors)
            if refused or time.monotonic() >= deadline:
                raise KafkaAccessError(describe_refusal(settings, [*errors, exc.args[0]])) from None


def _refusal_codes() -> frozenset[int]:
    from confluent_kafka import KafkaError

    return frozenset({KafkaError._AUTHENTICATION, KafkaError._SSL})


_REFUSALS = _refusal_codes()


def describe_refusal(settings: Settings, errors: list[Any]) -> str:
    """One line for the most telling of a client's connection errors."""
    from confluent_kafka import KafkaError

    where = f"Kafka at {settings.kafka_servers}"
    who = f" as {settings.kafka_user!r}" if settings.secure else ""
    for error in errors:
        code = error.code() if isinstance(error, KafkaError) else None
        text = error.str() if isinstance(error, KafkaError) else str(error)
        if "certificate verify failed" in text:
            ca_file = AccessFolder(settings).ca_file
            return f"TLS to {where} failed: its certificate is not signed by a CA in {ca_file}"
        if code == KafkaError._AUTHENTICATION:
            return f"{where} refused the credentials{who}: wrong password or unknown user"
        if code == KafkaError._SSL:
            return f"TLS to {where} failed: {_reason(text)}"
    first = errors[0] if errors else None
    detail = first.str() if isinstance(first, KafkaError) else str(first)
    return f"cannot reach {where}{who}: {_reason(detail)}"


def _reason(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no answer"
