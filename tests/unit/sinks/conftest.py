"""A real embedded engine for the sink tests: one chDB folder per test module, one database
per test (chDB holds one folder per process, so modules take turns)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableKind, TableSpec
from tests.unit.sinks.samples import PROFILE_SCHEMA
from topics.schemas import load_avsc


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbBackend]:
    backend = ChdbBackend(tmp_path_factory.mktemp("chdb"))
    yield backend
    backend.close()


@pytest.fixture
def database() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def finding_spec(database: str) -> TableSpec:
    return TableSpec(
        name="quality_finding",
        schema=load_avsc("quality/finding.avsc"),
        kind=TableKind.EVENT,
        order_by=("dept", "detected_ms", "finding_id"),
        database=database,
        partition_by="toYYYYMM(fromUnixTimestamp64Milli(`detected_ms`, 'UTC'))",
    )


@pytest.fixture
def profile_spec(database: str) -> TableSpec:
    return TableSpec(
        name="person_profile",
        schema=PROFILE_SCHEMA,
        kind=TableKind.PROFILE,
        order_by=("person_key",),
        database=database,
    )
