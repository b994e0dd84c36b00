"""One simulated session written to landing as DBN files (see package docstring)."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from spymaster_core import calendar
from spymaster_core.calendar import front_month_symbol
from spymaster_core.sim import futures, options, writer
from spymaster_core.sim.path import TICK, simulate_path

# Mean futures trades and quote events per second at intensity 1, option trades per strike-minute.
# "bench" gives >= 5 M MBP-10 records (benchmarks/bench_bronze.py).
SCALES = {
    "demo": (0.9, 1.6, 0.5),
    "small": (0.3, 0.6, 0.2),
    "bench": (42.0, 75.0, 0.5),
    "realistic": (10.5, 40.0, 0.5),
    # A real ES day's size (issue 21): >= 12 M front-month MBP-10 records, ~500 k trades.
    "real": (14.0, 320.0, 14.5),
}
# Option chain per scale: (strike half-width in points, near-money quote updates a second per
# instrument); None: every instrument quoted once a minute. "real": 400 instruments at 5-point
# strikes, >= 8 M BBO updates concentrated near the money, ~100 k option trades.
CHAINS: dict[str, tuple[float, float | None]] = {"real": (500.0, 18.5)}


@dataclass
class SimResult:
    """What one simulated session wrote: files by schema, record counts, planted reactions."""

    date: dt.date
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    planted: list[tuple[int, float, str, str]] = field(default_factory=list)
    front_month: str = ""
    short_gamma: bool = False
    truth: Path | None = None  # the planted reactions (`write_truth`), beside the DBN files


def start_price(date: dt.date) -> float:
    """Opening price of a simulated day: a smooth function of the date so consecutive days connect."""
    o = date.toordinal()
    return round((4100.0 + 60.0 * np.sin(o / 5.0) + 25.0 * np.sin(o / 1.7)) / TICK) * TICK


def simulate_session(
    date: dt.date | str, seed: int, out_dir: str | Path, scale: str = "demo", with_mbo: bool = False
) -> SimResult:
    """Write the session's DBN files under `out_dir` (landing layout) and return what was written.
    `with_mbo` also writes the futures' market-by-order file (the queue book's own records).

    Raises ValueError for a date that is not a CME trading date or an unknown scale.
    """
    d = dt.date.fromisoformat(date) if isinstance(date, str) else date
    if not calendar.is_trading_date(d):
        raise ValueError(f"--date {d.isoformat()} is not a CME_Equity trading date")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    trade_rate, quote_rate, opt_rate = SCALES[scale]
    rng = np.random.default_rng([seed, d.toordinal()])
    t0 = calendar.et_ns(d, "04:00")
    n_s = (calendar.et_ns(d, "16:00") - t0) // 1_000_000_000
    rth_open = (calendar.et_ns(d, "09:30") - t0) // 1_000_000_000
    or_end = (calendar.et_ns(d, "09:45") - t0) // 1_000_000_000
    path = simulate_path(rng, start_price(d), int(n_s), int(rth_open), int(or_end), int(n_s))

    fut_sym = front_month_symbol(d)
    fut_id = zlib.crc32(fut_sym.encode()) % 1_000_000 + 1_000
    fut = futures.simulate_futures(rng, path, t0, fut_id, trade_rate, quote_rate, with_mbo=with_mbo)
    trades, mbp10 = fut.trades, fut.mbp10

    expiration = calendar.et_ns(d, "16:00")
    center = (path.bid_ticks[rth_open] + 0.5) * TICK
    half_width_pt, atm_quotes_per_s = CHAINS.get(scale, (100.0, None))
    defs, info = options.chain_definitions(
        d, center, fut_sym, fut_id, expiration, t0 - 3_600_000_000_000, 5_000_000, fut_sym[2:], half_width_pt
    )
    opt_bbo, opt_trades = options.simulate_options(
        rng, path, t0, info, expiration, int(rth_open), int(n_s), opt_rate, path.short_gamma, atm_quotes_per_s
    )

    out = Path(out_dir) / writer.DATASET
    stem = f"sim-{d.isoformat()}-seed{seed}"
    fut_syms = {fut_sym: fut_id}
    opt_syms = {v[0]: k for k, v in info.items()}
    res = SimResult(date=d, planted=path.planted, front_month=fut_sym)
    res.files["trades"] = writer.write_records(
        out / "trades" / d.isoformat() / f"{stem}.es.trades.dbn.zst", "trades", trades, fut_syms, d
    )
    res.files["mbp-10"] = writer.write_records(
        out / "mbp-10" / d.isoformat() / f"{stem}.es.mbp-10.dbn.zst", "mbp-10", mbp10, fut_syms, d
    )
    res.files["definition"] = writer.write_definitions(
        out / "definition" / d.isoformat() / f"{stem}.es-opt.definition.dbn.zst",
        defs,
        opt_syms,
        d,
        t0 - 3_600_000_000_000,
    )
    res.files["mbp-1"] = writer.write_records(
        out / "mbp-1" / d.isoformat() / f"{stem}.es-opt.mbp-1.dbn.zst", "mbp-1", opt_bbo, opt_syms, d
    )
    res.files["opt-trades"] = writer.write_records(
        out / "trades" / d.isoformat() / f"{stem}.es-opt.trades.dbn.zst", "trades", opt_trades, opt_syms, d
    )
    oi = options.open_interest(rng, info, center, t0 - 3_600_000_000_000)
    res.files["statistics"] = writer.write_messages(
        out / "statistics" / d.isoformat() / f"{stem}.es-opt.statistics.dbn.zst",
        "statistics",
        oi,
        opt_syms,
        d,
        t0 - 3_600_000_000_000,
    )
    res.short_gamma = path.short_gamma
    res.truth = write_truth(Path(out_dir), d.isoformat(), stem, t0, path.planted, path.short_gamma)
    if fut.mbo is not None:
        res.files["mbo"] = writer.write_records(
            out / "mbo" / d.isoformat() / f"{stem}.es.mbo.dbn.zst", "mbo", fut.mbo, fut_syms, d
        )
    res.counts = {
        "futures_trades": len(trades),
        "futures_mbp10": len(mbp10),
        "option_definitions": len(defs),
        "option_bbo": len(opt_bbo),
        "option_trades": len(opt_trades),
    }
    return res


TRUTH_DIR = "truth"


def write_truth(
    out_dir: Path,
    date: str,
    stem: str,
    t0_ns: int,
    planted: list[tuple[int, float, str, str]],
    short_gamma: bool,
) -> Path:
    """The simulator's ground truth beside the DBN files (never read by ingestion): one row per planted
    reaction at `out_dir/truth/<date>/<stem>.planted.parquet` with `ts_ns` (the planted touch),
    `level_price` (points), `outcome` (BREAK, BOUNCE or CHOP: what the simulator made the level do),
    `direction`, `regime` (vacuum before a break, wall before a bounce, pin for a chop) and the day's
    `short_gamma`. Written to a temp file, then renamed."""
    regime = {"BREAK": "vacuum", "BOUNCE": "wall", "CHOP": "pin"}
    df = pl.DataFrame(
        {
            "ts_ns": [t0_ns + sec * 1_000_000_000 for sec, *_ in planted],
            "level_price": [lv for _, lv, _, _ in planted],
            "outcome": [o for _, _, o, _ in planted],
            "direction": [dr for *_, dr in planted],
            "regime": [regime[o] for _, _, o, _ in planted],
        },
        schema={
            "ts_ns": pl.Int64,
            "level_price": pl.Float64,
            "outcome": pl.String,
            "direction": pl.String,
            "regime": pl.String,
        },  # fmt: skip
    ).with_columns(short_gamma=pl.lit(short_gamma))
    path = out_dir / TRUTH_DIR / date / f"{stem}.planted.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.write_parquet(tmp)
    tmp.replace(path)
    return path


def read_truth(out_dir: Path, date: str) -> pl.DataFrame | None:
    """Every planted reaction written for `date` under `out_dir` (`write_truth`), or None."""
    files = sorted((out_dir / TRUTH_DIR / date).glob("*.planted.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else None
