#!/usr/bin/env python3
"""Baseline for benchmarks only: the old one-plot-process-per-metric script.

Reads {trace: value} JSON for one metric and draws the two sweep plots.
"""

import json
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAME = re.compile(r"-(vllmTP4|vllmEP4)-.*\[[a-z0-9]+_(\d+)_(\d+)(_eplbo(?:n|ff))?\]")


def main() -> None:
    metric, values_path, out_prefix = sys.argv[1:4]
    with open(values_path) as handle:
        values = json.load(handle)
    for x_index, fixed_index, fixed in ((2, 3, 8192), (3, 2, 32)):
        fig, ax = plt.subplots()
        for framework, label in (("vllmTP4", "Baseline"), ("vllmEP4", "DefaultAll2All")):
            points = []
            for trace, value in values.items():
                m = NAME.search(trace)
                if m and m[1] == framework and not m[4] and int(m[fixed_index]) == fixed:
                    points.append((int(m[x_index]), value))
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_title(f"{metric} (fixed {fixed})")
        ax.legend()
        fig.savefig(f"{out_prefix}_{x_index}.png")
        plt.close(fig)


if __name__ == "__main__":
    main()
