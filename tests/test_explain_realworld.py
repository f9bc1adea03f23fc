"""whyload explain from a user's side: the logs people really paste (training runs, pip installs,
test runs, coloured or Windows or Latin-1 logs, files passed by mistake) must not raise false
alarms, and failures made here by the real libraries must come out under check's code."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import codes, edit_config, run_cli

import whyload
from whyload.logs import diagnose_error, explain
from whyload.report import Report, Severity, Verdict

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "warning"}


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` as a user's script; stdout and stderr together, as `2>&1 | tee` keeps them
    (carriage returns of progress bars included)."""
    script = cwd / "user_script.py"
    script.write_text(textwrap.dedent(code))
    run = subprocess.run([sys.executable, str(script)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=cwd, env=OFFLINE, timeout=240)
    return subprocess.CompletedProcess(run.args, run.returncode,
                                       run.stdout.decode("utf-8", "replace"))


def _errors(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity is Severity.ERROR]


# --- healthy logs ------------------------------------------------------------------------------

TRAINING_SCRIPT = """
    import warnings, torch
    from tqdm import tqdm
    from transformers import BertConfig, BertModel, BertForSequenceClassification
    config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    BertModel(config).save_pretrained("base")
    model = BertForSequenceClassification.from_pretrained("base", num_labels=2)
    warnings.warn("`resume_download` is deprecated and will be removed", FutureWarning)
    if TRAIN:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for epoch in range(2):
            for step in tqdm(range(4), desc=f"epoch {epoch}"):
                out = model(input_ids=torch.randint(0, 99, (2, 8)), labels=torch.tensor([0, 1]))
                out.loss.backward(); optimizer.step(); optimizer.zero_grad()
            print({"loss": round(out.loss.item(), 4), "epoch": epoch}, flush=True)
        model.save_pretrained("finetuned")
"""


@pytest.fixture(scope="module")
def training_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real fine-tuning run (new head, tqdm bars, warnings, loss lines) and the same load
    without the training after it."""
    logs = {}
    for name, train in (("train", True), ("inference", False)):
        folder = tmp_path_factory.mktemp(name)
        run = _run_python(f"TRAIN = {train}\n" + textwrap.dedent(TRAINING_SCRIPT), folder)
        assert run.returncode == 0, run.stdout[-2000:]
        assert "classifier.weight" in run.stdout and "\r" in run.stdout  # report and tqdm bars
        logs[name] = folder / f"{name}.log"
        logs[name].write_bytes(run.stdout.encode())
    return logs


def test_a_fine_tuning_run_is_healthy_and_its_new_head_only_a_note(
        training_logs: dict[str, Path]) -> None:
    report = explain(training_logs["train"])
    assert report.verdict is not Verdict.FAILS
    assert not _errors(report)
    head = report.by_code("WL401")[0]
    assert head.severity is Severity.INFO
    assert head.evidence["training_seen"] is True
    assert run_cli("explain", str(training_logs["train"])).returncode == 0


def test_a_new_head_without_training_after_it_stays_a_warning(
        training_logs: dict[str, Path]) -> None:
    report = explain(training_logs["inference"])
    assert report.by_code("WL401")[0].severity is Severity.WARNING
    assert report.verdict is not Verdict.FAILS


def test_transformers_4_sentences_followed_by_trainer_output_are_a_note() -> None:
    log = ("Some weights of BertForSequenceClassification were not initialized from the model "
           "checkpoint at bert-base-uncased and are newly initialized: ['classifier.bias', "
           "'classifier.weight']\nYou should probably TRAIN this model on a down-stream task to "
           "be able to use it for predictions and inference.\n***** Running training *****\n"
           "{'loss': 0.6931, 'learning_rate': 4e-05, 'epoch': 1.0}\n")
    report = explain(_stream(log), run_check=False)
    assert [(f.code, f.severity) for f in report.findings] == [("WL401", Severity.INFO)]


PIP_LOG = """\
Collecting python-json-logger
  Downloading python_json_logger-2.0.7-py3-none-any.whl (8.1 kB)
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object \
at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name \
resolution')': /simple/torch/
WARNING: Retrying (Retry(total=3, connect=None, read=None, redirect=None, status=None)) after \
connection broken by 'SSLError(SSLEOFError(8, 'EOF occurred in violation of protocol \
(_ssl.c:2427)'))': /simple/torch/
Collecting errorhandler
Collecting oom-detector
Installing collected packages: python-json-logger, errorhandler, oom-detector
ERROR: pip's dependency resolver does not currently take into account all the packages that are \
installed. This behaviour is the source of the following dependency conflicts.
tensorflow 2.15.0 requires keras<2.16,>=2.15.0, but you have keras 3.0.0 which is incompatible.
Successfully installed errorhandler-2.0 oom-detector-0.1 python-json-logger-2.0.7
WARNING: Running pip as the 'root' user can result in broken permissions
"""

HUB_RETRY_LOG = """\
'(ReadTimeoutError("HTTPSConnectionPool(host='huggingface.co', port=443): Read timed out. \
(read timeout=10)"), '(Request ID: 1c5b)')' thrown while requesting HEAD \
https://huggingface.co/bert-base-uncased/resolve/main/config.json
Retrying in 1s [Retry 1/5].
model.safetensors: 100%|##########| 440M/440M [00:04<00:00, 95.1MB/s]
"""

PYTEST_LOG = """\
============================= test session starts ==============================
tests/test_proc.py::test_worker_Killed_gracefully PASSED                  [ 20%]
tests/test_proc.py::test_killed_by_signal_9_is_reported PASSED            [ 40%]
tests/test_proc.py::test_segmentation_fault_handler PASSED                [ 60%]
tests/test_proc.py::test_cuda_out_of_memory_is_retried PASSED             [ 80%]
tests/test_proc.py::test_MemoryError_message SKIPPED (needs a GPU)        [100%]
========================= 4 passed, 1 skipped in 0.12s =========================
"""


def _stream(text: str) -> io.StringIO:
    return io.StringIO(text)


@pytest.mark.parametrize("log", [PIP_LOG, HUB_RETRY_LOG, PYTEST_LOG],
                         ids=["pip-install", "hub-retry", "pytest-test-names"])
def test_healthy_logs_with_alarming_words_find_nothing(log: str, tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_text(log)
    report = explain(path, run_check=False)
    assert codes(report) == [], [(f.code, f.evidence.get("text")) for f in report.findings]
    run = run_cli("explain", str(path), "--format", "json")
    assert run.returncode == 0 and json.loads(run.stdout)["verdict"] == "unknown"


def test_real_python_warnings_are_not_failures(tmp_path: Path) -> None:
    run = _run_python("""
        import warnings
        warnings.warn("This DataLoader will create 4 worker processes in total", UserWarning)
        warnings.warn("`clean_up_tokenization_spaces` was not set", FutureWarning)
        warnings.warn("pkg_resources is deprecated as an API", DeprecationWarning)
        warnings.warn("unclosed file <_io.BufferedReader name='model.safetensors'>",
                      ResourceWarning)
        warnings.warn("overflow encountered in exp; missing values filled", RuntimeWarning)
        print("The attention mask and the pad token id were not set: unexpected behavior")
    """, tmp_path)
    assert "Warning" in run.stdout
    report = explain(_stream(run.stdout), run_check=False)
    assert codes(report) == []


def test_colour_windows_line_ends_and_latin1_bytes(tmp_path: Path) -> None:
    healthy = tmp_path / "healthy.log"
    healthy.write_bytes(b"\x1b[32mINFO\x1b[0m starting\r\n\x1b[33mWARNING\x1b[0m caf\xe9 low "
                        b"disk\r\nerror-free run \xff\xfe\r\n")
    assert codes(explain(healthy, run_check=False)) == []
    failing = tmp_path / "failing.log"
    failing.write_bytes(b"\x1b[31mTraceback (most recent call last):\r\n  File \"t.py\", line 1,"
                        b" in <module>\r\nOSError: [Errno 28] No space left on device\x1b[0m "
                        b"\xe9\r\n")
    found = explain(failing, run_check=False).by_code("WL541")[0]
    assert found.evidence["line"] == 3
    assert "\x1b" not in str(found.evidence["text"])


@pytest.mark.parametrize("content", [b"", b"ok", b"all good, no newline at the end"],
                         ids=["empty", "two-bytes", "one-line"])
def test_empty_and_one_line_files(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "tiny.log"
    path.write_bytes(content)
    run = run_cli("explain", str(path), "--format", "json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["verdict"] == "unknown"


def test_a_one_line_error_without_newline_is_found(tmp_path: Path) -> None:
    path = tmp_path / "one.log"
    path.write_bytes(b"OSError: [Errno 28] No space left on device")
    assert codes(explain(path, run_check=False)) == ["WL541"]


# --- files passed by mistake -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin", "legacy"])
def test_a_weights_file_is_refused_with_the_command_to_run(
        name: str, safetensors_model: Path, bin_model: Path, legacy_bin_model: Path) -> None:
    path = {"model.safetensors": safetensors_model / "model.safetensors",
            "pytorch_model.bin": bin_model / "pytorch_model.bin",
            "legacy": legacy_bin_model / "pytorch_model.bin"}[name]
    run = run_cli("explain", str(path))
    assert run.returncode == 2
    assert "not a log" in run.stderr and f"whyload check {path}" in run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr


def test_a_gzipped_log_says_how_to_read_it(tmp_path: Path) -> None:
    path = tmp_path / "train.log.gz"
    path.write_bytes(gzip.compress(b"OSError: [Errno 28] No space left on device\n"))
    run = run_cli("explain", str(path))
    assert run.returncode == 2 and "zcat" in run.stderr, run.stderr


def test_a_model_folder_points_at_check(safetensors_model: Path) -> None:
    run = run_cli("explain", str(safetensors_model))
    assert run.returncode == 2
    assert f"whyload check {safetensors_model}" in run.stderr
    assert "Traceback" not in run.stderr


# --- real failures that were missed ------------------------------------------------------------


def _remote_code_model(safetensors_model: Path, folder: Path) -> Path:
    """A folder whose config.json's auto_map points at model code that leaves a mark when run."""
    import shutil

    shutil.copytree(safetensors_model, folder)
    edit_config(folder, model_type="markbert", architectures=["MarkModel"],
                auto_map={"AutoConfig": "configuration_mark.MarkConfig",
                          "AutoModel": "modeling_mark.MarkModel"})
    code = ("import pathlib\npathlib.Path(__file__).with_name('CODE_RAN').write_text('1')\n"
            "from transformers import BertConfig, BertModel\n"
            "class MarkConfig(BertConfig):\n    model_type = 'markbert'\n"
            "class MarkModel(BertModel):\n    config_class = MarkConfig\n")
    for name in ("configuration_mark.py", "modeling_mark.py"):
        (folder / name).write_text(code)
    return folder


@pytest.fixture(scope="module")
def remote_code_model(safetensors_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _remote_code_model(safetensors_model, tmp_path_factory.mktemp("remote") / "model")


def test_remote_code_refusal_is_named_as_check_names_it(remote_code_model: Path,
                                                        tmp_path: Path) -> None:
    """transformers' message puts `trust_remote_code=True` on a continuation line that holds no
    trigger word; the whole message is read."""
    run = _run_python(f"""
        import transformers
        transformers.AutoModel.from_pretrained({str(remote_code_model)!r})
    """, tmp_path)
    assert run.returncode == 1 and "trust_remote_code" in run.stdout
    assert not (remote_code_model / "CODE_RAN").exists()
    assert "WL430" in whyload.check(str(remote_code_model)).codes()
    assert [f.code for f in diagnose_error(run.stdout)] == ["WL430"]
    log = tmp_path / "err.log"
    log.write_text(run.stdout)
    report = explain(log)
    finding = report.by_code("WL430")[0]
    assert finding.evidence.get("checked") == str(remote_code_model)
    assert finding.severity is Severity.ERROR, "check's warning must not hide that it raised"
    assert report.verdict is Verdict.FAILS


def test_invalid_config_json_is_named_as_check_names_it(safetensors_model: Path,
                                                        tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(safetensors_model, folder)
    (folder / "config.json").write_text('{"model_type": "bert",')
    run = _run_python(f"""
        import transformers
        transformers.AutoModelForSequenceClassification.from_pretrained({str(folder)!r})
    """, tmp_path)
    assert run.returncode == 1 and "not a valid JSON file" in run.stdout
    assert "WL301" in whyload.check(str(folder)).codes()
    assert "WL301" in [f.code for f in diagnose_error(run.stdout)]
    log = tmp_path / "err.log"
    log.write_text(run.stdout)
    assert "WL301" in _errors(explain(log))


def test_a_misleading_wrapper_does_not_hide_the_root_cause(safetensors_model: Path,
                                                           tmp_path: Path) -> None:
    """The user's own wrapper blames the network; the chain's root is the LFS pointer."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(safetensors_model, folder)
    (folder / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 1234\n")
    run = _run_python(f"""
        import transformers
        try:
            transformers.AutoModelForSequenceClassification.from_pretrained({str(folder)!r})
        except Exception as exc:
            raise RuntimeError("could not download the model: check the network") from exc
    """, tmp_path)
    assert "The above exception was the direct cause" in run.stdout
    found = [f.code for f in diagnose_error(run.stdout)]
    assert found and found[0] in ("WL110", "WL115"), found
    assert not {"WL573", "WL574", "WL522"} & set(found)
    log = tmp_path / "err.log"
    log.write_text(run.stdout)
    assert codes(explain(log))[0] == "WL110"


def test_a_named_pipe_is_read_once_not_sniffed_away(tmp_path: Path) -> None:
    """`whyload explain <(python train.py 2>&1)` hands over a pipe: its bytes come once."""
    import threading

    fifo = tmp_path / "train.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("w") as pipe:
            pipe.write("step 1\nOSError: [Errno 28] No space left on device\n")

    writer = threading.Thread(target=write)
    writer.start()
    report = explain(fifo, run_check=False)
    writer.join(timeout=10)
    assert codes(report) == ["WL541"]


def test_a_warning_repeated_at_every_step_meets_the_table_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log in which every line holds a trigger word (12 MB of them took 26 s): each distinct
    text is matched against the table once per incident."""
    from whyload.logs import match

    calls = []
    first_row = match._first_row
    monkeypatch.setattr(match, "_first_row", lambda *a: calls.append(1) or first_row(*a))
    path = tmp_path / "noisy.log"
    step = ("UserWarning: error-feedback missing for step {}; unexpected loss scale\n"
            "ERROR: retry budget warning exceeded, continuing\n")
    path.write_text("".join(step.format(i % 7) for i in range(60_000))
                    + "OSError: [Errno 28] No space left on device\n")
    report = explain(path, run_check=False)
    assert codes(report) == ["WL541"]
    incidents = report.facts["incidents"]
    assert isinstance(incidents, int) and len(calls) <= 16 * incidents, (len(calls), incidents)


def _failing_load(folder: Path, tmp_path: Path, call: str) -> str:
    run = _run_python(f"""
        import transformers
        transformers.{call}.from_pretrained({str(folder)!r})
    """, tmp_path)
    assert run.returncode == 1, run.stdout[-2000:]
    return run.stdout


@pytest.mark.parametrize(("change", "code"), [({"hidden_size": "32"}, "WL304"),
                                              ({"num_attention_heads": 5}, "WL320")],
                         ids=["string-hidden-size", "heads-do-not-divide"])
def test_config_values_transformers_rejects_are_named_as_check_names_them(
        change: dict[str, object], code: str, safetensors_model: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(safetensors_model, folder)
    edit_config(folder, **change)
    assert code in whyload.check(str(folder)).codes()
    output = _failing_load(folder, tmp_path, "AutoModelForSequenceClassification")
    assert [f.code for f in diagnose_error(output)] == [code], output[-1500:]
    log = tmp_path / "err.log"
    log.write_text(output)
    assert code in _errors(explain(log))


@pytest.mark.parametrize("content", ['{"version": "1.0", "truncated', "<html>404</html>"],
                         ids=["cut-short", "html-page"])
def test_a_tokenizer_json_that_does_not_parse(content: str, minilm: Path, tmp_path: Path
                                              ) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(minilm, folder)
    (folder / "tokenizer.json").write_text(content)
    output = _failing_load(folder, tmp_path, "AutoTokenizer")
    assert "JSONDecodeError" in output
    [finding] = diagnose_error(output)
    assert finding.code == "WL352" and finding.severity is Severity.ERROR


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"], ids=["powershell-utf16", "utf8-bom"])
def test_a_log_written_by_windows_tools_is_read(encoding: str, tmp_path: Path) -> None:
    """PowerShell's `python train.py > log.txt` writes UTF-16 with a byte-order mark."""
    text = ("step 1\r\nTraceback (most recent call last):\r\n  File \"t.py\", line 1, in "
            "<module>\r\nOSError: [Errno 28] No space left on device\r\n")
    path = tmp_path / "log.txt"
    path.write_bytes(text.encode(encoding))
    [finding] = explain(path, run_check=False).findings
    assert finding.code == "WL541" and finding.evidence["line"] == 4
    assert finding.evidence["text"] == "OSError: [Errno 28] No space left on device"
    piped = subprocess.run([sys.executable, "-m", "whyload", "explain", "-", "--no-check",
                            "--format", "json"], input=text.encode(encoding),
                           capture_output=True, timeout=60)
    assert json.loads(piped.stdout)["findings"][0]["code"] == "WL541"


@pytest.mark.parametrize("prefix", ["2026-11-28T12:00:01.123456789Z stderr F ",
                                    "2026-11-28T12:00:01.123Z ", "[rank0]: ", "[default0]:"],
                         ids=["kubernetes", "docker-logs-t", "rank", "torchrun"])
def test_lines_behind_a_collector_prefix_are_read(prefix: str, training_logs: dict[str, Path],
                                                  tmp_path: Path) -> None:
    """kubectl logs, docker logs -t and torchrun put a timestamp or a rank before every line:
    the loading report's rows and a bare `Killed` must still be seen."""
    lines = training_logs["inference"].read_bytes().decode().split("\n")
    path = tmp_path / "pod.log"
    path.write_text("\n".join(prefix + line for line in lines) + f"\n{prefix}Killed\n")
    report = explain(path, run_check=False)
    assert "WL401" in codes(report) and "WL500" in codes(report), codes(report)
    head = report.by_code("WL401")[0]
    assert set(head.evidence["missing"]) == {"classifier.weight", "classifier.bias"}


def test_a_device_that_never_ends_is_refused_and_dev_null_is_empty() -> None:
    run = run_cli("explain", "/dev/zero", timeout=30)
    assert run.returncode == 2 and "is a device" in run.stderr
    _no_traceback(run.stderr)
    empty = run_cli("explain", os.devnull, "--format", "json", timeout=30)
    assert empty.returncode == 0 and json.loads(empty.stdout)["verdict"] == "unknown"


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]


@pytest.mark.parametrize(("exitcode", "code"), [(-9, "WL500"), (-11, "WL577")],
                         ids=["sigkill-is-oom", "sigsegv-is-a-crash"])
def test_torchrun_s_failure_summary_is_read(exitcode: int, code: str) -> None:
    """torchrun prints `exitcode  : -9` and `Signal 9 (SIGKILL) received by PID`, with a
    capital S and no exception line; the summary is made here by torch's own class."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    failure = ProcessFailure(local_rank=0, pid=4242, exitcode=exitcode,
                             error_file="/nonexistent")
    summary = ChildFailedError("train.py", {0: failure}).format_msg()
    report = explain(_stream("step 7 loss=0.4\n" + summary + "\n"), run_check=False)
    assert codes(report) == [code], summary
    assert report.verdict is Verdict.FAILS


def test_a_caught_exception_and_a_pasted_traceback_are_explained(remote_code_model: Path
                                                                 ) -> None:
    """In a notebook: diagnose_exception on the real exception, and explain on its text."""
    import traceback

    import transformers

    from whyload.logs import diagnose_exception

    try:
        transformers.AutoModel.from_pretrained(str(remote_code_model))
    except ValueError as exc:
        caught = exc
    assert not (remote_code_model / "CODE_RAN").exists()
    assert [f.code for f in diagnose_exception(caught)] == ["WL430"]
    report = whyload.explain("".join(traceback.format_exception(caught)), run_check=False)
    assert report.target == "<text>" and codes(report) == ["WL430"]
