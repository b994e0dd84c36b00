"""Bronze ingest benchmark: simulated day -> Bronze Parquet, against DBNStore.to_parquet.

Generates a simulated session (`--scale bench`, the default: >= 5 M MBP-10 records; `--scale
real`: a real ES day, >= 12 M MBP-10 records and a 400-instrument 0DTE chain with >= 8 M BBO
updates; `--quick`: the demo scale), then, each in a fresh subprocess so peak RSS is its own:
  - ours: `stream_futures_mbp10` (decode, filter to session and front month, type, check, sort
    check, Parquet) on the MBP-10 file, `bronze.futures_trades` on the trades files, and the 0DTE
    option tables (definitions, BBO, trades, statistics);
  - baseline: `databento.DBNStore.to_parquet` on the same MBP-10 file (decode + write only);
  - floor: zstd decompression of that file alone (a ceiling on records/s for any reader).
Prints figures and, last, `BENCH bronze mbp10_rps=<n> trades_rps=<n> ratio_vs_to_parquet=<x>
peak_rss_mb=<n> all_inputs_s=<n>` where ratio = baseline seconds / our seconds (> 1: we are faster),
peak_rss_mb is the largest of our steps and all_inputs_s the seconds of our three steps together.
Usage: python benchmarks/bench_bronze.py [--quick] [--scale demo|bench|real] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATE = "2026-11-16"


def _child(step: str, workdir: Path) -> None:
    land = workdir / "landing"
    mbp_files = sorted((land / "GLBX.MDP3" / "mbp-10" / DATE).glob("*.dbn.zst"))
    # Imports and the one-off load of the compiled kernel are start-up costs, not ingest: both
    # sides import (and ours warms its kernel) before the clock starts.
    import databento  # noqa: F401

    from spymaster_core.bronze.mbp10_stream import stream_futures_mbp10
    from spymaster_core.io.dbn_kernels import warm_up

    warm_up()
    t0 = time.perf_counter()
    rows = 0
    if step == "ours_mbp10":
        out = workdir / "ours_mbp10"
        shutil.rmtree(out, ignore_errors=True)
        rows = stream_futures_mbp10(mbp_files, out, DATE, None).rows_out
    elif step == "ours_trades":
        from spymaster_core.bronze import builders as bronze

        rows = bronze.futures_trades(land, DATE).table.num_rows
    elif step == "ours_options":
        from spymaster_core.bronze import builders as bronze

        front = bronze.futures_trades(land, DATE).front_month
        t0 = time.perf_counter()  # the front month is the trades step's result, not this step's work
        defs = bronze.options_definitions(land, DATE, front).table
        rows = defs.num_rows
        for build in (bronze.options_bbo, bronze.options_trades, bronze.options_statistics):
            rows += build(land, DATE, defs).table.num_rows
    elif step == "baseline_mbp10":
        import databento as db

        store = db.DBNStore.from_file(mbp_files[0])
        store.to_parquet(workdir / "baseline_mbp10.parquet")
        rows = store.metadata.limit or 0  # rows are not reported by to_parquet; time is what we compare
    elif step == "zstd_floor":
        import zstandard

        # Decompression alone: a ceiling on any reader of this single-frame file on one core.
        with open(mbp_files[0], "rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as r:
            while chunk := r.read(1 << 24):
                rows += len(chunk)
        rows //= 368  # MBP-10 record size
    elif step == "simulate":
        from spymaster_core.sim import simulate_session

        res = simulate_session(DATE, 1, land, scale=sys.argv[sys.argv.index("--scale") + 1])
        rows = res.counts["futures_mbp10"]
    secs = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step": step, "rows": rows, "seconds": secs, "peak_rss_mb": rss_mb}))


def _run(step: str, workdir: Path, scale: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, "--workdir", str(workdir), "--scale", scale],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="demo-scale day (~145 k MBP-10 records), < 60 s")
    ap.add_argument(
        "--workdir", type=Path, default=None, help="keep the simulated day here (reused if present)"
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--scale",
        choices=["demo", "bench", "real"],
        default=None,
        help="size of the simulated day (default bench; --quick: demo; real: a real ES day with its 0DTE chain)",
    )
    args = ap.parse_args()
    scale = args.scale or ("demo" if args.quick else "bench")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"bench_bronze_{scale}_"))
    if args.child:
        _child(args.child, workdir)
        return
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "landing" / "GLBX.MDP3" / "mbp-10" / DATE).exists():
        sim = _run("simulate", workdir, scale)
        print(f"simulated {DATE} ({scale}): {sim['rows']:,} MBP-10 records in {sim['seconds']:.1f}s")
    mbp = _run("ours_mbp10", workdir, scale)
    trades = _run("ours_trades", workdir, scale)
    opts = _run("ours_options", workdir, scale)
    base = _run("baseline_mbp10", workdir, scale)
    floor = _run("zstd_floor", workdir, scale)
    mbp_rps = mbp["rows"] / mbp["seconds"]
    trades_rps = trades["rows"] / trades["seconds"]
    ratio = base["seconds"] / mbp["seconds"]
    print(
        f"ours MBP-10: {mbp['rows']:,} rows in {mbp['seconds']:.2f}s ({mbp_rps:,.0f}/s), peak RSS {mbp['peak_rss_mb']:.0f} MB"
    )
    print(
        f"ours trades: {trades['rows']:,} rows in {trades['seconds']:.2f}s ({trades_rps:,.0f}/s), peak RSS {trades['peak_rss_mb']:.0f} MB"
    )
    print(
        f"baseline DBNStore.to_parquet MBP-10: {base['seconds']:.2f}s, peak RSS {base['peak_rss_mb']:.0f} MB"
    )
    print(
        f"zstd decompression alone: {floor['seconds']:.2f}s, a ceiling of {floor['rows'] / floor['seconds']:,.0f} records/s"
    )
    print(
        f"ours options (0DTE definitions, BBO, trades, statistics): {opts['rows']:,} rows in "
        f"{opts['seconds']:.2f}s, peak RSS {opts['peak_rss_mb']:.0f} MB"
    )
    all_s = mbp["seconds"] + trades["seconds"] + opts["seconds"]
    print(f"Bronze of all inputs: {all_s:.1f}s (each step in its own process)")
    peak = max(mbp["peak_rss_mb"], trades["peak_rss_mb"], opts["peak_rss_mb"])
    print(
        f"BENCH bronze mbp10_rps={mbp_rps:.0f} trades_rps={trades_rps:.0f} ratio_vs_to_parquet={ratio:.2f} "
        f"peak_rss_mb={peak:.0f} all_inputs_s={all_s:.1f}"
    )


if __name__ == "__main__":
    main()
