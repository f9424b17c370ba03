"""Applies the principals' grants as broker ACLs and manages their SCRAM users, idempotently."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from pydantic import SecretStr

from ops.access import ADMIN_PRINCIPAL, AccessFolder
from topics.principals import Grant, Match, Operation, Principal, ResourceKind

SCRAM_ITERATIONS = 8192
_ALL_HOSTS = "*"


@dataclass(frozen=True)
class AccessChange:
    """One thing done to users or ACLs (or found in place); each is an audit event."""

    kind: str  # user.added | user.rotated | user.removed | acl.granted | acl.revoked
    principal: str
    resource: str = ""
    action: str = ""


class AccessAdmin:
    """SCRAM users and ACLs through the Admin API; the caller connects as the admin."""

    def __init__(self, config: dict[str, Any], access: AccessFolder, scope: str = "") -> None:
        self.admin = AdminClient({**config, "log_level": 0})
        self.access = access
        # The topic namespace whose declaration this applies: its registry grants are its own.
        self.scope = scope

    # ------------------------------------------------------------------ users

    def users(self, timeout_s: float = 15.0) -> set[str]:
        described: Any = self.admin.describe_user_scram_credentials(request_timeout=timeout_s)
        return set(described.result(timeout=timeout_s))

    def ensure_users(self, principals: Iterable[Principal]) -> list[AccessChange]:
        """Create every principal's SCRAM user that is missing, or whose password file is."""
        existing = self.users()
        changes = []
        for principal in principals:
            name = principal.name
            if name == ADMIN_PRINCIPAL:
                continue  # bootstrapped with the broker's storage; rotated by `users rotate`
            if name in existing and self.access.has_password(name):
                continue
            if name in existing:
                # Its password is lost here: a new one is the only way to use it again.
                changes.append(self.rotate(name))
            else:
                changes.append(self.add(name))
        return changes

    def add(self, name: str, password: SecretStr | None = None) -> AccessChange:
        self._upsert(name, password or self._stored_or_new(name))
        return AccessChange("user.added", name, f"User:{name}", "create SCRAM credential")

    def rotate(self, name: str, password: SecretStr | None = None) -> AccessChange:
        self._upsert(name, password or self.access.new_password(name))
        return AccessChange("user.rotated", name, f"User:{name}", "new SCRAM credential")

    def remove(self, name: str, timeout_s: float = 15.0) -> AccessChange:
        deletion = UserScramCredentialDeletion(name, ScramMechanism.SCRAM_SHA_512)
        for future in self.admin.alter_user_scram_credentials([deletion]).values():
            future.result(timeout=timeout_s)
        self.access.forget(name)
        return AccessChange("user.removed", name, f"User:{name}", "delete SCRAM credential")

    def _stored_or_new(self, name: str) -> SecretStr:
        if self.access.has_password(name):
            return self.access.password(name)
        return self.access.new_password(name)

    def _upsert(self, name: str, password: SecretStr, timeout_s: float = 15.0) -> None:
        upsert = UserScramCredentialUpsertion(
            name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            password.get_secret_value().encode(),
            os.urandom(16),
        )
        for future in self.admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=timeout_s)

    # ------------------------------------------------------------------ ACLs

    def apply_acls(self, principals: Iterable[Principal], timeout_s: float = 15.0,
                   owned_topics: Iterable[str] = ()) -> list[AccessChange]:
        """Grant what the declaration says and revoke, on the resources it names, what it
        no longer says. ACLs on resources it does not name (another namespace's topics) are
        left alone, so environments sharing a cluster do not undo each other.
        ``owned_topics``: topics of this namespace the declaration may no longer name for a
        principal (a grant whose subscription is gone); its ACLs on them are revoked too."""
        principals = list(principals)
        wanted = {
            (p.kafka_principal, grant) for p in principals for grant in p.grants
        }
        ours = {p.kafka_principal for p in principals}
        named = {(g.kind, g.match, g.resource) for _, g in wanted}
        owned = set(owned_topics)
        existing = self._granted(ours, timeout_s)
        stale = [
            (who, g) for who, g in existing - wanted
            if (g.kind, g.match, g.resource) in named
            or (g.kind == ResourceKind.TOPIC and g.resource in owned)
        ]
        missing = sorted(wanted - existing)
        changes = []
        if missing:
            results = self.admin.create_acls([_binding(who, g) for who, g in missing])
            for future in results.values():
                future.result(timeout=timeout_s)
            changes += [_change("acl.granted", who, g) for who, g in missing]
            self._await(lambda: wanted <= self._granted(ours, timeout_s), timeout_s)
        if stale:
            filters = [_binding(who, g) for who, g in sorted(stale)]
            for future in self.admin.delete_acls(
                [_as_filter(b) for b in filters]).values():
                future.result(timeout=timeout_s)
            changes += [_change("acl.revoked", who, g) for who, g in sorted(stale)]
        return changes

    def apply_registry_grants(self, principals: Iterable[Principal]) -> dict[str, int]:
        """Write the declared registry writes for the registry's door (replacing this
        scope's); principal -> how many artifacts it may write."""
        grants = {p.name: p.registry_writes for p in principals if p.registry_writes}
        self.access.write_registry_grants(self.scope, grants)
        return {name: len(pairs) for name, pairs in grants.items()}

    def revoke_declared(self, principals: Iterable[Principal], timeout_s: float = 15.0) -> int:
        """Delete the ACLs the declaration grants (a namespace's, when it is torn down)."""
        filters = [_as_filter(_binding(p.kafka_principal, g)) for p in principals
                   for g in sorted(p.grants)]
        if not filters:
            return 0
        for future in self.admin.delete_acls(filters).values():
            future.result(timeout=timeout_s)
        return len(filters)

    def _granted(self, ours: set[str], timeout_s: float) -> set[tuple[str, Grant]]:
        return {
            (binding.principal, grant)
            for binding in self._bindings(timeout_s)
            if binding.principal in ours
            and binding.permission_type == AclPermissionType.ALLOW
            and (grant := _as_grant(binding)) is not None
        }

    @staticmethod
    def _await(condition: Callable[[], bool], timeout_s: float) -> None:
        """ACLs take effect once the broker has the metadata record, a moment after the
        request returned; a client using them at once was denied."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("the broker did not show the new ACLs in time")
            time.sleep(0.1)

    def _bindings(self, timeout_s: float) -> list[AclBinding]:
        anything: Any = None  # a filter's None matches every name, principal and host
        every = AclBindingFilter(ResourceType.ANY, anything, ResourcePatternType.ANY, anything,
                                 anything, AclOperation.ANY, AclPermissionType.ANY)
        try:
            return list(self.admin.describe_acls(every).result(timeout=timeout_s))
        except KafkaException as exc:
            raise RuntimeError(f"cannot list the broker's ACLs: {exc.args[0]}") from None


_KINDS = {ResourceKind.TOPIC: ResourceType.TOPIC, ResourceKind.GROUP: ResourceType.GROUP,
          ResourceKind.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID}
_MATCHES = {
    Match.LITERAL: ResourcePatternType.LITERAL,
    Match.PREFIXED: ResourcePatternType.PREFIXED,
}


def _binding(principal: str, grant: Grant) -> AclBinding:
    return AclBinding(
        _KINDS[grant.kind], grant.resource, _MATCHES[grant.match], principal, _ALL_HOSTS,
        AclOperation[grant.operation.value], AclPermissionType.ALLOW,
    )


def _as_filter(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
        binding.host, binding.operation, binding.permission_type,
    )


def _as_grant(binding: Any) -> Grant | None:
    kinds = {v: k for k, v in _KINDS.items()}
    matches = {v: k for k, v in _MATCHES.items()}
    try:
        return Grant(kinds[binding.restype], matches[binding.resource_pattern_type],
                     binding.name, Operation(binding.operation.name))
    except (KeyError, ValueError):
        return None  # a kind of ACL the declaration never makes: not ours to judge


def revoked(principal: str, grant: Grant) -> AccessChange:
    """The audit record of a grant deleted."""
    return _change("acl.revoked", principal, grant)


def _change(kind: str, principal: str, grant: Grant) -> AccessChange:
    return AccessChange(kind, principal.removeprefix("User:"),
                        f"{grant.kind}:{grant.match}:{grant.resource}", str(grant.operation))
