"""Streams `levels.signals` payloads to gold/streaming/signals/date=<d>/ in micro-batches: one
Parquet file per flush (every FLUSH_S seconds of wall time), written to a temp name then renamed,
so a reader never sees half a file and a crash loses at most the unflushed batch."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import polars as pl

FLUSH_S = 5.0


class SignalsWriter:
    """Collects one row per (payload, level) (payloads with no level give one row with null level
    fields) and writes them with `flush()`; `maybe_flush()` flushes when FLUSH_S has passed."""

    def __init__(self, lake_root: Path, date: str, flush_s: float = FLUSH_S) -> None:
        self.dir = lake_root / "gold" / "streaming" / "signals" / f"date={date}"
        self.flush_s = flush_s
        self.rows: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()

    def add(self, payload: dict[str, Any]) -> None:
        base = {k: payload.get(k) for k in ("ts_ns", "instrument", "spot", "bid", "ask")}
        levels = payload.get("levels") or [None]
        for lv in levels:
            row = dict(base)
            if lv is not None:
                model = lv.get("model") or {}
                row.update(
                    level_id=lv["id"], kind=lv["kind"], price=lv["price"], direction=lv["direction"],
                    distance_pt=lv["distance"], break_score_smooth=lv["break_score_smooth"],
                    signal=lv["signal"], p_break=model.get("p_break"), level_json=orjson.dumps(lv).decode(),
                )  # fmt: skip
            self.rows.append(row)

    def maybe_flush(self) -> Path | None:
        return self.flush() if time.monotonic() - self.last_flush >= self.flush_s else None

    def flush(self) -> Path | None:
        """Write the pending rows as one file (atomic); returns its path, None when nothing pending."""
        self.last_flush = time.monotonic()
        if not self.rows:
            return None
        df = pl.DataFrame(self.rows, infer_schema_length=None)
        self.rows = []
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        name = f"part-{int(df['ts_ns'].min())}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = d / f".{name}.tmp"
        df.write_parquet(tmp)
        os.replace(tmp, d / name)
        return d / name
