"""The lake (DESIGN §4): partition paths, atomic Parquet writes, reads; on local disk or S3.

The root is `SPYMASTER_LAKE`: a directory (default ./data/lake) or an object-store URL
(`s3://bucket/prefix`, through fsspec/s3fs: credentials, region and `AWS_ENDPOINT_URL` from the
usual AWS variables). A local root is a `Path`; a remote root stays a `str` URL, and every function
here takes either.

Atomicity. On disk, a partition is written to a temporary directory beside the target and swapped
in with renames: a failed run leaves the previous good partition untouched and a reader never sees
half a partition. Object stores have no rename, but a single PUT (or a completed multipart upload)
replaces an object atomically and S3 reads after it are strongly consistent. So on S3 a partition is
always one object: parts are staged on local disk, merged row group by row group into one Parquet
file when there are several (bounded memory), uploaded under the partition's usual name, and only
then are any other objects under the partition removed. A failure before the upload changes
nothing remote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_LAKE = Path("data/lake")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ROW_GROUP_ROWS = 256_000
# A lake root or a path under one: a local Path, or a URL string such as "s3://bucket/prefix".
LakePath = Path | str

TABLE_DIRS: dict[str, str] = {
    "futures_trades": "bronze/futures/trades/symbol=ES",
    "futures_mbp10": "bronze/futures/mbp10/symbol=ES",
    "futures_ohlcv_1m": "bronze/futures/ohlcv_1m/symbol=ES",
    "options_definitions": "bronze/options/definitions/underlying=ES",
    "options_trades": "bronze/options/trades/underlying=ES",
    "options_bbo": "bronze/options/bbo/underlying=ES",
    "options_statistics": "bronze/options/statistics/underlying=ES",
    "bars_2m": "silver/bars_2m",
    "levels": "silver/levels",
    "touches": "silver/touches",
    "features": "silver/features",
    "labels": "silver/labels",
    "bar_levels": "silver/bar_tier/levels",  # the bar tier (DESIGN §6 bar resolution)
    "bar_touches": "silver/bar_tier/touches",
    "bar_labels": "silver/bar_tier/labels",
    "bar_features": "silver/bar_tier/features",
    "gold_training": "gold/training/gold_training",
    "gold_daily_touches": "gold/training/gold_daily_touches",
    "signals": "gold/streaming/signals",  # the live service's payloads, one file per flush
}
"""Date-partitioned tables: `<root>/<dir>/date=<YYYY-MM-DD>/part-*.parquet` (DESIGN §4). The one
place the layout is written down: the Dagster assets, the live writer and dbt's sources (generated
from here, `spymaster_assets/dbt_sources.py`) all take their paths from it."""

BACKTEST_TRADES_DIR = "gold/evaluation/backtest_trades"
"""One trades file per tier (`tier` column inside); dbt's source reads the folder."""

FILES: dict[str, str] = {
    "gold_level_kind_stats": "gold/training/gold_level_kind_stats.parquet",
    "gold_model_eval": "gold/evaluation/gold_model_eval.parquet",
    "gold_bar_outcomes": "gold/training/gold_bar_outcomes.parquet",
    "backtest_trades": f"{BACKTEST_TRADES_DIR}/bars.parquet",  # every policy's trades, bar tier
    "backtest_trades_tick": f"{BACKTEST_TRADES_DIR}/tick.parquet",  # the same on the tick tier
    "gold_backtest": "gold/evaluation/gold_backtest.parquet",
    "realism": "gold/evaluation/realism.parquet",  # simulated vs real stylized facts (`spymaster realism`)
}
"""Unpartitioned Gold marts: one Parquet file each."""

PREDICTIONS_DIR = "gold/evaluation/predictions"  # held-out predictions, one `<run_id>.parquet` per MLflow run


def file_path(root: LakePath, name: str) -> LakePath:
    """The path of an unpartitioned table (`FILES`). Raises KeyError naming the known ones."""
    if name not in FILES:
        raise KeyError(f"unknown lake file {name!r}; known: {sorted(FILES)}")
    return join(root, FILES[name])


def predictions_path(root: LakePath, run_id: str) -> LakePath:
    """Where the held-out predictions of MLflow run `run_id` are written."""
    return join(root, PREDICTIONS_DIR, f"{run_id}.parquet")


def is_remote(path: LakePath) -> bool:
    """True for an object-store URL (a str with a scheme, e.g. s3://), False for a local path."""
    return isinstance(path, str) and "://" in path


