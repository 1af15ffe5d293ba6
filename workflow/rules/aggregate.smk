# Per-metric tables (one row per trace) and the list of invalid traces.


rule table:
    input:
        metric_files,
    output:
        report(
            "results/tables/{metric}.csv",
            caption="../report/table.rst",
            category="{metric}",
            labels={"metric": "{metric}", "kind": "table"},
        ),
    log:
        "results/logs/table/{metric}.log",
    conda:
        "../../environment.yml"
    script:
        "../../scripts/make_table.py"


rule invalid_traces:
    input:
        expand("results/tables/{metric}.csv", metric=METRIC_NAMES),
    output:
        "results/invalid_traces.txt",
    log:
        "results/logs/invalid_traces.log",
    conda:
        "../../environment.yml"
    script:
        "../../scripts/summarize.py"


rule comparison:
    input:
        [f"results/tables/{m}.csv" for m in PLOT_TABLES],
    output:
        report(
            "results/tables/comparison.csv",
            caption="../report/comparison.rst",
            category="Variant comparison",
            labels={"kind": "relative difference"},
        ),
    log:
        "results/logs/comparison.log",
    conda:
        "../../environment.yml"
    script:
        "../../scripts/make_comparison.py"
