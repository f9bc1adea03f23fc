"""Generate src/whyload/knowledge/bert_family.json from the installed transformers.

For each BERT-family model type and head class, build the model on the meta device with a config
whose dimensions are pairwise distinct, and record every state-dict key with its shape written in
config symbols (`encoder.layer.{i}.attention.self.query.weight: [hidden_size, hidden_size]`),
the base_model_prefix, the tied weights and the ignore patterns. `check` then predicts expected
keys and shapes for any config without importing torch; tests/test_architecture.py proves the
prediction equals transformers' own loading report.

    .venv/bin/python scripts/gen_family_spec.py
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src/whyload/knowledge/bert_family.json"

HEADS = ("Model", "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification",
         "ForQuestionAnswering", "ForMultipleChoice", "ForPreTraining", "ForCausalLM",
         "LMHeadModel", "ForNextSentencePrediction")

# model_type -> (class prefix, config overrides with pairwise-distinct sizes)
# sizes are pairwise distinct and never 2, 3 or 4, so a dimension of 2 (NSP's two classes) or
# 3 x hidden (a fused projection) cannot be mistaken for a config field
COMMON = dict(vocab_size=53, hidden_size=30, num_hidden_layers=7, num_attention_heads=5,
              intermediate_size=37, max_position_embeddings=41, type_vocab_size=11,
              num_labels=13)
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "bert": ("Bert", COMMON),
    "roberta": ("Roberta", COMMON),
    "xlm-roberta": ("XLMRoberta", COMMON),
    "camembert": ("Camembert", COMMON),
    "electra": ("Electra", {**COMMON, "embedding_size": 14}),
    "albert": ("Albert", {**COMMON, "embedding_size": 14, "num_hidden_groups": 9,
                          "inner_group_num": 6}),
    "distilbert": ("DistilBert", dict(vocab_size=53, dim=30, n_layers=7, n_heads=5,
                                      hidden_dim=37, max_position_embeddings=41, num_labels=13)),
    "deberta": ("Deberta", {**COMMON, "relative_attention": True, "max_relative_positions": 19}),
    "deberta-v2": ("DebertaV2", {**COMMON, "relative_attention": True, "position_buckets": 23,
                                 "max_relative_positions": -1, "norm_rel_ebd": "layer_norm"}),
    "mpnet": ("MPNet", {**COMMON, "relative_attention_num_buckets": 17}),
}
# config switches that add or remove weights: (attribute, operator, operand). Every combination is
# built; each key records the combinations it appears in (a bit mask over them).
_DEBERTA = [("relative_attention", "is", True), ("position_biased_input", "is", True),
            ("type_vocab_size", ">", 0), ("pos_att_type", "contains", "c2p"),
            ("pos_att_type", "contains", "p2c")]
FLAGS: dict[str, list[tuple[str, str, Any]]] = {
    "electra": [("embedding_size", "==attr", "hidden_size")],
    "deberta": _DEBERTA,
    "deberta-v2": [*_DEBERTA, ("share_att_key", "is", True), ("conv_kernel_size", ">", 0),
                   ("norm_rel_ebd", "contains", "layer_norm"),
                   ("embedding_size", "==attr", "hidden_size")],
}
# the value each flag takes when on / off in the generated configs
FLAG_VALUES: dict[tuple[str, str, Any], tuple[Any, Any]] = {
    ("embedding_size", "==attr", "hidden_size"): (None, 14),  # None: set equal to hidden_size
    ("type_vocab_size", ">", 0): (11, 0),
    ("conv_kernel_size", ">", 0): (3, 0),
    ("norm_rel_ebd", "contains", "layer_norm"): ("layer_norm", "none"),
}
PREFERRED = ("hidden_size", "dim", "vocab_size", "intermediate_size", "hidden_dim",
             "max_position_embeddings", "type_vocab_size", "num_attention_heads", "n_heads")
# attributes that count repeated blocks, in the order to prefer when values tie
COUNTS = ("num_hidden_layers", "n_layers", "num_hidden_groups", "inner_group_num")


def symbols(config: Any) -> dict[int, str]:
    """value -> the config attribute that holds it (sizes are chosen so values are unique)."""
    out: dict[int, str] = {}
    items = config.to_dict()
    ordered = [k for k in PREFERRED if k in items] + sorted(k for k in items if k not in PREFERRED)
    for key, value in ((k, items[k]) for k in ordered):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 1:
            continue
        if key.endswith(("_id", "_ids")):  # token ids are no sizes (RoBERTa's eos_token_id is 2)
            continue
        out.setdefault(value, key)
    out.setdefault(config.num_labels, "num_labels")  # derived from id2label, not in to_dict()
    return out


def dim_expr(value: int, table: dict[int, str | int]) -> str | int:
    if value in table:
        return table[value]
    for k in (2, 3, 4):  # fused projections (DeBERTa's in_proj: 3 x hidden), relative spans
        if value % k == 0 and value // k in table:
            return f"{k}*{table[value // k]}"
    if value in (0, 1, 2, 3, 4):
        return value  # small constants: NSP's 2 classes, QA's start/end, ...
    for a, na in table.items():
        for b, nb in table.items():
            if a * b == value:
                return f"{na}*{nb}"
    raise ValueError(f"cannot express dimension {value} in config symbols")


def evaluate(shape: list[str | int], config: Any) -> list[int]:
    def value(expr: str | int) -> int:
        if isinstance(expr, int):
            return expr
        out = 1
        for factor in expr.split("*"):
            out *= int(factor) if factor.isdigit() else int(getattr(config, factor))
        return out

    return [value(d) for d in shape]


def template(key: str, config: Any) -> tuple[str, dict[str, str]]:
    """Replace block indexes by named counters: encoder.layer.2.x -> encoder.layer.{i}.x."""
    counters: dict[str, str] = {}
    parts = key.split(".")
    names = iter("ijkl")
    for n, part in enumerate(parts):
        if part.isdigit():
            name = next(names)
            parts[n] = "{" + name + "}"
            counters[name] = ".".join(parts[:n])
    return ".".join(parts), counters


def variants(model_type: str, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Every on/off combination of the family's flags, as config overrides; bit k = flag k on."""
    flags = FLAGS.get(model_type, [])
    out = []
    for index in range(1 << len(flags)):
        cfg = dict(overrides)
        for k, flag in enumerate(flags):
            on = bool(index >> k & 1)
            attr = flag[0]
            if flag in FLAG_VALUES:
                value = FLAG_VALUES[flag][0 if on else 1]
                cfg[attr] = cfg["hidden_size"] if value is None else value
            elif flag[1] == "contains":  # list-valued: each flag adds its item
                items = cfg[attr] if isinstance(cfg.get(attr), list) and k and \
                    flags[k - 1][0] == attr else []
                cfg[attr] = [*items, flag[2]] if on else items
            else:
                cfg[attr] = on
        out.append(cfg)
    return out


