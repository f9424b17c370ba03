"""Which tables and table functions a read-only statement reads, as the engine resolves it.

The engine's own analyzer answers (``EXPLAIN QUERY TREE``): common table expressions, ``IN``
subqueries, joins and unions come back as the tables they name, each with its database, and
views as themselves (a view is a library of its own, granted apart from what it reads). For
statements the analyzer does not take (``DESCRIBE``, ``EXISTS``, ``SHOW CREATE``), the
engine's parser names the tables (``EXPLAIN AST``). ``SHOW TABLES|DATABASES`` read no table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from sinks.clickhouse.backend import ClickHouseBackend

_TREE_TABLE = re.compile(r"\bTABLE id: \d+(?:, alias: [^,\n]+)?, table_name: ([^\s,]+)")
_TREE_FUNCTION = re.compile(r"\bTABLE_FUNCTION id: \d+(?:, alias: [^,\n]+)?, "
                            r"table_function_name: (\w+)")
_AST_TABLE = re.compile(r"^\s*TableIdentifier (\S+)\s*$", re.MULTILINE)
_AST_NAMED = re.compile(r"^\s*(?:ExistsTableQuery|ShowCreateTableQuery|ShowCreateViewQuery)"
                        r" (\w+) (\w+)", re.MULTILINE)
_AST_FUNCTION = re.compile(r"^\s*Function (\w+)")
_ANALYZED = frozenset({"SELECT", "WITH", "("})
# EXPLAIN's kind and settings, before the statement it explains.
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:(?:AST|SYNTAX|QUERY\s+TREE|PLAN|PIPELINE|ESTIMATE)\s+)?"
                      r"(?:\w+\s*=\s*[\w.']+\s*,?\s*)*", re.IGNORECASE)
_NO_TABLE = re.compile(r"^\s*SHOW\s+(?:FULL\s+)?(?:TEMPORARY\s+)?(?:TABLES|DATABASES)\b",
                       re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reads:
    """What a statement reads: ``database.table`` names and table function names."""

    tables: frozenset[str]
    functions: frozenset[str]


def reads(backend: ClickHouseBackend, statement: str, database: str) -> Reads:
    """The tables (qualified; unqualified ones in ``database``) and table functions."""
    if _NO_TABLE.match(statement):
        return Reads(frozenset(), frozenset())
    explain = _EXPLAIN.match(statement)
    if explain is not None:
        # What an EXPLAIN shows (constants folded from scalar subqueries among it) comes
        # from the statement it explains: that statement's reads are the EXPLAIN's.
        statement = statement[explain.end():]
    first = statement.lstrip()[:6].upper()
    if any(first.startswith(word) for word in _ANALYZED):
        tree = backend.query_formatted(f"EXPLAIN QUERY TREE {statement}", "TSVRaw").decode()
        return Reads(frozenset(_TREE_TABLE.findall(tree)),
                     frozenset(f.lower() for f in _TREE_FUNCTION.findall(tree)))
    ast = backend.query_formatted(f"EXPLAIN AST {statement}", "TSVRaw").decode()
    tables = {_qualified(name, database) for name in _AST_TABLE.findall(ast)}
    tables.update(f"{db}.{table}" for db, table in _AST_NAMED.findall(ast))
    return Reads(frozenset(tables), frozenset(_ast_table_functions(ast)))


def _qualified(name: str, database: str) -> str:
    return name if "." in name else f"{database}.{name}"


def _ast_table_functions(ast: str) -> set[str]:
    """Functions the parser placed as a table expression (``FROM file(...)``)."""
    lines = ast.splitlines()
    return {
        match.group(1).lower()
        for here, after in pairwise(lines)
        if here.strip().startswith("TableExpression")
        and (match := _AST_FUNCTION.match(after)) is not None
    }
