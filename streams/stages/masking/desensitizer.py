"""Turns a cleaned, validated row into its std row by the policy, for one source.

All decisions (which operator, which output name, which division field goes with which
address, the HMAC key state) are made in the constructor; ``apply`` is one dict build.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.stages.masking.errors import PolicyError
from streams.stages.masking.operators import OPERATORS, FieldOperator, OperatorContext
from streams.stages.masking.policy import Policy, load_policy
from streams.stages.masking.pseudonym import HashAlgorithm, Pseudonymizer
from topics.annotations import RecordSpec
from topics.codes.divisions import DivisionTable, division_table
from topics.schemas import row_spec


class Desensitizer:
    """The std row maker of one source row type."""

    def __init__(
        self,
        spec: RecordSpec,
        pseudonymizer: Pseudonymizer,
        policy: Policy | None = None,
        table: DivisionTable | None = None,
    ) -> None:
        policy = policy or load_policy()
        context = OperatorContext(spec, pseudonymizer, table or division_table())
        operations: dict[str, FieldOperator] = {}
        for field in spec.fields:
            for output in policy.outputs(field):
                name = output.name(field.name)
                if name in operations:
                    raise PolicyError(f"{spec.full_name}: two std fields named {name!r}")
                operations[name] = OPERATORS[output.operator](field, context)
        self.spec = spec
        self._operations = tuple(operations.items())

    @classmethod
    def for_source(
        cls,
        source: str,
        key: bytes,
        key_id: str,
        algorithm: HashAlgorithm = "sha256",
        policy: Policy | None = None,
        table: DivisionTable | None = None,
    ) -> Desensitizer:
        """The desensitizer of a declared source (``<dept>.<table>``) with the given key."""
        return cls(row_spec(source), Pseudonymizer(key, key_id, algorithm), policy, table)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._operations)

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The std row of a cleaned row (``RecordRules.apply(...).row``)."""
        return {name: operation(row) for name, operation in self._operations}
