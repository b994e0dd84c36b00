"""The bar tier end to end in memory: 1-minute bars per trading date -> levels, touches, labels and the
outcome table a user reads first (DESIGN §6 "Bar resolution"). Used by `spymaster bars study`, the demo
and the tests; the Dagster bar assets call the same functions per date.

A session counts when its bars cover the touch window and its look-forward: a bar starting at or
before `rth_open` + 1 min and one at or after `touch_window_end` + LOOKFORWARD_MINUTES (vendor
samples start and end mid-session; their partial dates still warm up the SMAs of the next ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core.calendar import MINUTE_NS
from spymaster_core.config import Config
from spymaster_core.io import lake
from spymaster_core.research import bar_labels, bar_touches, bars, levels


@dataclass
class BarStudy:
    """`touches`: one row per touch of the complete sessions: `silver.touches.v2` columns, `outcome`,
    `outcome_<thr>` (points), the ATR-unit outcomes `atr_outcome`, `atr_pt`; `sessions`: the complete
    dates; `skipped`: {date: reason}; `returns`: RTH 1-minute close-to-close returns per session
    (`date`, `ret_pt`, `ret_bp`)."""

    touches: pl.DataFrame
    sessions: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    returns: pl.DataFrame | None = None
    missing_levels: dict[str, list[str]] = field(default_factory=dict)


def session_complete(bars_1m: pl.DataFrame, date: str, cfg: Config) -> str | None:
    """None when the date's bars cover the touch window and its look-forward, else the reason."""
    s = cfg.session
    t0 = calendar.et_ns(date, s.rth_open)
    t1 = calendar.et_ns(date, s.touch_window_end) + int(cfg.labels.LOOKFORWARD_MINUTES * MINUTE_NS)
    ts = bars_1m["bar_start_ns"]
    if ts.is_empty() or ts.min() > t0 + MINUTE_NS:
        return f"no bars from the {s.rth_open} ET open"
    if ts.max() < t1:
        return f"bars end before {s.touch_window_end} ET + {cfg.labels.LOOKFORWARD_MINUTES:g} min"
    return None


def date_levels(by_date: dict[str, pl.DataFrame], date: str, cfg: Config) -> tuple[pl.DataFrame, list[str]]:
    """Levels of `date` at bar resolution with SMA warm-up on the previous `SMA_WARMUP_DAYS` trading
    dates present in `by_date` (the same rule as `research.date_levels` for the trade path)."""
    prior = [d.isoformat() for d in calendar.previous_trading_dates(date, cfg.levels.SMA_WARMUP_DAYS)]
    m = cfg.levels.bar_minutes
    hist = pl.concat([bars.bars_from_1m(by_date[d], m) for d in [*prior, date] if d in by_date])
    return levels.bar_levels(by_date[date], hist, date, cfg)


def rth_returns(bars_1m: pl.DataFrame, date: str, cfg: Config) -> pl.DataFrame:
    """RTH 1-minute close-to-close returns of consecutive minutes (`bar_start_ns` of the later bar,
    `ret_pt` points, `ret_bp` basis points of the previous close); a minute with no bar breaks the
    pair (no return across a gap)."""
    t0, t1 = calendar.et_ns(date, cfg.session.rth_open), calendar.et_ns(date, cfg.session.rth_close)
    b = bars_1m.filter((pl.col("bar_start_ns") >= t0) & (pl.col("bar_start_ns") < t1)).sort("bar_start_ns")
    return (
        b.with_columns(
            prev_close=pl.col("close").shift(1),
            consecutive=(pl.col("bar_start_ns") - pl.col("bar_start_ns").shift(1)) == MINUTE_NS,
        )
        .filter(pl.col("consecutive"))
        .select(
            date=pl.lit(date),
            bar_start_ns=pl.col("bar_start_ns"),
            ret_pt=pl.col("close") - pl.col("prev_close"),
            ret_bp=(pl.col("close") / pl.col("prev_close") - 1.0) * 1e4,
        )
    )


def _labelled(touches: pl.DataFrame, labels: pl.DataFrame, cfg: Config) -> pl.DataFrame:
    """Touch rows with the label columns the study reads (points and ATR outcomes), by touch_id."""
    cols = ["touch_id", "outcome", *bar_labels.threshold_columns(cfg, "points"), "atr_outcome", "atr_pt",
            "time_to_threshold_s"]  # fmt: skip
    return touches.join(labels.select(*cols, "lookforward_complete"), on="touch_id")


def study_bars(by_date: dict[str, pl.DataFrame], cfg: Config) -> BarStudy:
    """Levels, touches and labels (points and ATR units) of every complete session in `by_date`
    ({trading date: `futures.ohlcv_1m.v1` frame})."""
    parts: list[pl.DataFrame] = []
    out = BarStudy(touches=pl.DataFrame())
    rets: list[pl.DataFrame] = []
    for date in sorted(by_date):
        b = by_date[date]
        why = session_complete(b, date, cfg)
        if why is not None:
            out.skipped[date] = why
            continue
        out.sessions.append(date)
        rets.append(rth_returns(b, date, cfg))
        lv, missing = date_levels(by_date, date, cfg)
        if missing:
            out.missing_levels[date] = missing
        tc = bar_touches.detect_bar_touches(b, lv, date, cfg)
        if tc.is_empty():
            continue
        parts.append(_labelled(tc, bar_labels.label_bar_touches(b, tc, cfg), cfg))
    out.touches = pl.concat(parts) if parts else pl.DataFrame()
    out.returns = pl.concat(rets) if rets else None
    return out


