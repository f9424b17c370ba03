"""The fault matrix's short form, as CI runs it (exactly once): one load with the raw
worker and then the sink SIGKILLed mid-batch among 1% poison input; nothing lost, nothing
doubled on the way to std and the DLQ, the theme rows as an undisturbed run's, no clear
personal data downstream. The whole matrix is `govbus chaos` (README, "Faults")."""

from __future__ import annotations

import pytest

from govbus.chaos.faults import FAULTS, RECOVER_TIMEOUT_S
from govbus.chaos.matrix import run_fault
from ops.settings import Settings

DRAIN_TIMEOUT_S = 120.0  # a drain takes seconds; a stall fails with the processes' logs


@pytest.mark.timeout(int(2 * DRAIN_TIMEOUT_S + 2 * RECOVER_TIMEOUT_S + 120))
def test_the_short_fault_matrix_loses_doubles_and_leaks_nothing(stack: Settings) -> None:
    said: list[str] = []
    row = run_fault(FAULTS["short"], rate=100.0, seconds=10.0, say=said.append,
                    drain_timeout_s=DRAIN_TIMEOUT_S)
    a = row.accounting
    print(f"\n{row.fault}: in {a.events_in}, std {a.in_std}, DLQ {a.in_dlq}, lost {a.lost}, "
          f"duplicated {a.duplicated}, theme rows differing {row.theme_differing}, ClickHouse "
          f"rows differing {row.clickhouse_differing}, clear values {row.clear_values}, "
          f"recovered in {row.recovery.recover_s} s")
    assert a.events_in > 1000 and a.in_dlq > 0  # the load and its poison went in
    assert (a.lost, a.lost_examples) == (0, ())
    assert row.theme_differing == 0 and row.clickhouse_differing == 0
    assert row.clear_values == 0
    # The stages' batches are transactions: a killed worker's open one is aborted, and its
    # successor's copy is the only one a read_committed reader sees.
    assert (a.duplicated, a.duplicated_examples) == (0, ())
