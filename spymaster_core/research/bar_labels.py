"""Competing-risk labels at bar resolution (DESIGN §6, "Bar resolution").

For a touch at bar start t, the look-forward is the 1-minute bars starting in [t + 1 min,
t + (LOOKFORWARD_MINUTES + 1) min). Per threshold, the first bar whose range reaches it through the
level (BREAK: low <= L - thr for SUPPORT, high >= L + thr for RESISTANCE) or away from it (BOUNCE),
measured from the level price at the touch; both in that same bar -> AMBIGUOUS (the bar cannot say
which came first; excluded from training); neither -> CHOP. `time_to_threshold_s` is the end of that
bar minus t (an upper bound: the bar says only that the price got there within it).

Thresholds are points (`labels.threshold_unit = points`, `labels.thresholds_pt`) or multiples of the
touch's ATR (`atr`, `labels.atr_multiples`): the mean true range (Wilder 1978, "New Concepts in
Technical Trading Systems") of the `labels.atr_bars` one-minute bars before the touch bar. Columns
are `outcome_<thr>` in points mode and `outcome_<mult>atr` in ATR mode; `atr_pt` is always given.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from spymaster_core import schemas as S
from spymaster_core.calendar import MINUTE_NS
from spymaster_core.config import Config

AMBIGUOUS = "AMBIGUOUS"


def threshold_columns(cfg: Config, unit: str) -> list[str]:
    """The per-threshold outcome column names of `unit`: `outcome_10` ... (points) or `outcome_3atr`
    ... (ATR multiples)."""
    if unit == "atr":
        return [f"outcome_{S.number_token(m)}atr" for m in cfg.labels.atr_multiples]
    return [S.outcome_column(t) for t in cfg.labels.thresholds_pt]


def bar_labels_schema(cfg: Config) -> S.TableSchema:
    """`silver.labels_1m.v1`: the `silver.labels` columns, where `outcome`, `time_to_threshold_s` and
    `strength_pt` follow `labels.threshold_unit`; the outcome columns of both units (points, then ATR
    multiples); `atr_outcome` (the first ATR multiple's outcome, whatever the unit), `atr_pt` (points)
    and `threshold_unit`. Outcomes: BREAK, BOUNCE, CHOP or AMBIGUOUS."""
    base = S.labels_schema(cfg.labels.thresholds_pt).arrow
    fields = list(base)
    at = [f.name for f in fields].index("time_to_threshold_s")
    fields[at:at] = [pa.field(c, pa.string()) for c in threshold_columns(cfg, "atr")]
    fields += [
        pa.field("atr_outcome", pa.string()),
        pa.field("atr_pt", pa.float64()),
        pa.field("threshold_unit", pa.string()),
    ]
    return S.TableSchema("silver.labels_1m", 1, pa.schema(fields))


def true_range_mean(high: np.ndarray, low: np.ndarray, close: np.ndarray, end: int, n: int) -> float:
    """Mean true range (points) of the `n` bars before index `end` (bars end-n .. end-1), each bar's
    TR = max(high - low, |high - prev close|, |low - prev close|); NaN with fewer than n bars (the first
    bar of the array has no previous close and uses high - low)."""
    if end < n:
        return float("nan")
    lo_i = end - n
    h, lw = high[lo_i:end], low[lo_i:end]
    prev = close[lo_i - 1 : end - 1] if lo_i > 0 else np.concatenate(([np.nan], close[lo_i : end - 1]))
    tr = np.fmax(h - lw, np.fmax(np.abs(h - prev), np.abs(lw - prev)))
    return float(tr.mean())


def label_bar_touch(
    start_ns: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    t_touch: int,
    level: float,
    direction: str,
    thresholds_pt: list[float],
    lookforward_min: float,
) -> dict:
    """Label one touch from 1-minute bars (module docstring). start_ns sorted; prices in points.
    Returns {"outcomes": [per threshold], "time_to_threshold_s", "strength_index" (highest threshold
    index reached on the primary side, -1 for none), "max_through_pt", "max_away_pt",
    "lookforward_complete"}."""
    lf_ns = int(lookforward_min * MINUTE_NS)
    lo = np.searchsorted(start_ns, t_touch + MINUTE_NS, side="left")
    hi = np.searchsorted(start_ns, t_touch + MINUTE_NS + lf_ns, side="left")
    h, lw, t = high[lo:hi], low[lo:hi], start_ns[lo:hi]
    through = (level - lw) if direction == "SUPPORT" else (h - level)  # furthest beyond, per bar
    away = (h - level) if direction == "SUPPORT" else (level - lw)
    outcomes, whens = [], []
    for thr in thresholds_pt:
        hit_b, hit_u = through >= thr, away >= thr
        either = np.flatnonzero(hit_b | hit_u)
        if not len(either):
            outcomes.append("CHOP")
            whens.append(None)
            continue
        i = either[0]
        outcomes.append(AMBIGUOUS if hit_b[i] and hit_u[i] else "BREAK" if hit_b[i] else "BOUNCE")
        whens.append((t[i] + MINUTE_NS - t_touch) / 1e9)
    primary = outcomes[0]
    strength = -1
    if primary in ("BREAK", "BOUNCE"):
        strength = max(k for k, o in enumerate(outcomes) if o == primary)
    return {
        "outcomes": outcomes,
        "time_to_threshold_s": whens[0],
        "strength_index": strength,
        "max_through_pt": float(max(through.max(), 0.0)) if len(t) else 0.0,
        "max_away_pt": float(max(away.max(), 0.0)) if len(t) else 0.0,
        "lookforward_complete": bool(len(start_ns) and start_ns[-1] >= t_touch + lf_ns),
    }


def label_bar_touches(bars_1m: pl.DataFrame, touches: pl.DataFrame, cfg: Config) -> pl.DataFrame:
    """`bar_labels_schema(cfg)` rows, one per touch, in points and in ATR units.

    bars_1m: the date's `futures.ohlcv_1m.v1` rows (the look-forward and the ATR read them; for a
    touch near the session's end the look-forward is cut and `lookforward_complete` is False).
    touches: `silver.touches.v2` rows at bar resolution. A touch whose ATR is undefined (fewer than
    `atr_bars` bars before it) gets null ATR outcomes (and a null `outcome` in ATR mode).
    `strength_pt` is the highest threshold (points) reached on the primary side."""
    schema = bar_labels_schema(cfg)
    empty = pl.from_arrow(schema.arrow.empty_table())
    if touches.is_empty():
        return empty
    b = bars_1m.sort("bar_start_ns")
    ts = b["bar_start_ns"].to_numpy()
    hi, lo, cl = (b[c].to_numpy().astype(np.float64) for c in ("high", "low", "close"))
    unit = cfg.labels.threshold_unit
    rows = []
    for r in touches.iter_rows(named=True):
        end = int(np.searchsorted(ts, r["ts_ns"], side="left"))
        atr = true_range_mean(hi, lo, cl, end, cfg.labels.atr_bars)
        row: dict = {
            "touch_id": r["touch_id"],
            "atr_pt": None if np.isnan(atr) else atr,
            "threshold_unit": unit,
        }
        for u, thr in (
            ("points", list(cfg.labels.thresholds_pt)),
            ("atr", [m * atr for m in cfg.labels.atr_multiples]),
        ):
            if np.isnan(atr) and u == "atr":
                continue
            lab = label_bar_touch(
                ts, hi, lo, r["ts_ns"], r["level_price"], r["direction"], thr, cfg.labels.LOOKFORWARD_MINUTES
            )
            row.update(zip(threshold_columns(cfg, u), lab["outcomes"], strict=True))
            if u == "atr":
                row["atr_outcome"] = lab["outcomes"][0]
            if u == unit:
                row.update(
                    outcome=lab["outcomes"][0],
                    time_to_threshold_s=lab["time_to_threshold_s"],
                    strength_pt=thr[lab["strength_index"]] if lab["strength_index"] >= 0 else 0.0,
                    max_through_pt=lab["max_through_pt"],
                    max_away_pt=lab["max_away_pt"],
                    lookforward_complete=lab["lookforward_complete"],
                )
        rows.append(row)
    df = pl.DataFrame(rows, infer_schema_length=None)
    return df.select(
        [(pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c) for c, t in empty.schema.items()]
    )
