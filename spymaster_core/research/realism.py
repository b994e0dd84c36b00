"""Stylized facts of ES, measured the same way on real and simulated data, side by side (issue 20).

Four groups, each a dict {statistic name: value} computed by one function from plain frames, so
the real side (vendor bars, Databento trades, mbp-1 and MBO files) and the simulated side (the
simulator's trades and MBP-10) go through the same code:

- `path_stats` (RTH, from 1-minute bars): 1-minute return std (bp of price), excess kurtosis,
  autocorrelation at lags 1-5, the intraday volatility profile (std per 30-minute bucket over the
  session's mean bucket std: the open and close buckets against midday, and the correlation of
  the sim profile with the real one), the RTH range (median, p90, bp) and the pre-market range
  (04:00-09:30 ET; the simulator's session starts at 04:00, so the overnight before 04:00 is not
  compared);
- `level_stats` (the bar tier's touches and labels): touches per session per level kind, outcome
  shares at the first and second label thresholds and in ATR units within the look-forward, per
  kind and pooled, and the median time to the first threshold;
- `tape_stats` (prints in a window, 10:30-10:35 ET for the real ESM4 file): trade size mean/p90, the
  1-lot share, inter-trade time between distinct match times (median, p90, ms), trades per minute;
- `book_stats`: the share of quotes with a one-tick spread and the mean size at the best bid/ask
  (RTH top of book), the depth profile (levels 2-5 and 6-10 over level 1, from a full-depth book),
  and the resting order size (mean, 1-lot share) from MBO adds.

`compare(real, sim)` puts them side by side with the band of each (`band_of`): a ratio sim/real in
[0.75, 1.33] for scales; within 5 percentage points for shares; within 0.05 for autocorrelations
(real 1-minute ES autocorrelations are a few hundredths: "same sign and rough shape" is read as
close in value); a profile correlation of at least 0.7. A statistic missing on either side is
shown and not counted. Level outcome shares also get `z`, their difference in standard errors of
two binomial shares: per level kind each side has only 100-200 touches, so a share is known to
about 4 points and the +/-5 pp band alone would call sampling noise a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core.calendar import MINUTE_NS
from spymaster_core.config import Config
from spymaster_core.research import bar_study

RATIO_BAND = (0.75, 1.33)
SHARE_BAND_PP = 5.0
ACF_BAND = 0.05
PROFILE_MIN_CORR = 0.7
BUCKET_MIN = 30


@dataclass(frozen=True)
class Band:
    """How a statistic is judged: `ratio` (sim/real in RATIO_BAND), `pp` (|sim - real| <= 5 points of
    a percentage), `abs` (|sim - real| <= ACF_BAND), `min` (sim >= PROFILE_MIN_CORR; real is 1)."""

    kind: str

    def holds(self, real: float, sim: float) -> bool:
        """Whether `sim` lies in this band around `real`."""
        if self.kind == "ratio":
            return real != 0 and RATIO_BAND[0] <= sim / real <= RATIO_BAND[1]
        if self.kind == "pp":
            return abs(sim - real) <= SHARE_BAND_PP
        if self.kind == "abs":
            return abs(sim - real) <= ACF_BAND
        return sim >= PROFILE_MIN_CORR

    def describe(self) -> str:
        """The band in words for the table."""
        return {
            "ratio": f"ratio {RATIO_BAND[0]}-{RATIO_BAND[1]}",
            "pp": f"+/-{SHARE_BAND_PP:g} pp",
            "abs": f"+/-{ACF_BAND:g}",
            "min": f">= {PROFILE_MIN_CORR:g}",
        }[self.kind]


def band_of(name: str) -> Band:
    """The band of statistic `name` by its suffix (`_%` shares, `acf_` lags, `_corr` profile)."""
    if name.endswith("_%"):
        return Band("pp")
    if name.startswith("acf_"):
        return Band("abs")
    if name.endswith("_corr"):
        return Band("min")
    return Band("ratio")


# ---------------------------------------------------------------------------------------- price path


def _bucket_profile(bars_by_date: dict[str, pl.DataFrame], cfg: Config) -> np.ndarray:
    """Per 30-minute RTH bucket, the std of 1-minute returns (pooled over dates) over the mean of the
    bucket stds: the intraday volatility shape (13 buckets 09:30..16:00)."""
    parts = []
    for d, b in bars_by_date.items():
        r = bar_study.rth_returns(b, d, cfg)
        t0 = calendar.et_ns(d, cfg.session.rth_open)
        bucket = (r["bar_start_ns"] - t0) // (BUCKET_MIN * MINUTE_NS)
        parts.append(pl.DataFrame({"bucket": bucket, "ret_bp": r["ret_bp"]}))
    if not parts:
        return np.array([])
    df = pl.concat(parts).group_by("bucket").agg(pl.col("ret_bp").std().alias("sd")).sort("bucket")
    sd = df["sd"].to_numpy()
    return sd / sd.mean()


def path_stats(bars_by_date: dict[str, pl.DataFrame], cfg: Config) -> tuple[dict[str, float], np.ndarray]:
    """(statistics, 30-minute volatility profile) of {date: 1-minute bars} (`futures.ohlcv_1m.v1`),
    RTH only except the pre-market range; returns in basis points of the previous close. Sessions
    without bars from the RTH open are skipped (`bar_study.session_complete`)."""
    keep = {d: b for d, b in bars_by_date.items() if bar_study.session_complete(b, d, cfg) is None}
    rets, ranges, pre = [], [], []
    for d, b in sorted(keep.items()):
        r = bar_study.rth_returns(b, d, cfg)["ret_bp"].to_numpy()
        if len(r) > 10:
            rets.append(r)
        t0, t1 = calendar.et_ns(d, cfg.session.rth_open), calendar.et_ns(d, cfg.session.rth_close)
        rth = b.filter((pl.col("bar_start_ns") >= t0) & (pl.col("bar_start_ns") < t1))
        if rth.height:
            mid = float(rth["close"].mean())
            ranges.append((float(rth["high"].max()) - float(rth["low"].min())) / mid * 1e4)
        pm = b.filter((pl.col("bar_start_ns") >= calendar.et_ns(d, "04:00")) & (pl.col("bar_start_ns") < t0))
        if pm.height > 300:  # most of the 330 pre-market minutes printed
            pre.append((float(pm["high"].max()) - float(pm["low"].min())) / float(pm["close"].mean()) * 1e4)
    out: dict[str, float] = {}
    if rets:
        x = np.concatenate(rets)
        z = (x - x.mean()) / x.std()
        out["ret_std_bp"] = float(x.std())
        out["ret_excess_kurtosis"] = float(np.mean(z**4) - 3.0)
        for lag in range(1, 6):
            num = sum(float(np.sum((r[lag:] - x.mean()) * (r[:-lag] - x.mean()))) for r in rets)
            out[f"acf_lag{lag}"] = num / float(np.sum((x - x.mean()) ** 2))
    profile = _bucket_profile(keep, cfg)
    if len(profile) >= 13:
        midday = float(np.median(profile[4:9]))  # 11:30-14:00
        out["vol_open_vs_midday"] = float(profile[0] / midday)
        out["vol_close_vs_midday"] = float(profile[12] / midday)
    if ranges:
        out["rth_range_median_bp"] = float(np.median(ranges))
        out["rth_range_p90_bp"] = float(np.quantile(ranges, 0.9))
    if pre:
        out["premarket_range_median_bp"] = float(np.median(pre))
    return out, profile


def profile_corr(real_profile: np.ndarray, sim_profile: np.ndarray) -> float | None:
    """Pearson correlation of two 30-minute volatility profiles (None unless both have 13 buckets)."""
    if len(real_profile) < 13 or len(sim_profile) < 13:
        return None
    return float(np.corrcoef(real_profile[:13], sim_profile[:13])[0, 1])


# ---------------------------------------------------------------------------------------- levels


def level_stats(study: bar_study.BarStudy, cfg: Config) -> dict[str, float]:
    """Per level kind and pooled (`ALL`): touches per session, the outcome shares (percent of the
    touches with a complete look-forward) at the first threshold (`<kind>_<outcome>_<thr>pt_%`), the
    pooled shares at the second threshold and in ATR units, and the median minutes to the first
    threshold of the BREAK and BOUNCE touches (`time_to_threshold_median_min`)."""
    t = study.touches
    if t.is_empty() or not study.sessions:
        return {}
    t = t.filter(pl.col("lookforward_complete"))
    n_sess = len(study.sessions)
    thr = cfg.labels.thresholds_pt
    out: dict[str, float] = {}
    groups = [(str(k), g) for (k,), g in t.sort("level_kind").group_by("level_kind", maintain_order=True)]
    for kind, g in [*groups, ("ALL", t)]:
        out[f"touches_per_session_{kind}"] = g.height / n_sess
        for o in ("CHOP", "BOUNCE", "BREAK"):
            out[f"{kind}_{o.lower()}_{thr[0]:g}pt_%"] = 100.0 * float((g["outcome"] == o).mean())
    if len(thr) > 1:
        col = f"outcome_{thr[1]:g}"
        if col in t.columns:
            for o in ("BOUNCE", "BREAK"):
                out[f"ALL_{o.lower()}_{thr[1]:g}pt_%"] = 100.0 * float((t[col] == o).mean())
    for o in ("CHOP", "BOUNCE", "BREAK"):
        out[f"ALL_{o.lower()}_{cfg.labels.atr_multiples[0]:g}atr_%"] = 100.0 * float(
            (t["atr_outcome"] == o).mean()
        )
    if "time_to_threshold_s" in t.columns:
        hit = t.filter(pl.col("outcome").is_in(["BREAK", "BOUNCE"]))["time_to_threshold_s"].drop_nulls()
        if hit.len():
            out["time_to_threshold_median_min"] = float(hit.median()) / 60.0
    return out


def level_counts(study: bar_study.BarStudy) -> dict[str, int]:
    """Touches with a complete look-forward per level kind and `ALL`: the n behind each share."""
    t = study.touches
    if t.is_empty():
        return {}
    t = t.filter(pl.col("lookforward_complete"))
    out = {str(k): n for k, n in t.group_by("level_kind").len().iter_rows()}
    return {**out, "ALL": t.height}


def share_z(
    name: str, real: float, sim: float, real_n: dict[str, int], sim_n: dict[str, int]
) -> float | None:
    """(sim - real) over the standard error of the difference of two binomial shares (percent),
    for a level statistic `<KIND>_..._%` whose touch counts are known on both sides; else None.
    |z| <= 2 means the two shares differ by no more than sampling noise (about 95%)."""
    kind = next((k for k in sorted(real_n, key=len, reverse=True) if name.startswith(f"{k}_")), None)
    if kind is None or not name.endswith("_%") or not real_n.get(kind) or not sim_n.get(kind):
        return None
    var = real * (100 - real) / real_n[kind] + sim * (100 - sim) / sim_n[kind]
    return (sim - real) / np.sqrt(var) if var > 0 else None


# ---------------------------------------------------------------------------------------- tape


def tape_stats(trades: pl.DataFrame, window_ns: tuple[int, int]) -> dict[str, float]:
    """Prints of one instrument in [start, end) ns (`ts_event_ns`, `size`): trade size mean and p90
    (contracts), the 1-lot share (%), inter-trade time between distinct match times (median, p90,
    ms; prints of one aggressor's sweep share a ts_event) and trades per minute."""
    t = trades.filter((pl.col("ts_event_ns") >= window_ns[0]) & (pl.col("ts_event_ns") < window_ns[1]))
    if t.height < 10:
        return {}
    size = t["size"].to_numpy().astype(np.float64)
    ts = np.unique(t["ts_event_ns"].to_numpy())
    gaps = np.diff(ts) / 1e6
    minutes = (window_ns[1] - window_ns[0]) / MINUTE_NS
    return {
        "trade_size_mean": float(size.mean()),
        "trade_size_p90": float(np.quantile(size, 0.9)),
        "one_lot_trades_%": 100.0 * float((size == 1).mean()),
        "inter_trade_ms_median": float(np.median(gaps)),
        "inter_trade_ms_p90": float(np.quantile(gaps, 0.9)),
        "trades_per_min": t.height / minutes,
    }


# ---------------------------------------------------------------------------------------- book


def top_of_book_stats(top: pl.DataFrame, tick_pt: float = 0.25) -> dict[str, float]:
    """From RTH top-of-book rows (`bid_px_00`, `ask_px_00`, `bid_sz_00`, `ask_sz_00`; one per book
    update): the share of updates with a one-tick spread (%) and the mean size at the best bid and
    ask (contracts)."""
    q = top.filter(pl.col("bid_px_00").is_not_null() & pl.col("ask_px_00").is_not_null())
    q = q.filter(pl.col("ask_px_00") > pl.col("bid_px_00"))
    if q.height < 10:
        return {}
    spread = (q["ask_px_00"] - q["bid_px_00"]).to_numpy()
    return {
        "spread_one_tick_%": 100.0 * float((np.abs(spread - tick_pt) < 1e-9).mean()),
        "top_size_mean": float(((q["bid_sz_00"] + q["ask_sz_00"]) / 2).mean()),
    }


def depth_profile_stats(mbp10: pl.DataFrame) -> dict[str, float]:
    """From MBP-10 rows: the mean size of levels 2-5 and of levels 6-10 over the mean size at level
    1, both sides (the shape of the resting book, in units of the top)."""
    if mbp10.height < 10:
        return {}

    def mean_at(levels: range) -> float:
        cols = [f"{s}_sz_{i:02d}" for i in levels for s in ("bid", "ask")]
        return float(mbp10.select(pl.mean_horizontal(cols)).to_series().mean())

    top = mean_at(range(0, 1))
    if top <= 0:
        return {}
    return {"depth_l2_5_vs_l1": mean_at(range(1, 5)) / top, "depth_l6_10_vs_l1": mean_at(range(5, 10)) / top}


def order_size_stats(mbo: pl.DataFrame) -> dict[str, float]:
    """From MBO records (`action`, `size`): the mean size of added orders and their 1-lot share (%)."""
    adds = mbo.filter(pl.col("action") == "A")["size"].to_numpy().astype(np.float64)
    if len(adds) < 10:
        return {}
    return {"order_size_mean": float(adds.mean()), "one_lot_orders_%": 100.0 * float((adds == 1).mean())}


# ---------------------------------------------------------------------------------------- side by side

GROUPS = ("path", "levels", "tape", "book")


def compare(
    real: dict[str, dict[str, float]],
    sim: dict[str, dict[str, float]],
    real_n: dict[str, int] | None = None,
    sim_n: dict[str, int] | None = None,
) -> pl.DataFrame:
    """One row per statistic of either side, by group (GROUPS): `group`, `statistic`, `real`, `sim`,
    `band`, `in_band` (null when a side lacks it) and, for level outcome shares with the touch
    counts of both sides (`level_counts`), `z` (`share_z`). Rows in group order, then as measured."""
    rows = []
    for g in GROUPS:
        r, s = real.get(g, {}), sim.get(g, {})
        for name in [*r, *(k for k in s if k not in r)]:
            band = band_of(name)
            rv, sv = r.get(name), s.get(name)
            ok = None if rv is None or sv is None else band.holds(rv, sv)
            z = None if rv is None or sv is None else share_z(name, rv, sv, real_n or {}, sim_n or {})
            rows.append({"group": g, "statistic": name, "real": rv, "sim": sv, "band": band.describe(),
                         "in_band": ok, "z": z})  # fmt: skip
    schema = {"group": pl.String, "statistic": pl.String, "real": pl.Float64, "sim": pl.Float64,
              "band": pl.String, "in_band": pl.Boolean, "z": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def render(table: pl.DataFrame, real_what: str, sim_what: str) -> list[str]:
    """Terminal lines of a `compare` table; the last is `REALISM in_band=<k> of=<n>`."""
    lines = [f"REAL: {real_what}", f"SIM:  {sim_what}",
             f"  {'group':<7}{'statistic':<34}{'real':>11}{'sim':>11}  {'band':<16}{'in band':<9}z (shares)"]  # fmt: skip
    for r in table.iter_rows(named=True):

        def f(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"

        mark = "-" if r["in_band"] is None else ("yes" if r["in_band"] else "NO")
        z = "" if r["z"] is None else f"{r['z']:+.1f}"
        lines.append(
            f"  {r['group']:<7}{r['statistic']:<34}{f(r['real']):>11}{f(r['sim']):>11}  {r['band']:<16}{mark:<9}{z}"
        )
    judged = table.filter(pl.col("in_band").is_not_null())
    lines.append(f"REALISM in_band={int(judged['in_band'].sum())} of={judged.height}")
    return lines
