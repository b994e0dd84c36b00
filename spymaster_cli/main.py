"""The `spymaster` command line (Typer): demo, study, realism, bars (import, study, backtest), simulate,
inspect, ingest, live, bench.

The CLI is the one place that reaches both halves of the product; each command imports its
package lazily so `spymaster simulate` never loads Dagster.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import typer

app = typer.Typer(
    help="Spymaster: ES level break/bounce research platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold whole tables: rendering them hangs on an error
)


@contextlib.contextmanager
def logs_to_file(data_dir: Path, name: str) -> Iterator[tuple[Path, Callable[[str], None]]]:
    """Send library logging (INFO and up), Python warnings and whatever is written to sys.stdout or
    sys.stderr (dagster-dbt re-emits dbt's whole log on stdout, MLflow prints registrations on
    stderr) to `<data_dir>/logs/<name>-<YYYYmmdd-HHMMSS>.log` for the duration. Yields the log's
    path and an `echo` that still reaches the terminal (progress lines, the summary)."""
    import sys
    import time

    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    with open(path, "a", buffering=1) as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.handlers, root.level = [handler], logging.INFO
        logging.captureWarnings(True)
        real_stdout, real_stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        try:
            yield path, lambda line: typer.echo(line, file=real_stdout)
        finally:
            sys.stdout, sys.stderr = real_stdout, real_stderr
            logging.captureWarnings(False)
            root.handlers, root.level = saved


@app.command()
def demo(
    data_dir: Path = typer.Option(Path("data"), help="Where the lake, Dagster home and MLflow store go."),
    days: int = typer.Option(8, min=5, help="Number of simulated trading dates (at least 5)."),
    seed: int = typer.Option(7, help="Simulator seed."),
    samples: bool = typer.Option(True, help="Also land the real Databento samples from ../shared/data."),
) -> None:
    """Simulate sessions, land real samples, materialize every asset through Dagster, print a summary.
    Progress lines and the summary go to the terminal; Dagster, dbt and MLflow logs and warnings go
    to <data-dir>/logs/demo-<time>.log."""
    from spymaster_assets.demo import default_dates, run_demo

    failed: Exception | None = None
    typer.echo(f"full logs: {data_dir / 'logs'}/")
    with logs_to_file(data_dir, "demo") as (log_path, echo):
        try:
            run_demo(data_dir, default_dates(days), seed=seed, with_samples=samples, echo=echo)
        except Exception as exc:
            logging.getLogger("spymaster.demo").exception("demo failed")
            failed = exc
    if failed is not None:
        typer.echo(f"error: {type(failed).__name__}: {failed}\n(traceback and logs: {log_path})", err=True)
        raise typer.Exit(1) from failed


@app.command()
def study(
    days: int = typer.Option(60, min=4, help="Simulated trading dates (the last N up to 2026-11-20)."),
    seed: int = typer.Option(7, help="Simulator seed."),
    workdir: Path = typer.Option(Path("data/study"), help="Where the simulated dates are kept (reused)."),
) -> None:
    """The planted-regime study: simulated dates through Bronze, Silver and the engines; every head
    walk-forward against both baselines beside the oracle (the simulator's planted truth as a score)
    and the model's recovery of it, with each head's same-date AUC, per-date spread, within-date
    label-permutation check and grouped permutation importance (no Dagster). Prints the direction
    head's full figures, the table of heads, last
    `STUDY dates=<n> head=direction auc=<x> oracle_auc=<x> recovery=<x>`."""
    from ml import heads, sim_study
    from spymaster_core.config import load_config

    cfg = load_config()
    dates = sim_study.study_dates(days)
    typer.echo(f"simulating and building {len(dates)} dates under {workdir} ({dates[0]} .. {dates[-1]})")
    gold = sim_study.simulated_gold(dates, seed, workdir, cfg, echo=typer.echo)
    results = {}
    for h in heads.HEADS:
        typer.echo(f"[study] {h}: walk-forward, oracle, permutation checks")
        results[h] = sim_study.head_study(gold, cfg, h)
    res = results["direction"]
    for k, v in res.items():
        typer.echo(f"  {k:<42} {v:.3f}" if isinstance(v, float) else f"  {k:<42} {v}")
    for line in sim_study.render(results):
        typer.echo(line)

    def f(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else "n/a"

    typer.echo(
        f"STUDY dates={len(dates)} head=direction auc={f(res.get('model_auc'))} "
        f"oracle_auc={f(res.get('oracle_auc'))} recovery={f(res.get('recovery'))}"
    )


@app.command()
def realism(
    data_dir: Path = typer.Option(Path("data"), help="Data folder (its lake, and realism/ for --simulate)."),
    dates: str | None = typer.Option(
        None, help="Lake dates FIRST..LAST (default: every date the simulator landed in the lake)."
    ),
    simulate: int = typer.Option(0, min=0, help="Simulate this many dates instead of reading the lake."),
    seed: int = typer.Option(1, help="Simulator seed (with --simulate)."),
) -> None:
    """The simulator against real ES: price path, levels, tape and book statistics measured the same
    way on the real files in ../shared and on simulated dates, side by side with their bands; the
    table goes to the lake's gold/evaluation/realism.parquet. Last line: REALISM in_band=<k> of=<n>."""
    from spymaster_assets import realism_run
    from spymaster_core.config import load_config

    chosen = None
    if dates:
        first, _, last = dates.partition("..")
        chosen = [d.isoformat() for d in calendar_dates(first, last or first)]
    try:
        _, lines = realism_run.run(
            data_dir, cli_lake_root(data_dir), load_config(), chosen, simulate, seed, typer.echo
        )
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for line in lines:
        typer.echo(line)


def calendar_dates(first: str, last: str) -> list:
    """CME trading dates in [first, last] (YYYY-MM-DD); typer.BadParameter on a bad date."""
    import datetime as dt

    from spymaster_core import calendar

    try:
        return calendar.trading_dates(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    except ValueError as exc:
        raise typer.BadParameter(f"--dates {first}..{last}: {exc}") from exc


bars_app = typer.Typer(help="The bar tier: years of 1-minute bars (vendor CSV or Databento ohlcv-1m).")
app.add_typer(bars_app, name="bars")


@bars_app.command("import")
def bars_import(
    paths: list[Path] = typer.Argument(
        ..., help="1-minute bar CSVs: timestamp,open,high,low,close[,volume]."
    ),
    tz: str = typer.Option(
        "America/New_York",
        help="IANA time zone of naive timestamps (ISO timestamps with an offset ignore it).",
    ),
    data_dir: Path = typer.Option(
        Path("data"), help="Data dir: Dagster home, and the lake unless SPYMASTER_LAKE says otherwise."
    ),
) -> None:
    """Validate bar CSVs in full (a bad row stops the import before anything is written), land one slice
    per trading date and build the bar tier (Bronze 1-minute bars, levels, touches, labels) through
    Dagster, one run per stretch of consecutive dates; then print the outcome table."""
    from spymaster_assets.bars_import import import_bars
    from spymaster_core.config import load_config
    from spymaster_core.io import csv_bars
    from spymaster_core.research import bar_study

    for p in paths:
        if not p.is_file():
            raise typer.BadParameter(f"{p}: no such file", param_hint="PATHS")
    failed: Exception | None = None
    with logs_to_file(data_dir, "bars-import") as (log_path, echo):  # dbt's and Dagster's logs
        try:
            res = import_bars(paths, data_dir, tz, echo=echo)
        except Exception as exc:
            logging.getLogger("spymaster.bars").exception("bars import failed")
            failed = exc
    if isinstance(failed, csv_bars.BarsCSVError):
        typer.echo(f"error: {failed} (nothing was written)", err=True)
        raise typer.Exit(1) from failed
    if failed is not None:
        typer.echo(f"error: {type(failed).__name__}: {failed}\n(traceback and logs: {log_path})", err=True)
        raise typer.Exit(1) from failed
    typer.echo("[bars] rows written: " + ", ".join(f"{k}={v:,}" for k, v in sorted(res.rows.items())))
    cfg = load_config()
    dates = res.dates
    for line in bar_study.render(
        bar_study.study_from_lake(cli_lake_root(data_dir), cfg, dates), cfg, "imported bars"
    ):
        typer.echo(line)


@bars_app.command("study")
def bars_study(
    data_dir: Path = typer.Option(
        Path("data"), help="Data dir: the lake unless SPYMASTER_LAKE says otherwise."
    ),
    models: bool = typer.Option(
        False, help="Also train and judge the heads walk-forward on the bars and log them to MLflow."
    ),
    promote: bool = typer.Option(
        False,
        help="With --models: make the bar direction model the live champion if it passes the gate.",
    ),
) -> None:
    """Print the bar tier's outcome table over every date in the lake: sessions, touches per level
    kind, primary outcome shares in points and ATR units, and 1-minute return statistics; with
    --models, the heads against both baselines with bootstrap intervals (MLflow experiment
    break_bounce_bars; the direction model is registered, and with --promote becomes the champion
    that `spymaster live` scores from 1-minute bars, when it passes the promotion gate)."""
    from spymaster_core.config import load_config
    from spymaster_core.research import bar_study

    cfg = load_config()
    root = cli_lake_root(data_dir)
    st = bar_study.study_from_lake(root, cfg)
    if not st.sessions:
        typer.echo("no bar-tier dates in the lake: run `spymaster bars import FILE.csv` first", err=True)
        raise typer.Exit(2)
    for line in bar_study.render(st, cfg, "bar tier"):
        typer.echo(line)
    if models:
        from ml import bar_models

        res = bar_models.study(bar_models.bar_gold_from_lake(root, cfg), cfg)
        for line in bar_models.render(res, "heads"):
            typer.echo(line)
        run_id, version, promoted = bar_models.log_study(
            data_dir, res, {"sessions": len(st.sessions), "source": "lake bar tier"}, promote=promote
        )
        typer.echo(f"  MLflow run (experiment break_bounce_bars): {run_id}; registered version {version}")
        if promote:
            typer.echo(
                f"  version {version} is now the champion (live scores from 1-minute bars)"
                if promoted
                else "  not promoted: the direction head did not pass the promotion gate"
            )


@bars_app.command("backtest")
def bars_backtest(
    data_dir: Path = typer.Option(
        Path("data"), help="Data dir: the lake unless SPYMASTER_LAKE says otherwise."
    ),
    trades_of: str = typer.Option(
        "", "--trades-of", help="Also list the trades of this date (YYYY-MM-DD) for every policy."
    ),
) -> None:
    """Backtest the level-trade policies (always fade, always break, the level kind's base rate, the
    model) walk-forward on the bar tier in the lake, after spread, slippage and fees (config section
    `backtest`); print the policy table and log it to MLflow (experiment break_bounce_bars) with the
    equity curves. The Dagster asset bar_backtest_trades and the dbt mart gold_backtest hold the same
    results for the UI (built by `spymaster bars import`)."""
    from ml import backtest
    from spymaster_core.config import load_config

    cfg = load_config()
    inputs = backtest.inputs_from_lake(cli_lake_root(data_dir), cfg)
    if inputs.touches.is_empty():
        typer.echo("no bar-tier touches in the lake: run `spymaster bars import FILE.csv` first", err=True)
        raise typer.Exit(2)
    res = backtest.run(inputs, cfg)
    for line in backtest.render(res, cfg, "level trades after costs (USD per contract)"):
        typer.echo(line)
    run_id = backtest.log_backtest(data_dir, res, cfg, {"source": "lake bar tier"})
    typer.echo(f"  MLflow run (experiment break_bounce_bars, equity.png): {run_id}")
    if trades_of:
        import polars as pl

        day = res.trades.filter(pl.col("date") == trades_of)
        if day.is_empty():
            typer.echo(f"no trades on {trades_of} (test dates {res.test_dates[0]}..{res.test_dates[-1]})")
        for r in day.sort("entry_ns", "policy").iter_rows(named=True):
            typer.echo(
                f"  {r['policy']:<13} {r['level_id']:<8} {r['direction']:<10} {r['decision']:<5} "
                f"entry {r['entry_px']:.2f} exit {r['exit_px']:.2f} ({r['exit_reason']}) "
                f"{r['pnl_pt']:+.2f} pt {r['pnl_usd']:+.2f} USD"
            )


@app.command()
def simulate(
    date: str = typer.Option(..., help="Trading date YYYY-MM-DD."),
    seed: int = typer.Option(0, help="Random seed: same date and seed give identical files."),
    out: Path = typer.Option(..., help="Output directory (landing layout GLBX.MDP3/<schema>/<date>/)."),
    scale: str = typer.Option(
        "demo",
        help="Size of the day: demo, small, realistic (real ES trade rates), bench (>= 5 M MBP-10 records), "
        "or real (a real ES day: >= 12 M MBP-10 records, 500 k trades, a 400-instrument 0DTE chain with "
        ">= 8 M BBO updates).",
    ),
    mbo: bool = typer.Option(False, help="Also write the futures' market-by-order (MBO) file."),
) -> None:
    """Write a simulated session (ES trades + MBP-10 [+ MBO], 0DTE options) as DBN files."""
    from spymaster_core.sim import simulate_session

    try:
        res = simulate_session(date, seed, out, scale=scale, with_mbo=mbo)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    for kind, path in res.files.items():
        typer.echo(f"{kind}: {path}")
    typer.echo(f"records: {res.counts}; planted reactions: {len(res.planted)}")


@app.command()
def inspect(
    path: Path = typer.Argument(..., help="A DBN file (or trades CSV) to decode and summarise."),
) -> None:
    """Decode one DBN file (or trades CSV) and print the normalised tables' row counts; writes nothing."""
    from spymaster_core.io import csv_trades, dbn

    logging.basicConfig(level=logging.WARNING)
    try:
        if path.suffix == ".csv":
            t = csv_trades.read_trades_csv(path)
            typer.echo(f"trades: {t.num_rows} rows")
            return
        dec = dbn.decode_file(path)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{path}: schema={dec.schema} dbn_version={dec.version} dataset={dec.dataset}")
    for kind, table in dec.tables.items():
        typer.echo(f"  {kind}: {table.num_rows} rows")
    for schema, reason in dec.skipped:
        typer.echo(f"  skipped {schema}: {reason}")


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="DBN files and/or trades CSVs to land."),
    data_dir: Path = typer.Option(
        Path("data"), help="Data dir: Dagster home, and the lake unless SPYMASTER_LAKE says otherwise."
    ),
) -> None:
    """Land files in the lake (landing/<dataset>/<schema>/<trading date>/) and build Bronze for
    every date they landed on, through Dagster (the runs show in `make dagster`)."""
    from spymaster_assets.ingest import ingest as run_ingest

    for p in paths:
        if not p.is_file():
            raise typer.BadParameter(f"{p}: no such file", param_hint="PATHS")
    try:
        run_ingest(paths, data_dir, echo=typer.echo)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def gateway_token(token: str | None, token_file: Path | None) -> str | None:
    """The gateway's token from --token / SPYMASTER_TOKEN or --token-file (first line), None when none
    is given (no authentication). An empty or blank token is refused (typer.BadParameter): it would
    silently turn authentication off."""
    import os

    if token_file is not None:
        if token is not None:
            raise typer.BadParameter(
                "give the token once: --token/SPYMASTER_TOKEN or --token-file", param_hint="--token-file"
            )
        try:
            lines = token_file.read_text().splitlines()
        except OSError as exc:
            raise typer.BadParameter(f"{token_file}: {exc.strerror}", param_hint="--token-file") from exc
        token = lines[0] if lines else ""
    elif token is None and "SPYMASTER_TOKEN" in os.environ:
        token = os.environ["SPYMASTER_TOKEN"]  # click drops an empty variable: catch it here
    if token is not None and not token.strip():
        raise typer.BadParameter(
            "the gateway token is empty: that would turn authentication off. Unset SPYMASTER_TOKEN (and "
            "drop --token/--token-file) to run without a token, or give a non-empty one",
            param_hint="--token",
        )
    return None if token is None else token.strip()


