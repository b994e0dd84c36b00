"""Probes of damaged DBN input (issue 18, the figures to keep true): a cut or a flipped byte is either
refused with the file named, or decodes to exactly the original records, never to fewer or altered
records in silence. Bounded: a few dozen variants per family, a few seconds each family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spymaster_core.io import dbn
from tests.conftest import MBO_DAY

REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "databento"


def _decode(path: Path) -> np.ndarray | None:
    """All records, or None when the file is refused (DBNReadError)."""
    try:
        return dbn.store_records(dbn.open_store(path), path)
    except dbn.DBNReadError:
        return None


def test_cuts_of_the_real_mbo_day_are_refused(samples: Path, tmp_path: Path) -> None:
    """66 cuts of the real ESH4 MBO day (68,792 records): none may decode to a partial record set.
    Before the frame walk, 11 of 66 decoded silently (down to 16,384 or 0 records)."""
    raw = MBO_DAY.read_bytes()
    full = _decode(MBO_DAY)
    assert full is not None and len(full) == 68_792
    cuts = sorted({100, 92 + 8, *np.linspace(93, len(raw) - 1, 64).astype(int).tolist()})
    silent, refused = [], 0
    for cut in cuts:
        f = tmp_path / "cut.mbo.dbn.zst"
        f.write_bytes(raw[:cut])
        got = _decode(f)
        if got is None:
            refused += 1
        elif len(got) != len(full):
            silent.append((cut, len(got)))
    print(f"PROBE dbn_cuts real_mbo cuts={len(cuts)} refused={refused} silent={len(silent)}")
    assert silent == [] and refused == len(cuts)


def test_the_published_truncated_mbp1_file_is_refused() -> None:
    """A real Databento file that ends mid-frame as published (13,107 records decode silently)."""
    f = REAL / "esm4_2024-06-10_1030ET.mbp-1.truncated.dbn.zst"
    if not f.exists():
        pytest.skip(f"{f} missing (../shared/real)")
    with pytest.raises(dbn.DBNReadError, match=r"mbp-1\.truncated\.dbn\.zst: truncated"):
        dbn.decode_file(f)
    assert _decode(REAL / "esm4_2024-06-10_1030-1035ET.trades.dbn.zst") is not None  # the whole one reads


def test_byte_flips_in_simulated_files_never_alter_records_silently(tmp_path: Path) -> None:
    """78 single-byte flips across a simulated trades file: each is refused (zstd content checksum,
    as Databento writes it) or decodes to the original records. Before, 42 of 78 decoded altered."""
    from spymaster_core.sim import simulate_session

    res = simulate_session("2026-11-16", 2, tmp_path / "landing", scale="small")
    src = Path(res.files["trades"])
    raw = src.read_bytes()
    full = _decode(src)
    assert full is not None and len(full) > 1000
    altered, refused = 0, 0
    for pos in np.linspace(100, len(raw) - 1, 78).astype(int).tolist():
        b = bytearray(raw)
        b[pos] ^= 0x5A
        f = tmp_path / "flip.trades.dbn.zst"
        f.write_bytes(bytes(b))
        got = _decode(f)
        if got is None:
            refused += 1
        elif got.tobytes() != full.tobytes():
            altered += 1
    print(f"PROBE dbn_flips simulated flips=78 refused={refused} altered_silently={altered}")
    assert altered == 0
