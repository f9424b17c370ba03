"""The 4360 theme layer on the real broker: one person across four departments, then a delete,
and recovery of the profile table after the worker is SIGKILLed."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from connectors.simulate import publish_all
from connectors.simulator import DepartmentSimulator
from govbus.wiring import publishers, topic_admin
from ops.settings import Settings
from streams.runtime.row_store import RUN_KEY
from streams.stages.enrich.rows import RowState
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.integration.namespaces import fresh_namespace, tear_down
from tests.integration.workers import (
    drained,
    namespace_env,
    read_topic,
    running_worker,
    wait_for,
)
from topics.catalog import RAW_ROWS, catalog_for
from topics.codes.citizen_id import make_citizen_id
from topics.codes.sex import SexCode
from topics.codes.uscc import make_uscc
from topics.headers import VERSION_HEADER
from topics.schemas import source_names

PERSON_ID = make_citizen_id("340104", dt.date(1980, 5, 6), 17, SexCode.MALE)
SPOUSE_ID = make_citizen_id("340104", dt.date(1982, 2, 3), 21, SexCode.FEMALE)
USCC = make_uscc("9", "1", "340104", "MA2T3B4C")
LICENCE_KEY = "licence:食品经营许可证:JY13401040000017"


def _resident() -> dict[str, Any]:
    return {
        "resident_id": "R-1",
        "id_number": PERSON_ID,
        "name": "张三丰",
        "sex": "男",
        "birth_date": "1980-05-06",
        "ethnicity": "汉族",
        "division_code": "340104",
        "address": "安徽省合肥市蜀山区长江西路100号",
        "phone": "13912345678",
        "status": "正常",
        "registered_date": "2001-01-01",
    }


def _enterprise() -> dict[str, Any]:
    return {
        "enterprise_id": "E-1",
        "uscc": USCC,
        "name": "合肥三丰食品有限公司",
        "enterprise_type": "有限责任公司",
        "status": "存续",
        "legal_rep_name": "张三丰",
        "legal_rep_id_number": PERSON_ID,
        "registered_capital": 100.0,
        "established_date": "2015-03-01",
        "division_code": "340104",
        "address": "安徽省合肥市蜀山区黄山路1号",
        "contact_phone": "0551-65551234",
        "business_scope": "食品销售",
    }


def _licence() -> dict[str, Any]:
    return {
        "licence_id": "L-1",
        "licence_type": "食品经营许可证",
        "licence_no": "JY13401040000017",
        "holder_kind": "organization",
        "holder_id_number": None,
        "holder_uscc": USCC,
        "holder_name": "合肥三丰食品有限公司",
        "issue_date": "2020-01-01",
        "expiry_date": "2030-01-01",
        "issuing_authority": "合肥市市场监督管理局",
        "status": "有效",
    }


def _marriage() -> dict[str, Any]:
    return {
        "registration_id": "M-1",
        "kind": "结婚",
        "party_a_id_number": PERSON_ID,
        "party_a_name": "张三丰",
        "party_a_birth_date": "1981-07-06",  # disagrees
        "party_b_id_number": SPOUSE_ID,
        "party_b_name": "李四娘",
        "party_b_birth_date": "1982-02-03",
        "registered_date": "2010-10-10",
        "office_division_code": "340104",
        "certificate_no": "J340104-2010-000001",
        "remarks": None,
    }


def _profiles(settings: Settings, category: str) -> dict[str, dict[str, Any] | None]:
    """The latest value per key (None for a tombstone), as a compacted reader sees it."""
    latest: dict[str, dict[str, Any] | None] = {}
    for message in read_topic(settings, catalog_for(settings).theme(category).name):
        latest[str(message.key)] = message.value
    return latest


def test_person_across_departments_then_delete(
    settings: Settings, tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)
    sent = publishers(settings, list(source_names()))
    sent["household.resident"].publish("c", after=_resident(), sequence="1", source_ts_ms=1_000)
    sent["market.enterprise"].publish("c", after=_enterprise(), sequence="1", source_ts_ms=2_000)
    sent["licence.licence"].publish("c", after=_licence(), sequence="1", source_ts_ms=3_000)
    sent["civil.marriage"].publish("c", after=_marriage(), sequence="1", source_ts_ms=4_000)
    for publisher in sent.values():
        publisher.flush(30)
    person = pseudonymizer(PERSON_ID)
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "all") as worker:
        wait_for(lambda: _linked(settings, person), 120, "the merged person profile", worker, log)
        individual = _profiles(settings, "individual")[person]
        assert individual is not None
        assert individual["name"] == "张*丰" and individual["sex"] == "1"
        assert individual["birth_year"] == "1980"  # household is the authority
        assert individual["marital_status"] == "married"  # civil is the authority
        assert {"dept": "civil", "value": "1981"}.items() <= next(
            c for c in individual["candidates"] if c["attribute"] == "birth_year"
        ).items()
        assert set(individual["sources"]) == {"household", "market", "civil"}
        keys = {(link["relation"], link["key"]) for link in individual["links"]}
        assert ("enterprise", USCC) in keys
        assert ("event", "civil.marriage:M-1") in keys

        organization = _profiles(settings, "organization")[USCC]
        assert organization is not None and organization["legal_rep_key"] == person
        assert {("legal_rep", person), ("licence", LICENCE_KEY)} <= {
            (link["relation"], link["key"]) for link in organization["links"]
        }
        thing = _profiles(settings, "thing")[LICENCE_KEY]
        assert thing is not None and thing["holder_key"] == USCC

        conflicts = [
            m.value
            for m in read_topic(settings, catalog.quality.name)
            if m.value and m.value["reason"] == "consistency.authority_conflict"
        ]
        assert any(f["field"] == "birth_year" and f["dept"] == "civil" for f in conflicts)

        # The licence office revokes the licence: the thing goes, the holder's link too.
        sent["licence.licence"].publish("d", before=_licence(), sequence="2", source_ts_ms=5_000)
        sent["licence.licence"].flush(30)
        wait_for(
            lambda: _profiles(settings, "thing").get(LICENCE_KEY, {}) is None,
            120,
            "the licence tombstone",
            worker,
            log,
        )
        *_, last_record, tombstone = [
            m for m in read_topic(settings, catalog.theme("thing").name)
            if str(m.key) == LICENCE_KEY
        ]
        # The delete orders after the last upsert without the sink reading its table.
        assert last_record.value is not None
        assert tombstone.headers[VERSION_HEADER] == str(last_record.value["version"] + 1)
        organization = _profiles(settings, "organization")[USCC]
        assert organization is not None
        assert LICENCE_KEY not in {link["key"] for link in organization["links"]}


def _linked(settings: Settings, person: str) -> bool:
    profile = _profiles(settings, "individual").get(person)
    return bool(profile) and len(profile["sources"]) == 3  # type: ignore[index]


VOLATILE = ("version", "updated_ms")


def _final_profiles(settings: Settings) -> dict[tuple[str, str], dict[str, Any] | None]:
    final = {}
    for category in ("individual", "organization", "thing", "event"):
        for key, value in _profiles(settings, category).items():
            final[(category, key)] = (
                {k: v for k, v in value.items() if k not in VOLATILE} if value else None
            )
    return final


def _run_to_completion(settings: Settings, log: Path, kill_midway: bool) -> None:
    command = [sys.executable, "-m", "govbus.cli", "worker", "--role", "all", "--loglevel", "info"]
    with log.open("ab") as out:
        worker = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=namespace_env(settings)
        )
        if kill_midway:
            wait_for(lambda: len(_profiles(settings, "individual")) > 20, 120, "some profiles",
                     worker, log)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=namespace_env(settings)
            )
        try:
            with drained(settings, ["raw", "theme"]) as done:
                wait_for(done, 240, "the raw and theme layers drained", worker, log)
        finally:
            worker.terminate()
            worker.wait(60)


def test_sigkill_recovers_profiles_from_changelog(stack: Settings, tmp_path: Path) -> None:
    events = DepartmentSimulator(seed=21, defect_rate=0.0, population=120).events(2500)
    results, rows = [], []
    for run, kill in (("steady", False), ("killed", True)):
        settings = fresh_namespace(stack, run)
        try:
            topic_admin(settings).apply(catalog_for(settings).all)
            publish_all(events, publishers(settings, list(source_names())))
            _run_to_completion(settings, tmp_path / f"{run}.log", kill)
            results.append(_final_profiles(settings))
            rows.append(_row_states(settings))
        finally:
            tear_down(settings)
    steady, killed = results
    assert len(steady) > 100
    assert killed == steady
    # The raw layer's source rows too: the same position, event and entities per row.
    assert len(rows[0]) > 100
    assert rows[1] == rows[0]


def _row_states(settings: Settings) -> dict[bytes, tuple[Any, ...]]:
    """Each source row's last state in the row changelog (what the next owner restores)."""
    latest: dict[bytes, bytes | None] = {}
    for message in read_topic(settings, catalog_for(settings).state(RAW_ROWS).name):
        if message.raw_key is not None and not message.raw_key.endswith(RUN_KEY.encode()):
            latest[message.raw_key] = message.raw_value
    states = {}
    for key, value in latest.items():
        if value is not None:
            state = RowState.from_bytes(value)
            states[key] = (state.ts, state.sequence, state.event_id, state.entities,
                           state.deleted)
    return states
