"""A read-only HTTP query endpoint over the engine, for people and dashboards.

The chDB folder has one owner process (the sink), so the endpoint runs inside it, on its own
read-only connection to the same folder. ``GET|POST /?query=<sql>&format=json|csv`` (or the
SQL as a POST body) answers in the engine's own JSON or CSV; anything that is not one
SELECT/SHOW/DESCRIBE/EXPLAIN/WITH/EXISTS statement gets 403 with a one-line reason.
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sinks.clickhouse.backend import BackendError, ClickHouseBackend
from sinks.clickhouse.statement_guard import RefusedStatementError, check_read_only

FORMATS = {
    "json": ("JSON", "application/json; charset=utf-8"),
    "jsoncompact": ("JSONCompact", "application/json; charset=utf-8"),
    "jsoneachrow": ("JSONEachRow", "application/x-ndjson; charset=utf-8"),
    "csv": ("CSVWithNames", "text/csv; charset=utf-8"),
    "tsv": ("TSVWithNames", "text/tab-separated-values; charset=utf-8"),
}
MAX_BODY_BYTES = 1 << 20


class QueryServer:
    """Serves read-only queries from one backend connection, one query at a time."""

    def __init__(self, backend: ClickHouseBackend, host: str = "127.0.0.1", port: int = 0):
        if not backend.read_only:
            raise ValueError("the query endpoint needs a read-only backend connection")
        self.backend = backend
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}/"

    def answer(self, sql: str, fmt: str) -> tuple[HTTPStatus, str, bytes]:
        """Status, content type and body for one request; the HTTP layer only transports it."""
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
                body = self.backend.query_formatted(statement, engine_format)
        except BackendError as exc:
            status = HTTPStatus.SERVICE_UNAVAILABLE if exc.retryable else HTTPStatus.BAD_REQUEST
            if exc.code == 164:  # READONLY: the engine's own refusal
                status = HTTPStatus.FORBIDDEN
            return _text(status, _first_line(str(exc)))
        return HTTPStatus.OK, content_type, body

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
            params = parse_qs(urlsplit(self.path).query)
            sql = params.get("query", [""])[0] or body.decode("utf-8", errors="replace")
            if not sql.strip():
                self._send(*_text(HTTPStatus.BAD_REQUEST, "missing query"))
                return
            self._send(*server.answer(sql, params.get("format", ["json"])[0]))

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
