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

from ops.kafka_client import SASL_MECHANISM, kafka_config
from ops.settings import Settings
from topics.principals import consumer, consumer_group


def subscriber_app(settings: Settings, dept: str, name: str, **options: Any) -> faust.App:
    """A faust app named ``<namespace>consumer-<dept>-<name>``, connecting as the department.

    ``settings``: the bus's settings as the department has them (bootstrap, CA, access
    folder); the principal is the department's whatever they name."""
    config = kafka_config(settings.model_copy(
        update={"kafka_user": consumer(dept), "kafka_password": None}))
    broker_options: dict[str, Any] = {}
    if config.get("security.protocol") == "SASL_SSL":
        broker_options["broker_credentials"] = faust.SASLCredentials(
            username=config["sasl.username"], password=config["sasl.password"],
            ssl_context=ssl.create_default_context(cafile=config["ssl.ca.location"]),
            mechanism=SASL_MECHANISM)
    return faust.App(
        f"{consumer_group(settings.topic_namespace, dept)}-{name}",
        broker=f"kafka://{config['bootstrap.servers']}",
        topic_disable_leader=True,
        **broker_options,
        **options,
    )
