"""The WebSocket gateway (FastAPI): `GET /` (dashboard), `GET /health`, `GET /api/levels`,
`GET /api/depth` (the heatmap's history), `GET|POST /api/replay` (replay controls), WebSocket
`/ws/stream`.

`Hub` fans each `levels.signals` payload out to one bounded queue per client (`put_nowait`, never
awaiting a client). A client whose queue is full is slow: it is dropped (closed with code 1013)
and no other client waits for it. A new client first gets the cached latest payload. With a
token configured, `/api/levels` and `/ws/stream` need `Authorization: Bearer <token>` (or
`?token=` for browsers' WebSocket API). The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from spymaster_core.io.lake import LakePath
from spymaster_live import research as research_views
from spymaster_live.replay import ReplayControl, replay_time_ns

# uvicorn's sans-I/O websockets protocol (the non-deprecated one) waits for the transport to drain
# (pause_writing/resume_writing) on send, so a client that stops reading blocks only its own sender
# and fills its own bounded queue (tests/test_live.py::test_stalled_client_does_not_delay_a_healthy_one).
WS_IMPL = "websockets-sansio"
# No permessage-deflate: with it every payload is compressed once per client (zlib, per-connection
# context), which dominated the fan-out cost; uncompressed, a payload is framed, not re-encoded.
# Payloads are a few kB at 4/s, so the bandwidth saved is not worth the latency.
WS_PER_MESSAGE_DEFLATE = False
# The stream is one-way (server -> client): inbound frames over this size are refused by uvicorn
# (close 1009) before they are buffered; smaller ones end the connection (`_one_way`).
WS_MAX_INBOUND_BYTES = 4096
STATIC_DIR = Path(__file__).parent / "static"
TOKEN_COOKIE = "spymaster_token"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # the dashboard: plain HTML/CSS/JS, served locally
HHMM = re.compile(r"\d{2}:\d{2}(:\d{2})?")  # a replay jump's time_et
CLIENT_QUEUE = 64
DEPTH_FRAMES = 3600  # 15 minutes of payloads at 4 a second: the heatmap's history
CLOSE_TIMEOUT_S = 1.0  # payloads; at 4 payloads/s a client may fall 16 s behind before it is dropped


@dataclass(eq=False)
class Client:
    """One WebSocket client's bounded queue; `dropped` is set when it overflowed."""

    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class Hub:
    """The latest payload (bytes, as published), the connected clients, and the depth history: per
    payload `[ts_ms, book, prints]` (the payload's MBP-10 book and the futures prints since the one
    before) for the last DEPTH_FRAMES payloads, which a page fetches once (`GET /api/depth`) to
    fill its liquidity heatmap before the stream continues it."""

    def __init__(self) -> None:
        self.latest: bytes | None = None
        self.latest_wall: float | None = None
        self.clients: set[Client] = set()
        self.dropped_clients = 0
        self.depth: deque[bytes] = deque(maxlen=DEPTH_FRAMES)

    def publish(self, body: bytes) -> None:
        """Cache `body` and queue it for every client without waiting; drop clients that are full."""
        self.latest, self.latest_wall = body, time.monotonic()
        try:
            p = orjson.loads(body)
            if p.get("book") is not None:
                self.depth.append(orjson.dumps([p["ts"], p["book"], p.get("prints") or []]))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            pass  # not a payload with a book (e.g. a test's probe): the stream still carries it
        for c in list(self.clients):
            try:
                c.queue.put_nowait(body)
            except asyncio.QueueFull:
                self.clients.discard(c)
                self.dropped_clients += 1
                c.dropped.set()


async def _one_way(ws: WebSocket) -> str:
    """Read what the client sends: the stream is one-way, so the first data frame ends the
    connection (returned as the reason) instead of piling up unread in the server's buffers; a
    disconnect returns "disconnected"."""
    msg = await ws.receive()
    return "disconnected" if msg["type"] == "websocket.disconnect" else "inbound data on a one-way stream"


async def _pump(ws: WebSocket, queue: asyncio.Queue[bytes]) -> None:
    """Send the client's queued payloads in order until it disconnects (or is cancelled)."""
    while True:
        await ws.send_bytes(await queue.get())


