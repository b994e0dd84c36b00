"""Atomic partition writes: a failed write leaves the previous good partition untouched."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from spymaster_core.io import lake


def test_write_read_replace(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "touches", "2026-11-16", pl.DataFrame({"a": [1, 2]}))
    lake.write_partition(tmp_path, "touches", "2026-11-16", pl.DataFrame({"a": [3]}))
    assert lake.read_partition(tmp_path, "touches", "2026-11-16")["a"].to_list() == [3]
    assert lake.written_dates(tmp_path, "touches") == ["2026-11-16"]
    assert not [p for p in (tmp_path / "silver/touches").iterdir() if p.name.startswith(".")]


def test_failed_write_keeps_previous_partition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake.write_partition(tmp_path, "labels", "2026-11-16", pl.DataFrame({"a": [1, 2]}))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        lake.write_partition(tmp_path, "labels", "2026-11-16", pl.DataFrame({"a": [9]}))
    assert lake.read_partition(tmp_path, "labels", "2026-11-16")["a"].to_list() == [1, 2]
    assert not [p for p in (tmp_path / "silver/labels").iterdir() if p.name.startswith(".")]


def test_unknown_table(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown lake table 'nope'"):
        lake.partition_dir(tmp_path, "nope", "2026-11-16")


def test_partition_writer_without_commit_keeps_previous(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, "futures_mbp10", "2026-11-16", pl.DataFrame({"a": [1]}))
    with (
        pytest.raises(RuntimeError, match="decode failed"),
        lake.PartitionWriter(tmp_path, "futures_mbp10", "2026-11-16") as w,
    ):
        (w.path / "part-0.parquet").write_bytes(b"half a file")
        raise RuntimeError("decode failed")
    assert lake.read_partition(tmp_path, "futures_mbp10", "2026-11-16")["a"].to_list() == [1]
    assert [p.name for p in (tmp_path / "bronze/futures/mbp10/symbol=ES").iterdir()] == ["date=2026-11-16"]


def test_a_writer_killed_between_the_commit_renames_is_repaired(tmp_path: Path) -> None:
    """SIGKILL between the two renames of a commit left the partition only in `.old-*` (and its
    staging folder behind): the next writer of the partition restores the previous good data before
    anything else and removes what dead writers left; a live writer's folders are never touched."""
    import os
    import subprocess

    good = pl.DataFrame({"x": [1, 2, 3]})
    final = Path(lake.write_partition(tmp_path, "touches", "2026-11-16", good))
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    old = final.with_name(f".{final.name}.old-{dead.pid}-abcd1234")
    os.replace(final, old)  # the first rename happened, the second did not
    stray = final.with_name(f".{final.name}.tmp-{dead.pid}-0badf00d")
    stray.mkdir()
    (stray / "part-0.parquet").write_bytes(b"half")
    mine = final.with_name(f".{final.name}.tmp-{os.getpid()}-11111111")  # a live writer's staging
    mine.mkdir()
    assert lake.read_partition(tmp_path, "touches", "2026-11-16") is None
    done = lake.recover_partition(final)
    assert lake.read_partition(tmp_path, "touches", "2026-11-16").equals(good)
    assert not stray.exists() and not old.exists() and mine.exists()
    assert any("restored" in d for d in done)
    # A writer that then fails leaves the restored data as it was.
    with pytest.raises(RuntimeError), lake.PartitionWriter(tmp_path, "touches", "2026-11-16"):
        raise RuntimeError("killed step")
    assert lake.read_partition(tmp_path, "touches", "2026-11-16").equals(good)
