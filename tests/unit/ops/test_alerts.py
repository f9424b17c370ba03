"""Alert rules: valid, unit-tested with promtool, referencing declared metrics only."""

from __future__ import annotations

import re
from pathlib import Path

from ops.http import ALERT_RULES

from .conftest import Promtool
from .promql import DECLARED_SERIES, metric_names

RULES_TEST = ALERT_RULES.with_name("alerts_test.yml")
REQUIRED = {"GovbusConsumerLagGrowing", "GovbusDeadLetterRateHigh", "GovbusSinkStalled",
            "GovbusWorkerDown", "GovbusWorkerMissing", "GovbusDepartmentSilent",
            "GovbusLibraryNotKAnonymous", "GovbusSubscriptionOverdue",
            "GovbusUnderReplicatedPartitions", "GovbusOfflinePartitions"}


def _alert_names(path: Path) -> set[str]:
    return set(re.findall(r"^\s*-?\s*alert(?:name)?:\s*(\w+)\s*$", path.read_text(),
                          re.MULTILINE))


def test_rules_reference_only_declared_metrics() -> None:
    text = ALERT_RULES.read_text()
    used = metric_names(text)
    assert used, "no govbus metric found: has the file moved?"
    assert not used - DECLARED_SERIES


def test_the_required_alerts_exist_and_each_is_tested() -> None:
    declared = _alert_names(ALERT_RULES)
    assert declared >= REQUIRED
    assert _alert_names(RULES_TEST) == declared


def test_rule_test_series_are_declared_metrics() -> None:
    series = set(re.findall(r"series: '(\w+)\{", RULES_TEST.read_text()))
    assert not {s for s in series if s.startswith(("govbus_", "kafka_"))} - DECLARED_SERIES


def test_promtool_check_rules(promtool: Promtool) -> None:
    result = promtool("check", "rules", str(ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(promtool: Promtool) -> None:
    result = promtool("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
