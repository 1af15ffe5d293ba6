# Sweep plots: each inference metric against each configured sweep, one job per metric.


rule plot:
    input:
        "results/tables/{metric}.csv",
    output:
        png=[
            report(
                f"results/plots/{{metric}}_vs_{s}.png",
                caption="../report/plot.rst",
                category="{metric}",
                labels={"metric": "{metric}", "kind": f"vs {s}"},
            )
            for s in SWEEPS
        ],
        csv=[f"results/plots/{{metric}}_vs_{s}.csv" for s in SWEEPS],
    log:
        "results/logs/plot/{metric}.log",
    conda:
        "../../environment.yml"
    script:
        "../../scripts/plot_metric.py"
