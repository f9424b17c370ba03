"""The restore benchmark's figures, derived from what it timed."""

from __future__ import annotations

import pytest

from govbus.bench.restore_rate import RestoreBenchResult


def test_rates_and_time_per_gigabyte() -> None:
    result = RestoreBenchResult(
        store="memory://", records=1000, megabytes=64.0, bare_s=2.0, restore_s=4.0
    )
    assert result.bare_mb_per_s == 32.0
    assert result.restore_mb_per_s == 16.0
    assert result.seconds_per_gb == pytest.approx(64.0)
