"""What a stateful step needs of its topics' partition counts, checked before it starts.

The theme layer keeps an entity's state in changelog partition p, the partition of the fact
topic that carried the fact; range assignment gives a member partition p of every fact topic
only if they all have the same count. The raw layer keeps a source row in the changelog
partition of its raw partition. A topic grown by hand breaks both silently (states on the
wrong member, facts of one entity split), so the worker refuses to start instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class PartitioningError(RuntimeError):
    """The topics' partition counts break what the step's state relies on."""


@dataclass(frozen=True)
class Partitioning:
    inputs: tuple[str, ...]
    state_topic: str
    co_partitioned: bool  # the inputs must all have the same count

    def check(self, counts: Mapping[str, int]) -> None:
        """``counts``: partitions per existing topic. Raises ``PartitioningError``."""
        missing = [t for t in (*self.inputs, self.state_topic) if t not in counts]
        if missing:
            raise PartitioningError(
                f"topics missing: {', '.join(missing)} (run `govbus topics apply`)")
        inputs = {t: counts[t] for t in self.inputs}
        if self.co_partitioned and len(set(inputs.values())) > 1:
            listed = ", ".join(f"{t}={n}" for t, n in sorted(inputs.items()))
            raise PartitioningError(f"input topics are not co-partitioned: {listed}")
        widest = max(inputs.values(), default=0)
        if counts[self.state_topic] < widest:
            raise PartitioningError(
                f"{self.state_topic} has {counts[self.state_topic]} partitions, fewer than "
                f"its inputs' {widest}: states of the others would have nowhere to go")
