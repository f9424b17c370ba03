"""``govbus lineage KEY``: a theme row traced back to the raw messages that made it."""

from __future__ import annotations

from typing import Annotated

import typer

from ops.settings import get_settings


def lineage(
    key: Annotated[str, typer.Argument(
        help="The entity key of a theme row: a person's ID pseudonym, an enterprise's USCC, "
             "licence:<type>:<number>, <source>:<record id> for an event")],
) -> None:
    """Every contributing department's source records and raw topic offsets behind one theme
    row, from the facts library (as the query endpoint's analyst)."""
    from govbus.cli import fail, out
    from govbus.lineage import render, trace
    from govbus.privacy_audit import json_rows
    from sinks.query_client import QueryError, run_query
    from topics.catalog import catalog_for

    settings = get_settings()
    try:
        found = trace(lambda sql: json_rows(run_query(settings, sql, "json")),
                      catalog_for(settings), settings.clickhouse_database, key)
    except QueryError as exc:
        raise fail(f"lineage: {exc}") from None
    if found is None:
        raise fail(f"lineage: no fact names {key!r} in {settings.clickhouse_database}.facts "
                   f"(is the sink running, and is the key a theme row's entity key?)")
    for line in render(found):
        out.print(line, highlight=False, markup=False)
