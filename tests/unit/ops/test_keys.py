import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from ops.keys import (
    PseudonymKeyError,
    ensure_local_key,
    key_env_for_child,
    local_key_path,
    pseudonym_key,
    read_key_file,
    rotate_local_key,
)
from ops.settings import Settings

KEY = "0123456789abcdef" * 4


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Settings with no key configured (the test run's own key removed)."""
    for name in ("GOVBUS_PSEUDONYM_KEY", "GOVBUS_PSEUDONYM_KEY_ID", "GOVBUS_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return Settings(state_dir=tmp_path)


def test_there_is_no_default_key(bare: Settings) -> None:
    assert bare.pseudonym_key is None and bare.pseudonym_key_id is None


def test_a_deployment_without_a_key_refuses_with_one_line(bare: Settings) -> None:
    external = bare.model_copy(update={"manage_stack": False})
    with pytest.raises(PseudonymKeyError) as raised:
        pseudonym_key(external)
    message = str(raised.value)
    assert "\n" not in message and "GOVBUS_PSEUDONYM_KEY" in message
    assert "stack up" not in message
    with pytest.raises(PseudonymKeyError, match="govbus stack up"):
        pseudonym_key(bare)


def test_the_local_stack_generates_a_private_key_once(bare: Settings) -> None:
    generated = ensure_local_key(bare)
    assert generated is not None and len(generated.secret) == 32
    path = local_key_path(bare)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_local_key(bare) is None
    assert pseudonym_key(bare) == generated
    # Another deployment does not pick up a stack's key file by accident.
    with pytest.raises(PseudonymKeyError):
        pseudonym_key(bare.model_copy(update={"manage_stack": False}))


def test_keys_from_the_environment_or_a_key_file(bare: Settings, tmp_path: Path) -> None:
    given = bare.model_copy(update={"pseudonym_key": SecretStr(KEY), "pseudonym_key_id": "k9"})
    key = pseudonym_key(given)
    assert (key.key_id, key.secret) == ("k9", KEY.encode())
    with pytest.raises(PseudonymKeyError, match="without GOVBUS_PSEUDONYM_KEY_ID"):
        pseudonym_key(bare.model_copy(update={"pseudonym_key": SecretStr(KEY)}))
    with pytest.raises(PseudonymKeyError, match="shorter than 32"):
        pseudonym_key(given.model_copy(update={"pseudonym_key": SecretStr("secret")}))
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"key_id": "ops1", "key": KEY}), encoding="utf-8")
    from_file = pseudonym_key(bare.model_copy(update={"pseudonym_key_file": path}))
    assert (from_file.key_id, from_file.secret) == ("ops1", bytes.fromhex(KEY))
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(PseudonymKeyError, match="not a pseudonym key file"):
        read_key_file(path)


def test_rotation_writes_a_new_key_id_and_destroys_the_old_key(bare: Settings) -> None:
    first = ensure_local_key(bare)
    assert first is not None
    old_id, second = rotate_local_key(bare, "k2")
    assert old_id == first.key_id and second.key_id == "k2" and second.secret != first.secret
    assert pseudonym_key(bare) == second
    assert first.secret.hex() not in local_key_path(bare).read_text(encoding="utf-8")
    assert stat.S_IMODE(local_key_path(bare).stat().st_mode) == 0o600
    with pytest.raises(PseudonymKeyError, match="must differ"):
        rotate_local_key(bare, "k2")


def test_a_child_with_another_state_folder_is_told_where_the_stack_key_is(
    bare: Settings, tmp_path: Path
) -> None:
    assert key_env_for_child(bare) == {}  # no key yet: the child says so itself
    generated = ensure_local_key(bare)
    env = key_env_for_child(bare)
    assert env == {"GOVBUS_PSEUDONYM_KEY_FILE": str(local_key_path(bare))}
    child = Settings(state_dir=tmp_path / "child",
                     pseudonym_key_file=Path(env["GOVBUS_PSEUDONYM_KEY_FILE"]))
    assert pseudonym_key(child) == generated
    given = bare.model_copy(update={"pseudonym_key": SecretStr(KEY), "pseudonym_key_id": "k9"})
    assert key_env_for_child(given) == {}  # the environment already carries it
