"""``govbus privacy ...``: how well personal data is kept out of what the bus publishes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

privacy_app = typer.Typer(no_args_is_help=True, help="Measured de-identification.")
out = Console(soft_wrap=True)


@privacy_app.command("scrub-eval")
def scrub_eval(
    samples: Annotated[int, typer.Option(min=1, help="Remarks to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Simulator seed")] = 1,
) -> None:
    """Recall and precision of the free-text scrubber, per kind, on the simulator's labelled
    remarks (targets: recall >= 99.5% structured, >= 95% names; precision >= 95%)."""
    from connectors.simulator import labelled_remarks
    from streams.masking.scrub_score import score

    scores = score(labelled_remarks(samples, seed))
    table = Table("kind", "labelled", "recall", "found", "precision",
                  title=f"free-text scrubber on {samples} simulated remarks (seed {seed})")
    for kind, entry in scores.items():
        table.add_row(str(kind), str(entry.labelled), f"{entry.recall:.2%}", str(entry.found),
                      f"{entry.precision:.2%}")
    out.print(table)
    for kind, entry in scores.items():
        for text in entry.missed[:2]:
            out.print(f"missed {kind}: {text}", highlight=False)
        for text in entry.wrong[:2]:
            out.print(f"not an identifier, masked as {kind}: {text}", highlight=False)
