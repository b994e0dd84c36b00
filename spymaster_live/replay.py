"""Replay: a date's events, merged by ts_event, published to the market.* subjects.

Events come from `spymaster_core.engines.streams.merged_events` over the date's Bronze built from its
landing DBN files (`spymaster_core.research.session.load_session`): MBP-10 streams from Parquet parts in
batches, so memory is bounded by a batch plus the day's trades and option quotes. Publishing uses
JetStream async publish with a `Nats-Msg-Id` per message (`<date>:<run>:<n>`, n the index of its
first event): a message whose ack is lost (server crash, reconnect) is re-published with the same
id and the server drops the duplicate, so every event is stored once. Consecutive events of one
subject that are due together go in one message (`codec.encode_batch`, at most BATCH_EVENTS):
order is kept exactly, and a replay at speed 0 no longer pays the client's per-message cost per
event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from spymaster_core import calendar
from spymaster_core.events import Event
from spymaster_live.bus import SUBJECTS
from spymaster_live.codec import encode_batch, subject_of

ACK_BATCH = 2000  # messages in flight before their acks are awaited
BATCH_EVENTS = 256  # events per message at most
ACK_TIMEOUT_S = 2.0
RETRY_DEADLINE_S = 120.0


@dataclass
class ReplayStats:
    """What a replay published: events, bus messages (a message holds several events), wall
    seconds, events/s, re-publishes after lost acks, and the pacing anchor of a timed replay (`speed` > 0): event `pace_event_ns` was due at wall time
    `pace_wall_ns`, so event t is due at `due_wall_ns(t)`."""

    published: int = 0
    messages: int = 0
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


MAX_SPEED = 1000.0


@dataclass
class ReplayControl:
    """Pause, speed and forward jumps of a running file replay, set from the gateway
    (`POST /api/replay`) and read by `publish_events` before each event. `speed` 0 = as fast as
    possible. `event_ns`: ts_event of the last event published (what the page shows as replayed).
    Jumps go forward only: the engines' state cannot be rewound."""

    paused: bool = False
    speed: float = 1.0
    jump_to_ns: int | None = None
    event_ns: int = 0
    done: bool = False
    _resumed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._resumed.set()

    def pause(self) -> None:
        self.paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self.paused = False
        self._resumed.set()

    def set_speed(self, speed: float) -> None:
        """Raises ValueError outside [0, MAX_SPEED] (0 = as fast as possible)."""
        if not 0.0 <= speed <= MAX_SPEED:
            raise ValueError(f"speed {speed}: expected 0 (as fast as possible) to {MAX_SPEED:g}")
        self.speed = speed

    def jump(self, ts_ns: int) -> None:
        """Publish at full speed up to ts_ns, then go on at the set speed. Raises ValueError for a
        time before the event already replayed."""
        if ts_ns < self.event_ns:
            raise ValueError(
                f"cannot jump back to {ts_ns} ns: events up to {self.event_ns} ns are already applied "
                "(jumps go forward; restart the replay with --from to see an earlier time)"
            )
        self.jump_to_ns = ts_ns

    def state(self) -> dict[str, object]:
        return {
            "paused": self.paused, "speed": self.speed, "jump_to_ns": self.jump_to_ns,
            "event_ns": self.event_ns, "done": self.done,
        }  # fmt: skip


def replay_time_ns(control: ReplayControl, time_et: str) -> int:
    """ns UTC of wall-clock `time_et` (HH:MM or HH:MM:SS, America/New_York) on the date of the event
    being replayed (`control.event_ns`)."""
    date = calendar.trading_date_of(control.event_ns) if control.event_ns else None
    if date is None:
        raise ValueError("nothing replayed yet: the replay's date is not known")
    hh, mm, *ss = time_et.split(":")
    return calendar.et_ns(date, f"{hh}:{mm}") + int(ss[0] if ss else 0) * 1_000_000_000


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


# The order in which one time slice's messages go out (`publish_events` with `slice_ns`): option
# quotes before option trades, so a trade is classified against every quote before it.
SLICE_ORDER = (
    SUBJECTS["mbp10"],
    SUBJECTS["futures_trade"],
    SUBJECTS["option_quote"],
    SUBJECTS["option_trade"],
)


