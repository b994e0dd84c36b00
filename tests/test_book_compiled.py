"""The compiled MBO book equals the reference pure-Python book at every row and column: on every MBO
sample in ../shared/data (Databento's and NautilusTrader's, DBN v1-v3), on the two-file ESH4 replay,
chunked at every boundary size, on random multi-instrument streams that hit every rule and every
growth path, and on the simulator's MBO day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from databento_dbn import F_LAST, F_SNAPSHOT

from spymaster_core.bronze.mbo_book import MboBook, iter_mbo_to_mbp10, mbo_to_mbp10
from spymaster_core.bronze.mbo_book_compiled import CompiledMboBook
from tests.conftest import MBO_DAY, SAMPLES


def _mbo_samples() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*mbo*.dbn*") if p.is_file())


def _both(files: list[Path] | Path, chunk: int | None = None) -> tuple[pa.Table, pa.Table]:
    if chunk is None:
        return mbo_to_mbp10(files, compiled=False), mbo_to_mbp10(files)
    fs = files if isinstance(files, list) else [files]
    ref = pa.concat_tables(list(iter_mbo_to_mbp10(fs, chunk_records=chunk, compiled=False)))
    return ref, pa.concat_tables(list(iter_mbo_to_mbp10(fs, chunk_records=chunk)))


def test_every_mbo_sample_is_found(samples) -> None:  # noqa: ANN001
    assert len(_mbo_samples()) >= 8


@pytest.mark.parametrize("path", _mbo_samples(), ids=lambda p: p.name)
def test_equal_on_every_real_sample(path: Path) -> None:
    ref, fast = _both(path)
    assert ref.num_rows > 0 and fast.equals(ref)
    for chunk in (1, 7) if ref.num_rows < 1000 else (997,):
        ref_c, fast_c = _both(path, chunk)
        assert fast_c.equals(ref_c) and fast_c.equals(ref), chunk


def test_equal_on_two_files_through_one_book() -> None:
    files = [MBO_DAY.with_name("esh4-glbx-mdp3-20231224.mbo.dbn.zst"), MBO_DAY]
    ref, fast = _both(files)
    assert fast.equals(ref) and ref.num_rows > 49_996
    ref_c, fast_c = _both(files, 5003)
    assert fast_c.equals(ref_c)


def _random_stream(rng: np.random.Generator, n: int, n_inst: int) -> np.ndarray:
    """MBO records over `n_inst` instruments: adds (some re-using live order ids, some on side N,
    some of size 0), partial and full cancels, modifies (some of unknown orders), clears, trades and
    fills, and snapshots (a run of `F_SNAPSHOT` records, interleaving instruments) now and then."""
    from spymaster_core.sim.writer import empty_records

    a = empty_records("mbo", n)
    live: list[tuple[int, int]] = []
    i = 0
    ts = 1_795_000_000_000_000_000
    while i < n:
        if rng.random() < 0.01 and i + 20 < n:  # a snapshot of 5-20 records
            m = int(rng.integers(5, 21))
            for j in range(m):
                iid = int(rng.integers(1, n_inst + 1))
                oid = int(rng.integers(1, 400))
                a["instrument_id"][i + j], a["order_id"][i + j] = iid, oid
                a["action"][i + j], a["side"][i + j] = b"A", rng.choice([b"B", b"A"])
                a["price"][i + j] = int((6000 + rng.integers(-20, 21) * 0.25) * 1e9)
                a["size"][i + j] = int(rng.integers(1, 9))
                a["flags"][i + j] = F_SNAPSHOT | (F_LAST if j == m - 1 and rng.random() < 0.5 else 0)
                live.append((iid, oid))
            i += m
            continue
        iid = int(rng.integers(1, n_inst + 1))
        r = rng.random()
        if r < 0.45 or not live:
            act, oid = "A", int(rng.integers(1, 400))
            live.append((iid, oid))
        else:
            iid, oid = live[int(rng.integers(len(live)))]
            act = str(
                rng.choice(["C", "C", "M", "T", "F", "R", "N"], p=[0.35, 0.2, 0.3, 0.06, 0.05, 0.02, 0.02])
            )
        a["instrument_id"][i], a["order_id"][i], a["action"][i] = iid, oid, act.encode()
        a["side"][i] = rng.choice([b"B", b"A", b"N"], p=[0.48, 0.48, 0.04])
        a["price"][i] = int((6000 + rng.integers(-40, 41) * 0.25) * 1e9)
        a["size"][i] = int(rng.integers(0, 12))
        a["flags"][i] = F_LAST if rng.random() < 0.7 else 0
        i += 1
    a["ts_event"] = ts + np.arange(n) * 1000
    a["ts_recv"] = a["ts_event"] + 500
    a["sequence"] = np.arange(n)
    return a


@pytest.mark.parametrize("seed", range(6))
def test_equal_on_random_streams_with_every_growth_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = _random_stream(rng, 6000, n_inst=1 + seed)
    symbols = {i: f"ES{i}" for i in range(1, 8)}
    ref = MboBook(symbols).feed(a, final=True)
    for capacity in ((1, 1, 1), (8, 64, 1 << 16)):
        fast = CompiledMboBook(symbols, capacity=capacity).feed(a, final=True)
        assert fast.equals(ref), capacity
    # Chunked, with the same chunk boundaries for both books.
    ref_book, fast_book = MboBook(symbols), CompiledMboBook(symbols, capacity=(1, 1, 1))
    bounds = np.sort(rng.choice(np.arange(1, len(a)), 40, replace=False))
    parts = np.split(a, bounds)
    ref_t = [ref_book.feed(p) for p in parts] + [ref_book.end_file()]
    fast_t = [fast_book.feed(p) for p in parts] + [fast_book.end_file()]
    assert pa.concat_tables(fast_t).equals(pa.concat_tables(ref_t))
    assert pa.concat_tables(fast_t).equals(ref)


@pytest.mark.slow
def test_equal_on_the_simulated_mbo_day(tmp_path: Path) -> None:
    from spymaster_core.sim import simulate_session

    res = simulate_session(dt.date(2026, 11, 16), 3, tmp_path / "landing", scale="small", with_mbo=True)
    ref, fast = _both(res.files["mbo"])
    assert ref.num_rows > 10_000 and fast.equals(ref)
