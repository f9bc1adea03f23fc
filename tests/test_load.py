"""whyload load: a real from_pretrained in a capped child process, reported as findings.

Each fixture is broken the way the world breaks it, the real transformers/torch load it in the
child, and the report must name the outcome and the cause.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import (
    TINY_BERT,
    codes,
    edit_config,
    only,
    rewrite_safetensors,
    run_cli,
    save_tiny,
)

from whyload.errors import UsageError
from whyload.probe.load import run_load
from whyload.report import Severity, Verdict
from whyload.sizes import parse_size

MB = 2**20


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BertModel checkpoint: no task head."""
    return save_tiny(tmp_path_factory.mktemp("load") / "base", "BertModel")


@pytest.fixture(scope="module")
def legacy_300mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300 MB BERT (tiny vocabulary, wide layers) saved in the legacy torch format, which
    torch reads whole into memory: the load's peak is ~0.3 GB above torch's own."""
    import torch
    from transformers import BertConfig, BertModel

    out = tmp_path_factory.mktemp("load") / "legacy-300mb"
    out.mkdir()
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=1024, num_hidden_layers=6,
                        num_attention_heads=16, intermediate_size=4096,
                        max_position_embeddings=64)
    model = BertModel(config)
    config.architectures = ["BertModel"]
    config.save_pretrained(out)
    torch.save(model.state_dict(), out / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    assert (out / "pytorch_model.bin").stat().st_size > 290e6
    return out


class Hostile:
    """Pickles as a call to os.system: what a malicious pytorch_model.bin carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_healthy_models_load_cleanly_under_a_cap(safetensors_model: Path) -> None:
    report = run_load(str(safetensors_model), memory_limit=parse_size("1.5G"))
    assert report.command == "load"
    assert report.facts["outcome"] == "loaded"
    assert report.verdict is Verdict.LOADS
    assert codes(report) == []
    assert report.facts["static"] == {"verdict": "loads", "codes": []}
    assert report.facts["model_class"] == "BertForSequenceClassification"
    assert report.facts["missing_keys"] == report.facts["unexpected_keys"] == []
    assert 100 * MB < report.facts["peak_rss"] < 1.5 * 1024 * MB
    assert report.facts["wall_s"] > 0
    assert report.facts["versions"]["transformers"].startswith("5.")


@pytest.mark.parametrize("fixture", ["legacy_bin_model", "sharded_model", "minilm"])
def test_old_sharded_and_real_models_load_without_findings(
        fixture: str, request: pytest.FixtureRequest) -> None:
    report = run_load(str(request.getfixturevalue(fixture)))
    assert report.facts["outcome"] == "loaded", report.facts.get("exception")
    assert [f.code for f in report.findings if f.severity >= Severity.WARNING] == []
    assert report.verdict is Verdict.LOADS


def test_a_fine_tuned_head_lost_from_the_weights_is_reported_random(
        safetensors_model: Path, copy_of) -> None:  # type: ignore[no-untyped-def]
    folder = copy_of(safetensors_model)  # config.json says BertForSequenceClassification
    rewrite_safetensors(folder / "model.safetensors",
                        lambda t: {k: v for k, v in t.items() if not k.startswith("classifier.")})
    report = run_load(str(folder))
    assert report.facts["outcome"] == "loaded"
    assert report.facts["missing_keys"] == ["classifier.bias", "classifier.weight"]
    head = only(report, "WL401")
    assert head.severity is Severity.ERROR
    assert head.evidence["observed_missing"] == ["classifier.bias", "classifier.weight"]
    assert report.verdict is Verdict.LOADS_BROKEN
    assert any("LOAD REPORT" in w["message"] for w in report.facts["warnings"])


def test_a_size_mismatch_names_both_shapes(tmp_path: Path) -> None:
    folder = save_tiny(tmp_path / "labels")
    edit_config(folder, id2label={str(i): f"L{i}" for i in range(5)},
                label2id={f"L{i}": i for i in range(5)})
    report = run_load(str(folder))
    assert report.facts["outcome"] == "exception"
    assert report.facts["exception"]["type"] == "RuntimeError"
    mismatch = only(report, "WL404")
    observed = {m["key"]: (m["checkpoint"], m["model"])
                for m in mismatch.evidence["observed_mismatched"]}
    assert observed["classifier.weight"] == ([3, TINY_BERT["hidden_size"]],
                                             [5, TINY_BERT["hidden_size"]])
    assert report.verdict is Verdict.FAILS


def test_a_truncated_safetensors_file_fails_with_check_s_cause(
        safetensors_model: Path, copy_of) -> None:  # type: ignore[no-untyped-def]
    folder = copy_of(safetensors_model)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    report = run_load(str(folder))
    assert report.facts["outcome"] == "exception"
    assert "WL120" in codes(report)
    assert report.by_code("WL120")[0].severity is Severity.ERROR
    assert report.verdict is Verdict.FAILS


