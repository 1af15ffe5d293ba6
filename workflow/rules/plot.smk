# Sweep plots: every inference metric against every configured sweep. One job draws
# them all, so matplotlib and pandas are imported once rather than once per metric.


rule plot:
    input:
        [f"results/tables/{m}.csv" for m in PLOTTED],
    output:
        png=[
            report(
                f"results/plots/{m}_vs_{s}.png",
                caption="../report/plot.rst",
                category=m,
                labels={"metric": m, "kind": f"vs {s}"},
            )
            for m in PLOTTED
            for s in SWEEPS
        ],
        csv=[f"results/plots/{m}_vs_{s}.csv" for m in PLOTTED for s in SWEEPS],
    log:
        "results/logs/plot.log",
    conda:
        "../../environment.yml"
    script:
        "../../scripts/plot_sweeps.py"
