"""Every message the loading stack's releases can print, fed back through `whyload explain`.

knowledge/error_templates.json.gz holds each distinct message template that
scripts/mine_error_texts.py found in the releases of transformers, torch, safetensors, tokenizers,
huggingface_hub, accelerate, sentence-transformers, peft, bitsandbytes and Lightning (and the
native, CPython and OS texts loading hits), each mapped to a cause code or marked as not about
loading. Here every template is rendered into a concrete message (placeholders filled with
realistic paths, repo ids, shapes), put in a log the way it is printed (a traceback's last line,
a logging record, a warnings line), and explained.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from whyload.knowledge.error_texts import ERROR_TEXTS, HAND_ROWS
from whyload.knowledge.mined_error_texts import (
    DECIDED_ELSEWHERE,
    as_log,
    message_line,
    recognisable,
    render,
    table_rows,
)
from whyload.logs import diagnose_error
from whyload.registry import all_rules

ROWS = list(table_rows())
MAPPED = [r for r in ROWS if r.get("code")]
NOT_LOADING = [r for r in ROWS if r.get("not_loading")]


def _log_of(row: dict[str, Any]) -> str:
    return as_log(row["exception"], render(row["template"]))


def _codes(text: str) -> list[str]:
    return [f.code for f in diagnose_error(text)]


def test_the_table_is_large_and_says_where_each_entry_came_from() -> None:
    libraries = {r["library"] for r in ROWS}
    assert {"transformers", "torch", "safetensors-rust", "huggingface_hub", "tokenizers",
            "accelerate", "sentence-transformers", "peft", "bitsandbytes", "lightning",
            "torch-native", "cpython", "os"} <= libraries
    assert len(MAPPED) > 1000
    for row in ROWS:
        assert row["source"] and row["first"] and row["last"] and row["decided_by"]
        assert bool(row.get("code")) != bool(row.get("not_loading") or row.get("unmapped"))


def test_every_code_of_the_table_is_registered() -> None:
    registered = {r.code for r in all_rules()}
    assert {r["code"] for r in MAPPED} <= registered


def test_every_mapped_template_is_explained_as_its_code() -> None:
    """The corpus: each loading-related template, rendered, gets the code it is mapped to."""
    wrong = []
    for row in MAPPED:
        if not recognisable(message_line(row["template"])):
            continue  # a hand row mapped it; too little text for a template of its own
        if row["decided_by"] == DECIDED_ELSEWHERE:
            continue  # test_loading_reports_are_left_to_their_reader
        log = _log_of(row)
        found = _codes(log)
        if not found or found[0] != row["code"]:
            wrong.append((row["code"], found[:2], log.strip().splitlines()[-1][:160]))
    assert not wrong, f"{len(wrong)} of {len(MAPPED)}: {wrong[:20]}"


def test_loading_reports_are_left_to_their_reader() -> None:
    """transformers' "Some weights of ... were not initialized" sentences name their keys: the
    loading report reader decides them from the keys (a new head, a pooler, the whole base
    model), so they have no template row that would answer first."""
    reported = [r for r in MAPPED if r["decided_by"] == DECIDED_ELSEWHERE]
    assert len(reported) >= 3
    mined = ERROR_TEXTS[len(HAND_ROWS):]
    for row in reported:
        for line in _log_of(row).splitlines():
            assert not [r.code for r in mined if r.pattern.search(line)], (row, line)


def test_not_loading_templates_give_no_loading_finding() -> None:
    wrong = []
    for row in NOT_LOADING:
        found = _codes(_log_of(row))
        if found:
            wrong.append((found[:2], row["library"], row["template"][:120]))
    assert not wrong, f"{len(wrong)} of {len(NOT_LOADING)}: {wrong[:20]}"


@pytest.mark.parametrize(("log", "code"), [
    # messages of releases whyload's hand rows were never written for, as those releases print
    # them (transformers 3.x/4.x, huggingface_hub 0.x, safetensors < 0.4)
    ("OSError: Can't load weights for 'bert-base-uncased'. Make sure that:\n\n"
     "- 'bert-base-uncased' is a correct model identifier listed on "
     "'https://huggingface.co/models'\n", "WL570"),
    ("huggingface_hub.utils._errors.RevisionNotFoundError: 404 Client Error. (Request ID: "
     "Root=1-65a)\n\nRevision Not Found for url: https://huggingface.co/api/models/"
     "bert-base-uncased/revision/v9.", "WL564"),
    ("safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooSmall",
     "WL120"),
    ("RuntimeError: CUDA error: invalid device ordinal", "WL562"),
    ("ValueError: You can't pass `load_in_4bit`or `load_in_8bit` as a kwarg when passing "
     "`quantization_config` argument at the same time.", "WL563"),
])
def test_messages_of_older_releases(log: str, code: str) -> None:
    assert _codes(log)[:1] == [code], log


def test_hand_rows_come_first_and_mined_rows_follow() -> None:
    assert ERROR_TEXTS[:len(HAND_ROWS)] == HAND_ROWS
    assert len(ERROR_TEXTS) > len(HAND_ROWS)


def test_matching_a_line_against_the_whole_table_stays_fast() -> None:
    """The mined templates are filed by literal words: a line that names none of them costs a
    dictionary look-up per word, not thousands of regexes."""
    lines = [f"ValueError: step {i}: the loss went up again after epoch {i % 7}\n"
             for i in range(3000)]
    start = time.perf_counter()
    for line in lines:
        diagnose_error(line)
    assert (time.perf_counter() - start) / len(lines) < 0.002


def _miner() -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "mine_error_texts.py"
    spec = importlib.util.spec_from_file_location("mine_error_texts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mine_error_texts"] = module
    spec.loader.exec_module(module)
    return module


SOURCE = '''
def f(path, n):
    raise OSError(f"Can't load {path}: {n!r} files")
def g(a, b):
    raise ValueError("size %s vs %d" % (a, b))
def h(a):
    raise ValueError("x {} and {name}".format(a, name=b))
def i(a):
    msg = "first part " + a
    msg += f" second {{a}}"
    raise RuntimeError(msg)
def j(model):
    logger.warning(f"Some weights of {model.__class__.__name__} were not initialized")
    warnings.warn("deprecated thing", FutureWarning)
    raise errors.EntryNotFoundError("Entry {x}".format(x=1)) from None
'''


def test_the_miner_reads_each_way_a_message_is_built() -> None:
    sites = {(s.exception, s.template, s.function)
             for s in _miner().python_sites("x.py", SOURCE)}
    assert sites == {
        ("OSError", "Can't load {path}: {n} files", "f"),  # f-string
        ("ValueError", "size {a} vs {b}", "g"),  # printf
        ("ValueError", "x {a} and {name}", "h"),  # str.format
        ("RuntimeError", "first part {a} second {{a}}", "i"),  # a variable built with +, +=
        ("WARNING", "Some weights of {name} were not initialized", "j"),  # logger
        ("FutureWarning", "deprecated thing", "j"),  # warnings.warn
        ("EntryNotFoundError", "Entry {x}", "j"),
    }


def test_the_miner_reads_rust_format_strings() -> None:
    assert _miner().rust_template("tensor `{name}` not found, {0:?} {{x}}") == \
        "tensor `{name}` not found, {value} {{x}}"


# Real errors of the installed transformers 5.25 / torch 2.13 / safetensors 0.8 whose text only
# a mined template names (no hand row): each run in a child process, its stderr explained.
REAL_ONLY_MINED = [
    ("flash-attention-not-installed",
     "transformers.AutoModel.from_pretrained(folder, attn_implementation='flash_attention_2')",
     "WL561"),
    ("safe-open-missing-file",
     "import safetensors; safetensors.safe_open(folder + '/nope.safetensors', 'pt')", "WL148"),
    ("auto-class-instantiated", "transformers.AutoModel()", "WL560"),
]


@pytest.mark.parametrize(("name", "code_line", "code"), REAL_ONLY_MINED,
                         ids=[n for n, _, _ in REAL_ONLY_MINED])
def test_real_errors_only_mined_templates_name(name: str, code_line: str, code: str,
                                               safetensors_model: Any) -> None:
    import subprocess
    import sys

    from whyload.knowledge.error_texts import HAND_ROWS

    program = f"import transformers\nfolder = {str(safetensors_model)!r}\n{code_line}\n"
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1, run.stderr[-400:]
    last = run.stderr.strip().splitlines()[-1]
    assert not [r.code for r in HAND_ROWS if r.pattern.search(last)], "a hand row names it"
    found = _codes(run.stderr)
    assert found[:1] == [code], (found, last)
