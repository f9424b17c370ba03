"""The sharing declaration's shape: a malformed file is one line naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from topics.sharing import (
    SHARING_PATH,
    SharingDeclarationError,
    SharingMethod,
    SharingType,
    read_declaration,
)


def test_the_shipped_declaration_reads() -> None:
    declaration = read_declaration()
    assert declaration.raw.sharing is SharingType.NOT_SHARED
    household = declaration.resources["std.household.resident"]
    assert household.sharing is SharingType.CONDITIONAL
    assert household.methods == (SharingMethod.SUBSCRIBE,)


def _draft(tmp_path: Path, old: str, new: str) -> Path:
    text = SHARING_PATH.read_text(encoding="utf-8")
    assert old in text
    draft = tmp_path / "draft.toml"
    draft.write_text(text.replace(old, new, 1), encoding="utf-8")
    return draft


@pytest.mark.parametrize(("old", "new", "expected"), [
    pytest.param('sharing = "有条件"', 'sharing = "可以"', "std.household.resident: sharing: ",
                 id="unknown-sharing-type"),
    pytest.param('update_cycle = "实时"\nopen = "不予开放"\n\n[resources."std.market',
                 'update_cycle = "每时"\nopen = "不予开放"\n\n[resources."std.market',
                 "std.household.resident: update_cycle: ", id="unknown-update-cycle"),
    pytest.param('methods = ["订阅"]', 'method = ["订阅"]', "std.household.resident: method: ",
                 id="unknown-key"),
    pytest.param('code = "01"', 'code = "1"', "provider household: code: ",
                 id="provider-code-not-two-digits"),
    pytest.param("[raw]", "[raw\n", "not valid TOML", id="not-toml"),
])
def test_a_malformed_declaration_is_one_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    with pytest.raises(SharingDeclarationError) as caught:
        read_declaration(_draft(tmp_path, old, new))
    text = str(caught.value)
    assert "\n" not in text and text.startswith("draft.toml: ") and expected in text, text


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SharingDeclarationError, match="cannot read"):
        read_declaration(tmp_path / "none.toml")
