"""The local schema registry: Apicurio Registry with its Confluent-compatible API (ccompat).

Built once from Maven Central by a Quarkus augmentation (see registry-pom.xml), stored in an H2
file database under the state folder so subjects and ids survive restarts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ops.settings import Settings
from ops.stack.process import ServiceProcess, StackError
from ops.stack.tooling import STACK_DIR, maven_command, maven_failure, require_tool

REGISTRY_POM = STACK_DIR / "registry-pom.xml"
MAVEN_SETTINGS = STACK_DIR / "registry-settings.xml"
RUNNER = "apicurio-registry-runner.jar"


class SchemaRegistryService:
    """Builds (once), starts and stops the local registry."""

    def __init__(self, settings: Settings) -> None:
        url = urlsplit(settings.registry_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 8081
        self.base = f"{url.scheme}://{self.host}:{self.port}"
        self.heap = settings.registry_heap
        self.home = settings.state_dir / "registry"
        self.process = ServiceProcess("registry", settings.state_dir / "run", self.ready)

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
        return self.process.start(argv, None, timeout_s, ports=[(self.host, self.port)])

    def stop(self) -> bool:
        return self.process.stop()

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
