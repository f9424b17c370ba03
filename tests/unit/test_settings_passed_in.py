"""Settings are passed in, never read globally below the command line: the wings and the
floors beneath them get a ``Settings`` (or what is made of one, such as the topic catalog)
from whoever called them, so a test makes a namespace by building a ``Settings``.

Reading the environment is the command line's job (``govbus/``), and a program's own entry
point's: the few below it are listed here by file and function, nothing else may."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BELOW_THE_CLI = ("streams", "sinks", "connectors", "topics", "ops")
SETTINGS_MODULE = Path("ops/settings.py")
# Programs of their own (`python -m ...`), whose main is their command line.
ENTRY_POINTS = {
    (Path("connectors/subscriber/examples/expiry_notifier.py"), "main"),
    (Path("ops/stack/registry_proxy.py"), "main"),
}


def _global_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, enclosing function) of each ``get_settings()`` or bare ``Settings()`` call."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            name = (node.func.id if isinstance(node.func, ast.Name)
                    else node.func.attr if isinstance(node.func, ast.Attribute) else "")
            bare_settings = name == "Settings" and not node.args and not node.keywords
            if name == "get_settings" or bare_settings:
                found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def _reads_below_the_cli() -> dict[tuple[Path, str], list[int]]:
    reads: dict[tuple[Path, str], list[int]] = {}
    for wing in BELOW_THE_CLI:
        for path in sorted((ROOT / wing).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative == SETTINGS_MODULE:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(relative))
            for line, function in _global_reads(tree):
                reads.setdefault((relative, function), []).append(line)
    return reads


def test_nothing_below_the_command_line_reads_the_global_settings() -> None:
    offending = {where: lines for where, lines in _reads_below_the_cli().items()
                 if where not in ENTRY_POINTS}
    assert not offending, "settings read globally below the command line (pass them in): " + (
        ", ".join(f"{path}:{lines[0]} in {function}"
                  for (path, function), lines in sorted(offending.items())))


def test_the_entry_points_allowed_to_still_read_them() -> None:
    # A stale entry here would let a later global read in unnoticed.
    assert set(_reads_below_the_cli()) >= ENTRY_POINTS


def test_the_scan_finds_a_global_read() -> None:
    tree = ast.parse("def work():\n    return get_settings().topic_namespace\n"
                     "def fine(settings):\n    return Settings(topic_namespace='x.')\n"
                     "def bare():\n    return Settings()\n")
    assert _global_reads(tree) == [(2, "work"), (6, "bare")]
