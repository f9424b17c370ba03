"""Subscriptions to catalog resources: a department asks, the rules or the provider decide.

The rules (政务信息资源共享管理暂行办法):
- a 无条件 resource is granted at once;
- a 有条件 resource waits for its provider, who decides within 10 working days: it is
  granted (under the resource's conditions) or rejected with a reason; past the due date an
  undecided request is overdue (metric, alert);
- a 不予共享 resource (every raw topic among them) is rejected at once, with its legal basis.
A granted subscription may be revoked, with a reason. Every change is a new revision of the
subscription, written to the compacted subscriptions topic, which is the one source of the
consumers' grants: a granted subscription is READ on the resource's topic for the consuming
department's principal (``topics/principals.py``).

Everything here is pure; ``govbus/sharing.py`` reads and writes the topic and the ACLs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any, Final

from topics.resource_catalog import Resource
from topics.sharing import SharingType
from topics.working_days import add_working_days

DECISION_WORKING_DAYS: Final = 10
RULE: Final = "rule"  # decided_by of the decisions the sharing type makes by itself
# The platform's operator, who may withdraw any grant (a breach, a department dissolved) but
# decides no request: deciding is the provider's, a reviewer role apart from operation.
OPERATOR: Final = "govbus"
# Due dates count working days in the city's time (UTC+8, no daylight saving).
CITY_TIME: Final = dt.timezone(dt.timedelta(hours=8))


class Status(StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"
    REJECTED = "rejected"
    REVOKED = "revoked"


class SubscriptionError(ValueError):
    """A request or decision the workflow does not allow (the message is one line)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    resource_code: str
    topic: str  # without the namespace
    provider: str
    consumer: str
    purpose: str
    sharing: str
    status: str
    reason: str
    decided_by: str
    requested_ms: int
    due_ms: int | None
    decided_ms: int | None
    version: int
    source_ts_ms: int

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Subscription:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})

    def overdue(self, now_ms: int) -> bool:
        return self.status == Status.REQUESTED and self.due_ms is not None and now_ms > self.due_ms


def due_ms(requested_ms: int) -> int:
    """The end of the 10th working day after the request, in the city's time."""
    day = dt.datetime.fromtimestamp(requested_ms / 1000, CITY_TIME).date()
    due = add_working_days(day, DECISION_WORKING_DAYS)
    end = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(), CITY_TIME)
    return int(end.timestamp() * 1000) - 1


def request(resource: Resource, consumer: str, purpose: str, subscription_id: str,
            now_ms: int, namespace: str = "") -> Subscription:
    """A new subscription, decided at once where the sharing type decides it."""
    if not purpose.strip():
        raise SubscriptionError("a request states its purpose (用途)")
    if consumer == resource.provider.dept:
        raise SubscriptionError(f"{consumer} provides {resource.code}: nothing to request")
    sharing = resource.sharing
    base = Subscription(
        subscription_id=subscription_id, resource_code=resource.code,
        topic=resource.topic.removeprefix(namespace), provider=resource.provider.dept,
        consumer=consumer, purpose=purpose.strip(), sharing=str(sharing),
        status=Status.REQUESTED, reason="", decided_by="", requested_ms=now_ms, due_ms=None,
        decided_ms=None, version=1, source_ts_ms=now_ms,
    )
    if sharing is SharingType.UNCONDITIONAL:
        return replace(base, status=Status.GRANTED, decided_by=RULE, decided_ms=now_ms)
    if sharing is SharingType.NOT_SHARED:
        return replace(base, status=Status.REJECTED, decided_by=RULE, decided_ms=now_ms,
                       reason=f"不予共享: {resource.terms.basis}")
    return replace(base, due_ms=due_ms(now_ms), reason=resource.terms.conditions or "")


def decide(subscription: Subscription, provider: str, grant: bool, reason: str,
           now_ms: int) -> Subscription:
    """The provider's decision on a waiting request; a rejection needs its reason."""
    if subscription.status != Status.REQUESTED:
        raise SubscriptionError(
            f"{subscription.subscription_id} is {subscription.status}, not waiting for a decision")
    if provider != subscription.provider:
        raise SubscriptionError(f"{subscription.resource_code} is {subscription.provider}'s "
                                f"to decide, not {provider}'s")
    if not grant and not reason.strip():
        raise SubscriptionError("a rejection states its reason")
    return _next(subscription, Status.GRANTED if grant else Status.REJECTED,
                 reason.strip() or subscription.reason, provider, now_ms)


def revoke(subscription: Subscription, by: str, reason: str, now_ms: int) -> Subscription:
    if subscription.status != Status.GRANTED:
        raise SubscriptionError(
            f"{subscription.subscription_id} is {subscription.status}: only a grant is revoked")
    if by not in (subscription.provider, subscription.consumer, OPERATOR):
        raise SubscriptionError(f"{subscription.subscription_id} is revoked by its provider "
                                f"{subscription.provider}, its consumer or {OPERATOR}, "
                                f"not {by}")
    if not reason.strip():
        raise SubscriptionError("a revocation states its reason")
    return _next(subscription, Status.REVOKED, reason.strip(), by, now_ms)


def _next(subscription: Subscription, status: Status, reason: str, by: str,
          now_ms: int) -> Subscription:
    return replace(subscription, status=status, reason=reason, decided_by=by, decided_ms=now_ms,
                   version=subscription.version + 1, source_ts_ms=now_ms)


def granted_topics(subscriptions: Iterable[Subscription]) -> dict[str, frozenset[str]]:
    """Per consuming department, the topics (without the namespace) it holds a grant on."""
    granted: dict[str, set[str]] = {}
    for subscription in subscriptions:
        if subscription.status == Status.GRANTED:
            granted.setdefault(subscription.consumer, set()).add(subscription.topic)
    return {consumer: frozenset(topics) for consumer, topics in granted.items()}


def latest(records: Iterable[Mapping[str, Any]]) -> dict[str, Subscription]:
    """The newest revision of each subscription among the records (a compacted topic may
    still hold older ones)."""
    found: dict[str, Subscription] = {}
    for record in records:
        item = Subscription.from_record(record)
        held = found.get(item.subscription_id)
        if held is None or item.version > held.version:
            found[item.subscription_id] = item
    return found