def resolve_root(value: str | Path) -> LakePath:
    """A lake root from a setting: URLs stay strings (no trailing slash), local paths are resolved.
    Raises ValueError for an empty value or a URL with no bucket."""
    text = str(value).strip()
    if not text:
        raise ValueError("empty lake root")
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if not rest.strip("/"):
            raise ValueError(f"SPYMASTER_LAKE={text!r}: no bucket after {scheme}://")
        return f"{scheme}://{rest.strip('/')}"
    return Path(text).resolve()


def lake_root() -> LakePath:
    """`SPYMASTER_LAKE` (unset or empty: ./data/lake); see `resolve_root`."""
    return resolve_root(os.environ.get("SPYMASTER_LAKE") or str(DEFAULT_LAKE))


def join(root: LakePath, *parts: str) -> LakePath:
    """`root / part / ...` for a local root, `root/part/...` for a URL."""
    if is_remote(root):
        return "/".join([str(root).rstrip("/"), *(p.strip("/") for p in parts)])
    return Path(root).joinpath(*parts)


def _fs(url: str):  # noqa: ANN202 - an fsspec AbstractFileSystem
    """The fsspec filesystem of `url` and the path within it. Listings are not cached, so a
    listing after a write (another process's too) sees it."""
    import fsspec

    return fsspec.core.url_to_fs(url, use_listings_cache=False)


def _url(fs, path: str) -> str:  # noqa: ANN001
    return fs.unstrip_protocol(path)


def glob(base: LakePath, pattern: str) -> list[LakePath]:
    """Files under `base` matching `pattern` (e.g. "date=*/*.parquet"), sorted by path; [] when
    `base` does not exist. Hidden names (a leading dot: temporary files) are left out."""
    if is_remote(base):
        fs, path = _fs(str(base))
        found = fs.glob(f"{path.rstrip('/')}/{pattern}")
        return [_url(fs, f) for f in sorted(found) if not f.rsplit("/", 1)[-1].startswith(".")]
    base = Path(base)
    if not base.exists():
        return []
    return sorted(f for f in base.glob(pattern) if not f.name.startswith(".") and f.is_file())


def exists(path: LakePath) -> bool:
    """Whether a file (or, locally, a directory) exists at `path`."""
    if is_remote(path):
        fs, p = _fs(str(path))
        return bool(fs.exists(p))
    return Path(path).exists()


def file_info(path: LakePath) -> tuple[int, str]:
    """(size in bytes, a version string that changes when the file is replaced: mtime_ns on disk,
    the ETag on S3). Raises FileNotFoundError."""
    if is_remote(path):
        fs, p = _fs(str(path))
        info = fs.info(p)
        version = info.get("ETag") or info.get("etag") or str(info.get("LastModified") or info.get("mtime"))
        return int(info["size"]), str(version).strip('"')
    st = Path(path).stat()
    return st.st_size, str(st.st_mtime_ns)


@contextmanager
def open_read(path: LakePath) -> Iterator[IO[bytes]]:
    """A binary, seekable file object for reading `path` (local file or object)."""
    if is_remote(path):
        fs, p = _fs(str(path))
        with fs.open(p, "rb") as fh:
            yield fh
    else:
        with open(path, "rb") as fh:
            yield fh


def read_parquet(path: LakePath, columns: list[str] | None = None) -> pl.DataFrame:
    """One Parquet file (local or remote) as a DataFrame (only `columns` when given)."""
    if not is_remote(path):
        return pl.read_parquet(path, columns=columns)
    with open_read(path) as fh:
        return pl.read_parquet(fh, columns=columns)


def file_sha256(path: LakePath) -> str:
    """sha256 (hex) of one file's bytes (local or remote)."""
    return digest_files([path])


def digest_files(files: list[LakePath], root: LakePath | None = None) -> str:
    """sha256 (hex) over the files' bytes in the given order (with each path relative to `root`
    hashed first when `root` is given), read by `hashlib.file_digest`."""
    h = hashlib.sha256()
    for f in files:
        if root is not None:
            h.update(str(f).removeprefix(str(root)).lstrip("/").encode())
        with open_read(f) as fh:
            hashlib.file_digest(fh, lambda: h)  # feeds the running hash
    return h.hexdigest()


def files_version(files: list[LakePath]) -> str:
    """sha256 (hex) identifying the files' content, for data versions. Local files: over their
    bytes (`digest_files`). Objects: over each object's name, size and ETag, which S3 derives from
    the content (MD5, or MD5s of fixed-size parts for a multipart upload), so a partition just
    uploaded is not downloaded again to be hashed."""
    if not any(is_remote(f) for f in files):
        return digest_files(files)
    h = hashlib.sha256()
    for f in files:
        size, version = file_info(f)
        h.update(f"{str(f).rsplit('/', 1)[-1]}|{size}|{version}\n".encode())
    return h.hexdigest()


