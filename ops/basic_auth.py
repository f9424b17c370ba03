"""HTTP basic authentication against known secrets: the registry's door and the query
endpoint check credentials the same way."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

from pydantic import SecretStr


def basic_user(authorization: str | None, secret_of: Callable[[str], SecretStr | None]
               ) -> str | None:
    """The user whose basic credentials the header carries, if ``secret_of(user)`` is their
    password (compared in constant time); None for anything else."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    known = secret_of(user)
    if known is None:
        return None
    return user if hmac.compare_digest(known.get_secret_value().encode(),
                                       password.encode()) else None
