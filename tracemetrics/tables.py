"""Per-metric tables: one row per trace, from the cached per-trace metric files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .naming import CONFIG_COLUMNS, Naming
from .registry import METRICS, Metric

SUMMARY_KEYS = (
    "entropy",
    "normalized_entropy",
    "coefficient_of_variation",
    "max_min_ratio",
    "total_tokens",
    "num_experts",
    "total_steps",
)


# expert_imbalance: column -> path into the value (nested keys)
IMBALANCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "num_experts": ("num_experts",),
    "rows": ("rows",),
    "zero_load_rows": ("zero_load_rows",),
    "max_over_mean_mean": ("expert_max_over_mean", "mean"),
    "max_over_mean_median": ("expert_max_over_mean", "median"),
    "max_over_mean_p95": ("expert_max_over_mean", "p95"),
    "max_over_mean_max": ("expert_max_over_mean", "max"),
    "max_over_mean_token_weighted_mean": ("expert_max_over_mean", "token_weighted_mean"),
    "per_step_cv_mean": ("per_step_cv_mean",),
    "ep_size": ("ep_balance", "ep_size"),
    "ep_balancedness": ("ep_balance", "balancedness"),
    "ep_rank_max_over_mean_mean": ("ep_balance", "rank_max_over_mean_mean"),
    "ep_skipped_reason": ("ep_balance", "reason"),
    "top_k": ("consistency", "top_k"),
    "rows_checked": ("consistency", "rows_checked"),
    "rows_mismatched": ("consistency", "rows_mismatched"),
    "max_step_tokens": ("warmup_filter", "max_step_tokens"),
    "rows_dropped": ("warmup_filter", "rows_dropped"),
}
# expert_load_by_layer: its summary, then one cv_layer_<id> column per layer id
LAYER_SUMMARY_KEYS = (
    "num_layers",
    "num_experts",
    "total_steps",
    "cv_mean",
    "cv_max",
    "max_over_mean_mean",
    "max_over_mean_max",
)


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# result-JSON metrics: value is the mean over the trace's runs, runs their number n;
# std and the 95% confidence interval of the mean need n >= 2 (tracemetrics.stats).
RESULT_COLUMNS = ["value", "unit", "runs", "std", "ci95_low", "ci95_high", "format"]


def _value_columns(metric: Metric, records: list[dict[str, Any]]) -> list[str]:
    """The columns a metric's value gives, after the trace and status columns."""
    ok = [r["value"] for r in records if r["status"] == "ok" and isinstance(r["value"], dict)]
    if metric.name == "expert_imbalance":
        return list(IMBALANCE_COLUMNS)
    if metric.name == "expert_load_by_layer":
        layers = sorted({layer for value in ok for layer in value["layers"]})
        return [*LAYER_SUMMARY_KEYS, *(f"cv_layer_{layer}" for layer in layers)]
    if metric.source == "gates":  # token_to_expert_assignment
        experts = max((len(value["normalized"]) for value in ok), default=0)
        return [*SUMMARY_KEYS, *(f"normalized_{i}" for i in range(experts))]
    return RESULT_COLUMNS


def _value_cells(metric: Metric, record: dict[str, Any]) -> dict[str, Any]:
    value = record.get("value")
    if metric.source != "gates":
        ci95 = record.get("ci95") or (None, None)
        return {
            "value": value,
            "unit": record.get("unit"),
            "runs": record.get("runs"),
            "std": record.get("std"),
            "ci95_low": ci95[0],
            "ci95_high": ci95[1],
            "format": "+".join(record.get("formats") or []) or None,
        }
    if not isinstance(value, dict):
        return {}
    if metric.name == "expert_imbalance":
        return {column: _dig(value, path) for column, path in IMBALANCE_COLUMNS.items()}
    if metric.name == "expert_load_by_layer":
        cells = dict(value["summary"])
        layers = zip(value["layers"], value["cv"], strict=True)
        cells.update({f"cv_layer_{layer}": cv for layer, cv in layers})
        return cells
    cells = dict(value["summary"])
    cells.update({f"normalized_{i}": v for i, v in enumerate(value["normalized"])})
    return cells


def load_results(paths: Iterable[Path]) -> list[dict[str, Any]]:
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            records.append(json.load(handle))
    return records


def _merge_card_config(row: dict[str, Any], card: dict[str, Any]) -> str | None:
    """Configuration from the directory name, else from the card; say when they differ."""
    notes = []
    for column, card_value in card.items():
        name_value = row.get(column)
        if name_value is None:
            row[column] = card_value
            notes.append(f"{column} from the card")
        elif name_value != card_value:
            notes.append(
                f"{column}: name says {name_value}, card says {card_value}; using the name"
            )
    return "; ".join(notes) or None


def table_rows(
    name: str,
    records: list[dict[str, Any]],
    naming: Naming,
    metrics: Mapping[str, Metric] = METRICS,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a metric's table, ordered by variant then configuration."""
    metric = metrics[name]
    columns = ["trace", "variant", *CONFIG_COLUMNS, "excluded", "status", "reason"]
    columns += _value_columns(metric, records)
    columns += [*naming.extra_columns, "config_note"]

    rows = []
    for record in records:
        row = naming.describe(record["trace"])
        row["config_note"] = _merge_card_config(row, record.get("card_config") or {})
        row.update(status=record["status"], reason=record.get("reason"))
        row.update(_value_cells(metric, record))
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
