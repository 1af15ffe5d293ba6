# One job per trace writes every metric's file: Snakemake starts a process per job,
# so fewer jobs is faster; the single-pass readers make recomputing a trace cheap.
# Inputs are the real files read, so editing one reruns only its trace's job.


rule extract:
    input:
        trace_inputs,
    output:
        [f"results/metrics/{{trace}}/{m}.json" for m in METRIC_NAMES],
    log:
        "results/logs/extract/{trace}.log",
    conda:
        "../../environment.yml"
    params:
        python=sys.executable,
        script=str(REPO / "scripts" / "extract_trace.py"),
        trace_dir=trace_dir,
        metrics=",".join(METRIC_NAMES),
        custom=custom_metrics_option(),
        phases=",".join(config["inference_phases"]),
        strict="--strict" if config["strict"] else "",
        gate_options=gate_options(),
    # A plain shell job (not `script:`): start-up is a bare Python importing the library.
    shell:
        "{params.python:q} {params.script:q} --trace {params.trace_dir:q}"
        " --out-dir results/metrics/{wildcards.trace:q} --metrics {params.metrics}"
        " --phases {params.phases:q} {params.strict} {params.gate_options} {params.custom}"
        " 2> {log:q}"
        " || {{ cat {log:q} >&2; exit 1; }}"
