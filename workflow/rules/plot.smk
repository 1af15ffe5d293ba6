# Every plot in one job, so matplotlib and pandas are imported once: each quantity
# (inference metrics, imbalance statistics) along each sweep, EPLB on vs off, the
# throughput-latency trade-offs, and the per-trace layer x expert heatmaps.


rule plot:
    input:
        tables=[f"results/tables/{m}.csv" for m in PLOT_TABLES],
        layers=heatmap_inputs,
    output:
        png=[
            report(
                f"results/plots/{q.name}_vs_{s}.png",
                caption="../report/plot.rst",
                category=q.metric,
                labels={"quantity": q.name, "kind": f"vs {s}"},
            )
            for q in QUANTITIES
            for s in SWEEPS
        ]
        + [
            report(
                "results/plots/eplb_on_vs_off.png",
                caption="../report/eplb.rst",
                category="EPLB on vs off",
                labels={"quantity": "all", "kind": "EPLB on vs off"},
            )
        ]
        + [
            report(
                f"results/plots/tradeoff_output_throughput_vs_{latency}.png",
                caption="../report/tradeoff.rst",
                category="Trade-off",
                labels={"quantity": "output_throughput", "kind": f"vs {latency}"},
            )
            for latency in TRADEOFFS
        ],
        csv=[f"results/plots/{q.name}_vs_{s}.csv" for q in QUANTITIES for s in SWEEPS]
        + ["results/plots/eplb_on_vs_off.csv"]
        + [
            f"results/plots/tradeoff_output_throughput_vs_{latency}.csv"
            for latency in TRADEOFFS
        ],
        heatmaps=(
            [
                report(
                    directory("results/plots/heatmaps"),
                    patterns=["{name}.png"],
                    caption="../report/heatmap.rst",
                    category="expert_load_by_layer",
                    labels={"trace": "{name}", "kind": "heatmap"},
                )
            ]
            if "expert_load_by_layer" in METRIC_NAMES
            else []
        ),
    log:
        "results/logs/plot.log",
    conda:
        "../../environment.yml"
    script:
        "../../scripts/make_plots.py"
