"""Databento Historical downloads into landing (DESIGN §3), as a Dagster resource.

The API key comes from `DATABENTO_API_KEY` and is never logged or written to metadata. Every
download first asks Databento for the cost of every request it will fetch (files already landed
and verified are kept) and refuses when the total is above `max_cost_usd`. Files land as `landing/GLBX.MDP3/<schema>/<date>/<name>.dbn.zst`.
Reference: https://databento.com/docs/api-reference-historical
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from databento_dbn import Schema, SType

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.io import dbn, lake

DATASET = S.DATASET
NO_KEY_HELP = (
    "DATABENTO_API_KEY is not set. Create a key at https://databento.com/portal/keys (sign-up includes "
    "free credit), then `export DATABENTO_API_KEY=db-...`. Without a key, land files yourself under "
    "landing/GLBX.MDP3/<schema>/<YYYY-MM-DD>/ or run `make demo` on simulated data."
)
# ES options trade under several parent roots: quarterly ES, Friday weeklies EW1-4, Mon-Thu dailies E1A..E5D.
OPTION_PARENTS = [
    "ES.OPT",
    "EW.OPT",
    *[f"EW{w}.OPT" for w in range(1, 5)],
    *[f"E{w}{d}.OPT" for w in range(1, 6) for d in "ABCD"],
]


@dataclass(frozen=True)
class DownloadRequest:
    """One Historical `timeseries.get_range` call."""

    schema: Schema
    symbols: tuple[str, ...]
    stype_in: SType
    start_ns: int
    end_ns: int

    def query(self) -> dict[str, Any]:
        """Keyword arguments shared by `metadata.get_cost` and `timeseries.get_range`."""
        return {
            "dataset": DATASET,
            "start": self.start_ns,
            "end": self.end_ns,
            "symbols": list(self.symbols),
            "schema": str(self.schema),
            "stype_in": str(self.stype_in),
        }

    def filename(self, date: str) -> str:
        root = "es-fut" if self.symbols == ("ES.FUT",) else "es-opt"
        return f"glbx-mdp3-{date}.{root}.{self.schema}.dbn.zst"


def plan(date: str) -> list[DownloadRequest]:
    """The requests for one trading date: its partition window (`calendar.partition_window_ns`: from
    the previous trading date's close, so the halt and pre-open auction are included, to its close).
    Futures trades and MBP-10 by the `ES.FUT` parent; option definitions, trades, BBO (mbp-1) and
    statistics by the option parents (0DTE filtering happens in Bronze)."""
    start, close_ns = calendar.partition_window_ns(date)
    fut = [
        DownloadRequest(s, ("ES.FUT",), SType.PARENT, start, close_ns) for s in (Schema.TRADES, Schema.MBP_10)
    ]
    opt = [
        DownloadRequest(s, tuple(OPTION_PARENTS), SType.PARENT, start, close_ns)
        for s in (Schema.DEFINITION, Schema.TRADES, Schema.MBP_1, Schema.STATISTICS)
    ]
    return fut + opt


def verify_landed(path: Path, request: DownloadRequest, name: str | None = None) -> None:
    """Check a downloaded file against its request by its own DBN metadata: a complete DBN file
    (`dbn.open_store`: not empty, not cut short) of the requested dataset and schema. Raises
    ValueError naming the file (`name`, default the path's), the field, what was asked for and
    what the file holds."""
    name = name or path.name
    try:
        store = dbn.open_store(path)
    except dbn.DBNReadError as exc:
        raise ValueError(f"{name}: not a complete DBN file: {exc}") from exc
    for field, want, got in (
        ("dataset", DATASET, str(store.metadata.dataset)),
        ("schema", str(request.schema), str(store.schema)),
    ):
        if want != got:
            raise ValueError(f"{name}: DBN metadata {field} is {got!r}, the request asked for {want!r}")


@dataclass(frozen=True)
class DownloadReport:
    """What `DatabentoResource.download` did: every file of the date in request order, which were
    fetched now and which were already there and verified (kept, not fetched again), and the USD
    cost Databento quoted for each request fetched."""

    files: list[Path]
    fetched: list[Path]
    kept: list[Path]
    costs_usd: list[tuple[DownloadRequest, float]]

    @property
    def total_usd(self) -> float:
        return float(sum(c for _, c in self.costs_usd))

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata: file names, bytes, fetched/kept counts and a cost table per request."""
        table = "| schema | symbols | cost (USD) |\n|---|---|---|\n" + "\n".join(
            f"| {r.schema} | {len(r.symbols)} ({r.symbols[0]}{', ...' if len(r.symbols) > 1 else ''}) | {c:.2f} |"
            for r, c in self.costs_usd
        )
        return {
            "files": [f.name for f in self.files],
            "bytes": sum(f.stat().st_size for f in self.files),
            "fetched": len(self.fetched),
            "kept": len(self.kept),
            "cost_usd": dg.MetadataValue.float(self.total_usd),
            "costs": dg.MetadataValue.md(table),
        }


class DatabentoResource(dg.ConfigurableResource):
    """Historical client wrapper: `download(date, landing)`, resumable, priced before it fetches.

    `api_key` is set in the code location as `dg.EnvVar("DATABENTO_API_KEY")` (resolved by Dagster
    at run time, never read from os.environ here, never logged); empty raises `dagster.Failure`
    saying how to get one."""

    api_key: str = ""
    max_cost_usd: float = 25.0

    def _client(self) -> Any:
        if not self.api_key:
            raise dg.Failure(description=NO_KEY_HELP)
        import databento as db

        return db.Historical(self.api_key)

    def download(self, date: str, landing: Path, log: Any = None) -> DownloadReport:
        """Download the date's files into landing, resumably: a file already there that verifies
        against its request (`verify_landed`) is kept and not fetched or paid for again; a missing,
        half-written or corrupt one is fetched. The cost of every request to fetch is asked first,
        and the total must be within `max_cost_usd`. Each download goes to a temp name, is verified,
        then renamed. Raises dagster.Failure without a key or over the cost limit, ValueError
        (naming the file and field) when a downloaded file is not what was asked for."""
        targets = [(r, landing / DATASET / str(r.schema) / date / r.filename(date)) for r in plan(date)]
        todo, kept = [], []
        for r, dest in targets:
            if dest.exists():
                try:
                    verify_landed(dest, r)
                    kept.append(dest)
                    continue
                except ValueError as exc:
                    if log is not None:
                        log.warning(f"re-fetching {dest.name}: {exc}")
            todo.append((r, dest))
        client = self._client() if todo else None
        costs = [(r, float(client.metadata.get_cost(**r.query()))) for r, _ in todo] if client else []
        total = sum(c for _, c in costs)
        if total > self.max_cost_usd:
            raise dg.Failure(
                description=f"{date}: Databento estimates {total:.2f} USD, above max_cost_usd="
                f"{self.max_cost_usd:.2f}; raise it in the resource config to proceed"
            )
        fetched = []
        for r, dest in todo:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.part")
            client.timeseries.get_range(**r.query(), path=tmp)
            try:
                verify_landed(tmp, r, name=f"downloaded {dest.name}")
            except ValueError:
                tmp.unlink(missing_ok=True)
                raise
            os.replace(tmp, dest)
            fetched.append(dest)
        return DownloadReport([dest for _, dest in targets], fetched, kept, costs)


def landing_inventory(landing: lake.LakePath) -> list[dict]:
    """One row per (dataset/source, schema, date) under landing (a folder or an s3:// prefix):
    file count and bytes."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for f in lake.glob(landing, "*/*/*/*"):
        source, schema, date, _ = str(f).removeprefix(str(landing)).lstrip("/").split("/")
        groups.setdefault((source, schema, date), []).append(lake.file_info(f)[0])
    return [
        {"source": k[0], "schema": k[1], "date": k[2], "files": len(v), "bytes": sum(v)}
        for k, v in sorted(groups.items(), key=lambda kv: kv[0])
    ]