def cli_lake_root(data_dir: Path):  # noqa: ANN202 - a LakePath (Path or s3:// URL)
    """`SPYMASTER_LAKE` when set (a path or s3:// URL), else `<data_dir>/lake`."""
    import os

    from spymaster_core.io import lake

    value = os.environ.get("SPYMASTER_LAKE")
    return lake.resolve_root(value) if value else data_dir / "lake"


def replay_landing(lake_root, date: str, data_dir: Path, simulate: bool, seed: int) -> tuple[Path, bool]:  # noqa: ANN001
    """The local landing folder to replay `date` from, and whether the lake's levels apply to it.

    The lake's landing when it holds the date's futures files. Otherwise, with `simulate`, a simulated
    session written to `<data_dir>/simulated/landing` (never into the lake's landing, where the
    landing sensor would turn it into Bronze); without it, a `typer.BadParameter` saying what to do."""
    from databento_dbn import Schema

    from spymaster_core.bronze import builders as bronze
    from spymaster_core.io import landing as landing_io

    def has_futures(landing: Path) -> bool:
        return bool(
            bronze.landing_files(landing, Schema.TRADES, date)
            or bronze.landing_files(landing, Schema.MBP_10, date)
        )

    landing = landing_io.local_landing(lake_root, date)
    if has_futures(landing):
        return landing, True
    if not simulate:
        raise typer.BadParameter(
            f"no futures trades or mbp-10 files for {date} under {landing_io.landing_root(lake_root)}: "
            "land the date's files first (`spymaster ingest FILE ...`), or pass --simulate to replay a "
            f"simulated session (written under {data_dir / 'simulated'}, not the lake)",
            param_hint="--date",
        )
    sim_landing = data_dir / "simulated" / "landing"
    if not has_futures(sim_landing):
        from spymaster_core.sim import simulate_session

        typer.echo(f"simulating {date} (seed {seed}) into {sim_landing}")
        simulate_session(date, seed, sim_landing, scale="demo")
    return sim_landing, False


