"""Faults of the fault matrix: a service of the local stack killed as a crash kills it
(SIGKILL, no shutdown), then started again on the same ports and data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ops.settings import Settings
from ops.stack.kafka import KafkaCluster
from ops.stack.process import ServiceProcess, StackError
from ops.stack.registry import SchemaRegistryService


@dataclass(frozen=True)
class ServiceFault:
    """One service's crash and restart."""

    name: str
    process: ServiceProcess
    restart: Callable[[], int]

    def kill(self) -> int:
        """SIGKILL the running service; returns the pid killed."""
        pid = self.process.kill()
        if pid is None:
            raise StackError(f"{self.name} is not running: nothing to kill")
        return pid

    def restore(self) -> int:
        """Start it again (same ports, same data) and wait until it serves; returns the pid."""
        return self.restart()

    @contextmanager
    def down(self) -> Iterator[int]:
        """Killed inside the block, restored after it (even when the block fails)."""
        pid = self.kill()
        try:
            yield pid
        finally:
            self.restore()


def broker_fault(settings: Settings, node: int = 1) -> ServiceFault:
    """A node of the local cluster (the only one of the default stack)."""
    broker = KafkaCluster(settings).node(node)
    return ServiceFault(broker.process.name, broker.process, broker.start)


def registry_fault(settings: Settings) -> ServiceFault:
    """The schema registry behind its door: the door keeps answering, the registry does not."""
    registry = SchemaRegistryService(settings)
    return ServiceFault("registry", registry.process, registry.start)


def service_faults(settings: Settings) -> dict[str, ServiceFault]:
    """Every service of the local stack a fault drill may kill, by its process name."""
    brokers = (broker_fault(settings, n) for n in range(1, settings.kafka_brokers + 1))
    return {fault.name: fault for fault in (*brokers, registry_fault(settings))}
