"""`--format sarif`: a SARIF 2.1.0 log that code-scanning services accept.

Neither jsonschema nor the SARIF schema is available offline, so the fields the 2.1.0 schema
requires (and the constraints GitHub's upload enforces) are asserted by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from conftest import edit_config, run_cli

import whyload
from whyload.registry import RULES
from whyload.render.sarif import render_sarif, sarif_log

LEVELS = {"none", "note", "warning", "error"}


def _message(m: Any) -> None:
    assert isinstance(m, dict) and ("text" in m or "id" in m)
    if "text" in m:
        assert isinstance(m["text"], str) and m["text"]


def _location(loc: dict[str, Any], bases: dict[str, Any]) -> None:
    physical = loc["physicalLocation"]
    artifact = physical["artifactLocation"]
    assert artifact["uriBaseId"] in bases
    uri = artifact["uri"]
    assert not urlparse(uri).scheme and not uri.startswith("/")  # relative to the target
    assert (Path(unquote(urlparse(bases[artifact["uriBaseId"]]["uri"]).path))
            / unquote(uri)).exists()
    if "region" in physical:
        assert isinstance(physical["region"]["startLine"], int)
        assert physical["region"]["startLine"] >= 1


def assert_valid_sarif(log: dict[str, Any]) -> None:
    """The 2.1.0 schema's required properties, types and cross-references."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "whyload" and isinstance(driver["version"], str)
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "rules are deduplicated"
    for rule in rules:
        assert rule["id"] in RULES
        for key in ("shortDescription", "fullDescription", "help"):
            assert isinstance(rule[key]["text"], str) and rule[key]["text"]
        assert rule["defaultConfiguration"]["level"] in LEVELS
    bases = run.get("originalUriBaseIds", {})
    for base in bases.values():
        assert base["uri"].startswith("file://") and base["uri"].endswith("/")
    for result in run["results"]:
        _message(result["message"])
        assert result["level"] in LEVELS
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        for loc in result.get("locations", []):
            _location(loc, bases)
        related = result.get("relatedLocations", [])
        assert len({r["id"] for r in related}) == len(related)
        for loc in related:
            _location(loc, bases)
            _message(loc["message"])
        assert all(isinstance(v, str) for v in result.get("partialFingerprints", {}).values())


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
    log = sarif_log(report)
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
    log = sarif_log(whyload.check(str(model)))
    assert_valid_sarif(log)
    run = log["runs"][0]
    assert sum(r["ruleId"] == "WL600" for r in run["results"]) == 2
    assert [r["id"] for r in run["tool"]["driver"]["rules"]].count("WL600") == 1


def test_info_is_a_note_and_clean_model_has_no_results(legacy_bin_model: Path,
                                                       minilm: Path) -> None:
    log = sarif_log(whyload.check(str(legacy_bin_model)))
    assert_valid_sarif(log)
    assert {r["level"] for r in log["runs"][0]["results"]} == {"note"}  # WL133: legacy format
    clean = sarif_log(whyload.check(str(minilm)))
    assert_valid_sarif(clean)
    assert all(r["level"] == "note" for r in clean["runs"][0]["results"])


def test_cli_writes_sarif_and_fails_on_errors(tmp_path: Path, safetensors_model: Path) -> None:
    model = _hostile_folder(tmp_path, safetensors_model)
    result = run_cli("check", str(model), "--format", "sarif")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    assert_valid_sarif(log)
    assert render_sarif(whyload.check(str(model))).startswith("{")


def test_non_utf8_file_names_stay_valid(tmp_path: Path, safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    name = b"we\xffights.bin".decode("utf-8", "surrogateescape")
    (model / name).write_bytes(b"\x80\x02cos\nsystem\n(Vx\ntR.")
    text = render_sarif(whyload.check(str(model)))
    text.encode("utf-8")  # no lone surrogates
    log = json.loads(text)
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"] for loc in r.get("locations", [])]
    assert "we%5Cxffights.bin" in uris
