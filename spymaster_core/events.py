"""Canonical market events the engines consume, one class per stream (live bus and replay).

Prices are ES points (float), sizes contracts, times int64 ns UTC (`ts_event_ns`). The bus
messages (DESIGN §9) carry the same fields; `from_dict` builds an event from such a message and
raises ValueError naming the missing or bad field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spymaster_core.schemas import BOOK_DEPTH


@dataclass(frozen=True, slots=True)
class FuturesTrade:
    """A front-month trade: aggressor +1 buyer lifted the ask, -1 seller hit the bid, 0 unknown."""

    ts_event_ns: int
    price: float
    size: float
    aggressor: int


@dataclass(frozen=True, slots=True)
class Mbp10Update:
    """One MBP-10 record: its action ('A','C','M','T','F','R'), price/size (NaN/0 if none) and the
    book after it as `levels` = 40 floats: bid_px_00..09, bid_sz_00..09, ask_px_00..09,
    ask_sz_00..09 (NaN price for an empty level)."""

    ts_event_ns: int
    action: str
    price: float
    size: float
    levels: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """Top of book of one 0DTE option (points)."""

    ts_event_ns: int
    instrument_id: int
    bid: float
    ask: float


@dataclass(frozen=True, slots=True)
class OptionTrade:
    """A 0DTE option print (points, contracts)."""

    ts_event_ns: int
    instrument_id: int
    price: float
    size: float


Event = FuturesTrade | Mbp10Update | OptionQuote | OptionTrade


def _field(d: dict[str, Any], name: str, kind: type) -> Any:
    if name not in d:
        raise ValueError(f"event is missing field {name!r}: {sorted(d)}")
    try:
        return kind(d[name])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event field {name!r} has bad value {d[name]!r} ({exc})") from exc


def from_dict(kind: str, d: dict[str, Any]) -> Event:
    """Event of `kind` ('futures_trade', 'mbp10', 'option_quote', 'option_trade') from a message
    dict; raises ValueError naming the field when one is missing or malformed."""
    ts = _field(d, "ts_event_ns", int)
    if kind == "futures_trade":
        return FuturesTrade(
            ts, _field(d, "price", float), _field(d, "size", float), _field(d, "aggressor", int)
        )
    if kind == "mbp10":
        levels = tuple(float("nan") if v is None else float(v) for v in _field(d, "levels", list))
        if len(levels) != 4 * BOOK_DEPTH:
            raise ValueError(f"event field 'levels' has {len(levels)} values, expected {4 * BOOK_DEPTH}")
        price = d.get("price")
        return Mbp10Update(ts, _field(d, "action", str), float("nan") if price is None else float(price),
                           _field(d, "size", float), levels)  # fmt: skip
    if kind == "option_quote":
        return OptionQuote(
            ts, _field(d, "instrument_id", int), _field(d, "bid", float), _field(d, "ask", float)
        )
    if kind == "option_trade":
        return OptionTrade(
            ts, _field(d, "instrument_id", int), _field(d, "price", float), _field(d, "size", float)
        )
    raise ValueError(f"unknown event kind {kind!r}")
