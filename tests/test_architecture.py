"""WL4xx: what from_pretrained does to every weight, predicted without loading. Each case is
built with real transformers/torch and loaded for real, so the test shows the silent failure
before whyload names it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import codes, edit_config, load_report, only, rewrite_safetensors, save_tiny

import whyload
from whyload import Effect, Severity, Verdict

Copy = Callable[[Path], Path]

FAMILY_CONFIGS = {
    "bert": {},
    "roberta": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                    intermediate_size=29, max_position_embeddings=34, type_vocab_size=1,
                    pad_token_id=1),
    "distilbert": dict(vocab_size=61, dim=24, n_layers=2, n_heads=3, hidden_dim=29,
                       max_position_embeddings=33),
    "albert": dict(vocab_size=61, embedding_size=16, hidden_size=24, num_hidden_layers=2,
                   num_attention_heads=3, intermediate_size=29, max_position_embeddings=33),
    "electra": dict(vocab_size=61, embedding_size=16, hidden_size=24, num_hidden_layers=2,
                    num_attention_heads=3, intermediate_size=29, max_position_embeddings=33),
    "deberta-v2": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2,
                       num_attention_heads=3, intermediate_size=29, max_position_embeddings=33,
                       relative_attention=True, position_biased_input=False,
                       pos_att_type=["p2c", "c2p"], position_buckets=8, share_att_key=True,
                       norm_rel_ebd="layer_norm", type_vocab_size=0),
    "mpnet": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                  intermediate_size=29, max_position_embeddings=34),
}
PREFIX = {"bert": "Bert", "roberta": "Roberta", "distilbert": "DistilBert", "albert": "Albert",
          "electra": "Electra", "deberta-v2": "DebertaV2", "mpnet": "MPNet"}


@pytest.mark.parametrize("head", ["Model", "ForSequenceClassification", "ForMaskedLM",
                                  "ForTokenClassification"])
@pytest.mark.parametrize("model_type", sorted(FAMILY_CONFIGS))
def test_healthy_families_have_no_finding(tmp_path: Path, model_type: str, head: str) -> None:
    out = save_tiny(tmp_path / "m", f"{PREFIX[model_type]}{head}", model_type,
                    **FAMILY_CONFIGS[model_type])
    info = load_report(out, f"{PREFIX[model_type]}{head}")
    assert not info["missing_keys"] and not info["unexpected_keys"]
    report = whyload.check(str(out))
    assert report.verdict is Verdict.LOADS
    assert not report.failed(Severity.WARNING), [(f.code, f.title) for f in report.findings]


def test_old_transformers_4x_checkpoint_is_healthy(tmp_path: Path, safetensors_model: Path) -> None:
    """Saved years ago: legacy torch format, LayerNorm.gamma/beta names, a persistent
    position_ids buffer, a config from transformers 4.5.1 missing today's keys."""
    import torch
    from safetensors.numpy import load_file

    old = tmp_path / "bert-2021"
    old.mkdir()
    state = {k: torch.from_numpy(v) for k, v in
             load_file(str(safetensors_model / "model.safetensors")).items()}
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta"): v for k, v in state.items()}
    renamed["bert.embeddings.position_ids"] = torch.arange(64).unsqueeze(0)
    torch.save(renamed, old / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    shutil.copy(safetensors_model / "config.json", old)
    edit_config(old, transformers_version="4.5.1", dtype=None, position_embedding_type=None,
                use_cache=None, classifier_dropout=None)
    info = load_report(old, "BertForSequenceClassification")
    assert not info["missing_keys"] and not info["unexpected_keys"]
    report = whyload.check(str(old))
    assert report.verdict is Verdict.LOADS
    assert not report.failed(Severity.WARNING), [(f.code, f.title) for f in report.findings]


def test_fine_tuned_head_lost(copy_of: Copy, safetensors_model: Path) -> None:
    """config.json says BertForSequenceClassification; the classifier was not saved."""
    model = copy_of(safetensors_model)
    rewrite_safetensors(model / "model.safetensors",
                        lambda t: {k: v for k, v in t.items() if not k.startswith("classifier")})
    info = load_report(model, "BertForSequenceClassification")
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}
    report = whyload.check(str(model))
    f = only(report, "WL401")
    assert f.severity is Severity.ERROR and f.effect is Effect.SILENT
    assert f.evidence["missing"] == ["classifier.bias", "classifier.weight"]
    assert report.verdict is Verdict.LOADS_BROKEN


