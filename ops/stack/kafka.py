"""The local Apache Kafka 4.x cluster on 127.0.0.1: one combined KRaft node (broker and
controller in one JVM), or three of them (`GOVBUS_KAFKA_BROKERS=3`).

Three combined nodes rather than three controllers beside three brokers: half the JVMs (each
~0.5-1 GB and a share of two cores), and the controller quorum still survives one node lost.
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ops.access import ADMIN_PRINCIPAL, AccessFolder
from ops.kafka_client import SASL_MECHANISM, as_principal, kafka_config
from ops.runtime.client_config import (
    CONSUMER_PROTOCOL_HEARTBEAT_INTERVAL_MS,
    CONSUMER_PROTOCOL_SESSION_TIMEOUT_MS,
)
from ops.settings import Settings
from ops.stack import broker_metrics
from ops.stack.process import ServiceProcess, StackError
from ops.stack.tls import BROKER_CN, ensure_certificates
from ops.stack.tooling import STACK_DIR, require_tool, resolve_jars

KAFKA_POM = STACK_DIR / "kafka-pom.xml"
LOG4J_CONFIG = STACK_DIR / "log4j2.properties"


class KafkaBroker:
    """Resolves, formats (once), starts and stops one node of the local cluster."""

    def __init__(self, settings: Settings, node: int = 1) -> None:
        self.node = node
        self.host, self.port, self.controller_port = settings.kafka_nodes[node - 1]
        # The inter-broker listener (mutual TLS) sits two above the client port, so the
        # client port setting moves it too.
        self.internal_port = self.port + 2
        self.metrics_port = broker_metrics.metrics_port(self.port)
        self.settings = settings
        self.access = AccessFolder(settings)
        self.heap = settings.kafka_heap
        single = settings.kafka_brokers == 1
        # A cluster of another size is another cluster (its quorum is fixed at format time),
        # so its nodes keep their data apart from the single broker's.
        self.home = settings.state_dir / (
            "kafka" if single else f"kafka-{settings.kafka_brokers}/node{node}")
        self.libs = settings.state_dir / "kafka" / "libs"
        self.process = ServiceProcess(
            "kafka" if single else f"kafka-{node}", settings.state_dir / "run", self.ready)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        """Where this node's JMX exporter agent serves its metrics (None: metrics off)."""
        if not self.settings.metrics_enabled:
            return None
        return f"http://{self.host}:{self.metrics_port}/metrics"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def quorum_state_file(self) -> Path:
        """Where this voter records the quorum's leader and epoch."""
        return self.data_dir / "__cluster_metadata-0" / "quorum-state"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def authorizer_log(self) -> Path:
        """The authorizer's decisions (denials at INFO): one source of the audit trail."""
        return self.home / "authorizer.log"

    def start(self, timeout_s: float = 90.0) -> int:
        """Start this node (formatting its storage first if new) and wait until it serves."""
        pid = self.launch(cluster_id=None)
        self.process.wait_ready(pid, timeout_s)
        return pid

    def launch(self, cluster_id: str | None) -> int:
        """Start this node without waiting: a node of a cluster serves only once a quorum of
        its controllers runs. ``cluster_id`` formats new storage (None: a new cluster)."""
        java = require_tool("java", "run the Kafka broker")
        libs = resolve_jars(KAFKA_POM, self.libs)
        if self.settings.secure:
            ensure_certificates(self.access.tls)
        self._write_config()
        classpath = f"{libs}/*"
        if self.cluster_id() is None:
            self._format(java, classpath, cluster_id or str(uuid.uuid4()))
        elif self.settings.secure and not self.access.has_password(ADMIN_PRINCIPAL):
            raise StackError(
                f"the broker in {self.data_dir} was formatted without the admin credential "
                f"this stack needs; remove {self.home} to start afresh"
            )
        argv = [
            java,
            *self._metrics_agent(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dgovbus.log.file={self.home / 'server.log'}",
            f"-Dgovbus.authorizer.log.file={self.authorizer_log}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(self.config_file),
        ]
        return self.process.launch(
            argv,
            None,
            ports=[(self.host, p) for p in self._ports()],
        )

    def _ports(self) -> list[int]:
        ports = [self.port, self.controller_port, self.internal_port]
        return [*ports, self.metrics_port] if self.settings.metrics_enabled else ports

    def _metrics_agent(self) -> list[str]:
        """The JVM option attaching the JMX exporter agent, unless metrics are off."""
        if not self.settings.metrics_enabled:
            return []
        config = broker_metrics.write_exporter_config(self.home / "jmx-exporter.json")
        jar = broker_metrics.agent_jar(self.settings.state_dir)
        return [broker_metrics.agent_option(jar, self.host, self.metrics_port, config)]

    def stop(self) -> bool:
        return self.process.stop()

    def cluster_id(self) -> str | None:
        """The cluster id this node's storage was formatted with, or None if unformatted."""
        try:
            text = (self.data_dir / "meta.properties").read_text()
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
        return None

    def _format(self, java: str, classpath: str, cluster_id: str) -> None:
        # The admin's SCRAM credential goes into the metadata log with the format: SCRAM
        # users live there, so no client could authenticate to create the first one. Every
        # node of a cluster is formatted with the same one (the stored password, if any).
        scram = []
        if self.settings.secure:
            password = (self.access.password(ADMIN_PRINCIPAL)
                        if self.access.has_password(ADMIN_PRINCIPAL)
                        else self.access.new_password(ADMIN_PRINCIPAL)).get_secret_value()
            credential = f"{SASL_MECHANISM}=[name={ADMIN_PRINCIPAL},password={password}]"
            scram = ["--add-scram", credential]
        result = subprocess.run(
            [
                java,
                "-cp",
                classpath,
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                f"-Dgovbus.log.file={self.home / 'format.log'}",
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
                *scram,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        voters = ",".join(f"{n}@{host}:{controller}"
                          for n, (host, _, controller) in enumerate(self.settings.kafka_nodes, 1))
        listeners = self._secure_listeners() if self.settings.secure else self._plain_listeners()
        replicas = self.settings.replication_factor
        min_isr = self.settings.min_insync_replicas
        self.config_file.write_text(
            "\n".join(
                [
                    "# Written by govbus stack up; edit the settings, not this file.",
                    "process.roles=broker,controller",
                    f"node.id={self.node}",
                    f"controller.quorum.voters={voters}",
                    *listeners,
                    "controller.listener.names=CONTROLLER",
                    f"log.dirs={self.data_dir}",
                    # Internal topics as the catalog's: no more replicas than brokers.
                    f"default.replication.factor={replicas}",
                    f"min.insync.replicas={min_isr}",
                    f"offsets.topic.replication.factor={replicas}",
                    f"transaction.state.log.replication.factor={replicas}",
                    f"transaction.state.log.min.isr={min_isr}",
                    f"share.coordinator.state.topic.replication.factor={replicas}",
                    f"share.coordinator.state.topic.min.isr={min_isr}",
                    "group.initial.rebalance.delay.ms=0",
                    # A transaction left open by a process that never comes back is aborted
                    # once it times out; the coordinator looks for such every 10 s by
                    # default, holding back read_committed readers that much longer.
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
                    # KIP-848 groups (GOVBUS_GROUP_PROTOCOL=consumer): their sessions are the
                    # broker's (the minimums bound what a group may be given).
                    f"group.consumer.session.timeout.ms={CONSUMER_PROTOCOL_SESSION_TIMEOUT_MS}",
                    "group.consumer.min.session.timeout.ms="
                    f"{CONSUMER_PROTOCOL_SESSION_TIMEOUT_MS}",
                    "group.consumer.heartbeat.interval.ms="
                    f"{CONSUMER_PROTOCOL_HEARTBEAT_INTERVAL_MS}",
                    "group.consumer.min.heartbeat.interval.ms="
                    f"{CONSUMER_PROTOCOL_HEARTBEAT_INTERVAL_MS}",
                    "auto.create.topics.enable=false",
                    "num.partitions=1",
                    "num.network.threads=2",
                    "num.io.threads=4",
                    "log.retention.check.interval.ms=60000",
                    # Files of deleted topics go at once: left for the default minute, their
                    # deletion landed in the middle of the next benchmark run.
                    "log.segment.delete.delay.ms=1000",
                    "",
                ]
            )
        )

    def _plain_listeners(self) -> list[str]:
        """The explicit opt-in of GOVBUS_KAFKA_SECURITY=plaintext: anonymous, no authorizer."""
        listener = f"{self.host}:{self.port}"
        controller = f"{self.host}:{self.controller_port}"
        return [
            f"listeners=PLAINTEXT://{listener},CONTROLLER://{controller}",
            f"advertised.listeners=PLAINTEXT://{listener}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
        ]

    def _secure_listeners(self) -> list[str]:
        """Clients: SASL_SSL with SCRAM. Controller and inter-broker: mutual TLS.

        KRaft controllers cannot authenticate with SCRAM (its credentials live in the very
        metadata log the controller serves), so the broker's certificate is its identity
        there, mapped from the certificate's CN to User:govbus-broker.
        """
        tls = self.access.tls
        client = f"{self.host}:{self.port}"
        internal = f"{self.host}:{self.internal_port}"
        controller = f"{self.host}:{self.controller_port}"
        scram = "listener.name.client.scram-sha-512.sasl.jaas.config"
        return [
            f"listeners=CLIENT://{client},INTERNAL://{internal},CONTROLLER://{controller}",
            f"advertised.listeners=CLIENT://{client},INTERNAL://{internal}",
            "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL",
            "inter.broker.listener.name=INTERNAL",
            f"sasl.enabled.mechanisms={SASL_MECHANISM}",
            f"{scram}=org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={tls.server_keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={tls.ca_cert}",
            "listener.name.internal.ssl.client.auth=required",
            "listener.name.controller.ssl.client.auth=required",
            "ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{BROKER_CN};User:{ADMIN_PRINCIPAL}",
        ]

    def ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                pass
        except OSError:
            return False
        from confluent_kafka.admin import AdminClient

        try:
            # This node alone, not the whole cluster's bootstrap list.
            config = {**kafka_config(as_principal(self.settings, ADMIN_PRINCIPAL)),
                      "bootstrap.servers": self.address}
            AdminClient({**config, "log_level": 0}).list_topics(timeout=3)
        except Exception:
            return False
        return True


class KafkaCluster:
    """Every node of the local cluster, started together and stopped together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.nodes = tuple(KafkaBroker(settings, n)
                           for n in range(1, settings.kafka_brokers + 1))

    def node(self, number: int) -> KafkaBroker:
        return self.nodes[number - 1]

    def start(self, timeout_s: float = 120.0) -> list[int]:
        """Format new nodes with the cluster's id, launch them all, then wait for each."""
        known = {cid for node in self.nodes if (cid := node.cluster_id()) is not None}
        if len(known) > 1:
            raise StackError(f"the nodes' storage belongs to different clusters {sorted(known)}"
                             f"; remove {self.nodes[0].home.parent} to start afresh")
        cluster_id = known.pop() if known else str(uuid.uuid4())
        pids = [node.launch(cluster_id) for node in self.nodes]
        if self.settings.metrics_enabled:
            broker_metrics.write_scrape_targets(self.settings)
        for node, pid in zip(self.nodes, pids, strict=True):
            node.process.wait_ready(pid, timeout_s)
        return pids

    def stop(self) -> bool:
        # All at once: one by one, the last node waited out its timeout for a controlled
        # shutdown its lost quorum could not grant.
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            return any(list(pool.map(KafkaBroker.stop, self.nodes)))

    def active_controller(self) -> int | None:
        """The node leading the controller quorum, as the running nodes last recorded it.

        Clients cannot ask: in KRaft a Metadata response names a random broker as the
        controller. Each voter records the leader and its epoch in its quorum-state file;
        the highest epoch a running node recorded is the current one.
        """
        latest: tuple[int, int] | None = None
        for node in self.nodes:
            if node.process.pid() is None:
                continue
            try:
                state = json.loads(node.quorum_state_file.read_text())
            except (OSError, ValueError):
                continue
            leader, epoch = int(state.get("leaderId", -1)), int(state.get("leaderEpoch", -1))
            if leader > 0 and (latest is None or epoch > latest[1]):
                latest = (leader, epoch)
        return latest[0] if latest else None
