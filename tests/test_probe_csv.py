"""Probe of bad trades CSVs (issue 18): every variant is refused with the file, line, field and value
named, or (for the wrong-date file) with the partition named, as a DBN file would be. Before, 9 of
the 24 variants were imported silently wrong (size `abc` became 1, NaN/inf prices, side `Q` ...)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spymaster_core.bronze import builders as bronze
from spymaster_core.bronze.errors import NotInPartitionError
from spymaster_core.io.csv_trades import TradesCSVError, read_trades_csv

GOOD = ["2026-11-16T14:30:00.000001Z,6000.25,2,B", "2026-11-16T14:30:01.000001Z,6000.50,1,A"]
# (bad row, the field the error must name)
VARIANTS = [
    ("2026-11-16T14:30:02Z,NaN,1,B", "price"), ("2026-11-16T14:30:02Z,inf,1,B", "price"),
    ("2026-11-16T14:30:02Z,-inf,1,B", "price"), ("2026-11-16T14:30:02Z,1e300,1,B", "price"),
    ("2026-11-16T14:30:02Z,0,1,B", "price"), ("2026-11-16T14:30:02Z,-6000,1,B", "price"),
    ("2026-11-16T14:30:02Z,abc,1,B", "price"), ("2026-11-16T14:30:02Z,,1,B", "price"),
    ("2026-11-16T14:30:02Z,6000.25,abc,B", "size"), ("2026-11-16T14:30:02Z,6000.25,-500,B", "size"),
    ("2026-11-16T14:30:02Z,6000.25,0,B", "size"), ("2026-11-16T14:30:02Z,6000.25,1.5,B", "size"),
    ("2026-11-16T14:30:02Z,6000.25,,B", "size"), ("2026-11-16T14:30:02Z,6000.25,1,Q", "side"),
    ("2026-11-16T14:30:02Z,6000.25,1,BUYER", "side"), ("2026-11-16T14:30:02Z,6000.25,1,7", "side"),
    ("not-a-time,6000.25,1,B", "ts_utc"), (",6000.25,1,B", "ts_utc"), ("2026-13-45T99:00:00Z,6000.25,1,B", "ts_utc"),
    ("2026-11-16 14:30:02,6000.25,1,B", None), ("2026-11-16T14:30:02Z,6000.25", None),
    ("2026-11-16T14:30:02Z,6000.25,1,B,extra", None), ("2026-11-16T14:30:02Z", None),
]  # fmt: skip


def test_bad_csv_rows_are_refused_with_line_field_and_value(tmp_path: Path) -> None:
    silent = []
    for i, (row, field) in enumerate(VARIANTS):
        f = tmp_path / f"v{i}.csv"
        f.write_text("\n".join(["ts_utc,price,size,side", *GOOD, row]) + "\n")
        try:
            t = read_trades_csv(f)
        except TradesCSVError as exc:
            assert f.name in str(exc), str(exc)
            if field is not None:
                assert "line 4" in str(exc) and f"field {field}" in str(exc), str(exc)
            continue
        if field is not None or t.num_rows != 3:
            silent.append(row)
    print(f"PROBE csv variants={len(VARIANTS) + 1} silently_wrong={len(silent)}")
    assert silent == []


def test_a_csv_of_another_date_is_refused_like_a_dbn_file(tmp_path: Path) -> None:
    d = tmp_path / "landing" / "CSV" / "trades" / "2026-11-17"
    d.mkdir(parents=True)
    (d / "ES_trades.csv").write_text("\n".join(["ts_utc,price,size,side", *GOOD]) + "\n")
    with pytest.raises(
        NotInPartitionError, match="ES_trades.csv: none of its 2 trades .* partition 2026-11-17"
    ):
        bronze.futures_trades(tmp_path / "landing", "2026-11-17")