def build(cls: Any, config_cls: Any, overrides: dict[str, Any]) -> tuple[Any, Any]:
    import torch

    with torch.device("meta"):
        return (cls(config_cls(**overrides)),
                cls(config_cls(**overrides, tie_word_embeddings=False)))


def describe(model_type: str, prefix: str, overrides: dict[str, Any]) -> dict[str, Any]:
    import transformers

    config_cls = getattr(transformers, f"{prefix}Config")
    configs = variants(model_type, overrides)
    classes: dict[str, Any] = {}
    for head in HEADS:
        name = f"{prefix}{head}"
        cls = getattr(transformers, name, None)
        if cls is None:
            continue
        keys: dict[str, list[str | int]] = {}
        masks: dict[str, int] = {}
        counts: dict[str, str] = {}
        first: Any = None
        # variants whose sizes are all distinct first, so shapes get their most specific names
        same = [k for k, f in enumerate(FLAGS.get(model_type, [])) if f[1] == "==attr"]
        order = sorted(range(len(configs)), key=lambda i: sum(i >> k & 1 for k in same))
        for index in order:
            cfg = configs[index]
            table = symbols(config_cls(**cfg))
            try:
                model, untied = build(cls, config_cls, cfg)
            except ValueError:  # DistilBertForQuestionAnswering insists on num_labels == 2
                cfg = {**cfg, "num_labels": 2}
                model, untied = build(cls, config_cls, cfg)
                table = {**symbols(config_cls(**cfg)), 2: 2}  # type: ignore[dict-item]
            first = first or (model, untied)
            highest: dict[str, int] = {}  # templated path of a block list -> highest index
            for key, tensor in model.state_dict().items():
                tmpl, counters = template(key, model.config)
                shape = [dim_expr(int(d), table) for d in tensor.shape]
                if tmpl in keys and keys[tmpl] != shape:
                    if evaluate(keys[tmpl], model.config) != list(tensor.shape):
                        raise ValueError(f"{name}: {tmpl} has shapes {keys[tmpl]} and {shape}")
                else:
                    keys[tmpl] = shape
                masks[tmpl] = masks.get(tmpl, 0) | (1 << index)
                raw = key.split(".")
                for path in counters.values():
                    highest[path] = max(highest.get(path, -1), int(raw[len(path.split("."))]))
            for path, top in highest.items():
                attr = next((a for a in COUNTS if getattr(model.config, a, None) == top + 1),
                            None)
                if attr is None:
                    raise ValueError(f"{name}: cannot tell what counts {path} ({top + 1})")
                counts[path] = attr
        model, untied = first
        every = (1 << len(configs)) - 1
        tied = dict(getattr(model, "all_tied_weights_keys", None) or {})
        tied_untied = dict(getattr(untied, "all_tied_weights_keys", None) or {})
        classes[name] = {
            "head": head,
            "base_model_prefix": model.base_model_prefix,
            "keys": keys,
            "when": {k: m for k, m in masks.items() if m != every},
            "counts": counts,
            "tied": tied,
            "tied_with_embeddings": sorted(set(tied) - set(tied_untied)),
            "ignore_missing": sorted(model._keys_to_ignore_on_load_missing or []),
            "ignore_unexpected": sorted(model._keys_to_ignore_on_load_unexpected or []),
            "buffers": sorted(n for n, _ in model.named_buffers()),
        }
    defaults = config_cls().to_dict()
    for alias, real in (getattr(config_cls, "attribute_map", {}) or {}).items():
        defaults.setdefault(alias, defaults.get(real))
    flags = FLAGS.get(model_type, [])
    used = sorted({s for c in classes.values() for shape in c["keys"].values() for d in shape
                   if isinstance(d, str) for s in re.findall(r"[a-z_]+", d)}
                  | {a for c in classes.values() for a in c["counts"].values()}
                  | {f[0] for f in flags} | {f[2] for f in flags if f[1] == "==attr"})
    return {
        "config_class": config_cls.__name__,
        "defaults": {k: defaults.get(k) for k in used},
        "flags": [list(f) for f in flags],
        "aliases": dict(getattr(config_cls, "attribute_map", {}) or {}),
        "classes": classes,
    }


def main() -> None:
    import transformers

    spec = {"transformers_version": transformers.__version__,
            "families": {mt: describe(mt, p, o) for mt, (p, o) in FAMILIES.items()}}
    OUT.write_text(json.dumps(spec, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)", file=sys.stderr)


if __name__ == "__main__":
    importlib.import_module("transformers")
    main()
