"""The connector-task gauge, from a stand-in for Kafka Connect's REST API."""

from __future__ import annotations

from prometheus_client import REGISTRY

from ops.settings import Settings
from ops.stack.connect import ConnectError, ConnectorState
from sinks.connect_monitor import ConnectorTasks
from topics.cdc import department_table


class FakeWorker:
    def __init__(self, up: bool, states: dict[str, tuple[str, ...]]) -> None:
        self.up, self.states = up, states

    def ready(self) -> bool:
        return self.up

    def connectors(self) -> list[str]:
        return list(self.states)

    def connector_state(self, name: str) -> ConnectorState:
        if name not in self.states:
            raise ConnectError("gone")
        return ConnectorState(name, "RUNNING", self.states[name])


def _tasks(outcome: str, source: str = "household.resident") -> float | None:
    return REGISTRY.get_sample_value("govbus_cdc_connector_tasks",
                                     {"table": source, "outcome": outcome})


def test_each_captured_tables_tasks_are_counted_by_state() -> None:
    settings = Settings(topic_namespace="mon.")
    monitor = ConnectorTasks(settings)
    name = department_table("household.resident").connector_name("mon.")
    monitor.worker = FakeWorker(True, {name: ("RUNNING", "FAILED"),  # type: ignore[assignment]
                                       "someone-elses-connector": ("FAILED",)})
    assert monitor.check() == {"household.resident": {"running": 1, "failed": 1}}
    assert (_tasks("running"), _tasks("failed"), _tasks("paused")) == (1, 1, 0)


def test_without_a_worker_nothing_is_measured() -> None:
    monitor = ConnectorTasks(Settings(topic_namespace="mon2."))
    monitor.worker = FakeWorker(False, {})  # type: ignore[assignment]
    assert monitor.check() == {}
    assert _tasks("running", "market.enterprise") is None


def test_a_worker_going_away_mid_check_is_a_warning_not_a_crash() -> None:
    monitor = ConnectorTasks(Settings(topic_namespace="mon3."))
    name = department_table("civil.marriage").connector_name("mon3.")

    class Vanishing(FakeWorker):
        def connector_state(self, name: str) -> ConnectorState:
            raise ConnectError("did not answer")

    monitor.worker = Vanishing(True, {name: ("RUNNING",)})  # type: ignore[assignment]
    assert monitor.check() == {}
