"""`govbus status` against the running stack and a process that serves known metrics."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from govbus.cli_status import status
from ops.settings import Settings
from tests.integration.ops.conftest import emitter


def test_status_shows_the_stack_and_the_process_metrics(stack: Settings) -> None:
    app = typer.Typer()
    app.command("status")(status)
    app.command("unused")(lambda: None)  # two commands: `status` stays a subcommand
    with emitter(stack.state_dir) as (process, _url):
        result = CliRunner().invoke(app, ["status", "--interval", "1"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for expected in ("kafka", "registry", "govbus emitter", str(process.pid), "standardize",
                     "required.missing", "govbus-itest", "42", "person", "itest",
                     "completeness 15"):
        assert expected in result.output, expected
