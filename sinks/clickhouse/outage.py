"""A ClickHouse outage for an engine that cannot be stopped on its own (chDB lives in the
sink's process): while the switch file exists, every statement of the sink's writing
backend fails as a server that refuses connections does (retryable), so the sink pauses,
backs off and retries exactly as it would for a server that went away. The fault matrix
turns it on; a server is simply stopped instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops.settings import Settings
from sinks.clickhouse.backend import BackendUnavailableError, ClickHouseBackend

OUTAGE_ENV = "GOVBUS_CLICKHOUSE_OUTAGE_SWITCH"


def outage_file(settings: Settings) -> Path:
    return settings.state_dir / "run" / "clickhouse-outage"


class OutageSwitch:
    """A backend that is unavailable while ``switch`` exists."""

    def __init__(self, backend: ClickHouseBackend, switch: Path) -> None:
        self.backend = backend
        self.switch = switch

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.backend, name)
        if not callable(attribute) or name == "close":
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.switch.exists():
                raise BackendUnavailableError(f"connection refused (outage switch {self.switch})")
            return attribute(*args, **kwargs)

        return call
