"""The demo: the whole bus on one machine, fed by the simulated departments.

Starts the stack, applies topics, starts the pipeline (one streams worker and the
ClickHouse sink) in the background, publishes simulated change events, waits until the theme
libraries have caught up, then shows what they hold. `govbus stack down` stops everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from connectors.simulate import SimulationReport, run_simulation
from connectors.simulator import DepartmentSimulator
from govbus.resource_catalog import publish_catalog
from govbus.sharing import subscribed
from govbus.wiring import (
    admin_settings,
    department_targets,
    publishers,
    topic_admin,
)
from ops.http import targets
from ops.settings import Settings
from ops.stack.manager import LocalStack
from ops.stack.process import terminate
from sinks.clickhouse.kanon import COLUMNS as KANON_COLUMNS
from sinks.clickhouse.kanon import KANON_VIEW, parse_row, summary_lines
from sinks.clickhouse.tables import resource_catalog_table
from sinks.query_client import endpoint_url, run_query
from topics.catalog import catalog_for
from topics.principals import consumer
from topics.schemas import source_names

GOVBUS = [sys.executable, "-m", "govbus.cli"]


@dataclass(frozen=True)
class Summary:
    title: str
    columns: list[str]
    rows: list[list[object]]


def postgres_available(settings: Settings) -> bool:
    """The demo's departments write their own PostgreSQL when the stack can run one."""
    from ops.stack.postgres import server_bin_dir
    from ops.stack.process import StackError

    try:
        server_bin_dir()
    except StackError:
        return False
    return settings.manage_stack


def start(settings: Settings, say: Callable[[str], None], cdc: bool = False) -> None:
    """Stack, topics, tables, pipeline (with ``cdc``, the department PostgreSQL and Kafka
    Connect too): each step harmless when already done."""
    stack = LocalStack(settings)
    for line in stack.up():
        say(line)
    start_audit_shipper(settings, stack, say)
    # With the grants the subscriptions name, so a second demo keeps them.
    catalog = catalog_for(settings)
    topic_admin(admin_settings(settings), subscribed(settings)).apply(catalog.all)
    say(f"topics: {len(catalog.all)} applied")
    made = publish_catalog(settings)
    say(f"resource catalog: {made.revised} entries published to "
        f"{catalog.resource_catalog.name} ({made.unchanged} unchanged)")
    if cdc:  # after the topics: Connect's own topics and principal come with them
        for line in stack.up(cdc=True):
            if line.startswith(("postgres", "connect")):
                say(line)
    for name, argv, ready in (
        ("worker", [*GOVBUS, "worker", "--role", "all"], lambda: _worker_ready(settings)),
        ("sink", [*GOVBUS, "sink", "run"], lambda: endpoint_url(settings) is not None),
    ):
        process = stack.pipeline[name]
        pid = process.start(argv, None, timeout_s=5.0)
        _wait(ready, 120.0, f"the {name} to be ready (log: {process.log_file})")
        say(f"{name}: running (pid {pid})")
    say("tables and views: migrated by the sink at its start")


def start_audit_shipper(settings: Settings, stack: LocalStack, say: Callable[[str], None]
                        ) -> None:
    """The broker's denials to the audit topic, in the background until `stack down`."""
    if settings.secure and settings.manage_stack:
        pid = stack.pipeline["audit"].start(
            [*GOVBUS, "audit", "ship", "--follow"],
            {"GOVBUS_KAFKA_BROKERS": str(settings.kafka_brokers)}, timeout_s=5.0)
        say(f"audit: shipping broker denials to the audit topic (pid {pid})")


def simulate(
    settings: Settings, rate: float, duration_s: float, seed: int, progress: Callable[[int], None],
    cdc: bool = False, say: Callable[[str], None] = lambda _: None,
) -> SimulationReport:
    """The departments' changes: published through the SDK, or with ``cdc`` written to their
    own PostgreSQL tables with SQL, for Debezium to carry."""
    simulator = DepartmentSimulator(seed=seed, defect_rate=0.05)
    sources = list(source_names())
    if not cdc:
        return run_simulation(simulator, publishers(settings, sources), rate, duration_s,
                              progress)
    return run_simulation(simulator, department_targets(settings, sources, say), rate,
                          duration_s, progress)


def wait_for_landing(settings: Settings, quiet_s: float = 6.0, timeout_s: float = 180.0) -> int:
    """Wait until the profile tables stop growing; returns their row count."""
    db = settings.clickhouse_database
    sql = (
        f"SELECT (SELECT count() FROM {db}.theme_individual) + (SELECT count() FROM "
        f"{db}.theme_organization) + (SELECT count() FROM {db}.theme_thing) AS n"
    )
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = query(settings, sql).rows
        count = int(str(rows[0][0])) if rows else 0
        if count != last:
            last, since = count, time.monotonic()
        elif count > 0 and time.monotonic() - since >= quiet_s:
            return count
        time.sleep(1.0)
    return last


