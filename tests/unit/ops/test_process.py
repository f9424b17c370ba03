"""A local service's process counts as alive until every thread of it has exited."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ops.stack.process import pid_alive

# The first thread exits (as a JVM's does while it shuts down); another runs a while on.
FIRST_THREAD_EXITS = ("import ctypes, threading, time; "
                      "threading.Thread(target=time.sleep, args=(1.5,)).start(); "
                      "ctypes.CDLL(None).pthread_exit(None)")


def _first_thread_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def test_a_process_whose_first_thread_exited_is_alive_until_its_last_thread_ends() -> None:
    process = subprocess.Popen([sys.executable, "-c", FIRST_THREAD_EXITS])
    try:
        deadline = time.monotonic() + 10
        while _first_thread_state(process.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _first_thread_state(process.pid) == "Z"
        assert pid_alive(process.pid)
        assert process.wait(10) == 0
        assert not pid_alive(process.pid)
    finally:
        process.kill()
        process.wait()


def test_a_zombie_is_dead_and_a_sleeper_alive() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while _first_thread_state(done.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(done.pid)  # exited, not yet reaped
        assert pid_alive(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
        done.wait()
