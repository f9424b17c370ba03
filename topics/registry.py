"""The schema registry, through its Confluent REST API.

confluent-kafka's own ``SchemaRegistryClient`` does the talking, so what govbus registers is
what any standard client (Kafka Connect, Debezium, confluent-kafka) reads.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import authlib.deprecate  # noqa: F401 — imported first: it installs an "always" filter we override

warnings.filterwarnings("ignore", message="The httpx module is deprecated")

from confluent_kafka.schema_registry import Schema as RegistrySchema  # noqa: E402
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.common._httpx_compat import (  # noqa: E402
    httpx as client_http,  # the client's own HTTP library (httpx2, else httpx): its errors
)
from confluent_kafka.schema_registry.error import SchemaRegistryError  # noqa: E402

from topics.patience import patiently  # noqa: E402
from topics.schemas import Schema, schema_text  # noqa: E402
from topics.serde import SchemaNotFoundError  # noqa: E402

# Statuses of a registry that is busy or away (behind its door) rather than answering.
_UNAVAILABLE = (408, 429, 500, 502, 503, 504)


class IncompatibleSchemaError(RuntimeError):
    """The registry refused a schema under the subject's compatibility rule."""


class SchemaRegistry:
    """Registers and looks up schemas by subject and id."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        """``config``: the client's configuration (url, credentials, CA), from the settings."""
        self.url = str(config["url"])
        self.client = SchemaRegistryClient(dict(config))

    def register(self, subject: str, schema: Schema, compatibility: str | None = None) -> int:
        """Register (idempotently) and return the schema id.

        The compatibility level is set before registering, so the very first version is
        already held to it when the next one arrives. While the registry does not answer
        (refused, timed out, 5xx) the call waits for it (topics/patience.py): a publisher or
        worker starting during an outage starts once it is back.
        """
        return patiently(lambda: self._register(subject, schema, compatibility),
                         f"registering {subject}", settled=lambda exc: not _unavailable(exc))

    def _register(self, subject: str, schema: Schema, compatibility: str | None) -> int:
        # Set only when it differs: changing it is the admin's alone behind the registry's
        # door, while every principal registers (looks up) its schemas at start.
        if compatibility is not None and self.compatibility(subject) != compatibility:
            self.set_compatibility(subject, compatibility)
        try:
            return int(
                self.client.register_schema(subject, RegistrySchema(schema_text(schema), "AVRO"))
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 409:
                raise IncompatibleSchemaError(f"{subject}: {exc.error_message}") from exc
            raise

    def set_compatibility(self, subject: str, level: str) -> None:
        self.client.set_compatibility(subject_name=subject, level=level)

    def compatibility(self, subject: str) -> str | None:
        try:
            return str(self.client.get_compatibility(subject))
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise

    def latest(self, subject: str) -> str:
        """The text of the subject's latest version (KeyError when it has none)."""
        try:
            return str(self.client.get_latest_version(subject).schema.schema_str)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise KeyError(f"the registry has no subject {subject!r}") from exc
            raise

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text registered under an id (cached by the client); SchemaNotFoundError
        when the registry has none, any other error when it did not answer."""
        try:
            return str(self.client.get_schema(schema_id).schema_str)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise SchemaNotFoundError(schema_id) from exc
            raise


def _unavailable(exc: Exception) -> bool:
    """The registry is away (no connection, a timeout) or busy: asking again may help. Any
    other error is its answer (or a fault of ours), which asking again does not change."""
    if isinstance(exc, SchemaRegistryError):
        return exc.http_status_code in _UNAVAILABLE
    return isinstance(exc, client_http.TransportError)
