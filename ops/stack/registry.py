"""The local schema registry: Apicurio Registry with its Confluent-compatible API (ccompat).

Built once from Maven Central by a Quarkus augmentation (see registry-pom.xml), stored in an H2
file database under the state folder so subjects and ids survive restarts.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ops.access import AccessFolder
from ops.settings import Settings
from ops.stack.process import ServiceProcess, StackError
from ops.stack.registry_proxy import internal_port
from ops.stack.tooling import STACK_DIR, maven_command, maven_failure, require_tool

REGISTRY_POM = STACK_DIR / "registry-pom.xml"
MAVEN_SETTINGS = STACK_DIR / "registry-settings.xml"
RUNNER = "apicurio-registry-runner.jar"


class SchemaRegistryService:
    """Builds (once), starts and stops the local registry; with security on, the registry
    listens on a loopback port of its own behind the authenticating proxy, which takes the
    registry URL's port (see registry_proxy.py)."""

    def __init__(self, settings: Settings) -> None:
        url = urlsplit(settings.registry_url)
        self.host = url.hostname or "127.0.0.1"
        self.public_port = url.port or 8081
        self.secure = settings.secure
        self.port = internal_port(self.public_port) if self.secure else self.public_port
        self.base = f"http://{self.host}:{self.port}"
        self.public_base = f"{url.scheme}://{self.host}:{self.public_port}"
        self.ca_file = AccessFolder(settings).ca_file
        self.heap = settings.registry_heap
        self.home = settings.state_dir / "registry"
        run_dir = settings.state_dir / "run"
        self.process = ServiceProcess("registry", run_dir, self.ready)
        self.proxy = ServiceProcess("registry-proxy", run_dir, self.proxy_ready)

    @property
    def build_dir(self) -> Path:
        return self.home / "build"

    def start(self, timeout_s: float = 120.0) -> int:
        java = require_tool("java", "run the schema registry")
        runner = self._build()
        argv = [
            java,
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dquarkus.http.host={self.host}",
            # The app's own %prod defaults win over plain keys, hence the profile prefix.
            f"-D%prod.quarkus.http.port={self.port}",
            f"-D%prod.quarkus.datasource.jdbc.url=jdbc:h2:file:{self.home / 'db' / 'registry'}",
            "-D%prod.quarkus.datasource.jdbc.initial-size=1",
            "-D%prod.quarkus.datasource.jdbc.min-size=1",
            "-D%prod.quarkus.datasource.jdbc.max-size=8",
            f"-Dquarkus.transaction-manager.object-store-directory={self.home / 'tx'}",
            # Not registry.ccompat.use-canonical-hash: with it, schemas come back with their
            # fields sorted by name, which changes the Avro binary layout readers decode with.
            # govbus always registers one deterministic text, so ids are stable without it.
            "-jar",
            str(runner),
        ]
        pid = self.process.start(argv, None, timeout_s, ports=[(self.host, self.port)])
        if self.secure:
            self.proxy.start([sys.executable, "-m", "ops.stack.registry_proxy"], None, 30.0,
                             ports=[(self.host, self.public_port)])
        return pid

    def stop(self) -> bool:
        self.proxy.stop()
        return self.process.stop()

    def serving(self) -> bool:
        """Ready for clients: the registry, and its door when there is one."""
        return self.ready() and (not self.secure or self.proxy_ready())

    def proxy_ready(self) -> bool:
        try:
            verify: ssl.SSLContext | bool = True
            if self.public_base.startswith("https"):
                verify = ssl.create_default_context(cafile=str(self.ca_file))
            response = httpx.get(f"{self.public_base}/health/ready", timeout=2, verify=verify)
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _build(self) -> Path:
        """Run the Quarkus build unless its output for this very pom is already there."""
        runner = self.build_dir / RUNNER
        stamp = self.build_dir / ".built-from"
        pom_text = REGISTRY_POM.read_text()
        if runner.exists() and stamp.exists() and stamp.read_text() == pom_text:
            return runner
        mvn = require_tool("mvn", "build the schema registry from Maven Central")
        result = subprocess.run(
            [
                *maven_command(mvn),
                "-s",
                str(MAVEN_SETTINGS),
                "-f",
                str(REGISTRY_POM),
                "package",
                f"-Dregistry.out={self.build_dir}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not runner.exists():
            raise StackError(f"building the schema registry failed: {maven_failure(result)}")
        stamp.write_text(pom_text)
        return runner
