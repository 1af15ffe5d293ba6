"""A corpus of broken and odd traces, each with the exact outcome expected (issue 6).

`build_corpus(root)` writes every case as a trace directory (or, for a few, a link or a
file) directly under `root`, so `root` is also one trace collection for the workflow,
and returns a `Case` per entry saying what the CLI and the workflow must make of it.
Nothing here imports `tracemetrics`: the traces are written by hand, byte for byte.
Run as a script to look at it: `python tests/broken_corpus.py DIR`.

Rules the corpus pins down:

- duplicate keys: the stdlib parser keeps the last value, simdjson's lookup the first, so
  a result object that gives the metric's field twice is an error ("duplicate key"),
  as is a gate log that repeats `step`, `num_tokens` or `expert_loads`; a duplicate of
  a field the metric does not read is harmless.
- a UTF-8 byte-order mark is accepted (result files, gate logs, cards); other encodings
  (Latin-1 bytes, UTF-16) are "not valid UTF-8".
- `NaN`, `Infinity`, 1e400 and 10**400 are errors only in a field the metric reads.
- an unreadable file: chmod 000 where that stops a read (not as root); everywhere, a
  Unix socket named like a result file, which no one can open for reading.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REAL_BROKEN_CARD = (
    HERE / "data" / "Mixtral8x7B-vllmEP4-Perlmutter[defaultall2all_32_8192]-group12.yaml"
)
RESULT = "results_json/vllm-run01.json"
GATE = "gates_logs/gates_logs_01/gate_logs_1.json"  # the second layer of the first run
EXPERT = "token_to_expert_assignment"
TTFT = 120.0  # mean_ttft_ms of every generated result object


@dataclass(frozen=True)
class Case:
    """One corpus entry and what must come of it.

    CLI (`--trace root/name --metric metric`): exit `exit_code`; on exit 1, exactly one
    stderr line holding the path `file` (relative to the trace; "" is the trace itself),
    ":<line>:" after it when `line` is set, and every one of `words`; on exit 0 the
    printed value is `value` (a float, or the expert totals for the expert metric).
    Workflow: the metric's table row has `status` and a reason holding the same path and
    words (the workflow records the CLI's message); `status` None means the workflow
    does not see the entry as a trace, for the reason in `note`; `in_workflow` False
    marks an entry Snakemake cannot take at all (see `note`): leave it out of a run.
    """

    name: str
    metric: str
    exit_code: int
    file: str | None
    words: tuple[str, ...]
    status: str | None
    value: float | list[float] | None = None
    line: int | None = None
    note: str = ""
    in_workflow: bool = True  # False: remove it before a workflow run (see `note`)


Writer = Callable[[Path], None]  # gets the trace path (root / case.name)


# ----------------------------------------------------------------------- input builders


def card(phase: str = "serving", moe: bool = True) -> dict[str, Any]:
    return {
        "version": 1,
        "workload": {
            "model": {"phase": phase, "moe": moe, "model_family": "mixtral"},
            "data": {"max-num-seqs": 32, "max-num-batched-tokens": 8192, "max-model-len": 4096},
        },
        "Model-executor": {
            "framework": {"name": "vllm"},
            "model_plan_parallelization": {"tp": 1, "pp": 1, "ep": 4},
            "expert_parallel": {"mode": "default_all_to_all", "eplb": False, "top_k": 2},
        },
    }


def result(**fields: Any) -> dict[str, Any]:
    """A vLLM --save-result object; the per-request arrays follow the means."""
    obj: dict[str, Any] = {
        "date": "20250315-103012",
        "backend": "vllm",
        "num_prompts": 4,
        "request_rate": "inf",
        "duration": 12.5,
        "completed": 4,
        "request_throughput": 3.2,
        "output_throughput": 160.0,
        "mean_ttft_ms": TTFT,
        "p99_ttft_ms": 300.0,
        "mean_tpot_ms": 24.0,
        "p99_tpot_ms": 40.0,
        "ttfts": [0.11, 0.12, 0.13, 0.12],
        "itls": [[0.02, 0.03]] * 4,
        "generated_texts": ["text"] * 4,
        "errors": [""] * 4,
    }
    obj.update(fields)
    return obj


ROW = [3.0, 1.0, 2.0, 2.0, 1.0, 3.0, 2.0, 2.0]  # 8 experts, 16 selections: 8 tokens


def gate_log(rows: list[list[Any]] | None = None, tokens: list[Any] | None = None) -> dict:
    rows = [ROW, ROW] if rows is None else rows
    if tokens is None:
        tokens = [sum(r) / 2 if all(isinstance(v, float) for v in r) else 1 for r in rows]
    return {"step": list(range(len(rows))), "num_tokens": tokens, "expert_loads": rows}


def dump(value: Any) -> bytes:
    """bytes and str verbatim; anything else as indented JSON, as vLLM writes it."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, indent=2).encode()


def make(
    trace: Path,
    *,
    card_text: Any = None,
    card_name: str | None = None,
    results: Mapping[str, Any] | None = None,
    gates: Mapping[int, Mapping[int, Any]] | None = None,
) -> None:
    """A trace: the card (default: a good one), result files (default: one good file),
    gate logs (default: none; `gates` is {run: {layer: content}})."""
    trace.mkdir(parents=True)
    text = yaml.safe_dump(card()) if card_text is None else card_text
    (trace / (card_name or f"{trace.name}.yaml")).write_bytes(dump(text))
    (trace / "results_json").mkdir()
    for name, content in (
        results if results is not None else {"vllm-run01.json": result()}
    ).items():
        (trace / "results_json" / name).write_bytes(dump(content))
    for run, layers in (gates or {}).items():
        folder = trace / "gates_logs" / f"gates_logs_{run:02d}"
        folder.mkdir(parents=True)
        for layer, content in layers.items():
            (folder / f"gate_logs_{layer}.json").write_bytes(dump(content))


def with_result(content: Any) -> Writer:
    return lambda trace: make(trace, results={"vllm-run01.json": content})


def with_card(content: Any) -> Writer:
    return lambda trace: make(trace, card_text=content)


def with_gate(content: Any, other: Any = None) -> Writer:
    """Run 1: layer 0 good (or `other`), layer 1 `content`."""
    first = gate_log() if other is None else other
    return lambda trace: make(trace, gates={1: {0: first, 1: content}})


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


# ------------------------------------------------------------------------------ cases


def _error(name: str, metric: str, file: str, *words: str, line: int | None = None) -> Case:
    return Case(name, metric, 1, file, words, "invalid", line=line)


def _ok(name: str, metric: str = "TTFT", value: Any = TTFT, note: str = "") -> Case:
    return Case(name, metric, 0, None, (), "ok", value=value, note=note)


def result_cases() -> Iterator[tuple[Case, Writer]]:
    good = json.dumps(result(), indent=2)
    key = good.index('"mean_ttft_ms"')
    array = good.index("0.12,")
    cuts = {
        # name: (cut position, what the parser says)
        "after-brace": (1, "Expecting property name"),
        "in-a-key": (key + 8, "Unterminated string"),
        "after-colon": (key + len('"mean_ttft_ms":'), "Expecting value"),
        "in-an-array": (array + 4, "Expecting ',' delimiter"),
        "before-last-brace": (len(good) - 1, "Expecting ',' delimiter"),
    }
    for label, (cut, words) in cuts.items():
        text = good[:cut]
        yield (
            _error(
                f"result-truncated-{label}",
                "TTFT",
                RESULT,
                "not valid JSON",
                words,
                line=line_of(text, len(text)),
            ),
            with_result(text),
        )
    lines = json.dumps(result()) + "\n" + json.dumps(result())[:200] + "\n"
    yield (
        _error("result-truncated-append-line", "TTFT", RESULT, "not valid JSON", line=2),
        with_result(lines),
    )
    yield _error("result-empty", "TTFT", RESULT, "file is empty"), with_result("")
    yield _error("result-blank", "TTFT", RESULT, "file is empty"), with_result(" \n\t\n")
    for label, text, kind in (
        ("list", json.dumps([result()]), "a list"),
        ("string", '"mean_ttft_ms"', "a string"),
        ("null", "null", "null"),
        ("number", "120.0", "a number"),
    ):
        yield (
            _error(
                f"result-top-level-{label}",
                "TTFT",
                RESULT,
                f"top-level JSON value is {kind}",
                "expected an object",
            ),
            with_result(text),
        )
    yield _ok("result-bom"), with_result(b"\xef\xbb\xbf" + dump(result()))
    two_lines = (
        "\ufeff"
        + json.dumps(result(mean_ttft_ms=100.0))
        + "\n"
        + json.dumps(result(mean_ttft_ms=140.0))
        + "\n"
    )
    yield _ok("result-bom-append-lines"), with_result(two_lines)
    yield (
        _error("result-latin1-byte", "TTFT", RESULT, "not valid UTF-8"),
        with_result(dump(result(backend="vllm-XX")).replace(b"XX", b"caf\xe9")),
    )
    yield (
        _error("result-utf16", "TTFT", RESULT, "not valid UTF-8"),
        with_result(json.dumps(result()).encode("utf-16")),
    )
    for label, literal, words in (
        ("nan", "NaN", "is nan, not a finite number"),
        ("infinity", "Infinity", "is inf, not a finite number"),
        ("minus-infinity", "-Infinity", "is -inf, not a finite number"),
        ("1e400", "1e400", "is inf, not a finite number"),
        ("10e400-int", "1" + "0" * 400, "is an integer of about 401 digits, not a finite"),
        ("string", '"120.0"', "is a string ('120.0'), expected a number"),
    ):
        text = good.replace(f'"mean_ttft_ms": {TTFT}', f'"mean_ttft_ms": {literal}')
        yield (
            _error(f"result-metric-{label}", "TTFT", RESULT, "'mean_ttft_ms'", words),
            with_result(text),
        )
    for label, literal in (("nan", "NaN"), ("1e400", "1e400"), ("10e400-int", "1" + "0" * 400)):
        text = good.replace('"p99_tpot_ms": 40.0', f'"p99_tpot_ms": {literal}')
        yield (
            _ok(f"result-other-field-{label}", note="a field TTFT does not read"),
            with_result(text),
        )
    yield (
        _error("result-int-of-5000-digits", "TTFT", RESULT, "not valid JSON", "4300"),
        with_result(good.replace('"p99_tpot_ms": 40.0', '"p99_tpot_ms": ' + "7" * 5000)),
    )
    dup = good.replace('"p99_ttft_ms"', '"mean_ttft_ms": 999.0,\n  "p99_ttft_ms"')
    yield (
        _error("result-duplicate-metric-key", "TTFT", RESULT, "duplicate key 'mean_ttft_ms'"),
        with_result(dup),
    )
    nan_dup = dup.replace('"p99_tpot_ms": 40.0', '"p99_tpot_ms": NaN')  # the exact parser's path
    yield (
        _error(
            "result-duplicate-metric-key-slow-path", "TTFT", RESULT, "duplicate key 'mean_ttft_ms'"
        ),
        with_result(nan_dup),
    )
    appended = (
        json.dumps(result())
        + "\n"
        + json.dumps(result()).replace('"p99_ttft_ms"', '"mean_ttft_ms": 1.0, "p99_ttft_ms"')
        + "\n"
    )
    yield (
        _error(
            "result-duplicate-metric-key-append-line",
            "TTFT",
            RESULT,
            "duplicate key 'mean_ttft_ms'",
        ),
        with_result(appended),
    )
    huge = [result(mean_ttft_ms=1.7e308), result(mean_ttft_ms=1.5e308)]
    yield (
        _ok("result-near-float-max", value=1.6e308, note="their sum overflows, their mean not"),
        lambda trace: make(trace, results={"a.json": huge[0], "b.json": huge[1]}),
    )
    for label, old, new in (
        ("cr", '"backend": ', '"backend":\r'),  # JSON whitespace between tokens
        ("u2028", '"vllm"', '"vllm\u2028"'),  # a character of a string
    ):
        text = json.dumps(result(mean_ttft_ms=100.0), ensure_ascii=False).replace(old, new)
        yield (
            _ok(f"result-append-lines-{label}", note="only \\n ends a JSON line"),
            with_result(text + "\n" + json.dumps(result(mean_ttft_ms=140.0)) + "\n"),
        )
    other_dup = good.replace('"backend": "vllm"', '"backend": "vllm",\n  "backend": "sglang"')
    yield (
        _ok("result-duplicate-other-key", note="a duplicated field TTFT does not read"),
        with_result(other_dup),
    )


def layout_cases() -> Iterator[tuple[Case, Writer]]:
    def result_dir(trace: Path) -> None:
        make(trace, results={})
        (trace / RESULT).mkdir()

    def results_file(trace: Path) -> None:
        make(trace, results={})
        (trace / "results_json").rmdir()
        (trace / "results_json").write_text("{}")

    def result_loop(trace: Path) -> None:
        make(trace, results={})
        (trace / RESULT).symlink_to("vllm-run01.json")

    def results_loop(trace: Path) -> None:
        make(trace, results={})
        (trace / "results_json").rmdir()
        (trace / "results_json").symlink_to("results_json")

    def result_dangling(trace: Path) -> None:
        make(trace, results={})
        (trace / RESULT).symlink_to("vllm-run00.json")

    def socket_file(trace: Path) -> None:
        make(trace, results={})
        unix_socket(trace / RESULT)

    def chmod_000(trace: Path) -> None:
        make(trace)
        (trace / RESULT).chmod(0)

    yield (
        _error("result-file-is-a-directory", "TTFT", RESULT, "result file is a directory"),
        result_dir,
    )
    yield (
        _error(
            "results-dir-is-a-file",
            "TTFT",
            "results_json",
            "is a file, expected the results directory",
        ),
        results_file,
    )
    yield (
        _error("result-symlink-loop", "TTFT", RESULT, "cannot read result file", "symbolic links"),
        result_loop,
    )
    yield (
        _error(
            "results-dir-symlink-loop",
            "TTFT",
            "results_json",
            "cannot list directory",
            "symbolic links",
        ),
        results_loop,
    )
    yield (
        _error(
            "result-dangling-symlink", "TTFT", RESULT, "cannot read result file", "No such file"
        ),
        result_dangling,
    )
    yield (
        _error(
            "result-unreadable-socket",
            "TTFT",
            RESULT,
            "cannot read result file",
            "No such device or address",
        ),
        socket_file,
    )
    if os.geteuid() != 0:  # root reads a chmod-000 file; the socket case covers it there
        yield _error("result-unreadable-chmod", "TTFT", RESULT, "Permission denied"), chmod_000

    def card_dir(trace: Path) -> None:
        make(trace)
        (trace / f"{trace.name}.yaml").unlink()
        (trace / f"{trace.name}.yaml").mkdir()

    yield _error("card-is-a-directory", "TTFT", "", "no workload card"), card_dir

    def gate_dir(trace: Path) -> None:
        make(trace, gates={1: {0: gate_log()}})
        (trace / GATE).mkdir()

    def gates_file(trace: Path) -> None:
        make(trace)
        (trace / "gates_logs").write_text("{}")

    def gates_dangling(trace: Path) -> None:
        make(trace)
        (trace / "gates_logs").symlink_to("/nonexistent/scratch/gates_logs")

    yield _error("gate-log-is-a-directory", EXPERT, GATE, "gate log is a directory"), gate_dir
    yield (
        _error("gates-dir-dangling-symlink", EXPERT, "gates_logs", "broken symbolic link"),
        gates_dangling,
    )
    yield (
        _error(
            "gates-dir-is-a-file",
            EXPERT,
            "gates_logs",
            "is a file, expected the gate-log directory",
        ),
        gates_file,
    )


def _card_error(name: str, *words: str, status: str = "invalid", **kwargs: Any) -> Case:
    """A case whose card (`<name>.yaml`) is at fault; TTFT unless `metric` says otherwise."""
    metric = kwargs.pop("metric", "TTFT")
    return Case(name, metric, 1, f"{name}.yaml", words, status, **kwargs)


def card_cases() -> Iterator[tuple[Case, Writer]]:
    for label, text, words in (
        ("empty", "", "workload card is empty"),
        ("only-a-comment", "# to be filled in\n", "workload card is empty"),
        ("scalar", "serving\n", "workload card is a string, expected a mapping"),
        ("number", "42\n", "workload card is a number, expected a mapping"),
        ("list", "- workload\n- model\n", "workload card is a list, expected a mapping"),
        ("no-workload", "version: 1\nworkload: none\n", "no workload.model mapping"),
    ):
        yield _card_error(f"card-{label}", words), with_card(text)
    tabs = yaml.safe_dump(card()).replace("    phase", "\tphase")
    line = line_of(tabs, tabs.index("\t"))
    yield _card_error("card-tabs", "not valid YAML", "tab character", line=line), with_card(tabs)
    yield (
        _card_error(
            "card-real-malformed", "not valid YAML", line=18, note="from a real collection"
        ),
        with_card(REAL_BROKEN_CARD.read_bytes()),
    )
    latin1 = yaml.safe_dump(card()).replace("mixtral", "mixtr\xe9l").encode("latin-1")
    yield _card_error("card-latin1-byte", "not valid YAML", "UTF-8"), with_card(latin1)
    dup = yaml.safe_dump(card(phase="training"))
    dup = dup.replace("phase: training", "phase: training\n    phase: serving")
    yield (
        _ok("card-duplicate-key", note="YAML: the last value wins (one parser: no disagreement)"),
        with_card(dup),
    )
    top_k = yaml.safe_dump(card()).replace("top_k: 2", "top_k: " + "9" * 400)
    yield (
        _ok("card-top-k-huge", "expert_imbalance", None, note="ignored, like a non-integer"),
        lambda trace: make(trace, card_text=top_k, gates={1: {0: gate_log()}}),
    )
    yield _ok("card-bom"), with_card(b"\xef\xbb\xbf" + yaml.safe_dump(card()).encode())
    yield (
        _card_error("card-phase-training", "phase is 'training'", status="not_applicable"),
        with_card(yaml.safe_dump(card(phase="training"))),
    )
    yield (
        _card_error(
            "card-moe-false", "workload.model.moe is False", status="not_applicable", metric=EXPERT
        ),
        lambda trace: make(
            trace, card_text=yaml.safe_dump(card(moe=False)), gates={1: {0: gate_log()}}
        ),
    )

    def several(trace: Path) -> None:
        make(trace, card_name="a.yaml")
        (trace / "b.yml").write_text(yaml.safe_dump(card()))

    def several_one_named(trace: Path) -> None:
        make(trace)
        (trace / "notes.yaml").write_text("not: [a card")

    yield _error("cards-several", "TTFT", "", "several YAML files", "a.yaml, b.yml"), several
    yield _ok("cards-several-one-named", note="<dirname>.yaml wins"), several_one_named


def gate_cases() -> Iterator[tuple[Case, Writer]]:
    good = json.dumps(gate_log(), indent=2)
    totals = [4 * v for v in ROW]  # two good layers of two rows
    yield _ok("gates-good", EXPERT, totals), with_gate(gate_log())
    yield _ok("gates-bom", EXPERT, totals), with_gate(b"\xef\xbb\xbf" + good.encode())
    for label, content, words in (
        ("empty", "", ("file is empty",)),
        ("truncated", good[: good.index("expert_loads") + 30], ("not valid JSON",)),
        ("top-level-list", [ROW, ROW], ("gate log is a list, expected an object",)),
        ("top-level-null", "null", ("gate log is null, expected an object",)),
        ("top-level-string", '"expert_loads"', ("gate log is a string, expected an object",)),
        ("not-utf8", good.encode().replace(b'"step"', b'"st\xffp"'), ("not valid UTF-8",)),
        ("ragged-rows", gate_log([ROW, ROW[:7]]), ("ragged expert_loads", "row 1 has 7 experts")),
        (
            "negative-load",
            gate_log([ROW, [-1.0, *ROW[1:]]], [8, 8]),
            ("expert_loads[1][0] is negative",),
        ),
        ("negative-tokens", gate_log(tokens=[8, -8]), ("num_tokens[1] is negative",)),
        ("zero-experts", gate_log([[], []], [0, 0]), ("zero experts",)),
        ("nan-load", good.replace("3.0", "NaN", 1), ("expert_loads[0][0] is nan",)),
        ("1e400-load", good.replace("3.0", "1e400", 1), ("expert_loads[0][0] is inf",)),
        (
            "load-as-string",
            gate_log([ROW, ["3.0", *ROW[1:]]], [8, 8]),
            ("expert_loads[1][0] is a string",),
        ),
        (
            "load-above-2-53",
            gate_log([ROW, [2.0**60, *ROW[1:]]], [8, 8]),
            ("expert_loads[1][0] is 1.152921504606847e+18, too large for a token count",),
        ),
        # simdjson's as_buffer flattens nesting: the sizes match, the shape does not
        ("nested-num-tokens", gate_log(tokens=[[8, 8], []]), ("num_tokens[0] is a list",)),
        ("nested-loads", gate_log([[[3.0], *ROW[1:]], ROW]), ("expert_loads[0][0] is a list",)),
        (
            "mismatched-lengths",
            {**gate_log(), "step": [0, 1, 2]},
            ("lists of different lengths", "step has 3"),
        ),
        ("missing-key", {"step": [0], "expert_loads": [ROW]}, ("gate log lacks num_tokens",)),
        (
            "duplicate-key",
            good[:-2] + ',\n  "expert_loads": [[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]]\n}',
            ("duplicate key 'expert_loads'",),
        ),
        (
            "duplicate-key-slow-path",  # NaN in `step` (unused) sends it to the exact parser
            '{"step": [NaN, 1], "num_tokens": [8, 8], "expert_loads": [[1, 1], [1, 1]], '
            '"expert_loads": [[9, 9], [9, 9]]}',
            ("duplicate key 'expert_loads'",),
        ),
    ):
        yield _error(f"gates-{label}", EXPERT, GATE, *words), with_gate(content)
    eight = gate_log()
    six = gate_log([ROW[:6], ROW[:6]], [6, 6])
    yield (
        _error("gates-expert-count-across-layers", EXPERT, GATE, "rows have 6 experts", "has 8"),
        with_gate(six, eight),
    )
    yield (
        _error(
            "gates-expert-count-across-runs",
            EXPERT,
            "gates_logs/gates_logs_02/gate_logs_0.json",
            "rows have 6 experts",
            "has 8",
        ),
        lambda trace: make(trace, gates={1: {0: eight, 1: eight}, 2: {0: six}}),
    )
    one = gate_log([[2.0], [4.0]], [1, 2])
    yield (
        _error("gates-one-expert", EXPERT, "gates_logs", "1 expert(s)", "at least 2"),
        with_gate(one, one),
    )
    empty = gate_log([], [])
    yield _error("gates-zero-steps", EXPERT, "gates_logs", "no steps"), with_gate(empty, empty)
    yield (
        _ok(
            "gates-zero-steps-in-one-layer",
            EXPERT,
            [2 * v for v in ROW],
            note="an empty layer adds nothing",
        ),
        with_gate(empty),
    )
    zero = gate_log([[0.0] * 8], [0])
    yield (
        _error("gates-all-zero-load", EXPERT, "gates_logs", "no expert load"),
        with_gate(zero, zero),
    )


def name_cases() -> Iterator[tuple[Case, Writer]]:
    for name in (
        "trace with spaces",
        "Mixtral8x7B-vllmEP4-Perlmutter[défaultall2all_32_8192]-grüppe-μ",
        "trace[a,b]-x,y",
        "Mixtral8x7B-vllmTP4-Perlmutter[baseline_32_8192]-group12, copy (2)",
    ):
        yield _ok(name), lambda trace: make(trace)

    def linked(trace: Path) -> None:
        target = trace.parent / ".link-targets" / "real trace"
        make(target)
        trace.symlink_to(target, target_is_directory=True)

    yield _ok("symlinked-trace", note="a link to a trace outside the collection"), linked
    yield (
        Case(
            "trace-symlink-loop",
            "TTFT",
            1,
            "",
            ("cannot open trace directory", "symbolic links"),
            "invalid",
            note="a link leading nowhere is kept as a trace, so it is reported",
        ),
        lambda trace: trace.symlink_to(trace.name),
    )
    yield (
        Case(
            "trace-dangling-symlink",
            "TTFT",
            1,
            "",
            ("broken symbolic link",),
            "invalid",
            note="a link to a purged scratch directory: reported, not skipped",
        ),
        lambda trace: trace.symlink_to("/nonexistent/scratch/trace"),
    )
    yield (
        Case(
            "trace{with}braces",
            "TTFT",
            0,
            None,
            (),
            None,
            TTFT,
            note="the CLI reads it; the workflow leaves it out with a message naming it, "
            "since Snakemake would read {with} in its output paths as a wildcard",
        ),
        lambda trace: make(trace),
    )
    yield (
        Case(
            "trace-is-a-file",
            "TTFT",
            1,
            "",
            ("not a directory",),
            None,
            note="a file in the collection is not a trace",
        ),
        lambda trace: trace.write_text("{}"),
    )


def unix_socket(path: Path) -> None:
    """A socket file at `path`: open() fails with ENXIO, even for root."""
    cwd = os.getcwd()
    os.chdir(path.parent)  # bind a short relative name: socket paths are limited to ~107 bytes
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path.name)
    finally:
        os.chdir(cwd)


def all_cases() -> Iterator[tuple[Case, Writer]]:
    for group in (result_cases, layout_cases, card_cases, gate_cases, name_cases):
        yield from group()


def build_corpus(root: Path) -> list[Case]:
    """Write every case under `root` (created); the cases, in order."""
    root.mkdir(parents=True, exist_ok=True)
    cases = []
    for case, write in all_cases():
        write(root / case.name)
        cases.append(case)
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "corpus case names must be unique"
    return cases


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "broken_corpus")
    if out.exists():
        shutil.rmtree(out)
    for case in build_corpus(out):
        print(f"{case.name}: {case.metric} -> exit {case.exit_code}, {case.status}")
