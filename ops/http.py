"""The metrics and health server every govbus process starts, and discovery of its peers.

``/metrics`` (Prometheus text or OpenMetrics, by the Accept header), ``/healthz`` (200 while
the process lives) and ``/readyz`` (200 when the readiness check says so, else 503 with a
one-line reason). A running server announces itself with the file
``<state_dir>/run/metrics-<role>-<pid>.url`` (its base URL), removed when it stops; ``targets()``
lists the live ones for ``govbus status`` and for Prometheus (``write_file_sd``).

Typical use in a worker::

    with MetricsServer.from_settings(settings, role="raw") as server:
        ...  # connect
        server.set_ready()
        loop.run()
"""

from __future__ import annotations

import atexit
import json
import os
import re
import string
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from ops.settings import Settings
from ops.stack.process import pid_alive, started_at

#: A readiness check: True/False, or (ready, one-line reason).
Readiness = bool | tuple[bool, str]
ReadyCheck = Callable[[], Readiness]

_ROLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_URL_FILE = re.compile(r"^metrics-(?P<role>[a-z0-9][a-z0-9_-]*)-(?P<pid>\d+)\.url$")


def run_dir(state_dir: Path) -> Path:
    return state_dir / "run"


@dataclass(frozen=True)
class Target:
    """One live metrics server: its role, process id and base URL (no trailing slash)."""

    role: str
    pid: int
    url: str
    path: Path

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    @property
    def host_port(self) -> str:
        return self.url.split("://", 1)[-1]


class MetricsServer:
    """A small threaded HTTP server for /metrics, /healthz and /readyz."""

    def __init__(
        self,
        role: str,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        ready: ReadyCheck | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        if not _ROLE.match(role):
            raise ValueError(f"role {role!r} must match {_ROLE.pattern}")
        self.role = role
        self.state_dir = state_dir
        self.host = host
        self.port = port
        self.registry = registry
        self._check = ready
        self._flag: tuple[bool, str] = (False, "starting")
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url_file: Path | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, role: str, ready: ReadyCheck | None = None
    ) -> MetricsServer:
        return cls(role, settings.state_dir, settings.metrics_host, settings.metrics_port, ready)

    # -------------------------------------------------------------- readiness

    def set_ready(self, ready: bool = True, reason: str | None = None) -> None:
        """Readiness for servers without a check callback (they start as not ready)."""
        self._flag = (ready, reason or ("ok" if ready else "not ready"))

    def readiness(self) -> tuple[bool, str]:
        if self._check is None:
            return self._flag
        try:
            result = self._check()
        except Exception as exc:  # a failing probe means not ready, never a crashed server
            return False, f"readiness check failed: {type(exc).__name__}: {exc}"
        if isinstance(result, tuple):
            return bool(result[0]), str(result[1])
        return bool(result), "ok" if result else "not ready"

    # -------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("metrics server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{_url_host(str(host))}:{port}"

    def start(self) -> str:
        """Bind, serve in a daemon thread, announce the URL file; returns the base URL."""
        if self._httpd is not None:
            return self.url
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            args=(0.1,),
            name=f"metrics-{self.role}",
            daemon=True,
        )
        self._thread.start()
        folder = run_dir(self.state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self._url_file = folder / f"metrics-{self.role}-{os.getpid()}.url"
        tmp = self._url_file.with_suffix(".tmp")
        tmp.write_text(self.url + "\n")
        tmp.replace(self._url_file)
        atexit.register(self.stop)
        return self.url

    def stop(self) -> None:
        """Stop serving and remove the URL file (idempotent)."""
        if self._url_file is not None:
            self._url_file.unlink(missing_ok=True)
            self._url_file = None
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_metrics_server(
    settings: Settings, role: str, ready: ReadyCheck | None = None
) -> MetricsServer | None:
    """Start the server unless ``settings.metrics_enabled`` is off; returns it (or None)."""
    if not settings.metrics_enabled:
        return None
    server = MetricsServer.from_settings(settings, role, ready)
    server.start()
    return server


class _Handler(BaseHTTPRequestHandler):
    owner: MetricsServer
    server_version = "govbus"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(200, encoder(self.owner.registry), content_type)
        elif path == "/healthz":
            self._reply(200, b"ok\n")
        elif path == "/readyz":
            ready, reason = self.owner.readiness()
            line = " ".join(reason.split()) or ("ok" if ready else "not ready")
            self._reply(200 if ready else 503, f"{line}\n".encode())
        else:
            self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _reply(
        self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # scrapes every few seconds would drown the worker's log


# ------------------------------------------------------------------ discovery


def targets(state_dir: Path) -> list[Target]:
    """The live metrics servers announced under ``state_dir`` (stale files are removed)."""
    found: list[Target] = []
    folder = run_dir(state_dir)
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        match = _URL_FILE.match(path.name)
        if match is None:
            continue
        pid = int(match["pid"])
        if not pid_alive(pid) or _pid_reused(pid, path):
            path.unlink(missing_ok=True)
            continue
        try:
            url = path.read_text().strip().rstrip("/")
        except FileNotFoundError:
            continue
        if url.startswith("http://"):
            found.append(Target(match["role"], pid, url, path))
    return found


def _pid_reused(pid: int, url_file: Path) -> bool:
    """The file's process died without removing it (SIGKILL) and its pid went to a process
    started since (the demo waited for a worker's readiness at a connect worker's pid)."""
    started = started_at(pid)
    try:
        written = url_file.stat().st_mtime
    except FileNotFoundError:
        return False
    return started is not None and started > written + 1.0  # clock ticks round the start


def file_sd(found: list[Target]) -> list[dict[str, object]]:
    """The targets as Prometheus ``file_sd_configs`` groups, labelled by role."""
    by_role: dict[str, list[str]] = {}
    for target in found:
        by_role.setdefault(target.role, []).append(target.host_port)
    return [
        {"targets": sorted(hosts), "labels": {"role": role}}
        for role, hosts in sorted(by_role.items())
    ]


def write_file_sd(state_dir: Path, path: Path) -> list[Target]:
    """Write the live targets for Prometheus's file discovery (atomically); returns them."""
    found = targets(state_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(file_sd(found), indent=2) + "\n")
    tmp.replace(path)
    return found


SCRAPE_TEMPLATE = Path(__file__).resolve().parent / "prometheus" / "prometheus.yml.tmpl"
ALERT_RULES = Path(__file__).resolve().parent / "prometheus" / "alerts.yml"


def render_scrape_config(
    file_sd_path: Path, broker_file_sd_path: Path, rule_file: Path = ALERT_RULES,
    scrape_interval_s: float = 15.0,
) -> str:
    """A Prometheus configuration scraping the govbus processes listed in ``file_sd_path``
    and the brokers listed in ``broker_file_sd_path``."""
    interval = f"{max(1, round(scrape_interval_s * 1000))}ms"
    return string.Template(SCRAPE_TEMPLATE.read_text()).substitute(
        scrape_interval=interval,
        scrape_timeout=interval,
        file_sd_path=json.dumps(str(file_sd_path)),
        broker_file_sd_path=json.dumps(str(broker_file_sd_path)),
        rule_file=json.dumps(str(rule_file)),
    )


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def iter_urls(state_dir: Path) -> Iterator[str]:
    """The /metrics URLs of the live targets."""
    return (target.metrics_url for target in targets(state_dir))