@app.command()
def live(
    date: str = typer.Option(..., help="Trading date to replay (YYYY-MM-DD)."),
    speed: float = typer.Option(10.0, min=0.0, help="Replay speed x event time; 0 = as fast as possible."),
    nats_url: str | None = typer.Option(
        None,
        "--nats",
        help="Existing NATS server (nats://host:port), or a cluster's nodes comma-separated "
        "(deploy/nats); default: start a private one.",
    ),
    nats_replicas: int | None = typer.Option(
        None,
        min=1,
        max=5,
        help="Copies of each JetStream stream: 3 on a three-node cluster. Default: existing streams "
        "as they are, new ones with one copy.",
    ),
    data_dir: Path = typer.Option(
        Path("data"),
        help="Data dir: MLflow champion, NATS storage, work files (lake: SPYMASTER_LAKE or <data-dir>/lake).",
    ),
    host: str = typer.Option("127.0.0.1", help="Gateway bind address."),
    port: int = typer.Option(8000, help="Gateway port."),
    token: str | None = typer.Option(
        None,
        envvar="SPYMASTER_TOKEN",
        help="Token the gateway requires on every route but /health. A value given here shows in `ps`: "
        "prefer the SPYMASTER_TOKEN environment variable or --token-file.",
    ),
    token_file: Path | None = typer.Option(
        None, help="File whose first line is the gateway token (kept out of `ps` and shell history)."
    ),
    model: bool = typer.Option(True, help="Score with the MLflow champion when one is promoted."),
    exit_when_done: bool = typer.Option(False, help="Stop once the replay has been processed."),
    simulate: bool = typer.Option(
        False, help="When the lake has no files for the date, replay a simulated session (outside the lake)."
    ),
    seed: int = typer.Option(7, help="Simulator seed for --simulate."),
    start: str | None = typer.Option(
        None, "--from", help="HH:MM ET: warm the engines from the files up to here, replay from here."
    ),
    end: str | None = typer.Option(None, "--to", help="HH:MM ET: stop the replay here."),
    live_feed: bool = typer.Option(
        False, "--live", help="Feed from Databento Live (needs DATABENTO_API_KEY) instead of files."
    ),
    symbol: str | None = typer.Option(
        None, help="--live: the ES front month (raw symbol, e.g. ESZ6); default by the roll calendar."
    ),
) -> None:
    """Replay a date (or, with --live, stream it from Databento Live) over NATS JetStream through
    the streaming core to the WebSocket gateway."""
    from spymaster_core.config import load_config
    from spymaster_live.service import LiveOptions, LiveService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = load_config()
    except ValueError as exc:  # names the file and the field
        raise typer.BadParameter(str(exc), param_hint="SPYMASTER_CONFIG") from exc
    token = gateway_token(token, token_file)
    data_dir = data_dir.resolve()
    lake_root = cli_lake_root(data_dir)
    if live_feed:
        import os

        from spymaster_core import calendar

        if not os.environ.get("DATABENTO_API_KEY"):
            raise typer.BadParameter("--live needs DATABENTO_API_KEY in the environment", param_hint="--live")
        symbol = symbol or calendar.front_month_symbol(date)
        typer.echo(f"live feed: Databento GLBX.MDP3, front month {symbol}, 0DTE options on it")
        landing, from_lake = data_dir / "live_work" / "landing", False
    else:
        try:
            landing, from_lake = replay_landing(lake_root, date, data_dir, simulate, seed)
        except ValueError as exc:  # an unreadable landing file, named
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    opts = LiveOptions(
        date=date, landing=landing, lake_root=lake_root, data_dir=data_dir, speed=speed, nats_url=nats_url,
        host=host, port=port, token=token, use_model=model, exit_when_replayed=exit_when_done, start_et=start, end_et=end,
        live_symbol=symbol if live_feed else None, levels_from_lake=from_lake, nats_replicas=nats_replicas,
    )  # fmt: skip
    _run_live(LiveService(opts, cfg), date, speed, host, port)


