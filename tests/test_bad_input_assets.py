"""Bad input through the Bronze assets: one clear error naming the file; the lake keeps the good partition."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from spymaster_core.io import lake, landing
from tests.conftest import ESM8_CSV

DATE = "2018-05-07"


def _materialize(defs, instance) -> dg.ExecuteInJobResult:
    return dg.materialize(
        list(defs.assets),
        partition_key=DATE,
        instance=instance,
        resources=defs.resources,
        selection=dg.AssetSelection.assets("bronze_futures_trades"),
        raise_on_error=False,
    )


def _error_text(res: dg.ExecuteInJobResult) -> str:
    ev = [e for e in res.all_events if e.is_step_failure][0]
    return str(ev.step_failure_data.error.cause or ev.step_failure_data.error)


@pytest.mark.parametrize("bad", ["csv", "empty_dbn", "truncated_dbn"])
def test_bad_landing_file_fails_clearly_and_keeps_partition(
    bad: str, samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lake"
    monkeypatch.setenv("SPYMASTER_LAKE", str(root))
    from spymaster_assets.definitions import defs

    land = root / "landing"
    landing.land_csv(ESM8_CSV, land)
    instance = dg.DagsterInstance.ephemeral()
    assert _materialize(defs, instance).success
    before = lake.read_partition(root, "futures_trades", DATE)
    assert before.height == 74_907

    if bad == "csv":
        f = land / "CSV" / "trades" / DATE / "ESM8_late.csv"
        f.write_text("ts_utc,price\n2018-05-07T15:00:00Z,2670.5\n2018-05-07T25:61:00Z,2670.25\n")
        expected = "ESM8_late.csv: line 3: field ts_utc: bad timestamp"
    else:
        src = samples / "databento-python/tests/data/GLBX.MDP3/test_data.trades.dbn.zst"
        d = land / "GLBX.MDP3" / "trades" / DATE
        d.mkdir(parents=True)
        f = d / "bad.trades.dbn"
        if bad == "empty_dbn":
            f.write_bytes(b"")
            expected = "bad.trades.dbn: file is empty"
        else:
            raw = (
                __import__("zstandard").ZstdDecompressor().decompress(src.read_bytes(), max_output_size=10**7)
            )
            f.write_bytes(raw[:-10])
            expected = "bad.trades.dbn: DBN file is truncated"
    res = _materialize(defs, instance)
    assert not res.success
    assert expected in _error_text(res)
    after = lake.read_partition(root, "futures_trades", DATE)
    assert after.equals(before)
    shutil.rmtree(land)


def test_rematerialization_is_idempotent(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lake"
    monkeypatch.setenv("SPYMASTER_LAKE", str(root))
    from spymaster_assets.definitions import defs

    landing.land_csv(ESM8_CSV, root / "landing")
    instance = dg.DagsterInstance.ephemeral()
    versions = []
    for _ in range(2):
        res = _materialize(defs, instance)
        ev = res.get_asset_materialization_events()[0]
        versions.append(ev.materialization.tags["dagster/data_version"])
    assert versions[0] == versions[1] and len(versions[0]) == 32
