"""The specs generated from transformers (knowledge/specs/) against transformers itself: for
tiny configs that differ from every point the generator built, each class's predicted keys and
shapes equal the state dict of the model transformers builds, and the renames transformers
applies on load are applied the same way."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from whyload.knowledge import specs

VERSION = specs.version_for(None)
INSTALLED = importlib.metadata.version("transformers")
same_version = pytest.mark.skipif(
    VERSION != INSTALLED,
    reason=f"the shipped specs describe transformers {VERSION}, {INSTALLED} is installed")

# a config point no generator run built: odd sizes, three layers, grouped KV heads
POINTS: dict[str, dict[str, object]] = {
    "llama": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                  num_attention_heads=6, num_key_value_heads=2),
    "mistral": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                    num_attention_heads=6, num_key_value_heads=3, head_dim=10),
    "qwen2": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                  num_attention_heads=6, num_key_value_heads=2),
    "qwen3_moe": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                      num_attention_heads=6, num_key_value_heads=2, num_experts=5,
                      moe_intermediate_size=20, head_dim=12),
    "mixtral": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                    num_attention_heads=6, num_key_value_heads=2, num_local_experts=5),
    "gemma2": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                   num_attention_heads=6, num_key_value_heads=2, head_dim=16),
    "phi3": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                 num_attention_heads=6, num_key_value_heads=2, pad_token_id=0, bos_token_id=1,
                 eos_token_id=2),
    "gpt2": dict(vocab_size=97, n_embd=48, n_layer=3, n_head=6, n_positions=40),
    "gpt_neox": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                     num_attention_heads=6),
    "opt": dict(vocab_size=97, hidden_size=48, ffn_dim=52, num_hidden_layers=3,
                num_attention_heads=6, max_position_embeddings=40, word_embed_proj_dim=48),
    "falcon": dict(vocab_size=97, hidden_size=48, num_hidden_layers=3, num_attention_heads=6),
    "bloom": dict(vocab_size=97, hidden_size=48, n_layer=3, n_head=6),
    "t5": dict(vocab_size=97, d_model=48, d_ff=52, num_layers=3, num_decoder_layers=2,
               num_heads=6, d_kv=10),
    "bart": dict(vocab_size=97, d_model=48, encoder_ffn_dim=52, decoder_ffn_dim=44,
                 encoder_layers=3, decoder_layers=2, encoder_attention_heads=6,
                 decoder_attention_heads=4, max_position_embeddings=40),
    "whisper": dict(vocab_size=97, d_model=48, encoder_ffn_dim=52, decoder_ffn_dim=44,
                    encoder_layers=3, decoder_layers=2, encoder_attention_heads=6,
                    decoder_attention_heads=4, num_mel_bins=20, max_source_positions=30,
                    max_target_positions=40, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                    decoder_start_token_id=3),
    "vit": dict(hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                num_attention_heads=6, image_size=32, patch_size=8, num_labels=7),
    "bert": dict(vocab_size=97, hidden_size=48, intermediate_size=52, num_hidden_layers=3,
                 num_attention_heads=6, max_position_embeddings=40, num_labels=7),
    "modernbert": dict(vocab_size=97, hidden_size=48, intermediate_size=52,
                       num_hidden_layers=3, num_attention_heads=6, num_labels=7,
                       pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1,
                       sep_token_id=2),
}


def _classes(model_type: str) -> list[str]:
    return specs.index(VERSION or "")["types"].get(model_type, [])


CASES = [(mt, c) for mt in POINTS for c in (_classes(mt) if VERSION else [])]


def test_every_spec_says_where_it_came_from() -> None:
    assert VERSION is not None
    index = specs.index(VERSION)
    assert index["schema"] == specs.SCHEMA
    assert index["script"] == "scripts/gen_arch_specs.py"
    assert index["transformers_version"] == VERSION and index["torch_version"]
    assert len(index["types"]) >= 60
    # at least the architectures people load most
    for model_type in ("llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma", "gemma2",
                       "phi3", "gpt2", "gpt_neox", "falcon", "opt", "bloom", "t5", "bart",
                       "whisper", "vit", "clip", "modernbert", "bert"):
        assert model_type in index["types"], model_type


@same_version
@pytest.mark.parametrize(("model_type", "class_name"), CASES)
def test_predicted_keys_equal_the_model_transformers_builds(model_type: str,
                                                            class_name: str) -> None:
    import torch
    import transformers
    from transformers import CONFIG_MAPPING

    config = CONFIG_MAPPING[model_type](**POINTS[model_type])
    saved = json.loads(config.to_json_string())  # what save_pretrained writes
    with torch.device("meta"):
        model = getattr(transformers, class_name)(config)
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = specs.expected(VERSION or "", model_type, class_name, saved)
    assert found is not None
    assert not found.unmodeled
    import re

    uncertain = re.compile("|".join(found.uncertain)) if found.uncertain else None
    predicted = {k: v for k, v in found.keys.items() if not (uncertain and uncertain.search(k))}
    actual_sure = {k: v for k, v in actual.items() if not (uncertain and uncertain.search(k))}
    assert set(predicted) == set(actual_sure)
    wrong = {k: (predicted[k], actual[k]) for k in predicted
             if len(predicted[k]) != len(actual[k]) or
             any(p is not None and p != a for p, a in zip(predicted[k], actual[k], strict=True))}
    assert not wrong
    checked = sum(d is not None for shape in predicted.values() for d in shape)
    total = sum(len(shape) for shape in predicted.values())
    assert checked >= 0.9 * total  # formulas were found for nearly every dimension


@same_version
def test_a_module_choosing_value_never_explored_leaves_which_keys_exist_open() -> None:
    """T5 v1.1's feed_forward_proj "gated-gelu" is a value the generator did not build: the keys
    that exist are not claimed (so none is reported missing or unused), the shapes still are."""
    config = {"model_type": "t5", "d_model": 48, "d_ff": 52, "num_layers": 2, "num_heads": 6,
              "d_kv": 8, "vocab_size": 97, "feed_forward_proj": "gated-gelu"}
    found = specs.expected(VERSION or "", "t5", "T5ForConditionalGeneration", config)
    assert found is not None and found.unmodeled["feed_forward_proj"] == "gated-gelu"
    assert found.uncertain == (".*",)
    assert found.keys["shared.weight"] == (97, 48)


@same_version
def test_a_size_field_the_config_class_lacks_stops_the_prediction() -> None:
    """Qwen3-MoE's modeling code reads head_dim with getattr; a field of that kind the spec never
    saw could size any weight, so nothing is predicted rather than a false mismatch."""
    config = {"model_type": "llama", "hidden_size": 48, "num_attention_heads": 6,
              "num_hidden_layers": 2, "vocab_size": 97, "intermediate_size": 52,
              "kv_lora_rank": 16}
    with pytest.raises(specs.Unpredictable, match="kv_lora_rank"):
        specs.expected(VERSION or "", "llama", "LlamaForCausalLM", config)


@pytest.mark.parametrize(("expr", "values", "want"), [
    ("hidden_size", {"hidden_size": 48}, 48),
    ("head_dim*num_key_value_heads", {"head_dim": 8, "num_key_value_heads": 3}, 24),
    ("hidden_size/num_attention_heads", {"hidden_size": 50, "num_attention_heads": 6}, 8),
    ("2*intermediate_size", {"intermediate_size": 7}, 14),
    ("max_position_embeddings+2", {"max_position_embeddings": 40}, 42),
    ("vocab_size-1", {"vocab_size": 40}, 39),
    (3, {}, 3),
    ("missing_field", {}, None),
    ("a/b", {"a": 4, "b": 0}, None),
    ("a", {"a": True}, None),
])
def test_formulas_evaluate_like_the_modeling_code(expr: str | int,
                                                  values: dict[str, object],
                                                  want: int | None) -> None:
    assert specs.evaluate(expr, values) == want


@same_version
def test_renames_on_load_are_transformers_own() -> None:
    """Mixtral's checkpoint format (block_sparse_moe.experts.N.w1) is converted on load: the
    renamed key is the one transformers' rename_source_key gives."""
    import torch
    from transformers import MixtralConfig, MixtralForCausalLM
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, rename_source_key

    with torch.device("meta"):
        model = MixtralForCausalLM(MixtralConfig(num_hidden_layers=1, num_local_experts=2))
    mapping = get_model_conversion_mapping(model, add_legacy=True)
    renamings = [t for t in mapping if not isinstance(t, WeightConverter)]
    converters = [t for t in mapping if isinstance(t, WeightConverter)]
    conversions = specs.type_spec(VERSION or "", "mixtral")["classes"]["MixtralForCausalLM"][
        "conversions"]
    for key in ("model.layers.0.block_sparse_moe.experts.1.w1.weight",
                "model.layers.0.block_sparse_moe.experts.0.w2.weight",
                "model.layers.0.block_sparse_moe.gate.weight",
                "model.layers.0.self_attn.q_proj.weight",
                "model.embed_tokens.weight", "bert.LayerNorm.gamma"):
        want, pattern = rename_source_key(key, renamings, converters)
        got, converted = specs.rename(key, conversions)
        assert got == want and (converted is not None) == (pattern is not None), key


def test_a_release_without_specs_uses_the_nearest_older_one(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(specs, "versions", lambda: ("5.0.0", "5.25.0"))
    assert specs.version_for("5.25.0") == "5.25.0"
    assert specs.version_for("5.30.1") == "5.25.0"
    assert specs.version_for("5.3.0") == "5.0.0"
    assert specs.version_for("4.57.0") == "5.0.0"
    assert specs.version_for(None) == "5.25.0"
