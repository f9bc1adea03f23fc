"""The command line as a user and a CI job meet it: exit codes, the JSON schema, select/ignore,
the rules listing and the docs generated from it, the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

import whyload
from whyload.demo import CASES, run_demo
from whyload.registry import all_rules
from whyload.render.markdown import render_rules_markdown

ROOT = Path(__file__).resolve().parent.parent
LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 1234\n"


def test_healthy_model_exits_0(minilm: Path) -> None:
    done = run_cli("check", str(minilm))
    assert done.returncode == 0, done.stderr
    assert "verdict: loads" in done.stdout and "✓ files" in done.stdout


def test_broken_model_exits_1_with_the_fix(tmp_path: Path, minilm: Path) -> None:
    (tmp_path / "config.json").write_text((minilm / "config.json").read_text())
    (tmp_path / "model.safetensors").write_text(LFS)
    done = run_cli("check", str(tmp_path))
    assert done.returncode == 1
    assert "WL110" in done.stdout and "git lfs pull --include model.safetensors" in done.stdout
    assert run_cli("check", str(tmp_path), "--fail-on", "never").returncode == 0


def test_json_report_schema(tmp_path: Path, minilm: Path) -> None:
    (tmp_path / "config.json").write_text((minilm / "config.json").read_text())
    (tmp_path / "model.safetensors").write_text(LFS)
    done = run_cli("check", str(tmp_path), "--format", "json")
    report = json.loads(done.stdout)
    assert report["schema"] == "whyload.report/2"
    assert report["verdict"] == "fails" and report["target"] == str(tmp_path)
    assert report["resolved"]["how"] == "folder"
    finding = report["findings"][0]
    assert set(finding) >= {"code", "category", "severity", "title", "detail", "evidence", "fix"}
    assert (finding["code"], finding["category"], finding["severity"]) == \
        ("WL110", "files", "error")
    assert finding["evidence"]["real_size"] == 1234
    assert {"files", "format", "tensor_count", "parameter_count"} <= set(report["facts"])
    assert report["timings"]["total_s"] >= 0


def test_select_and_ignore_take_codes_and_prefixes(tmp_path: Path, minilm: Path) -> None:
    (tmp_path / "config.json").write_text((minilm / "config.json").read_text())
    (tmp_path / "model.safetensors").write_text(LFS)
    assert whyload.check(str(tmp_path), ignore=["WL110"]).codes() == []
    assert whyload.check(str(tmp_path), select=["WL11"]).codes() == ["WL110"]
    assert whyload.check(str(tmp_path), select=["WL3", "WL4"]).codes() == []
    done = run_cli("check", str(tmp_path), "--ignore", "WL1")
    assert done.returncode == 0


def test_unknown_code_is_a_usage_error(minilm: Path) -> None:
    done = run_cli("check", str(minilm), "--select", "WL999")
    assert done.returncode == 2 and "matches no check code" in done.stderr
    assert "Traceback" not in done.stderr


def test_fail_on_warning(minilm: Path) -> None:
    done = run_cli("check", str(minilm), "--class", "BertForSequenceClassification",
                   "--fail-on", "warning")
    assert done.returncode == 1 and "WL401" in done.stdout


def test_rules_lists_every_registered_check() -> None:
    done = run_cli("rules", "--format", "json")
    listed = json.loads(done.stdout)
    assert [r["code"] for r in listed] == [r.code for r in all_rules()]
    assert all(r["title"] and r["explanation"] for r in listed)
    codes = [r["code"] for r in listed]
    assert len(codes) == len(set(codes))


def test_findings_reference_is_generated_from_the_registry() -> None:
    """docs/findings.md is `make docs` output: regenerate it when a check changes."""
    assert (ROOT / "docs" / "findings.md").read_text().strip() == \
        render_rules_markdown(all_rules()).strip()


def test_module_entry_point_and_version() -> None:
    done = run_cli("version")
    assert done.returncode == 0 and done.stdout.strip() == whyload.__version__


def test_demo_diagnoses_each_broken_copy(tmp_path: Path) -> None:
    out = run_demo(str(tmp_path / "clinic"), width=200)
    assert "healthy" in out and "nothing stands in the way" in out
    for case in CASES:
        assert (tmp_path / "clinic" / case.name).is_dir()
    expected = {"git-clone": "WL110", "cut-download": "WL120", "error-page": "WL111",
                "preallocated": "WL113", "custom-name": "WL105", "lost-shard": "WL141",
                "tarball": "WL114"}
    for name, code in expected.items():
        report = whyload.check(str(tmp_path / "clinic" / name))
        assert report.findings[0].code == code, (name, report.codes())
        assert code in out
    assert whyload.check(str(tmp_path / "clinic" / "healthy")).codes() == []


def test_an_error_of_the_machine_is_named_through_the_knowledge_table(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's own error output and `whyload explain` share one table: a full disk while
    whyload works is named (WL541) with its fix, not shown as an internal error."""
    import whyload.cli as cli

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "app", full_disk)
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "(WL541)" in err and "internal error" not in err


def test_every_public_name_resolves_without_shadowing_a_package() -> None:
    import whyload.env
    import whyload.logs

    for name in whyload.__all__:
        assert getattr(whyload, name) is not None, name
    assert callable(whyload.explain) and callable(whyload.verify) and callable(whyload.load)
    assert callable(whyload.env.collect)  # the package, not a function named env
