"""MBO book benchmark: the compiled book (`mbo_book_compiled.CompiledMboBook`) against the reference
pure-Python book (`mbo_book.MboBook`) in the same run, on the same records.

Inputs: the real ESH4 MBO day in ../shared/data (68,792 records, full depth: about 900 bid levels)
and a simulated day's MBO file (`--scale`, default `demo`; `--quick`: `small`), both decoded once.
Measured per input, after one warm-up call compiles the kernel (numba caches it on disk):
  - python_rps: records/s of `mbo_to_mbp10(compiled=False)`, records in -> Arrow MBP-10 rows out;
  - compiled_rps: the same through the compiled book, end to end;
  - kernel_rps: records/s inside the compiled loop alone (book updates and top-10 rows into
    arrays; the rest is building the Arrow table);
and the two books' outputs are compared (equal at every row and column, or the run fails).
Last line: `BENCH book mbo_rps=<compiled end-to-end, largest input> kernel_rps=<n> ratio_vs_python=<x>`.
Usage: python benchmarks/bench_book.py [--quick] [--scale S] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from spymaster_core.bronze.mbo_book import MboBook
from spymaster_core.bronze.mbo_book_compiled import CompiledMboBook
from spymaster_core.io import dbn

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("SPYMASTER_SAMPLES", str(REPO.parent / "shared" / "data")))
REAL_MBO = SAMPLES / "nautilus_trader/tests/test_data/databento/esh4-glbx-mdp3-20231225.mbo.dbn.zst"


def _records(path: Path) -> tuple[np.ndarray, dict[int, str]]:
    store = dbn.open_store(path)
    return dbn.store_records(store, path), dbn.instrument_symbols(store)


def _measure(label: str, a: np.ndarray, symbols: dict[int, str], python_cap: int) -> dict:
    CompiledMboBook(symbols).feed(a[:2000], final=True)  # compile (or load the cached kernel)
    book = CompiledMboBook(symbols)
    t0 = time.perf_counter()
    fast = book.feed(a, final=True)
    compiled_s = time.perf_counter() - t0
    ref_in = a[:python_cap]  # the pure-Python book on at most python_cap records (it is slow)
    t0 = time.perf_counter()
    ref = MboBook(symbols).feed(ref_in, final=True)
    python_s = time.perf_counter() - t0
    same = CompiledMboBook(symbols).feed(ref_in, final=True)
    if not same.equals(ref):
        raise SystemExit(f"{label}: the compiled book differs from the reference book")
    out = {
        "records": len(a),
        "python_rps": len(ref_in) / python_s,
        "compiled_rps": len(a) / compiled_s,
        "kernel_rps": len(a) / book.kernel_s,
        "rows": fast.num_rows,
    }
    print(f"{label:>10}: {len(a):>10,} records -> {fast.num_rows:>10,} rows | python {out['python_rps']:>11,.0f} rec/s "
          f"(on {len(ref_in):,}) | compiled {out['compiled_rps']:>11,.0f} rec/s end to end, kernel "
          f"{out['kernel_rps']:>11,.0f} rec/s | equal on {len(ref_in):,} records", flush=True)  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small simulated day")
    ap.add_argument("--scale", default=None, help="simulator scale of the simulated day (default demo)")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    scale = args.scale or ("small" if args.quick else "demo")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_book_"))
    results = []
    if REAL_MBO.exists():
        results.append(_measure("real ESH4", *_records(REAL_MBO), python_cap=10**9))
    else:
        print(f"real MBO sample not found at {REAL_MBO}: simulated input only")
    from spymaster_core.sim import simulate_session

    found = sorted((work / "landing").rglob("*.mbo.dbn.zst"))
    if not found:
        simulate_session("2026-11-16", 1, work / "landing", scale=scale, with_mbo=True)
        found = sorted((work / "landing").rglob("*.mbo.dbn.zst"))
    results.append(_measure(f"sim {scale}", *_records(found[0]), python_cap=2_000_000))
    big = max(results, key=lambda r: r["records"])
    print(f"BENCH book mbo_rps={big['compiled_rps']:.0f} kernel_rps={big['kernel_rps']:.0f} "
          f"ratio_vs_python={big['compiled_rps'] / big['python_rps']:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
