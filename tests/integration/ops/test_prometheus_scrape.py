"""A real Prometheus discovers govbus processes, scrapes them and sees sane values."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from ops.http import targets
from ops.settings import Settings
from tests.integration.ops import emitter as known
from tests.integration.ops.conftest import Prometheus, announced, emitter

UP = 'up{job="govbus", role="emitter"}'


def test_prometheus_scrapes_a_discovered_process(tmp_path: Path, prometheus: Prometheus
                                                 ) -> None:
    state = tmp_path / "state"
    with emitter(state) as (process, url):
        [target] = announced(state, process.pid)
        assert (target.role, target.url) == ("emitter", url)
        assert [t.url for t in prometheus.discover(state)] == [url]

        assert prometheus.wait_for(UP, lambda v: v == 1) == 1
        itest = '{stage="standardize", dept="itest", outcome="%s"}'
        for outcome, count in (("in", known.IN), ("out", known.OUT),
                               ("rejected", known.REJECTED), ("filtered", known.FILTERED)):
            assert prometheus.wait_for(
                f"govbus_stage_events_total{itest % outcome}", lambda v: v > 0) == count
        assert prometheus.value(
            'sum(govbus_dlq_events_total{dept="itest"})') == known.REJECTED
        assert prometheus.value(
            'govbus_consumer_lag_messages{group="govbus-itest"}') == known.LAG
        assert prometheus.value('govbus_stage_batch_events_count{stage="standardize"}'
                                ) == known.BATCHES
        assert prometheus.value('govbus_sink_rows_total{table="person"}') == known.OUT
        last_insert = prometheus.value('govbus_sink_last_insert_timestamp_seconds')
        assert last_insert is not None and abs(time.time() - last_insert) < 120
        median = prometheus.value(
            'histogram_quantile(0.5, govbus_end_to_end_latency_seconds_bucket{table="person"})')
        assert median is not None and 1.0 <= median <= 2.5  # 1.5 s falls in the (1, 2.5] bucket
        start = prometheus.value('process_start_time_seconds{role="emitter"}')
        assert start is not None and 0 < time.time() - start < 600
        assert prometheus.value('count(govbus_build_info{role="emitter"})') == 1
        # A counter that keeps moving has a positive rate (5 per 0.1 s).
        rate = prometheus.wait_for(
            'rate(govbus_stage_events_total{dept="itest-live"}[3s])', lambda v: v > 0)
        assert 5 < rate < 200

        readiness = httpx.get(f"{url}/readyz")
        assert (readiness.status_code, readiness.text) == (200, "ok\n")
        # The alert rules loaded with the configuration, without evaluation errors.
        rules = httpx.get(f"{prometheus.url}/api/v1/rules").json()["data"]["groups"]
        assert {g["name"] for g in rules} >= {"govbus-workers", "govbus-pipeline", "govbus-sink"}
        assert all(r["health"] != "err" for g in rules for r in g["rules"])

    # Stopped with SIGTERM: its announcement is gone, Prometheus sees the target vanish.
    assert announced(state, process.pid) == []
    prometheus.discover(state)
    prometheus.wait_for(f"count({UP}) or vector(0)", lambda v: v == 0)


def test_a_killed_process_leaves_a_stale_file_that_discovery_skips(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with emitter(state) as (process, _url):
        [target] = announced(state, process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert target.path.exists()  # no chance to clean up
        assert targets(state) == []
        assert not target.path.exists()


def test_promtool_check_metrics_on_a_live_scrape(tmp_path: Path) -> None:
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not found: ops/bootstrap.sh installs Debian's prometheus package")
    with emitter(tmp_path / "state") as (_process, url):
        scrape = httpx.get(f"{url}/metrics")
        assert scrape.status_code == 200
        result = subprocess.run([promtool, "check", "metrics"], input=scrape.text,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout
        assert "govbus_stage_events_total" in scrape.text


def test_a_raw_worker_is_discovered_and_scraped(settings: Settings, tmp_path: Path,
                                                prometheus: Prometheus) -> None:
    """The real `govbus worker --role raw`, once it starts ops.http's server."""
    from govbus.wiring import topic_admin
    from tests.integration.workers import running_worker
    from topics.catalog import catalog_for

    topic_admin(settings).apply(catalog_for(settings).all)
    state = settings.state_dir
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "raw") as worker:
        deadline = time.monotonic() + 30
        while not announced(state, worker.pid):
            if worker.poll() is not None:
                raise AssertionError(f"worker exited:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.skip("the raw worker announces no metrics server yet "
                            "(it does not call ops.http.start_metrics_server)")
            time.sleep(0.5)
        [target] = announced(state, worker.pid)
        prometheus.discover(state)
        up = f'up{{job="govbus", role="{target.role}", instance="{target.host_port}"}}'
        assert prometheus.wait_for(up, lambda v: v == 1, timeout_s=60) == 1
        assert prometheus.wait_for(
            f'count(govbus_build_info{{instance="{target.host_port}"}})', lambda v: v == 1) == 1
        ready = prometheus.wait_for(
            f'process_start_time_seconds{{instance="{target.host_port}"}}', lambda v: v > 0)
        assert ready > 0
