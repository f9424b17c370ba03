"""The registry's door: an authenticating reverse proxy on loopback in front of Apicurio.

Apicurio Registry 2.4 authenticates only through an OpenID Connect server (Keycloak), which
the local stack does not run; so the registry listens on a loopback port of its own and this
proxy, on the registry URL's port, lets in the broker's principals with their passwords
(HTTP basic; over TLS when the URL is https):

- reads (GET, HEAD, and the POSTs that only look up or check a schema) for every principal;
- registering a schema for every principal only when the subject already has it, which is
  a lookup (clients register their schema at start to learn its id); a new schema or
  version, compatibility changes and deletes for the admin alone;
- except the registry writes declared for a principal (topics/principals.py, written to the
  access folder by `govbus topics apply`): Kafka Connect's converter registers the schemas
  Debezium derives from a department table, which no one can register before the table
  exists, and a new version when the table changes. It may create or update exactly the
  declared artifacts through the registry's own API (its converter speaks that API, not the
  Confluent one), nothing else.

Run by the local stack: ``python -m ops.stack.registry_proxy``, configured by the settings.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import httpx
from pydantic import SecretStr

from ops.access import ADMIN_PRINCIPAL, AccessFolder
from ops.basic_auth import basic_user
from ops.settings import Settings, get_settings

# /apis/ccompat/v7/subjects/<subject>/versions: the register call.
_REGISTER = re.compile(r"^(?P<base>.*/subjects/[^/]+)/versions/?$")
# Lookups and compatibility checks: POSTs that change nothing.
_READ_POSTS = (re.compile(r".*/subjects/[^/]+/?$"), re.compile(r".*/compatibility/.*"))
_OPEN = ("/health/ready", "/health/live")
# The registry's own API: create an artifact (its id in a header), or a version of one.
_ARTIFACTS = re.compile(r"^.*/registry/v2/groups/(?P<group>[^/]+)/artifacts/?$")
_ARTIFACT = re.compile(
    r"^.*/registry/v2/groups/(?P<group>[^/]+)/artifacts/(?P<artifact>[^/]+)(/versions)?/?$")
_NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length",
                "authorization"}


def internal_port(public_port: int) -> int:
    """The registry's own loopback port: two above the public one, so it moves with it."""
    return public_port + 2


class RegistryDoor:
    """Decides who may do what; forwards what is allowed to the registry."""

    def __init__(self, access: AccessFolder, upstream: str,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.access = access
        # Without TCP_NODELAY the second write of a message (a reply's body after its
        # headers) waits for the ACK of the first, which the receiver delays up to 40 ms: a
        # schema lookup through the door took 52-56 ms, 10-15 ms with it on both hops.
        self.client = httpx.Client(base_url=upstream, timeout=30, transport=transport or
                                   httpx.HTTPTransport(socket_options=[_NO_DELAY]))
        self._writes = threading.Lock()

    def user(self, authorization: str | None) -> str | None:
        return basic_user(authorization, self._password)

    def _password(self, user: str) -> SecretStr | None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", user) or not self.access.has_password(user):
            return None  # the name is a file name in the access folder: nothing else
        return self.access.password(user)

    def handle(self, method: str, path: str, user: str | None, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        if urlsplit(path).path in _OPEN and method == "GET":
            return self.forward(method, path, headers, body)
        if user is None:
            return _refusal(HTTPStatus.UNAUTHORIZED, "credentials required")
        if method in ("GET", "HEAD") or user == ADMIN_PRINCIPAL:
            return self.forward(method, path, headers, body)
        route = urlsplit(path).path
        if method == "POST" and any(p.match(route) for p in _READ_POSTS):
            return self.forward(method, path, headers, body)
        if method in ("POST", "PUT") and self._granted_write(user, method, route, headers):
            return self.forward(method, path, headers, body)
        register = _REGISTER.match(route)
        if method == "POST" and register is not None:
            # Registered already: answer as the registry would, with the schema's id.
            status, reply_headers, reply = self.forward(method, register["base"], headers, body)
            if status == HTTPStatus.OK:
                return status, reply_headers, reply
            return _refusal(HTTPStatus.FORBIDDEN,
                            f"{user} may not register a new schema: only the admin registers")
        return _refusal(HTTPStatus.FORBIDDEN, f"{user} may only read the registry")

    def _granted_write(self, user: str, method: str, route: str, headers: dict[str, str]
                       ) -> bool:
        """A write of an artifact declared for this user (read afresh: apply may change it)."""
        artifact = _ARTIFACT.match(route)
        if artifact is not None:
            target = (unquote(artifact["group"]), unquote(artifact["artifact"]))
        else:
            created = _ARTIFACTS.match(route)
            named = {k.lower(): v for k, v in headers.items()}.get("x-registry-artifactid")
            if method != "POST" or created is None or not named:
                return False
            target = (unquote(created["group"]), named)
        return target in self.access.registry_grants().get(user, set())

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, dict[str, str], bytes]:
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
        # Writes go one at a time: the registry's storage mishandles artifacts created at
        # once (two Debezium tasks' first records together: one answered "no artifact with
        # ID ... was found", and Connect kills that task for good).
        serial = self._writes if method not in ("GET", "HEAD") else contextlib.nullcontext()
        try:
            with serial:
                reply = self.client.request(method, path, headers=sent, content=body)
        except httpx.HTTPError as exc:
            return _refusal(HTTPStatus.BAD_GATEWAY, f"registry unreachable: {exc}")
        kept = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_HEADERS
                and k.lower() != "content-encoding"}
        return reply.status_code, kept, reply.content


def _refusal(status: HTTPStatus, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error_code": int(status), "message": message}).encode()
    headers = {"Content-Type": "application/json"}
    if status == HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Basic realm="govbus registry"'
    return int(status), headers, body


def _handler_for(door: RegistryDoor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "govbus-registry"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # a reply's body follows its headers at once

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            user = door.user(self.headers.get("Authorization"))
            status, headers, payload = door.handle(
                self.command, self.path, user, dict(self.headers.items()), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def serve(settings: Settings) -> int:
    """The door on the registry URL's port, until interrupted."""
    url = urlsplit(settings.registry_url)
    host, port = url.hostname or "127.0.0.1", url.port or 8081
    access = AccessFolder(settings)
    door = RegistryDoor(access, f"http://{host}:{internal_port(port)}")
    server = ThreadingHTTPServer((host, port), _handler_for(door))
    if url.scheme == "https":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(access.tls.server_cert, access.tls.server_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def main() -> int:
    return serve(get_settings())


if __name__ == "__main__":
    sys.exit(main())
