"""Key rotation on the real broker: one person's profile before the rotation, then re-keyed
with a licence published after it, under the new key alone."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from govbus.rekey import rekey
from govbus.wiring import publishers, topic_admin
from ops.settings import Settings
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.conftest import TEST_KEY_ID
from tests.integration.workers import read_topic, running_worker, wait_for
from topics.catalog import catalog_for
from topics.codes.citizen_id import make_citizen_id
from topics.codes.sex import SexCode

PERSON_ID = make_citizen_id("340104", dt.date(1980, 5, 6), 17, SexCode.MALE)
RESIDENT: dict[str, Any] = {
    "resident_id": "R-1", "id_number": PERSON_ID, "name": "张三丰", "sex": "男",
    "birth_date": "1980-05-06", "ethnicity": "汉族", "division_code": "340104",
    "address": "安徽省合肥市蜀山区长江西路100号", "phone": "13912345678", "status": "正常",
    "registered_date": "2001-01-01",
}
LICENCE: dict[str, Any] = {
    "licence_id": "L-1", "licence_type": "教师资格证", "licence_no": "JS1",
    "holder_kind": "person", "holder_id_number": PERSON_ID, "holder_uscc": None,
    "holder_name": "张三丰", "issue_date": "2020-01-01", "expiry_date": None,
    "issuing_authority": "合肥市教育局", "status": "有效",
}


def _profiles(settings: Settings) -> dict[str, dict[str, Any] | None]:
    latest: dict[str, dict[str, Any] | None] = {}
    theme = catalog_for(settings).theme("individual").name
    for message in read_topic(settings, theme):
        latest[str(message.key)] = message.value
    return latest


def _has(settings: Settings, key: str, sources: list[str]) -> bool:
    profile = _profiles(settings).get(key)
    return profile is not None and profile["sources"] == sources


def test_rotation_re_keys_the_derived_layers_from_raw(
    namespace: str, tmp_path: Path, pseudonymizer: Pseudonymizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The database and, later, the key: the environment of the processes it starts too.
    monkeypatch.setenv("GOVBUS_CLICKHOUSE_DATABASE", f"rekey_{namespace.strip('.')}")
    settings = Settings(topic_namespace=namespace)
    topic_admin(settings).apply(catalog_for(settings).all)
    sent = publishers(settings, ["household.resident", "licence.licence"])
    sent["household.resident"].publish("c", after=RESIDENT, sequence="1", source_ts_ms=1_000)
    sent["household.resident"].flush(30)
    old = pseudonymizer(PERSON_ID)
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "all") as worker:
        wait_for(lambda: _has(settings, old, ["household"]), 120, "the profile under the old key",
                 worker, log)

    monkeypatch.setenv("GOVBUS_PSEUDONYM_KEY", secrets.token_hex(32))
    monkeypatch.setenv("GOVBUS_PSEUDONYM_KEY_ID", "rotated")
    new_key = Pseudonymizer(os.environ["GOVBUS_PSEUDONYM_KEY"].encode(), "rotated")
    settings = Settings(topic_namespace=namespace)
    steps = list(rekey(settings, TEST_KEY_ID))
    assert any("deleted" in step for step in steps)
    sent["licence.licence"].publish("c", after=LICENCE, sequence="1", source_ts_ms=2_000)
    sent["licence.licence"].flush(30)
    new = new_key(PERSON_ID)
    with running_worker(settings, log, "--role", "all") as worker:
        wait_for(lambda: _has(settings, new, ["household", "licence"]), 120,
                 "one profile under the new key with the residence and the licence", worker, log)
    assert all(not key.startswith(f"{TEST_KEY_ID}:") for key in _profiles(settings))