def summaries(settings: Settings) -> Iterator[Summary]:
    db = settings.clickhouse_database
    for title, sql in (
        (
            "人口库 population by district (top 10; cells below k suppressed, not summed)",
            f"SELECT district, sum(persons) AS persons, countIf(suppressed) AS suppressed_cells "
            f"FROM {db}.v_population_by_district "
            "GROUP BY district ORDER BY persons DESC LIMIT 10",
        ),
        (
            "人口库 population by age band and sex (cells below k suppressed, not summed)",
            f"SELECT age_band, sex, sum(persons) AS persons, countIf(suppressed) AS "
            f"suppressed_cells FROM {db}.v_population_by_district "
            "GROUP BY age_band, sex ORDER BY age_band, sex",
        ),
        (
            "法人库 enterprises by type and status (top 10; cells below k suppressed)",
            f"SELECT enterprise_type, status, sum(enterprises) AS enterprises, "
            f"countIf(suppressed) AS suppressed_cells FROM {db}.v_enterprises_by_type "
            "GROUP BY enterprise_type, status ORDER BY enterprises DESC NULLS LAST, "
            "suppressed_cells DESC LIMIT 10",
        ),
        (
            "电子证照库 licences by type and holder kind",
            f"SELECT licence_type, holder_kind, licences, expired, expiring_30d, expiring_90d "
            f"FROM {db}.v_licences_by_type ORDER BY licences DESC LIMIT 12",
        ),
        (
            "数据质量 quality findings by department and dimension",
            f"SELECT dept, dimension, findings, rejected, repaired, flagged "
            f"FROM {db}.v_quality_by_dept_dimension ORDER BY dept, dimension",
        ),
        (
            "隐私 k-anonymity of each theme library over its quasi-identifiers",
            f"SELECT {', '.join(KANON_COLUMNS)} FROM {db}.{KANON_VIEW}",
        ),
    ):
        result = query(settings, sql)
        yield Summary(title, result.columns, result.rows)


# The demo's subscriptions: one resource of each sharing type, asked by the civil-affairs office.
DEMO_REQUESTS = (
    ("theme.organization", "婚姻登记时核验当事人任职企业信息"),
    ("std.household.resident", "婚姻登记时核验当事人户籍信息"),
    ("raw.household.resident", "直接读取户籍原始记录"),
)


def sharing_summary(settings: Settings) -> list[str]:
    """The catalog's size and, for the civil-affairs office, one request of each sharing type
    with its outcome (the first run makes them; later runs show them)."""
    from govbus.resource_catalog import resource_catalog
    from govbus.sharing import read_subscriptions, submit

    resources = list(resource_catalog(settings))
    lines = [f"catalog: {len(resources)} resources "
             f"({sum(r.sharing == '无条件' for r in resources)} 无条件, "
             f"{sum(r.sharing == '有条件' for r in resources)} 有条件, "
             f"{sum(r.sharing == '不予共享' for r in resources)} 不予共享)"]
    catalog = catalog_for(settings)
    table = resource_catalog_table(catalog, settings.clickhouse_database).spec.qualified_name
    landed = query(settings, f"SELECT count() FROM {table} FINAL").rows
    lines.append(f"published to {catalog.resource_catalog.name}, landed in {table} "
                 f"({landed[0][0] if landed else 0} rows)")
    held = {(s.consumer, s.topic) for s in read_subscriptions(settings).values()}
    for topic, purpose in DEMO_REQUESTS:
        if ("civil", topic) not in held:
            submit(settings, topic, "civil", purpose)
    for made in sorted(read_subscriptions(settings).values(), key=lambda s: s.requested_ms):
        due = (f", provider's decision due {_when(made.due_ms)}"
               if made.status == "requested" and made.due_ms else "")
        lines.append(f"{made.consumer} -> {made.topic} ({made.sharing}): {made.status}{due}")
    return lines


# The demo's granted subscription and its subscriber: the market regulator's licence expiry
# notifier (connectors/subscriber/examples) on the licence office's 有条件 std licences.
NOTIFIER_MODULE = "connectors.subscriber.examples.expiry_notifier"
NOTIFIER_PURPOSE = "食品经营等许可证到期前提醒经营主体换证"


