"""Change-capture health from Kafka Connect's REST API, measured beside the other monitors.

Per captured source table whose connector this namespace added, its tasks by state: the
gauge ``govbus_cdc_connector_tasks{table, outcome}`` (running, failed, paused, unassigned)
and the alert on a failed task, which Connect never restarts by itself. Without a Connect
worker answering (no table captured here) it measures nothing and says nothing.
"""

from __future__ import annotations

import logging
from collections import Counter

from ops import metrics
from ops.settings import Settings
from ops.stack.connect import ConnectError, ConnectWorker
from topics.cdc import DEPARTMENT_TABLES

log = logging.getLogger("govbus.sinks.connect")


class ConnectorTasks:
    def __init__(self, settings: Settings) -> None:
        self.worker = ConnectWorker(settings)
        self.namespace = settings.topic_namespace

    def check(self) -> dict[str, Counter[str]]:
        """Tasks per state of each captured table's connector; sets the gauge."""
        try:
            if not self.worker.ready():
                return {}
            present = set(self.worker.connectors())
            found: dict[str, Counter[str]] = {}
            for table in DEPARTMENT_TABLES:
                name = table.connector_name(self.namespace)
                if name in present:
                    found[table.source] = Counter(
                        t.lower() for t in self.worker.connector_state(name).tasks)
        except ConnectError as exc:  # went away mid-check: the next round measures again
            log.warning("Kafka Connect: %s", exc)
            return {}
        for source, tasks in found.items():
            for outcome in metrics.CONNECTOR_TASK_OUTCOMES:
                metrics.cdc_connector_tasks.labels(table=source, outcome=outcome).set(
                    tasks.get(outcome, 0))
        return found
