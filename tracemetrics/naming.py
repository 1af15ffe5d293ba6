"""What a trace's directory name says: variant, configuration, EPLB, exclusion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CONFIG_COLUMNS = ("max_num_seqs", "max_num_batched_tokens", "eplb")


def _number(text: str | None) -> int | float | str | None:
    if text is None or text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass(frozen=True)
class Naming:
    pattern: re.Pattern[str]
    variants: dict[str, re.Pattern[str]]  # label -> rule, in legend order
    exclude: tuple[re.Pattern[str], ...]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Naming:
        return cls(
            re.compile(config["name_pattern"]),
            {label: re.compile(rule) for label, rule in config["variants"].items()},
            tuple(re.compile(p) for p in config.get("exclude", ())),
        )

    @property
    def extra_columns(self) -> list[str]:
        """Named groups of the pattern beyond the configuration columns, in order."""
        groups = sorted(self.pattern.groupindex.items(), key=lambda kv: kv[1])
        return [g for g, _ in groups if g not in CONFIG_COLUMNS and g != "variant"]

    def variant(self, name: str) -> str | None:
        for label, rule in self.variants.items():
            if rule.search(name):
                return label
        return None

    def describe(self, name: str) -> dict[str, Any]:
        """Columns for a table row; unmatched names give empty configuration columns."""
        match = self.pattern.search(name)
        groups = match.groupdict() if match else {}
        variant = self.variant(name) or groups.get("variant")
        row: dict[str, Any] = {"trace": name, "variant": variant}
        for column in CONFIG_COLUMNS:
            row[column] = _number(groups.get(column))
        row["excluded"] = any(p.search(name) for p in self.exclude)
        for column in self.extra_columns:
            row[column] = groups.get(column)
        return row
