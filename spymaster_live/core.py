"""The streaming core: per-event engine updates and, every SNAP_INTERVAL_MS of event time, the
`levels.signals` payload (DESIGN §9) for the levels within MONITOR_BAND of spot.

`SignalCore` is transport-free (the bus loop in `spymaster_live.service` feeds it): `on_event`
returns the payload due *before* the event (grid time T = the event's time floored to the
interval; the snapshot uses only events strictly before T, exactly as batch features do).
Levels are the date's levels known before T (`spymaster_core.research.features.levels_known_at`); the
prior-touch count of a level is the number of its touches before T in the date's touches.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core.config import Config
from spymaster_core.engines import feature_row
from spymaster_core.engines import fuel as fuel_engine
from spymaster_core.events import Event, FuturesTrade
from spymaster_core.research import bar_features, bar_touches, bars, features
from spymaster_core.research import levels as levels_mod
from spymaster_core.research import touches as touches_mod
from spymaster_core.research.bar_stream import BarStream

# The trader's screen (issue 23): futures prints kept per payload (the latest, in a sweep burst),
# and the option-flow strikes sent: within this many points of spot.
MAX_PRINTS = 1000
NEIGHBORS = 10  # similar past touches per level (the FAISS index of the champion run)
FLOW_BAND_PT = 50.0
# Payload groups: flattened feature columns by prefix (DESIGN §9 payload).
_GROUPS = ("barrier", "tape", "fuel", "ofi", "runway")
_TOP = ("distance_pt", "break_score_raw", "break_score_smooth", "signal", "confidence")


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass
class Scorer:
    """The champion direction model: `predict(rows)` -> P(BREAK) per level row. A tick-tier model
    (`resolution` `trade`) reads the payload level's `features`, `prior_touches` and `direction`,
    made into its input by `feature_row.model_matrix` as in training; a bar-tier model
    (`registry.BAR_RESOLUTION`) reads the level's `bar_features` (`bar_features.NUMERIC`, built by
    `BarStream` from the live trades) through `bar_features.model_matrix`, as in its training.
    `version` is the MLflow model version. With `index` each level's `model.neighbors` lists its
    NEIGHBORS nearest past touches (`TouchIndex.neighbors` of the level's features)."""

    model: Any
    version: str
    resolution: str = "trade"
    index: Any = None  # the champion run's `ml.retrieval.TouchIndex` (tick tier), or None

    @property
    def bars(self) -> bool:
        """True for a bar-tier model (scores from 1-minute bar features)."""
        return self.resolution == bar_touches.RESOLUTION

    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        frame = pl.DataFrame(rows, infer_schema_length=None)
        if self.bars:
            x = bar_features.model_matrix(frame)[0]
        else:
            x = feature_row.model_matrix(frame)[0]
        return [float(p) for p in self.model.predict_proba(x)[:, 1]]


class SignalCore:
    """Engine state for one date plus the payload builder (see module docstring)."""

    def __init__(
        self,
        date: str,
        cfg: Config,
        levels: pl.DataFrame,
        touches: pl.DataFrame,
        options: dict[str, pl.DataFrame | None],
        instrument: str | None = None,
        live_levels: bool = False,
        bar_stream: BarStream | None = None,
    ) -> None:
        self.date = date
        self.bar_stream = bar_stream
        self.live_levels = live_levels
        self._trades: tuple[list[int], list[float], list[float]] = ([], [], [])
        self._levels_minute = -1
        self._arm: dict[str, touches_mod.ArmState] = {}
        self._touch_t0 = calendar.et_ns(date, cfg.session.rth_open)
        self._touch_t1 = calendar.et_ns(date, cfg.session.touch_window_end)
        self.cfg = cfg
        self.state = features.build_state(date, cfg, options)
        horizons = cfg.windows.kinematics_horizons_s
        self._kinematics = [feature_row.velocity_column(h) for h in horizons] + [
            "acceleration_pt_s2",
            "jerk_pt_s3",
        ]
        self._features = [*feature_row.feature_columns(horizons), *feature_row.STRING_COLUMNS]
        self.set_levels(levels, touches)
        self.instrument = instrument
        self.interval_ns = cfg.live.SNAP_INTERVAL_MS * 1_000_000
        self.last_grid_ns: int | None = None
        self._next_grid_ns = -(2**62)  # events before it are in the last grid interval: no payload due
        self.events = 0
        self._plan: list[tuple[str, list[tuple[str, str]]]] | None = None
        self._gex_of: object = None
        self._gex: dict[str, Any] = {}
        self._prints: list[list[float]] = []
        self._flow_sec = -1
        self._flow: dict[str, dict[str, float]] = {}
        self._flow_day: dict[float, np.ndarray] = {}  # since the open, up to _flow_day_upto (ns)
        self._flow_day_upto = self.state.rth_open_ns

    def set_levels(self, levels: pl.DataFrame, touches: pl.DataFrame) -> None:
        """Replace the date's levels (`silver.levels` frame) and touches (`ts_ns`, `level_id`)."""
        self.levels = levels
        # The known-level set only changes at a level's valid_from_ns: cache it between changes.
        self._changes = (
            np.unique(levels["valid_from_ns"].to_numpy()) if levels.height else np.zeros(0, np.int64)
        )
        self._known_key = -1
        self._known: list[tuple[str, str, float]] = []
        self.kinds = dict(zip(levels["level_id"], levels["kind"], strict=True)) if levels.height else {}
        self.touch_ts: dict[str, list[int]] = (
            {
                lid: sorted(g["ts_ns"].to_list())
                for (lid,), g in touches.partition_by("level_id", as_dict=True).items()
            }
            if touches.height
            else {}
        )

    def refresh_levels(self) -> None:
        """Live feed: recompute the date's levels and touches from the futures trades seen so far
        (called at a grid time, before the event that crossed it: every trade kept is earlier), with
        the same functions batch uses (`levels.compute_levels`,
        `touches.detect_touches`). A level's valid_from_ns keeps it hidden until its window has
        closed, so a level computed from a partial window is never shown."""
        ts, px, sz = self._trades
        trades = pl.DataFrame(
            {"ts_event_ns": ts, "price": px, "size": sz},
            schema={"ts_event_ns": pl.Int64, "price": pl.Float64, "size": pl.Float64},
        )
        b = bars.time_bars(trades, self.cfg.levels.bar_minutes)
        lv, _missing = levels_mod.compute_levels(trades, b, self.date, self.cfg)
        tc, self._arm = touches_mod.detect_touches_with_state(trades, lv, self.date, self.cfg)
        self.set_levels(lv, tc)

    def warm(self, ev: Event) -> None:
        """Apply an event without emitting payloads (state before the replay window)."""
        self.state.update(ev)
        self.last_grid_ns = ev.ts_event_ns // self.interval_ns * self.interval_ns
        self._next_grid_ns = self.last_grid_ns + self.interval_ns
        self.events += 1
        self._keep_trade(ev)

    def _keep_trade(self, ev: Event) -> None:
        """Hand a futures trade to the bar stream (bar-tier champion) and, on a live feed, keep it
        for the next level refresh and continue each level's touch scan with it
        (`touches.touch_scan`), so touches count from the trade they happen on."""
        if not isinstance(ev, FuturesTrade):
            return
        self._prints.append([ev.ts_event_ns / 1e6, ev.price, ev.size, ev.aggressor])
        if len(self._prints) > 2 * MAX_PRINTS:
            del self._prints[:-MAX_PRINTS]
        if self.bar_stream is not None:
            self.bar_stream.on_trade(ev.ts_event_ns, ev.price, ev.size)
        if not self.live_levels:
            return
        for col, v in zip(self._trades, (ev.ts_event_ns, ev.price, ev.size), strict=True):
            col.append(v)
        if ev.ts_event_ns >= self._touch_t1:  # as batch: no scan after the touch window
            return
        bands = self.cfg.bands
        px = np.array([ev.price])
        for lid, st in self._arm.items():
            found, st.armed_sign = touches_mod.touch_scan(
                px, np.array([st.level_price]), bands.MONITOR_BAND_pt, bands.TOUCH_BAND_pt, st.armed_sign
            )
            if found and ev.ts_event_ns >= self._touch_t0:
                self.touch_ts.setdefault(lid, []).append(ev.ts_event_ns)

    def known_levels(self, ts_ns: int) -> list[tuple[str, str, float]]:
        """(id, kind, price) of the levels known before ts_ns (`features.levels_known_at`)."""
        key = int(np.searchsorted(self._changes, ts_ns, side="left"))
        if key != self._known_key:
            self._known_key = key
            self._known = [
                (lid, self.kinds.get(lid, ""), p) for lid, p in features.levels_known_at(self.levels, ts_ns)
            ]
        return self._known

    def on_event(self, ev: Event) -> dict[str, Any] | None:
        """Feed one event; return the payload of the grid time it crossed (None otherwise)."""
        if ev.ts_event_ns < self._next_grid_ns:  # the common case: no grid time crossed
            self.state.update(ev)
            self.events += 1
            self._keep_trade(ev)
            return None
        grid = ev.ts_event_ns // self.interval_ns * self.interval_ns
        out = None
        if self.last_grid_ns is not None and grid > self.last_grid_ns:
            if self.live_levels and grid // 60_000_000_000 != self._levels_minute:
                self._levels_minute = grid // 60_000_000_000
                self.refresh_levels()
            out = self.payload(grid)
        if self.last_grid_ns is None or grid > self.last_grid_ns:
            self.last_grid_ns = grid
            self._next_grid_ns = grid + self.interval_ns
        self.state.update(ev)
        self.events += 1
        self._keep_trade(ev)
        return out

    def book(self, ts_ns: int) -> dict[str, list[float | None]] | None:
        """The MBP-10 book of the last record before ts_ns (`EngineState.book_before`): bid_px,
        bid_sz, ask_px, ask_sz, ten levels each (points, contracts; null where a level is empty),
        or None before the first record."""
        return _book_lists(self.state.book_before(ts_ns))

    def option_flow(self, ts_ns: int, spot: float | None) -> dict[str, dict[str, float]]:
        """Customer 0DTE volume (contracts) per strike within FLOW_BAND_PT of spot, as of the whole
        second at or before ts_ns (`fuel.customer_flow_by_strike`): call/put buys and sells since
        the RTH open and over the last minute (`_1m`). {} before the open or without spot."""
        sec = ts_ns // 1_000_000_000 * 1_000_000_000
        if sec == self._flow_sec:
            return self._flow
        self._flow_sec = sec
        self._flow = {}
        t_open = self.state.rth_open_ns
        if sec > self._flow_day_upto:  # since-open totals grow by the trades of the new seconds only
            chain = self.state.chain
            for k, v in fuel_engine.customer_flow_by_strike(chain, self._flow_day_upto, sec).items():
                self._flow_day[k] = self._flow_day[k] + v if k in self._flow_day else v
            self._flow_day_upto = sec
        if spot is None or not math.isfinite(spot) or sec <= t_open:
            return self._flow
        minute = fuel_engine.customer_flow_by_strike(self.state.chain, max(t_open, sec - 60_000_000_000), sec)
        zero = np.zeros(4)
        for k in sorted(self._flow_day):
            if abs(k - spot) <= FLOW_BAND_PT:
                row = dict(zip(fuel_engine.FLOW_COLUMNS, self._flow_day[k].tolist(), strict=True))
                m = minute.get(k, zero).tolist()
                row |= {f"{c}_1m": v for c, v in zip(fuel_engine.FLOW_COLUMNS, m, strict=True)}
                self._flow[f"{k:g}"] = row
        return self._flow

    def payload(self, ts_ns: int) -> dict[str, Any]:
        """The DESIGN §9 payload at ts_ns (model fields null until `with_model` fills them).
        `gamma_by_strike` (strike points as text -> dealer GEX USD per 1%, flow + open interest)
        is in each level's `fuel` group as DESIGN §9 has it, and also at the top level so a
        dashboard can draw it when no level is within MONITOR_BAND ({} without options), with
        `call_wall`, `put_wall` and `gamma_flip` (points, null when unknown). With a bar stream each
        level also carries `bar_features` (`bar_features.NUMERIC` at the minute of ts_ns, or null for
        a level the bar tier does not compute, such as VWAP)."""
        snap = self.state.snapshot(ts_ns, self.known_levels(ts_ns))
        bar_rows = self.bar_stream.rows_at(ts_ns) if self.bar_stream is not None else None
        fuel = self.state.fuel(ts_ns)  # cached per second: the snapshot's levels used the same
        if fuel is not self._gex_of:  # formatted once per fuel evaluation, not per payload
            self._gex_of = fuel
            self._gex = {f"{k:g}": _clean(v) for k, v in fuel.gamma_by_strike.items()}
        gex = self._gex
        levels = []
        for row in snap["levels"]:
            if self._plan is None:  # every row has the same columns (`EngineState.flatten`)
                self._plan = _payload_plan(row)
            lid = row["id"]
            prior = bisect.bisect_left(self.touch_ts.get(lid, ()), ts_ns)
            lv: dict[str, Any] = {
                "id": lid,
                "price": row["price"],
                "kind": row["kind"],
                "direction": row["direction"],
                "distance": _clean(row["distance_pt"]),
                "prior_touches": prior,
            }
            for k in _TOP[1:]:
                lv[k] = _clean(row[k])
            lv["kinematics"] = {k: _clean(row[k]) for k in self._kinematics}
            lv["model"] = None
            lv["note"] = None
            for g, cols in self._plan:
                lv[g] = {short: _clean(row[k]) for k, short in cols}
            lv["fuel"]["gamma_by_strike"] = gex
            lv["features"] = {k: _clean(row[k]) for k in self._features}
            if bar_rows is not None:
                br = bar_rows.get(lid)
                lv["bar_features"] = {k: _clean(br[k]) for k in bar_features.NUMERIC} if br else None
            levels.append(lv)
        prints, self._prints = self._prints[-MAX_PRINTS:], []
        return {
            "ts": ts_ns // 1_000_000,
            "ts_ns": ts_ns,
            "instrument": self.instrument,
            "book": self.book(ts_ns),
            "prints": prints,
            "option_flow": self.option_flow(ts_ns, snap["spot"]),
            "spot": _clean(snap["spot"]),
            "bid": _clean(snap["bid"]),
            "ask": _clean(snap["ask"]),
            "gamma_by_strike": gex,
            "call_wall": _clean(fuel.call_wall.strike) if fuel.call_wall else None,
            "put_wall": _clean(fuel.put_wall.strike) if fuel.put_wall else None,
            "gamma_flip": _clean(fuel.hvl),
            "levels": levels,
        }


def _book_lists(book: tuple[np.ndarray, ...] | None) -> dict[str, list[float | None]] | None:
    if book is None:
        return None
    return {
        k: [_clean(float(v)) for v in a]
        for k, a in zip(("bid_px", "bid_sz", "ask_px", "ask_sz"), book, strict=True)
    }


def _payload_plan(row: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The payload's engine groups: for each prefix in _GROUPS, (row column, name in the group)."""
    return [(g, [(k, k.removeprefix(g + "_")) for k in row if k.startswith(g + "_")]) for g in _GROUPS]


def with_model(payload: dict[str, Any], scorer: Scorer | None) -> dict[str, Any]:
    """Fill each level's `model` block: {"p_break", "version"} from the champion (P(BREAK) of the
    raw XGBoost direction head), or leave `model: null` without a champion (and, for a bar-tier
    champion, on a level without `bar_features`)."""
    if scorer is None or not payload["levels"]:
        payload["model_version"] = scorer.version if scorer else None
        return payload
    if scorer.bars:  # levels the bar tier does not compute (VWAP, ...) stay model: null
        scored = [lv for lv in payload["levels"] if lv.get("bar_features")]
        rows = [lv["bar_features"] for lv in scored]
    else:
        scored = payload["levels"]
        rows = [
            {**lv["features"], "prior_touches": lv["prior_touches"], "direction": lv["direction"]}
            for lv in scored
        ]
    near: list[list[dict[str, Any]] | None] = [None] * len(scored)
    if scorer.index is not None and not scorer.bars and scored:
        frame = pl.DataFrame([lv["features"] for lv in scored], infer_schema_length=None)
        near = [
            [{k: _clean(v) for k, v in h.items()} for h in hits]
            for hits in scorer.index.neighbors(frame, NEIGHBORS)
        ]
    for lv, p, hits in zip(scored, scorer.predict(rows) if rows else [], near, strict=True):
        lv["model"] = {
            "p_break": p,
            "p_tradeable": None,
            "strength": None,
            "neighbors": hits,
            "neighbors_break_share": (sum(h["outcome"] == "BREAK" for h in hits) / len(hits))
            if hits
            else None,
            "version": scorer.version,
        }
    payload["model_version"] = scorer.version
    return payload
