"""Per-metric tables: one row per trace, from the cached per-trace metric files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .naming import CONFIG_COLUMNS, Naming
from .registry import METRICS

SUMMARY_KEYS = (
    "entropy",
    "normalized_entropy",
    "coefficient_of_variation",
    "max_min_ratio",
    "total_tokens",
    "num_experts",
    "total_steps",
)


def load_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            records.append(json.load(handle))
    return records


def table_rows(
    metric: str, records: list[dict[str, Any]], naming: Naming
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a metric's table, ordered by variant then configuration."""
    columns = ["trace", "variant", *CONFIG_COLUMNS, "excluded", "status", "reason"]
    expert = METRICS[metric].source == "gates"
    experts = 0
    if expert:
        experts = max(
            (len(r["value"]["normalized"]) for r in records if r["status"] == "ok"),
            default=0,
        )
        columns += [*SUMMARY_KEYS, *(f"normalized_{i}" for i in range(experts))]
    else:
        columns += ["value", "unit", "runs"]
    columns += naming.extra_columns

    rows = []
    for record in records:
        row = naming.describe(record["trace"])
        row.update(status=record["status"], reason=record.get("reason"))
        value = record.get("value")
        if expert:
            if isinstance(value, dict):
                row.update(value["summary"])
                row.update({f"normalized_{i}": v for i, v in enumerate(value["normalized"])})
        else:
            row.update(value=value, unit=record.get("unit"), runs=record.get("runs"))
        rows.append(row)
    order = list(naming.variants)

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        variant = row["variant"]
        rank = order.index(variant) if variant in order else len(order)
        seqs = row["max_num_seqs"]
        tokens = row["max_num_batched_tokens"]
        return (rank, tokens is None, tokens or 0, seqs is None, seqs or 0, row["trace"])

    return columns, sorted(rows, key=key)


def write_table(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})

    write_atomic(path, write)
