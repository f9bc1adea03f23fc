"""The class a model loads with is decided once, when the snapshot is built (whyload.modelview):
check's prediction, load's child, whyload.load and fix's proof all use that class; `--class` is
validated against what transformers has; and a report never claims more than it checked."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import whyload
from tests.conftest import codes, load_report, only, run_cli, save_tiny
from whyload.errors import UsageError
from whyload.knowledge.families import families
from whyload.knowledge.model_classes import generated
from whyload.modelview import SENTENCE_TRANSFORMERS, choose_class
from whyload.report import Severity, Verdict


def load_class(report: whyload.Report) -> dict[str, object]:
    fact = report.facts["load_class"]
    assert isinstance(fact, dict)
    return fact


# ---- one decision ------------------------------------------------------------------------------

def test_sentence_transformers_folder_loads_with_automodel_everywhere(minilm: Path) -> None:
    """modules.json: sentence-transformers builds its transformer with AutoModel; check predicts
    for that class and the real load uses the same one."""
    static = whyload.check(str(minilm))
    assert load_class(static) == {"name": "AutoModel", "resolved": "BertModel",
                                  "source": SENTENCE_TRANSFORMERS, "supported": True}
    loaded = whyload.run_load(str(minilm))
    assert loaded.facts["outcome"] == "loaded"
    assert loaded.facts["class"] == "AutoModel"  # what the child called from_pretrained on
    assert loaded.facts["model_class"] == "BertModel"  # and what that built


def test_architectures_decide_without_class(safetensors_model: Path) -> None:
    fact = load_class(whyload.check(str(safetensors_model)))
    assert fact["name"] == fact["resolved"] == "BertForSequenceClassification"
    assert fact["source"] == "architectures"


def test_auto_class_resolves_for_the_model_type(safetensors_model: Path) -> None:
    report = whyload.check(str(safetensors_model), model_class="AutoModelForTokenClassification")
    assert load_class(report)["resolved"] == "BertForTokenClassification"


def test_custom_architecture_loads_with_automodel(copy_of: Callable[[Path], Path],
                                                  safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["MyBertForEverything"]
    (folder / "config.json").write_text(json.dumps(config))
    fact = load_class(whyload.check(str(folder)))
    assert fact["name"] == "AutoModel" and fact["resolved"] == "BertModel"
    assert "custom code" in str(fact["source"])


@pytest.mark.parametrize("model_type", sorted(families()))
def test_auto_classes_resolve_as_transformers_builds_them(model_type: str) -> None:
    """Every Auto class resolves to the class transformers itself builds for the model type
    (AutoModelForPreTraining on roberta is RobertaForMaskedLM: no hand-kept head table)."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type)
    for auto in ("AutoModel", "AutoModelForPreTraining", "AutoModelForMaskedLM",
                 "AutoModelForSequenceClassification", "AutoModelForQuestionAnswering",
                 "AutoModelForCausalLM"):
        chosen = choose_class(auto, {"model_type": model_type}, False, generated)
        try:
            with torch.device("meta"):
                built = type(getattr(transformers, auto).from_config(config)).__name__
        except ValueError:  # "Unrecognized configuration class ... for this kind of AutoModel"
            assert chosen.resolved is None and not chosen.supported, (auto, model_type)
            continue
        assert chosen.resolved == built, (auto, model_type)


# ---- --class is validated --------------------------------------------------------------------

def test_unknown_class_is_a_usage_error_with_did_you_mean(safetensors_model: Path) -> None:
    with pytest.raises(UsageError) as raised:
        whyload.check(str(safetensors_model), model_class="BertForSequenceClasification")
    assert "BertForSequenceClassification" in (raised.value.hint or "")
    done = run_cli("check", str(safetensors_model), "--class", "bertforsequenceclassification")
    assert done.returncode == 2
    assert "did you mean BertForSequenceClassification" in done.stderr
    assert "Traceback" not in done.stderr


def test_class_of_another_model_type_loads_broken_as_transformers_does(
        tmp_path: Path) -> None:
    """GPT2ForSequenceClassification.from_pretrained on BERT weights: transformers warns and
    loads, every GPT-2 weight missing (random). check says loads broken, WL423."""
    model = save_tiny(tmp_path / "bert")
    real = load_report(model, "GPT2ForSequenceClassification")
    assert real["missing_keys"] and real["unexpected_keys"]  # nothing of the checkpoint fits
    report = whyload.check(str(model), model_class="GPT2ForSequenceClassification")
    f = only(report, "WL423")
    assert f.severity is Severity.ERROR
    assert f.evidence["class_model_type"] == "gpt2"
    assert f.evidence["config_model_type"] == "bert"
    assert "BertForSequenceClassification" in f.fix
    assert report.verdict is Verdict.LOADS_BROKEN


def test_same_family_class_is_no_finding(safetensors_model: Path) -> None:
    report = whyload.check(str(safetensors_model), model_class="BertForMaskedLM")
    assert "WL423" not in codes(report)


# ---- verdicts that never overstate -------------------------------------------------------------

def test_a_selection_that_assesses_nothing_decisive_is_unknown(minilm: Path) -> None:
    report = whyload.check(str(minilm), select=["WL6"])
    assert report.verdict is Verdict.UNKNOWN
    assert set(report.not_checked) == {"files", "version", "config", "architecture",
                                       "environment"}
    assert report.to_dict()["not_checked"]["files"].startswith("not selected")
    shown = run_cli("check", str(minilm), "--select", "WL6").stdout
    assert "unknown — what decides loading was not checked" in shown
    assert "- files        not checked: not selected" in shown


def test_model_type_without_a_key_spec_says_architecture_not_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from whyload.knowledge import specs

    monkeypatch.setattr(specs, "type_of_class", lambda *_: None)

    GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1,
                               n_head=2)).save_pretrained(tmp_path / "gpt2")
    report = whyload.check(str(tmp_path / "gpt2"))
    assert "GPT2LMHeadModel" in report.not_checked["architecture"]
    assert "--deep" in report.not_checked["architecture"]
    assert report.verdict is Verdict.LOADS  # files and config were assessed
    deep = whyload.check(str(tmp_path / "gpt2"), deep=True)
    assert "architecture" not in deep.not_checked


def test_weights_file_alone_is_unknown(tmp_path: Path, safetensors_model: Path) -> None:
    """No config.json beside it: neither the config nor the class can be assessed."""
    shutil.copy(safetensors_model / "model.safetensors", tmp_path / "model.safetensors")
    report = whyload.check(str(tmp_path / "model.safetensors"))
    assert report.not_checked["config"] == "no config.json beside the file"
    assert report.verdict is Verdict.UNKNOWN


def test_unreadable_weights_leave_config_and_architecture_unchecked(
        copy_of: Callable[[Path], Path], safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    (folder / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 9\n")
    report = whyload.check(str(folder))
    assert "WL110" in codes(report) and report.verdict is Verdict.FAILS
    assert report.not_checked["architecture"] == "no weights could be read to compare with"
