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


@pytest.mark.parametrize("cmd", ["demo", "simulate", "ingest", "bench"])
def test_help(cmd: str) -> None:
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0 and "Usage" in res.output


def test_simulate_then_ingest(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["simulate", "--date", "2026-11-16", "--seed", "1", "--out", str(tmp_path), "--scale", "small"]
    )
    assert res.exit_code == 0, res.output
    mbp = next(tmp_path.rglob("*.mbp-10.dbn.zst"))
    res = runner.invoke(app, ["ingest", str(mbp)])
    assert res.exit_code == 0 and "schema=mbp-10 dbn_version=3" in res.output
    assert re.search(r"mbp10: \d+ rows", res.output)


def test_ingest_bad_file_exits_1(tmp_path: Path) -> None:
    f = tmp_path / "x.dbn"
    f.write_bytes(b"")
    res = runner.invoke(app, ["ingest", str(f)])
    assert res.exit_code == 1 and "x.dbn: file is empty" in res.output


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
        r"BENCH bronze mbp10_rps=(\d+) trades_rps=(\d+) ratio_vs_to_parquet=([\d.]+) peak_rss_mb=(\d+)", last
    )
    assert m, last
    assert int(m.group(1)) > 0 and float(m.group(3)) > 0


@pytest.mark.slow
def test_bench_silver_quick_prints_its_bench_line(tmp_path: Path) -> None:
    last = _bench_line("silver", tmp_path)
    m = re.fullmatch(
        r"BENCH silver day_s=([\d.]+) scan_s=([\d.]+) ratio_vs_scan=([\d.]+) live_eps=(\d+)", last
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
