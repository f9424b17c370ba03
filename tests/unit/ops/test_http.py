"""ops.http: /metrics, /healthz, /readyz on loopback, and discovery of live targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from ops.http import (
    MetricsServer,
    Readiness,
    file_sd,
    pid_alive,
    render_scrape_config,
    start_metrics_server,
    targets,
    write_file_sd,
)
from ops.settings import Settings
from ops.stack.broker_metrics import scrape_targets
from ops.stack.process import started_at

from .conftest import Promtool


def test_metrics_health_and_readiness(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Counter("govbus_unit_events", "Test counter.", registry=registry).inc(7)
    with MetricsServer("raw", tmp_path, registry=registry) as server:
        assert server.url.startswith("http://127.0.0.1:")
        scrape = httpx.get(f"{server.url}/metrics")
        assert scrape.status_code == 200 and "govbus_unit_events_total 7.0" in scrape.text
        assert scrape.headers["content-type"].startswith("text/plain")
        openmetrics = httpx.get(f"{server.url}/metrics",
                                headers={"Accept": "application/openmetrics-text"})
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        not_ready = httpx.get(f"{server.url}/readyz")
        assert (not_ready.status_code, not_ready.text) == (503, "starting\n")
        server.set_ready()
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        server.set_ready(False, "kafka unreachable:\n broker down")
        reply = httpx.get(f"{server.url}/readyz")
        assert (reply.status_code, reply.text) == (503, "kafka unreachable: broker down\n")
        assert httpx.get(f"{server.url}/nope").status_code == 404
        url = server.url
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz")


@pytest.mark.parametrize(("check", "status", "text"), [
    (lambda: True, 200, "ok\n"),
    (lambda: False, 503, "not ready\n"),
    (lambda: (False, "assignment pending"), 503, "assignment pending\n"),
    (lambda: 1 / 0, 503, "readiness check failed: ZeroDivisionError: division by zero\n"),
])
def test_a_readiness_callback_decides(tmp_path: Path, check: object, status: int,
                                      text: str) -> None:
    def ready() -> Readiness:
        assert callable(check)
        result: Readiness = check()
        return result

    with MetricsServer("theme", tmp_path, ready=ready) as server:
        reply = httpx.get(f"{server.url}/readyz")
        assert (reply.status_code, reply.text) == (status, text)


def test_the_url_file_announces_the_server_until_it_stops(tmp_path: Path) -> None:
    server = MetricsServer("sink", tmp_path)
    url = server.start()
    announced = tmp_path / "run" / f"metrics-sink-{os.getpid()}.url"
    assert announced.read_text() == url + "\n"
    [target] = targets(tmp_path)
    assert (target.role, target.pid, target.url) == ("sink", os.getpid(), url)
    assert target.metrics_url == f"{url}/metrics"
    server.stop()
    server.stop()  # idempotent
    assert not announced.exists() and targets(tmp_path) == []


def test_stale_files_of_dead_processes_are_skipped_and_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid)
    run = tmp_path / "run"
    run.mkdir()
    stale = run / f"metrics-raw-{dead.pid}.url"
    stale.write_text("http://127.0.0.1:1\n")
    (run / "kafka.pid").write_text("1")  # other files are not targets
    with MetricsServer("raw", tmp_path) as server:
        assert [t.url for t in targets(tmp_path)] == [server.url]
    assert not stale.exists()
    assert targets(tmp_path / "nowhere") == []


def test_a_file_whose_pid_went_to_a_later_process_is_stale(tmp_path: Path) -> None:
    """A process killed without removing its file, its pid reused by one started since."""
    run = tmp_path / "run"
    run.mkdir()
    reused = run / f"metrics-all-{os.getpid()}.url"
    reused.write_text("http://127.0.0.1:1\n")
    before_this_process = (started_at(os.getpid()) or 0) - 60
    os.utime(reused, (before_this_process, before_this_process))
    current = run / f"metrics-raw-{os.getpid()}.url"
    current.write_text("http://127.0.0.1:2\n")
    assert [t.url for t in targets(tmp_path)] == ["http://127.0.0.1:2"]
    assert not reused.exists()


def test_file_sd_groups_targets_by_role(tmp_path: Path) -> None:
    with MetricsServer("raw", tmp_path) as raw, MetricsServer("theme", tmp_path) as theme:
        found = targets(tmp_path)
        groups = file_sd(found)
        assert groups == [
            {"targets": [raw.url.removeprefix("http://")], "labels": {"role": "raw"}},
            {"targets": [theme.url.removeprefix("http://")], "labels": {"role": "theme"}},
        ]
        sd = tmp_path / "sd.json"
        write_file_sd(tmp_path, sd)
        assert json.loads(sd.read_text()) == groups


def test_roles_are_safe_file_name_parts(tmp_path: Path) -> None:
    for role in ("", "Raw", "../x", "a b"):
        with pytest.raises(ValueError):
            MetricsServer(role, tmp_path)


def test_start_from_settings_honours_the_switch(tmp_path: Path) -> None:
    assert start_metrics_server(Settings(state_dir=tmp_path, metrics_enabled=False), "raw") is None
    server = start_metrics_server(Settings(state_dir=tmp_path), "raw")
    assert server is not None
    try:
        assert server.host == "127.0.0.1" and [t.role for t in targets(tmp_path)] == ["raw"]
    finally:
        server.stop()


def test_the_scrape_config_template_is_valid(tmp_path: Path, promtool: Promtool) -> None:
    sd = tmp_path / "targets.json"
    sd.write_text("[]")
    brokers = tmp_path / "kafka-targets.json"
    brokers.write_text(json.dumps(scrape_targets(Settings(state_dir=tmp_path, kafka_brokers=3))))
    config = tmp_path / "prometheus.yml"
    config.write_text(render_scrape_config(sd, brokers, scrape_interval_s=0.5))
    assert "scrape_interval: 500ms" in config.read_text()
    assert f'- "{brokers}"' in config.read_text()
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
