# One job per trace and input family: result-JSON metrics, and gate-log metrics.
# Inputs are the real files read, so editing one reruns only its trace's job;
# a gate-log change does not recompute the cheap metrics, nor the reverse.


rule extract_results:
    input:
        results_inputs,
    output:
        [f"results/metrics/{{trace}}/{m}.json" for m in RESULT_METRICS],
    log:
        "results/logs/extract_results/{trace}.log",
    conda:
        "../../environment.yml"
    params:
        **EXTRACT_PARAMS,
        metrics=",".join(RESULT_METRICS),
    shell:
        EXTRACT_SHELL


rule extract_gates:
    input:
        gates_inputs,
    output:
        [f"results/metrics/{{trace}}/{m}.json" for m in GATE_METRICS],
    log:
        "results/logs/extract_gates/{trace}.log",
    conda:
        "../../environment.yml"
    params:
        **EXTRACT_PARAMS,
        metrics=",".join(GATE_METRICS),
    shell:
        EXTRACT_SHELL
