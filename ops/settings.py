"""The one settings object: environment variables ``GOVBUS_*``, read once at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ops.runtime.client_config import DEFAULT_GROUP_PROTOCOL, GroupProtocol

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCAL_REGISTRY = "{scheme}://127.0.0.1:18081/apis/ccompat/v7"
# Node n of a local cluster listens on the first node's ports plus this step times n-1; each
# node takes four ports (client, controller, client + 2 inter-broker, client + 3 metrics).
NODE_PORT_STEP = 10
DEFAULT_RETRACTION_HORIZON_HOURS = 168  # a week of source time (see Settings)
DEFAULT_STATE_MEMORY_MB = 64  # per rocksdb:// store (see Settings)


class Settings(BaseSettings):
    """Everything a govbus process may be told from outside."""

    model_config = SettingsConfigDict(env_prefix="GOVBUS_", extra="ignore", frozen=True)

    state_dir: Path = Field(
        default=PROJECT_ROOT / ".state",
        description="Git-ignored folder for jars, broker data, pid and log files, chDB data.",
    )
    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        description="Kafka bootstrap servers; for the local stack, its first node's address.",
    )
    kafka_controller_port: int = Field(default=19093, ge=1, le=65535)
    kafka_brokers: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Nodes of the local KRaft cluster (`govbus stack up --brokers 3`). Node n "
        "listens on the bootstrap and controller ports plus 10*(n-1); every client bootstraps "
        "from all of them, and topics get min(brokers, 3) replicas.",
    )
    kafka_heap: str = Field(default="768m", description="Broker heap (-Xmx) for a small machine.")
    kafka_security: Literal["sasl_ssl", "plaintext"] = Field(
        default="sasl_ssl",
        description="sasl_ssl: SCRAM-SHA-512 over TLS, ACLs enforced. plaintext is an explicit "
        "opt-in for the security-cost benchmark and tests that say so: anonymous, no ACLs.",
    )
    kafka_user: str | None = Field(
        default=None,
        description="Principal of library clients that no command chose one for (tests). "
        "Each govbus command connects as its own role's principal regardless.",
    )
    kafka_password: SecretStr | None = Field(
        default=None,
        description="Password of kafka_user; unset: read from <access_dir>/users/<user>.password.",
    )
    kafka_ca_file: Path | None = Field(
        default=None,
        description="CA certificate (PEM) clients trust; unset: the local stack's CA.",
    )
    access_dir: Path | None = Field(
        default=None,
        description="Folder of the local CA, certificates and principals' password files "
        "(owner-only); unset: <state_dir>/access.",
    )
    registry_url: str = Field(
        default=LOCAL_REGISTRY.format(scheme="https"),
        description="Schema registry base URL speaking the Confluent REST API; unset: the "
        "local stack's, over TLS (plain http only with kafka_security=plaintext).",
    )
    registry_heap: str = Field(default="384m")
    postgres_port: int = Field(
        default=15432,
        ge=1,
        le=65535,
        description="Loopback port of the local department PostgreSQL (change data capture); "
        "not 5432, so a system cluster keeps its port.",
    )
    connect_rest_port: int = Field(
        default=18088, ge=1, le=65535,
        description="Loopback port of the local Kafka Connect worker's REST API (not 18083: "
        "the registry listens two above its public port).",
    )
    connect_heap: str = Field(default="512m", description="Kafka Connect worker heap (-Xmx).")
    manage_stack: bool = Field(
        default=True,
        description="False when kafka_bootstrap/registry_url point at an existing cluster.",
    )
    default_compatibility: str = Field(default="BACKWARD_TRANSITIVE")
    topic_namespace: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9_-]*\.)?$",
        description="Prefix of every topic name (e.g. 'staging.') so environments share a cluster.",
    )

    # No default key: a known key lets anyone reverse every pseudonym by brute force (citizen
    # IDs have little entropy). The local stack generates one into state_dir (ops/keys.py).
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for citizen ID pseudonyms (at least 32 characters), with "
        "pseudonym_key_id; or pseudonym_key_file.",
    )
    pseudonym_key_id: str | None = Field(
        default=None, min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$"
    )
    pseudonym_key_file: Path | None = Field(
        default=None,
        description="A JSON file {\"key_id\": ..., \"key\": <hex>} holding the pseudonym key.",
    )
    pseudonym_hash: Literal["sha256", "sm3"] = "sha256"

    clickhouse_url: str | None = Field(
        default=None, description="ClickHouse server URL; unset means chDB in state_dir."
    )
    clickhouse_database: str = "govbus"
    clickhouse_outage_switch: bool = Field(
        default=False,
        description="Let the fault matrix (govbus chaos) make ClickHouse unavailable to the "
        "sink while <state_dir>/run/clickhouse-outage exists: how an embedded chDB, which "
        "cannot be stopped apart from its process, shows an outage. Never set in production.",
    )
    clickhouse_cluster: str | None = Field(
        default=None,
        description="A cluster in the server's remote_servers: the sink's tables are made "
        "ON CLUSTER, replicated, behind Distributed tables. Needs clickhouse_url.",
    )
    sink_batch_rows: int = Field(
        default=10_000, ge=1, description="A sink batch is inserted at this many rows ..."
    )
    sink_batch_seconds: float = Field(
        default=0.25, gt=0, description="... or when its first message is this many seconds old."
    )
    sink_history_batch_seconds: float = Field(
        default=5.0,
        gt=0,
        description="... for fact and finding tables (history, not live lookups): every "
        "INSERT has a fixed cost, and every partition of every fact topic batches on its own.",
    )
    instance_id: str | None = Field(
        default=None,
        description="This process's identity, unique per process and kept across its "
        "restarts (e.g. raw-1 on the first raw worker of a host). Under exactly once it names "
        "the process's transactions: restarted, it fences its predecessor and aborts what "
        "that one left open at once, instead of every reader waiting for the transaction to "
        "time out. It is also a static group identity (KIP-345) where static_membership says "
        "so. Unset: an identity per process run, dynamic membership.",
    )
    static_membership: bool | None = Field(
        default=None,
        description="Whether a process with an instance_id is a static group member, taking "
        "its partitions back at once when restarted instead of after its old session "
        "expires. Unset: static under the classic protocol only, since KIP-848's refuses a "
        "static member restarted before its predecessor's session expired, fatally.",
    )
    group_protocol: GroupProtocol = Field(
        default=DEFAULT_GROUP_PROTOCOL,
        description="The consumer group protocol of the workers and the sink: consumer "
        "(KIP-848, Kafka 4: the broker assigns partitions incrementally and owns the "
        "sessions; a killed member's partitions move within seconds, measured), or classic. "
        "See README, Sessions and static membership.",
    )
    exactly_once: bool = Field(
        default=True,
        description="The stages write each batch's outputs, state changelog records and input "
        "offsets in one Kafka transaction: a worker killed mid-batch leaves no second copy of "
        "any std, fact or theme record (the fault matrix: 0 duplicated under every fault, on "
        "one node and on three). It costs about 5-8% of a stage's throughput (README, "
        "Duplicates and exactly once). false: at-least-once, a batch's outputs may be written "
        "again after a crash (the theme layer and the sink still apply them once).",
    )
    sink_group_id: str = Field(
        default="sink",
        min_length=1,
        description="Consumer group of the ClickHouse sink, named in the topic namespace as "
        "the workers' groups are (govbus-<namespace>sink).",
    )
    sink_query_port: int = Field(
        default=18123,
        ge=0,
        le=65535,
        description="Port of the sink's read-only query endpoint on 127.0.0.1; 0 picks one.",
    )
    query_user: str = Field(
        default="analyst",
        min_length=1,
        description="Who `govbus query` asks the endpoint as (its password: query_password or "
        "<access_dir>/query-users/<user>.password).",
    )
    query_password: SecretStr | None = None
    query_max_execution_s: int = Field(
        default=30, ge=1, description="The engine stops an endpoint query after this long."
    )
    query_max_result_rows: int = Field(
        default=100_000, ge=1, description="The engine refuses an endpoint result this long."
    )

    privacy_k: int = Field(
        default=5,
        ge=2,
        description="k of k-anonymity: classes of fewer rows over a library's quasi-identifiers "
        "are flagged, and counts below it are suppressed in the views.",
    )
    privacy_monitor_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the sink measures the theme libraries' k-anonymity; 0 turns "
        "the monitor off.",
    )

    theme_store: str = Field(
        default="memory://",
        pattern=r"^(memory|rocksdb)://$",
        description="State store of the workers' tables (theme profiles, raw source rows): "
        "memory:// (restored from the changelog on start) or rocksdb:// (on disk in "
        "state_dir, for state larger than memory).",
    )
    state_memory_mb: int = Field(
        default=DEFAULT_STATE_MEMORY_MB,
        ge=8,
        description="rocksdb:// only: the memory each stage's store may take for its block "
        "cache and memtables together; the rest of the state is on disk, so a worker's "
        "memory stays flat while its tables grow.",
    )
    retraction_horizon_hours: int = Field(
        default=DEFAULT_RETRACTION_HORIZON_HOURS,
        ge=1,
        description="How late a fact may reach the theme layer, in source time behind its "
        "entity's newest change: retraction markers older than that are dropped from the "
        "profile state, and a fact that late for a record the state no longer holds is "
        "dead-lettered (theme.beyond_horizon).",
    )
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the /metrics, /healthz, /readyz server binds."
    )
    metrics_enabled: bool = Field(
        default=True, description="False: processes start no metrics/health server, and the "
        "local stack's brokers no metrics agent."
    )
    batch_size: int = Field(default=500, ge=1)
    batch_seconds: float = Field(default=0.05, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _local_registry_scheme(cls, data: Any) -> Any:
        # The local registry's door speaks TLS with security on; the plaintext opt-in stack
        # has no door, so its default URL is plain http.
        if isinstance(data, dict) and "registry_url" not in data \
                and data.get("kafka_security") == "plaintext":
            return {**data, "registry_url": LOCAL_REGISTRY.format(scheme="http")}
        return data

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def access_folder(self) -> Path:
        return self.access_dir or self.state_dir / "access"

    @property
    def secure(self) -> bool:
        return self.kafka_security == "sasl_ssl"

    @property
    def kafka_nodes(self) -> tuple[tuple[str, int, int], ...]:
        """(host, client port, controller port) of each node of the local cluster."""
        host, _, port = self.kafka_bootstrap.split(",")[0].strip().partition(":")
        first = int(port or 9092)
        return tuple(
            (host or "127.0.0.1", first + NODE_PORT_STEP * n,
             self.kafka_controller_port + NODE_PORT_STEP * n)
            for n in range(self.kafka_brokers)
        )

    @property
    def kafka_servers(self) -> str:
        """What clients bootstrap from: every node of the local cluster, so a client starts
        while any one of them is down; a given list (another cluster) as it is."""
        if self.kafka_brokers == 1 or "," in self.kafka_bootstrap:
            return self.kafka_bootstrap
        return ",".join(f"{host}:{port}" for host, port, _ in self.kafka_nodes)

    @property
    def replication_factor(self) -> int:
        """Replicas of every topic: one per broker, at most three."""
        return min(self.kafka_brokers, 3)

    @property
    def group_instance_id(self) -> str | None:
        """The process's static group identity, if it is a static member (see
        ``static_membership``)."""
        static = (self.static_membership if self.static_membership is not None
                  else self.group_protocol == "classic")
        return self.instance_id if static else None

    @property
    def min_insync_replicas(self) -> int:
        """Copies a write with acks=all waits for: all but one replica, so one broker may be
        down without stopping writes, and an acknowledged write survives losing one more."""
        return max(1, self.replication_factor - 1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first use: for the command line and a program's
    own entry point, which hand them down; nothing below them calls this."""
    return Settings()
