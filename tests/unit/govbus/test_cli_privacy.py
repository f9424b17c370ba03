from pathlib import Path

from typer.testing import CliRunner

from govbus.cli import app
from streams.stages.masking.policy import POLICY_PATH

runner = CliRunner()


def test_privacy_check_prints_every_record_type_and_passes() -> None:
    result = runner.invoke(app, ["privacy", "check"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for record in ("std.household.resident", "theme.individual", "clickhouse theme_individual",
                   "clickhouse v_population_by_district", "all records joined"):
        assert record in result.output
    assert "182,135" in result.output and "LEAK" not in result.output


def test_privacy_check_of_a_leaky_policy_fails(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.toml"
    leaky.write_text(POLICY_PATH.read_text(encoding="utf-8").replace(
        '"{field}_year" = "birth_year"', '"{field}_year" = "year_month"').replace(
        '"mask_id_division"', '"mask_id_number"'), encoding="utf-8")
    result = runner.invoke(app, ["privacy", "check", "--policy", str(leaky)],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 1 and "LEAK" in result.output
