"""Expected weights of BERT-family classes, from the spec generated out of transformers itself
(bert_family.json, written by scripts/gen_family_spec.py), and what from_pretrained does when a
checkpoint meets any class's expectation (`ClassSpec`: this spec, the generated specs of every
architecture in knowledge/specs.py, or --deep) — predicted without torch.

The prediction follows transformers 5's loader: its renames (the class's conversion mapping when
the spec has one: legacy names, stacked experts, fused projections; else LayerNorm.gamma/beta),
then per key the base_model_prefix is stripped or added when that makes it a key of the model,
then the key sets are compared; tied weights, position_ids buffers, the class's ignore patterns
and the keys the spec leaves open are not reported.
"""

from __future__ import annotations

import functools
import itertools
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
        return (isinstance(value, str) and operand in value) or (
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
    values = effective_config(model_type, config)
    variant = sum(1 << k for k, flag in enumerate(fam["flags"]) if _flag_on(flag, values))
    out: dict[str, tuple[int, ...]] = {}
    for fmt, counters, shape, mask in _compiled(model_type, class_name):
        if mask is not None and not mask >> variant & 1:
            continue
        dims = tuple(_dim(d, values) for d in shape)
        ranges = [range(int(values.get(attr) or 0)) for attr in counters]
        for indexes in itertools.product(*ranges):
            out[fmt.format(*indexes)] = dims
    return out


@functools.cache
def _compiled(model_type: str, class_name: str) -> list[tuple[str, list[str], list[Any],
                                                                int | None]]:
    """The class's key templates as format strings with the attribute counting each block:
    'encoder.layer.{i}.x' -> ('encoder.layer.{0}.x', ['num_hidden_layers'], shape, mask)."""
    cls = families()[model_type]["classes"][class_name]
    out = []
    for template, shape in cls["keys"].items():
        counters, original = [], template.split(".")
        parts = list(original)
        for n, part in enumerate(original):
            if part.startswith("{"):
                counters.append(cls["counts"].get(".".join(original[:n]), ""))
                parts[n] = "{" + str(len(counters) - 1) + "}"
        out.append((".".join(parts), counters, shape, cls["when"].get(template)))
    return out


@dataclass(frozen=True)
class LoadingPrediction:
    """What from_pretrained(output_loading_info=True) would report."""

    class_name: str
    missing: frozenset[str] = frozenset()
    unexpected: frozenset[str] = frozenset()
    mismatched: Mapping[str, tuple[tuple[int, ...], tuple[int | None, ...]]] = field(
        default_factory=dict)  # key -> (checkpoint shape, model shape)
    renamed: Mapping[str, str] = field(default_factory=dict)  # checkpoint key -> model key
    expected: Mapping[str, tuple[int | None, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassSpec:
    """What one model class expects from a checkpoint, for one config: from the BERT-family
    spec (`class_spec`), the specs of every architecture (`whyload.knowledge.specs`), or from
    transformers itself on the meta device (`whyload.probe.meta`)."""

    name: str
    base_model_prefix: str
    expected: Mapping[str, tuple[int | None, ...]]  # None: a dimension that is not checked
    tied: Mapping[str, str] = field(default_factory=dict)  # tied key -> the key it copies
    ignore_missing: tuple[str, ...] = ()
    ignore_unexpected: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()
    renames_on_load: bool = False  # transformers converts keys and `conversions` is unknown
    conversions: tuple[Mapping[str, Any], ...] = ()  # transformers' renames, as specs.rename reads
    uncertain: tuple[str, ...] = ()  # regexes: keys whose presence is not predicted
    source: str = ""  # where the expectation comes from, for evidence
    head: frozenset[str] | None = None  # the expected keys outside the base model (None: unknown)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base_model_prefix": self.base_model_prefix,
                "expected": {k: list(v) for k, v in self.expected.items()},
                "tied": dict(self.tied), "ignore_missing": list(self.ignore_missing),
                "ignore_unexpected": list(self.ignore_unexpected), "buffers": list(self.buffers),
                "renames_on_load": self.renames_on_load,
                "conversions": [dict(c) for c in self.conversions],
                "uncertain": list(self.uncertain), "source": self.source,
                "head": sorted(self.head) if self.head is not None else None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClassSpec:
        return cls(str(d["name"]), str(d["base_model_prefix"]),
                   {k: tuple(v) for k, v in d["expected"].items()}, dict(d["tied"]),
                   tuple(d["ignore_missing"]), tuple(d["ignore_unexpected"]),
                   tuple(d["buffers"]), bool(d.get("renames_on_load")),
                   tuple(d.get("conversions", ())), tuple(d.get("uncertain", ())),
                   str(d.get("source", "")),
                   frozenset(d["head"]) if d.get("head") is not None else None)


def class_spec(model_type: str, class_name: str, config: Mapping[str, Any]) -> ClassSpec:
    cls = families()[model_type]["classes"][class_name]
    tied = dict(cls["tied"])
    if config.get("tie_word_embeddings") is False:  # the decoder is its own weight then
        for key in cls["tied_with_embeddings"]:
            tied.pop(key, None)
    return ClassSpec(class_name, cls["base_model_prefix"],
                     expected_weights(model_type, class_name, config), tied,
                     tuple(cls["ignore_missing"]), tuple(cls["ignore_unexpected"]),
                     tuple(cls["buffers"]))


def predict_loading(spec: ClassSpec,
                    checkpoint: Mapping[str, tuple[int, ...]]) -> LoadingPrediction:
    from whyload.knowledge.specs import converted_shape, rename

    expected = spec.expected
    prefix = spec.base_model_prefix
    loaded: dict[str, tuple[int, ...]] = {}
    renamed: dict[str, str] = {}
    # keys a converter builds from several checkpoint tensors: converter, source pattern, shapes
    merged: dict[str, tuple[int, dict[int, list[tuple[int, ...]]]]] = {}
    also: dict[str, tuple[int, ...]] = {}
    for key, shape in checkpoint.items():
        new = key
        converted = None
        if spec.conversions:
            new, converted = rename(new, list(spec.conversions))
        elif "LayerNorm.gamma" in new or "LayerNorm.beta" in new:
            for old, replacement in LEGACY_RENAMES:
                new = new.replace(old, replacement)
        # transformers strips "prefix" plus any one character ("^prefix." as a regex)
        new = _prefixed(new, prefix, expected)
        if new != key:
            renamed[key] = new
        loaded[new] = shape
        if converted is not None:
            entry = merged.setdefault(new, (converted.converter, {}))
            entry[1].setdefault(converted.source, []).append(tuple(shape))
            for other in converted.also:  # split out of this tensor: present, shape unknown
                also[_prefixed(other, prefix, expected)] = tuple(shape)
    for key, shape in also.items():
        loaded.setdefault(key, shape)
    unchecked = set(also)  # merged or split by an operation whose shape arithmetic is not modelled
    for key, (converter, parts) in merged.items():
        built = converted_shape(spec.conversions[converter], parts)
        if built is None:
            unchecked.add(key)
        else:
            loaded[key] = built
    missing = set(expected) - set(loaded)
    unexpected = set(loaded) - set(expected)
    mismatched = {k: (tuple(loaded[k]), tuple(expected[k])) for k in set(expected) & set(loaded)
                  if k not in unchecked and not _fits(loaded[k], expected[k])}
    # tied weights fill each other, whichever copy the checkpoint kept (a safetensors conversion
    # may keep lm_head.decoder.weight and drop the embeddings it is tied to)
    sources = {source: target for target, source in spec.tied.items()}
    missing = {k for k in missing if (k not in spec.tied or spec.tied[k] in missing)
               and (k not in sources or sources[k] not in loaded)}
    ignore_missing = _pattern([*spec.ignore_missing, *spec.uncertain])
    position_ids = [r"(^|\.)position_ids$"] if any(
        b.endswith("position_ids") for b in spec.buffers) else []
    ignore_unexpected = _pattern([*spec.ignore_unexpected, *position_ids, *spec.uncertain])
    if ignore_missing:
        missing = {k for k in missing if not ignore_missing.search(k)}
    if ignore_unexpected:
        unexpected = {k for k in unexpected if not ignore_unexpected.search(k)}
    return LoadingPrediction(spec.name, frozenset(missing), frozenset(unexpected), mismatched,
                             renamed, expected)


def _prefixed(key: str, prefix: str, expected: Mapping[str, Any]) -> str:
    """The base_model_prefix added or stripped as transformers does, when that makes it a key
    of the model."""
    if prefix and key.startswith(prefix) and key[len(prefix) + 1:] in expected:
        return key[len(prefix) + 1:]
    if prefix and f"{prefix}.{key}" in expected:
        return f"{prefix}.{key}"
    return key


def _fits(got: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want,
                                                                             strict=True))


def _pattern(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"({p})" for p in patterns)) if patterns else None


# --- reading a config back out of the weights ----------------------------------------------------

# first key components that name a family's base model inside head checkpoints
FAMILY_PREFIXES = {"bert": "bert", "roberta": "roberta", "distilbert": "distilbert",
                   "albert": "albert", "electra": "electra", "deberta": "deberta",
                   "mpnet": "mpnet"}  # fmt: skip


def guess_family(keys: list[str]) -> str | None:
    """The BERT-family model_type whose weights these keys look like, from markers no other
    family has. None when the keys are not BERT-family at all. bert, roberta and electra base
    models share one layout: their head or prefix tells them apart, else 'bert'."""
    joined = "\n".join(keys)
    firsts = {k.split(".", 1)[0] for k in keys}
    if "albert_layer_groups" in joined:
        return "albert"
    if "transformer.layer." in joined and ".attention.q_lin." in joined:
        return "distilbert"
    if "attention.self.in_proj.weight" in joined:
        return "deberta"
    if "attention.self.query_proj" in joined:
        return "deberta-v2"
    if "relative_attention_bias" in joined and "attention.attn.q." in joined:
        return "mpnet"
    if firsts & {"electra", "generator_predictions", "discriminator_predictions"} or (
            "embeddings_project." in joined):
        return "electra"
    if firsts & {"roberta", "lm_head"}:
        return "roberta"
    if "encoder.layer." in joined and ".attention.self.query.weight" in joined:
        return "bert"
    return None


@dataclass(frozen=True)
class Inferred:
    """A config value read off the weights, and the tensor that shows it."""

    value: int
    key: str
    shape: tuple[int, ...]


def infer_config(model_type: str, checkpoint: Mapping[str, tuple[int, ...]]) -> dict[str, Inferred]:
    """Every size the weights determine: each spec key whose shape names a single config
    attribute votes for that attribute's value; block counts come from the highest index."""
    named, counted, prefixes = _normalized(model_type)
    votes: dict[str, dict[int, tuple[str, tuple[int, ...]]]] = {}
    counts: dict[str, tuple[int, str]] = {}
    voted: set[str] = set()
    counters: dict[str, list[str | None]] = {}
    for key, actual in checkpoint.items():
        chunks = _INDEX.split(_strip_prefix(key, prefixes))  # text, index, text, index, text
        norm = ".#".join(chunks[0::2])
        if len(chunks) > 1:
            attrs = counters.get(norm)
            if attrs is None:  # which attribute counts each index of this template
                pieces = norm.split("#")
                attrs = counters[norm] = [counted.get("#".join(pieces[: n + 1]).rstrip("."))
                                          for n in range(len(pieces) - 1)]
            for attr, index in zip(attrs, chunks[1::2], strict=False):
                if attr and int(index) + 1 > counts.get(attr, (0, ""))[0]:
                    counts[attr] = (int(index) + 1, key)
        dims = named.get(norm)
        if dims is None or len(dims[0]) != len(actual) or norm in voted:
            continue
        voted.add(norm)  # one key per template: layer 0 speaks for layers 1..n
        for position, attr in dims[1]:
            votes.setdefault(attr, {}).setdefault(int(actual[position]), (key, tuple(actual)))
    out: dict[str, Inferred] = {}
    for attr, values in votes.items():
        if len(values) == 1:  # a size the weights disagree on is not inferred
            ((value, (key, shape)),) = values.items()
            out[attr] = Inferred(value, key, shape)
    for attr, (n, key) in counts.items():
        out[attr] = Inferred(n, key, tuple(checkpoint[key]))
    return out


def knows_key(model_type: str, key: str) -> bool:
    """Whether some class of the family has this key (any block index, with or without the
    base-model prefix)."""
    named, _, prefixes = _normalized(model_type)
    return ".#".join(_INDEX.split(_strip_prefix(key, prefixes))[0::2]) in named


_INDEX = re.compile(r"\.(\d+)(?=\.|$)")  # a block index: encoder.layer.3.attention


def _strip_prefix(key: str, prefixes: frozenset[str]) -> str:
    head, dot, rest = key.partition(".")
    return rest if dot and head in prefixes else key


@functools.cache
def _normalized(model_type: str) -> tuple[dict[str, tuple[list[Any], list[tuple[int, str]]]],
                                          dict[str, str], frozenset[str]]:
    """Every key template of the family with block indexes as '#' and no base-model prefix:
    template -> (shape, the dimensions a single config field names), and block-list path ->
    the attribute that counts it."""
    fam = families()[model_type]
    prefixes = frozenset(c["base_model_prefix"] for c in fam["classes"].values() if
                         c["base_model_prefix"])
    shapes: dict[str, list[Any]] = {}
    counted: dict[str, str] = {}
    for cls in fam["classes"].values():
        for template, shape in cls["keys"].items():
            norm = re.sub(r"\{\w\}", "#", _strip_prefix(template, prefixes))
            known = shapes.setdefault(norm, shape)
            if len(known) == len(shape):  # a size named by a config field beats a constant
                shapes[norm] = [a if isinstance(a, str) else b
                                for a, b in zip(known, shape, strict=True)]
        for path, attr in cls["counts"].items():
            counted[re.sub(r"\{\w\}", "#", _strip_prefix(path, prefixes))] = attr
    named = {norm: (shape, [(i, d) for i, d in enumerate(shape)
                            if isinstance(d, str) and d.isidentifier()])
             for norm, shape in shapes.items()}
    return named, counted, prefixes
