"""An outage of one local service: stopped for the block, started again after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.settings import Settings
from ops.stack.manager import LocalStack
from ops.stack.process import StackError


class _Service:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def start(self) -> int:
        self.calls.append("start")
        return 1

    def stop(self) -> bool:
        self.calls.append("stop")
        return True


def test_an_outage_stops_then_starts_the_one_service(tmp_path: Path) -> None:
    stack = LocalStack(Settings(state_dir=tmp_path))
    calls: list[str] = []
    stack.registry = _Service(calls)  # type: ignore[assignment]
    with stack.outage("registry"):
        assert calls == ["stop"]
    assert calls == ["stop", "start"]
    with pytest.raises(RuntimeError, match="fault"), stack.outage("registry"):
        raise RuntimeError("fault in the block")
    assert calls[-1] == "start"  # back even when the block failed


def test_an_unknown_service_is_named_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="one of kafka, registry"):
        LocalStack(Settings(state_dir=tmp_path)).service("zookeeper")