def study_from_lake(root: lake.LakePath, cfg: Config, dates: list[str] | None = None) -> BarStudy:
    """The same `BarStudy` from the bar tier the Dagster assets wrote (`futures_ohlcv_1m`,
    `bar_touches`, `bar_labels`) for `dates` (default: every date with bar labels); equal to
    `study_bars` on the same bars and config."""
    out = BarStudy(touches=pl.DataFrame())
    parts, rets = [], []
    for date in dates if dates is not None else lake.written_dates(root, "bar_labels"):
        b = lake.read_partition(root, "futures_ohlcv_1m", date)
        why = "no Bronze 1-minute bars" if b is None else session_complete(b, date, cfg)
        if why is not None or b is None:
            out.skipped[date] = why or ""
            continue
        out.sessions.append(date)
        rets.append(rth_returns(b, date, cfg))
        tc = lake.read_partition(root, "bar_touches", date)
        lb = lake.read_partition(root, "bar_labels", date)
        if tc is None or lb is None or tc.is_empty():
            continue
        parts.append(_labelled(tc, lb, cfg))
    out.touches = pl.concat(parts) if parts else pl.DataFrame()
    out.returns = pl.concat(rets) if rets else None
    return out


def outcome_table(study: BarStudy, cfg: Config) -> pl.DataFrame:
    """Per level kind and overall: touches, touches per session, the primary outcome's shares (points:
    first threshold; ATR: first multiple), and the share reaching the second threshold either way.
    Shares in percent of the touches with a complete look-forward."""
    t = study.touches
    if t.is_empty():
        return pl.DataFrame()
    t = t.filter(pl.col("lookforward_complete"))
    second = bar_labels.threshold_columns(cfg, "points")[1:2]
    n_sessions = max(len(study.sessions), 1)

    def shares(g: pl.DataFrame, kind: str) -> dict:
        n = g.height
        row: dict[str, object] = {"kind": kind, "touches": n, "per_session": round(n / n_sessions, 2)}
        for o in ("CHOP", "BOUNCE", "BREAK", "AMBIGUOUS"):
            row[f"{o.lower()}_%"] = round(100.0 * (g["outcome"] == o).sum() / n, 1) if n else None
        for o in ("CHOP", "BOUNCE", "BREAK"):
            row[f"atr_{o.lower()}_%"] = round(100.0 * (g["atr_outcome"] == o).sum() / n, 1) if n else None
        if second:
            hit = g[second[0]].is_in(["BREAK", "BOUNCE", "AMBIGUOUS"]).sum()
            row[f"{second[0]}_either_%"] = round(100.0 * hit / n, 1) if n else None
        return row

    rows = [shares(g, str(k)) for (k,), g in t.sort("level_kind").group_by("level_kind", maintain_order=True)]
    rows.append(shares(t, "ALL"))
    return pl.DataFrame(rows)


def return_stats(study: BarStudy) -> dict[str, float]:
    """RTH 1-minute close-to-close return std (points and bp) and excess kurtosis (Fisher) over all
    complete sessions; the median ATR (points) at the touches."""
    r = study.returns
    if r is None or r.is_empty():
        return {}
    x = r["ret_bp"].to_numpy()
    z = (x - x.mean()) / x.std()
    stats = {
        "ret_std_pt": float(r["ret_pt"].std() or 0.0),
        "ret_std_bp": float(x.std()),
        "ret_excess_kurtosis": float(np.mean(z**4) - 3.0),
    }
    if not study.touches.is_empty():
        stats["median_atr_pt"] = float(study.touches["atr_pt"].median() or float("nan"))
    return stats


def render(study: BarStudy, cfg: Config, title: str) -> list[str]:
    """The study as terminal lines: sessions and date span, the return statistics, then per level kind
    touches, touches per session and the primary outcome shares in points and in ATR units."""
    table = outcome_table(study, cfg)
    thr = cfg.labels.thresholds_pt
    m = cfg.labels.atr_multiples
    dates = study.sessions
    lines = [f"{title}: {len(dates)} sessions" + (f" ({dates[0]} .. {dates[-1]})" if dates else "")]
    st = return_stats(study)
    if st:
        lines.append(
            f"  RTH 1-minute returns: std {st['ret_std_pt']:.2f} pt ({st['ret_std_bp']:.1f} bp), excess kurtosis "
            f"{st['ret_excess_kurtosis']:.1f}; median ATR(30 x 1 min) at touches {st.get('median_atr_pt', float('nan')):.2f} pt"
        )
    if table.is_empty():
        return [*lines, "  no touches"]
    second = f"{thr[1]:g} pt either" if len(thr) > 1 else ""
    lines.append(
        f"  {'kind':<9}{'touches':>8}{'/sess':>7}   {thr[0]:g} pt CHOP/BOUNCE/BREAK/AMBIG %   "
        f"{m[0]:g} ATR CHOP/BOUNCE/BREAK %   {second}"
    )
    sec = [c for c in table.columns if c.endswith("_either_%")]
    for r in table.iter_rows(named=True):
        pts = "/".join(f"{r[k]:.1f}" for k in ("chop_%", "bounce_%", "break_%", "ambiguous_%"))
        atr = "/".join(f"{r[k]:.1f}" for k in ("atr_chop_%", "atr_bounce_%", "atr_break_%"))
        either = f"{r[sec[0]]:.1f}%" if sec else ""
        lines.append(
            f"  {r['kind']:<9}{r['touches']:>8}{r['per_session']:>7.1f}   {pts:<35}{atr:<28}{either}"
        )
    return lines
