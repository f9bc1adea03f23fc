"""WL3xx: config.json against the weights and the tokenizer. Each failure is produced with real
transformers first (it raises, or loads silently wrong), then named by whyload."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import codes, edit_config, load_report, only

import whyload
from whyload import Effect, Severity, Verdict

Copy = Callable[[Path], Path]


def test_missing_config_is_inferred_from_the_weights(copy_of: Copy,
                                                     safetensors_model: Path) -> None:
    from transformers import AutoModel

    model = copy_of(safetensors_model)
    (model / "config.json").unlink()
    with pytest.raises((OSError, ValueError)):  # "Unrecognized model" / no config.json
        AutoModel.from_pretrained(model)
    report = whyload.check(str(model))
    f = only(report, "WL300")
    draft = f.evidence["inferred_config"]
    assert draft["model_type"] == "bert"
    assert (draft["vocab_size"], draft["hidden_size"], draft["num_hidden_layers"],
            draft["intermediate_size"], draft["max_position_embeddings"], draft["num_labels"]) \
        == (99, 32, 2, 37, 64, 3)
    assert f.fix.startswith("write config.json: {")
    assert report.verdict is Verdict.FAILS


def test_invalid_json_names_line_and_column(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    text = (model / "config.json").read_text()
    (model / "config.json").write_text(text.replace('"hidden_size": 32,', '"hidden_size": 32,,'))
    report = whyload.check(str(model))
    f = only(report, "WL301")
    assert f.evidence["line"] > 1 and f.evidence["column"] > 1
    assert '"hidden_size": 32,,' in f.evidence["context"]
    assert "WL310" not in codes(report)  # one broken config, one finding


def test_bert_config_json_only(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "config.json").rename(model / "bert_config.json")
    f = only(whyload.check(str(model)), "WL302")
    assert "config.json" in f.fix and "'model_type'] = 'bert'" in f.fix


def test_no_model_type(copy_of: Copy, safetensors_model: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig

    model = tmp_path / "finetuned"
    shutil.copytree(safetensors_model, model)
    edit_config(model, model_type=None)
    with pytest.raises(ValueError, match="Unrecognized model"):
        AutoConfig.from_pretrained(model)
    f = only(whyload.check(str(model)), "WL303")
    assert f.severity is Severity.ERROR
    assert f.evidence["inferred_model_type"] == "bert"
    assert f.fix == 'add "model_type": "bert" to config.json'


def test_value_of_the_wrong_type(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    edit_config(model, intermediate_size="37")
    f = only(whyload.check(str(model)), "WL304")
    assert f.evidence == {"field": "intermediate_size", "value": "37", "type": "str"}
    assert f.fix == 'set "intermediate_size": 37 in config.json'


def test_vocab_size_contradicts_weights(copy_of: Copy, safetensors_model: Path) -> None:
    from transformers import BertForSequenceClassification

    model = copy_of(safetensors_model)
    edit_config(model, vocab_size=120)
    with pytest.raises(RuntimeError, match=r"size mismatch|ignore_mismatched_sizes"):
        BertForSequenceClassification.from_pretrained(model)
    report = whyload.check(str(model))
    f = only(report, "WL310")
    assert (f.evidence["field"], f.evidence["config"], f.evidence["weights"]) == \
        ("vocab_size", 120, 99)
    assert f.evidence["tensor"] == "bert.embeddings.word_embeddings.weight"
    assert f.fix == 'set "vocab_size": 99 in config.json'
    assert report.verdict is Verdict.FAILS
    assert "WL404" not in codes(report)  # the config explains the mismatch


def test_num_labels_contradicts_classifier(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    edit_config(model, id2label={"0": "NEG", "1": "POS"}, label2id={"NEG": 0, "POS": 1})
    f = only(whyload.check(str(model)), "WL310")
    assert (f.evidence["field"], f.evidence["config"], f.evidence["weights"]) == \
        ("num_labels", 2, 3)


@pytest.mark.parametrize(("layers", "code"), [(1, "WL311"), (3, "WL312")])
def test_layer_count_contradicts_weights_silently(copy_of: Copy, safetensors_model: Path,
                                                  layers: int, code: str) -> None:
    model = copy_of(safetensors_model)
    edit_config(model, num_hidden_layers=layers)
    info = load_report(model, "BertForSequenceClassification")  # no exception: silent
    assert info["unexpected_keys" if layers == 1 else "missing_keys"]
    report = whyload.check(str(model))
    f = only(report, code)
    assert (f.evidence["config"], f.evidence["weights"]) == (layers, 2)
    assert f.effect is Effect.SILENT and report.verdict is Verdict.LOADS_BROKEN
    assert f.fix == 'set "num_hidden_layers": 2 in config.json'
    assert "WL402" not in codes(report) and "WL403" not in codes(report)


def test_heads_do_not_divide_hidden(copy_of: Copy, safetensors_model: Path) -> None:
    from transformers import BertForSequenceClassification

    model = copy_of(safetensors_model)
    edit_config(model, num_attention_heads=5)
    with pytest.raises(ValueError, match=r"not a multiple of the number of attention heads"):
        BertForSequenceClassification.from_pretrained(model)
    f = only(whyload.check(str(model)), "WL320")
    assert f.evidence == {"hidden_size": 32, "num_attention_heads": 5}


def test_labels_disagree(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    edit_config(model, label2id={"LABEL_0": 0, "LABEL_1": 2, "LABEL_2": 1})
    f = only(whyload.check(str(model)), "WL321")
    assert f.severity is Severity.WARNING and f.evidence["ids"] == ["1", "2"]


def test_tokenizer_larger_than_embeddings(copy_of: Copy, minilm: Path) -> None:
    """Tokens added to the tokenizer without resize_token_embeddings: index out of range."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = copy_of(minilm)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.add_tokens(["<company>", "<product>"])
    tokenizer.save_pretrained(model)
    ids = tokenizer("<company>", return_tensors="pt")
    with pytest.raises(IndexError, match="index out of range"):
        AutoModel.from_pretrained(model)(**ids)
    report = whyload.check(str(model))
    f = only(report, "WL330")
    assert (f.evidence["tokenizer_ids"], f.evidence["embedding_rows"]) == (30524, 30522)
    assert [a["token"] for a in f.evidence["added_beyond"]] == ["<company>", "<product>"]
    assert f.fix == "model.resize_token_embeddings(30524) after loading, then save_pretrained"
    del torch