def create_app(
    hub: Hub,
    status: Callable[[], dict[str, Any]],
    token: str | None = None,
    research: tuple[LakePath, Path] | None = None,
    replay: ReplayControl | None = None,
) -> FastAPI:
    """The gateway app over `hub`; `status()` adds bus/model fields to /health; `research` =
    (lake root, data dir) enables the offline views under /research (`spymaster_live.research`);
    `replay` (a file replay's control) enables `POST /api/replay` (pause, resume, speed, jump)."""
    app = FastAPI(title="Spymaster live", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def require_token(request: Request, call_next: Callable[[Request], Any]) -> Response:
        """Every HTTP route needs the token (see `authorized`) except the minimal `/health` probe.
        Opening the dashboard with a valid `?token=` sets an HttpOnly cookie so its static files,
        links and WebSocket need no token in their URLs."""
        ok = authorized(token, *_credentials(request.headers, request.query_params, request.cookies))
        if request.url.path != "/health" and not ok:
            return JSONResponse({"detail": "missing or wrong token"}, status_code=401)
        response = await call_next(request)
        if token and ok and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(_service_routes(hub, status, token))
    app.include_router(_research_routes(research))
    app.include_router(_replay_routes(replay))
    return app


def authorized(token: str | None, *presented: str | None) -> bool:
    """The one credential rule. Without a configured token everything passes. With one, at least one
    credential must be presented (the `Authorization: Bearer` header, `?token=`, or the dashboard's
    cookie) and every one presented must equal the token (constant-time): a wrong credential is
    never outvoted by a right one."""
    if not token:
        return True
    given = [c for c in presented if c is not None]
    return bool(given) and all(hmac.compare_digest(c.encode(), token.encode()) for c in given)


def _credentials(headers: Any, query: Any, cookies: Any) -> tuple[str | None, str | None, str | None]:
    """(bearer header value, ?token=, cookie) as presented; a header that is not `Bearer <x>` counts
    as a wrong credential, not as none."""
    header = headers.get("authorization")
    bearer = (
        None
        if header is None
        else header.removeprefix("Bearer ").strip()
        if header.startswith("Bearer ")
        else header
    )
    return bearer, query.get("token"), cookies.get(TOKEN_COOKIE)


def _service_routes(hub: Hub, status: Callable[[], dict[str, Any]], token: str | None) -> APIRouter:
    """`GET /` (the dashboard), `GET /health`, `GET /api/levels` and the WebSocket `/ws/stream`."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        """The dashboard page (static; its WebSocket carries the data and the token)."""
        return FileResponse(STATIC_DIR / "index.html")

    @router.get("/health")
    def health(request: Request) -> JSONResponse:
        """200 `{"status": "ok"}`, or 503 `{"status": "bus down"}` while the service reports
        `bus_connected: false`; with the token (or none configured) also the details."""
        st = status()
        down = st.get("bus_connected") is False
        body: dict[str, Any] = {"status": "bus down" if down else "ok"}
        if authorized(token, *_credentials(request.headers, request.query_params, request.cookies)):
            age = None if hub.latest_wall is None else round(time.monotonic() - hub.latest_wall, 3)
            body |= {
                "last_payload_age_s": age,
                "clients": len(hub.clients),
                "dropped_clients": hub.dropped_clients,
                **st,
            }
        return JSONResponse(body, status_code=503 if down else 200)

    @router.get("/api/depth")
    def api_depth() -> Response:
        """The depth history (`Hub.depth`): a JSON array of `[ts_ms, book, prints]`, oldest first."""
        return Response(b"[" + b",".join(hub.depth) + b"]", media_type="application/json")

    @router.get("/api/levels")
    def api_levels() -> Response:
        if hub.latest is None:
            raise HTTPException(503, "no payload yet")
        return Response(hub.latest, media_type="application/json")

    @router.websocket("/ws/stream")
    async def ws_stream(ws: WebSocket) -> None:
        if not authorized(token, *_credentials(ws.headers, ws.query_params, ws.cookies)):
            await ws.close(code=1008)
            return
        await ws.accept()
        await _serve_client(hub, ws)

    return router


async def _serve_client(hub: Hub, ws: WebSocket) -> None:
    """One accepted client: the cached payload, then every new one through its bounded queue, until
    it disconnects or is dropped as too slow (close 1013)."""
    client = Client()
    if hub.latest is not None:
        client.queue.put_nowait(hub.latest)
    hub.clients.add(client)
    pump = asyncio.create_task(_pump(ws, client.queue))
    drop = asyncio.create_task(client.dropped.wait())
    inbound = asyncio.create_task(_one_way(ws))
    try:
        done, _ = await asyncio.wait({pump, drop, inbound}, return_when=asyncio.FIRST_COMPLETED)
        if inbound in done and inbound.result() != "disconnected":
            pump.cancel()
            with contextlib.suppress(TimeoutError, RuntimeError):
                await asyncio.wait_for(ws.close(code=1008, reason="the stream is one-way"), CLOSE_TIMEOUT_S)
        elif drop in done:
            pump.cancel()
            # A stalled socket may never take the close frame: give up after CLOSE_TIMEOUT_S
            # and return, so the server aborts the connection.
            try:
                await asyncio.wait_for(ws.close(code=1013, reason="too slow: queue full"), CLOSE_TIMEOUT_S)
            except (TimeoutError, RuntimeError):
                pass
        elif (
            pump in done
            and (exc := pump.exception()) is not None
            and not isinstance(exc, WebSocketDisconnect)
        ):
            raise exc
    finally:
        pump.cancel()
        drop.cancel()
        inbound.cancel()
        hub.clients.discard(client)


class ReplayCommand(BaseModel):
    """`POST /api/replay` body: action pause | resume | speed (with `speed`, 0 = as fast as
    possible) | jump (with `time_et`, HH:MM or HH:MM:SS America/New_York on the replayed date)."""

    action: Literal["pause", "resume", "speed", "jump"]
    speed: float | None = None
    time_et: str | None = None


def _replay_routes(control: ReplayControl | None) -> APIRouter:
    """`GET /api/replay` (the replay's state) and `POST /api/replay` (a `ReplayCommand`); 409 when
    the service is not replaying files (Databento Live), 400 naming the field for a bad command."""
    router = APIRouter()

    def need() -> ReplayControl:
        if control is None:
            raise HTTPException(409, "not a file replay: the live feed cannot be paused or moved")
        return control

    @router.get("/api/replay")
    def replay_state() -> JSONResponse:
        return JSONResponse(need().state())

    @router.post("/api/replay")
    def replay_command(cmd: ReplayCommand) -> JSONResponse:
        c = need()
        try:
            if cmd.action == "pause":
                c.pause()
            elif cmd.action == "resume":
                c.resume()
            elif cmd.action == "speed":
                if cmd.speed is None:
                    raise ValueError("speed: required for action speed")
                c.set_speed(cmd.speed)
            else:
                if not cmd.time_et or not HHMM.fullmatch(cmd.time_et):
                    raise ValueError(
                        f"time_et {cmd.time_et!r}: expected HH:MM or HH:MM:SS (America/New_York)"
                    )
                c.jump(replay_time_ns(c, cmd.time_et))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return JSONResponse(c.state())

    return router


def _research_routes(research: tuple[LakePath, Path] | None) -> APIRouter:
    """The offline research views under /research; 404 naming what is missing without a lake."""
    router = APIRouter()

    def need(i: int, what: str) -> LakePath:
        if research is None:
            raise HTTPException(404, f"research views need the {what} (spymaster live sets it)")
        return research[i]

    @router.get("/research", include_in_schema=False)
    def research_index() -> HTMLResponse:
        return HTMLResponse(research_views.index_html(need(0, "lake")))

    @router.get("/research/day", include_in_schema=False)
    def research_day(date: str) -> HTMLResponse:
        if not ISO_DATE.fullmatch(date):
            raise HTTPException(400, "date must be a trading date as YYYY-MM-DD")
        try:
            return HTMLResponse(research_views.day_view_html(need(0, "lake"), date))
        except FileNotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/research/backtest", include_in_schema=False)
    def research_backtest(date: str | None = None, tier: str | None = None) -> HTMLResponse:
        if date is not None and not ISO_DATE.fullmatch(date):
            raise HTTPException(400, "date must be a trading date as YYYY-MM-DD")
        try:
            return HTMLResponse(research_views.backtest_view_html(need(0, "lake"), date, tier))
        except FileNotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.get("/research/models", include_in_schema=False)
    def research_models() -> HTMLResponse:
        try:
            return HTMLResponse(research_views.models_view_html(Path(need(1, "data dir"))))
        except FileNotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc

    return router
