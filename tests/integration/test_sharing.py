"""The subscription workflow on the real broker, over SASL_SSL: a department's grants come
from its subscriptions and go with them; raw data is rejected with its basis; a 有条件 request
waits for its provider; every step is audited."""

from __future__ import annotations

from confluent_kafka import KafkaError

from govbus.sharing import decide_request, read_subscriptions, revoke_grant, submit, sync_acls
from govbus.wiring import access_admin, admin_settings, registry, topic_admin
from ops.kafka_client import kafka_config
from ops.settings import Settings
from tests.integration.test_access import read_error
from topics.catalog import catalog_for
from topics.principals import (
    Grant,
    Match,
    Operation,
    Principal,
    ResourceKind,
    consumer,
    consumer_group,
)
from topics.reader import TopicReader

CIVIL = "civil"


def consumer_reads(settings: Settings, topic: str) -> frozenset[Grant]:
    name = catalog_for(settings).by_name(topic).name
    return frozenset(Grant(ResourceKind.TOPIC, Match.LITERAL, name, op)
                     for op in (Operation.READ, Operation.DESCRIBE))


def denied(settings: Settings, topic: str) -> bool:
    error = read_error(settings, consumer(CIVIL), catalog_for(settings).by_name(topic).name,
                       f"{consumer_group(settings.topic_namespace, CIVIL)}-app")
    return error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_grants_follow_the_subscriptions(settings: Settings) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)

    raw = submit(settings, "raw.household.resident", CIVIL, "婚姻登记身份核验")
    assert raw.status == "rejected" and raw.reason.startswith("不予共享")

    open_data = submit(settings, "theme.organization", CIVIL, "婚姻登记核验法人信息")
    assert open_data.status == "granted"
    assert not denied(settings, "theme.organization")
    assert denied(settings, "std.household.resident")

    waiting = submit(settings, "std.household.resident", CIVIL, "婚姻登记身份核验")
    assert waiting.status == "requested" and waiting.due_ms is not None
    assert denied(settings, "std.household.resident")
    decide_request(settings, waiting.subscription_id, "household", True, "")
    assert not denied(settings, "std.household.resident")

    # `topics apply` keeps what the subscriptions grant ...
    from govbus.sharing import subscribed

    topic_admin(settings, subscribed(settings)).apply(catalog.all)
    assert not denied(settings, "theme.organization")
    # ... and a revocation takes it away at the next fetch.
    revoke_grant(settings, open_data.subscription_id, "govbus", "用途已完成")
    assert denied(settings, "theme.organization")
    # Drift: a grant no subscription names (made by hand) is revoked by `acl sync`, and one
    # the broker lost is granted back.
    access = access_admin(settings)
    stray = Principal(consumer(CIVIL), "drift", consumer_reads(settings, "theme.organization"))
    access.apply_acls([stray])
    assert not denied(settings, "theme.organization")
    access.revoke_declared([Principal(consumer(CIVIL), "drift",
                                      consumer_reads(settings, "std.household.resident"))])
    assert denied(settings, "std.household.resident")
    changes = sync_acls(settings)
    assert {c.kind for c in changes} == {"acl.granted", "acl.revoked"}
    assert denied(settings, "theme.organization")
    assert not denied(settings, "std.household.resident")
    assert sync_acls(settings) == []

    assert {s.status for s in read_subscriptions(settings).values()} == {
        "rejected", "granted", "revoked"}

    admin = admin_settings(settings)
    kinds = [m.value["kind"] for m in TopicReader(kafka_config(admin), registry(admin),
                                                   catalog.audit.name).messages_to_end()
             if m.value is not None]
    assert {"sharing.rejected", "sharing.granted", "sharing.requested", "sharing.revoked",
            "acl.granted", "acl.revoked"} <= set(kinds)
