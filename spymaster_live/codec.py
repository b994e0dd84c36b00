"""Bus messages (DESIGN §9): orjson objects carrying the event's fields plus `ts_event_ns`,
`ts_recv_ns` and `source`. NaN prices travel as null and come back as NaN."""

from __future__ import annotations

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


def encode(event: Event, source: str, ts_recv_ns: int) -> bytes:
    """The message body of `event` (every dataclass field, plus ts_recv_ns and source)."""
    d: dict[str, Any] = {f: getattr(event, f) for f in event.__slots__}
    d["ts_recv_ns"] = ts_recv_ns
    d["source"] = source
    return orjson.dumps(d)


def decode(subject: str, data: bytes) -> Event:
    """The event in a message on `subject`. Raises ValueError naming the subject and the bad
    field or JSON error (orjson's JSONDecodeError is a ValueError)."""
    kind = KIND_BY_SUBJECT.get(subject)
    if kind is None:
        raise ValueError(f"message on unknown subject {subject!r}")
    try:
        d = orjson.loads(data)
        if not isinstance(d, dict):
            raise ValueError(f"body is {type(d).__name__}, not an object")
        return events.from_dict(kind, d)
    except ValueError as exc:
        raise ValueError(f"bad message on {subject}: {exc}") from exc
