"""Expected weights of BERT-family classes, from the spec generated out of transformers itself
(bert_family.json, written by scripts/gen_family_spec.py), and what from_pretrained does when a
checkpoint meets them — predicted without torch.

The prediction follows transformers 5's loader: legacy renames (LayerNorm.gamma/beta), then per
key the base_model_prefix is stripped or added when that makes it a key of the model, then the
key sets are compared; tied weights, position_ids buffers and the class's ignore patterns are not
reported.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

LEGACY_RENAMES = (("LayerNorm.gamma", "LayerNorm.weight"), ("LayerNorm.beta", "LayerNorm.bias"))

# defaults that the modeling code applies with getattr(config, name, default), not the config class
MODELING_DEFAULTS: dict[str, dict[str, Any]] = {
    "deberta": {"max_relative_positions": -1, "position_biased_input": True,
                "relative_attention": False},
    "deberta-v2": {"position_buckets": -1, "share_att_key": False, "conv_kernel_size": 0,
                   "norm_rel_ebd": "none", "max_relative_positions": -1,
                   "relative_attention": False, "position_biased_input": True},
}


@functools.cache
def spec() -> dict[str, Any]:
    text = resources.files("whyload.knowledge").joinpath("bert_family.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def families() -> dict[str, Any]:
    return spec()["families"]  # type: ignore[no-any-return]


def family_of_class(class_name: str) -> str | None:
    return next((mt for mt, fam in families().items() if class_name in fam["classes"]), None)


def effective_config(model_type: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config values the modeling code really uses: class defaults, getattr defaults, and
    the few sizes it derives (DeBERTa's attention span, embedding_size defaulting to hidden)."""
    fam = families()[model_type]
    values: dict[str, Any] = {k: v for k, v in fam["defaults"].items() if v is not None}
    values.update(MODELING_DEFAULTS.get(model_type, {}))
    values.update({k: v for k, v in config.items() if v is not None})
    for alias, real in fam.get("aliases", {}).items():  # DistilBERT: num_hidden_layers -> n_layers
        if real in values:
            values[alias] = values[real]
    if "num_labels" not in config or config.get("num_labels") is None:
        id2label = config.get("id2label")
        values["num_labels"] = len(id2label) if isinstance(id2label, dict) and id2label else 2
    if model_type in ("deberta", "deberta-v2"):
        span = values.get("max_relative_positions", -1)
        if not isinstance(span, int) or span < 1:
            span = values["max_position_embeddings"]
        buckets = values.get("position_buckets", -1)
        values["max_relative_positions"] = span
        values["position_buckets"] = buckets if isinstance(buckets, int) and buckets > 0 else span
        if values.get("embedding_size") is None:
            values["embedding_size"] = values["hidden_size"]
    return values


def _flag_on(flag: list[Any], values: Mapping[str, Any]) -> bool:
    attr, op, operand = flag
    value = values.get(attr)
    if op == "is":
        return bool(value) is operand
    if op == ">":
        return isinstance(value, (int, float)) and value > operand
    if op == "contains":
        return isinstance(value, str) and operand in value or (
            isinstance(value, list) and operand in value)
    if op == "==attr":
        return bool(value == values.get(operand))
    raise ValueError(f"unknown flag operator {op}")


def _dim(expr: str | int, values: Mapping[str, Any]) -> int:
    if isinstance(expr, int):
        return expr
    out = 1
    for factor in expr.split("*"):
        out *= int(factor) if factor.isdigit() else int(values[factor])
    return out


def expected_weights(model_type: str, class_name: str,
                     config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of `class_name` built from `config`, with its shape."""
    fam = families()[model_type]
    cls = fam["classes"][class_name]
    values = effective_config(model_type, config)
    variant = sum(1 << k for k, flag in enumerate(fam["flags"]) if _flag_on(flag, values))
    out: dict[str, tuple[int, ...]] = {}
    for template, shape in cls["keys"].items():
        mask = cls["when"].get(template)
        if mask is not None and not mask >> variant & 1:
            continue
        dims = tuple(_dim(d, values) for d in shape)
        for key in _expand(template, cls["counts"], values):
            out[key] = dims
    return out


def _expand(template: str, counts: Mapping[str, str], values: Mapping[str, Any]) -> list[str]:
    if "{" not in template:
        return [template]
    head, _, rest = template.partition("{")
    name, _, tail = rest.partition("}")
    path = head.rstrip(".")
    n = int(values.get(counts.get(path, ""), 0) or 0)
    return [key for i in range(n)
            for key in _expand(f"{head}{i}{tail}", _rebase(counts, path, name, i), values)]


def _rebase(counts: Mapping[str, str], path: str, name: str, i: int) -> dict[str, str]:
    """Counters nested under an expanded one keep their attribute: a.{i}.b -> a.3.b."""
    token = f"{path}.{{{name}}}"
    return {k.replace(token, f"{path}.{i}"): v for k, v in counts.items()}


@dataclass(frozen=True)
class LoadingPrediction:
    """What from_pretrained(output_loading_info=True) would report."""

    class_name: str
    missing: frozenset[str] = frozenset()
    unexpected: frozenset[str] = frozenset()
    mismatched: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=dict)  # key -> (checkpoint shape, model shape)
    renamed: Mapping[str, str] = field(default_factory=dict)  # checkpoint key -> model key
    expected: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


def predict_loading(model_type: str, class_name: str, config: Mapping[str, Any],
                    checkpoint: Mapping[str, tuple[int, ...]]) -> LoadingPrediction:
    fam = families()[model_type]
    cls = fam["classes"][class_name]
    expected = expected_weights(model_type, class_name, config)
    prefix = cls["base_model_prefix"]
    strip = re.compile(f"^{re.escape(prefix)}.") if prefix else None
    loaded: dict[str, tuple[int, ...]] = {}
    renamed: dict[str, str] = {}
    for key, shape in checkpoint.items():
        new = key
        for old, replacement in LEGACY_RENAMES:
            new = new.replace(old, replacement)
        if strip is not None:
            if new.startswith(prefix) and strip.sub("", new, count=1) in expected:
                new = strip.sub("", new, count=1)
            elif f"{prefix}.{new}" in expected:
                new = f"{prefix}.{new}"
        if new != key:
            renamed[key] = new
        loaded[new] = shape
    missing = set(expected) - set(loaded)
    unexpected = set(loaded) - set(expected)
    mismatched = {k: (loaded[k], expected[k]) for k in set(expected) & set(loaded)
                  if tuple(loaded[k]) != tuple(expected[k])}
    tied = dict(cls["tied"])
    untied = set(cls["tied_with_embeddings"]) if config.get("tie_word_embeddings") is False \
        else set()
    # a tied weight is filled from its source, when the checkpoint has the source
    missing = {k for k in missing if k not in tied or k in untied or tied[k] in missing}
    ignore_missing = _pattern(cls["ignore_missing"])
    ignore_unexpected = _pattern([*cls["ignore_unexpected"],
                                  *([r"(^|\.)position_ids$"] if any(
                                      b.endswith("position_ids") for b in cls["buffers"]) else [])])
    if ignore_missing:
        missing = {k for k in missing if not ignore_missing.search(k)}
    if ignore_unexpected:
        unexpected = {k for k in unexpected if not ignore_unexpected.search(k)}
    return LoadingPrediction(class_name, frozenset(missing), frozenset(unexpected), mismatched,
                             renamed, expected)


def _pattern(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"({p})" for p in patterns)) if patterns else None
