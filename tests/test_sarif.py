"""`--format sarif`: a SARIF 2.1.0 log that code-scanning services accept.

Every log is validated against the official SARIF 2.1.0 schema (tests/schemas, from OASIS), and
against what GitHub's upload adds: every result located, URIs relative to %SRCROOT%.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema
import pytest
from conftest import edit_config, run_cli

import whyload
from whyload.registry import RULES, Rule, all_rules
from whyload.render.sarif import render_sarif, sarif_log
from whyload.report import Category, Effect, Finding, Report, Severity

LEVELS = {"none", "note", "warning", "error"}
SARIF_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json")
                          .read_text())
LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 1234\n"


def documented() -> dict[str, Rule]:
    return {r.code: r for r in all_rules()}


def _location(loc: dict[str, Any], bases: dict[str, Any]) -> Path:
    physical = loc["physicalLocation"]
    artifact = physical["artifactLocation"]
    assert artifact["uriBaseId"] == "%SRCROOT%"
    uri = artifact["uri"]
    assert not urlparse(uri).scheme and not uri.startswith("/") and ".." not in uri
    path = Path(unquote(urlparse(bases["%SRCROOT%"]["uri"]).path)) / unquote(uri)
    assert path.exists(), path
    if "region" in physical:
        assert physical["region"]["startLine"] >= 1
    return path


def assert_valid_sarif(log: dict[str, Any], *, located: bool = True) -> list[Path]:
    """The official schema, the cross-references it cannot express, and a location for every
    result (physical, existing, relative to %SRCROOT%, unless `located` is False). Returns the
    first location of each result."""
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "whyload"
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "rules are deduplicated"
    for rule in rules:
        assert rule["id"] in RULES
        for key in ("shortDescription", "fullDescription", "help"):
            assert rule[key]["text"]
    bases = run.get("originalUriBaseIds", {})
    for base in bases.values():
        assert base["uri"].startswith("file://") and base["uri"].endswith("/")
    first: list[Path] = []
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"], f"{result['ruleId']} has no location"
        if located:
            first.append(_location(result["locations"][0], bases))
        related = result.get("relatedLocations", [])
        assert len({r["id"] for r in related}) == len(related)
        for loc in related:
            _location(loc, bases)
        assert result["partialFingerprints"]
    return first


def _hostile_folder(tmp_path: Path, safetensors_model: Path) -> Path:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    (model / "pytorch_model.bin").write_bytes(b"\x80\x02cposix\nsystem\n(Vtouch x\ntR.")
    (model / "modeling_custom.py").write_text(
        "import socket\n\ndef f():\n    eval('1')\n    exec('2')\n")
    edit_config(model, auto_map={"AutoModel": "modeling_custom.CustomModel"})
    return model


def test_sarif_log_is_valid_and_located(tmp_path: Path, safetensors_model: Path) -> None:
    model = _hostile_folder(tmp_path, safetensors_model)
    report = whyload.check(str(model))
    log = sarif_log(report, documented())
    assert_valid_sarif(log)
    run = log["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["WL600"]["level"] == "error"
    assert by_rule["WL600"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "pytorch_model.bin"
    review = by_rule["WL610"]
    assert review["level"] == "warning"
    assert review["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert [r["physicalLocation"]["region"]["startLine"] for r in review["relatedLocations"]] \
        == [4, 5]
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "WL600")
    assert rule["shortDescription"]["text"] == RULES["WL600"].title
    assert "weights_only" in rule["help"]["text"]


def test_rules_are_deduplicated(tmp_path: Path, safetensors_model: Path) -> None:
    model = _hostile_folder(tmp_path, safetensors_model)
    (model / "other.bin").write_bytes(b"\x80\x02cos\nsystem\n(Vtouch y\ntR.")
    log = sarif_log(whyload.check(str(model)), documented())
    assert_valid_sarif(log)
    run = log["runs"][0]
    assert sum(r["ruleId"] == "WL600" for r in run["results"]) == 2
    assert [r["id"] for r in run["tool"]["driver"]["rules"]].count("WL600") == 1


def test_info_is_a_note_and_clean_model_has_no_results(legacy_bin_model: Path,
                                                       minilm: Path) -> None:
    log = sarif_log(whyload.check(str(legacy_bin_model)), documented())
    assert_valid_sarif(log)
    assert {r["level"] for r in log["runs"][0]["results"]} == {"note"}  # WL133: legacy format
    clean = sarif_log(whyload.check(str(minilm)), documented())
    assert_valid_sarif(clean)
    assert all(r["level"] == "note" for r in clean["runs"][0]["results"])


def test_cli_writes_sarif_and_fails_on_errors(tmp_path: Path, safetensors_model: Path) -> None:
    model = _hostile_folder(tmp_path, safetensors_model)
    result = run_cli("check", str(model), "--format", "sarif")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    assert_valid_sarif(log)
    assert render_sarif(whyload.check(str(model)), documented()).startswith("{")


def test_non_utf8_file_names_stay_valid(tmp_path: Path, safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    name = b"we\xffights.bin".decode("utf-8", "surrogateescape")
    (model / name).write_bytes(b"\x80\x02cos\nsystem\n(Vx\ntR.")
    text = render_sarif(whyload.check(str(model)), documented())
    text.encode("utf-8")  # no lone surrogates
    log = json.loads(text)
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"] for loc in r.get("locations", [])]
    assert "we%5Cxffights.bin" in uris


# --- every command's SARIF ------------------------------------------------------------------


def _cli_sarif(*args: str, timeout: float = 60) -> dict[str, Any]:
    run = run_cli(*args, "--format", "sarif", timeout=timeout)
    assert run.returncode in (0, 1), run.stderr
    log: dict[str, Any] = json.loads(run.stdout)
    return log


def _results(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["ruleId"]: r for r in log["runs"][0]["results"]}


def _uri(result: dict[str, Any]) -> str:
    uri: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return uri


def test_check_sarif_healthy_broken_and_hostile(tmp_path: Path, safetensors_model: Path,
                                                minilm: Path) -> None:
    assert_valid_sarif(_cli_sarif("check", str(minilm)))
    pointer = tmp_path / "pointer"
    shutil.copytree(safetensors_model, pointer)
    (pointer / "model.safetensors").write_text(LFS)
    broken = _cli_sarif("check", str(pointer))
    assert assert_valid_sarif(broken)[0] == pointer / "model.safetensors"
    assert _results(broken)["WL110"]["level"] == "error"
    hostile = _cli_sarif("check", str(_hostile_folder(tmp_path, safetensors_model)))
    assert_valid_sarif(hostile)
    assert _uri(_results(hostile)["WL600"]) == "pytorch_model.bin"


def test_verify_explain_fix_sarif(tmp_path: Path, safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    assert run_cli("lock", str(model)).returncode == 0
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    verified = _cli_sarif("verify", str(model))
    assert_valid_sarif(verified)
    assert _uri(_results(verified)["WL173"]) == "model.safetensors"

    log = tmp_path / "train.log"
    log.write_text("step 1\nstep 2\n_pickle.UnpicklingError: invalid load key, '<'.\n")
    explained = _cli_sarif("explain", str(log))
    assert assert_valid_sarif(explained) == [log]
    location = _results(explained)["WL111"]["locations"][0]["physicalLocation"]
    assert location["region"]["startLine"] == 3

    dropped = tmp_path / "dropped"
    shutil.copytree(safetensors_model, dropped)
    edit_config(dropped, num_hidden_layers=1)
    plan = _cli_sarif("fix", str(dropped), "--out", str(tmp_path / "fixed"))
    assert assert_valid_sarif(plan) == [dropped / "config.json"]
    assert not (tmp_path / "fixed").exists()


def test_load_and_env_sarif(safetensors_model: Path) -> None:
    assert_valid_sarif(_cli_sarif("load", str(safetensors_model), timeout=300))
    machine = _cli_sarif("env")
    assert_valid_sarif(machine, located=False)  # the machine is no file
    for result in machine["runs"][0]["results"]:
        assert result["locations"][0]["logicalLocations"][0]["name"] == "this machine"


def test_explain_from_stdin_is_located_logically() -> None:
    run = subprocess.run([sys.executable, "-m", "whyload", "explain", "-", "--format", "sarif"],
                         input="Killed\n", capture_output=True, text=True, timeout=60)
    log = json.loads(run.stdout)
    assert_valid_sarif(log, located=False)
    assert log["runs"][0]["results"]
    assert "originalUriBaseIds" not in log["runs"][0]


# --- where a result points ------------------------------------------------------------------


def _finding(category: Category, title: str = "t", file: str | None = None) -> Finding:
    return Finding(code="WL311", category=category, severity=Severity.ERROR, title=title,
                   file=file, effect=Effect.SILENT)


def _report(folder: Path, *findings: Finding, weights: list[str] | None = None) -> Report:
    return Report(command="check", target=str(folder),
                  resolved={"how": "folder", "path": str(folder)}, findings=findings,
                  facts={"weights": weights} if weights else {})


@pytest.mark.parametrize(("has_config", "weights", "expected"), [
    (True, ["model.safetensors"], "config.json"),
    (False, ["model.safetensors"], "model.safetensors"),
    (False, None, "."),
])
def test_a_finding_without_a_file_points_at_config_then_weights_then_the_target(
        tmp_path: Path, has_config: bool, weights: list[str] | None, expected: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x")
    if has_config:
        (folder / "config.json").write_text("{}")
    log = sarif_log(_report(folder, _finding(Category.CONFIG), weights=weights), documented())
    assert assert_valid_sarif(log) == [folder / expected if expected != "." else folder]
    assert _uri(log["runs"][0]["results"][0]) == expected


def test_uris_are_relative_to_the_git_work_tree(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    folder = repo / "models" / "bert"
    folder.mkdir(parents=True)
    (repo / ".git").mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    log = sarif_log(_report(folder, _finding(Category.SECURITY, file="pytorch_model.bin")),
                    documented())
    assert_valid_sarif(log)
    assert _uri(log["runs"][0]["results"][0]) == "models/bert/pytorch_model.bin"
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == \
        repo.resolve().as_uri() + "/"


def test_uris_are_relative_to_the_current_folder_outside_git(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "work" / "bert"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x")
    report = _report(folder, _finding(Category.FILES, file="model.safetensors"))
    monkeypatch.chdir(tmp_path / "work")
    assert _uri(sarif_log(report, documented())["runs"][0]["results"][0]) == \
        "bert/model.safetensors"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the target is not under it: the base is the target folder
    log = sarif_log(report, documented())
    assert _uri(log["runs"][0]["results"][0]) == "model.safetensors"
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == \
        folder.resolve().as_uri() + "/"


def test_fingerprints_ignore_numbers_in_the_title(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")

    def fingerprint(title: str, category: Category = Category.CONFIG) -> str:
        log = sarif_log(_report(folder, _finding(category, title)), documented())
        value: str = log["runs"][0]["results"][0]["partialFingerprints"]["whyloadFinding/v2"]
        return value

    same = fingerprint("config.json says num_hidden_layers 4, the weights hold 6")
    assert fingerprint("config.json says num_hidden_layers 3, the weights hold 12") == same
    assert fingerprint("config.json says vocab_size 4, the weights hold 6") != same


def test_rules_come_from_the_caller(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    report = _report(folder, _finding(Category.CONFIG))
    rule = sarif_log(report, documented())["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["shortDescription"]["text"] == RULES["WL311"].title
    bare = sarif_log(report, {})["runs"][0]["tool"]["driver"]["rules"][0]
    assert bare["shortDescription"]["text"] == "WL311"
