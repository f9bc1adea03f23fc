"""Layouts the world produces, each loaded by real transformers first: healthy ones must not be
called broken, broken ones must not be called healthy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import codes, edit_config, load_report, only, rewrite_safetensors, save_tiny

import whyload
from whyload import Severity, Verdict

MPNET = dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
             intermediate_size=29, max_position_embeddings=34)


def test_sentence_transformers_repo_with_masked_lm_architectures(tmp_path: Path) -> None:
    """all-mpnet-base-v2 style: base weights, config says MPNetForMaskedLM, modules.json."""
    model = save_tiny(tmp_path / "st", "MPNetModel", "mpnet", **MPNET)
    edit_config(model, architectures=["MPNetForMaskedLM"])
    (model / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]))
    assert not load_report(model)["missing_keys"]  # AutoModel: clean
    report = whyload.check(str(model))
    assert report.verdict is Verdict.LOADS and not report.failed(Severity.WARNING), codes(report)


def test_base_weights_with_stale_architectures(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "m", "MPNetModel", "mpnet", **MPNET)
    edit_config(model, architectures=["MPNetForMaskedLM"])
    report = whyload.check(str(model))
    f = only(report, "WL401")
    assert f.severity is Severity.WARNING and "base model" in f.title
    assert report.verdict is Verdict.LOADS


def test_bert_base_uncased_layout_into_masked_lm(tmp_path: Path) -> None:
    """bert-base-uncased: architectures BertForMaskedLM, weights with pooler and NSP head."""
    model = save_tiny(tmp_path / "m", "BertForPreTraining")
    edit_config(model, architectures=["BertForMaskedLM"])
    info = load_report(model, "BertForMaskedLM")
    assert info["unexpected_keys"] and not info["missing_keys"]
    report = whyload.check(str(model))
    f = only(report, "WL403")
    assert f.severity is Severity.INFO and report.verdict is Verdict.LOADS


def test_multiple_choice_head_does_not_vote_num_labels(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "m", "BertForMultipleChoice", num_labels=4)
    assert not load_report(model, "BertForMultipleChoice")["mismatched_keys"]
    assert "WL310" not in codes(whyload.check(str(model)))


def test_pooler_lost_under_a_classifier_is_broken(tmp_path: Path,
                                                  safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    rewrite_safetensors(model / "model.safetensors",
                        lambda t: {k: v for k, v in t.items() if ".pooler." not in k})
    report = whyload.check(str(model))
    f = only(report, "WL402")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.LOADS_BROKEN


def test_num_labels_key_disagreeing_with_id2label_only_warns(tmp_path: Path,
                                                             safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    config = json.loads((model / "config.json").read_text())
    edit_config(model, num_labels=3, id2label={"0": "NEG", "1": "POS"},
                label2id={"NEG": 0, "POS": 1})
    load_report(model, "BertForSequenceClassification")  # loads, with a warning
    f = only(whyload.check(str(model)), "WL321")
    assert f.severity is Severity.WARNING
    del config


def test_no_model_type_with_a_concrete_class(tmp_path: Path, safetensors_model: Path) -> None:
    from transformers import BertForSequenceClassification

    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    edit_config(model, model_type=None)
    BertForSequenceClassification.from_pretrained(model)  # a concrete class loads it
    f = only(whyload.check(str(model), model_class="BertForSequenceClassification"), "WL303")
    assert f.severity is Severity.WARNING
    assert only(whyload.check(str(model), model_class="AutoModel"), "WL303").severity is \
        Severity.ERROR


def test_auto_class_without_a_model_for_the_type(safetensors_model: Path) -> None:
    from transformers import AutoModelForSeq2SeqLM

    with pytest.raises(ValueError, match="Unrecognized configuration class"):
        AutoModelForSeq2SeqLM.from_pretrained(safetensors_model)
    report = whyload.check(str(safetensors_model), model_class="AutoModelForSeq2SeqLM")
    f = only(report, "WL406")
    assert "AutoModelForSequenceClassification" in f.evidence["supported"]
    assert report.verdict is Verdict.FAILS
    causal = whyload.check(str(safetensors_model), model_class="AutoModelForCausalLM")
    assert "WL406" not in codes(causal) and "WL405" not in codes(causal)


def test_adapter_without_peft(tmp_path: Path) -> None:
    import dataclasses

    import numpy as np
    from safetensors.numpy import save_file

    (tmp_path / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "bert-base-uncased", "peft_type": "LORA"}))
    save_file({"base_model.model.encoder.lora_A.weight": np.zeros((4, 8), np.float32)},
              str(tmp_path / "adapter_model.safetensors"), metadata={"format": "pt"})
    env = whyload.env.collect()
    env = dataclasses.replace(env, versions={**env.versions, "peft": None})
    report = whyload.check(str(tmp_path), environment=env)
    f = only(report, "WL106")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS


def test_index_without_metadata(tmp_path: Path, sharded_model: Path) -> None:
    from transformers import BertForSequenceClassification

    model = tmp_path / "m"
    shutil.copytree(sharded_model, model)
    index = model / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": json.loads(index.read_text())["weight_map"]}))
    with pytest.raises(KeyError, match="metadata"):
        BertForSequenceClassification.from_pretrained(model)
    assert "metadata" in only(whyload.check(str(model)), "WL140").detail


def test_auto_map_to_missing_code_for_a_built_in_type(tmp_path: Path,
                                                      safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    edit_config(model, auto_map={"AutoModel": "modeling_custom.CustomBert"})
    load_report(model, "BertForSequenceClassification")  # loads without trust_remote_code
    report = whyload.check(str(model))
    f = only(report, "WL430")
    assert f.severity is Severity.WARNING and report.verdict is Verdict.LOADS


def test_tokenizer_json_pointer_says_the_tokenizer_fails(tmp_path: Path, minilm: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(minilm, model)
    (model / "tokenizer.json").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "b" * 64 + "\nsize 466247\n")
    f = only(whyload.check(str(model)), "WL110")
    assert "AutoTokenizer" in f.detail and "only breaks tools" not in f.detail


def test_sharded_variant_only(tmp_path: Path) -> None:
    import torch
    from conftest import _tiny_model

    model = tmp_path / "m"
    _tiny_model().to(torch.float16).save_pretrained(model, max_shard_size="30KB",
                                                    variant="fp16")
    assert any(p.name.endswith(".index.fp16.json") for p in model.iterdir())
    report = whyload.check(str(model))
    f = only(report, "WL144")
    assert f.evidence["variant"] == "fp16" and "variant='fp16'" in f.fix


def test_deberta_v3_long_inputs_are_fine(tmp_path: Path, minilm: Path) -> None:
    model = save_tiny(tmp_path / "m", "DebertaV2Model", "deberta-v2", vocab_size=61,
                      hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=29, max_position_embeddings=64, relative_attention=True,
                      position_biased_input=False, position_buckets=8, type_vocab_size=0)
    (model / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 1024}))
    assert "WL332" not in codes(whyload.check(str(model)))


def test_config_json_as_the_target_means_its_folder(safetensors_model: Path) -> None:
    report = whyload.check(str(safetensors_model / "config.json"))
    assert report.resolved["how"] == "folder" and report.facts["tensor_count"] > 0


@pytest.mark.parametrize("cls", ["BertForSequenceClassification", "BertForTokenClassification",
                                 "BertForQuestionAnswering"])
def test_pretraining_checkpoint_into_a_fresh_head(tmp_path: Path, cls: str) -> None:
    """bert-base-uncased (pooler + NSP head) fine-tuned into a task: the NSP head, [2, hidden]
    like a 2-label classifier, is not the classifier renamed."""
    model = save_tiny(tmp_path / "m", "BertForPreTraining", num_labels=2)
    report = whyload.check(str(model), model_class=cls, finetune=True)
    assert report.verdict is Verdict.LOADS, [(f.code, f.title) for f in report.findings]
    assert only(report, "WL401").severity is Severity.INFO
    report = whyload.check(str(model), model_class=cls)  # for inference: a random head
    assert report.verdict is Verdict.LOADS_BROKEN
    assert only(report, "WL401").severity is Severity.ERROR


def test_deberta_v3_into_a_fresh_classifier(tmp_path: Path) -> None:
    """deberta-v3-base has no pooler weights; SequenceClassification creates pooler + head."""
    model = save_tiny(tmp_path / "m", "DebertaV2Model", "deberta-v2", vocab_size=61,
                      hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=29, max_position_embeddings=64, relative_attention=True,
                      position_biased_input=False, position_buckets=8, type_vocab_size=0)
    info = load_report(model, "DebertaV2ForSequenceClassification")
    assert any("pooler" in k for k in info["missing_keys"])
    report = whyload.check(str(model), model_class="AutoModelForSequenceClassification",
                           finetune=True)
    assert report.verdict is Verdict.LOADS, [(f.code, f.title) for f in report.findings]
    report = whyload.check(str(model), model_class="AutoModelForSequenceClassification")
    assert report.verdict is Verdict.LOADS_BROKEN and "WL401" in codes(report)