def download_dir(remote_dir: str, local_dir: Path) -> list[Path]:
    """Mirror the files directly under `remote_dir` into `local_dir`: a file whose size and
    version (ETag, see `file_info`) match what was last downloaded is kept, each download goes to a
    temp name and is then renamed, and local files no longer present remotely are removed. The
    versions are kept in `local_dir/.versions.json`. Returns the local paths."""
    remote = {str(f).rsplit("/", 1)[-1]: (f, file_info(f)) for f in glob(remote_dir, "*")}
    ledger = local_dir / ".versions.json"
    seen: dict[str, list] = json.loads(ledger.read_text()) if ledger.exists() else {}
    if local_dir.exists():
        for old in local_dir.iterdir():
            if old.is_file() and old != ledger and old.name not in remote:
                old.unlink()
    local_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (f, (size, version)) in sorted(remote.items()):
        dest = local_dir / name
        if not (dest.exists() and dest.stat().st_size == size and seen.get(name) == [size, version]):
            tmp = dest.with_name(f".{name}.part-{uuid.uuid4().hex[:8]}")
            try:
                fs, p = _fs(str(f))
                fs.get_file(p, str(tmp))
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        out.append(dest)
    tmp_ledger = ledger.with_name(f".versions.json.tmp-{uuid.uuid4().hex[:8]}")
    tmp_ledger.write_text(json.dumps({n: [sz, v] for n, (_, (sz, v)) in remote.items()}))
    os.replace(tmp_ledger, ledger)
    return out


def upload_file(local: Path, dest: str) -> str:
    """Upload one local file to the object `dest` (one PUT or multipart upload: atomic)."""
    fs, p = _fs(dest)
    fs.put_file(str(local), p)
    return dest


def remove_file(path: LakePath) -> None:
    """Delete one file or object (a missing one is not an error)."""
    if not is_remote(path):
        Path(path).unlink(missing_ok=True)
        return
    fs, p = _fs(str(path))
    if fs.exists(p):
        fs.rm_file(p)


def partition_dir(root: LakePath, table: str, date: str) -> LakePath:
    """Directory (prefix on S3) of one daily partition, e.g. root/silver/touches/date=2026-11-16.
    Raises KeyError for an unknown table."""
    if table not in TABLE_DIRS:
        raise KeyError(f"unknown lake table {table!r}; known: {sorted(TABLE_DIRS)}")
    if not _ISO_DATE.fullmatch(date):  # a partition key is a date, never a path (../ traversal)
        raise ValueError(f"partition date {date[:40]!r}{'...' if len(date) > 40 else ''} is not YYYY-MM-DD")
    return join(root, TABLE_DIRS[table], f"date={date}")


def partition_files(root: LakePath, table: str, date: str) -> list[LakePath]:
    """The partition's Parquet files in name order (time order for multi-part tables); [] if the
    partition was never written."""
    return glob(partition_dir(root, table, date), "*.parquet")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def recover_partition(final: Path) -> list[str]:
    """Repair what a killed writer left beside a local partition `final` (a `date=` folder); return
    what was done. A commit swaps two renames (final -> `.old-<pid>-*`, staging -> final): killed
    between them, the partition is gone and the previous good data waits in `.old-*`; it is put back.
    Staging folders (`.tmp-<pid>-*`) and leftover `.old-*` of writers no longer running are removed.
    Folders of a live writer (its pid still running) are never touched."""
    done: list[str] = []
    for leftover in sorted(final.parent.glob(f".{final.name}.*-*-*")):
        kind, _, rest = leftover.name.removeprefix(f".{final.name}.").partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        if kind == "old" and not final.exists():
            os.replace(leftover, final)
            done.append(f"restored {final.name} from {leftover.name}")
        else:
            shutil.rmtree(leftover, ignore_errors=True)
            done.append(f"removed {leftover.name}")
    return done


