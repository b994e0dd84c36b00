"""The whole code location against a committed snapshot (as dagster-open-platform's
`test_defs.py::test_assets_snapshot`): every asset's key, deps, group, partitions, the config
sections of its code version and its checks; every job, schedule and sensor. A renamed dependency
that silently became an external asset, a lost check or a job that no longer selects an asset shows
up as a diff here.

After an intended change, regenerate with:
    SPYMASTER_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_code_location_snapshot.py
and review the diff of tests/snapshots/code_location.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from spymaster_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "code_location.json"


def _partitions(pd: dg.PartitionsDefinition | None) -> str | None:
    return None if pd is None else f"{type(pd).__name__}: {pd}"


def _config_sections(code_version: str | None) -> list[str] | str | None:
    """`0.1.0-labels+levels-<hash>` -> ["labels", "levels"]; `...-noconfig` -> []; dagster-dbt's
    SQL hash -> "dbt sql hash"; no code version -> None."""
    if code_version is None:
        return None
    parts = code_version.split("-")
    if len(parts) < 2:
        return "dbt sql hash"
    return [] if parts[1] == "noconfig" else parts[1].split("+")


def code_location_snapshot() -> dict:
    """The code location as plain JSON-able data (no hashes: a default change is not a diff)."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "config_sections": _config_sections(node.code_version),
            "materializable": node.is_materializable,
            "checks": sorted(c.name for c in graph.get_check_keys_for_assets({key})),
        }
    repo = defs.get_repository_def()
    jobs = {
        j.name: sorted(k.to_user_string() for k in graph.asset_keys_for_job(j.name))
        for j in sorted(repo.get_all_jobs(), key=lambda j: j.name)
        if not j.name.startswith("__")
    }
    schedules = {
        s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
        for s in defs.schedules
    }
    sensors = {
        s.name: {"job": s.job_name if s.targets else None, "default": s.default_status.value}
        for s in defs.sensors
    }
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_code_location_matches_snapshot() -> None:
    snap = code_location_snapshot()
    text = json.dumps(snap, indent=1, sort_keys=True) + "\n"
    if os.environ.get("SPYMASTER_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}: run with SPYMASTER_UPDATE_SNAPSHOT=1"
    expected = json.loads(SNAPSHOT.read_text())
    for part in ("assets", "jobs", "schedules", "sensors"):
        assert snap[part] == expected[part], f"{part} differ from {SNAPSHOT.name} (see the module docstring)"


def test_no_external_assets() -> None:
    """Every asset key in the graph is one we can materialize: a dep on a misspelt key (the model
    once depended on `bars_2m` instead of `silver_bars_2m`) turns into an external asset."""
    graph = defs.resolve_asset_graph()
    external = sorted(
        k.to_user_string() for k in graph.get_all_asset_keys() if not graph.get(k).is_materializable
    )
    assert external == []


def test_model_sees_its_bar_input() -> None:
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("break_bounce_model")).parent_keys}
    assert {"gold_training", "silver_bars_2m"} <= parents
