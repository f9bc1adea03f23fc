"""`--format json` of every command that reports, validated against the published schema
(src/whyload/schemas/report.schema.json, package data)."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import edit_config, run_cli

from whyload.report import SCHEMA, Category, Effect, Severity, Verdict

LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 1234\n"


@pytest.fixture(scope="module")
def report_schema() -> dict[str, Any]:
    text = resources.files("whyload").joinpath("schemas/report.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def valid_report(stdout: str, schema: dict[str, Any], command: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(stdout)
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["schema"] == SCHEMA and report["command"] == command
    return report


@pytest.fixture(scope="module")
def broken_models(tmp_path_factory: pytest.TempPathFactory,
                  safetensors_model: Path) -> dict[str, Path]:
    """A model that fails (a Git LFS pointer) and one that loads broken (layers dropped)."""
    root = tmp_path_factory.mktemp("schemas")
    pointer = root / "pointer"
    shutil.copytree(safetensors_model, pointer)
    (pointer / "model.safetensors").write_text(LFS)
    dropped = root / "dropped"
    shutil.copytree(safetensors_model, dropped)
    edit_config(dropped, num_hidden_layers=1)
    return {"pointer": pointer, "dropped": dropped}


def test_the_schema_names_every_enum_value(report_schema: dict[str, Any]) -> None:
    props = report_schema["properties"]
    finding = report_schema["$defs"]["finding"]["properties"]
    assert report_schema["$id"].endswith(SCHEMA) and props["schema"]["const"] == SCHEMA
    assert props["verdict"]["enum"] == [v.value for v in Verdict]
    assert report_schema["$defs"]["category"]["enum"] == [c.value for c in Category]
    assert finding["severity"]["enum"] == [s.label for s in sorted(Severity, reverse=True)]
    assert finding["effect"]["enum"] == [e.value for e in Effect]
    assert report_schema["additionalProperties"] is False
    assert report_schema["$defs"]["finding"]["additionalProperties"] is False


def test_schema_rejects_an_old_verdict_and_an_unknown_field(report_schema: dict[str, Any],
                                                            minilm: Path) -> None:
    report = valid_report(run_cli("check", str(minilm), "--format", "json").stdout,
                          report_schema, "check")
    validator = jsonschema.Draft202012Validator(report_schema)
    assert not validator.is_valid({**report, "verdict": "loads broken"})
    assert not validator.is_valid({**report, "extra": 1})
    finding = {"code": "WL110", "category": "files", "severity": "error", "title": "t",
               "detail": "", "evidence": {}, "fix": "", "effect": "raises", "file": None}
    assert validator.is_valid({**report, "findings": [finding]})
    assert not validator.is_valid({**report, "findings": [{**finding, "why": "?"}]})


def test_check_json(report_schema: dict[str, Any], minilm: Path,
                    broken_models: dict[str, Path]) -> None:
    healthy = valid_report(run_cli("check", str(minilm), "--format", "json").stdout,
                           report_schema, "check")
    assert healthy["verdict"] == "loads" and healthy["findings"] == []
    pointer = valid_report(run_cli("check", str(broken_models["pointer"]), "--format",
                                   "json").stdout, report_schema, "check")
    assert pointer["verdict"] == "fails" and pointer["findings"][0]["code"] == "WL110"
    dropped = valid_report(run_cli("check", str(broken_models["dropped"]), "--format",
                                   "json").stdout, report_schema, "check")
    assert dropped["verdict"] == "loads_broken"
    assert [f["code"] for f in dropped["findings"] if f["severity"] == "error"] == ["WL311"]
    single = valid_report(run_cli("check", str(minilm / "model.safetensors"), "--format",
                                  "json").stdout, report_schema, "check")
    assert single["resolved"]["file"] == "model.safetensors"


def test_env_verify_and_lock_json(report_schema: dict[str, Any], tmp_path: Path,
                                  safetensors_model: Path) -> None:
    valid_report(run_cli("env", "--format", "json").stdout, report_schema, "env")
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    unverified = valid_report(run_cli("verify", str(model), "--format", "json").stdout,
                              report_schema, "verify")
    assert unverified["facts"]["bytes"] == "unverified"
    locked = run_cli("lock", str(model), "--format", "json")
    assert locked.returncode == 0, locked.stderr
    valid_report(locked.stdout, report_schema, "lock")
    intact = valid_report(run_cli("verify", str(model), "--format", "json").stdout,
                          report_schema, "verify")
    assert intact["facts"]["bytes"] == "intact" and intact["findings"] == []
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    damaged = valid_report(run_cli("verify", str(model), "--format", "json").stdout,
                           report_schema, "verify")
    assert damaged["facts"]["bytes"] == "damaged"
    assert "WL173" in [f["code"] for f in damaged["findings"] if f["severity"] == "error"]


def test_explain_and_fix_json(report_schema: dict[str, Any], tmp_path: Path,
                              broken_models: dict[str, Path]) -> None:
    log = tmp_path / "err.log"
    log.write_text("loading\n_pickle.UnpicklingError: invalid load key, '<'.\n")
    explained = valid_report(run_cli("explain", str(log), "--format", "json").stdout,
                             report_schema, "explain")
    assert explained["findings"][0]["code"] == "WL111"
    plan = run_cli("fix", str(broken_models["dropped"]), "--out", str(tmp_path / "fixed"),
                   "--format", "json")
    assert plan.returncode in (0, 1), plan.stderr
    fixed = valid_report(plan.stdout, report_schema, "fix")
    assert not (tmp_path / "fixed").exists()
    assert "WL311" in [f["code"] for f in fixed["findings"]]


def test_load_json(report_schema: dict[str, Any], safetensors_model: Path) -> None:
    run = run_cli("load", str(safetensors_model), "--format", "json", timeout=300)
    loaded = valid_report(run.stdout, report_schema, "load")
    assert loaded["verdict"] == "loads" and loaded["facts"]["outcome"] == "loaded"
