"""The registry's door: every principal reads, only the admin registers or changes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from ops.access import AccessFolder
from ops.settings import Settings
from ops.stack.registry_proxy import RegistryDoor

BASE = "/apis/ccompat/v7"


@pytest.fixture
def door(tmp_path: Path) -> tuple[RegistryDoor, list[str], dict[str, str]]:
    access = AccessFolder(Settings(state_dir=tmp_path))
    passwords = {name: access.new_password(name).get_secret_value() for name in ("admin", "sink")}
    seen: list[str] = []
    known = {f"{BASE}/subjects/known"}

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST" and request.url.path in known:
            return httpx.Response(200, json={"id": 7, "version": 1})
        if request.method == "POST" and request.url.path.startswith(f"{BASE}/subjects/new"):
            return httpx.Response(404 if "versions" not in request.url.path else 200,
                                  json={"id": 8})
        return httpx.Response(200, json={})

    return RegistryDoor(access, "http://registry", httpx.MockTransport(registry)), seen, passwords


def _auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_or_wrong_credentials_get_401(door: tuple[RegistryDoor, list[str], dict[str, str]]
                                         ) -> None:
    gate, seen, passwords = door
    for header in (None, _auth("sink", "wrong"), _auth("nobody", "x"), "Bearer x"):
        user = gate.user(header)
        assert gate.handle("GET", f"{BASE}/subjects", user, {}, b"")[0] == 401
    assert not seen
    assert gate.user(_auth("sink", passwords["sink"])) == "sink"


def test_principals_read_and_look_up_but_only_the_admin_registers(
        door: tuple[RegistryDoor, list[str], dict[str, str]]) -> None:
    gate, seen, _ = door
    assert gate.handle("GET", f"{BASE}/schemas/ids/1", "sink", {}, b"")[0] == 200
    # Registering what the subject already has is a lookup: the id comes back.
    status, _, body = gate.handle("POST", f"{BASE}/subjects/known/versions", "sink", {}, b"{}")
    assert status == 200 and json.loads(body)["id"] == 7
    assert seen[-1] == f"POST {BASE}/subjects/known"
    assert gate.handle("POST", f"{BASE}/subjects/new/versions", "sink", {}, b"{}")[0] == 403
    assert gate.handle("PUT", f"{BASE}/config/known", "sink", {}, b"{}")[0] == 403
    assert gate.handle("DELETE", f"{BASE}/subjects/known", "sink", {}, b"")[0] == 403
    assert gate.handle("POST", f"{BASE}/subjects/new/versions", "admin", {}, b"{}")[0] == 200
    assert gate.handle("PUT", f"{BASE}/config/known", "admin", {}, b"{}")[0] == 200


def test_a_declared_registry_write_is_let_through_and_nothing_beside_it(
        door: tuple[RegistryDoor, list[str], dict[str, str]]) -> None:
    gate, seen, _ = door
    gate.access.write_registry_grants("", {"connect": [("dept.public.t", "raw.dept.t-Envelope")]})
    v2 = "/apis/registry/v2/groups"
    created = {"X-Registry-ArtifactId": "raw.dept.t-Envelope"}
    assert gate.handle("POST", f"{v2}/dept.public.t/artifacts?ifExists=RETURN_OR_UPDATE",
                       "connect", created, b"{}")[0] == 200
    assert seen[-1] == f"POST {v2}/dept.public.t/artifacts"
    assert gate.handle("POST", f"{v2}/dept.public.t/artifacts/raw.dept.t-Envelope/versions",
                       "connect", {}, b"{}")[0] == 200
    # Another artifact, another group, another user, a delete: refused.
    for method, path, user, headers in (
        ("POST", f"{v2}/dept.public.t/artifacts", "connect", {"X-Registry-ArtifactId": "x"}),
        ("POST", f"{v2}/other/artifacts", "connect", created),
        ("POST", f"{v2}/dept.public.t/artifacts", "sink", created),
        ("DELETE", f"{v2}/dept.public.t/artifacts/raw.dept.t-Envelope", "connect", {}),
        ("POST", f"{BASE}/subjects/new/versions", "connect", {}),
    ):
        assert gate.handle(method, path, user, headers, b"{}")[0] == 403, (method, path, user)
    # A later apply of the scope replaces its grants.
    gate.access.write_registry_grants("", {})
    assert gate.handle("POST", f"{v2}/dept.public.t/artifacts", "connect", created,
                       b"{}")[0] == 403
