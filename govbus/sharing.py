"""The subscription workflow on the bus: decisions written to the subscriptions topic, grants
turned into the consuming department's ACLs, each step audited.

The operator's commands act as the admin principal (only the admin changes ACLs); who
decided is recorded in the subscription (the provider department, or the rule).
"""

from __future__ import annotations

import time
import uuid

from govbus.resource_catalog import resource_catalog
from govbus.wiring import (
    access_admin,
    admin_settings,
    audit_changes,
    audit_trail,
    registry,
    write_as_admin,
)
from ops.kafka_client import kafka_config
from ops.settings import Settings
from topics.access_admin import AccessChange, revoked
from topics.audit import AuditEvent
from topics.catalog import catalog_for
from topics.principals import ADMIN, Principal, consumer, principals
from topics.reader import TopicReader
from topics.sharing import read_declaration
from topics.subscriptions import (
    Subscription,
    SubscriptionError,
    decide,
    granted_topics,
    latest,
    request,
    revoke,
)


def read_subscriptions(settings: Settings) -> dict[str, Subscription]:
    """Every subscription's latest revision (none while the topic does not exist yet)."""
    admin = admin_settings(settings)
    try:
        reader = TopicReader(kafka_config(admin), registry(admin),
                             catalog_for(settings).subscriptions.name)
    except KeyError:
        return {}
    return latest(m.value for m in reader.messages_to_end() if m.value is not None)


def subscribed(settings: Settings) -> dict[str, frozenset[str]]:
    """Per consuming department, the topics its granted subscriptions name."""
    return granted_topics(read_subscriptions(settings).values())


def submit(settings: Settings, resource: str, dept: str, purpose: str) -> Subscription:
    """A department's request, decided at once where the resource's sharing type decides."""
    departments = read_declaration().providers
    if dept not in departments:
        raise SubscriptionError(f"no department {dept!r} (declared: {', '.join(departments)})")
    found = resource_catalog(settings).find(resource, settings.topic_namespace)
    made = request(found, dept, purpose, uuid.uuid4().hex[:12], _now_ms(),
                   settings.topic_namespace)
    _record(settings, made, f"sharing.{made.status}")
    return made


def decide_request(settings: Settings, subscription_id: str, provider: str, grant: bool,
                   reason: str) -> Subscription:
    decided = decide(_find(settings, subscription_id), provider, grant, reason, _now_ms())
    _record(settings, decided, f"sharing.{decided.status}")
    return decided


def revoke_grant(settings: Settings, subscription_id: str, by: str, reason: str
                 ) -> Subscription:
    revoked = revoke(_find(settings, subscription_id), by, reason, _now_ms())
    _record(settings, revoked, "sharing.revoked")
    return revoked


def _find(settings: Settings, subscription_id: str) -> Subscription:
    found = read_subscriptions(settings).get(subscription_id)
    if found is None:
        raise SubscriptionError(
            f"no subscription {subscription_id!r} (see `govbus subscribe list`)")
    return found


def _record(settings: Settings, subscription: Subscription, kind: str) -> None:
    """The new revision on the topic, then the consumer's ACLs made to agree with every
    grant the topic now holds, then the audit events of both."""
    before = read_subscriptions(settings)
    _write(settings, subscription)
    after = {**before, subscription.subscription_id: subscription}
    changes = _align_acls(settings, subscription.consumer,
                          granted_topics(before.values()), granted_topics(after.values()))
    trail = audit_trail(admin_settings(settings))
    trail.record([
        AuditEvent(kind=kind, principal=subscription.decided_by or subscription.consumer,
                   action=f"{subscription.status} {subscription.topic} for "
                          f"{subscription.consumer}: {subscription.purpose}"[:300],
                   resource=subscription.resource_code, detail=subscription.reason[:300]),
        *(AuditEvent(kind=c.kind, principal=ADMIN, action=c.action,
                     resource=f"{c.principal} {c.resource}".strip()) for c in changes),
    ])
    trail.flush()


def _write(settings: Settings, subscription: Subscription) -> None:
    write_as_admin(settings, catalog_for(settings).subscriptions,
                   [(subscription.subscription_id, subscription.record(), None)])


def _align_acls(settings: Settings, dept: str, before: dict[str, frozenset[str]],
                after: dict[str, frozenset[str]]) -> list[AccessChange]:
    """The department's principal granted what its subscriptions grant now, no more."""
    if not settings.secure:
        return []
    access = access_admin(settings)
    wanted = _consumer_principal(settings, dept, after)
    changes = [*access.ensure_users([wanted]), *access.apply_acls([wanted])]
    # apply_acls revokes only on resources the declaration still names; a topic no grant
    # names any more is revoked here.
    held = _consumer_principal(settings, dept, before)
    gone = held.grants - wanted.grants
    if gone:
        access.revoke_declared([Principal(wanted.name, wanted.role, frozenset(gone))])
        changes += [revoked(wanted.kafka_principal, g) for g in sorted(gone)]
    return changes


def sync_acls(settings: Settings) -> list[AccessChange]:
    """Repair drift between the grants and the broker: every principal's users and ACLs made
    what the declaration and the subscriptions say, an ACL on a catalog topic that no grant
    names revoked (a hand-made grant, a revocation that did not finish); each change audited."""
    if not settings.secure:
        return []
    access = access_admin(settings)
    declared = principals(settings, subscribed(settings))
    owned = (t.name for t in catalog_for(settings).all)
    changes = [*access.ensure_users(declared), *access.apply_acls(declared, owned_topics=owned)]
    audit_changes(settings, changes)
    return changes


def _consumer_principal(settings: Settings, dept: str, granted: dict[str, frozenset[str]]
                        ) -> Principal:
    name = consumer(dept)
    return next(p for p in principals(settings, granted) if p.name == name)


def _now_ms() -> int:
    return int(time.time() * 1000)
