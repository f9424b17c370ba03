"""Loads ``policy.toml`` and checks it against the annotation vocabulary and the operators.

Any gap is an error at startup, never a silent pass-through: a pii type the file does not
cover would otherwise leave personal data in clear text in the std layer.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from streams.stages.masking.disclosure import check_disclosure
from streams.stages.masking.errors import PolicyError
from streams.stages.masking.operators import OPERATORS, REVEALS
from topics.annotations import FieldSpec, Grade, Pii

POLICY_PATH: Final = Path(__file__).with_name("policy.toml")
DEFAULT_GRADE: Final = "default"
FIELD: Final = "{field}"
_AVRO_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DISCLOSURE: Final = "disclosure"
MIN_CANDIDATES: Final = "min_candidates"


@dataclass(frozen=True, slots=True)
class Output:
    """One std field made from a raw field: its name template and the operator filling it."""

    template: str
    operator: str

    def name(self, field: str) -> str:
        return self.template.replace(FIELD, field)


@dataclass(frozen=True, slots=True)
class Policy:
    """Outputs by (pii type, grade); grade None is the pii type's default. ``min_candidates``:
    per grade, the fewest identifiers a published record may narrow one down to."""

    rules: Mapping[tuple[Pii, Grade | None], tuple[Output, ...]]
    min_candidates: Mapping[Grade, int]

    def outputs(self, field: FieldSpec) -> tuple[Output, ...]:
        specific = self.rules.get((field.pii, field.grade))
        return specific if specific is not None else self.rules[(field.pii, None)]


def load_policy(path: Path = POLICY_PATH) -> Policy:
    """The checked policy of a file; the shipped one is read once per process.

    Checked twice: its vocabulary (``parse_policy``), then what every published record type
    reveals under it (``check_disclosure``), so a leaky policy never starts a stage.
    """
    if path == POLICY_PATH:
        return _shipped()
    policy = read_policy(path)
    check_disclosure(policy, path.name)
    return policy


@cache
def _shipped() -> Policy:
    policy = read_policy(POLICY_PATH)
    check_disclosure(policy, POLICY_PATH.name)
    return policy


def read_policy(path: Path) -> Policy:
    """A policy file checked for its vocabulary only: for reporting what it reveals."""
    with path.open("rb") as handle:
        try:
            document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:
            raise PolicyError(f"{path.name}: not valid TOML: {error}") from None
    return parse_policy(document, path.name)


def parse_policy(document: Mapping[str, Any], where: str = "policy") -> Policy:
    """A checked policy from a parsed document shaped like ``policy.toml``."""
    extra = set(document) - {"pii", DISCLOSURE}
    if extra:
        raise PolicyError(
            f"{where}: unknown top-level keys {sorted(extra)}; only [pii.*] and [{DISCLOSURE}]"
        )
    by_pii = document.get("pii", {})
    rules: dict[tuple[Pii, Grade | None], tuple[Output, ...]] = {}
    for pii_name, by_grade in by_pii.items():
        pii = _pii(pii_name, where)
        if not isinstance(by_grade, dict):
            raise PolicyError(f"{where}: [pii.{pii_name}] must hold grade tables")
        for grade_name, outputs in by_grade.items():
            grade = _grade(grade_name, f"{where}: [pii.{pii_name}]")
            rules[(pii, grade)] = _outputs(outputs, f"{where}: [pii.{pii_name}.{grade_name}]")
    missing = [p.value for p in Pii if (p, None) not in rules]
    if missing:
        raise PolicyError(f"{where}: no [pii.<type>.default] table for pii types {missing}")
    return Policy(rules, _min_candidates(document.get(DISCLOSURE), where))


def _min_candidates(table: object, where: str) -> dict[Grade, int]:
    where = f"{where}: [{DISCLOSURE}.{MIN_CANDIDATES}]"
    if not isinstance(table, dict) or set(table) != {MIN_CANDIDATES}:
        raise PolicyError(f"{where} is required (the fewest candidates per grade)")
    by_grade = table[MIN_CANDIDATES]
    if not isinstance(by_grade, dict) or set(by_grade) != {g.value for g in Grade}:
        raise PolicyError(f"{where}: needs exactly the grades {[g.value for g in Grade]}")
    thresholds = {}
    for name, value in by_grade.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise PolicyError(f"{where}: {name} must be a positive integer, got {value!r}")
        thresholds[Grade(name)] = value
    return thresholds


def _pii(name: str, where: str) -> Pii:
    try:
        return Pii(name)
    except ValueError:
        known = ", ".join(p.value for p in Pii)
        raise PolicyError(f"{where}: unknown pii type {name!r}; known: {known}") from None


def _grade(name: str, where: str) -> Grade | None:
    if name == DEFAULT_GRADE:
        return None
    try:
        return Grade(name)
    except ValueError:
        known = ", ".join([*(g.value for g in Grade), DEFAULT_GRADE])
        raise PolicyError(f"{where}: unknown grade {name!r}; known: {known}") from None


def _outputs(table: object, where: str) -> tuple[Output, ...]:
    if not isinstance(table, dict) or not table:
        raise PolicyError(f"{where}: must map at least one std field name to an operator")
    outputs = []
    for template, operator in table.items():
        if not isinstance(operator, str) or operator not in OPERATORS or operator not in REVEALS:
            known = ", ".join(OPERATORS)
            raise PolicyError(f"{where}: unknown operator {operator!r}; known: {known}")
        if template.count(FIELD) != 1 or not _AVRO_NAME.fullmatch(template.replace(FIELD, "f")):
            raise PolicyError(
                f"{where}: std field name {template!r} must contain {FIELD} once and make an "
                "Avro name"
            )
        outputs.append(Output(template, operator))
    return tuple(outputs)
