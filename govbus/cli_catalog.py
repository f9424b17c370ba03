"""``govbus catalog list|show|export|publish``: the resource catalog (政务信息资源目录) for the
people who browse it. Reads the topic catalog, the schemas and ``topics/sharing.toml``; no
service, but ``publish``, which writes it to its topic for the sink to land."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.markup import escape
from rich.table import Table

from ops.settings import get_settings

if TYPE_CHECKING:
    from topics.resource_catalog import Resource, ResourceCatalog

catalog_app = typer.Typer(
    no_args_is_help=True, help="The resource catalog (政务信息资源目录): what may be shared, how."
)

EXPORT_FORMATS: Final = ("json", "csv")
# One CSV row per information item, the resource's columns repeated (a catalog sheet).
CSV_RESOURCE_COLUMNS: Final = (
    "code", "name", "summary", "provider", "provider_code", "provider_name", "sources", "layer",
    "topic", "table", "grade", "sharing", "conditions", "basis", "methods", "update_cycle", "open",
)
CSV_ITEM_COLUMNS: Final = ("name", "label", "type", "pii", "grade")


def _fail(message: str, code: int = 1) -> typer.Exit:
    from govbus.cli import fail

    return fail(escape(message), code)


def _load(declaration: Path | None = None) -> ResourceCatalog:
    from govbus.resource_catalog import resource_catalog
    from topics.sharing import SHARING_PATH, SharingDeclarationError

    try:
        return resource_catalog(get_settings(), declaration or SHARING_PATH)
    except SharingDeclarationError as exc:
        raise _fail(str(exc)) from None


@catalog_app.command("list")
def catalog_list(
    declaration: Annotated[Path | None, typer.Option(
        help="A draft of sharing.toml to check and list instead of the shipped one.")] = None,
) -> None:
    """Every resource: code, name, topic and table, provider, grade and sharing terms."""
    from govbus.cli import out

    table = Table(
        "code", "resource", "topic", "table", "provider", "grade", "sharing", "method",
        "update", "open", title="政务信息资源目录",
    )
    resources = _load(declaration)
    for resource in resources:
        terms = resource.terms
        table.add_row(
            resource.code, resource.name, resource.topic, resource.table or "-",
            resource.provider.name, resource.grade, terms.sharing,
            ", ".join(terms.methods) or "-", terms.update_cycle, terms.open,
        )
    out.print(table)
    out.print(f"{len(resources.resources)} resources; `govbus catalog show <code or topic>` "
              "for one, with its information items", highlight=False)


@catalog_app.command("show")
def catalog_show(
    resource: Annotated[str, typer.Argument(help="A resource code or topic name")],
) -> None:
    """One resource with its sharing terms and information items."""
    from govbus.cli import out

    resources = _load()
    try:
        chosen = resources.find(resource, get_settings().topic_namespace)
    except KeyError as exc:
        raise _fail(str(exc.args[0]), 2) from None
    out.print(_terms_table(chosen))
    items = Table("item", "label", "type", "pii", "grade", title="information items (信息项)")
    for item in chosen.items:
        items.add_row(item.name, item.label, item.type, item.pii, item.grade)
    out.print(items)


def _terms_table(resource: Resource) -> Table:
    terms = resource.terms
    provider = resource.provider
    rows: list[tuple[str, str | None]] = [
        ("code (资源代码)", resource.code),
        ("name (资源名称)", resource.name),
        ("summary (摘要)", resource.summary),
        ("provider (提供方)", f"{provider.name} ({provider.dept}, {provider.code})"),
        ("sources (来源部门)", ", ".join(resource.sources)),
        ("topic", resource.topic),
        ("table", resource.table or "- (not landed in ClickHouse)"),
        ("grade (分级)", resource.grade),
        ("sharing (共享类型)", terms.sharing),
        ("conditions (共享条件)", terms.conditions),
        ("basis (不予共享依据)", terms.basis),
        ("method (共享方式)", ", ".join(terms.methods) or "-"),
        ("update cycle (更新周期)", terms.update_cycle),
        ("open (开放属性)", terms.open),
    ]
    table = Table(show_header=False, title=f"{resource.code} {resource.name}")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        if value is not None:
            table.add_row(label, value)
    return table


@catalog_app.command("publish")
def catalog_publish() -> None:
    """Publish the catalog to its compacted topic (the sink lands it in the
    ``resource_catalog`` table): new and changed entries, tombstones for withdrawn ones."""
    from govbus.cli import operator_settings, out
    from govbus.resource_catalog import publish_catalog
    from topics.catalog import catalog_for
    from topics.sharing import SharingDeclarationError

    settings = operator_settings()
    try:
        made = publish_catalog(settings)
    except SharingDeclarationError as exc:
        raise _fail(str(exc)) from None
    out.print(f"catalog: {made.revised} entries published, {made.withdrawn} withdrawn, "
              f"{made.unchanged} unchanged on {catalog_for(settings).resource_catalog.name}",
              highlight=False)


@catalog_app.command("export")
def catalog_export(
    format: Annotated[str, typer.Option("--format", "-f", help="json or csv")] = "json",
) -> None:
    """The whole catalog on standard output: JSON (one object per resource, items nested) or
    CSV (one row per information item, the resource's columns repeated)."""
    if format not in EXPORT_FORMATS:
        raise _fail(f"--format {format!r} is not one of {', '.join(EXPORT_FORMATS)}", 2)
    records = [resource.as_record() for resource in _load()]
    if format == "json":
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([*CSV_RESOURCE_COLUMNS, *(f"item_{c}" for c in CSV_ITEM_COLUMNS)])
        writer.writerows(_csv_rows(records))
    sys.stdout.flush()


def _csv_rows(records: list[dict[str, Any]]) -> Iterator[list[str]]:
    for record in records:
        head = [_cell(record[column]) for column in CSV_RESOURCE_COLUMNS]
        for item in record["items"]:
            yield [*head, *(_cell(item[column]) for column in CSV_ITEM_COLUMNS)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)
