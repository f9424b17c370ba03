"""Re-keying after a pseudonym key rotation: the derived layers are rebuilt from raw.

Nothing maps old pseudonyms to new ones: a mapping would let whoever holds the old key
(the reason to rotate may be that it leaked) follow every person into the new key. Instead
every layer that holds pseudonyms (std, fact, theme, the profile changelog, the ClickHouse
tables) is dropped with its consumer groups, and the raw worker, whose consumer group is per
key id, replays the raw layer under the new key. Raw rows older than the raw retention come
back when their departments re-snapshot their tables.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

from govbus.wiring import topic_admin
from ops.settings import Settings
from sinks.clickhouse.backend_factory import open_backend
from sinks.clickhouse.sql import qualified
from sinks.clickhouse.tables import sink_tables
from sinks.clickhouse.views import theme_views
from sinks.service import group_id as sink_group_id
from streams.runtime.raw_worker import group_id as raw_group_id
from streams.runtime.theme_worker import group_id as theme_group_id
from topics.admin import TopicAdmin
from topics.catalog import Layer, catalog_for

KEYED_LAYERS: Final = (Layer.STD, Layer.FACT, Layer.THEME, Layer.STATE)


def rekey(settings: Settings, old_key_id: str) -> Iterator[str]:
    """Drop what the old key derived and recreate the topics; the pipeline must be stopped."""
    admin = topic_admin(settings)
    catalog = catalog_for(settings)
    names = [t.name for layer in KEYED_LAYERS for t in catalog.by_layer(layer)]
    admin.delete(names)
    yield f"deleted {len(names)} std, fact, theme and state topics"
    groups = [sink_group_id(settings), theme_group_id(settings)]
    if old_key_id:
        groups.append(raw_group_id(settings, old_key_id))
    for future in admin.admin.delete_consumer_groups(groups).values():
        try:
            future.result()
        except Exception as exc:  # a group that never consumed does not exist
            if "GROUP_ID_NOT_FOUND" not in str(exc):
                raise
    yield f"deleted consumer groups {', '.join(groups)}"
    database = settings.clickhouse_database
    backend = open_backend(settings)
    try:
        tables = {t.spec.name: t.spec for t in sink_tables(catalog, database)}
        for view in reversed(theme_views(database, tables)):
            backend.execute(f"DROP VIEW IF EXISTS {qualified(database, view.name)}")
        for spec in tables.values():
            backend.execute(f"DROP TABLE IF EXISTS {spec.qualified_name}")
    finally:
        backend.close()
    yield f"dropped the ClickHouse tables and views of {database} (the sink recreates them)"
    _wait_gone(admin, names)
    admin.apply(catalog.all)
    yield "recreated the catalog topics: start `govbus worker` and `govbus sink run` to re-key"


def _wait_gone(admin: TopicAdmin, names: list[str], timeout_s: float = 60.0) -> None:
    """Topic deletion completes in the background; a topic is recreated only once gone."""
    deadline = time.monotonic() + timeout_s
    while set(names) & set(admin.admin.list_topics(timeout=10).topics):
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics still being deleted after {timeout_s:.0f} s")
        time.sleep(0.5)
