"""The local stack as a whole: Kafka first, the registry after it, then (for change data
capture) the department PostgreSQL and the Kafka Connect worker; stopped in reverse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import httpx

from ops.keys import ensure_local_key, local_key_path
from ops.settings import Settings
from ops.stack.connect import ConnectError, ConnectWorker
from ops.stack.kafka import KafkaCluster
from ops.stack.postgres import PostgresServer
from ops.stack.process import ServiceProcess, StackError
from ops.stack.registry import SchemaRegistryService

# Background processes of govbus itself, stopped first on down: the demo's pipeline and the
# audit shipper that `govbus stack up` starts.
PIPELINE = ("worker", "sink", "audit")


class StackService(Protocol):
    """One service of the local stack: started on its settings' ports with its state kept."""

    def start(self) -> object: ...

    def stop(self) -> bool: ...


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # ready | down | external-ready | external-unreachable
    pid: int | None
    address: str


class LocalStack:
    """`govbus stack up|down|status`; with manage_stack off it only checks the given services."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kafka = KafkaCluster(settings)
        self.registry = SchemaRegistryService(settings)
        self.postgres = PostgresServer(settings)
        self.connect = ConnectWorker(settings)
        run_dir = settings.state_dir / "run"
        # Pipeline processes started in the background (the demo): stopped first on down.
        self.pipeline = {
            name: ServiceProcess(name, run_dir, ready=lambda: True) for name in PIPELINE
        }

    def service(self, name: str) -> StackService:
        """The service called ``name`` (kafka, registry, postgres, connect)."""
        services: dict[str, StackService] = {
            "kafka": self.kafka, "registry": self.registry,
            "postgres": self.postgres, "connect": self.connect,
        }
        if name not in services:
            raise StackError(f"no local service {name!r}; one of {', '.join(services)}")
        return services[name]

    @contextmanager
    def outage(self, name: str) -> Iterator[None]:
        """Service ``name`` stopped for the block, then started again on the same ports and
        with the same state, as after a crash and restart: what fault tests inject."""
        if not self.settings.manage_stack:
            raise StackError(f"{name} is not managed here (GOVBUS_MANAGE_STACK=false): "
                             "an outage cannot be made")
        service = self.service(name)
        service.stop()
        try:
            yield
        finally:
            service.start()

    def up(self, cdc: bool = False) -> Iterator[str]:
        """Kafka and the registry; with ``cdc`` (asked, or a connector configured) also the
        change-data-capture services."""
        if not self.settings.manage_stack:
            yield from (f"{s.name}: {s.state} at {s.address}" for s in self.status())
            return
        generated = ensure_local_key(self.settings)
        if generated is not None:
            yield (f"pseudonym key: generated {generated.key_id} in "
                   f"{local_key_path(self.settings)} (mode 0600)")
        pids = self.kafka.start()
        for node, pid in zip(self.kafka.nodes, pids, strict=True):
            metrics = f", metrics at {node.metrics_url}" if node.metrics_url else ""
            yield f"{node.process.name}: ready at {node.address} (pid {pid}){metrics}"
        pid = self.registry.start()
        yield f"registry: ready at {self.settings.registry_url} (pid {pid})"
        if cdc or self.cdc_configured():
            yield from self._up_cdc()

    def cdc_configured(self) -> bool:
        """A connector was added here, or a change-data-capture service runs."""
        return bool(self.connect.configured()) or any(
            p.pid() is not None for p in (self.postgres.process, self.connect.process))

    def _up_cdc(self) -> Iterator[str]:
        pid = self.postgres.start()
        yield f"postgres: ready at {self.postgres.host}:{self.postgres.port} (pid {pid})"
        if not self.connect.can_start():
            yield ("connect: not started: its principal has no user yet; run `govbus topics "
                   "apply`, then `govbus stack up --cdc` again")
            return
        pid = self.connect.start()
        yield f"connect: ready at {self.connect.url} (pid {pid})"

    def down(self) -> Iterator[str]:
        if not self.settings.manage_stack:
            yield "stack is not managed here (GOVBUS_MANAGE_STACK=false): nothing to stop"
            return
        for name, process in self.pipeline.items():
            if process.stop():
                yield f"{name}: stopped"
        # The change-data-capture services run only when asked for: named when stopped.
        # Every namespace's Connect worker goes (a test's, left by an interrupted run).
        run_dir = self.settings.state_dir / "run"
        workers = sorted({self.connect.name} | {p.stem for p in run_dir.glob("connect*.pid")})
        for name in workers:
            if ServiceProcess(name, run_dir, ready=lambda: True).stop():
                yield f"{name}: stopped"
        if self.postgres.stop():
            yield "postgres: stopped"
        yield f"registry: {'stopped' if self.registry.stop() else 'was not running'}"
        # Every node of any cluster size started here, not only the configured one's.
        brokers = sorted({n.process.name for n in self.kafka.nodes}
                         | {p.stem for p in run_dir.glob("kafka*.pid")})
        for name in brokers:
            stopped = ServiceProcess(name, run_dir, ready=lambda: True).stop()
            yield f"{name}: {'stopped' if stopped else 'was not running'}"

    def is_up(self) -> bool:
        return all(s.state.endswith("ready") for s in self.status())

    def status(self) -> list[ServiceStatus]:
        managed = self.settings.manage_stack
        registry_pid = self.registry.process.pid() if managed else None
        if managed:
            services = [_status(node.process.name, managed, node.process.pid(), node.ready,
                                node.address) for node in self.kafka.nodes]
        else:
            services = [_status("kafka", managed, None, self.kafka.node(1).ready,
                                self.settings.kafka_servers)]
        services.append(_status(
            "registry", managed, registry_pid, self.registry.serving, self.settings.registry_url))
        if managed and self.cdc_configured():
            postgres, connect = self.postgres, self.connect
            services.append(_status("postgres", managed, postgres.process.pid(), postgres.ready,
                                    f"{postgres.host}:{postgres.port}"))
            services.append(_status("connect", managed, connect.process.pid(), connect.ready,
                                    f"{connect.url}  {self._connect_health()}"))
        return services

    def _connect_health(self) -> str:
        try:
            return self.connect.health()
        except ConnectError:
            return "not answering"


def _status(
    name: str, managed: bool, pid: int | None, ready: object, address: str
) -> ServiceStatus:
    assert callable(ready)
    try:
        is_ready = bool(ready())
    except (OSError, httpx.HTTPError):
        is_ready = False
    if managed:
        state = "ready" if pid is not None and is_ready else ("starting" if pid else "down")
    else:
        state = "external-ready" if is_ready else "external-unreachable"
    return ServiceStatus(name, state, pid, address)
