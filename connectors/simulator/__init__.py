"""A seeded simulator of four department systems' change events, for tests and benchmarks."""

from connectors.simulator.defects import DefectKind
from connectors.simulator.event import SimulatedEvent
from connectors.simulator.remarks import LabelledText
from connectors.simulator.simulator import DEMO_PREFECTURES, DepartmentSimulator, labelled_remarks

__all__ = ["DEMO_PREFECTURES", "DefectKind", "DepartmentSimulator", "LabelledText",
           "SimulatedEvent", "labelled_remarks"]
