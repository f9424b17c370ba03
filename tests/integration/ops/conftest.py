"""A throwaway Prometheus server (Debian's binary) scraping the targets a test discovers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.http import Target, render_scrape_config, targets, write_file_sd
from ops.settings import Settings
from ops.stack.broker_metrics import scrape_targets

PROJECT = Path(__file__).resolve().parents[3]
SCRAPE_INTERVAL_S = 0.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Prometheus:
    def __init__(self, url: str, file_sd: Path, process: subprocess.Popen[bytes], log: Path
                 ) -> None:
        self.url = url
        self.file_sd = file_sd
        self.broker_file_sd = file_sd.with_name("kafka-targets.json")
        self.process = process
        self.log = log

    def discover(self, state_dir: Path) -> list[Target]:
        """Point Prometheus at the live targets announced under ``state_dir``."""
        return write_file_sd(state_dir, self.file_sd)

    def discover_brokers(self, settings: Settings) -> None:
        """Point Prometheus at the brokers of the local cluster ``settings`` describe."""
        self.broker_file_sd.write_text(json.dumps(scrape_targets(settings)))

    def query(self, expr: str) -> list[dict[str, Any]]:
        reply = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        reply.raise_for_status()
        body = reply.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The value of a one-series result, or None while there is none."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def wait_for(self, expr: str, test: Callable[[float], bool], timeout_s: float = 30.0
                 ) -> float:
        deadline = time.monotonic() + timeout_s
        last: float | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            last = self.value(expr)
            if last is not None and test(last):
                return last
            time.sleep(SCRAPE_INTERVAL_S / 2)
        raise AssertionError(f"{expr}: last value {last} after {timeout_s} s; "
                             f"targets: {self.query('up')}")


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not found: ops/bootstrap.sh installs Debian's prometheus "
                    "package when run as root with apt-get (it could not here)")
    home = tmp_path / "prometheus"
    home.mkdir()
    file_sd = home / "targets.json"
    file_sd.write_text("[]\n")
    broker_file_sd = home / "kafka-targets.json"
    broker_file_sd.write_text("[]\n")
    config = home / "prometheus.yml"
    config.write_text(render_scrape_config(file_sd, broker_file_sd,
                                           scrape_interval_s=SCRAPE_INTERVAL_S))
    port = free_port()
    log = home / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
             "--storage.tsdb.retention.time=1h"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    server = Prometheus(f"http://127.0.0.1:{port}", file_sd, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"prometheus exited ({process.returncode}):\n"
                                     f"{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready in 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[Any], timeout_s: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def emitter(state_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The stand-in govbus process (tests.integration.ops.emitter) and its base URL."""
    env = {**os.environ, "GOVBUS_STATE_DIR": str(state_dir), "GOVBUS_METRICS_PORT": "0"}
    process = subprocess.Popen([sys.executable, "-m", "tests.integration.ops.emitter"],
                               cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"emitter exited ({process.poll()})"
        yield process, url
    finally:
        _stop(process)


def announced(state_dir: Path, pid: int) -> list[Target]:
    return [t for t in targets(state_dir) if t.pid == pid]
