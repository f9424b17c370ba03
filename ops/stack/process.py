"""A local service process with a pid file, a log file and a readiness probe.

The services of the local stack are plain child processes detached into their own session,
so that `govbus stack down` can end them from another shell and nothing outlives it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class StackError(RuntimeError):
    """A service of the local stack could not be prepared, started or stopped."""


@dataclass(frozen=True)
class ServiceProcess:
    """Where one service keeps its pid and log, and how to tell it is ready."""

    name: str
    run_dir: Path
    ready: Callable[[], bool]

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running service, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None,
        timeout_s: float,
        ports: Sequence[tuple[str, int]] = (),
    ) -> int:
        """Start unless running, then wait for readiness; returns the pid."""
        pid = self.launch(argv, env, ports)
        self.wait_ready(pid, timeout_s)
        return pid

    def launch(
        self,
        argv: Sequence[str],
        env: dict[str, str] | None,
        ports: Sequence[tuple[str, int]] = (),
    ) -> int:
        """Start unless running, without waiting; returns the pid.

        The ports must be free before a start: otherwise the readiness probe would answer
        for some other process and a dead service would pass for a ready one.
        """
        running = self.pid()
        if running is not None:
            return running
        for host, port in ports:
            if port_in_use(host, port):
                raise StackError(
                    f"{self.name}: {host}:{port} is already taken by another process; "
                    f"stop it or choose other ports in the GOVBUS_* settings"
                )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the service (TERM, then KILL after the timeout); True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> int | None:
        """SIGKILL the service and its children at once, as a crash would; the pid file goes
        and nothing is cleaned up. Returns the pid killed, or None if none ran."""
        pid = self.pid()
        if pid is None:
            return None
        _signal_group(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return pid

    def wait_ready(self, pid: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise StackError(f"{self.name} exited during start-up; see {self.log_file}")
            if self.ready():
                return
            time.sleep(0.3)
        raise StackError(f"{self.name} not ready after {timeout_s:.0f} s; see {self.log_file}")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie.

    Every thread counts, not only the first: a process's first thread may be a zombie while
    the others still run, holding the process's files and ports (a JVM exiting does this
    for a while, and a broker's metrics port was found still bound after its stop).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return True
    return any(_thread_state(thread / "stat") not in ("Z", "X") for thread in threads)


def started_at(pid: int) -> float | None:
    """When the process started (seconds since the epoch), or None where it cannot be told
    (gone, or no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime


def _thread_state(stat: Path) -> str:
    try:
        return stat.read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return "X"  # gone since the folder was listed


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def terminate(process: subprocess.Popen[Any], grace_s: float = 30.0) -> int:
    """SIGTERM a child, SIGKILL it if it has not exited after ``grace_s``; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
