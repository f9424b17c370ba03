"""A department's PostgreSQL for change data capture: Debian's server, run from the state folder.

It stands in for a department's own database in tests and the demo: one cluster, initialised
once with ``initdb`` under ``<state_dir>/postgres/data``, listening on loopback only (TCP, no
Unix socket, so it never meets a system cluster's socket folder), with logical decoding on
(``wal_level=logical``) and room for Debezium's replication slot and WAL sender. The superuser
``postgres`` has a random password in the access folder; loopback TCP, replication included,
takes it with SCRAM.

PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user Debian's package
creates (``setpriv`` switches user in place, so the pid the stack keeps is the server's own);
otherwise as the current user.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from pydantic import SecretStr

from ops.secret_files import new_password, read_secret, write_secret
from ops.settings import Settings
from ops.stack.process import ServiceProcess, StackError

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
# Room for several connectors' slots and WAL senders; each costs a little shared memory.
REPLICATION_SLOTS = 10


def server_bin_dir(root: Path = DEBIAN_ROOT) -> Path:
    """The newest installed server's bin folder (Debian keeps one per major version)."""
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "postgres").exists() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if not versions:
        raise StackError(
            f"PostgreSQL is not installed (no server under {root}); run `make bootstrap` as "
            "root (it installs Debian's postgresql package) or `apt-get install postgresql`"
        )
    return versions[-1]


class PostgresServer:
    """Initialises (once), starts and stops the local department database."""

    def __init__(self, settings: Settings) -> None:
        self.host = "127.0.0.1"
        self.port = settings.postgres_port
        self.home = settings.state_dir / "postgres"
        self.password_file = settings.access_folder / "postgres" / f"{SUPERUSER}.password"
        self.process = ServiceProcess("postgres", settings.state_dir / "run", self.ready)

    @property
    def data_dir(self) -> Path:
        """The cluster's folder, through the state folder's link when it lives elsewhere."""
        return Path(os.path.realpath(self.home / "data"))

    def _cluster_home(self) -> Path:
        """Where the cluster is made: the state folder, unless the server's own user cannot
        reach it (a clone inside a private folder, run as root: `mktemp -d` makes 0700
        folders); then a folder of its own under /var/tmp, named after the state folder and
        linked from it, so the state folder still finds it."""
        if self._owner() is None or self._reachable(self.home):
            return self.home
        digest = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:12]
        shared = Path("/var/tmp/govbus-postgres")
        shared.mkdir(mode=0o755, exist_ok=True)
        return shared / digest

    def _reachable(self, folder: Path) -> bool:
        result = subprocess.run([*self._as_owner(), "test", "-x", str(folder)], check=False,
                                capture_output=True)
        return result.returncode == 0

    def start(self, timeout_s: float = 30.0) -> int:
        bin_dir = server_bin_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        self._write_hba()
        argv = [
            *self._as_owner(),
            str(bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-c", f"port={self.port}",
            "-c", f"listen_addresses={self.host}",
            "-c", "unix_socket_directories=",
            "-c", "wal_level=logical",
            "-c", f"max_wal_senders={REPLICATION_SLOTS}",
            "-c", f"max_replication_slots={REPLICATION_SLOTS}",
            # A department stand-in on a small shared machine, not a tuned server.
            "-c", "shared_buffers=32MB",
            "-c", "max_connections=40",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
        ]
        return self.process.start(argv, None, timeout_s, ports=[(self.host, self.port)])

    def stop(self) -> bool:
        # TERM to the whole process group: the backends and WAL senders end, then the
        # server shuts down cleanly (smart shutdown waits for no client).
        return self.process.stop()

    def ready(self) -> bool:
        try:
            result = subprocess.run(
                [str(server_bin_dir() / "pg_isready"), "-q", "-h", self.host,
                 "-p", str(self.port), "-t", "1"],
                check=False,
                capture_output=True,
            )
        except (OSError, StackError):
            return False
        return result.returncode == 0

    def password(self) -> SecretStr:
        try:
            return read_secret(self.password_file)
        except FileNotFoundError:
            raise StackError(
                f"no PostgreSQL password at {self.password_file}: start the database with "
                "`govbus stack up --cdc`"
            ) from None

    def sql(self, statement: str, database: str = SUPERUSER) -> str:
        """Run SQL through psql as the superuser; its unaligned output, or StackError."""
        result = subprocess.run(
            [
                str(server_bin_dir() / "psql"),
                "-X", "-q", "-A", "-t",
                "-v", "ON_ERROR_STOP=1",
                "-h", self.host,
                "-p", str(self.port),
                "-U", SUPERUSER,
                "-d", database,
                "-c", statement,
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PGPASSWORD": self.password().get_secret_value()},
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL refused {statement[:80]!r}: {result.stderr.strip()}")
        return result.stdout.strip()

    def ensure_database(self, name: str) -> None:
        exists = self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{_identifier(name)}'")
        if not exists:
            self.sql(f'CREATE DATABASE "{_identifier(name)}"')

    def drop_slot(self, database: str, slot: str, timeout_s: float = 30.0) -> bool:
        """Drop a replication slot and the publication of the same name, once no WAL sender
        holds the slot any more (a stopping connector lets go within seconds); True when
        there was a slot."""
        name = _identifier(slot)
        deadline = time.monotonic() + timeout_s
        while True:
            active = self.sql(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{name}'")
            if active != "t" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if active:
            self.sql(f"SELECT pg_drop_replication_slot('{name}')")
        if self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{_identifier(database)}'"):
            self.sql(f'DROP PUBLICATION IF EXISTS "{name}"', database)
        return bool(active)

    def _initdb(self, bin_dir: Path) -> None:
        link = self.home / "data"
        if link.is_symlink():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)  # a half-made cluster from a failed first start
        self.home.mkdir(parents=True, exist_ok=True)
        cluster = self._cluster_home()
        owner = self._owner()
        if cluster != self.home:
            shutil.rmtree(cluster, ignore_errors=True)
            cluster.mkdir(mode=0o700)
            if owner is not None:
                os.chown(cluster, owner.pw_uid, owner.pw_gid)
            (cluster / "data").mkdir(mode=0o700)
            link.symlink_to(cluster / "data")
        else:
            link.mkdir(mode=0o700)
        password = new_password()
        write_secret(self.password_file, password.get_secret_value().encode())
        # initdb reads the password from a file its own user can read: a scratch copy
        # beside the data folder, removed at once.
        scratch = cluster / ".initdb-password"
        write_secret(scratch, password.get_secret_value().encode())
        try:
            if owner is not None:
                for path in (self.data_dir, scratch):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            result = subprocess.run(
                [
                    *self._as_owner(),
                    str(bin_dir / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", SUPERUSER,
                    f"--pwfile={scratch}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            scratch.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(f"initdb failed: {(result.stdout + result.stderr).strip()[-600:]}")

    def _write_hba(self) -> None:
        # Loopback TCP only, with the password; replication (Debezium's slot) included.
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(
            "# Written by govbus stack up: loopback only, SCRAM passwords.\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host replication all 127.0.0.1/32 scram-sha-256\n"
        )
        owner = self._owner()
        if owner is not None:
            os.chown(hba, owner.pw_uid, owner.pw_gid)

    @staticmethod
    def _owner() -> pwd.struct_passwd | None:
        """The user the server runs as when we are root (Debian's package creates it)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise StackError(
                "PostgreSQL cannot run as root and there is no `postgres` user; install "
                "Debian's postgresql package"
            ) from None

    def _as_owner(self) -> list[str]:
        if self._owner() is None:
            return []
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise StackError(f"not a plain identifier: {name!r}")
    return name
