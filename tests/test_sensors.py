"""The landing sensor turns new or changed landing files into run requests for their dates, once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from spymaster_assets.definitions import defs
from spymaster_assets.resources import LakeResource
from spymaster_assets.sensors import landing_sensor


def _land(root: Path, schema: str, date: str, name: str, body: bytes = b"dbn") -> Path:
    f = root / "landing" / "GLBX.MDP3" / schema / date / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(body)
    return f


def _evaluate(lake: Path, cursor: str | None) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"lake": LakeResource(root=str(lake))}
        )
        return landing_sensor(ctx)


def test_landing_sensor_requests_each_changed_date_once(tmp_path: Path) -> None:
    assert defs.resolve_sensor_def("landing_sensor").job_name == "daily_partition_job"
    lake = tmp_path / "lake"
    _land(lake, "trades", "2026-11-16", "a.trades.dbn.zst")
    _land(lake, "mbp-10", "2026-11-16", "a.mbp-10.dbn.zst")
    _land(lake, "trades", "2026-11-17", "b.trades.dbn.zst")
    _land(lake, "trades", "2026-11-21", "saturday.trades.dbn.zst")  # not a CME trading date
    first = _evaluate(lake, None)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-11-16", "2026-11-17"]
    assert set(json.loads(first.cursor)) == {"2026-11-16", "2026-11-17", "2026-11-21"}
    # Nothing changed: nothing requested.
    assert _evaluate(lake, first.cursor).run_requests == []
    # A file replaced on one date (new size and mtime): only that date again, with a new run key.
    f = _land(lake, "trades", "2026-11-17", "b.trades.dbn.zst", b"a longer dbn body")
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    third = _evaluate(lake, first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2026-11-17"]
    assert third.run_requests[0].run_key != next(
        r.run_key for r in first.run_requests if r.partition_key == "2026-11-17"
    )