def test_a_head_left_random_is_loads_broken_through_an_auto_class(minilm: Path) -> None:
    """AutoModelForSequenceClassification on a base checkpoint: transformers loads it without
    an exception and a random classifier (transformers#10329) — the same as naming the class."""
    from transformers import AutoModelForSequenceClassification

    _, info = AutoModelForSequenceClassification.from_pretrained(str(minilm),
                                                                 output_loading_info=True)
    assert set(info["missing_keys"]) == {"classifier.weight", "classifier.bias"}
    for asked in ("AutoModelForSequenceClassification", "BertForSequenceClassification"):
        report = whyload.check(str(minilm), model_class=asked)
        f = only(report, "WL401")
        assert f.severity is Severity.ERROR and f.effect is Effect.SILENT
        assert report.verdict is Verdict.LOADS_BROKEN
        assert "classifier.bias" in f.title and "classifier.weight" in f.title
        assert f.evidence["class"] == "BertForSequenceClassification"
        assert f.evidence["class_from"] == "--class"
        assert "--finetune" in (f.fix or "")


def test_a_head_to_be_fine_tuned_is_expected(minilm: Path) -> None:
    report = whyload.check(str(minilm), model_class="AutoModelForSequenceClassification",
                           finetune=True)
    f = only(report, "WL401")
    assert f.severity is Severity.INFO and f.effect is Effect.NONE
    assert report.verdict is Verdict.LOADS
    assert "classifier.bias" in f.title and "trained" in f.title
    assert f.evidence["finetune"] is True


def test_finetune_on_the_command_line(minilm: Path) -> None:
    from whyload.cli import run

    code = run(["check", str(minilm), "--class", "AutoModelForSequenceClassification",
                 "--finetune", "--format", "json"])
    assert code == 0


