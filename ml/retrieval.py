"""Retrieval of similar past touches: a FAISS exact L2 index over standardised touch features.

Features are standardised with the training touches' mean and standard deviation (nulls -> the
mean, i.e. 0 after scaling); `faiss.IndexFlatL2` searches exactly (squared L2 distances), so the
k nearest equal a brute-force scan. Each hit carries the past touch's id, date, level kind and
outcome, so a trader sees what happened the last times the book, tape and gamma looked like this.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

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
    touches: pl.DataFrame  # touch_id, date, level_kind, outcome (row i = vector i)

    def vectors(self, df: pl.DataFrame) -> np.ndarray:
        """Standardised float32 vectors (n, d) of `df`'s feature columns (nulls -> 0)."""
        x = df.select(self.columns).to_numpy().astype(np.float64)
        z = (x - self.mean) / self.std
        return np.ascontiguousarray(np.nan_to_num(z, nan=0.0), dtype=np.float32)

    def neighbors(self, df: pl.DataFrame, k: int = 10) -> list[list[dict]]:
        """For each row of `df`, the k nearest past touches: touch_id, date, level_kind, outcome, distance."""
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
        gold.select("touch_id", "date", "level_kind", "outcome"),
    )
    ti.index.add(ti.vectors(gold))
    return ti
