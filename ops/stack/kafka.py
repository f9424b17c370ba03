"""The local Apache Kafka 4.x broker: a single combined KRaft node on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

from ops.access import ADMIN_PRINCIPAL, AccessFolder
from ops.kafka_client import SASL_MECHANISM, as_principal, kafka_config
from ops.settings import Settings
from ops.stack.process import ServiceProcess, StackError
from ops.stack.tls import BROKER_CN, ensure_certificates
from ops.stack.tooling import STACK_DIR, require_tool, resolve_jars

KAFKA_POM = STACK_DIR / "kafka-pom.xml"
LOG4J_CONFIG = STACK_DIR / "log4j2.properties"


class KafkaBroker:
    """Resolves, formats (once), starts and stops the local broker."""

    def __init__(self, settings: Settings) -> None:
        host, _, port = settings.kafka_bootstrap.partition(":")
        self.host = host or "127.0.0.1"
        self.port = int(port or 9092)
        self.controller_port = settings.kafka_controller_port
        # The inter-broker listener (mutual TLS) sits two above the client port, so the
        # client port setting moves it too.
        self.internal_port = self.port + 2
        self.settings = settings
        self.access = AccessFolder(settings)
        self.heap = settings.kafka_heap
        self.home = settings.state_dir / "kafka"
        self.process = ServiceProcess("kafka", settings.state_dir / "run", self.ready)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def authorizer_log(self) -> Path:
        """The authorizer's decisions (denials at INFO): one source of the audit trail."""
        return self.home / "authorizer.log"

    def start(self, timeout_s: float = 90.0) -> int:
        java = require_tool("java", "run the Kafka broker")
        libs = resolve_jars(KAFKA_POM, self.home / "libs")
        if self.settings.secure:
            ensure_certificates(self.access.tls)
        self._write_config()
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").exists():
            self._format(java, classpath)
        elif self.settings.secure and not self.access.has_password(ADMIN_PRINCIPAL):
            raise StackError(
                f"the broker in {self.data_dir} was formatted without the admin credential "
                f"this stack needs; remove {self.home} to start afresh"
            )
        argv = [
            java,
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
        return self.process.start(
            argv,
            None,
            timeout_s,
            ports=[(self.host, p) for p in (self.port, self.controller_port, self.internal_port)],
        )

    def stop(self) -> bool:
        return self.process.stop()

    def _format(self, java: str, classpath: str) -> None:
        # The admin's SCRAM credential goes into the metadata log with the format: SCRAM
        # users live there, so no client could authenticate to create the first one.
        scram = []
        if self.settings.secure:
            password = self.access.new_password(ADMIN_PRINCIPAL).get_secret_value()
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
                str(uuid.uuid4()),
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
        controller = f"{self.host}:{self.controller_port}"
        listeners = self._secure_listeners() if self.settings.secure else self._plain_listeners()
        self.config_file.write_text(
            "\n".join(
                [
                    "# Written by govbus stack up; edit the settings, not this file.",
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{controller}",
                    *listeners,
                    "controller.listener.names=CONTROLLER",
                    f"log.dirs={self.data_dir}",
                    # One node: internal topics cannot have more replicas than brokers.
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
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
            config = kafka_config(as_principal(self.settings, ADMIN_PRINCIPAL))
            AdminClient({**config, "log_level": 0}).list_topics(timeout=3)
        except Exception:
            return False
        return True
