"""Bus messages (DESIGN §9): orjson objects carrying the event's fields plus `ts_event_ns`,
`ts_recv_ns` and `source`. NaN prices travel as null and come back as NaN.

A message holds one event (an object) or a run of consecutive events of its subject (an array of
such objects, in ts_event order; `encode_batch`): a replay at speed 0 would otherwise pay the NATS
client's per-message cost for every one of a real day's ~20 M events (docs/DECISIONS.md).
`decode_all` reads both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from spymaster_core import events
from spymaster_core.events import Event, FuturesTrade, Mbp10Update, OptionQuote, OptionTrade
from spymaster_live.bus import KIND_BY_SUBJECT, SUBJECTS

_KIND = {
    FuturesTrade: "futures_trade",
    Mbp10Update: "mbp10",
    OptionQuote: "option_quote",
    OptionTrade: "option_trade",
}


def subject_of(event: Event) -> str:
    """The market.* subject of an event."""
    return SUBJECTS[_KIND[type(event)]]


def _fields(event: Event, source: str, ts_recv_ns: int) -> dict[str, Any]:
    d: dict[str, Any] = {f: getattr(event, f) for f in event.__slots__}
    d["ts_recv_ns"] = ts_recv_ns
    d["source"] = source
    return d


def encode(event: Event, source: str, ts_recv_ns: int) -> bytes:
    """The message body of `event` (every dataclass field, plus ts_recv_ns and source)."""
    return orjson.dumps(_fields(event, source, ts_recv_ns))


def encode_batch(events: Sequence[Event], source: str, ts_recv_ns: int) -> bytes:
    """One message body for consecutive events of one subject: the array of their `encode`
    objects, in order (a single event is encoded as `encode` does)."""
    if len(events) == 1:
        return encode(events[0], source, ts_recv_ns)
    return orjson.dumps([_fields(e, source, ts_recv_ns) for e in events])


def decode(subject: str, data: bytes) -> Event:
    """The one event in a message on `subject`. Raises ValueError naming the subject and the bad
    field or JSON error (orjson's JSONDecodeError is a ValueError), also for a batch message."""
    got = decode_all(subject, data)
    if len(got) != 1:
        raise ValueError(f"bad message on {subject}: {len(got)} events, not one")
    return got[0]


def decode_all(subject: str, data: bytes) -> list[Event]:
    """The events in a message on `subject`: one (an object) or a batch (an array of objects).
    Raises ValueError naming the subject, the event's position in a batch and the bad field or JSON
    error; an empty batch is an error too."""
    kind = KIND_BY_SUBJECT.get(subject)
    if kind is None:
        raise ValueError(f"message on unknown subject {subject!r}")
    try:
        d = orjson.loads(data)
    except ValueError as exc:
        raise ValueError(f"bad message on {subject}: {exc}") from exc
    if isinstance(d, dict):
        items, where = [d], ""
    elif isinstance(d, list) and d:
        items, where = d, " event {}"
    else:
        what = "an empty array" if d == [] else type(d).__name__
        raise ValueError(f"bad message on {subject}: body is {what}, not an object or a batch")
    out = []
    for k, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError(f"body is {type(item).__name__}, not an object")
            out.append(events.from_dict(kind, item))
        except ValueError as exc:
            raise ValueError(f"bad message on {subject}{where.format(k)}: {exc}") from exc
    return out
