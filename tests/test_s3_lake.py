"""The lake on object storage: `SPYMASTER_LAKE=s3://bucket/prefix` against moto's S3 server on
loopback (a real HTTP endpoint; s3fs and DuckDB talk to it as they would to AWS).

Unit level: atomic replacement and multi-part merge of partitions, reads, dates, the landing
sensor's digests and the local landing mirror. End to end: Bronze, Silver and the Gold dbt marts of
one simulated date built with the lake on S3, then checked from S3 itself, through DuckDB reading
S3, and against the same date built on a local lake.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from spymaster_assets.resources import LakeResource
from spymaster_assets.sensors import landing_digests
from spymaster_core.io import lake
from spymaster_core.sim import simulate_session
from spymaster_live.bus import free_port

s3fs = pytest.importorskip("s3fs")

REPO = Path(__file__).resolve().parents[1]
BUCKET = "spymaster-test"
DATE = "2026-11-16"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the bucket created; its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start")
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        s3fs.S3FileSystem(endpoint_url=url, key="testing", secret="testing").mkdir(BUCKET)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh lake root on the S3 server (AWS variables set for this test); its URL."""
    for k, v in {**AWS_ENV, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(k, v)
    return f"s3://{BUCKET}/{request.node.name}"


def _fs() -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(use_listings_cache=False)


def test_partition_write_read_replace_on_s3(s3: str) -> None:
    lake.write_partition(s3, "touches", DATE, pl.DataFrame({"a": [1, 2]}))
    lake.write_partition(s3, "touches", "2026-11-17", pl.DataFrame({"a": [5]}))
    lake.write_partition(s3, "touches", DATE, pl.DataFrame({"a": [3]}))
    assert lake.read_partition(s3, "touches", DATE)["a"].to_list() == [3]
    assert lake.written_dates(s3, "touches") == [DATE, "2026-11-17"]
    assert lake.read_table(s3, "touches")["a"].sort().to_list() == [3, 5]
    assert lake.read_partition(s3, "labels", DATE) is None
    keys = _fs().find(s3.removeprefix("s3://"))
    assert sorted(k.rsplit("/", 2)[-2] for k in keys) == [f"date={DATE}", "date=2026-11-17"]


def test_failed_partition_write_keeps_previous_object(s3: str) -> None:
    lake.write_partition(s3, "labels", DATE, pl.DataFrame({"a": [1, 2]}))
    with pytest.raises(RuntimeError, match="crash mid-write"):
        with lake.PartitionWriter(s3, "labels", DATE) as w:
            pq.write_table(pl.DataFrame({"a": [9]}).to_arrow(), w.path / "part-0.parquet")
            raise RuntimeError("crash mid-write")
    assert lake.read_partition(s3, "labels", DATE)["a"].to_list() == [1, 2]
    assert not w.path.exists()  # the local staging folder is gone too


def test_multi_part_partition_becomes_one_object(s3: str) -> None:
    """MBP-10 is written in parts; on S3 they are merged (in order) into one atomically-PUT object,
    and objects of an older layout under the partition are removed after the upload."""
    stale = f"{lake.partition_dir(s3, 'futures_mbp10', DATE)}/part-00007.parquet"
    lake.write_file(stale, pl.DataFrame({"ts": [0]}))
    with lake.PartitionWriter(s3, "futures_mbp10", DATE) as w:
        for i in range(3):
            pq.write_table(
                pl.DataFrame({"ts": [10 * i + 1, 10 * i + 2]}).to_arrow(), w.path / f"part-{i:05d}.parquet"
            )
        w.commit()
    files = lake.partition_files(s3, "futures_mbp10", DATE)
    assert [str(f).rsplit("/", 1)[-1] for f in files] == ["part-00000.parquet"]
    assert lake.read_partition(s3, "futures_mbp10", DATE)["ts"].to_list() == [1, 2, 11, 12, 21, 22]


def test_landing_on_s3_sensor_digests_and_local_mirror(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = simulate_session(DATE, 3, tmp_path / "landing", scale="small")
    assert sim is not None
    fs = _fs()
    fs.put(str(tmp_path / "landing") + "/", f"{s3.removeprefix('s3://')}/landing/", recursive=True)
    res = LakeResource(root=s3)
    digests = landing_digests(res.landing)
    assert list(digests) == [DATE]
    assert landing_digests(res.landing) == digests  # stable while nothing changes

    monkeypatch.setenv("SPYMASTER_CACHE", str(tmp_path / "cache"))
    local = res.local_landing(DATE)
    mirrored = sorted(
        p.relative_to(local).as_posix()
        for p in local.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    landed = sorted(
        p.relative_to(tmp_path / "landing").as_posix()
        for p in (tmp_path / "landing" / "GLBX.MDP3").rglob("*")  # market data, not the sim's truth/
        if p.is_file()
    )
    assert mirrored == landed
    # Replacing one file changes that date's digest and the mirror follows it.
    victim = next(k for k in fs.find(f"{s3.removeprefix('s3://')}/landing") if "/trades/" in k)
    fs.pipe(victim, b"not a dbn file")
    assert landing_digests(res.landing)[DATE] != digests[DATE]
    res.local_landing(DATE)
    mirrored_victim = local / victim.split("/landing/", 1)[1]
    assert mirrored_victim.read_bytes() == b"not a dbn file"
    # A replacement of the same size is caught by its ETag, not missed by a size check.
    fs.pipe(victim, b"NOT A DBN FILE")
    res.local_landing(DATE)
    assert mirrored_victim.read_bytes() == b"NOT A DBN FILE"
    # A file removed from landing leaves the mirror too.
    fs.rm(victim)
    res.local_landing(DATE)
    assert not mirrored_victim.exists()


def test_databento_download_to_an_s3_landing_resumes(
    s3: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`databento_landing` on an S3 lake: the first run uploads six files; the second mirrors them
    back, verifies and keeps them, fetching nothing; switching the option BBO to mbp-1 uploads that
    file and deletes the superseded bbo-1s object."""
    import dagster as dg
    import databento

    from spymaster_assets.databento_resource import DatabentoResource
    from spymaster_assets.defs.landing import databento_landing
    from tests.fake_databento import FakeHistorical, Universe

    u = Universe.build(DATE, tmp_path / "sim")
    clients: list[FakeHistorical] = []
    monkeypatch.setattr(
        databento, "Historical", lambda key: clients.append(FakeHistorical(u, key)) or clients[-1]
    )
    monkeypatch.setenv("SPYMASTER_CACHE", str(tmp_path / "cache"))
    mds = []
    for bbo in ("bbo-1s", "bbo-1s", "mbp-1"):
        res = dg.materialize(
            [databento_landing],
            partition_key=DATE,
            resources={
                "lake": LakeResource(root=s3),
                "databento": DatabentoResource(api_key="k", option_bbo_schema=bbo),
            },
        )
        mat = res.asset_materializations_for_node("databento_landing")[0]
        mds.append({k: v.value for k, v in mat.metadata.items()})
    fetches = [sum(e["kind"] == "get_range" for e in c.log) for c in clients]
    assert fetches == [6, 0, 1] and [m["kept"] for m in mds] == [0, 6, 5]
    keys = sorted(k.rsplit("/", 3)[-3] for k in _fs().find(f"{s3.removeprefix('s3://')}/landing"))
    assert keys == ["definition", "mbp-1", "mbp-10", "statistics", "trades", "trades"]


PROBE = r"""
import sys
import dagster as dg
from spymaster_assets.definitions import defs
from spymaster_assets.defs.gold import GOLD_DAILY_MODELS

graph = defs.resolve_asset_graph()
keys = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in ("bronze", "silver")]
keys += [dg.AssetKey(m) for m in GOLD_DAILY_MODELS]
res = dg.materialize([*defs.assets, *defs.asset_checks], partition_key=sys.argv[1],
                     instance=dg.DagsterInstance.ephemeral(), resources=defs.resources,
                     selection=dg.AssetSelection.assets(*keys))
print("ok", res.success)
"""
TABLES = (
    "futures_trades",
    "futures_mbp10",
    "options_definitions",
    "bars_2m",
    "levels",
    "touches",
    "features",
    "labels",
)


def _build(root: str, tmp: Path, extra: dict[str, str]) -> None:
    env = {
        **os.environ,
        **extra,
        "SPYMASTER_LAKE": root,
        "SPYMASTER_DATA": str(tmp),
        "SPYMASTER_DUCKDB": str(tmp / "gold.duckdb"),
        "SPYMASTER_CACHE": str(tmp / "cache"),
    }
    env.pop("SPYMASTER_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, DATE], env=env, cwd=tmp, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0 and "ok True" in out.stdout, out.stderr[-4000:]


@pytest.mark.slow
def test_bronze_silver_gold_on_s3_equal_local(s3: str, s3_endpoint: str, tmp_path: Path) -> None:
    landing = tmp_path / "local" / "lake" / "landing"
    simulate_session(DATE, 1, landing, scale="demo")  # the demo-scale day has level touches
    _fs().put(str(landing) + "/", f"{s3.removeprefix('s3://')}/landing/", recursive=True)
    (tmp_path / "remote").mkdir()
    _build(s3, tmp_path / "remote", {**AWS_ENV, "AWS_ENDPOINT_URL": s3_endpoint})
    _build(str(tmp_path / "local" / "lake"), tmp_path / "local", {})

    # Nothing but the landing mirror and DuckDB went to local disk in the S3 run.
    local_files = {
        p.relative_to(tmp_path / "remote").parts[0] for p in (tmp_path / "remote").rglob("*") if p.is_file()
    }
    assert local_files <= {"cache", "gold.duckdb", "gold.duckdb.lock", "gold.duckdb.wal"}, local_files
    # Every tier on S3, one object per partition, equal to the local lake's tables.
    for table in (*TABLES, "gold_training", "gold_daily_touches"):
        assert lake.written_dates(s3, table) == [DATE], table
        assert len(lake.partition_files(s3, table, DATE)) == 1, table
        remote = lake.read_partition(s3, table, DATE)
        local = lake.read_partition(tmp_path / "local" / "lake", table, DATE)
        assert remote.equals(local), table
    n_touches = lake.read_partition(s3, "touches", DATE).height
    assert n_touches > 0

    # DuckDB reads the S3 lake directly (fsspec, as dbt's profile does) and the Gold file dbt built.
    con = duckdb.connect(str(tmp_path / "remote" / "gold.duckdb"), read_only=True)
    try:
        con.register_filesystem(_fs())
        on_s3 = con.execute(
            f"select count(*) from read_parquet('{s3}/silver/touches/date=*/*.parquet', hive_partitioning=false)"
        ).fetchone()[0]
        gold = con.execute("select count(*) from gold_training where date = ?", [DATE]).fetchone()[0]
    finally:
        con.close()
    assert on_s3 == gold == n_touches


def test_partition_version_follows_content_without_download(s3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data version of an S3 partition comes from ETags: equal content, equal version; new
    content, new version; and no object is read to compute it."""
    lake.write_partition(s3, "levels", DATE, pl.DataFrame({"a": [1, 2]}))
    v1 = lake.files_version(lake.partition_files(s3, "levels", DATE))
    lake.write_partition(s3, "levels", DATE, pl.DataFrame({"a": [1, 2]}))

    def no_reads(*a: object, **k: object) -> None:
        raise AssertionError("files_version read an object")

    with monkeypatch.context() as m:
        m.setattr(lake, "open_read", no_reads)
        assert lake.files_version(lake.partition_files(s3, "levels", DATE)) == v1
    lake.write_partition(s3, "levels", DATE, pl.DataFrame({"a": [1, 3]}))
    assert lake.files_version(lake.partition_files(s3, "levels", DATE)) != v1