def test_pad_token_id_beyond_vocabulary(copy_of: Copy, safetensors_model: Path) -> None:
    from transformers import BertForSequenceClassification

    model = copy_of(safetensors_model)
    edit_config(model, pad_token_id=150)
    with pytest.raises((AssertionError, ValueError, RuntimeError, IndexError)):
        BertForSequenceClassification.from_pretrained(model)
    f = only(whyload.check(str(model)), "WL331")
    assert f.severity is Severity.ERROR and f.evidence["value"] == 150


def test_model_max_length_beyond_positions(copy_of: Copy, minilm: Path) -> None:
    model = copy_of(minilm)
    path = model / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["model_max_length"] = 1024
    path.write_text(json.dumps(config))
    f = only(whyload.check(str(model)), "WL332")
    assert f.evidence["usable_positions"] == 512 and f.severity is Severity.WARNING


def test_vocab_txt_is_not_json(minilm: Path) -> None:
    facts = whyload.check(str(minilm)).facts
    kinds = {f["name"]: f["kind"] for f in facts["files"]}
    assert kinds["vocab.txt"] == "text"


def test_config_dtype_differs_from_weights(copy_of: Copy, safetensors_model: Path) -> None:
    import torch
    from transformers import AutoModel

    model = copy_of(safetensors_model)
    edit_config(model, dtype="float16")
    assert next(AutoModel.from_pretrained(model).parameters()).dtype is torch.float16
    report = whyload.check(str(model))
    f = only(report, "WL340")
    assert f.evidence == {"config_dtype": "float16", "weights": ["F32"], "loads_as": "float16"}
    assert report.facts["predicted_peak"]["dtype"] == "float16"


