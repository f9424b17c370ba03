"""The access folder: the local CA's files and one password file per principal.

It is its own subfolder of the state folder (owner-only), apart from any other secret the
stack keeps there.
"""

from __future__ import annotations

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

    def forget(self, principal: str) -> None:
        self.password_file(principal).unlink(missing_ok=True)


class AccessError(RuntimeError):
    """A client cannot be given credentials or trust: the message names what is missing."""
