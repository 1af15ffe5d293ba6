"""Variant comparison: for each configuration present in both, how much the other
variants differ from the first (the reference, e.g. DefaultAll2All vs Baseline)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .atomic import write_atomic
from .pooling import pooled
from .registry import Quantity
from .stats import Summary, welch_differs

CONFIG = ["max_num_seqs", "max_num_batched_tokens"]
COLUMNS = [
    *CONFIG,
    "quantity",
    "unit",
    "better",
    "reference",
    "variant",
    "reference_value",
    "value",
    "relative_difference",
    "reference_n",
    "n",
    "reference_runs",
    "runs",
    "significant",
]


def _means(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Pooled mean of `column` per (variant, configuration) over the plotted traces:
    the same numbers as the sweep plots' points."""
    keep = (
        (table["status"] == "ok")
        & ~table["excluded"].astype(bool)
        & table["variant"].notna()
        & table[column].notna()
    )
    for c in CONFIG:
        keep &= table[c].notna()
    points = pooled(table[keep], ["variant", *CONFIG], column)
    return points.rename(columns={"y": "value"})


def _significant(row: pd.Series) -> str:
    """Welch's test on the two pooled means: yes / no, empty below two runs a side."""

    def side(suffix: str) -> Summary:
        std = row[f"std{suffix}"]
        return Summary(
            int(row[f"runs{suffix}"]), row[f"value{suffix}"], None if pd.isna(std) else std
        )

    verdict = welch_differs(side("_ref"), side(""))
    return "" if verdict is None else "yes" if verdict else "no"


def comparison(
    tables: dict[str, pd.DataFrame], quantities: list[Quantity], variants: list[str]
) -> pd.DataFrame:
    """One row per (configuration, quantity, variant other than the reference):
    relative_difference = (value - reference_value) / reference_value; `significant`:
    whether the two means differ at the 5% level over their runs (Welch's t-test)."""
    if len(variants) < 2:
        return pd.DataFrame(columns=COLUMNS)
    reference, others = variants[0], variants[1:]
    frames = []
    for q in quantities:
        means = _means(tables[q.metric], q.column)
        base = means[means["variant"] == reference].drop(columns="variant")
        for variant in others:
            other = means[means["variant"] == variant].drop(columns="variant")
            both = base.merge(other, on=CONFIG, suffixes=("_ref", ""))  # in both only
            if both.empty:
                continue
            frames.append(
                pd.DataFrame(
                    {
                        **{c: both[c] for c in CONFIG},
                        "quantity": q.name,
                        "unit": q.unit,
                        "better": q.better or "",
                        "reference": reference,
                        "variant": variant,
                        "reference_value": both["value_ref"],
                        "value": both["value"],
                        "relative_difference": (both["value"] - both["value_ref"])
                        / both["value_ref"],
                        "reference_n": both["n_ref"],
                        "n": both["n"],
                        "reference_runs": both["runs_ref"],
                        "runs": both["runs"],
                        "significant": both.apply(_significant, axis=1),
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)[COLUMNS]
    return out.sort_values([*CONFIG, "variant"], kind="stable").reset_index(drop=True)


def write_comparison(path: Path, rows: pd.DataFrame) -> None:
    write_atomic(path, lambda handle: rows.to_csv(handle, index=False, lineterminator="\n"))
