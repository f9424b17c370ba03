"""The access folder: the local CA's files and one password file per principal.

It is its own subfolder of the state folder (owner-only), apart from any other secret the
stack keeps there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import SecretStr

from ops.secret_files import new_password, read_secret, write_secret
from ops.settings import Settings
from ops.stack.tls import TlsFiles

ADMIN_PRINCIPAL = "admin"


class AccessFolder:
    """Where principals' passwords and the CA live for one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.access_folder
        self.tls = TlsFiles(self.root / "tls")
        self.ca_file = settings.kafka_ca_file or self.tls.ca_cert

    def password_file(self, principal: str) -> Path:
        return self.root / "users" / f"{principal}.password"

    def query_password_file(self, user: str) -> Path:
        """The query endpoint's users are not broker principals: a folder of their own."""
        return self.root / "query-users" / f"{user}.password"

    def query_password(self, user: str) -> SecretStr:
        path = self.query_password_file(user)
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            write_secret(path, new_password().get_secret_value().encode())
        return read_secret(path)

    def has_password(self, principal: str) -> bool:
        return self.password_file(principal).exists()

    def password(self, principal: str) -> SecretStr:
        path = self.password_file(principal)
        try:
            return read_secret(path)
        except FileNotFoundError:
            raise AccessError(
                f"no password for principal {principal!r} at {path} "
                "(run `govbus stack up` and `govbus topics apply`, or give GOVBUS_KAFKA_PASSWORD)"
            ) from None

    def new_password(self, principal: str) -> SecretStr:
        """Generate, store (0600) and return a fresh password for the principal."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        password = new_password()
        write_secret(self.password_file(principal), password.get_secret_value().encode())
        return password

    @property
    def registry_grants_dir(self) -> Path:
        """The registry writes granted beyond the admin's, one file per topic namespace,
        written by `govbus topics apply` and read by the registry's door."""
        return self.root / "registry-grants"

    def write_registry_grants(
        self, scope: str, grants: Mapping[str, Iterable[tuple[str, str]]]
    ) -> None:
        """Replace the scope's grants: principal -> the (group, artifact id) pairs it may
        register schema versions under."""
        name = re.sub(r"[^A-Za-z0-9_-]", "_", scope) or "_"
        content = {user: sorted([g, a] for g, a in pairs) for user, pairs in grants.items()}
        write_secret(self.registry_grants_dir / f"{name}.json",
                     json.dumps(content, indent=1, sort_keys=True).encode())

    def registry_grants(self) -> dict[str, set[tuple[str, str]]]:
        """Every scope's grants together."""
        merged: dict[str, set[tuple[str, str]]] = {}
        for path in sorted(self.registry_grants_dir.glob("*.json")):
            for user, pairs in json.loads(path.read_text(encoding="utf-8")).items():
                merged.setdefault(user, set()).update((g, a) for g, a in pairs)
        return merged

    def forget(self, principal: str) -> None:
        self.password_file(principal).unlink(missing_ok=True)


class AccessError(RuntimeError):
    """A client cannot be given credentials or trust: the message names what is missing."""
