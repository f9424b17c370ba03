"""The query endpoint's users and the libraries each may read: the one definition.

A library is a table or view of the library database, named by a pattern over its name
(``theme_*``, ``v_*``). The engine says what a statement reads (``table_access.reads``); a
statement reading anything its user was not granted is refused, naming it. Beyond the
libraries, a few engine tables that hold no data are readable by all (``SELECT 1`` reads
``system.one``), and so are the table functions that only generate numbers; the rest of
``system`` and every other table function (``file``, ``url``, ``remote``, ...) are no one's.

- ``analyst``: the theme libraries, the facts, the quality findings, the division codes, the
  subscriptions, the resource catalog and every view; not the audit trail (it records who
  asked what).
- ``statistician``: the views alone, whose counts below k are suppressed: published
  statistics, never a row about a person; and the resource catalog, which is about
  resources, not people.
- ``auditor``: the audit trail, the subscriptions, the resource catalog and the quality
  findings with their views.

The endpoint serves the embedded engine, which has no users of its own. A ClickHouse server
is queried directly with the server's own users and grants, which its operators manage.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Final

from sinks.clickhouse.divisions import DIVISIONS_TABLE
from sinks.clickhouse.table_access import Reads
from sinks.clickhouse.tables import (
    AUDIT_TABLE,
    FACTS_TABLE,
    PROFILE_PREFIX,
    QUALITY_TABLE,
    RESOURCE_CATALOG_TABLE,
    SUBSCRIPTIONS_TABLE,
)

VIEWS: Final = "v_*"
# Engine tables and table functions that hold no data: generators and the one-row table.
HARMLESS_TABLES: Final = frozenset({"system.one", "system.numbers", "system.numbers_mt",
                                    "system.zeros", "system.zeros_mt"})
HARMLESS_FUNCTIONS: Final = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "values",
                                       "generate_series", "generateseries"})


@dataclass(frozen=True, slots=True)
class QueryUser:
    """A user of the query endpoint and the library patterns granted to it."""

    name: str
    libraries: tuple[str, ...]
    doc: str

    def may_read(self, table: str, database: str) -> bool:
        """``table`` is ``database.name``; a library is a table of the library database."""
        if table in HARMLESS_TABLES:
            return True
        schema, _, name = table.partition(".")
        return schema == database and any(fnmatchcase(name, p) for p in self.libraries)

    def refusal(self, read: Reads, database: str) -> str | None:
        """Why the user may not run a statement that reads ``read`` (None: it may)."""
        functions = sorted(read.functions - HARMLESS_FUNCTIONS)
        if functions:
            return f"table function {functions[0]}() is not allowed"
        denied = sorted(t for t in read.tables if not self.may_read(t, database))
        if denied:
            return (f"user {self.name!r} is not granted {', '.join(denied)} "
                    f"(granted: {', '.join(self.libraries)})")
        return None


QUERY_USERS: Final = MappingProxyType({
    user.name: user for user in (
        QueryUser("analyst", (f"{PROFILE_PREFIX}*", FACTS_TABLE, QUALITY_TABLE, DIVISIONS_TABLE,
                              SUBSCRIPTIONS_TABLE, RESOURCE_CATALOG_TABLE, VIEWS),
                  "theme libraries, facts, quality findings, subscriptions, the resource "
                  "catalog and views"),
        QueryUser("statistician", (VIEWS, RESOURCE_CATALOG_TABLE),
                  "the aggregate views (small counts suppressed) and the resource catalog"),
        QueryUser("auditor", (AUDIT_TABLE, QUALITY_TABLE, SUBSCRIPTIONS_TABLE,
                              RESOURCE_CATALOG_TABLE, "v_quality_*"),
                  "the audit trail, data quality, subscriptions and the resource catalog"),
    )
})


def query_user(name: str) -> QueryUser:
    try:
        return QUERY_USERS[name]
    except KeyError:
        raise KeyError(f"no query user {name!r} (declared: {', '.join(QUERY_USERS)})") from None
