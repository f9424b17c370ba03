"""Access on the real broker, over SASL_SSL: every principal gets what topics/principals.py
grants and nothing else; wrong credentials and plaintext are refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from govbus.wiring import topic_admin
from ops.kafka_client import KafkaAccessError, as_principal, check_connection, kafka_config
from ops.settings import Settings
from topics.catalog import Layer, catalog_for
from topics.principals import SUBSCRIBER, THEME_WORKER, publisher, worker_group


@pytest.fixture
def applied(settings: Settings) -> Settings:
    assert settings.secure, "the integration stack runs with security on"
    topic_admin(settings).apply(catalog_for(settings).all)
    return settings


def read_error(settings: Settings, principal: str, topic: str, group: str) -> KafkaError | None:
    """The first error a consumer of ``topic`` as ``principal``, in a consumer group it may
    use, gets (None: it may read). A new broker may still be electing the group's
    coordinator: such an answer is asked again, with a new consumer, for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        error = _first_error(settings, principal, topic, group)
        transient = error is not None and (
            error.retriable() or error.code() == KafkaError.NOT_COORDINATOR)
        if not transient or time.monotonic() > deadline:
            return error
        time.sleep(1)


def _first_error(settings: Settings, principal: str, topic: str, group: str
                 ) -> KafkaError | None:
    config = kafka_config(as_principal(settings, principal))
    # The end of an empty partition is a fetch the broker allowed: no need to wait for
    # a message that will not come.
    consumer = Consumer({**config, "group.id": group,
                         "log_level": 0, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, 0)])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error: KafkaError | None = message.error()
            return None if error is not None and error.code() == KafkaError._PARTITION_EOF \
                else error
        return None
    finally:
        consumer.close()


def produce_error(settings: Settings, principal: str, topic: str) -> KafkaError | None:
    config = kafka_config(as_principal(settings, principal))
    errors: list[KafkaError] = []
    producer = Producer({**config, "log_level": 0, "message.timeout.ms": 15_000})

    def delivered(error: KafkaError | None, _message: Any) -> None:
        if error is not None:
            errors.append(error)

    producer.produce(topic, b"intruder", on_delivery=delivered)
    producer.flush(20)
    return errors[0] if errors else None


def test_a_subscriber_cannot_read_any_raw_topic(applied: Settings) -> None:
    for topic in catalog_for(applied).by_layer(Layer.RAW):
        error = read_error(applied, SUBSCRIBER, topic.name,
                           f"{applied.topic_namespace}subscriber-probe")
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (
            topic.name, error)


def test_the_theme_worker_cannot_read_raw(applied: Settings) -> None:
    group = worker_group(applied.topic_namespace, "theme")
    raw = catalog_for(applied).raw("household.resident").name
    error = read_error(applied, THEME_WORKER, raw, group)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_department_cannot_write_to_another_departments_raw_topic(applied: Settings) -> None:
    other = catalog_for(applied).raw("market.enterprise").name
    error = produce_error(applied, publisher("household"), other)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # ... while its own raw topic takes the same bytes.
    own = catalog_for(applied).raw("household.resident").name
    assert produce_error(applied, publisher("household"), own) is None


def test_a_wrong_password_is_refused_in_one_line(stack: Settings) -> None:
    wrong = stack.model_copy(update={"kafka_user": SUBSCRIBER,
                                     "kafka_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaAccessError, match="refused the credentials as 'subscriber'"):
        check_connection(wrong)


def test_a_client_without_the_ca_is_refused_in_one_line(stack: Settings) -> None:
    system_cas = Path("/etc/ssl/certs/ca-certificates.crt")
    if not system_cas.exists():
        pytest.skip("no system CA bundle to stand for a wrong trust store")
    untrusting = stack.model_copy(update={"kafka_ca_file": system_cas})
    with pytest.raises(KafkaAccessError, match="not signed by a CA"):
        check_connection(untrusting)


def test_a_plaintext_connection_to_the_client_port_is_refused(stack: Settings) -> None:
    # Deliberately plaintext: the one test that speaks it, to see the broker refuse it.
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap, "log_level": 0})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