@contextlib.contextmanager
def notifier_process(settings: Settings) -> Iterator[queue.Queue[str | None]]:
    """The example subscriber as its department runs it: its own process, connecting as
    ``consumer-<dept>``; its output lines (None once it ended) in a queue; stopped after."""
    from connectors.subscriber.examples import expiry_notifier

    env = {**os.environ, "GOVBUS_KAFKA_USER": consumer(expiry_notifier.DEPT),
           "GOVBUS_TOPIC_NAMESPACE": settings.topic_namespace}
    env.pop("GOVBUS_KAFKA_PASSWORD", None)
    process = subprocess.Popen([sys.executable, "-m", NOTIFIER_MODULE], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield lines
    finally:
        terminate(process)


def subscriber_example(settings: Settings, say: Callable[[str], None], quiet_s: float = 3.0,
                       first_s: float = 25.0, most: int = 6) -> None:
    """The market regulator's request for the licence office's std licences, the provider's
    approval (once), then its expiry notifier running until its notices stop coming (a few
    seconds; ``first_s`` at most for the first one): what happened and the first notices."""
    from connectors.subscriber.examples import expiry_notifier
    from govbus.sharing import decide_request, read_subscriptions, submit

    dept, topic = expiry_notifier.DEPT, expiry_notifier.TOPIC
    held = [s for s in read_subscriptions(settings).values()
            if (s.consumer, s.topic, s.status) == (dept, topic, "granted")]
    if held:
        say(f"{dept} -> {topic} ({held[0].sharing}): granted by {held[0].decided_by}")
    else:
        asked = submit(settings, topic, dept, NOTIFIER_PURPOSE)
        say(f"{dept} requests {topic} ({asked.sharing}): {asked.status}, decision due "
            f"{_when(asked.due_ms or 0)}")
        grant = decide_request(settings, asked.subscription_id, asked.provider, True, "")
        say(f"{grant.provider} approves {grant.subscription_id}: {grant.status}")
    say(f"python -m {NOTIFIER_MODULE} as {consumer(dept)}, until its notices stop ...")
    started = time.monotonic()
    notices: list[str] = []
    with notifier_process(settings) as output:
        until = started + first_s
        while time.monotonic() < until:
            try:
                line = output.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            if line.startswith("notice: "):
                if len(notices) < most:
                    say(f"  {line}")
                notices.append(line)
                until = time.monotonic() + quiet_s
    say(f"it ran {time.monotonic() - started:.0f} s and printed {len(notices)} notices"
        + (f" ({len(notices) - most} more not shown)" if len(notices) > most else "")
        + ("" if notices else " (it resumes where its consumer group left off: nothing new "
           "since its last run)"))


def lineage_example(settings: Settings, most_records: int = 2, most_changes: int = 2
                    ) -> list[str]:
    """``govbus lineage`` of the person most departments contributed to, shortened to a few
    records per department and their last few changes."""
    from govbus.lineage import render, trace
    from govbus.privacy_audit import json_rows
    from sinks.clickhouse.tables import facts_table

    facts = facts_table(catalog_for(settings), settings.clickhouse_database).spec
    best = query(settings, f"SELECT entity_key FROM {facts.qualified_name} "
                           "WHERE category = 'individual' GROUP BY entity_key "
                           "ORDER BY uniqExact(dept) DESC, count() DESC LIMIT 1").rows
    if not best:
        return ["no person facts landed yet"]
    key = str(best[0][0])
    found = trace(lambda sql: json_rows(run_query(settings, sql, "json")),
                  catalog_for(settings), settings.clickhouse_database, key)
    if found is None:
        return [f"no facts of {key}"]
    return [*render(found, most_records, most_changes),
            f"(up to {most_records} records per department, their last {most_changes} "
            f"changes; all of them: govbus lineage {key})"]


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def kanon_summary(settings: Settings) -> list[str]:
    """One line per theme library: is it k-anonymous over its quasi-identifiers?"""
    db = settings.clickhouse_database
    rows = query(settings, f"SELECT {', '.join(KANON_COLUMNS)} FROM {db}.{KANON_VIEW}").rows
    return summary_lines([parse_row(row) for row in rows])


def query(settings: Settings, sql: str) -> Summary:
    document = json.loads(run_query(settings, sql, "json"))
    columns = [c["name"] for c in document.get("meta", [])]
    rows = [
        [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        for row in document.get("data", [])
    ]
    return Summary("", columns, rows)


def metrics_urls(settings: Settings) -> list[str]:
    """Every govbus process's /metrics, then the local brokers' own."""
    brokers = LocalStack(settings).kafka.nodes if settings.manage_stack else ()
    return ([t.metrics_url for t in targets(settings.state_dir)]
            + [url for node in brokers if (url := node.metrics_url) is not None])


def _worker_ready(settings: Settings) -> bool:
    return any(_ready(target.url) for target in targets(settings.state_dir)
               if target.role == "all")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")