class PartitionWriter:
    """Write one partition incrementally and swap it in atomically on `commit()`.

    Usage: `with PartitionWriter(root, table, date) as w: write files into w.path; w.commit()`.
    `w.path` is a local temporary directory: beside the target on disk, under the system temp dir
    for a remote root. Without `commit()` (an exception) it is removed and the previous partition is
    untouched; after a crash (SIGKILL) the next writer of the partition repairs what was left
    (`recover_partition`). On S3, `commit()` uploads the partition as one object (see the module
    docstring).
    """

    def __init__(self, root: LakePath, table: str, date: str) -> None:
        self.final = partition_dir(root, table, date)
        self.token = uuid.uuid4().hex[:8]
        if is_remote(self.final):
            self.path = Path(tempfile.gettempdir()) / f"spymaster-{table}-{date}-{self.token}"
        else:
            final = Path(self.final)
            final.parent.mkdir(parents=True, exist_ok=True)
            recover_partition(final)
            self.path = final.with_name(f".{final.name}.tmp-{os.getpid()}-{self.token}")

    def __enter__(self) -> PartitionWriter:
        self.path.mkdir()
        return self

    def commit(self) -> LakePath:
        """Make the staged files the partition; returns its directory (prefix). Raises
        FileNotFoundError when nothing was staged for a remote partition."""
        if is_remote(self.final):
            return self._commit_remote(str(self.final))
        final = Path(self.final)
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{self.token}")
        if final.exists():
            os.replace(final, old)
        os.replace(self.path, final)
        if old.exists():
            shutil.rmtree(old)
        return final

    def _commit_remote(self, final: str) -> str:
        parts = sorted(self.path.glob("*.parquet"))
        if not parts:
            raise FileNotFoundError(f"nothing staged in {self.path} for partition {final}")
        one = (
            parts[0] if len(parts) == 1 else _merge_parts(parts, self.path / f".merged-{self.token}.parquet")
        )
        key = f"{final}/{parts[0].name}"
        upload_file(one, key)
        fs, prefix = _fs(final)
        stale = [f for f in fs.find(prefix) if _url(fs, f) != key]
        if stale:
            fs.rm(stale)
        return final

    def __exit__(self, *exc: object) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)


def _merge_parts(parts: list[Path], out: Path) -> Path:
    """Concatenate Parquet files with one schema into `out`, one row group at a time."""
    schema = pq.read_schema(parts[0])
    with pq.ParquetWriter(out, schema, compression="zstd") as w:
        for f in parts:
            pf = pq.ParquetFile(f)
            if not pf.schema_arrow.equals(schema):
                raise ValueError(
                    f"{f}: schema differs from {parts[0].name}'s; cannot merge the partition's parts"
                )
            for i in range(pf.num_row_groups):
                w.write_table(pf.read_row_group(i))
    return out


def write_partition(root: LakePath, table: str, date: str, data: pa.Table | pl.DataFrame) -> LakePath:
    """Atomically replace one partition with `data` (one Parquet file, zstd, sized row groups).

    Returns the partition directory. The old partition stays in place until the new one is complete.
    """
    if isinstance(data, pl.DataFrame):
        data = data.to_arrow()
    with PartitionWriter(root, table, date) as w:
        pq.write_table(data, w.path / "part-0.parquet", compression="zstd", row_group_size=ROW_GROUP_ROWS)
        return w.commit()


def write_file(path: LakePath, data: pa.Table | pl.DataFrame) -> LakePath:
    """Atomically replace the single Parquet file `path` (written to a temp name, then renamed;
    on S3 written locally, then uploaded in one PUT)."""
    if isinstance(data, pl.DataFrame):
        data = data.to_arrow()
    if is_remote(path):
        with tempfile.TemporaryDirectory(prefix="spymaster-") as d:
            tmp = Path(d) / "file.parquet"
            pq.write_table(data, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            return upload_file(tmp, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        pq.write_table(data, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_table(root: LakePath, table: str) -> pl.DataFrame | None:
    """Every written partition of `table` as one DataFrame (columns unioned by name), or None."""
    files = glob(join(root, TABLE_DIRS[table]), "date=*/*.parquet")
    if not files:
        return None
    return pl.concat([read_parquet(f) for f in files], how="diagonal_relaxed")


def read_partition(
    root: LakePath, table: str, date: str, columns: list[str] | None = None
) -> pl.DataFrame | None:
    """The partition as a DataFrame (only `columns` when given), or None if it was never written."""
    files = partition_files(root, table, date)
    if not files:
        return None
    return (
        pl.concat([read_parquet(f, columns) for f in files], how="vertical_relaxed")
        if len(files) > 1
        else read_parquet(files[0], columns)
    )


def written_dates(root: LakePath, table: str) -> list[str]:
    """Dates (YYYY-MM-DD) with a written partition of `table`, sorted."""
    files = glob(join(root, TABLE_DIRS[table]), "date=*/*.parquet")
    return sorted({str(f).rsplit("/", 2)[-2].removeprefix("date=") for f in files})
