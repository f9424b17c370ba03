"""A faust app already configured as a consuming department's principal.

The app connects over SASL_SSL with SCRAM as ``consumer-<dept>``, whose ACLs are READ on the
topics its subscriptions granted and on consumer groups starting with its name: so the app's
id (its group id) starts with that name, and it creates nothing on the broker. Faust's
leader-election topic needs CREATE, which a consumer is not given, so it is disabled; a
subscriber keeps its state outside Kafka (faust tables would need changelog topics too).
"""

from __future__ import annotations

import ssl
from typing import Any

import faust

from ops.kafka_client import SASL_MECHANISM, as_principal, kafka_config, registry_config
from ops.settings import Settings
from topics.principals import consumer, consumer_group
from topics.registry import SchemaRegistry


def department_settings(settings: Settings, dept: str) -> Settings:
    """The settings connecting as the department's principal: its password from
    ``GOVBUS_KAFKA_PASSWORD`` when ``GOVBUS_KAFKA_USER`` names it, else from the access
    folder."""
    return as_principal(settings, consumer(dept))


def subscriber_app(settings: Settings, dept: str, name: str, **options: Any) -> faust.App:
    """A faust app named ``<namespace>consumer-<dept>-<name>``, connecting as the department.

    ``settings``: the bus's settings as the department has them (bootstrap, CA, access
    folder); the principal is the department's whatever they name. faust's own data folder
    is under the state folder, and its web server is off (a subscriber serves nothing)."""
    config = kafka_config(department_settings(settings, dept))
    app_id = f"{consumer_group(settings.topic_namespace, dept)}-{name}"
    broker_options: dict[str, Any] = {}
    if config.get("security.protocol") == "SASL_SSL":
        broker_options["broker_credentials"] = faust.SASLCredentials(
            username=config["sasl.username"], password=config["sasl.password"],
            ssl_context=ssl.create_default_context(cafile=config["ssl.ca.location"]),
            mechanism=SASL_MECHANISM)
    datadir = settings.state_dir / "subscribers" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        "datadir": str(datadir),
        "web_enabled": False,
        "consumer_auto_offset_reset": "earliest",
    }
    return faust.App(
        app_id,
        broker=f"kafka://{config['bootstrap.servers']}",
        topic_disable_leader=True,
        **broker_options,
        **{**defaults, **options},
    )


def department_registry(settings: Settings, dept: str) -> SchemaRegistry:
    """The schema registry as the department (every principal may read it)."""
    return SchemaRegistry(registry_config(department_settings(settings, dept)))
