"""A read-only HTTP query endpoint over the engine, for people and dashboards.

The chDB folder has one owner process (the sink), so the endpoint runs inside it, on its own
read-only connection to the same folder. ``GET|POST /?query=<sql>&format=json|csv`` (or the
SQL as a POST body) answers in the engine's own JSON or CSV; anything that is not one
SELECT/SHOW/DESCRIBE/EXPLAIN/WITH/EXISTS statement gets 403 with a one-line reason.

With users given, every request needs HTTP basic credentials of one of them (401 without),
served over TLS when a context is given. With grants, each user reads only the libraries
granted to it: the engine's analyzer says what a statement reads before it runs
(``table_access``), and anything else is refused with 403, naming it. The boundary is the
engine's: a read-only connection whose limits (time, result rows) no query can change. Every
query is reported to ``on_query``: who asked, what, the answer's status, how long and how
many rows.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from ops.basic_auth import basic_user
from sinks.clickhouse.backend import BackendError, ClickHouseBackend
from sinks.clickhouse.statement_guard import RefusedStatementError, check_read_only
from sinks.clickhouse.table_access import Reads, reads

FORMATS = {
    "json": ("JSON", "application/json; charset=utf-8"),
    "jsoncompact": ("JSONCompact", "application/json; charset=utf-8"),
    "jsoneachrow": ("JSONEachRow", "application/x-ndjson; charset=utf-8"),
    "csv": ("CSVWithNames", "text/csv; charset=utf-8"),
    "tsv": ("TSVWithNames", "text/tab-separated-values; charset=utf-8"),
}
MAX_BODY_BYTES = 1 << 20
ANONYMOUS = "anonymous"


class Grant(Protocol):
    """What a user may read: the reason a statement's reads are refused, or None."""

    def refusal(self, read: Reads, database: str) -> str | None: ...


@dataclass(frozen=True)
class QueryRecord:
    """One request, as the query log and the audit trail keep it."""

    user: str
    sql: str
    status: int
    seconds: float
    rows: int
    detail: str = ""


class QueryServer:
    """Serves read-only queries from one backend connection, one query at a time."""

    def __init__(
        self,
        backend: ClickHouseBackend,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, SecretStr] | None = None,
        tls: ssl.SSLContext | None = None,
        on_query: Callable[[QueryRecord], None] | None = None,
        grants: Mapping[str, Grant] | None = None,
        database: str = "",
    ):
        if not backend.read_only:
            raise ValueError("the query endpoint needs a read-only backend connection")
        self.backend = backend
        self.users = dict(users) if users is not None else None
        self.grants = grants
        self.database = database
        self.on_query = on_query
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self.scheme = "http"
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"{self.scheme}://{host}:{port}/"

    def authenticate(self, authorization: str | None) -> str | None:
        """The user the header's basic credentials belong to (None: refused)."""
        if self.users is None:
            return ANONYMOUS
        return basic_user(authorization, self.users.get)

    def serve(self, user: str, sql: str, fmt: str) -> tuple[HTTPStatus, str, bytes]:
        """``answer``, timed, counted and reported."""
        started = time.monotonic()
        status, content_type, body = self.answer(sql, fmt, user)
        if self.on_query is not None:
            ok = status is HTTPStatus.OK
            self.on_query(QueryRecord(
                user, sql, int(status), time.monotonic() - started,
                _rows(body, fmt) if ok else 0,
                "" if ok else body.decode(errors="replace").strip()[:300],
            ))
        return status, content_type, body

    def answer(self, sql: str, fmt: str, user: str = ANONYMOUS) -> tuple[HTTPStatus, str, bytes]:
        """Status, content type and body for one request; the HTTP layer only transports it.
        With grants, a statement reading a table its user was not granted is refused."""
        chosen = FORMATS.get(fmt.lower())
        if chosen is None:
            return _text(HTTPStatus.BAD_REQUEST, f"format must be one of {', '.join(FORMATS)}")
        try:
            statement = check_read_only(sql)
        except RefusedStatementError as exc:
            return _text(HTTPStatus.FORBIDDEN, str(exc))
        engine_format, content_type = chosen
        try:
            with self._lock:
                refusal = self._refusal(user, statement)
                if refusal is not None:
                    return _text(HTTPStatus.FORBIDDEN, refusal)
                body = self.backend.query_formatted(statement, engine_format)
        except BackendError as exc:
            status = HTTPStatus.SERVICE_UNAVAILABLE if exc.retryable else HTTPStatus.BAD_REQUEST
            if exc.code in _REFUSED_BY_ENGINE:
                status = HTTPStatus.FORBIDDEN
            return _text(status, _first_line(str(exc)))
        return HTTPStatus.OK, content_type, body

    def _refusal(self, user: str, statement: str) -> str | None:
        if self.grants is None:
            return None
        grant = self.grants.get(user)
        if grant is None:
            return f"user {user!r} is granted no library"
        return grant.refusal(reads(self.backend, statement, self.database), self.database)

    def start(self) -> None:
        """Serve in a daemon thread (the owner process goes on sinking)."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="query-server", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


# READONLY, TIMEOUT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES: the engine's own limits said no.
_REFUSED_BY_ENGINE = frozenset({164, 159, 396})
_JSON_ROWS = re.compile(rb'"rows":\s*(\d+)')


def _rows(body: bytes, fmt: str) -> int:
    """Rows in a rendered answer: JSON says so at its end, the rest are one per line."""
    if fmt.lower() in ("json", "jsoncompact"):
        found = _JSON_ROWS.findall(body[-400:])
        return int(found[-1]) if found else 0
    lines = body.count(b"\n")
    return max(0, lines - 1) if fmt.lower() in ("csv", "tsv") else lines


def _text(status: HTTPStatus, message: str) -> tuple[HTTPStatus, str, bytes]:
    return status, "text/plain; charset=utf-8", (message + "\n").encode()


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "query failed"


def _handler_for(server: QueryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "govbus-query"

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(*_text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "query too large"))
                return
            self._serve(self.rfile.read(length) if length else b"")

        def _serve(self, body: bytes) -> None:
            user = server.authenticate(self.headers.get("Authorization"))
            if user is None:
                if server.on_query is not None:  # a refused login is audited too
                    server.on_query(QueryRecord(ANONYMOUS, "", HTTPStatus.UNAUTHORIZED, 0.0, 0,
                                                "credentials missing or wrong"))
                self.send_response(HTTPStatus.UNAUTHORIZED)
                self.send_header("WWW-Authenticate", 'Basic realm="govbus query"')
                payload = b"credentials required\n"
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            params = parse_qs(urlsplit(self.path).query)
            sql = params.get("query", [""])[0] or body.decode("utf-8", errors="replace")
            if not sql.strip():
                self._send(*_text(HTTPStatus.BAD_REQUEST, "missing query"))
                return
            self._send(*server.serve(user, sql, params.get("format", ["json"])[0]))

        def _send(self, status: HTTPStatus, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            # Queries may name entities; request lines stay out of the logs.
            return

    return Handler