def test_a_hostile_pickle_is_refused_by_weights_only_and_never_runs(
        bin_model: Path, copy_of, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    folder = copy_of(bin_model)
    marker = tmp_path / "pwned"
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    state["payload"] = Hostile(marker)
    torch.save(state, folder / "pytorch_model.bin")
    report = run_load(str(folder))
    assert not marker.exists()
    assert report.facts["outcome"] == "exception"
    assert report.facts["exception"]["type"] == "UnpicklingError"
    assert report.verdict is Verdict.FAILS
    assert report.findings and report.findings[0].severity is Severity.ERROR
    assert "WL441" not in codes(report)  # a known cause, not "unexplained"


def test_a_checkpoint_larger_than_its_cap_reports_memory(legacy_300mb: Path) -> None:
    cap = 650 * MB
    report = run_load(str(legacy_300mb), memory_limit=cap)
    assert report.facts["outcome"] == "killed_oom"
    assert report.facts["oom_by"] == "watchdog"
    oom = only(report, "WL550")
    assert oom.severity is Severity.ERROR
    assert oom.evidence["memory_limit"] == cap
    assert oom.evidence["peak_rss"] > cap
    assert report.verdict is Verdict.FAILS


def test_a_load_past_its_time_limit_is_killed(safetensors_model: Path) -> None:
    report = run_load(str(safetensors_model), timeout_s=1.0)
    assert report.facts["outcome"] == "timeout"
    assert report.facts["signal"] == "SIGKILL"
    assert only(report, "WL551").severity is Severity.ERROR
    assert report.facts["wall_s"] < 10


def test_cuda_without_a_gpu_names_the_environment(safetensors_model: Path) -> None:
    report = run_load(str(safetensors_model), device="cuda")
    assert report.facts["outcome"] == "exception"
    assert "CUDA" in report.facts["exception"]["message"]
    assert {"WL510", "WL511"} & set(codes(report))
    assert report.verdict is Verdict.FAILS


def test_device_map_without_accelerate_names_the_package(safetensors_model: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("accelerate") is not None:
        pytest.skip("accelerate is installed here")
    report = run_load(str(safetensors_model), device_map="auto")
    assert report.facts["outcome"] == "exception"
    assert "accelerate" in report.facts["exception"]["message"]
    finding = only(report, "WL554")
    assert finding.evidence["device_map"] == "auto"
    assert "pip install accelerate" in finding.fix


def test_a_class_transformers_lacks_is_refused_before_loading(safetensors_model: Path) -> None:
    with pytest.raises(UsageError, match="no model class 'BertForTeleportation'"):
        run_load(str(safetensors_model), model_class="BertForTeleportation")


def test_cli_exit_codes_and_json(safetensors_model: Path, base_model: Path) -> None:
    done = run_cli("load", str(safetensors_model), "--format", "json", timeout=180)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["command"] == "load" and data["facts"]["outcome"] == "loaded"

    done = run_cli("load", str(base_model), "--class", "BertForTeleportation", timeout=180)
    assert done.returncode == 2 and done.stdout == ""
    assert "no model class 'BertForTeleportation'" in done.stderr


@pytest.mark.parametrize("arg", [["--memory-limit", "lots"], ["--timeout", "0"]])
def test_cli_bad_limits_are_usage_errors(safetensors_model: Path, arg: list[str]) -> None:
    done = run_cli("load", str(safetensors_model), *arg)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_cli_missing_target_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli("load", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("text", "size"), [("2G", 2 * 1024**3), ("512M", 512 * MB),
                                            ("1.5GiB", int(1.5 * 1024**3)), ("4096", 4096)])
def test_memory_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_whyload_s_own_process_never_imports_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, whyload.cli, whyload.probe.load, whyload.probe.guarded; "
            "print(sorted({'torch', 'transformers'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


FAKE_CHILDREN = {
    # the sandbox's other ends, from children that stand in for the load
    "segfault": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "no_result": "import sys\nprint('cannot start', file=sys.stderr)\nsys.exit(3)\n",
    "memory_error": (
        "import json, sys\n"
        "try:\n    bytearray(64 * 2**30)\nexcept MemoryError as exc:\n"
        "    out = {'outcome': 'exception', 'exception': {'type': 'MemoryError',"
        " 'message': str(exc), 'traceback': ''}}\n"
        "json.dump(out, open(sys.argv[2], 'w'))\n"),
}


@pytest.mark.parametrize(("name", "outcome", "code"), [
    ("segfault", "signal", "WL552"), ("no_result", "exception", "WL553"),
    ("memory_error", "killed_oom", "WL550")])
def test_the_sandbox_tells_each_end_apart(name: str, outcome: str, code: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          safetensors_model: Path) -> None:
    from whyload.pipeline import check
    from whyload.probe.observed import observed_findings
    from whyload.probe.sandbox import run_child

    (tmp_path / f"fake_{name}.py").write_text(FAKE_CHILDREN[name])
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    ended = run_child(f"fake_{name}", "{}", timeout_s=30, memory_limit=256 * MB)
    assert ended.outcome == outcome
    found = observed_findings(ended, check(str(safetensors_model)))
    assert [f.code for f in found] == [code]
    assert found[0].severity is Severity.ERROR


def test_the_child_forces_weights_only_whatever_the_environment_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from whyload.probe.sandbox import child_env

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    env = child_env()
    assert env["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] == "1"
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in env
    assert env["HF_HUB_OFFLINE"] == "1"
