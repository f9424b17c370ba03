"""A stateful step refuses to start on topics whose partition counts break its state."""

from __future__ import annotations

import pytest

from ops.runtime.partitioning import Partitioning, PartitioningError

FACTS = ("fact.individual", "fact.organization")


def test_co_partitioned_inputs_and_a_wide_enough_changelog_pass() -> None:
    Partitioning(FACTS, "state.theme.profiles", co_partitioned=True).check(
        {"fact.individual": 6, "fact.organization": 6, "state.theme.profiles": 6})


def test_a_fact_topic_grown_by_hand_is_refused() -> None:
    with pytest.raises(PartitioningError, match=r"fact\.organization=8"):
        Partitioning(FACTS, "state.theme.profiles", co_partitioned=True).check(
            {"fact.individual": 6, "fact.organization": 8, "state.theme.profiles": 8})


def test_a_changelog_narrower_than_its_inputs_is_refused() -> None:
    with pytest.raises(PartitioningError, match="fewer than its inputs' 6"):
        Partitioning(("raw.a", "raw.b"), "state.raw.rows", co_partitioned=False).check(
            {"raw.a": 6, "raw.b": 3, "state.raw.rows": 3})


def test_a_missing_topic_says_how_to_create_it() -> None:
    with pytest.raises(PartitioningError, match="govbus topics apply"):
        Partitioning(FACTS, "state.theme.profiles", co_partitioned=True).check(
            {"fact.individual": 6})
