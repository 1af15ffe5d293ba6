# tracemetrics: trace collection -> per-trace metrics -> tables -> plots -> report.
# Run `snakemake --cores 2`; see README.md and config/README.md.
import os

from snakemake.utils import min_version

min_version("8.20")


# The default config sits beside this file, whatever the working directory;
# --configfile and --config override it key by key.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"


# Cheap aggregation steps run where snakemake runs, never as cluster jobs.
localrules:
    all,
    table,
    invalid_traces,
    plot,
    comparison,


rule all:
    default_target: True
    input:
        all_outputs(),
        # every plot file, so deleting any one makes the next run draw it again
        rules.plot.output,


onsuccess:
    report_invalid()
