"""Decides whether a SQL text is a single read-only statement the query endpoint may run.

The engine's read-only mode refuses writes, DDL and settings changes on its own; this guard
comes first and also refuses what read-only mode lets through: ``INTO OUTFILE`` (writes a
file on the host), the ``python()`` table function (reads objects of the serving process)
and several statements in one text.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

ALLOWED_FIRST = frozenset({"SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "WITH", "EXISTS"})
_DENIED_FUNCTIONS = frozenset({"PYTHON"})


class RefusedStatementError(ValueError):
    """A statement the read-only endpoint will not run; the message is one line."""


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    is_word: bool


def check_read_only(sql: str) -> str:
    """Return the statement (without a trailing ``;``) or raise ``RefusedStatementError``."""
    tokens = _tokens(sql)
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise RefusedStatementError("empty statement")
    if any(t.text == ";" for t in tokens):
        raise RefusedStatementError("one statement per request")
    first = next((t for t in tokens if t.text != "("), None)
    keyword = first.text.upper() if first is not None and first.is_word else ""
    if keyword not in ALLOWED_FIRST:
        shown = keyword or (first.text if first else "")
        raise RefusedStatementError(
            f"only {', '.join(sorted(ALLOWED_FIRST))} statements are allowed, not {shown!r}"
        )
    words = [t.text.upper() if t.is_word else t.text for t in tokens]
    for here, after in pairwise(words):
        if here == "INTO" and after == "OUTFILE":
            raise RefusedStatementError("INTO OUTFILE is not allowed")
        if here in _DENIED_FUNCTIONS and after == "(":
            raise RefusedStatementError(f"table function {here.lower()}() is not allowed")
    return sql.strip().rstrip(";").rstrip()


def _tokens(sql: str) -> list[_Token]:
    """Words and punctuation outside comments and quoted literals (which become one token)."""
    tokens: list[_Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise RefusedStatementError("unterminated comment")
            i = end + 2
        elif c == "'":
            i = _skip_quoted(sql, i)
            tokens.append(_Token(c, False))
        elif c in '"`':
            # A quoted identifier can name a function too: `python`(x).
            end = _skip_quoted(sql, i)
            tokens.append(_Token(sql[i + 1 : end - 1], True))
            i = end
        elif c.isalpha() or c == "_":
            start = i
            while i < n and (sql[i].isalnum() or sql[i] == "_"):
                i += 1
            tokens.append(_Token(sql[start:i], True))
        else:
            tokens.append(_Token(c, False))
            i += 1
    return tokens


def _skip_quoted(sql: str, start: int) -> int:
    quote = sql[start]
    i = start + 1
    while i < len(sql):
        c = sql[i]
        if c == "\\":
            i += 2
        elif c == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:
                i += 2  # a doubled quote stands for itself
            else:
                return i + 1
        else:
            i += 1
    raise RefusedStatementError("unterminated quoted text")
