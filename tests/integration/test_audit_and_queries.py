"""Audit and the query endpoint on the real stack, over SASL_SSL and TLS: a broker denial
lands in the audit table; the endpoint wants credentials, cannot write, and stops a query at
the engine's time limit."""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from govbus.wiring import ship_denials, topic_admin
from ops.access import AccessFolder
from ops.settings import Settings
from sinks.query_client import endpoint_url, run_query
from tests.integration.test_access import read_error
from tests.integration.workers import namespace_env, wait_for
from topics.catalog import catalog_for
from topics.principals import SUBSCRIBER

GOVBUS = [sys.executable, "-m", "govbus.cli"]


@pytest.fixture
def sink(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A `govbus sink run` of the test's namespace, with its own chDB folder and a one-second
    query time limit; the settings to query it with."""
    topic_admin(settings).apply(catalog_for(settings).all)
    state = tmp_path / "state"
    env = namespace_env(settings, GOVBUS_STATE_DIR=str(state), GOVBUS_SINK_QUERY_PORT="0",
                        GOVBUS_METRICS_ENABLED="false", GOVBUS_QUERY_MAX_EXECUTION_S="1",
                        GOVBUS_ACCESS_DIR=str(settings.access_folder))
    local = settings.model_copy(update={"state_dir": state,
                                        "access_dir": settings.access_folder})
    log = tmp_path / "sink.log"
    with log.open("wb") as out:
        process = subprocess.Popen([*GOVBUS, "sink", "run"], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: endpoint_url(local) is not None, 120, "the sink's query endpoint",
                 process, log)
        yield local
    finally:
        process.terminate()
        process.wait(30)


def _post(url: str, sql: str, authorization: str | None, settings: Settings) -> int:
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(url, data=sql.encode(), method="POST", headers=headers)
    context = ssl.create_default_context(cafile=str(AccessFolder(settings).ca_file))
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _basic(settings: Settings, user: str | None = None) -> str:
    user = user or settings.query_user
    password = AccessFolder(settings).query_password(user).get_secret_value()
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def auditor(settings: Settings) -> Settings:
    return settings.model_copy(update={"query_user": "auditor"})


def test_a_subscribers_denial_lands_in_the_audit_table(sink: Settings, settings: Settings
                                                        ) -> None:
    raw = catalog_for(settings).raw("household.resident").name
    assert read_error(sink, SUBSCRIBER, raw, f"{sink.topic_namespace}subscriber-x") is not None
    ship_denials(settings)
    db = sink.clickhouse_database

    def landed() -> bool:
        body = run_query(auditor(sink),
                         f"SELECT count() FROM {db}.audit WHERE kind = 'broker.denied' "
                               f"AND principal = 'subscriber' AND resource LIKE '%{raw}'", "csv")
        return int(body.split()[-1]) > 0

    wait_for(landed, 60, "the denial in the audit table")


def test_the_query_endpoint_wants_credentials_and_cannot_write(sink: Settings) -> None:
    url = endpoint_url(sink)
    assert url is not None and url.startswith("https://")
    assert _post(url, "SELECT 1", None, sink) == 401
    assert _post(url, "SELECT 1", "Basic " + base64.b64encode(b"analyst:wrong").decode(),
                 sink) == 401
    auth = _basic(sink)
    assert _post(url, "SELECT 1", auth, sink) == 200
    db = sink.clickhouse_database
    assert _post(url, f"INSERT INTO {db}.audit (event_id) VALUES ('x')", auth, sink) == 403
    # Past the statement check, the engine itself refuses to lift its read-only mode ...
    assert _post(url, "SELECT 1 SETTINGS readonly = 0", auth, sink) == 403
    # ... or its time limit, and stops a query that runs past it.
    assert _post(url, "SELECT 1 SETTINGS max_execution_time = 100", auth, sink) == 403
    assert _post(url, "SELECT count() FROM system.numbers", auth, sink) == 403


def test_every_query_is_audited(sink: Settings) -> None:
    run_query(sink, "SELECT 42 AS answer")
    db = sink.clickhouse_database

    def audited() -> bool:
        body = run_query(auditor(sink), f"SELECT count() FROM {db}.audit WHERE kind = 'query' "
                               "AND action = 'SELECT 42 AS answer' AND principal = 'analyst'",
                         "csv")
        return int(body.split()[-1]) > 0

    wait_for(audited, 60, "the query in the audit table")


def test_each_query_user_reads_only_the_libraries_granted_to_it(sink: Settings) -> None:
    """The engine's analyzer names what a statement reads, through views, subqueries and
    CTEs; anything not granted is refused (403) before it runs, and audited."""
    url = endpoint_url(sink)
    assert url is not None
    db = sink.clickhouse_database
    analyst, statistician = _basic(sink), _basic(sink, "statistician")
    assert _post(url, f"SELECT count() FROM {db}.theme_individual", analyst, sink) == 200
    assert _post(url, f"SELECT count() FROM {db}.audit", analyst, sink) == 403
    hidden = f"WITH a AS (SELECT principal FROM {db}.audit) SELECT count() FROM a"
    assert _post(url, hidden, analyst, sink) == 403
    assert _post(url, f"SELECT count() FROM {db}.v_population_by_district", statistician,
                 sink) == 200
    assert _post(url, f"SELECT 1 WHERE 1 IN (SELECT 1 FROM {db}.theme_individual)",
                 statistician, sink) == 403
    assert _post(url, "SELECT * FROM file('/etc/passwd', 'LineAsString')", analyst, sink) == 403
    assert _post(url, "SELECT name FROM system.users", analyst, sink) == 403
    assert _post(url, f"SELECT count() FROM {db}.audit", _basic(sink, "auditor"), sink) == 200
