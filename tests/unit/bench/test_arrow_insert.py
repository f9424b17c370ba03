"""The sink benchmark runs end to end on a throwaway chDB folder and reports sane figures."""

from __future__ import annotations

from govbus.bench.arrow_insert import bench_sink


def test_bench_reports_figures_with_baseline() -> None:
    result = bench_sink(rows=3000, batch_rows=1000)
    assert result.inserts == 3
    assert result.insert_rows_per_s > 0
    assert result.build_rows_per_s > 0
    assert result.baseline_loop_rows_per_s > 0
    assert result.single_row_insert_ms > 0
    assert len(result.lines()) == 6
