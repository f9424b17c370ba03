"""``govbus query``: one read-only statement, answered by whoever may read the engine.

- a ClickHouse server (``clickhouse_url``): directly, every query sent with ``readonly=1``;
- chDB while a sink runs: the sink owns the folder, so through its query endpoint, whose URL
  the sink writes to ``<state_dir>/run/sink-query.url``;
- chDB without a sink: the folder opened read-only by this process.

Statements are checked before they leave (the endpoint checks again): one SELECT, SHOW,
DESCRIBE, EXPLAIN, WITH or EXISTS; anything else is refused with a one-line reason.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ops.settings import Settings
from sinks.clickhouse.backend import BackendError
from sinks.clickhouse.backend_factory import chdb_folder, open_backend
from sinks.clickhouse.query_server import FORMATS
from sinks.clickhouse.statement_guard import RefusedStatementError, check_read_only
from sinks.query_access import client_credentials, client_tls

URL_FILE = "sink-query.url"


class QueryError(RuntimeError):
    """A query that could not be answered; the message is one line. ``refused``: the
    statement is not a read-only one (as opposed to wrong or failed)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


def endpoint_file(settings: Settings) -> Path:
    return settings.state_dir / "run" / URL_FILE


def endpoint_url(settings: Settings) -> str | None:
    """The running sink's query endpoint, as it announced it (None when none did)."""
    try:
        text = endpoint_file(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def run_query(settings: Settings, sql: str, fmt: str = "json", timeout_s: float = 60.0) -> bytes:
    """The engine's rendering of the result in ``fmt`` (a key of ``FORMATS``)."""
    if fmt not in FORMATS:
        raise QueryError(f"format must be one of {', '.join(FORMATS)}")
    try:
        statement = check_read_only(sql)
    except RefusedStatementError as exc:
        raise QueryError(f"refused: {exc}", refused=True) from None
    if not settings.clickhouse_url:
        url = endpoint_url(settings)
        if url is not None:
            answer = _via_endpoint(settings, url, statement, fmt, timeout_s)
            if answer is not None:
                return answer
    return _direct(settings, statement, fmt)


def _via_endpoint(settings: Settings, url: str, statement: str, fmt: str, timeout_s: float
                  ) -> bytes | None:
    """The endpoint's answer, or None when nothing listens there any more (a stale file)."""
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    # Credentials travel over TLS only; a plain endpoint (security off) asks for none.
    secure = url.startswith("https:")
    credentials = client_credentials(settings) if secure else None
    if credentials is not None:
        user, password = credentials
        token = base64.b64encode(f"{user}:{password.get_secret_value()}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/?{urllib.parse.urlencode({'format': fmt})}",
        data=statement.encode("utf-8"),
        method="POST",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s,
                                    context=client_tls(settings) if secure else None
                                    ) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", errors="replace").strip()
        first = detail.splitlines()[0] if detail else exc.reason
        if exc.code == 401:
            raise QueryError(f"the query endpoint refused the credentials of "
                             f"{settings.query_user!r}", refused=True) from None
        refused = exc.code == 403
        raise QueryError(f"refused: {first}" if refused else first, refused) from None
    except (urllib.error.URLError, ConnectionError):
        return None


def _direct(settings: Settings, statement: str, fmt: str) -> bytes:
    if not settings.clickhouse_url and not chdb_folder(settings).is_dir():
        raise QueryError(
            f"no ClickHouse data at {chdb_folder(settings)}: run `govbus sink migrate` first"
        )
    try:
        backend = open_backend(settings, read_only=True)
    except BackendError as exc:
        raise QueryError(
            f"cannot open the engine read-only ({_first_line(exc)}); if a sink owns the "
            "folder, its query endpoint is not announced"
        ) from None
    try:
        return backend.query_formatted(statement, FORMATS[fmt][0])
    except BackendError as exc:
        if exc.code == 164:
            raise QueryError(f"refused: {_first_line(exc)}", refused=True) from None
        raise QueryError(_first_line(exc)) from None
    finally:
        backend.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
