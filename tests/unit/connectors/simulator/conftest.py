"""One simulated run shared by the simulator's tests (building it is the slow part)."""

from __future__ import annotations

import pytest

from connectors.simulator import DepartmentSimulator, SimulatedEvent

RUN_SEED = 20240301
RUN_EVENTS = 12_000
RUN_DEFECT_RATE = 0.08


@pytest.fixture(scope="package")
def run_defect_rate() -> float:
    return RUN_DEFECT_RATE


@pytest.fixture(scope="package")
def run() -> list[SimulatedEvent]:
    simulator = DepartmentSimulator(RUN_SEED, defect_rate=RUN_DEFECT_RATE, population=300)
    return simulator.events(RUN_EVENTS)
