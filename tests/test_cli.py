"""The command line as a user and a CI job meet it: exit codes, usage errors, the JSON schema,
select/ignore, the options that reach the pipeline, the rules listing and the docs generated from
it, the demo."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

import whyload
import whyload.cli as cli
import whyload.pipeline
import whyload.probe.load
from whyload.demo import CASES, run_demo
from whyload.registry import all_rules
from whyload.render.rules import render_rules
from whyload.report import Report

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
    assert "WL110" in done.stdout and "lfs pull --include" in done.stdout
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
        render_rules(all_rules(), "markdown").strip()


def test_module_entry_point_and_version() -> None:
    installed = importlib.metadata.version("whyload")
    for args in (["version"], ["--version"]):
        done = run_cli(*args)
        assert done.returncode == 0 and done.stdout.strip() == installed, (args, done.stderr)


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

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(whyload.pipeline, "check", full_disk)
    assert _main(monkeypatch, "check", ".") == 2
    err = capsys.readouterr().err
    assert "(WL541)" in err and "internal error" not in err


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int | str | None:
    """`whyload ARGS` in this process, as the console script runs it: its exit code."""
    monkeypatch.setattr(sys, "argv", ["whyload", *args])
    with pytest.raises(SystemExit) as ended:
        cli.main()
    return ended.value.code


def _record_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str,
                  command: str) -> list[dict[str, Any]]:
    """Replace module.name with a stand-in that records its keyword arguments and returns an
    empty report (verdict: loads)."""
    calls: list[dict[str, Any]] = []

    def stand_in(*args: object, **kwargs: Any) -> Report:
        calls.append(kwargs)
        return Report(command=command, target=str(args[0]) if args else "", resolved={},
                      findings=())

    monkeypatch.setattr(module, name, stand_in)
    return calls


@pytest.mark.parametrize(("args", "message"), [
    (["check", ".", "--format", "xml"], "invalid choice: 'xml'"),
    (["check", ".", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["check", ".", "--fail-on", "fatal"], "invalid choice: 'fatal'"),
    (["check", ".", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["check", ".", "--form", "json"], "unrecognized arguments: --form"),  # no abbreviations
    (["env", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["rules", "--format", "sarif"], "invalid choice: 'sarif'"),
    (["load"], "the following arguments are required: target"),
    (["load", ".", "--timeout", "nan"], "must be a positive number of seconds"),
    (["load", ".", "--memory-limit", "5Gb"], "a lowercase b means bits"),
    (["verify", ".", "--workers", "0"], "not in the range 1 to 256"),
    (["fix", "."], "the following arguments are required: --out"),
    (["fix", ".", "--out", "x", "--max-shard-size", "lots"], "'lots' is not a size"),
    (["nosuch"], "invalid choice: 'nosuch'"),
])
def test_usage_errors_exit_2_with_argparse_s_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    calls = _record_calls(monkeypatch, whyload.pipeline, "check", "check")
    assert _main(monkeypatch, *args) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "usage: whyload" in captured.err, captured.err
    assert captured.out == "" and calls == []


def test_a_usage_error_is_one_message_without_a_traceback() -> None:
    done = run_cli("check", ".", "--format", "xml")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == ("whyload check: error: argument --format/-f: "
                                            "invalid choice: 'xml' (choose from 'text', "
                                            "'json', 'sarif')")


def test_no_arguments_prints_the_commands(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(monkeypatch) == 2
    shown = capsys.readouterr().out
    assert shown.startswith("usage: whyload")
    assert all(name in shown for name in cli.command_names())


@pytest.mark.parametrize("command", ["check", "env", "rules", "demo", "version", "explain",
                                     "verify", "lock", "load", "fix"])
def test_every_command_has_help(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert command in cli.command_names()
    for flag in ("-h", "--help"):
        assert _main(monkeypatch, command, flag) == 0
        assert capsys.readouterr().out.startswith(f"usage: whyload {command} ")


def test_select_and_ignore_repeat_and_comma_separate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_calls(monkeypatch, whyload.pipeline, "check", "check")
    assert _main(monkeypatch, "check", "m", "--select", "WL1,WL104", "--select", "WL2",
                 "--ignore", "WL110 , WL3", "--format", "json") == 0
    assert calls[0]["select"] == ["WL1", "WL104", "WL2"]
    assert calls[0]["ignore"] == ["WL110", "WL3"]
    assert _main(monkeypatch, "check", "m", "--format", "json") == 0
    assert calls[1]["select"] == [] and calls[1]["ignore"] == []


def test_select_forms_agree_end_to_end(tmp_path: Path, minilm: Path) -> None:
    (tmp_path / "config.json").write_text((minilm / "config.json").read_text())
    (tmp_path / "model.safetensors").write_text(LFS)
    comma = run_cli("check", str(tmp_path), "--select", "WL11,WL4", "-f", "json")
    repeated = run_cli("check", str(tmp_path), "--select", "WL11", "--select", "WL4", "-f",
                       "json")
    assert comma.returncode == repeated.returncode == 1
    assert [f["code"] for f in json.loads(comma.stdout)["findings"]] == \
        [f["code"] for f in json.loads(repeated.stdout)["findings"]] == ["WL110"]


@pytest.mark.parametrize(("command", "module", "name"), [
    ("check", whyload.pipeline, "check"),
    ("env", whyload.pipeline, "env"),
    ("load", whyload.probe.load, "run_load"),
])
def test_python_reaches_the_pipeline(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], command: str,
                                     module: object, name: str) -> None:
    calls = _record_calls(monkeypatch, module, name, command)
    target = [] if command == "env" else ["some/model"]
    assert _main(monkeypatch, command, *target, "--python", "/opt/venv/bin/python", "-f",
                 "json") == 0
    assert json.loads(capsys.readouterr().out)["command"] == command
    assert _main(monkeypatch, command, *target, "-f", "json") == 0
    assert [call["python"] for call in calls] == ["/opt/venv/bin/python", None]


def test_check_passes_every_option_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_calls(monkeypatch, whyload.pipeline, "check", "check")
    assert _main(monkeypatch, "check", "org/name", "--revision", "v1", "--class",
                 "BertForMaskedLM", "--deep", "--device", "cuda", "--dtype", "float16",
                 "--finetune", "-f", "json") == 0
    assert calls == [{"revision": "v1", "select": [], "ignore": [],
                      "model_class": "BertForMaskedLM", "deep": True, "device": "cuda",
                      "dtype": "float16", "python": None, "finetune": True, "remote": False,
                      "storage_options": {}, "memory": None}]


def test_load_reads_sizes_and_times(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_calls(monkeypatch, whyload.probe.load, "run_load", "load")
    assert _main(monkeypatch, "load", "m", "--memory-limit", "2G", "--timeout", "30",
                 "-f", "json") == 0
    assert calls[0]["memory_limit"] == 2 * 1024**3 and calls[0]["timeout_s"] == 30.0
    assert _main(monkeypatch, "load", "m", "--memory-limit", "2GB", "-f", "json") == 0
    assert calls[1]["memory_limit"] == 2 * 1000**3 and calls[1]["timeout_s"] == 600.0


def test_every_public_name_resolves_without_shadowing_a_package() -> None:
    import whyload.env
    import whyload.logs

    for name in whyload.__all__:
        assert getattr(whyload, name) is not None, name
    assert callable(whyload.explain) and callable(whyload.verify) and callable(whyload.load)
    assert callable(whyload.env.collect)  # the package, not a function named env
