"""Replay: a date's events, merged by ts_event, published to the market.* subjects.

Events come from `spymaster_core.engines.streams.merged_events` over the date's Bronze built from its
landing DBN files (`spymaster_core.research.session.load_session`): MBP-10 streams from Parquet parts in
batches, so memory is bounded by a batch plus the day's trades and option quotes. Publishing uses
JetStream async publish with a `Nats-Msg-Id` per event (`<date>:<n>`): a message whose ack is
lost (server crash, reconnect) is re-published with the same id and the server drops the
duplicate, so every event is stored once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nats.js import JetStreamContext

from spymaster_core.events import Event
from spymaster_live.codec import encode, subject_of

ACK_BATCH = 2000
ACK_TIMEOUT_S = 2.0
RETRY_DEADLINE_S = 120.0


@dataclass
class ReplayStats:
    """What a replay published: events, wall seconds, events/s, re-publishes after lost acks, and
    the pacing anchor of a timed replay (`speed` > 0): event `pace_event_ns` was due at wall time
    `pace_wall_ns`, so event t is due at `due_wall_ns(t)`."""

    published: int = 0
    wall_s: float = 0.0
    retries: int = 0
    done: bool = False
    speed: float = 0.0
    pace_wall_ns: int = 0
    pace_event_ns: int = 0

    def due_wall_ns(self, ts_event_ns: int) -> int | None:
        """Wall time (ns UTC) at which a timed replay meant event `ts_event_ns` to be published;
        None for an untimed replay (speed 0) or before the first event."""
        if self.speed <= 0 or not self.pace_wall_ns:
            return None
        return self.pace_wall_ns + int((ts_event_ns - self.pace_event_ns) / self.speed)

    @property
    def eps(self) -> float:
        return self.published / self.wall_s if self.wall_s > 0 else 0.0


async def _settle(
    js: JetStreamContext, pending: list[tuple[str, str, bytes, asyncio.Future | None]], stats: ReplayStats
) -> None:
    """Wait for every pending ack; re-publish (same Msg-Id) until acked or RETRY_DEADLINE_S passes.
    Raises TimeoutError naming the message id when the bus does not come back in time."""
    for msg_id, subject, body, fut in pending:
        if fut is not None:
            try:
                await asyncio.wait_for(fut, ACK_TIMEOUT_S)
                continue
            except Exception:  # noqa: BLE001 - any failure means "not stored yet": retried below
                pass
        deadline = time.monotonic() + RETRY_DEADLINE_S
        while True:
            stats.retries += 1
            try:
                await js.publish(subject, body, timeout=ACK_TIMEOUT_S, headers={"Nats-Msg-Id": msg_id})
                break
            except Exception as exc:  # noqa: BLE001 - bus down: retry until the deadline
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"replay: message {msg_id} not acknowledged for {RETRY_DEADLINE_S}s: {exc}"
                    ) from exc
                await asyncio.sleep(0.25)
    pending.clear()


async def publish_events(
    js: JetStreamContext,
    events: Iterable[Event],
    speed: float,
    id_prefix: str,
    source: str = "replay",
    stats: ReplayStats | None = None,
    progress: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    """Publish `events` in order; at `speed` x event time (0 = as fast as possible). Calls
    `progress` about every 100k events. Returns (and fills) `stats`."""
    stats = stats or ReplayStats()
    pending: list[tuple[str, str, bytes, asyncio.Future | None]] = []
    t0 = time.monotonic()
    ev0: int | None = None
    for ev in events:
        if speed > 0:
            if ev0 is None:
                ev0 = ev.ts_event_ns
                stats.speed, stats.pace_event_ns = speed, ev0
                stats.pace_wall_ns = time.time_ns() - int((time.monotonic() - t0) * 1e9)
            ahead = (ev.ts_event_ns - ev0) / 1e9 / speed - (time.monotonic() - t0)
            if ahead > 0.002:
                await _settle(js, pending, stats)
                await asyncio.sleep(ahead)
        subject = subject_of(ev)
        body = encode(ev, source, time.time_ns())
        msg_id = f"{id_prefix}:{stats.published}"
        try:
            fut = await js.publish_async(subject, body, headers={"Nats-Msg-Id": msg_id})
        except Exception:  # noqa: BLE001 - bus down: _settle re-publishes it
            fut = None
        pending.append((msg_id, subject, body, fut))
        stats.published += 1
        if len(pending) >= ACK_BATCH:
            await _settle(js, pending, stats)
        if progress and stats.published % 100_000 == 0:
            stats.wall_s = time.monotonic() - t0
            progress(stats)
    await _settle(js, pending, stats)
    stats.wall_s = time.monotonic() - t0
    stats.done = True
    return stats