def test_encoder_weight_missing(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    gone = "bert.encoder.layer.1.attention.self.query.weight"
    rewrite_safetensors(model / "model.safetensors",
                        lambda t: {k: v for k, v in t.items() if k != gone})
    assert set(load_report(model, "BertForSequenceClassification")["missing_keys"]) == {gone}
    report = whyload.check(str(model))
    f = only(report, "WL402")
    assert f.evidence["missing"] == [gone] and report.verdict is Verdict.LOADS_BROKEN


def test_head_checkpoint_into_base_class(safetensors_model: Path) -> None:
    report = whyload.check(str(safetensors_model), model_class="BertModel")
    f = only(report, "WL403")
    assert f.severity is Severity.INFO and report.verdict is Verdict.LOADS
    assert f.evidence["unused"] == ["classifier.bias", "classifier.weight"]


def test_shape_mismatch_without_config_cause(copy_of: Copy, safetensors_model: Path) -> None:
    import numpy as np

    model = copy_of(safetensors_model)
    key = "bert.pooler.dense.weight"
    rewrite_safetensors(model / "model.safetensors",
                        lambda t: {**t, key: np.zeros((32, 16), np.float32)})
    report = whyload.check(str(model))
    f = only(report, "WL404")
    assert f.evidence["mismatched"] == [{"key": key, "checkpoint": [32, 16], "model": [32, 32]}]
    assert report.verdict is Verdict.FAILS


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod."])
def test_wrapper_prefix(tmp_path: Path, safetensors_model: Path, prefix: str) -> None:
    """Saved from DataParallel / torch.compile: every key prefixed, every weight random."""
    import torch
    from conftest import _tiny_model

    shutil.copy(safetensors_model / "config.json", tmp_path)
    torch.save({prefix + k: v for k, v in _tiny_model().state_dict().items()},
               tmp_path / "pytorch_model.bin")
    info = load_report(tmp_path, "BertForSequenceClassification")
    assert len(info["missing_keys"]) > 30  # loaded "fine", all random
    report = whyload.check(str(tmp_path))
    f = only(report, "WL410")
    assert f.evidence["prefix"] == prefix and report.verdict is Verdict.LOADS_BROKEN
    assert f"k.removeprefix('{prefix}')" in f.fix
    assert codes(report) == ["WL410"]


def test_lightning_checkpoint(tmp_path: Path, safetensors_model: Path) -> None:
    import torch
    from conftest import _tiny_model

    shutil.copy(safetensors_model / "config.json", tmp_path)
    state = {f"model.{k}": v for k, v in _tiny_model().state_dict().items()}
    torch.save({"epoch": 4, "global_step": 1000, "pytorch-lightning_version": "2.4.0",
                "state_dict": state, "optimizer_states": []}, tmp_path / "pytorch_model.bin")
    report = whyload.check(str(tmp_path))
    f = only(report, "WL411")
    assert f.evidence["nesting"] == ["state_dict"] and f.evidence["key_prefix"] == "model."
    assert "pytorch-lightning_version" in f.evidence["top_keys"]
    assert report.verdict is Verdict.FAILS


@pytest.mark.parametrize("keep_head", [False, True])
def test_foreign_prefix(copy_of: Copy, safetensors_model: Path, keep_head: bool) -> None:
    """A custom wrapper named its encoder `bert_model`; the classifier may sit beside it."""
    model = copy_of(safetensors_model)
    rewrite_safetensors(model / "model.safetensors", lambda t: {
        (k if keep_head and k.startswith("classifier") else
         "bert_model." + k.removeprefix("bert.")): v for k, v in t.items()})
    report = whyload.check(str(model))
    f = only(report, "WL412")
    assert f.evidence["prefix"] == "bert_model." and report.verdict is Verdict.LOADS_BROKEN
    assert f.evidence["match_without_prefix"] == f.evidence["expected"] - (2 if keep_head else 0)


def test_bert_weights_under_model_type_roberta(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    edit_config(model, model_type="roberta", architectures=["RobertaForSequenceClassification"])
    info = load_report(model, "RobertaForSequenceClassification")
    assert len(info["missing_keys"]) > 30  # silently random
    report = whyload.check(str(model))
    f = only(report, "WL420")
    assert f.evidence["weights_family"] == "bert"
    assert report.verdict is Verdict.LOADS_BROKEN


def test_electra_discriminator_as_generator(tmp_path: Path) -> None:
    out = save_tiny(tmp_path / "disc", "ElectraForPreTraining", "electra",
                    **FAMILY_CONFIGS["electra"])
    info = load_report(out, "ElectraForMaskedLM")
    assert any("generator" in k for k in info["missing_keys"])
    report = whyload.check(str(out), model_class="ElectraForMaskedLM")
    f = only(report, "WL421")
    assert f.evidence["checkpoint_role"] == "discriminator"
    assert report.verdict is Verdict.LOADS_BROKEN


def test_deberta_v3_into_v1_class(tmp_path: Path) -> None:
    out = save_tiny(tmp_path / "v3", "DebertaV2ForSequenceClassification", "deberta-v2",
                    **FAMILY_CONFIGS["deberta-v2"])
    report = whyload.check(str(out), model_class="DebertaForSequenceClassification")
    f = only(report, "WL422")
    assert f.evidence == {"weights": "deberta-v2", "class": "DebertaForSequenceClassification"}
    assert report.verdict is Verdict.FAILS


def _tiny_gpt2(out: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=2,
                               n_head=2)).save_pretrained(out)
    return out


def test_other_model_types_are_predicted_from_the_generated_specs(tmp_path: Path) -> None:
    model = _tiny_gpt2(tmp_path / "gpt2")
    assert "WL405" not in codes(whyload.check(str(model)))
    gone = "transformer.h.1.mlp.c_fc.weight"
    rewrite_safetensors(model / "model.safetensors",
                        lambda t: {k: v for k, v in t.items() if k != gone})
    assert set(load_report(model, "GPT2LMHeadModel")["missing_keys"]) == {gone}
    report = whyload.check(str(model))
    assert only(report, "WL402").evidence["missing"] == [gone]
    assert report.verdict is Verdict.LOADS_BROKEN


def test_a_class_the_specs_do_not_have_needs_deep(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A model type newer than the shipped specs (here: the specs made to forget GPT-2)."""
    from whyload.knowledge import specs

    monkeypatch.setattr(specs, "type_of_class", lambda *_: None)
    report = whyload.check(str(_tiny_gpt2(tmp_path / "gpt2")))
    f = only(report, "WL405")
    assert f.severity is Severity.INFO and "--deep" in f.fix
    assert report.verdict is Verdict.LOADS


def test_deep_predicts_other_model_types_like_transformers(tmp_path: Path) -> None:
    model = _tiny_gpt2(tmp_path / "gpt2")
    gone = "transformer.h.1.mlp.c_fc.weight"
    rewrite_safetensors(model / "model.safetensors",
                        lambda t: {k: v for k, v in t.items() if k != gone})
    assert set(load_report(model, "GPT2LMHeadModel")["missing_keys"]) == {gone}
    report = whyload.check(str(model), deep=True)
    f = only(report, "WL402")
    assert f.evidence["missing"] == [gone] and report.verdict is Verdict.LOADS_BROKEN
    assert "WL405" not in codes(report)


def test_remote_code_is_named_with_what_to_review(tmp_path: Path,
                                                  safetensors_model: Path) -> None:
    """auto_map code: transformers refuses it without trust_remote_code; whyload lists the files
    and the lines that deserve a look, without importing them."""
    from transformers import AutoModel

    model = tmp_path / "custom"
    shutil.copytree(safetensors_model, model)
    (model / "configuration_custom.py").write_text(
        "from transformers import BertConfig\n\n"
        "class CustomConfig(BertConfig):\n    model_type = 'custom-bert'\n")
    (model / "modeling_custom.py").write_text(
        "import requests\nfrom transformers import BertModel\n"
        "from .configuration_custom import CustomConfig\n\n"
        "class CustomModel(BertModel):\n    config_class = CustomConfig\n")
    edit_config(model, model_type="custom-bert", architectures=["CustomModel"],
                auto_map={"AutoConfig": "configuration_custom.CustomConfig",
                          "AutoModel": "modeling_custom.CustomModel"})
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoModel.from_pretrained(model)
    report = whyload.check(str(model))
    f = only(report, "WL430")
    assert f.evidence["files"] == ["configuration_custom.py", "modeling_custom.py"]
    assert f.evidence["flagged"] == {"modeling_custom.py": {"network": 1}}
    assert "trust_remote_code=True" in f.fix
    (model / "modeling_custom.py").unlink()
    missing = [x for x in whyload.check(str(model)).findings if x.code == "WL430"
               and x.severity is Severity.ERROR]
    assert missing and missing[0].evidence["missing"] == ["modeling_custom.py"]


def test_head_saved_under_another_name(copy_of: Copy, safetensors_model: Path) -> None:
    """A custom training script called the classifier `fc`."""
    model = copy_of(safetensors_model)
    rewrite_safetensors(model / "model.safetensors", lambda t: {
        k.replace("classifier.", "fc."): v for k, v in t.items()})
    report = whyload.check(str(model))
    f = only(report, "WL401")
    assert (f.evidence["saved_as"], f.evidence["expected"]) == ("fc.", "classifier.")
    assert report.verdict is Verdict.LOADS_BROKEN
    assert "'classifier.' + k[3:] if k.startswith('fc.')" in f.fix


@pytest.mark.parametrize(("layers", "code", "real"), [
    (3, "WL312", "missing_keys"),  # one layer more than the weights: created at random
    (1, "WL311", "unexpected_keys"),  # one fewer: the last layer is dropped
])
def test_a_layer_count_edit_for_any_model_type(tmp_path: Path, layers: int, code: str,
                                               real: str) -> None:
    """GPT-2 calls its layer count n_layer: the generated spec knows which field counts
    transformer.h, and the weights say how many there are."""
    model = _tiny_gpt2(tmp_path / "gpt2")
    edit_config(model, n_layer=layers)
    assert load_report(model, "GPT2LMHeadModel")[real]
    report = whyload.check(str(model))
    f = only(report, code)
    assert (f.evidence["field"], f.evidence["config"], f.evidence["weights"]) == \
        ("n_layer", layers, 2)
    assert f.effect is Effect.SILENT and report.verdict is Verdict.LOADS_BROKEN


def test_blocks_beyond_the_config_are_named_when_no_count_is_inferred(tmp_path: Path) -> None:
    """With --deep, transformers' own expectation is used and no layer count is read off the
    weights: the unused weights of the model's own blocks still say it is truncated (WL403)."""
    model = _tiny_gpt2(tmp_path / "gpt2")
    edit_config(model, n_layer=1)
    report = whyload.check(str(model), deep=True)
    f = only(report, "WL403")
    assert f.severity is Severity.ERROR and f.effect is Effect.SILENT
    assert f.evidence["unused"][0].startswith("transformer.h.1.")
    assert report.verdict is Verdict.LOADS_BROKEN
