"""Applies the topic catalog to a cluster and its schemas to the registry, idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    TopicMetadata,
)

from topics.access_admin import AccessAdmin, AccessChange
from topics.catalog import Topic
from topics.principals import Principal
from topics.registry import SchemaRegistry


@dataclass(frozen=True)
class Change:
    """One thing `apply` did (or found already in place)."""

    topic: str
    action: str  # created | updated | unchanged | registered | user.* | acl.*
    detail: str = ""


class TopicAdmin:
    """Creates or updates topics and registers their key and value schemas."""

    def __init__(
        self,
        connection: Mapping[str, Any],
        registry: SchemaRegistry,
        compatibility: str,
        access: AccessAdmin | None = None,
        declared: tuple[Principal, ...] = (),
        replication: int = 1,
        min_insync: int = 1,
    ) -> None:
        # Quiet: every failure reaches the caller as an exception; the client's own log
        # repeated an unreachable broker many times a second on stderr.
        self.admin = AdminClient({**connection, "log_level": 0})
        self.registry = registry
        self.compatibility = compatibility
        # The cluster's, not a topic's: every topic gets as many copies, and a write with
        # acks=all waits for min_insync of them.
        self.replication = replication
        self.min_insync = min_insync
        # With security on, the principals' users and ACLs are applied with the topics.
        self.access = access
        self.declared = declared
        # The last apply's user and ACL changes, for the audit trail.
        self.access_changes: list[AccessChange] = []

    def apply(self, topics: Iterable[Topic], timeout_s: float = 30.0) -> list[Change]:
        wanted = list(topics)
        existing = self.admin.list_topics(timeout=timeout_s).topics
        changes: list[Change] = []
        to_create = [t for t in wanted if t.name not in existing]
        if to_create:
            futures = self.admin.create_topics(
                [
                    NewTopic(t.name, t.partitions, self.replication, config=self._config(t))
                    for t in to_create
                ],
                operation_timeout=timeout_s,
            )
            for name, future in futures.items():
                future.result()
                changes.append(Change(name, "created"))
        for topic in wanted:
            if topic.name in existing:
                changes.append(self._reconcile(topic, existing[topic.name]))
            changes.extend(self._register(topic))
        if self.access is not None:
            done = [*self.access.ensure_users(self.declared),
                    *self.access.apply_acls(self.declared)]
            self.access_changes = done
            changes.extend(Change(c.principal, c.kind, f"{c.action} {c.resource}".strip())
                           for c in done)
            written = self.access.apply_registry_grants(self.declared)
            changes.extend(Change(name, "registry.writes", f"{count} artifacts")
                           for name, count in written.items())
        return changes

    def missing(self, topics: Iterable[Topic], timeout_s: float = 10.0) -> list[str]:
        """Names of ``topics`` the cluster does not have."""
        existing = self.admin.list_topics(timeout=timeout_s).topics
        return [t.name for t in topics if t.name not in existing]

    def _config(self, topic: Topic) -> dict[str, str]:
        return {"min.insync.replicas": str(self.min_insync), **topic.kafka_config()}

    def _reconcile(self, topic: Topic, found: TopicMetadata, timeout_s: float = 30.0) -> Change:
        details = []
        partitions = len(found.partitions)
        replicas = min((len(p.replicas) for p in found.partitions.values()), default=0)
        if replicas != self.replication:
            # Changing it takes a partition reassignment, which apply does not do.
            details.append(f"has {replicas} replicas, the cluster's topics {self.replication}")
        if partitions < topic.partitions:
            self.admin.create_partitions([NewPartitions(topic.name, topic.partitions)])[
                topic.name
            ].result()
            details.append(f"partitions {partitions}->{topic.partitions}")
        elif partitions > topic.partitions:
            # Kafka cannot shrink a topic; say so rather than pretend.
            details.append(f"has {partitions} partitions, catalog says {topic.partitions}")
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic.name)
        current = self.admin.describe_configs([resource])[resource].result(timeout=timeout_s)
        drift = {
            key: value
            for key, value in self._config(topic).items()
            if key not in current or current[key].value != value
        }
        if drift:
            resource = ConfigResource(
                ConfigResource.Type.TOPIC,
                topic.name,
                incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                    for k, v in drift.items()
                ],
            )
            self.admin.incremental_alter_configs([resource])[resource].result(timeout=timeout_s)
            details.append("config " + ", ".join(f"{k}={v}" for k, v in drift.items()))
        return Change(topic.name, "updated" if details else "unchanged", "; ".join(details))

    def _register(self, topic: Topic) -> list[Change]:
        changes = []
        for subject, schema_of in (
            (topic.key_subject, topic.key_schema),
            (topic.value_subject, topic.value_schema),
        ):
            if schema_of is None:
                continue
            schema_id = self.registry.register(subject, schema_of(), self.compatibility)
            changes.append(Change(topic.name, "registered", f"{subject} id {schema_id}"))
        return changes

    def delete(self, names: Iterable[str], timeout_s: float = 30.0) -> None:
        """Delete topics (tests and `topics reset`); absent ones are ignored."""
        futures = self.admin.delete_topics(list(names), operation_timeout=timeout_s)
        for future in futures.values():
            try:
                future.result()
            except KafkaException as exc:
                if "UNKNOWN_TOPIC_OR_PART" not in str(exc):
                    raise
