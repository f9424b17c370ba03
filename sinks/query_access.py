"""Who may ask the query endpoint, over what: basic credentials over TLS with security on.

The users are the declared query users (``sinks/query_grants.py``), each with the libraries
granted to it and a password in the access folder, made on first use; the certificate is the
local CA's service certificate. Every query is logged and, through
``on_query``, audited.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from ops.access import AccessFolder
from ops.settings import Settings
from sinks.clickhouse.query_server import QueryRecord
from sinks.query_grants import QUERY_USERS, QueryUser

log = logging.getLogger("govbus.sinks.queries")


@dataclass(frozen=True)
class QueryAccess:
    users: Mapping[str, SecretStr] | None = None
    tls: ssl.SSLContext | None = None
    on_query: Callable[[QueryRecord], None] | None = None
    grants: Mapping[str, QueryUser] | None = None
    database: str = ""

    def server_options(self) -> dict[str, Any]:
        return {"users": self.users, "tls": self.tls, "on_query": self.on_query,
                "grants": self.grants, "database": self.database}


def query_access(settings: Settings,
                 audit: Callable[[QueryRecord], None] | None = None) -> QueryAccess:
    def logged(record: QueryRecord) -> None:
        log.info("query by %s: %d in %.3f s, %d rows: %s", record.user, record.status,
                 record.seconds, record.rows, " ".join(record.sql.split())[:500])
        if audit is not None:
            audit(record)

    if not settings.secure:
        return QueryAccess(on_query=logged)
    access = AccessFolder(settings)
    # Every declared user has a password from the start; a password file of a user no longer
    # declared opens nothing.
    users = {name: access.query_password(name) for name in QUERY_USERS}
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(access.tls.server_cert, access.tls.server_key)
    return QueryAccess(users, context, logged, QUERY_USERS, settings.clickhouse_database)


def client_credentials(settings: Settings) -> tuple[str, SecretStr] | None:
    """The user and password `govbus query` asks as (None with security off)."""
    if not settings.secure:
        return None
    password = settings.query_password or AccessFolder(settings).query_password(
        settings.query_user)
    return settings.query_user, password


def client_tls(settings: Settings) -> ssl.SSLContext | None:
    if not settings.secure:
        return None
    return ssl.create_default_context(cafile=str(AccessFolder(settings).ca_file))