def test_vocab_contradicts_embeddings_for_any_model_type(tmp_path: Path) -> None:
    """GPT-2 saved after resize_token_embeddings, config.json left behind."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

    model = tmp_path / "gpt2"
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1,
                                    n_head=2))
    lm.resize_token_embeddings(56)
    lm.save_pretrained(model)
    edit_config(model, vocab_size=50)
    with pytest.raises(RuntimeError, match=r"size mismatch|ignore_mismatched_sizes"):
        AutoModelForCausalLM.from_pretrained(model)
    report = whyload.check(str(model))
    # the generated GPT-2 spec compares every size (WL310); WL313 covers types it lacks
    f = only(report, "WL310")
    assert (f.evidence["field"], f.evidence["config"], f.evidence["weights"]) == \
        ("vocab_size", 50, 56)
    assert report.verdict is Verdict.FAILS and "WL313" not in codes(report)
    edit_config(model, vocab_size=56)
    assert not {"WL310", "WL313"} & set(codes(whyload.check(str(model))))


def test_vocab_contradicts_embeddings_for_a_type_without_a_spec(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from whyload.knowledge import specs

    monkeypatch.setattr(specs, "type_of_class", lambda *_: None)
    model = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(vocab_size=56, n_positions=16, n_embd=16, n_layer=1,
                               n_head=2)).save_pretrained(model)
    edit_config(model, vocab_size=50)
    f = only(whyload.check(str(model)), "WL313")
    assert (f.evidence["config"], f.evidence["weights"]) == (50, 56)


def test_distilbert_question_answering_needs_two_labels(tmp_path: Path) -> None:
    from conftest import save_tiny
    from transformers import DistilBertForQuestionAnswering

    model = save_tiny(tmp_path / "qa", "DistilBertForQuestionAnswering", "distilbert",
                      vocab_size=61, dim=24, n_layers=2, n_heads=3, hidden_dim=29,
                      max_position_embeddings=33)
    assert "WL322" not in codes(whyload.check(str(model)))
    edit_config(model, id2label={"0": "a", "1": "b", "2": "c"},
                label2id={"a": 0, "b": 1, "c": 2})
    with pytest.raises(ValueError, match="num_labels should be 2"):
        DistilBertForQuestionAnswering.from_pretrained(model)
    f = only(whyload.check(str(model)), "WL322")
    assert f.evidence == {"num_labels": 3}


def test_a_config_too_large_to_be_one_is_named_not_called_invalid(
        tmp_path: Path, safetensors_model: Path) -> None:
    shutil.copy(safetensors_model / "model.safetensors", tmp_path)
    with (tmp_path / "config.json").open("wb") as f:  # sparse in the middle
        f.write(b'{"model_type": "bert", "weights": [')
        f.seek((300 << 20) - 2)
        f.write(b"]}")
    report = whyload.check(str(tmp_path))
    finding = only(report, "WL301")
    assert finding.severity is Severity.ERROR and "too large" in finding.title
    assert finding.evidence["size"] == 300 << 20 and "json.tool" not in finding.fix
    assert report.verdict is Verdict.FAILS


@pytest.mark.parametrize("name", ["tokenizer.json", "tokenizer_config.json"])
def test_a_tokenizer_file_cut_short_is_named(name: str, minilm: Path,
                                              copy_of: Callable[[Path], Path]) -> None:
    folder = copy_of(minilm)
    text = (folder / name).read_bytes()
    (folder / name).write_bytes(text[: len(text) // 2])
    from transformers import AutoTokenizer

    with pytest.raises(Exception):  # noqa: B017 - what the user meets: the tokenizer raises
        AutoTokenizer.from_pretrained(str(folder))
    report = whyload.check(str(folder))
    finding = only(report, "WL352")
    assert finding.severity is Severity.WARNING and finding.file == name
    assert finding.evidence["line"] is not None and report.verdict is Verdict.LOADS


def test_layer_types_must_list_every_layer(tmp_path: Path) -> None:
    """A model pruned by editing num_hidden_layers, with layer_types left: transformers 5 refuses
    the config before it reads a weight."""
    from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM

    model = tmp_path / "qwen2"
    Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=40,
                                 num_hidden_layers=3, num_attention_heads=4,
                                 num_key_value_heads=2)).save_pretrained(model)
    config = json.loads((model / "config.json").read_text())
    assert len(config["layer_types"]) == 3
    config["num_hidden_layers"] = 2
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match=r"must be equal to the number of `layer_types` \(3\)"):
        AutoModelForCausalLM.from_pretrained(model)
    report = whyload.check(str(model))
    f = only(report, "WL314")
    assert f.severity is Severity.ERROR and f.effect is Effect.RAISES
    assert f.evidence == {"field": "layer_types", "num_hidden_layers": 2, "entries": 3}
    assert report.verdict is Verdict.FAILS
    config["num_hidden_layers"] = 3
    config["layer_types"][0] = "global_attention"
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="entries must be in"):
        AutoModelForCausalLM.from_pretrained(model)
    assert only(whyload.check(str(model)), "WL314").evidence["unknown"] == ["global_attention"]


def test_a_per_layer_list_must_follow_the_layer_count(tmp_path: Path) -> None:
    """Longformer keeps an attention window per layer: a layer count edited without it is
    refused by transformers; which lists are per layer comes from the generated specs."""
    from transformers import AutoModel, LongformerConfig, LongformerModel

    model = tmp_path / "longformer"
    LongformerModel(LongformerConfig(vocab_size=64, hidden_size=32, intermediate_size=40,
                                     num_hidden_layers=3, num_attention_heads=4,
                                     attention_window=4, max_position_embeddings=40,
                                     pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                     sep_token_id=2)).save_pretrained(model)
    config = json.loads((model / "config.json").read_text())
    assert config["attention_window"] == [4, 4, 4]
    config["num_hidden_layers"] = 2
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match=r"len\(config.attention_window\)"):
        AutoModel.from_pretrained(model)
    report = whyload.check(str(model))
    f = only(report, "WL315")
    assert f.severity is Severity.ERROR and f.effect is Effect.RAISES
    assert f.evidence == {"field": "attention_window", "entries": 3,
                          "count_field": "num_hidden_layers", "layers": 2}
    assert report.verdict is Verdict.FAILS
