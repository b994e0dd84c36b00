"""Landing: place vendor files under `landing/<dataset>/<schema>/<trading date>/`.

A DBN file goes to the trading date of its first record (CME_Equity calendar). Files whose
decoded content is already landed (same schema, record count, first/last timestamps and
instrument ids: e.g. one sample encoded as DBN v1, v2 and v3) are skipped, so a date never counts
the same records twice. Mixed-schema files cannot be routed to one schema folder and are skipped
with that reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spymaster_core import calendar
from spymaster_core import schemas as S
from spymaster_core.io import dbn, lake

log = logging.getLogger(__name__)


@dataclass
class LandingReport:
    """What `land_files` did: landed (src, dest), skipped (src, reason)."""

    landed: list[tuple[Path, Path]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _fingerprint(path: Path) -> tuple[str, str, str] | None:
    store = dbn.open_store(path)
    if store.schema is None:
        return None
    a = dbn.store_records(store, path)
    if len(a) == 0:
        return str(store.schema), "", ""
    key = f"{store.schema}|{len(a)}|{int(a['ts_event'][0])}|{int(a['ts_event'][-1])}|{sorted(set(a['instrument_id'].tolist()))}"
    date = calendar.trading_date_of(int(a["ts_event"].min())).isoformat()
    return str(store.schema), date, hashlib.sha256(key.encode()).hexdigest()


def land_files(files: list[Path], landing: Path, dataset: str = S.DATASET) -> LandingReport:
    """Copy DBN files into the landing layout; see module docstring for routing and de-duplication."""
    rep = LandingReport()
    seen: set[str] = set()
    for f in files:
        try:
            fp = _fingerprint(f)
        except dbn.DBNReadError as exc:
            rep.skipped.append((f, str(exc)))
            continue
        if fp is None:
            rep.skipped.append((f, "mixed-schema file: cannot be routed to one schema folder"))
            continue
        schema, date, digest = fp
        if not date:
            rep.skipped.append((f, "no records"))
            continue
        if digest in seen:
            rep.skipped.append((f, "same records as a file already landed (another DBN version/encoding)"))
            continue
        seen.add(digest)
        dest = landing / dataset / schema / date / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
        rep.landed.append((f, dest))
    return rep


def land_csv(path: Path, landing: Path) -> Path:
    """Copy a trades CSV into landing/CSV/trades/<trading date of its first row>/."""
    from spymaster_core.io.csv_trades import read_trades_csv

    t = read_trades_csv(path)
    if t.num_rows == 0:
        raise ValueError(f"{path}: no rows")
    date = calendar.trading_date_of(int(t.column("ts_event_ns")[0].as_py())).isoformat()
    dest = landing / "CSV" / "trades" / date / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    return dest


def landing_root(root: lake.LakePath) -> lake.LakePath:
    """Where vendor files land under a lake root: `<root>/landing` (local path or URL)."""
    return lake.join(root, "landing")


def local_landing(root: lake.LakePath, date: str) -> Path:
    """A local landing folder holding `date`'s files, for decoders that read local files
    (databento's DBNStore). A local lake's landing is returned as is; a remote one's files for
    the date are mirrored to `<cache>/landing/<dataset>/<schema>/<date>/` first (kept while their
    size and ETag match, see `lake.download_dir`), where <cache> is `SPYMASTER_CACHE` (default:
    <temp dir>/spymaster-cache)."""
    land = landing_root(root)
    if not lake.is_remote(root):
        return Path(land)
    cache = (
        Path(os.environ.get("SPYMASTER_CACHE") or Path(tempfile.gettempdir()) / "spymaster-cache") / "landing"
    )
    for dataset in (S.DATASET, "CSV"):
        files = lake.glob(lake.join(land, dataset), f"*/{date}/*")
        for folder in sorted({str(f).rsplit("/", 1)[0] for f in files}):
            schema = folder.rsplit("/", 2)[-2]
            lake.download_dir(folder, cache / dataset / schema / date)
    return cache


@contextlib.contextmanager
def staged_landing(root: lake.LakePath) -> Iterator[tuple[Path, Callable[[Path], None]]]:
    """(local landing folder, publish) for writing into `root`'s landing: a local lake's landing
    itself (publish does nothing); for a remote (s3://) lake a temp folder, removed at exit, whose
    files `publish(path)` uploads to the same relative path under the remote landing."""
    land = landing_root(root)
    if not lake.is_remote(root):
        yield Path(land), lambda _path: None
        return
    local = Path(tempfile.mkdtemp(prefix="spymaster-landing-"))
    try:
        yield local, lambda path: lake.upload_file(path, lake.join(land, str(path.relative_to(local))))
    finally:
        shutil.rmtree(local, ignore_errors=True)
