"""The torch-free prediction of from_pretrained's loading report must equal transformers' own,
for every BERT-family type x head class, on healthy and broken checkpoints — so the compact spec
inside whyload cannot drift from the library it describes."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from whyload.knowledge.families import class_spec, families, predict_loading, spec
from whyload.readers.safetensors import read_safetensors_header


# small configs shaped like the real checkpoints of each family (flags included)
def _major(version: str) -> str:
    return version.split(".", 1)[0]


# the spec is generated from one transformers release (scripts/gen_family_spec.py); another major
# release builds other keys (4.x base models keep a pooler): regenerate it for that one
pytestmark = pytest.mark.skipif(
    _major(importlib.metadata.version("transformers")) != _major(spec()["transformers_version"]),
    reason="bert_family.json was generated from another major release of transformers")

CONFIGS: dict[str, dict[str, Any]] = {
    "bert": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                 intermediate_size=29, max_position_embeddings=33, type_vocab_size=2),
    "roberta": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                    intermediate_size=29, max_position_embeddings=34, type_vocab_size=1,
                    pad_token_id=1),
    "xlm-roberta": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=29,
                        max_position_embeddings=34, type_vocab_size=1, pad_token_id=1),
    "camembert": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                      intermediate_size=29, max_position_embeddings=34, type_vocab_size=1,
                      pad_token_id=1),
    "electra": dict(vocab_size=61, embedding_size=16, hidden_size=24, num_hidden_layers=2,
                    num_attention_heads=3, intermediate_size=29, max_position_embeddings=33),
    "albert": dict(vocab_size=61, embedding_size=16, hidden_size=24, num_hidden_layers=2,
                   num_attention_heads=3, intermediate_size=29, max_position_embeddings=33),
    "distilbert": dict(vocab_size=61, dim=24, n_layers=2, n_heads=3, hidden_dim=29,
                       max_position_embeddings=33),
    "deberta": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                    intermediate_size=29, max_position_embeddings=33, relative_attention=True,
                    position_biased_input=False, pos_att_type=["c2p", "p2c"], type_vocab_size=0),
    "deberta-v2": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                       intermediate_size=29, max_position_embeddings=33, relative_attention=True,
                       position_biased_input=False, pos_att_type=["p2c", "c2p"],
                       position_buckets=8, share_att_key=True, norm_rel_ebd="layer_norm",
                       type_vocab_size=0),
    "mpnet": dict(vocab_size=61, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                  intermediate_size=29, max_position_embeddings=34),
}
HEADS = ("Model", "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification",
         "ForQuestionAnswering", "ForMultipleChoice", "ForPreTraining",
         "ForNextSentencePrediction")
CASES = [(mt, name) for mt, fam in families().items() for name, c in fam["classes"].items()
         if c["head"] in HEADS]


def _config(model_type: str, **edits: Any) -> Any:
    from transformers import AutoConfig

    return AutoConfig.for_model(model_type, **{**CONFIGS[model_type], **edits})


@pytest.fixture(scope="session")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One checkpoint per (model_type, class), saved by transformers, made on first use."""
    import torch
    import transformers

    root = tmp_path_factory.mktemp("families")
    made: dict[tuple[str, str], Path] = {}

    def get(model_type: str, class_name: str) -> Path:
        if (model_type, class_name) not in made:
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(_config(model_type))
            out = root / f"{model_type}-{class_name}"
            model.save_pretrained(out)
            made[(model_type, class_name)] = out
        return made[(model_type, class_name)]

    return get


def _checkpoint(folder: Path) -> dict[str, tuple[int, ...]]:
    path = folder / "model.safetensors"
    with path.open("rb") as f:
        header = read_safetensors_header(f, path.stat().st_size)
    return {k: t.shape for k, t in header.tensors.items()}


def _compare(model_type: str, class_name: str, folder: Path) -> None:
    import transformers

    cls = getattr(transformers, class_name)
    _, info = cls.from_pretrained(folder, output_loading_info=True,
                                  ignore_mismatched_sizes=True)
    config = json.loads((folder / "config.json").read_text())
    predicted = predict_loading(class_spec(model_type, class_name, config), _checkpoint(folder))
    assert predicted.missing == set(info["missing_keys"]), "missing keys"
    assert predicted.unexpected == set(info["unexpected_keys"]), "unexpected keys"
    assert set(predicted.mismatched) == {m[0] for m in info["mismatched_keys"]}, "mismatched"


