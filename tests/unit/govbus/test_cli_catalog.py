"""``govbus catalog list|show|export``, with no service running."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from govbus.cli import app
from topics.sharing import SHARING_PATH

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["catalog", *args], env=WIDE)
    return result.exit_code, result.output


def test_list_shows_every_resource_with_its_terms() -> None:
    code, output = _run("list")
    assert code == 0, output
    for expected in ("30100102/88309", "std.household.resident", "govbus.theme_individual",
                     "人口库", "市公安局", "无条件", "有条件", "不予共享", "订阅, 查询",
                     "12 resources"):
        assert expected in output


def test_show_by_code_or_topic_prints_terms_and_items() -> None:
    code, by_code = _run("show", "30100102/88309")
    assert code == 0, by_code
    for expected in ("户籍人口", "市公安局 (household, 01)", "有条件", "经市公安局审核同意",
                     "id_number_pseudonym", "id_number (pseudonym)", "core"):
        assert expected in by_code
    assert _run("show", "std.household.resident") == (0, by_code)


def test_show_of_a_raw_topic_gives_its_basis() -> None:
    code, output = _run("show", "raw.civil.marriage")
    assert code == 0 and "不予共享" in output and "个人信息保护法" in output


def test_show_of_an_unknown_resource_is_one_line() -> None:
    code, output = _run("show", "theme.nope")
    assert code == 2
    assert output.strip().count("\n") == 0 and "no resource 'theme.nope'" in output


def test_export_json_is_every_resource_with_items() -> None:
    code, output = _run("export", "--format", "json")
    assert code == 0
    records = json.loads(output)
    assert len(records) == 12
    individual = next(r for r in records if r["topic"].endswith("theme.individual"))
    assert individual["table"] == "govbus.theme_individual"
    assert {"name", "label", "type", "pii", "grade"} == set(individual["items"][0])


def test_export_csv_is_one_row_per_item() -> None:
    code, output = _run("export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(output)))
    records = json.loads(_run("export")[1])
    assert len(rows) == sum(len(r["items"]) for r in records)
    pseudonym = next(r for r in rows if r["topic"].endswith("std.household.resident")
                     and r["item_name"] == "id_number_pseudonym")
    assert (pseudonym["sharing"], pseudonym["item_grade"]) == ("有条件", "core")
    assert pseudonym["methods"] == "订阅"


def test_export_in_an_unknown_format_is_one_line() -> None:
    code, output = _run("export", "--format", "xml")
    assert code == 2 and output.strip() == "error: --format 'xml' is not one of json, csv"


def test_a_bad_draft_declaration_is_one_line_naming_the_resource(tmp_path: Path) -> None:
    draft = tmp_path / "draft.toml"
    draft.write_text(SHARING_PATH.read_text(encoding="utf-8").replace(
        '[resources."theme.thing"]\nsharing = "无条件"',
        '[resources."theme.thing"]\nsharing = "有条件"'), encoding="utf-8")
    code, output = _run("list", "--declaration", str(draft))
    assert code == 1
    assert output.strip() == "error: draft.toml: theme.thing: 有条件 needs its conditions"
