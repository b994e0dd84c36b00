"""The `spymaster` CLI: every command has --help; simulate/ingest work; the quick Bronze benchmark
prints its BENCH line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spymaster_cli.main import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cmd", ["demo", "study", "simulate", "inspect", "ingest", "live", "bench"])
def test_help(cmd: str) -> None:
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0 and "Usage" in res.output


def test_simulate_then_inspect(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["simulate", "--date", "2026-11-16", "--seed", "1", "--out", str(tmp_path), "--scale", "small"]
    )
    assert res.exit_code == 0, res.output
    mbp = next(tmp_path.rglob("*.mbp-10.dbn.zst"))
    res = runner.invoke(app, ["inspect", str(mbp)])
    assert res.exit_code == 0 and "schema=mbp-10 dbn_version=3" in res.output
    assert re.search(r"mbp10: \d+ rows", res.output)


def test_inspect_bad_file_exits_1(tmp_path: Path) -> None:
    f = tmp_path / "x.dbn"
    f.write_bytes(b"")
    res = runner.invoke(app, ["inspect", str(f)])
    assert res.exit_code == 1 and "x.dbn: file is empty" in res.output


def test_ingest_bad_file_exits_1_and_lands_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SPYMASTER_LAKE", "DAGSTER_HOME", "SPYMASTER_DUCKDB", "SPYMASTER_DATA"):
        monkeypatch.setenv(var, "")  # empty = unset for the CLI; restored after the test
    f = tmp_path / "x.dbn"
    f.write_bytes(b"")
    res = runner.invoke(app, ["ingest", str(f), "--data-dir", str(tmp_path / "data")])
    assert res.exit_code == 1 and "x.dbn" in res.output and "file is empty" in res.output
    assert not list((tmp_path / "data" / "lake").rglob("*.dbn*"))


@pytest.mark.slow
def test_ingest_lands_the_real_mbo_day_and_builds_its_bronze(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`spymaster ingest` on the real ESH4 MBO day: the file lands on its trading date and Bronze is
    built through Dagster (MBP-10 rebuilt by our book, trades from its T records)."""
    from spymaster_core.io import lake
    from tests.conftest import MBO_DAY

    for var in ("SPYMASTER_LAKE", "DAGSTER_HOME", "SPYMASTER_DUCKDB", "SPYMASTER_DATA"):
        monkeypatch.setenv(var, "")  # empty = unset for the CLI; restored after the test
    data = tmp_path / "data"
    res = runner.invoke(app, ["ingest", str(MBO_DAY), "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert (data / "lake/landing/GLBX.MDP3/mbo/2023-12-26" / MBO_DAY.name).exists()
    assert "futures_mbp10=49,996" in res.output and "futures_trades=2,973" in res.output
    assert lake.read_partition(data / "lake", "futures_mbp10", "2023-12-26").height == 49_996
    assert (data / "dagster_home").is_dir()


def test_simulate_bad_date() -> None:
    res = runner.invoke(app, ["simulate", "--date", "2026-12-25", "--out", "/tmp/never"])
    assert res.exit_code != 0 and "not a CME_Equity trading date" in res.output


def _bench_line(name: str, workdir: Path) -> str:
    """The last line `spymaster bench <name> --quick` prints."""
    out = subprocess.run(
        [sys.executable, "-m", "spymaster_cli.main", "bench", name, "--quick", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1]


@pytest.mark.slow
def test_quick_bronze_benchmark_prints_bench_line(tmp_path: Path) -> None:
    last = _bench_line("bronze", tmp_path)
    m = re.fullmatch(
        r"BENCH bronze mbp10_rps=(\d+) trades_rps=(\d+) ratio_vs_to_parquet=([\d.]+) peak_rss_mb=(\d+) "
        r"all_inputs_s=([\d.]+)",
        last,
    )
    assert m, last
    assert int(m.group(1)) > 0 and float(m.group(3)) > 0


@pytest.mark.slow
def test_bench_silver_quick_prints_its_bench_line(tmp_path: Path) -> None:
    last = _bench_line("silver", tmp_path)
    m = re.fullmatch(
        r"BENCH silver day_s=([\d.]+) scan_s=([\d.]+) ratio_vs_scan=([\d.]+) live_eps=(\d+) peak_rss_mb=(\d+)",
        last,
    )
    assert m, last
    assert float(m.group(1)) > 0 and int(m.group(4)) > 0


@pytest.mark.slow
def test_bench_live_quick_prints_its_bench_line(tmp_path: Path) -> None:
    last = _bench_line("live", tmp_path)
    m = re.fullmatch(
        r"BENCH live core_eps=(\d+) publish_ratio_vs_raw=([\d.]+) ws_p50_ms=([\d.]+) ws_p99_ms=([\d.]+)", last
    )
    assert m, last
    assert int(m.group(1)) > 0 and float(m.group(2)) > 0 and float(m.group(3)) <= float(m.group(4))


def test_live_help_names_the_replay_options() -> None:
    from typer.testing import CliRunner

    from spymaster_cli.main import app

    out = CliRunner().invoke(app, ["live", "--help"]).output
    assert all(opt in out for opt in ("--date", "--speed", "--nats", "--from", "--to"))


def test_live_without_files_says_what_to_do_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date with no landing files is an error naming the landing folder and --simulate; nothing
    is simulated into the lake's landing (where the landing sensor would make Bronze of it)."""
    monkeypatch.setenv("SPYMASTER_LAKE", str(tmp_path / "lake"))
    res = runner.invoke(app, ["live", "--date", "2026-11-18", "--data-dir", str(tmp_path / "data")])
    assert res.exit_code == 2, res.output
    assert "--simulate" in res.output and "2026-11-18" in res.output
    assert not (tmp_path / "lake").exists()


def test_live_simulate_writes_outside_the_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spymaster_cli.main import cli_lake_root, replay_landing

    monkeypatch.setenv("SPYMASTER_LAKE", str(tmp_path / "lake"))
    data = tmp_path / "data"
    root = cli_lake_root(data)
    assert root == (tmp_path / "lake").resolve()  # SPYMASTER_LAKE, not <data-dir>/lake
    landing, from_lake = replay_landing(root, "2026-11-18", data, simulate=True, seed=3)
    assert landing == data / "simulated" / "landing" and not from_lake
    assert list(landing.rglob("*.mbp-10.dbn.zst"))
    assert not (tmp_path / "lake").exists()
    monkeypatch.setenv("SPYMASTER_LAKE", "s3://bucket/prefix")
    assert cli_lake_root(data) == "s3://bucket/prefix"


def test_logs_to_file_keeps_the_terminal_to_progress_lines(
    tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    """What the demo runs under: library logs, warnings, and dbt/MLflow output written to
    stdout/stderr go to data/logs/; only the progress lines reach the terminal."""
    import logging
    import warnings

    from spymaster_cli.main import logs_to_file

    with logs_to_file(tmp_path, "demo") as (path, echo):
        echo("[materialize 1/1] 2026-11-16: 11 assets")
        print("1 of 10 START sql incremental model main.gold_training")  # dagster-dbt re-emits dbt's log
        print("Successfully registered model 'x'.", file=sys.stderr)  # MLflow's eprint
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # pytest's own filters would otherwise take it
            warnings.warn("a library deprecation", UserWarning, stacklevel=1)
        logging.getLogger("mlflow.store").info("Creating initial MLflow database tables...")
    out, err = capfd.readouterr()
    assert out.strip() == "[materialize 1/1] 2026-11-16: 11 assets" and err == ""
    log = path.read_text()
    assert path.parent == tmp_path / "logs"
    for line in (
        "START sql incremental",
        "Successfully registered",
        "a library deprecation",
        "initial MLflow",
    ):
        assert line in log
    print("after")  # stdout is restored
    assert capfd.readouterr().out == "after\n"


def test_ingest_refuses_a_truncated_real_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted download (the real ESM4 mbp-1 file, cut mid-frame as published) is refused with
    the file named and exit 1; nothing lands and no Bronze is built."""
    truncated = REPO.parent / "shared/real/databento/esm4_2024-06-10_1030ET.mbp-1.truncated.dbn.zst"
    if not truncated.exists():
        pytest.skip(f"{truncated} missing")
    for var in ("SPYMASTER_LAKE", "DAGSTER_HOME", "SPYMASTER_DUCKDB", "SPYMASTER_DATA"):
        monkeypatch.setenv(var, "")
    res = runner.invoke(app, ["ingest", str(truncated), "--data-dir", str(tmp_path / "data")])
    assert res.exit_code == 1, res.output
    assert "mbp-1.truncated.dbn.zst" in res.output and "truncated" in res.output
    assert not list((tmp_path / "data" / "lake").rglob("*.dbn.zst"))


def _live(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "spymaster_cli.main", "live", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}, check=False,
    )  # fmt: skip


def test_live_start_up_errors_exit_with_the_cause(tmp_path: Path) -> None:
    """Start-up errors end `spymaster live` with the cause and a non-zero exit, never a silent hang:
    a truncated file landed for the date, and a config value out of range."""
    import shutil
    import time

    truncated = REPO.parent / "shared/real/databento/esm4_2024-06-10_1030ET.mbp-1.truncated.dbn.zst"
    if not truncated.exists():
        pytest.skip(f"{truncated} missing")
    lake = tmp_path / "lake"
    dest = lake / "landing/GLBX.MDP3/mbp-10/2024-06-10/cut.mbp-10.dbn.zst"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(truncated, dest)
    env = {"SPYMASTER_LAKE": str(lake), "SPYMASTER_CONFIG": ""}
    t0 = time.monotonic()
    out = _live(
        ["--date", "2024-06-10", "--data-dir", str(tmp_path / "data"), "--port", "0", "--no-model"], env
    )
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "cut.mbp-10.dbn.zst" in out.stderr and "truncated" in out.stderr
    assert time.monotonic() - t0 < 100
    # The service itself fails at start-up (its futures files are fine, a definition file is cut):
    # it used to die while the CLI waited forever for "ready".
    from spymaster_core.sim import simulate_session

    res = simulate_session("2026-11-16", 1, lake / "landing", scale="small")
    defs = Path(res.files["definition"])
    defs.write_bytes(defs.read_bytes()[: defs.stat().st_size // 2])
    t0 = time.monotonic()
    out = _live(
        ["--date", "2026-11-16", "--data-dir", str(tmp_path / "data"), "--port", "0", "--no-model"], env
    )
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert defs.name in out.stderr and "truncated" in out.stderr
    assert time.monotonic() - t0 < 100
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"live": {"SNAP_INTERVAL_MS": 0}}')
    out = _live(
        ["--date", "2024-06-10", "--data-dir", str(tmp_path / "data")], {**env, "SPYMASTER_CONFIG": str(cfg)}
    )
    assert out.returncode == 2 and "bad.json" in out.stderr and "SNAP_INTERVAL_MS" in out.stderr


def test_gateway_token_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty SPYMASTER_TOKEN (or token file) is refused, not taken as "no authentication"; a token
    file keeps the token out of `ps`; giving it twice is an error."""
    from typer import BadParameter

    from spymaster_cli.main import gateway_token

    monkeypatch.delenv("SPYMASTER_TOKEN", raising=False)
    assert gateway_token(None, None) is None
    monkeypatch.setenv("SPYMASTER_TOKEN", "")
    with pytest.raises(BadParameter, match="empty"):
        gateway_token(None, None)
    monkeypatch.delenv("SPYMASTER_TOKEN")
    f = tmp_path / "token"
    f.write_text("s3cret\n")
    assert gateway_token(None, f) == "s3cret"
    with pytest.raises(BadParameter, match="once"):
        gateway_token("x", f)
    f.write_text("   \n")
    with pytest.raises(BadParameter, match="empty"):
        gateway_token(None, f)
    res = runner.invoke(app, ["live", "--help"])
    assert "--token-file" in res.output and "ps" in res.output
