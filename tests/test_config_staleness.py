"""Staleness from config: changing one config section makes exactly the assets that read it stale
in Dagster (their code versions carry that section's hash), and re-materializing them fixes it.

Each step runs in its own process, as a redeployed code location would: the config is read at
import (SPYMASTER_CONFIG), the instance (DAGSTER_HOME) persists between steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spymaster_core.sim import simulate_session

DATE = "2026-11-16"
PROBE = r"""
import json, sys
import dagster as dg
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest
from spymaster_assets.definitions import defs

mode, selection = sys.argv[1], sys.argv[2].split(",")
instance = dg.DagsterInstance.get()
graph = defs.resolve_asset_graph()
if mode == "materialize":
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in selection or k.to_user_string() in selection]
    res = dg.materialize([*defs.assets, *defs.asset_checks], partition_key=sys.argv[3], instance=instance,
                         resources=defs.resources, selection=dg.AssetSelection.assets(*keys))
    print(json.dumps(sorted(e.asset_key.to_user_string() for e in res.get_asset_materialization_events())))
else:
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    out = {}
    for k in graph.get_all_asset_keys():
        if graph.get(k).group_name not in selection:
            continue
        status = resolver.get_status(k, sys.argv[3])
        causes = sorted({c.category.value for c in resolver.get_stale_causes(k, sys.argv[3])})
        out[k.to_user_string()] = [status.value, causes]
    print(json.dumps(out))
"""


def _run(tmp: Path, config: dict | None, *args: str) -> object:
    env = {**os.environ, "DAGSTER_HOME": str(tmp / "dagster_home"), "SPYMASTER_LAKE": str(tmp / "lake"),
           "SPYMASTER_DATA": str(tmp), "SPYMASTER_DUCKDB": str(tmp / "spymaster.duckdb")}  # fmt: skip
    env.pop("SPYMASTER_CONFIG", None)
    if config is not None:
        (tmp / "config.json").write_text(json.dumps(config))
        env["SPYMASTER_CONFIG"] = str(tmp / "config.json")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args, DATE], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_config_section_change_stales_exactly_its_readers(tmp_path: Path) -> None:
    (tmp_path / "dagster_home").mkdir()
    simulate_session(DATE, 3, tmp_path / "lake" / "landing", scale="small")
    done = _run(tmp_path, None, "materialize", "bronze,silver")
    assert {"silver_labels", "silver_touches", "silver_features"} <= set(done)
    before = _run(tmp_path, None, "status", "bronze,silver")
    assert {k for k, (status, _c) in before.items() if status == "STALE"} == set()
    assert before["silver_labels"][0] == "FRESH"

    # Labels section changed: only silver_labels reads it (code_version("labels")).
    changed = {"labels": {"LOOKFORWARD_MINUTES": 10.0}}
    after = _run(tmp_path, changed, "status", "bronze,silver")
    stale = {k: causes for k, (status, causes) in after.items() if status == "STALE"}
    assert stale == {"silver_labels": ["CODE"]}

    # Re-materializing the stale asset under the new config makes it fresh again.
    assert _run(tmp_path, changed, "materialize", "silver_labels") == ["silver_labels"]
    fixed = _run(tmp_path, changed, "status", "bronze,silver")
    assert not [k for k, (status, _c) in fixed.items() if status == "STALE"]

    # A section read upstream: bands -> silver_touches, silver_features and silver_levels (code;
    # levels read the tick size through the gamma-wall fuel engine). Their dependents turn stale once
    # they have new data (Dagster: a parent's data version changed).
    bands = {**changed, "bands": {"TOUCH_BAND_pt": 1.5}}
    later = _run(tmp_path, bands, "status", "bronze,silver")
    stale = {k: causes for k, (status, causes) in later.items() if status == "STALE"}
    assert {k for k, c in stale.items() if "CODE" in c} == {
        "silver_touches",
        "silver_features",
        "silver_levels",
    }
    assert "silver_labels" not in stale
    assert _run(tmp_path, bands, "materialize", "silver_touches") == ["silver_touches"]
    last = _run(tmp_path, bands, "status", "bronze,silver")
    stale = {k: causes for k, (status, causes) in last.items() if status == "STALE"}
    assert stale == {
        "silver_levels": ["CODE"],
        "silver_features": ["CODE", "DATA"],
        "silver_labels": ["DATA"],
    }, stale
