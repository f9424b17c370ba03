"""The local Kafka Connect worker (distributed mode) that runs the stock Debezium connector.

Its class path comes from Maven Central like the broker's (connect-pom.xml): connect-runtime,
Debezium's PostgreSQL connector and the registry's Avro converter, all on one class path. It
connects as its own principal, ``connect``, over SASL_SSL with the stack's CA, and keeps its
state in its three storage topics, which the topic catalog declares from the names here.

No secret is written into its files or sent over its REST API: the worker's and connectors'
passwords are ``${dir:<folder>:<file>}`` references that Kafka's DirectoryConfigProvider
resolves inside the worker, from the owner-only access folder.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ops.access import AccessFolder
from ops.kafka_client import SASL_MECHANISM
from ops.settings import Settings
from ops.stack.process import ServiceProcess
from ops.stack.tooling import STACK_DIR, require_tool, resolve_jars

CONNECT_POM = STACK_DIR / "connect-pom.xml"
LOG4J_CONFIG = STACK_DIR / "log4j2.properties"
PRINCIPAL = "connect"
# Storage topic -> partitions (Kafka Connect's own defaults are 25 and 5; one node here).
STORES = {"configs": 1, "offsets": 5, "status": 5}


def storage_topic(namespace: str, store: str) -> str:
    """The name of one of the worker's storage topics (the catalog declares them)."""
    return f"{namespace}connect.{store}"


def worker_group(namespace: str) -> str:
    """The worker's group id (dots are not for group ids)."""
    return f"govbus-{namespace}connect".replace(".", "-")


def secret_reference(path: Path) -> str:
    """A config value the worker resolves from a file: the secret never leaves the folder."""
    return f"${{dir:{path.parent}:{path.name}}}"


@dataclass(frozen=True)
class ConnectorState:
    name: str
    state: str  # RUNNING | PAUSED | FAILED | UNASSIGNED | ...
    tasks: tuple[str, ...]
    trace: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "RUNNING" and bool(self.tasks) and all(
            t == "RUNNING" for t in self.tasks)

    def summary(self) -> str:
        running = sum(t == "RUNNING" for t in self.tasks)
        return f"{self.name} {self.state} ({running}/{len(self.tasks)} tasks)"


class ConnectError(RuntimeError):
    """The Connect worker refused a request or is not reachable: the message says why."""


