"""Retrieval of similar past touches: a FAISS exact L2 index over standardised touch features.

Features are standardised with the training touches' mean and standard deviation (nulls -> the
mean, i.e. 0 after scaling); `faiss.IndexFlatL2` searches exactly (squared L2 distances), so the
k nearest equal a brute-force scan. Each hit carries the past touch's id, date, level kind and
outcome, so a trader sees what happened the last times the book, tape and gamma looked like this.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import polars as pl


@dataclass
class TouchIndex:
    """A FAISS index of past touches with the scaling it was built with and their outcomes."""

    columns: list[str]
    mean: np.ndarray
    std: np.ndarray
    index: faiss.IndexFlatL2
    touches: pl.DataFrame  # touch_id, date, level_kind, outcome[, time_to_threshold_s] (row i = vector i)

    def vectors(self, df: pl.DataFrame) -> np.ndarray:
        """Standardised float32 vectors (n, d) of `df`'s feature columns (nulls -> 0)."""
        x = df.select(self.columns).to_numpy().astype(np.float64)
        z = (x - self.mean) / self.std
        return np.ascontiguousarray(np.nan_to_num(z, nan=0.0), dtype=np.float32)

    def neighbors(self, df: pl.DataFrame, k: int = 10) -> list[list[dict]]:
        """For each row of `df`, the k nearest past touches, nearest first: touch_id, date,
        level_kind, outcome, time_to_threshold_s (when the index has it; seconds to the first
        threshold, null for CHOP) and distance (squared L2 in standardised units)."""
        k = min(k, self.index.ntotal)
        dist, idx = self.index.search(self.vectors(df), k)
        out = []
        for drow, irow in zip(dist, idx, strict=True):
            hits = self.touches[irow.tolist()].to_dicts()
            out.append([{**h, "distance": float(d)} for h, d in zip(hits, drow, strict=True)])
        return out


def build_index(gold: pl.DataFrame, columns: list[str]) -> TouchIndex:
    """Index every touch of `gold` (its feature `columns`). Raises ValueError when gold is empty."""
    if gold.is_empty():
        raise ValueError("cannot build a touch index from no touches")
    x = gold.select(columns).to_numpy().astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-null column: scaled to 0 below
        mean = np.nan_to_num(np.nanmean(x, axis=0), nan=0.0)
        std = np.nan_to_num(np.nanstd(x, axis=0), nan=1.0)
    std[std == 0] = 1.0
    ti = TouchIndex(
        columns,
        mean,
        std,
        faiss.IndexFlatL2(len(columns)),
        gold.select(
            "touch_id", "date", "level_kind", "outcome",
            *(["time_to_threshold_s"] if "time_to_threshold_s" in gold.columns else []),
        ),
    )  # fmt: skip
    ti.index.add(ti.vectors(gold))
    return ti


INDEX_FILES = ("touch_index.faiss", "touch_index_touches.parquet", "touch_index_scaling.json")


def save_index(ti: TouchIndex, folder: Path) -> list[Path]:
    """Write the index as INDEX_FILES in `folder` (the FAISS index, its touches, the columns and
    scaling as JSON), for MLflow to keep beside the model; returns the paths."""
    paths = [folder / n for n in INDEX_FILES]
    faiss.write_index(ti.index, str(paths[0]))
    ti.touches.write_parquet(paths[1])
    paths[2].write_text(json.dumps({"columns": ti.columns, "mean": ti.mean.tolist(), "std": ti.std.tolist()}))
    return paths


def load_index(folder: Path) -> TouchIndex:
    """The index `save_index` wrote in `folder`. Raises FileNotFoundError naming a missing file,
    ValueError when the files disagree (vector and touch counts, or dimensions)."""
    for n in INDEX_FILES:
        if not (folder / n).exists():
            raise FileNotFoundError(f"{folder / n}: touch index file missing")
    index = faiss.read_index(str(folder / INDEX_FILES[0]))
    touches = pl.read_parquet(folder / INDEX_FILES[1])
    meta = json.loads((folder / INDEX_FILES[2]).read_text())
    if index.ntotal != touches.height or index.d != len(meta["columns"]):
        raise ValueError(
            f"{folder}: touch index has {index.ntotal} vectors of {index.d} dims, "
            f"{touches.height} touches and {len(meta['columns'])} columns"
        )
    return TouchIndex(meta["columns"], np.array(meta["mean"]), np.array(meta["std"]), index, touches)
