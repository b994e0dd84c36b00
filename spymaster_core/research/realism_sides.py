"""The two sides of `research.realism`: the real files in ../shared (vendor ES bars, Databento ESM4
trades and `mbp-1`, the ESH4 MBO day) and simulated dates in the lake (their Bronze trades and
MBP-10), each reduced to the same statistics.

The real side's inputs and what each answers:
- `real/bars-1m/*.csv` (about 55 sessions of real ES 1-minute bars): the price path and the levels;
- `real/databento/esm4_2024-06-10_1030-1035ET.trades.dbn.zst` (3,500 prints, 10:30-10:35 ET): the
  tape; the simulated side reads the same five minutes of each simulated date;
- `real/databento/esm4_2024-06-10_1030ET.mbp-1.truncated.dbn.zst` (published truncated: the
  complete records of 10:30:00-10:30:49 ET are read, `dbn.decode_complete_prefix`): spread and size
  at the top of the book during RTH;
- the ESH4 MBO sample in `data/` (the first Globex hour of 2023-12-26, Sunday evening, rebuilt by
  our MBO book): the depth profile (levels 2-10 relative to the top) and resting order sizes. That
  hour is thinner than RTH, so only the *shape* of depth is compared, never its size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core.bronze import mbo_book
from spymaster_core.config import Config
from spymaster_core.io import dbn, lake
from spymaster_core.io.csv_bars import read_bars_csv
from spymaster_core.research import bar_study, bars, realism

REAL_TRADES = "databento/esm4_2024-06-10_1030-1035ET.trades.dbn.zst"
REAL_MBP1 = "databento/esm4_2024-06-10_1030ET.mbp-1.truncated.dbn.zst"
REAL_MBO = "nautilus_trader/tests/test_data/databento/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
TAPE_WINDOW = ("10:30", "10:35")  # ET, the window of the real trades file


@dataclass
class Side:
    """One side of the comparison: `stats` {group: {statistic: value}}, the 30-minute volatility
    `profile`, and `what` (the inputs, for the printed header)."""

    what: str
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    profile: np.ndarray = field(default_factory=lambda: np.array([]))
    counts: dict[str, int] = field(default_factory=dict)  # touches per level kind (`level_counts`)


def _top(bbo: pl.DataFrame) -> pl.DataFrame:
    return bbo.rename(
        {"bid_px": "bid_px_00", "ask_px": "ask_px_00", "bid_sz": "bid_sz_00", "ask_sz": "ask_sz_00"}
    )


def tape_window(date: str) -> tuple[int, int]:
    """[start, end) ns of TAPE_WINDOW (ET) on `date`."""
    return calendar.et_ns(date, TAPE_WINDOW[0]), calendar.et_ns(date, TAPE_WINDOW[1])


def real_side(real_dir: Path, samples_dir: Path, cfg: Config) -> Side:
    """The statistics of the real files (module docstring). Raises FileNotFoundError naming the
    folder when it holds no bars CSV; the Databento files are each optional (their statistics are
    then missing and not counted)."""
    csvs = sorted((real_dir / "bars-1m").glob("*.csv"))
    if not csvs:
        raise FileNotFoundError(f"no real ES bars (*.csv) under {real_dir / 'bars-1m'}")
    by: dict[str, pl.DataFrame] = {}
    for f in csvs:
        by.update(read_bars_csv(f).by_date)
    side = Side(what="")
    side.stats["path"], side.profile = realism.path_stats(by, cfg)
    study = bar_study.study_bars(by, cfg)
    side.stats["levels"], side.counts = realism.level_stats(study, cfg), realism.level_counts(study)
    parts = [f"{len(study.sessions)} sessions of real ES 1-minute bars ({len(csvs)} files)"]
    tape: dict[str, float] = {}
    if (real_dir / REAL_TRADES).exists():
        t = pl.from_arrow(dbn.decode_file(real_dir / REAL_TRADES).tables["trades"])
        tape = realism.tape_stats(t, tape_window("2024-06-10"))
        parts.append(f"{t.height} ESM4 prints 10:30-10:35 ET")
    side.stats["tape"] = tape
    book: dict[str, float] = {}
    if (real_dir / REAL_MBP1).exists():
        dec, n = dbn.decode_complete_prefix(real_dir / REAL_MBP1)
        book |= realism.top_of_book_stats(_top(pl.from_arrow(dec.tables["bbo"])))
        parts.append(f"{n} ESM4 mbp-1 records (the complete ones of a truncated file)")
    if (samples_dir / REAL_MBO).exists():
        mbp = pl.from_arrow(mbo_book.mbo_to_mbp10(samples_dir / REAL_MBO)).filter(~pl.col("is_preopen"))
        book |= realism.depth_profile_stats(mbp)
        mbo = pl.from_arrow(dbn.decode_file(samples_dir / REAL_MBO).tables["mbo"])
        book |= realism.order_size_stats(mbo)
        parts.append("the ESH4 MBO hour (depth shape, order sizes)")
    side.stats["book"] = book
    side.what = "; ".join(parts)
    return side


MBP10_COLS = [
    "ts_event_ns",
    *(f"{s}_{k}_{i:02d}" for i in range(10) for s in ("bid", "ask") for k in ("px", "sz")),
]
Frames = Iterator[tuple[str, pl.DataFrame, pl.DataFrame | None]]


def frames_from_lake(root: lake.LakePath, dates: list[str]) -> Frames:
    """(date, Bronze futures trades, Bronze MBP-10 of the tape window or None) of each date of
    `dates` with trades in the lake."""
    for d in dates:
        t = lake.read_partition(root, "futures_trades", d)
        if t is None or t.is_empty():
            continue
        m = lake.read_partition(root, "futures_mbp10", d, MBP10_COLS)
        yield (
            d,
            t,
            None if m is None else m.filter(pl.col("ts_event_ns").is_between(*tape_window(d), closed="left")),
        )


def frames_from_landing(landing: Path, dates: list[str], workdir: Path, book_dates: set[str]) -> Frames:
    """The same from DBN files in a landing folder (Bronze built in memory; MBP-10 parts written
    under workdir/<date> for `book_dates` only, None for the others), for simulated dates outside
    any lake."""
    from spymaster_core.bronze import builders as bronze

    for d in dates:
        tr = bronze.futures_trades(landing, d)
        t = pl.from_arrow(tr.table)
        if t.is_empty():
            continue
        if d not in book_dates:
            yield d, t, None
            continue
        out = workdir / d
        bronze.futures_mbp10(landing, d, tr.front_month, out)
        w = tape_window(d)
        m = pl.scan_parquet(out / "part-*.parquet").select(MBP10_COLS)
        yield d, t, m.filter(pl.col("ts_event_ns").is_between(*w, closed="left")).collect()


def sim_side(
    frames: Frames, cfg: Config, mbo_files: list[Path] | None = None, tape_dates: set[str] | None = None
) -> Side:
    """The statistics of simulated dates from their `frames` (`frames_from_lake` /
    `frames_from_landing`): 1-minute bars from the Bronze trades (as the demo builds them), the
    10:30-10:35 ET prints of each date in `tape_dates` (default every date; statistics averaged over
    dates; the tape's rates depend on the scale a date was simulated at), the MBP-10 of that window
    (top of book and depth shape), and resting order sizes from `mbo_files` when the simulator
    wrote them (`simulate --with-mbo`). Raises ValueError when no date has trades."""
    by: dict[str, pl.DataFrame] = {}
    tapes, tops, depths = [], [], []
    for d, t, m in frames:
        by[d] = bars.one_minute_bars(t, str(t["symbol"][0]), "sim")
        if tape_dates is None or d in tape_dates:
            tapes.append(realism.tape_stats(t, tape_window(d)))
        if m is not None and (tape_dates is None or d in tape_dates):
            tops.append(realism.top_of_book_stats(m))
            depths.append(realism.depth_profile_stats(m))
    if not by:
        raise ValueError("no simulated date with Bronze futures trades")
    side = Side(what=f"{len(by)} simulated dates {min(by)}..{max(by)}")
    side.stats["path"], side.profile = realism.path_stats(by, cfg)
    study = bar_study.study_bars(by, cfg)
    side.stats["levels"], side.counts = realism.level_stats(study, cfg), realism.level_counts(study)
    side.stats["tape"] = _mean_of(tapes)
    book = _mean_of(tops) | _mean_of(depths)
    if mbo_files:
        mbo = pl.concat(
            [pl.from_arrow(dbn.decode_file(f).tables["mbo"]).select("action", "size") for f in mbo_files]
        )
        book |= realism.order_size_stats(mbo)
    side.stats["book"] = book
    return side


def _mean_of(dicts: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the mean over the dicts that have it."""
    keys = [k for d in dicts for k in d]
    return {k: float(np.mean([d[k] for d in dicts if k in d])) for k in dict.fromkeys(keys)}


def comparison(real: Side, sim: Side) -> pl.DataFrame:
    """`realism.compare` of the two sides plus the volatility-profile correlation (path group)."""
    corr = realism.profile_corr(real.profile, sim.profile)
    r = {g: dict(v) for g, v in real.stats.items()}
    s = {g: dict(v) for g, v in sim.stats.items()}
    if corr is not None:
        r.setdefault("path", {})["vol_profile_corr"] = 1.0
        s.setdefault("path", {})["vol_profile_corr"] = corr
    return realism.compare(r, s, real.counts, sim.counts)
