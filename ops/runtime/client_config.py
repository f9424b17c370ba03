"""The consumer and the producer configuration of every govbus client: one of each, and the
configuration of a watch that only asks where groups and topics stand.

Each spreads a connection (``ops.kafka_client.kafka_config``: bootstrap and security) and
adds what the bus's guarantees need. A caller may tune throughput (``linger.ms``, fetch
waits) through ``overrides``, never the guarantees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

GroupProtocol = Literal["classic", "consumer"]
# Measured with the fault matrix (README, Sessions and static membership): a killed member's
# partitions moved in 6-7 s under KIP-848 with the broker's short sessions, 45-48 s under
# classic, and a broker restart cost neither any duplicate.
DEFAULT_GROUP_PROTOCOL: GroupProtocol = "consumer"

# Classic protocol: a member's session outlives a broker restart (measured: a single
# broker back in ~17 s; with 10 s sessions the members lost their partitions meanwhile and
# wrote their last batches twice). A restarted member does not wait for its old session to
# expire when it has a static identity (``instance_id``): it takes its partitions back at
# once.
SESSION_TIMEOUT_MS = 45_000
HEARTBEAT_INTERVAL_MS = 3_000
# Under KIP-848's consumer protocol the broker owns sessions and heartbeats (its
# ``group.consumer.*`` settings; the local stack's broker takes these). A dead member's
# partitions move once its session expires: the broker's default 45 s missed the target of
# a killed worker's partitions processed again within 10 s. The coordinator's own restart
# does not expire sessions (it starts their clocks again when it loads the group).
CONSUMER_PROTOCOL_SESSION_TIMEOUT_MS = 6_000
CONSUMER_PROTOCOL_HEARTBEAT_INTERVAL_MS = 1_000


def consumer_config(connection: Mapping[str, Any], group_id: str,
                    instance_id: str | None = None,
                    protocol: GroupProtocol = DEFAULT_GROUP_PROTOCOL,
                    **overrides: Any) -> dict[str, Any]:
    """A consumer of a govbus group: offsets committed by hand, after the results are safe.
    ``instance_id``: a static member (KIP-345), one per process that is restarted in place
    (under the classic protocol; KIP-848 refuses a static member restarted before its
    killed predecessor's session expired). ``protocol``: the group protocol (see ``membership``)."""
    static = {"group.instance.id": f"{group_id}-{instance_id}"} if instance_id else {}
    return {
        **static,
        **connection,
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        **membership(protocol),
        # Outputs of an aborted transaction (a worker killed mid-batch) are never read.
        "isolation.level": "read_committed",
        # A fetch returns once it has this much or has waited this long: with the defaults
        # (1 byte, at once) the broker answered a fetch per produced batch.
        "fetch.min.bytes": 256 * 1024,
        "fetch.wait.max.ms": 20,
        "fetch.max.bytes": 16 * 1024 * 1024,
        # What a consumer fetches ahead of its processing: a layer that falls behind fills
        # it, so it bounds what a backlog adds to the process (a 30-minute soak at 1,000/s:
        # with 64 MB, a theme worker 113,000 facts behind had grown 80%; with 16 MB, 27%).
        # 16 MB is 30 of its batches of 500 facts, ahead.
        "queued.max.messages.kbytes": 16 * 1024,
        **overrides,
    }


def offsets_watch_config(connection: Mapping[str, Any], group_id: str,
                         **overrides: Any) -> dict[str, Any]:
    """A consumer that only compares groups' committed offsets with their topics' ends
    (``govbus status``, the progress watch of the benchmarks, the fault matrix and the
    tests): never subscribed, it commits nothing. It reads uncommitted, so a partition's end
    is its high watermark. As a read_committed reader it got the offset where the oldest open
    transaction begins: behind a transaction left open by a killed worker (without an
    identity, open until the coordinator's timeout), a layer had committed all it could read
    and looked drained while its restarted worker's facts waited (a SIGKILL test compared
    profiles short of them). The runtime commits its positions past an aborted transaction's
    records and markers, so a layer reaches these ends."""
    return {**connection, "group.id": group_id, "enable.auto.commit": False,
            "isolation.level": "read_uncommitted", **overrides}


def membership(protocol: GroupProtocol) -> dict[str, Any]:
    """How a consumer takes part in its group. Either way the assignment is range: it gives
    a member the same partition numbers of every subscribed topic (with equal partition
    counts), the co-partitioning the theme layer's state relies on.

    ``classic``: the client-side protocol, the group rebalanced as a whole, its sessions and
    heartbeats the client's. ``consumer``: KIP-848's (Kafka 4), the broker's coordinator
    assigns incrementally and owns the session and heartbeat settings
    (``group.consumer.session.timeout.ms``); librdkafka refuses the classic-only
    properties with it."""
    if protocol == "consumer":
        return {"group.protocol": "consumer", "group.remote.assignor": "range"}
    return {
        "group.protocol": "classic",
        "partition.assignment.strategy": "range",
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
    }


def producer_config(connection: Mapping[str, Any], client_id: str = "govbus",
                    **overrides: Any) -> dict[str, Any]:
    """A producer of the bus: idempotent with acks=all, so a retry neither loses nor doubles
    a message, and nothing counts as sent before every in-sync replica has it."""
    config = {
        **connection,
        "client.id": client_id,
        "compression.type": "lz4",
        "linger.ms": 25,  # fewer, larger requests: less broker and client CPU per event
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
        # Java's partitioner, so a key lands on the partition any Kafka client (Debezium,
        # Kafka Streams) would pick for it.
        "partitioner": "murmur2_random",
        **overrides,
    }
    config.update({"enable.idempotence": True, "acks": "all"})
    return config
