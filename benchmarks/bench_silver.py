"""Silver features benchmark: a simulated day's Bronze through every engine, against a Polars scan.

Generates a simulated session (`--scale bench`: >= 5 M MBP-10 records; `--quick`: demo scale) and
its Bronze (reused from `--workdir` when present), then in one run measures:
  - day_s: the whole day's MBP-10, trades and 0DTE option streams replayed through `EngineState`
    with the features of every touch taken on the way (what `silver_features` does, plus the tail
    of the day after the last touch);
  - scan_s: the baseline, a plain Polars scan of the same Bronze MBP-10 partition (the columns the
    engines read, summed so every value is decoded);
  - live_eps: events per second through the incremental API (`EngineState.update(event)` one
    event at a time, as the live core calls it) over the first events of the merged day.
Last line: `BENCH silver day_s=<n> scan_s=<n> ratio_vs_scan=<x> live_eps=<n> peak_rss_mb=<n>` (ratio =
day_s / scan_s: how many Polars scans of the partition the whole feature day costs; peak RSS of
the Silver step: Bronze frames loaded and the feature day, the simulator running in a child).
`--scale real`: a real ES day (>= 12 M MBP-10 records, a 400-instrument 0DTE chain with >= 8 M
BBO updates).
Usage: python benchmarks/bench_silver.py [--quick] [--scale demo|bench|real] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from spymaster_core.config import DEFAULT_CONFIG as CFG
from spymaster_core.engines import streams as replay
from spymaster_core.research import features
from spymaster_core.sim.day import build_sim_day

DATE = "2026-11-16"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="demo-scale day (~145 k MBP-10 records), < 60 s")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="keep the simulated day here (reused if present)"
    )
    ap.add_argument("--live-events", type=int, default=300_000, help="events timed through update(event)")
    ap.add_argument(
        "--scale",
        choices=["demo", "bench", "real"],
        default=None,
        help="size of the simulated day (default bench; --quick: demo; real: a real ES day with its 0DTE chain)",
    )
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    scale = args.scale or ("demo" if args.quick else "bench")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"bench_silver_{scale}_"))
    if args.prepare:
        build_sim_day(DATE, 1, workdir, CFG, scale=scale)
        return
    t = time.perf_counter()
    if not list((workdir / "bronze_mbp10").glob("part-*.parquet")):
        # Simulate and build Bronze MBP-10 in a child: the simulator's memory is not Silver's.
        cmd = [sys.executable, __file__, "--prepare", "--scale", scale, "--workdir", str(workdir)]
        subprocess.run(cmd, check=True)
    day = build_sim_day(DATE, 1, workdir, CFG, scale=scale)
    rows = pl.scan_parquet(day.mbp10_files).select(pl.len()).collect().item()
    print(
        f"simulated + Bronze {DATE} ({scale}): {rows:,} MBP-10 records, {day.touches.height} touches in {time.perf_counter() - t:.1f}s"
    )

    t = time.perf_counter()
    cols = [c for c in features.MBP10_COLUMNS if c != "action"]
    pl.scan_parquet(day.mbp10_files).select([pl.len(), *[pl.col(c).sum() for c in cols]]).collect()
    scan_s = time.perf_counter() - t

    t = time.perf_counter()
    ft = features.touch_features(
        features.mbp10_batches(day.mbp10_files),
        day.trades,
        day.touches,
        day.levels,
        DATE,
        CFG,
        day.options,
        feed_to_end=True,
    )
    day_s = time.perf_counter() - t
    silver_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"features: {ft.height} touches, whole day replayed in {day_s:.2f}s ({rows / day_s:,.0f} MBP-10 records/s); Polars scan {scan_s:.2f}s"
    )
    n_bbo = day.options["bbo"].height if "bbo" in day.options else 0
    print(
        f"Silver step (Bronze frames loaded + features): peak RSS {silver_rss_mb:.0f} MB; "
        f"0DTE chain {day.options['definitions'].height} instruments, {n_bbo:,} BBO updates"
    )

    st = features.build_state(DATE, CFG, day.options)
    events = list(
        itertools.islice(
            replay.merged_events(features.mbp10_batches(day.mbp10_files), day.trades, day.options),
            args.live_events,
        )
    )
    st.update(events[0])  # load the compiled kernels before the clock starts
    st.flush()
    t = time.perf_counter()
    for ev in events[1:]:
        st.update(ev)
    st.flush()
    live_s = time.perf_counter() - t
    live_eps = (len(events) - 1) / live_s
    print(f"live: {len(events) - 1:,} events through update(event) in {live_s:.2f}s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(
        f"BENCH silver day_s={day_s:.2f} scan_s={scan_s:.2f} ratio_vs_scan={day_s / scan_s:.2f} live_eps={live_eps:.0f} "
        f"peak_rss_mb={silver_rss_mb:.0f}"
    )


if __name__ == "__main__":
    main()