class ConnectWorker:
    """Resolves (once), configures, starts and stops the worker; talks to its REST API."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = "127.0.0.1"
        self.port = settings.connect_rest_port
        self.url = f"http://{self.host}:{self.port}"
        self.namespace = settings.topic_namespace
        self.access = AccessFolder(settings)
        self.home = settings.state_dir / "connect"
        # One worker per topic namespace (its storage topics and group are the namespace's),
        # so environments and tests sharing a machine each run their own.
        self.name = f"connect-{self.namespace.rstrip('.')}" if self.namespace else "connect"
        self.process = ServiceProcess(self.name, settings.state_dir / "run", self.ready)

    @property
    def config_file(self) -> Path:
        return self.home / f"{self.name}.properties"

    @property
    def configured_dir(self) -> Path:
        """One empty file per connector added here: `govbus stack up` then starts the
        worker again after a `stack down` (its configs live in its storage topic)."""
        return self.home / "configured" / self.name

    def configured(self) -> list[str]:
        return sorted(p.name for p in self.configured_dir.glob("*"))

    def mark_configured(self, name: str, configured: bool) -> None:
        marker = self.configured_dir / name
        if configured:
            self.configured_dir.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)
            if self.configured_dir.exists() and not any(self.configured_dir.iterdir()):
                self.configured_dir.rmdir()

    def can_start(self) -> bool:
        """Its principal's user exists (`govbus topics apply` makes it, with its topics)."""
        return not self.settings.secure or self.access.has_password(PRINCIPAL)

    def start(self, timeout_s: float = 120.0) -> int:
        java = require_tool("java", "run Kafka Connect")
        libs = resolve_jars(CONNECT_POM, self.home / "libs")
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(render_properties(self.worker_config()))
        argv = [
            java,
            f"-Xms{self.settings.connect_heap}",
            f"-Xmx{self.settings.connect_heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dgovbus.log.file={self.home / (self.name + '.log')}",
            "-cp",
            f"{libs}/*",
            "org.apache.kafka.connect.cli.ConnectDistributed",
            str(self.config_file),
        ]
        return self.process.start(argv, None, timeout_s, ports=[(self.host, self.port)])

    def stop(self) -> bool:
        return self.process.stop()

    def worker_config(self) -> dict[str, str]:
        config = {
            "bootstrap.servers": self.settings.kafka_servers,
            "group.id": worker_group(self.namespace),
            **{f"{kind}.storage.topic": storage_topic(self.namespace, store)
               for kind, store in (("config", "configs"), ("offset", "offsets"),
                                   ("status", "status"))},
            **{f"{kind}.storage.replication.factor": "1"
               for kind in ("config", "offset", "status")},
            # Connectors choose their own converters (the registry's Avro converter).
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "listeners": f"http://{self.host}:{self.port}",
            "rest.advertised.host.name": self.host,
            "rest.advertised.port": str(self.port),
            # Topics are the catalog's: nothing is created on a connector's first write.
            "topic.creation.enable": "false",
            "offset.flush.interval.ms": "1000",
            "task.shutdown.graceful.timeout.ms": "5000",
            "config.providers": "dir",
            "config.providers.dir.class":
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            "config.providers.dir.param.allowed.paths": str(self.access.root),
        }
        if not self.settings.secure:
            return config
        password = secret_reference(self.access.password_file(PRINCIPAL))
        client = {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": SASL_MECHANISM,
            "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule "
                                f'required username="{PRINCIPAL}" password="{password}";',
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.access.ca_file),
        }
        # The worker's own clients, and the producers, consumers and admins of its tasks.
        for prefix in ("", "producer.", "consumer.", "admin."):
            config.update({prefix + key: value for key, value in client.items()})
        return config

    # ------------------------------------------------------------------ REST

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/connectors", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def connectors(self) -> list[str]:
        return list(self._request("GET", "/connectors"))

    def put_config(self, name: str, config: Mapping[str, str]) -> bool:
        """Create or update a connector; True when it was created."""
        response = self._call("PUT", f"/connectors/{name}/config", json=dict(config))
        return response.status_code == 201

    def delete(self, name: str, timeout_s: float = 30.0) -> bool:
        """Stop the connector, forget its source offsets, then delete it: added again, it
        starts afresh (a snapshot) instead of resuming at a position whose slot is gone.
        False when there was no such connector."""
        if name not in self.connectors():
            return False
        self._call("PUT", f"/connectors/{name}/stop")
        deadline = time.monotonic() + timeout_s
        while self.connector_state(name).state != "STOPPED":
            if time.monotonic() > deadline:
                raise ConnectError(f"{name} did not stop within {timeout_s:.0f} s")
            time.sleep(0.3)
        self._call("DELETE", f"/connectors/{name}/offsets")
        self._call("DELETE", f"/connectors/{name}")
        return True

    def connector_state(self, name: str) -> ConnectorState:
        status = self._request("GET", f"/connectors/{name}/status")
        tasks = status.get("tasks", [])
        trace = status["connector"].get("trace", "") or next(
            (t.get("trace", "") for t in tasks if t.get("trace")), "")
        return ConnectorState(name, status["connector"]["state"],
                              tuple(t["state"] for t in tasks), trace)

    def health(self) -> str:
        """One line for `govbus status`: the connectors and their tasks' states."""
        states = [self.connector_state(name) for name in sorted(self.connectors())]
        if not states:
            return "no connectors"
        return "; ".join(s.summary() for s in states)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = httpx.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        except httpx.HTTPError as exc:
            raise ConnectError(f"Kafka Connect at {self.url} did not answer: {exc}") from None
        if response.status_code >= 400 and not (method == "DELETE"
                                                 and response.status_code == 404):
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise ConnectError(f"Kafka Connect refused {method} {path}: "
                               f"{response.status_code} {message}")
        return response


def render_properties(config: Mapping[str, str]) -> str:
    lines = ["# Written by govbus stack up; edit the settings, not this file."]
    # Properties files treat backslashes as escapes: none of our values carries one.
    lines += [f"{key}={value}" for key, value in config.items()]
    return "\n".join(lines) + "\n"
