"""Databento Historical downloads into landing (DESIGN §3), as a Dagster resource.

The API key comes from `DATABENTO_API_KEY` and is never logged or written to metadata. What it asks
for is `databento_plan` (only what Bronze keeps). Every download first asks Databento for the cost
of every request it will fetch (files already landed and verified are kept) and refuses when the
total is above `max_cost_usd`. Files land as `landing/GLBX.MDP3/<schema>/<date>/<name>.dbn.zst`.
Reference: https://databento.com/docs/api-reference-historical
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from databento_dbn import SType

from spymaster_assets import databento_plan as plan
from spymaster_assets.databento_plan import DownloadRequest
from spymaster_core.io import dbn, lake

DATASET = plan.DATASET
NO_KEY_HELP = (
    "DATABENTO_API_KEY is not set. Create a key at https://databento.com/portal/keys (sign-up includes "
    "free credit), then `export DATABENTO_API_KEY=db-...`. Without a key, land files yourself under "
    "landing/GLBX.MDP3/<schema>/<YYYY-MM-DD>/ or run `make demo` on simulated data."
)


def verify_landed(path: Path, request: DownloadRequest, name: str | None = None) -> None:
    """Check a downloaded file against its request by its own DBN metadata: a complete DBN file
    (`dbn.open_store`: not empty, not cut short) of the requested dataset, schema, input symbology,
    symbols and time range. Raises ValueError naming the file (`name`, default the path's), the
    field, what was asked for and what the file holds."""
    name = name or path.name
    try:
        store = dbn.open_store(path)
    except dbn.DBNReadError as exc:
        raise ValueError(f"{name}: not a complete DBN file: {exc}") from exc
    md = store.metadata
    for field, want, got in (
        ("dataset", DATASET, str(md.dataset)),
        ("schema", str(request.schema), str(store.schema)),
        ("stype_in", str(request.stype_in), str(md.stype_in)),
        ("symbols", sorted(request.symbols), sorted(md.symbols or [])),
        ("start", request.start_ns, int(md.start)),
        ("end", request.end_ns, int(md.end or 0)),
    ):
        if want != got:
            shown = (lambda v: f"{len(v)} symbols {v[:3]}...") if field == "symbols" else repr
            raise ValueError(
                f"{name}: DBN metadata {field} is {shown(got)}, the request asked for {shown(want)}"
            )


@dataclass(frozen=True)
class PlanComparison:
    """The date's legacy plan (`plan.legacy_plan`) priced and sized beside the new one:
    instruments summed over requests (a parent counted as the instruments it resolves to),
    instrument-hours and Databento's quoted USD."""

    legacy_instruments: int
    legacy_instrument_hours: float
    legacy_usd: float
    plan_instruments: int
    plan_instrument_hours: float
    plan_usd: float


@dataclass(frozen=True)
class DownloadReport:
    """What `DatabentoResource.download` did: every file of the date in request order, which were
    fetched now and which were already there and verified (kept, not fetched again), the USD cost
    Databento quoted for each request fetched, the futures resolved ({continuous: raw symbol}),
    the 0DTE options asked for, superseded files removed, and the comparison with the legacy plan
    (None when nothing was fetched)."""

    files: list[Path]
    fetched: list[Path]
    kept: list[Path]
    costs_usd: list[tuple[DownloadRequest, float]]
    futures: dict[str, str]
    options_0dte: int
    superseded: list[Path]
    comparison: PlanComparison | None

    @property
    def total_usd(self) -> float:
        return float(sum(c for _, c in self.costs_usd))

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata: file names, bytes, fetched/kept counts, the resolved futures, a cost
        table per request and, when something was fetched, the comparison with the legacy plan."""
        table = "| schema | symbols | hours | cost (USD) |\n|---|---|---|---|\n" + "\n".join(
            f"| {r.schema} | {len(r.symbols)} ({r.symbols[0]}{', ...' if len(r.symbols) > 1 else ''}) "
            f"| {r.hours:.2f} | {c:.2f} |"
            for r, c in self.costs_usd
        )
        md: dict[str, Any] = {
            "files": [f.name for f in self.files],
            "bytes": sum(f.stat().st_size for f in self.files),
            "fetched": len(self.fetched),
            "kept": len(self.kept),
            "futures": ", ".join(f"{k}={v}" for k, v in self.futures.items()),
            "options_0dte": self.options_0dte,
            "superseded": [f.name for f in self.superseded],
            "cost_usd": dg.MetadataValue.float(self.total_usd),
            "costs": dg.MetadataValue.md(table),
        }
        c = self.comparison
        if c is not None:
            md["legacy_plan_usd"] = dg.MetadataValue.float(c.legacy_usd)
            md["plan_vs_legacy"] = dg.MetadataValue.md(
                "| plan | instruments | instrument-hours | USD |\n|---|---|---|---|\n"
                f"| legacy (ES.FUT, all option roots, mbp-1, whole window) | {c.legacy_instruments} "
                f"| {c.legacy_instrument_hours:,.1f} | {c.legacy_usd:.2f} |\n"
                f"| this plan | {c.plan_instruments} | {c.plan_instrument_hours:,.1f} | {c.plan_usd:.2f} |"
            )
        return md


class DatabentoResource(dg.ConfigurableResource):
    """Historical client wrapper: `download(date, landing)` of `databento_plan`'s requests,
    resumable, priced before it fetches market data.

    `api_key` is set in the code location as `dg.EnvVar("DATABENTO_API_KEY")` (resolved by Dagster
    at run time, never read from os.environ here, never logged); empty raises `dagster.Failure`
    saying how to get one. `option_bbo_schema`: `bbo-1s` (default; 1-second samples) or `mbp-1`
    (every top-of-book change, many times the size)."""

    api_key: str = ""
    max_cost_usd: float = 25.0
    option_bbo_schema: str = "bbo-1s"

    def _client(self) -> Any:
        if not self.api_key:
            raise dg.Failure(description=NO_KEY_HELP)
        import databento as db

        return db.Historical(self.api_key)

    def download(self, date: str, landing: Path, log: Any = None) -> DownloadReport:
        """Download the date's files (`databento_plan`) into landing, resumably.

        Steps: resolve `ES.v.0` (and `ES.v.1` around a roll) to raw symbols (free); land the option
        definitions (priced and capped first); pick the 0DTE options on those futures from them;
        price every request still to fetch, refuse above `max_cost_usd` (the definitions counted),
        then fetch. A file already landed that verifies against its request (`verify_landed`:
        schema, symbols, window) is kept and neither priced nor fetched again; a missing,
        half-written, corrupt or different one is fetched. Each download goes to a temp name, is
        verified, then renamed; files this downloader wrote for the date under another plan
        (e.g. `mbp-1` after switching to `bbo-1s`) are removed after the new ones landed.
        Raises dagster.Failure without a key or over the cost limit, ValueError (naming the file and
        field) when a downloaded file is not what was asked for."""
        if self.option_bbo_schema not in plan.OPTION_BBO_SCHEMAS:
            raise dg.Failure(
                description=f"option_bbo_schema={self.option_bbo_schema!r}: expected one of {plan.OPTION_BBO_SCHEMAS}"
            )
        client = self._client()
        fronts = plan.resolve_futures(client, date)
        raw = tuple(sorted(set(fronts.values())))
        costs: list[tuple[DownloadRequest, float]] = []
        defs_req = plan.definitions_request(date)
        stage1 = [*plan.futures_requests(date, raw), defs_req]
        todo1, kept = self._split(stage1, date, landing, log)
        costs += [(r, float(client.metadata.get_cost(**r.query()))) for r, _ in todo1]
        self._check_limit(date, costs)
        fetched = []
        for r, dest in [t for t in todo1 if t[0] == defs_req]:
            self._fetch(client, r, dest)
            fetched.append(dest)
        defs_file = self._dest(defs_req, date, landing)
        defs = pl.from_arrow(dbn.decode_file(defs_file).tables["definitions"])
        odte = plan.zero_dte_symbols(defs, raw, date)
        if not odte and log is not None:
            log.warning(
                f"{date}: no 0DTE ES options on {', '.join(raw)} in the definitions; no option data asked for"
            )
        stage2 = plan.option_requests(date, odte, self.option_bbo_schema)
        todo2, kept2 = self._split(stage2, date, landing, log)
        kept += kept2
        costs += [(r, float(client.metadata.get_cost(**r.query()))) for r, _ in todo2]
        self._check_limit(date, costs)
        for r, dest in [t for t in todo1 if t[0] != defs_req] + todo2:
            self._fetch(client, r, dest)
            fetched.append(dest)
        files = [self._dest(r, date, landing) for r in stage1 + stage2]
        superseded = _remove_superseded(landing, date, files)
        comparison = _compare(client, date, stage1 + stage2, costs) if fetched else None
        return DownloadReport(files, fetched, kept, costs, fronts, len(odte), superseded, comparison)

    @staticmethod
    def _dest(r: DownloadRequest, date: str, landing: Path) -> Path:
        return landing / DATASET / str(r.schema) / date / r.filename(date)

    def _split(
        self, requests: list[DownloadRequest], date: str, landing: Path, log: Any
    ) -> tuple[list[tuple[DownloadRequest, Path]], list[Path]]:
        """(requests to fetch with their destination, files kept): a landed file that verifies
        against its request is kept."""
        todo, kept = [], []
        for r in requests:
            dest = self._dest(r, date, landing)
            if dest.exists():
                try:
                    verify_landed(dest, r)
                    kept.append(dest)
                    continue
                except ValueError as exc:
                    if log is not None:
                        log.warning(f"re-fetching {dest.name}: {exc}")
            todo.append((r, dest))
        return todo, kept

    def _check_limit(self, date: str, costs: list[tuple[DownloadRequest, float]]) -> None:
        total = sum(c for _, c in costs)
        if total > self.max_cost_usd:
            raise dg.Failure(
                description=f"{date}: Databento estimates {total:.2f} USD, above max_cost_usd="
                f"{self.max_cost_usd:.2f}; raise it in the resource config to proceed"
            )

    @staticmethod
    def _fetch(client: Any, r: DownloadRequest, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        client.timeseries.get_range(**r.query(), path=tmp)
        try:
            verify_landed(tmp, r, name=f"downloaded {dest.name}")
        except ValueError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, dest)


def _remove_superseded(landing: Path, date: str, files: list[Path]) -> list[Path]:
    """Delete this downloader's own files for `date` (named `glbx-mdp3-<date>.es-*`) that the plan
    no longer asks for, so Bronze does not read two versions of one input; returns them."""
    keep = set(files)
    gone = [
        f
        for f in sorted((landing / DATASET).glob(f"*/{date}/glbx-mdp3-{date}.es-*.dbn.zst"))
        if f not in keep
    ]
    for f in gone:
        f.unlink()
    return gone


def _compare(
    client: Any, date: str, requests: list[DownloadRequest], costs: list[tuple[DownloadRequest, float]]
) -> PlanComparison:
    """Price and size the legacy plan (free `metadata.get_cost` and `symbology.resolve` calls) beside
    this one; this plan's USD counts every request, kept ones too."""
    priced = dict(costs)
    legacy = plan.legacy_plan(date)
    sizes: dict[tuple[str, ...], int] = {}

    def instruments(r: DownloadRequest) -> int:
        if r.stype_in != SType.PARENT:
            return len(r.symbols)
        if r.symbols not in sizes:
            sizes[r.symbols] = plan.parent_instruments(client, date, r.symbols)
        return sizes[r.symbols]

    def usd(r: DownloadRequest) -> float:
        return priced[r] if r in priced else float(client.metadata.get_cost(**r.query()))

    return PlanComparison(
        legacy_instruments=sum(instruments(r) for r in legacy),
        legacy_instrument_hours=sum(instruments(r) * r.hours for r in legacy),
        legacy_usd=sum(usd(r) for r in legacy),
        plan_instruments=sum(instruments(r) for r in requests),
        plan_instrument_hours=sum(instruments(r) * r.hours for r in requests),
        plan_usd=sum(usd(r) for r in requests),
    )


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
