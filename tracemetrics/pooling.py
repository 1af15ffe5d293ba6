"""Pooling table rows: several traces of one configuration become one point.

Every benchmark run counts once: a trace contributes its n runs (`runs`), their mean
(`value`) and sample std (`std`), and the point is the mean, std and 95% confidence
interval of all those runs together (stats.pool). Columns without per-run spread
(the expert-imbalance statistics) count each trace as one measurement.
"""

from __future__ import annotations

import math

import pandas as pd

from .stats import pool

STAT_COLUMNS = ["y", "n", "runs", "std", "ci95_low", "ci95_high"]


def _groups(rows: pd.DataFrame, column: str) -> list[tuple[int, float, float | None]]:
    """Each row as (n, mean, std) for stats.pool."""
    means = rows[column].astype(float).tolist()
    if column != "value" or "runs" not in rows.columns:
        return [(1, m, None) for m in means]
    runs = rows["runs"].tolist()
    stds = rows["std"].tolist() if "std" in rows.columns else [None] * len(means)
    return [
        (
            int(n) if n == n and n else 1,  # NaN or 0: one measurement
            m,
            None if s is None or math.isnan(s) else float(s),
        )
        for n, m, s in zip(runs, means, stds, strict=True)
    ]


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def pooled(table: pd.DataFrame, keys: list[str], column: str = "value") -> pd.DataFrame:
    """Per group of `keys` (in first-seen order): y (pooled mean), n (traces), runs
    (measurements), std, ci95_low, ci95_high (NaN below two measurements)."""
    records = []
    for key, rows in table.groupby(keys, sort=False, dropna=False):
        summary = pool(_groups(rows, column))
        values = key if isinstance(key, tuple) else (key,)
        records.append(
            {
                **dict(zip(keys, values, strict=True)),
                "y": summary.mean,
                "n": len(rows),
                "runs": summary.n,
                # NaN, not None, where there is no spread: the columns stay float
                "std": _nan_if_none(summary.std),
                "ci95_low": _nan_if_none(summary.ci95_low),
                "ci95_high": _nan_if_none(summary.ci95_high),
            }
        )
    return pd.DataFrame(records, columns=[*keys, *STAT_COLUMNS])
