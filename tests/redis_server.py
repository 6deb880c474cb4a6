"""A real ``redis-server`` on a loopback port, with AOF fsynced on every write.

The Redis tests need the server binary (Debian's ``redis-server``; ``.ci/run`` installs it).
Without it they fail, saying so, rather than skip: a skipped store test is an untested store.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.server import free_port


def redis_server_binary() -> str:
    """The path of ``redis-server``, or a test failure explaining how to install it."""
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail(
            "redis-server is not installed, and the Redis store tests need a real server: "
            "apt-get install -y redis-server (.ci/run does this)",
            pytrace=False,
        )
    return found


class RedisServer:
    """``redis-server`` on 127.0.0.1 with its data (AOF, no RDB snapshots) in ``directory``.

    ``stop``/``kill`` and then ``start`` restart it on the same port and data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        for attempt in range(3):  # another process may take the free port before Redis binds
            self.port = free_port()
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in self.log():
                    raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        command = [
            redis_server_binary(),
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)),
            *("--daemonize", "no", "--logfile", ""),
        ]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        client = redis.Redis(port=self.port, socket_timeout=1.0, socket_connect_timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {self.log()}")
                try:
                    if client.ping():
                        return
                except redis.exceptions.BusyLoadingError:
                    pass
                except redis.exceptions.ConnectionError:
                    pass
                time.sleep(0.02)
        finally:
            client.close()
        self.kill()
        raise TimeoutError(f"redis-server did not answer PING within {timeout} s: {self.log()}")

    def log(self) -> str:
        return (self.directory / "redis.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: Redis gets no chance to flush anything it has not already written."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A Redis server for the duration of the block."""
    server = RedisServer(directory)
    try:
        yield server
    finally:
        server.stop()
