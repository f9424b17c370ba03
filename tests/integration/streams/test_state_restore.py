"""The theme state store on the real broker: what one owner wrote to the changelog, the next
owner of the shard restores, for both backends."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from govbus.wiring import topic_admin
from ops.kafka_client import kafka_config
from ops.runtime.client_config import producer_config
from ops.runtime.kafka_output import KafkaOutput
from ops.settings import Settings
from streams.runtime.state_store import ChangelogStore, MemoryBackend, RocksDBBackend, ShardBackend
from topics.catalog import THEME_PROFILES, catalog_for


def _store(settings: Settings, backend: ShardBackend, output: KafkaOutput
           ) -> ChangelogStore[dict[str, int]]:
    return ChangelogStore(
        catalog_for(settings).state(THEME_PROFILES).name, output, backend,
        lambda: Consumer({**kafka_config(settings),
                          "group.id": "restore-test", "enable.partition.eof": True}),
        orjson.dumps, orjson.loads)


@pytest.mark.parametrize("backend_name", ["memory", "rocksdb"])
def test_the_next_owner_restores_the_changelog(settings: Settings, tmp_path: Path,
                                               backend_name: str) -> None:
    topic_admin(settings).apply(catalog_for(settings).all)

    def backend() -> ShardBackend:
        return MemoryBackend() if backend_name == "memory" else RocksDBBackend(tmp_path)

    output = KafkaOutput(Producer(producer_config(kafka_config(settings), "restore-test")))
    first = _store(settings, backend(), output)
    first.own([("individual", 1), ("organization", 1)])
    first.restore_all()
    first.put("individual:p1", {"v": 1}, 1)
    first.put("individual:p1", {"v": 2}, 1)
    first.put("individual:p2", {"v": 1}, 1)
    first.put("individual:p2", None, 1)  # deleted: a tombstone
    first.put("organization:o1", {"v": 7}, 1)
    output.flush()
    first.release(first.shards)

    second = _store(settings, backend(), output)
    second.own([("individual", 1)])  # organization partition 1 went elsewhere
    if backend_name == "memory":  # RocksDB kept its states and where it was: nothing to read
        assert second.restoring == {("individual", 1)}  # not readable before it is restored
    second.restore_all()
    assert second.restoring == set()
    assert second.get("individual:p1", 1) == {"v": 2}
    assert second.get("individual:p2", 1) is None
    with pytest.raises(KeyError):
        second.get("organization:o1", 1)
    second.release(second.shards)
