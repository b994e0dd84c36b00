"""Streams `levels.signals` payloads to gold/streaming/signals/date=<d>/ in micro-batches: one
Parquet file per flush (every FLUSH_S seconds of wall time), written to a temp name then renamed,
so a reader never sees half a file and a crash loses at most the unflushed batch."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import polars as pl

from spymaster_core import schemas as S
from spymaster_core.io import lake

FLUSH_S = 5.0


class SignalsWriter:
    """Collects `levels.signals` message bodies (`add`, cheap: keeps the bytes) and writes them with
    `flush()` as `schemas.SIGNALS` rows, one per (payload, level) (a payload with no level gives one row with null
    level fields); `due()` says FLUSH_S has passed. `flush` decodes and writes: the service runs it
    in a worker thread so the event loop never waits for Parquet.

    Raises orjson.JSONDecodeError from `flush` for a body that is not JSON (the bodies come from
    our own core, so that is a bug, not bad input)."""

    def __init__(
        self, lake_root: lake.LakePath, date: str, flush_s: float = FLUSH_S, run_id: str | None = None
    ) -> None:
        self.dir = lake.partition_dir(lake_root, "signals", date)
        self.run_id = run_id or uuid.uuid4().hex[:12]  # tells a replay's rows from an earlier one's
        self.flush_s = flush_s
        self.bodies: list[bytes] = []
        self.last_flush = time.monotonic()

    def add(self, body: bytes) -> None:
        self.bodies.append(body)

    def due(self) -> bool:
        return time.monotonic() - self.last_flush >= self.flush_s

    def flush(self) -> lake.LakePath | None:
        """Write the pending payloads as one file (atomic); returns its path, None when nothing
        was pending."""
        self.last_flush = time.monotonic()
        bodies, self.bodies = self.bodies, []
        if not bodies:
            return None
        schema = pl.from_arrow(S.SIGNALS.arrow.empty_table()).schema
        df = pl.DataFrame(
            [{"run_id": self.run_id, **r} for b in bodies for r in _rows(orjson.loads(b))], schema=schema
        )
        name = f"part-{int(df['ts_ns'].min())}-{uuid.uuid4().hex[:8]}.parquet"
        return lake.write_file(lake.join(self.dir, name), df.to_arrow().cast(S.SIGNALS.arrow))


def _rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    base = {k: payload.get(k) for k in ("ts_ns", "instrument", "spot", "bid", "ask")}
    rows = []
    for lv in payload.get("levels") or [None]:
        row = dict(base)
        if lv is not None:
            model = lv.get("model") or {}
            row.update(
                level_id=lv["id"], kind=lv["kind"], price=lv["price"], direction=lv["direction"],
                distance_pt=lv["distance"], break_score_smooth=lv["break_score_smooth"],
                signal=lv["signal"], p_break=model.get("p_break"), level_json=orjson.dumps(lv).decode(),
            )  # fmt: skip
        rows.append(row)
    return rows