@pytest.mark.parametrize(("model_type", "class_name"), CASES)
def test_healthy_checkpoint_into_its_own_class(saved: Any, model_type: str,
                                               class_name: str) -> None:
    _compare(model_type, class_name, saved(model_type, class_name))


@pytest.mark.parametrize(("model_type", "class_name"), CASES)
def test_base_checkpoint_into_head_class(saved: Any, model_type: str, class_name: str) -> None:
    base = next(n for n, c in families()[model_type]["classes"].items() if c["head"] == "Model")
    _compare(model_type, class_name, saved(model_type, base))


@pytest.mark.parametrize(("model_type", "class_name"), CASES)
def test_head_checkpoint_into_base_class(saved: Any, model_type: str, class_name: str) -> None:
    base = next(n for n, c in families()[model_type]["classes"].items() if c["head"] == "Model")
    _compare(model_type, base, saved(model_type, class_name))


@pytest.mark.parametrize(("model_type", "class_name"), CASES)
def test_masked_lm_checkpoint_into_each_head(saved: Any, model_type: str,
                                             class_name: str) -> None:
    mlm = next(n for n, c in families()[model_type]["classes"].items()
               if c["head"] == "ForMaskedLM")
    _compare(model_type, class_name, saved(model_type, mlm))


def _edited(src: Path, dst: Path, **edits: Any) -> Path:
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config.update(edits)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


@pytest.mark.parametrize("model_type", sorted(CONFIGS))
def test_config_contradicts_weights(saved: Any, tmp_path: Path, model_type: str) -> None:
    """vocab_size off by 3 (shape mismatch), and one layer fewer / more (silently dropped or
    random) — predicted exactly as transformers reports them."""
    cls = next(n for n, c in families()[model_type]["classes"].items()
               if c["head"] == "ForSequenceClassification")
    src = saved(model_type, cls)
    layers = "n_layers" if model_type == "distilbert" else "num_hidden_layers"
    for name, edits in (("vocab", {"vocab_size": 64}), ("fewer", {layers: 1}),
                        ("more", {layers: 3})):
        _compare(model_type, cls, _edited(src, tmp_path / name, **edits))


@pytest.mark.parametrize("model_type", sorted(CONFIGS))
def test_tied_weights_kept_on_either_side(saved: Any, tmp_path: Path, model_type: str) -> None:
    """A conversion that deduplicated shared tensors may keep either copy: transformers refills
    the other from it; whichever copy was dropped, the prediction must agree."""
    from safetensors.numpy import load_file, save_file

    mlm = next(n for n, c in families()[model_type]["classes"].items()
               if c["head"] == "ForMaskedLM")
    src = saved(model_type, mlm)
    tied = families()[model_type]["classes"][mlm]["tied"]
    for n, (target, source) in enumerate(tied.items()):
        out = tmp_path / f"drop-{n}"
        shutil.copytree(src, out)
        tensors = load_file(str(out / "model.safetensors"))
        if target not in tensors:  # the writer already dropped the tied copy: drop the source
            tensors[target] = tensors[source]
        tensors.pop(source, None)
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        _compare(model_type, mlm, out)


@pytest.mark.parametrize("model_type", ["deberta", "deberta-v2"])
@pytest.mark.parametrize("pos_att_type", [["c2p"], ["p2c"], None, "p2c|c2p"])
def test_deberta_position_attention_variants(tmp_path: Path, model_type: str,
                                             pos_att_type: Any) -> None:
    """pos_att_type decides which position projections exist (old configs write a string)."""
    import torch
    import transformers

    config = _config(model_type, pos_att_type=pos_att_type, share_att_key=False)
    cls = "DebertaV2Model" if model_type == "deberta-v2" else "DebertaModel"
    torch.manual_seed(0)
    getattr(transformers, cls)(config).save_pretrained(tmp_path / "m")
    _compare(model_type, cls, tmp_path / "m")
