"""Source rows as tables on the real broker: profiles follow what each row says now. A
re-snapshot without a before image re-points its row, and a snapshot run that no longer reads
a row deletes it, on whichever raw partition that row lives."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from govbus.lineage import events_path
from govbus.wiring import publishers, topic_admin
from ops.settings import Settings
from sinks.clickhouse.tables import entity_key_field
from streams.runtime.row_store import CLOSING_KEY
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.integration.sinks.harness import GOVBUS, SinkRun, child_env, running
from tests.integration.workers import read_topic, running_worker, wait_for
from topics.catalog import RAW_ROWS, catalog_for
from topics.codes.citizen_id import make_citizen_id
from topics.codes.sex import SexCode

SOURCE = "household.resident"
ZHOU = make_citizen_id("340104", dt.date(1961, 4, 2), 12, SexCode.MALE)  # 周建国
WU = make_citizen_id("340104", dt.date(1965, 8, 9), 45, SexCode.FEMALE)  # 吴秀兰
QIAN = make_citizen_id("340104", dt.date(1970, 1, 5), 33, SexCode.MALE)
SUN = make_citizen_id("340104", dt.date(1972, 3, 7), 61, SexCode.FEMALE)


def _resident(resident_id: str, id_number: str, name: str, sex: str) -> dict[str, Any]:
    return {
        "resident_id": resident_id,
        "id_number": id_number,
        "name": name,
        "sex": sex,
        "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
        "ethnicity": "汉族",
        "division_code": "340104",
        "address": "安徽省合肥市蜀山区长江西路100号",
        "phone": "13912345678",
        "status": "正常",
        "registered_date": "2001-01-01",
    }


def _people(settings: Settings) -> dict[str, dict[str, Any] | None]:
    """The latest individual profile per key (None for a tombstone)."""
    latest: dict[str, dict[str, Any] | None] = {}
    theme = catalog_for(settings).theme("individual").name
    for message in read_topic(settings, theme):
        latest[str(message.key)] = message.value
    return latest


def test_profiles_follow_the_rows_through_resnapshots(
    stack: Settings, settings: Settings, tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)
    household = publishers(settings, [SOURCE])[SOURCE]
    # The two events: a create, then a snapshot read (before: null) of the same
    # row, which names someone else now.
    household.publish("c", after=_resident("RK9000000001", ZHOU, "周建国", "男"),
                      sequence="1", source_ts_ms=1_000)
    household.publish("r", after=_resident("RK9000000001", WU, "吴秀兰", "女"),
                      sequence="2", source_ts_ms=2_000)
    household.publish("c", after=_resident("RK9000000002", QIAN, "钱立新", "男"),
                      sequence="3", source_ts_ms=3_000)
    household.publish("c", after=_resident("RK9000000003", SUN, "孙丽华", "女"),
                      sequence="4", source_ts_ms=4_000)
    # A re-snapshot of the table reads two of its three rows: the third was deleted while
    # the connector was away, and only the run's end says so.
    household.publish("r", after=_resident("RK9000000001", WU, "吴秀兰", "女"),
                      sequence="10", source_ts_ms=10_000, snapshot="first")
    household.publish("r", after=_resident("RK9000000002", QIAN, "钱立新", "男"),
                      sequence="10", source_ts_ms=10_001, snapshot="last")
    assert not household.flush(30).errors
    zhou, wu, qian, sun = (pseudonymizer(i) for i in (ZHOU, WU, QIAN, SUN))
    expected = {zhou: False, wu: True, qian: True, sun: False}  # alive?

    def settled() -> bool:
        people = _people(settings)
        return {k: people.get(k, 0) is not None for k in expected} == expected and all(
            k in people for k in expected)

    # The namespace's own sink group (granted with its topics), in a chDB folder of its own.
    sink_settings = settings.model_copy(update={"state_dir": tmp_path / "sink",
                                                "access_dir": stack.access_folder})
    sink = SinkRun(sink_settings, child_env(sink_settings), tmp_path / "sink.log")
    key = entity_key_field(catalog.theme("individual").value_schema())  # type: ignore[misc]
    live_sql = (f"SELECT {key} FROM {sink_settings.clickhouse_database}.theme_individual "
                f"FINAL ORDER BY {key}")
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "all") as worker, running(sink):
        wait_for(settled, 180, "one live person per current row", worker, log)
        sink.wait(lambda: {r[key] for r in sink.rows(live_sql)} == {wu, qian},
                  "theme_individual FINAL to hold the two current people")
        # Lineage: the live row names its record and the raw messages it came from (the
        # facts library fills in its own batches, after the profiles maybe).
        facts_sql = (f"SELECT count() AS n FROM {sink_settings.clickhouse_database}.facts "
                     f"WHERE entity_key = '{wu}'")
        sink.wait(lambda: int(sink.rows(facts_sql)[0]["n"]) > 0, "the person's facts")
        traced = subprocess.run([*GOVBUS, "lineage", wu], env=sink.env, capture_output=True,
                                text=True, timeout=120)
    assert traced.returncode == 0, traced.stderr
    lines = traced.stdout.splitlines()
    assert f"theme_individual {wu}: live" in lines[0]
    assert any("household.resident" in line and "RK9000000001" in line for line in lines)
    positions = [line.rsplit("<- ", 1)[1] for line in lines if "<- " in line]
    assert positions and all(p.startswith(f"{catalog.raw(SOURCE).name}:") for p in positions)
    # The sink reported its run as OpenLineage events, column lineage included.
    runs = [json.loads(line) for line in events_path(sink_settings).read_text().splitlines()]
    assert [r["eventType"] for r in runs if r["job"]["name"] == "sink"][:2] == [
        "START", "COMPLETE"]
    people = _people(settings)
    assert {k for k, v in people.items() if v is not None} == {wu, qian}
    assert people[zhou] is None and people[sun] is None  # tombstoned
    profile = people[wu]
    assert profile is not None and profile["sources"] == ["household"]
    # The run closed on one raw partition and reached every other one in its own order.
    raw = catalog.raw(SOURCE)
    closings = [m.partition for m in read_topic(settings, raw.name) if m.raw_key == CLOSING_KEY]
    assert len(closings) == len(set(closings)) == raw.partitions - 1
    # The rows' states are in their changelog, for the next owner to restore.
    changelog = {str(m.raw_key) for m in read_topic(settings, catalog.state(RAW_ROWS).name)}
    assert len(changelog) >= 3
