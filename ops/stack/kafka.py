"""The local Apache Kafka 4.x broker: a single combined KRaft node on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

from ops.settings import Settings
from ops.stack.process import ServiceProcess, StackError
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
        self.heap = settings.kafka_heap
        self.home = settings.state_dir / "kafka"
        self.process = ServiceProcess("kafka", settings.state_dir / "run", self.ready)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def start(self, timeout_s: float = 90.0) -> int:
        java = require_tool("java", "run the Kafka broker")
        libs = resolve_jars(KAFKA_POM, self.home / "libs")
        self._write_config()
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").exists():
            self._format(java, classpath)
        argv = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dgovbus.log.file={self.home / 'server.log'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(self.config_file),
        ]
        return self.process.start(
            argv,
            None,
            timeout_s,
            ports=[(self.host, self.port), (self.host, self.controller_port)],
        )

    def stop(self) -> bool:
        return self.process.stop()

    def _format(self, java: str, classpath: str) -> None:
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
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        listener = f"{self.host}:{self.port}"
        controller = f"{self.host}:{self.controller_port}"
        self.config_file.write_text(
            "\n".join(
                [
                    "# Written by govbus stack up; edit the settings, not this file.",
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{controller}",
                    f"listeners=PLAINTEXT://{listener},CONTROLLER://{controller}",
                    f"advertised.listeners=PLAINTEXT://{listener}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
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

    def ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                pass
        except OSError:
            return False
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": f"{self.host}:{self.port}"}).list_topics(timeout=3)
        except Exception:
            return False
        return True
