"""The engines the conformance suite runs on: chDB always; a ClickHouse server when one is
reachable (``GOVBUS_CLICKHOUSE_URL``, or a testcontainers container where a Docker daemon
runs), else those tests skip and say why."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.settings import Settings

SERVER_URL_ENV = "GOVBUS_CLICKHOUSE_URL"


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(
            ["docker", "info"], capture_output=True, timeout=10, check=False
        ).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A reachable ClickHouse server's URL, or a skip with the reason."""
    url = os.environ.get(SERVER_URL_ENV)
    if url:
        yield url
        return
    if not _docker_daemon():
        pytest.skip(
            f"no ClickHouse server: {SERVER_URL_ENV} is unset and no Docker daemon answers "
            "(set it, e.g. to http://default:@127.0.0.1:8123, to run the server backend)"
        )
    try:
        from testcontainers.clickhouse import ClickHouseContainer
    except ImportError:
        pytest.skip("a Docker daemon runs but testcontainers is not installed "
                    f"(pip install 'testcontainers[clickhouse]', or set {SERVER_URL_ENV})")
    with ClickHouseContainer("clickhouse/clickhouse-server:24.8") as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(8123)
        yield f"http://{container.username}:{container.password}@{host}:{port}"


@pytest.fixture(params=["chdb", "server"])
def engine_settings(
    request: pytest.FixtureRequest, stack: Settings, namespace: str, tmp_path: Path
) -> Iterator[Settings]:
    """Settings for one test's sink: its own state folder (chDB data, query URL), database,
    consumer group and small batches, in the test's topic namespace."""
    url: str | None = None
    suffix = uuid.uuid4().hex[:8]
    if request.param == "server":
        url = request.getfixturevalue("server_url")
    settings = make_settings(tmp_path / "a", url, suffix, access_dir=stack.access_folder,
                             topic_namespace=namespace)
    yield settings
    if url is not None:
        drop_database(settings)


def make_settings(state_dir: Path, url: str | None, suffix: str, group: str = "sink",
                  *, access_dir: Path, topic_namespace: str) -> Settings:
    """A sink's own state folder, with the local stack's credentials and CA (access_dir), in
    the test's topic namespace."""
    return Settings(
        topic_namespace=topic_namespace,
        state_dir=state_dir,
        access_dir=access_dir,
        clickhouse_url=url,
        clickhouse_database=f"it_{suffix}" if url else "govbus",
        sink_group_id=f"{group}-{suffix}",
        sink_batch_rows=150,
        sink_batch_seconds=0.2,
    )


def drop_database(settings: Settings) -> None:
    from sinks.clickhouse.backend_factory import open_backend
    from sinks.clickhouse.sql import quote_identifier

    backend = open_backend(settings)
    try:
        backend.execute(f"DROP DATABASE IF EXISTS {quote_identifier(settings.clickhouse_database)}")
    finally:
        backend.close()
