"""The pseudonym key: a secret with a key id, never a default.

Citizen IDs have little entropy (division x birth date x sequence), so whoever holds the key
can reverse every pseudonym by hashing all plausible IDs. Hence:
- a deployment supplies the key (``GOVBUS_PSEUDONYM_KEY`` + ``GOVBUS_PSEUDONYM_KEY_ID``, or
  ``GOVBUS_PSEUDONYM_KEY_FILE``) or nothing starts;
- the local stack generates a random key into its state folder on first start (mode 0600)
  and uses it while the stack is managed here;
- rotation writes a new key with a new key id and destroys the old one: derived layers are
  re-keyed from the raw layer (see README, "Pseudonym keys").
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from ops.settings import Settings

KEY_BYTES: Final = 32
MIN_KEY_CHARS: Final = 32
LOCAL_KEY_FILE: Final = Path("secrets") / "pseudonym-key.json"
HashName = Literal["sha256", "sm3"]


class PseudonymKeyError(RuntimeError):
    """No usable pseudonym key: the message is one line saying what to set."""


@dataclass(frozen=True, slots=True)
class PseudonymKey:
    key_id: str
    secret: bytes = field(repr=False)
    algorithm: HashName = "sha256"


def local_key_path(settings: Settings) -> Path:
    return settings.state_dir / LOCAL_KEY_FILE


def key_env_for_child(settings: Settings) -> dict[str, str]:
    """Environment a child process given another state folder needs to use this process's
    key: the local stack's key file, when that is where the key comes from."""
    local = local_key_path(settings)
    if settings.pseudonym_key is None and settings.pseudonym_key_file is None and (
            settings.manage_stack and local.exists()):
        return {"GOVBUS_PSEUDONYM_KEY_FILE": str(local)}
    return {}


def pseudonym_key(settings: Settings) -> PseudonymKey:
    """The configured key: from the environment, a key file, or the managed local stack."""
    if settings.pseudonym_key is not None:
        secret = settings.pseudonym_key.get_secret_value()
        if settings.pseudonym_key_id is None:
            raise PseudonymKeyError("GOVBUS_PSEUDONYM_KEY is set without GOVBUS_PSEUDONYM_KEY_ID")
        if len(secret) < MIN_KEY_CHARS:
            raise PseudonymKeyError(
                f"GOVBUS_PSEUDONYM_KEY is shorter than {MIN_KEY_CHARS} characters: use "
                f"a random key, e.g. {KEY_BYTES} bytes as hex"
            )
        return PseudonymKey(settings.pseudonym_key_id, secret.encode(), settings.pseudonym_hash)
    if settings.pseudonym_key_file is not None:
        return read_key_file(settings.pseudonym_key_file, settings.pseudonym_hash)
    local = local_key_path(settings)
    if settings.manage_stack and local.exists():
        return read_key_file(local, settings.pseudonym_hash)
    where = "run `govbus stack up` to generate the local stack's key, or set " if (
        settings.manage_stack) else "set "
    raise PseudonymKeyError(
        f"no pseudonym key: {where}GOVBUS_PSEUDONYM_KEY and GOVBUS_PSEUDONYM_KEY_ID, or "
        "GOVBUS_PSEUDONYM_KEY_FILE"
    )


def read_key_file(path: Path, algorithm: HashName = "sha256") -> PseudonymKey:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        key_id, secret = str(document["key_id"]), bytes.fromhex(document["key"])
    except OSError as error:
        raise PseudonymKeyError(f"cannot read the pseudonym key file {path}: {error}") from None
    except (ValueError, KeyError, TypeError):
        raise PseudonymKeyError(
            f"{path}: not a pseudonym key file ({{\"key_id\": ..., \"key\": <hex>}})"
        ) from None
    if len(secret) < KEY_BYTES // 2:
        raise PseudonymKeyError(f"{path}: the key is shorter than {KEY_BYTES // 2} bytes")
    return PseudonymKey(key_id, secret, algorithm)


def ensure_local_key(settings: Settings) -> PseudonymKey | None:
    """Generate the local stack's key if it has none; the new key, or None if one existed."""
    path = local_key_path(settings)
    if path.exists():
        return None
    return _write_new_key(path)


def rotate_local_key(settings: Settings, key_id: str | None = None) -> tuple[str, PseudonymKey]:
    """Replace the local stack's key by a new one with a new id; returns (old id, new key).

    The old key is overwritten, not kept: re-keying rebuilds from the raw layer and needs
    only the new key, and a kept old key could still reverse the old pseudonyms.
    """
    path = local_key_path(settings)
    old = read_key_file(path) if path.exists() else None
    new_id = key_id or _new_key_id()
    if old is not None and new_id == old.key_id:
        raise PseudonymKeyError(f"the new key id must differ from the current one ({new_id})")
    return ("" if old is None else old.key_id), _write_new_key(path, new_id)


def _new_key_id() -> str:
    return "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")


def _write_new_key(path: Path, key_id: str | None = None) -> PseudonymKey:
    key = PseudonymKey(key_id or _new_key_id(), secrets.token_bytes(KEY_BYTES))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    staged = path.with_suffix(".new")
    staged.unlink(missing_ok=True)
    # Created 0600 from the start: never readable by others, not even for a moment.
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({"key_id": key.key_id, "key": key.secret.hex()}, handle)
        handle.write("\n")
    staged.replace(path)
    return key