def _run_live(svc, date: str, speed: float, host: str, port: int) -> None:  # noqa: ANN001
    """Run the service until it stops or Ctrl-C; print where to look and what it processed. A
    start-up error (bad landing file, no NATS, port in use) is printed with its cause and exits 1
    at once: the service task is watched while waiting for it to be ready."""
    import asyncio

    async def main() -> None:
        task = asyncio.create_task(svc.run())
        ready = asyncio.create_task(svc.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():  # the service ended before it was ready: its exception is the cause
            ready.cancel()
            await task
            raise RuntimeError("the live service stopped before it was ready")
        typer.echo(
            f"live {date} at {speed}x on {svc.url}\n  dashboard: http://{host}:{port}/\n"
            f"  levels:    http://{host}:{port}/api/levels\n  stream:    ws://{host}:{port}/ws/stream\n"
            f"  health:    http://{host}:{port}/health"
        )
        await task

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        typer.echo("stopped")
    except Exception as exc:
        logging.getLogger("spymaster.live").debug("start-up failed", exc_info=True)
        typer.echo(f"error: live {date} stopped: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    st = svc.core_stats
    typer.echo(
        f"replayed {svc.replay_stats.published:,} events ({svc.replay_stats.eps:,.0f}/s); core processed "
        f"{st.processed:,}, malformed {st.malformed}, duplicates skipped {st.duplicates}, payloads {st.payloads:,}"
    )


@app.command()
def bench(
    name: str = typer.Argument("bronze", help="Which benchmark: bronze, silver, live or bars."),
    quick: bool = typer.Option(False, help="Small day, under 60 s."),
    workdir: Path | None = typer.Option(None, help="Keep (and reuse) the simulated day here."),
    scale: str | None = typer.Option(
        None,
        help="bronze, silver, live: the simulated day's size; `real` is a real ES day with its 0DTE chain "
        "(>= 12 M MBP-10 records, >= 8 M option BBO updates; ~11 GB RAM to simulate).",
    ),
) -> None:
    """Run a benchmark from benchmarks/ (figures as ratios against a baseline run in the same process)."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / f"bench_{name}.py"
    if not script.exists():
        raise typer.BadParameter(f"no benchmark {script} (benchmarks/ ships with the source checkout)")
    args = [
        sys.executable,
        str(script),
        *(["--quick"] if quick else []),
        *(["--workdir", str(workdir)] if workdir else []),
        *(["--scale", scale] if scale else []),
    ]
    raise typer.Exit(subprocess.run(args, check=False).returncode)


if __name__ == "__main__":
    app()
