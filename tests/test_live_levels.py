"""The live replay's levels are Silver's levels (one rule, `research.date_levels`): with the SMA
warm-up from the lake's bars of the previous dates, SMA_200 and SMA_400 exist from the open.

Before, the live replay rebuilt levels from landing alone: on a simulated date (data from 04:00 ET)
it had no SMA_400 at all and SMA_200 only from 10:40 ET, while Silver had both from the open."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from spymaster_core import calendar
from spymaster_core.config import DEFAULT_CONFIG
from spymaster_core.io import lake
from spymaster_core.research.session import load_session
from spymaster_core.sim import simulate_session

DATES = ["2026-11-12", "2026-11-13", "2026-11-16", "2026-11-17"]  # 3 warm-up dates, then the replayed one


@pytest.mark.slow
def test_live_levels_equal_silver_levels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "lake"
    monkeypatch.setenv("SPYMASTER_LAKE", str(root))
    monkeypatch.setenv("SPYMASTER_DATA", str(tmp_path))
    from spymaster_assets.definitions import defs

    land = root / "landing"
    for d in DATES:
        simulate_session(d, 5, land, scale="small")
    graph = defs.resolve_asset_graph()
    bronze = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "bronze"]
    instance = dg.DagsterInstance.ephemeral()
    for d in DATES:
        res = dg.materialize(
            list(defs.assets),
            partition_key=d,
            instance=instance,
            resources=defs.resources,
            selection=dg.AssetSelection.assets(*bronze, "silver_bars_2m", "silver_levels"),
        )
        assert res.success
    date = DATES[-1]
    silver = lake.read_partition(root, "levels", date).sort("level_id")
    open_ns = calendar.et_ns(date, "09:30")
    sma = silver.filter(pl.col("kind").is_in(["SMA_200", "SMA_400"]))
    assert set(sma["kind"]) == {"SMA_200", "SMA_400"} and (sma["valid_from_ns"].min() <= open_ns)

    # The lake holds the date's Silver levels: the live session uses them.
    s = load_session(land, date, tmp_path / "work", DEFAULT_CONFIG, root)
    assert s.notes["levels"] == "lake" and s.levels.sort("level_id").equals(silver)

    # No Silver levels partition for the date (a replay before Silver ran): the same rule, with
    # the warm-up bars from the lake, gives the same frame.
    shutil.rmtree(lake.partition_dir(root, "levels", date))
    s = load_session(land, date, tmp_path / "work", DEFAULT_CONFIG, root)
    assert s.notes["levels"].startswith("computed with warm-up")
    assert s.levels.sort("level_id").equals(silver)

    # Outside the lake (a simulated session): no warm-up, so no SMA_400 from the open.
    s = load_session(land, date, tmp_path / "work", DEFAULT_CONFIG, None)
    early = s.levels.filter((pl.col("kind") == "SMA_400") & (pl.col("valid_from_ns") <= open_ns))
    assert early.height == 0
