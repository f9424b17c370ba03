"""Fault helpers on a stand-in service (a sleeping child): killed at once, restarted anew."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ops.settings import Settings
from ops.stack.faults import ServiceFault, service_faults
from ops.stack.process import ServiceProcess, StackError, pid_alive

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_killed_service_is_gone_and_restarts_as_a_new_process(tmp_path: Path) -> None:
    process = ServiceProcess("sleeper", tmp_path, ready=lambda: True)
    fault = ServiceFault("sleeper", process, lambda: process.start(SLEEPER, None, 10.0))
    first = fault.restore()
    try:
        assert fault.kill() == first
        assert not pid_alive(first) and process.pid() is None
        with pytest.raises(StackError, match="not running"):
            fault.kill()
        second = fault.restore()
        assert second != first and pid_alive(second)
    finally:
        process.stop()


def test_down_restores_the_service_even_when_the_block_fails(tmp_path: Path) -> None:
    process = ServiceProcess("sleeper", tmp_path, ready=lambda: True)
    fault = ServiceFault("sleeper", process, lambda: process.start(SLEEPER, None, 10.0))
    killed = fault.restore()
    try:
        with pytest.raises(RuntimeError), fault.down() as pid:
            assert pid == killed and process.pid() is None
            raise RuntimeError("the block failed")
        assert process.pid() not in (None, killed)
    finally:
        process.stop()


def test_a_drill_may_kill_each_broker_node_and_the_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVBUS_KAFKA_BROKERS", raising=False)
    assert list(service_faults(Settings(state_dir=tmp_path))) == ["kafka", "registry"]
    assert list(service_faults(Settings(state_dir=tmp_path, kafka_brokers=3))) == [
        "kafka-1", "kafka-2", "kafka-3", "registry"]