async def publish_events(
    js: JetStreamContext,
    events: Iterable[Event],
    speed: float,
    id_prefix: str,
    source: str = "replay",
    stats: ReplayStats | None = None,
    progress: Callable[[ReplayStats], None] | None = None,
    control: ReplayControl | None = None,
    slice_ns: int = 0,
) -> ReplayStats:
    """Publish `events` in order; at `speed` x event time (0 = as fast as possible). With `control`
    its speed replaces `speed` and it can pause, change speed or jump forward between events (the
    pacing re-anchors at the next event after each change). Calls `progress` about every 100k
    events. Returns (and fills) `stats`.

    Messages: a paced replay sends each run of consecutive events of one subject that are due
    together as one message. Unpaced (speed 0, or jumping) with `slice_ns` > 0, the events of each
    time slice [k slice_ns, (k+1) slice_ns) go out as at most one message per subject (up to
    BATCH_EVENTS events each), in SLICE_ORDER: each subject's events stay in order, the slices stay
    in order, and only events of different subjects within one slice change places. The live core
    with slice_ns = its SNAP_INTERVAL computes the same payloads from that (its engines keep each
    kind's stream apart, a payload only reads events of earlier slices, and quotes precede the
    option trades they classify; tests/test_live.py checks it), with ~1/50th of the messages."""
    stats = stats or ReplayStats()
    pending: list[tuple[str, str, bytes, asyncio.Future | None]] = []
    groups: dict[str, list[Event]] = {s: [] for s in SLICE_ORDER}  # events not yet sent
    t_start = time.monotonic()
    t0 = t_start
    ev0: int | None = None
    cur_slice = None
    last_subject = ""
    next_progress = (stats.published // 100_000 + 1) * 100_000

    async def send() -> None:
        """Publish each subject's held events as one message (id: its first event's index), in
        SLICE_ORDER (a run holds one subject only, so its order is the stream's)."""
        nonlocal next_progress
        for subject, group in groups.items():
            if not group:
                continue
            body = encode_batch(group, source, time.time_ns())
            msg_id = f"{id_prefix}:{stats.published}"
            try:
                fut = await js.publish_async(subject, body, headers={"Nats-Msg-Id": msg_id})
            except Exception:  # noqa: BLE001 - bus down: _settle re-publishes it
                fut = None
            pending.append((msg_id, subject, body, fut))
            stats.published += len(group)
            stats.messages += 1
            group.clear()
        if len(pending) >= ACK_BATCH:
            await _settle(js, pending, stats)
        if progress and stats.published >= next_progress:
            next_progress = (stats.published // 100_000 + 1) * 100_000
            stats.wall_s = time.monotonic() - t_start
            progress(stats)

    if control is not None:
        control.speed = speed
    for ev in events:
        if control is not None:
            if control.paused:
                await send()
                await _settle(js, pending, stats)
                await control._resumed.wait()
                ev0 = None
            if control.speed != speed:
                speed, ev0 = control.speed, None
            if control.jump_to_ns is not None:
                if ev.ts_event_ns < control.jump_to_ns:
                    ev0 = None
                else:
                    control.jump_to_ns = None
            control.event_ns = ev.ts_event_ns
        paced = speed > 0 and (control is None or control.jump_to_ns is None)
        if paced:
            if ev0 is None:
                ev0, t0 = ev.ts_event_ns, time.monotonic()
                stats.speed, stats.pace_event_ns = speed, ev0
                stats.pace_wall_ns = time.time_ns()
            ahead = (ev.ts_event_ns - ev0) / 1e9 / speed - (time.monotonic() - t0)
            if ahead > 0.002:  # what is due goes out before the wait
                await send()
                await _settle(js, pending, stats)
                await asyncio.sleep(ahead)
        else:
            stats.speed = 0.0  # not paced (speed 0, or jumping): no due time, no lag samples
        subject = subject_of(ev)
        sl = ev.ts_event_ns // slice_ns if slice_ns > 0 and not paced else None
        if (
            len(groups[subject]) >= BATCH_EVENTS
            or (sl is None and subject != last_subject)  # runs: a new subject ends the run
            or sl != cur_slice
        ):
            await send()
        cur_slice, last_subject = sl, subject
        groups[subject].append(ev)
    await send()
    await _settle(js, pending, stats)
    stats.wall_s = time.monotonic() - t_start
    stats.done = True
    if control is not None:
        control.done = True
    return stats
