"""A short `govbus bench e2e` run: the per-event baseline and the sink, end to end."""

from __future__ import annotations

from ops.settings import Settings


def test_baseline_at_a_low_rate_lands_rows_with_latencies(stack: Settings) -> None:
    from govbus.bench.pipelines import fixed_rate

    lines: list[str] = []
    result = fixed_rate("baseline", rate=20.0, duration_s=3.0, say=lines.append)
    assert result.error is None
    assert result.events == 60
    assert result.drained, lines
    assert result.theme_records > 0
    assert result.rows_seen > 0
    assert result.p50_ms is not None and result.p99_ms is not None
    assert 0 < result.p50_ms <= result.p99_ms
