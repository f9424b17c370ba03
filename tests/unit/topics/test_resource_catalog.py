"""The resource catalog: every field but the sharing terms derived; every rule of the
declaration checked at load time, each with a deliberately bad declaration."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from topics.annotations import Category, Grade
from topics.catalog import Catalog, Layer, catalog_in
from topics.resource_catalog import Resource, ResourceCatalog, build_catalog
from topics.resource_code import CATEGORY_CODES, resource_code
from topics.schemas import source_names, std_row_schema
from topics.sharing import (
    SHARING_PATH,
    SharingDeclaration,
    SharingDeclarationError,
    SharingType,
)

Document = dict[str, Any]
SHIPPED: Document = tomllib.loads(SHARING_PATH.read_text(encoding="utf-8"))


CATALOG = catalog_in("unit.")


def _tables(catalog: Catalog = CATALOG) -> dict[str, str]:
    """What the sink lands, as govbus/resource_catalog.py hands it in."""
    return {catalog.theme(c).name: f"govbus.theme_{c}" for c in Category}


def _build(document: Document, catalog: Catalog = CATALOG) -> ResourceCatalog:
    return build_catalog(SharingDeclaration.model_validate(document), catalog.all,
                         catalog.namespace, _tables(catalog))


def _edited(edit: Callable[[Document], object]) -> Document:
    document = copy.deepcopy(SHIPPED)
    edit(document)
    return document


@pytest.fixture(scope="module")
def shipped() -> ResourceCatalog:
    return _build(SHIPPED)


# ------------------------------------------------------------------ derivation


def test_one_entry_per_raw_std_and_theme_topic(shipped: ResourceCatalog) -> None:
    expected = {t.name for t in CATALOG.all if t.layer in (Layer.RAW, Layer.STD, Layer.THEME)}
    assert sorted(r.topic for r in shipped) == sorted(expected)
    assert not any(t.layer is Layer.FACT for t in CATALOG.all if t.name in expected)
    assert len(shipped.resources) == 2 * len(source_names()) + len(Category)


def _find(resources: ResourceCatalog, topic: str) -> Resource:
    return resources.find(topic, CATALOG.namespace)


def test_a_std_entry_is_derived_from_its_schemas(shipped: ResourceCatalog) -> None:
    resource = _find(shipped, "std.household.resident")
    assert resource.code == "30100102/88309"
    assert (resource.name, resource.provider.dept, resource.provider.name) == (
        "户籍人口", "household", "市公安局")
    assert resource.summary.startswith("a resident in the household registry")
    assert resource.table is None  # std topics are not landed in ClickHouse
    schema = std_row_schema("household.resident")
    assert [i.name for i in resource.items] == [f["name"] for f in schema["fields"]]
    pseudonym = next(i for i in resource.items if i.name == "id_number_pseudonym")
    # The std field's own pii is none (desensitized); the entry says what it was made from.
    assert (pseudonym.pii, pseudonym.grade, pseudonym.type) == (
        "id_number (pseudonym)", Grade.CORE, "string?")
    assert resource.grade is Grade.CORE and resource.sharing is SharingType.CONDITIONAL


def test_a_theme_entry_has_its_table_and_its_authorities(shipped: ResourceCatalog) -> None:
    resource = _find(shipped, "theme.individual")
    assert resource.code.startswith("1000010") and resource.name == "人口库"
    assert resource.table == "govbus.theme_individual"
    assert resource.sources == ("civil", "household")  # govbus.authority of its attributes
    items = {i.name: i for i in resource.items}
    assert items["links"].type == "array<ProfileLink>"
    # A nested field's grade counts: candidates' values are important.
    assert items["candidates"].grade is Grade.IMPORTANT
    assert resource.grade is Grade.IMPORTANT


def test_raw_topics_carry_the_raw_terms(shipped: ResourceCatalog) -> None:
    for resource in shipped:
        if resource.layer is Layer.RAW:
            assert resource.sharing is SharingType.NOT_SHARED
            assert resource.terms.basis == SHIPPED["raw"]["basis"]
    # Raw rows hold personal data in clear: their items say so.
    raw = _find(shipped, "raw.household.resident")
    assert {i.name: i.pii for i in raw.items}["id_number"] == "id_number"


def test_codes_follow_the_guideline_form_and_are_unique(shipped: ResourceCatalog) -> None:
    codes = [r.code for r in shipped]
    assert len(codes) == len(set(codes))
    for resource in shipped:
        assert re.fullmatch(r"[13][0-9]{2}[0-9]{3}0[123]/[0-9]{5}", resource.code)
        assert resource.code[1:3] == resource.provider.code


def test_codes_do_not_depend_on_the_namespace(shipped: ResourceCatalog) -> None:
    staging = catalog_in("staging.")
    other = _build(SHIPPED, staging)
    assert [r.code for r in other] == [r.code for r in shipped]
    assert other.find("theme.thing", staging.namespace).topic == "staging.theme.thing"


def test_a_code_is_fixed_by_layer_provider_category_and_subject() -> None:
    assert resource_code(Layer.STD, "01", Category.INDIVIDUAL, "household.resident") == (
        "30100102/88309")
    assert resource_code(Layer.THEME, "00", Category.EVENT, "event") == "10000403/61735"
    assert set(CATEGORY_CODES) == set(Category)


def test_find_by_code_or_topic_and_a_clear_miss(shipped: ResourceCatalog) -> None:
    by_topic = shipped.find("theme.organization", CATALOG.namespace)
    assert shipped.find(by_topic.code) is by_topic
    with pytest.raises(KeyError, match=r"no resource 'theme\.nope'"):
        shipped.find("theme.nope")


def test_as_record_is_plain_data(shipped: ResourceCatalog) -> None:
    record = _find(shipped, "std.civil.marriage").as_record()
    assert record["sharing"] == "不予共享" and record["basis"] and record["methods"] == []
    assert record["items"][0] == {"name": "registration_id", "label": "登记编号",
                                  "type": "string", "pii": "none", "grade": "general"}


# ------------------------------------------------------------------ rules, one bad file each


def _set(path: tuple[str, ...], value: object) -> Callable[[Document], None]:
    def edit(document: Document) -> None:
        *parents, last = path
        target = document
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            del target[last]
        else:
            target[last] = value
    return edit


def _both(*edits: Callable[[Document], None]) -> Callable[[Document], None]:
    def edit(document: Document) -> None:
        for one in edits:
            one(document)
    return edit


HOUSEHOLD = ("resources", "std.household.resident")
MARRIAGE = ("resources", "std.civil.marriage")
SHAREABLE_RAW = {"sharing": "有条件", "conditions": "x", "methods": ["订阅"],
                 "update_cycle": "实时", "open": "不予开放"}

BAD_DECLARATIONS = [
    pytest.param(_set((*HOUSEHOLD, "conditions"), None), "std.household.resident",
                 "有条件 needs its conditions", id="conditional-without-conditions"),
    pytest.param(_set((*MARRIAGE, "basis"), None), "std.civil.marriage",
                 "不予共享 needs its legal basis", id="not-shared-without-basis"),
    pytest.param(_set(("raw", "basis"), None), "raw.", "不予共享 needs its legal basis",
                 id="raw-terms-without-basis"),
    pytest.param(_set(("resources", "raw.household.resident"), SHAREABLE_RAW),
                 "raw.household.resident", "raw topics are always 不予共享",
                 id="raw-topic-marked-shareable"),
    pytest.param(_both(_set(("raw", "sharing"), "无条件"), _set(("raw", "basis"), None),
                       _set(("raw", "methods"), ["订阅"])),
                 "raw.", "a raw topic marked 无条件", id="raw-terms-marked-shareable"),
    pytest.param(_both(_set((*HOUSEHOLD, "sharing"), "无条件"),
                       _set((*HOUSEHOLD, "conditions"), None)),
                 "std.household.resident", "item id_number_pseudonym is core grade",
                 id="core-item-in-unconditional"),
    pytest.param(_set(("resources", "std.nope.table"), SHIPPED["resources"]["theme.thing"]),
                 "std.nope.table", "no such topic in the topic catalog", id="unknown-topic"),
    pytest.param(_set(("resources", "theme.thing"), None), "theme.thing", "no declaration",
                 id="theme-without-declaration"),
    pytest.param(_set(("resources", "std.market.enterprise"), None), "std.market.enterprise",
                 "no declaration", id="std-without-declaration"),
    pytest.param(_set(("resources", "fact.individual"), SHIPPED["resources"]["theme.thing"]),
                 "fact.individual", "a fact topic is not a resource", id="fact-topic-declared"),
    pytest.param(_set(("resources", "theme.thing", "conditions"), "x"), "theme.thing",
                 "conditions are for 有条件 resources", id="conditions-on-unconditional"),
    pytest.param(_set((*HOUSEHOLD, "basis"), "x"), "std.household.resident",
                 "a legal basis is for 不予共享 resources", id="basis-on-shared"),
    pytest.param(_set((*HOUSEHOLD, "methods"), []), "std.household.resident",
                 "needs at least one sharing method", id="shared-without-method"),
    pytest.param(_set((*MARRIAGE, "methods"), ["订阅"]), "std.civil.marriage",
                 "不予共享 takes no sharing method", id="not-shared-with-method"),
    pytest.param(_set((*HOUSEHOLD, "methods"), ["订阅", "查询"]), "std.household.resident",
                 "lands in no ClickHouse table", id="query-without-table"),
    pytest.param(_set((*HOUSEHOLD, "open"), "无条件开放"), "std.household.resident",
                 "reaches further than sharing type", id="open-beyond-sharing"),
    pytest.param(_set(("providers", "civil"), None), "civil.marriage",
                 "provider 'civil' is not declared", id="provider-missing"),
    pytest.param(_set(("providers", "civil", "code"), "01"), "household and civil",
                 "share the code 01", id="provider-code-reused"),
]


@pytest.mark.parametrize(("edit", "resource", "message"), BAD_DECLARATIONS)
def test_an_inconsistent_declaration_is_one_line_naming_the_resource(
    edit: Callable[[Document], None], resource: str, message: str
) -> None:
    with pytest.raises(SharingDeclarationError) as caught:
        _build(_edited(edit))
    text = str(caught.value)
    assert "\n" not in text and resource in text and message in text, text


def test_two_resources_with_one_code_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("topics.resource_catalog.resource_code", lambda *_: "30100102/00001")
    with pytest.raises(SharingDeclarationError, match="would share the resource code"):
        _build(SHIPPED)
