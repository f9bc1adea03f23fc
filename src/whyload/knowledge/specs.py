"""What every model class transformers ships expects from a checkpoint, for one config.json —
read from specs generated out of transformers itself, without importing torch.

    knowledge/specs/transformers-<version>/index.json       model_type -> classes, provenance
    knowledge/specs/transformers-<version>/<model_type>.json.gz

Each type's file (scripts/gen_arch_specs.py builds the models on the meta device to write it)
has, per class, every state-dict key as a template (`model.layers.{i}.mlp.up_proj.weight`) whose
shape is a formula of config fields (`intermediate_size`, `head_dim*num_key_value_heads`,
`hidden_size/num_attention_heads`; null where none was found, and not checked), the field that
counts each block list, the keys that exist only for some values of a switch (a bool, a field
that is None by default, a few hinted values), and transformers' own renames for that class.

The version is the one of the transformers that will load the model; without an exact match, the
newest generated release not newer than it (or the oldest there is), and the spec says which
one it used.

What the prediction does not know, it does not claim: keys of a block list present in only part
of it (`partial`), and, when config.json sets a module-choosing field to a value the generator
did not explore, which keys exist at all — the shapes of the keys that are there are still
checked. A size-like field the config class does not even define (read by the modeling code
with getattr) could size any weight: `expected` raises Unpredictable, and `check` says so.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from packaging.version import InvalidVersion, Version

SCHEMA = "whyload.arch_spec/1"
_DIR_PREFIX = "transformers-"


def _root() -> Traversable:
    return resources.files("whyload.knowledge").joinpath("specs")


@functools.cache
def versions() -> tuple[str, ...]:
    """The transformers releases specs were generated from, oldest first."""
    found = [d.name[len(_DIR_PREFIX):] for d in _root().iterdir()
             if d.name.startswith(_DIR_PREFIX) and d.joinpath("index.json").is_file()]
    return tuple(sorted(found, key=_key))


def _key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        return Version("0")


def covers(installed: str | None) -> bool:
    """Whether some shipped spec is not newer than `installed` (rules of a later release do not
    hold for an older one)."""
    return installed is None or any(_key(v) <= _key(installed) for v in versions())


def version_for(installed: str | None) -> str | None:
    """The generated release to predict `installed` with: itself, else the newest older one,
    else the oldest there is. None when no spec ships."""
    known = versions()
    if not known:
        return None
    if installed is None or installed in known:
        return installed or known[-1]
    older = [v for v in known if _key(v) <= _key(installed)]
    return older[-1] if older else known[0]


@functools.cache
def index(version: str) -> dict[str, Any]:
    text = _root().joinpath(_DIR_PREFIX + version).joinpath("index.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@functools.cache
def _class_types(version: str) -> dict[str, str]:
    return {c: mt for mt, classes in index(version)["types"].items() for c in classes}


def config_rules(version: str) -> dict[str, Any]:
    """The validators that release's config classes run on config.json (see the generator)."""
    return index(version).get("config_rules", {})  # type: ignore[no-any-return]


def type_of_class(class_name: str, version: str, model_type: str | None = None) -> str | None:
    """The model type whose spec describes the class: config.json's, when that type builds it
    (exaone's AutoModel is LlamaModel, built from an ExaoneConfig), else the one that owns it."""
    if model_type is not None and class_name in index(version)["types"].get(model_type, ()):
        return model_type
    return _class_types(version).get(class_name)


@functools.cache
def type_spec(version: str, model_type: str) -> dict[str, Any] | None:
    if model_type not in index(version)["types"]:
        return None
    data = _root().joinpath(_DIR_PREFIX + version).joinpath(f"{model_type}.json.gz").read_bytes()
    return json.loads(gzip.decompress(data))  # type: ignore[no-any-return]


# --- formulas ----------------------------------------------------------------------------------

_TERM = re.compile(r"(^|[*/])([^*/]+)")
_OFFSET = re.compile(r"(.*?)([+-]\d+)?")


def evaluate(expr: str | int | None, values: Mapping[str, Any]) -> int | None:
    """A shape formula's value: `a*b/c` in exact fractions, floored (as the modeling code's `//`),
    plus an optional `+k`. None when a field is missing or not a number."""
    if expr is None or isinstance(expr, int):
        return expr
    m = _OFFSET.fullmatch(expr)
    if m is None:
        return None
    acc = Fraction(1)
    for op, token in _TERM.findall(m.group(1)):
        raw = int(token) if token.isdigit() else values.get(token)
        if isinstance(raw, bool) or not isinstance(raw, int) or (op == "/" and raw == 0):
            return None
        acc = acc / raw if op == "/" else acc * raw
    return math.floor(acc) + int(m.group(2) or 0)


# --- config.json as the modeling code sees it ------------------------------------------------

def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sub-configs (text_config, vision_config, …) as dotted fields."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, Mapping) and k.endswith("_config") and k != "quantization_config":
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@dataclass(frozen=True)
class Resolved:
    """config.json's values the way the modeling code reads them, and the fields set to values
    the spec never explored (their effect on which keys exist is unknown)."""

    values: dict[str, Any]
    switches: tuple[int, ...]  # the switches this config turns on
    unmodeled: dict[str, Any]
    unknown_sizes: dict[str, Any]  # size-like fields the config class does not have


def _same(a: Any, b: Any) -> bool:
    """Equal as config values: a list of names in any order, "c2p|p2c" as a list."""
    def norm(x: Any) -> Any:
        if isinstance(x, str) and "|" in x:
            x = x.split("|")
        if isinstance(x, list) and all(isinstance(i, str) for i in x):
            return frozenset(i.strip() for i in x)
        return x
    return bool(norm(a) == norm(b))


def resolve(tspec: Mapping[str, Any], config: Mapping[str, Any]) -> Resolved:
    """config.json read as the config class reads it: its defaults for what is left out, the
    fields it derives (head_dim from hidden_size and the heads), aliases (GPT-2's hidden_size is
    n_embd), num_labels from id2label; which switches are on; and what the spec cannot vouch
    for."""
    flat = flatten(config)
    for alias, real in tspec.get("aliases", {}).items():  # GPT-2: hidden_size -> n_embd
        if alias in flat and real not in flat:
            flat[real] = flat[alias]
    values: dict[str, Any] = {k: v for k, v in tspec["defaults"].items() if v is not None}
    values.update({k: v for k, v in flat.items() if v is not None and k in tspec["defaults"]})
    for field_, formula in tspec.get("derived", {}).items():
        if flat.get(field_) is None:
            derived = evaluate(formula, values)
            if derived is not None:
                values[field_] = derived
    labels = config.get("id2label")
    if config.get("num_labels") is None and isinstance(labels, Mapping) and labels:
        values["num_labels"] = len(labels)
    on = []
    for n, switch in enumerate(tspec.get("switches", [])):
        field_, value = switch["field"], values.get(switch["field"])
        if switch.get("equals"):
            active = value is not None and value == evaluate(switch["equals"], values)
        elif switch.get("base") is None:
            active = value is not None
        elif isinstance(switch["value"], bool):
            active = bool(value) is switch["value"]
        else:
            active = _same(value, switch["value"])
        if active:
            on.append(n)
    unmodeled = {}
    explored = {s["field"]: [s["value"], s.get("base")] for s in tspec.get("switches", [])}
    for field_, base in tspec.get("fixed", {}).items():
        if field_ in flat and flat[field_] is not None and not _same(flat[field_], base):
            unmodeled[field_] = flat[field_]
    for field_, seen in explored.items():  # a hinted field at a value no point explored
        if field_ in flat and not isinstance(seen[0], bool) and seen[1] is not None and \
                not any(_same(flat[field_], v) for v in seen) and \
                not isinstance(flat[field_], int):
            unmodeled[field_] = flat[field_]
    known = set(tspec.get("known", ())) | set(tspec["defaults"]) | set(tspec.get("derived", {})) \
        | set(tspec.get("aliases", {}))
    unknown: dict[str, Any] = {}
    if "known" in tspec:
        for k, v in flat.items():
            leaf = k.rsplit(".", 1)[-1]
            if k in known or v is None or leaf in _INERT or leaf.startswith("_") or \
                    leaf.endswith(("_id", "_ids")) or "token" in leaf:
                continue
            if _SIZE_NAME.search(leaf) and isinstance(v, int) and not isinstance(v, bool):
                unknown[k] = v  # may size weights: nothing is predicted
            elif isinstance(v, (bool, str)):
                unmodeled[k] = v  # may choose modules (DeBERTa's share_att_key)
    return Resolved(values, tuple(on), unmodeled, unknown)


# fields older releases wrote that no modeling code reads any more
_INERT = frozenset({
    "output_past", "gradient_checkpointing", "xla_device", "torchscript", "use_bfloat16",
    "finetuning_task", "problem_type", "tokenizer_class", "prefix", "task_specific_params",
    "architectures", "model_type", "transformers_version", "torch_dtype", "dtype",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "return_dict", "use_cache",
    "output_attentions", "output_hidden_states", "pruned_heads", "tie_encoder_decoder",
    "chunk_size_feed_forward", "bad_words_ids", "num_beams", "num_beam_groups", "do_sample",
    "early_stopping", "length_penalty", "max_length", "min_length", "no_repeat_ngram_size",
    "num_return_sequences", "repetition_penalty", "temperature", "top_k", "top_p",
    "typical_p", "diversity_penalty", "encoder_no_repeat_ngram_size", "remove_invalid_values",
    "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
    "forced_decoder_ids", "hidden_act", "activation_function", "initializer_range",
    "rope_type", "attn_implementation", "quantization_config", "auto_map", "custom_pipelines",
    "label2id", "id2label", "name_or_path", "keys_to_ignore_at_inference", "layer_types",
    "sliding_window_pattern", "use_sliding_window", "rope_scaling", "rope_parameters",
    "rope_theta", "partial_rotary_factor", "attention_dropout", "hidden_dropout",
    "classifier_dropout", "summary_type", "summary_use_proj", "summary_activation",
    "summary_proj_to_labels", "summary_first_dropout", "gradient_checkpointing_kwargs"})


# names of fields that size weights: one the config class lacks may be read by the modeling code
# with getattr (head_dim) and change shapes the spec cannot know
_SIZE_NAME = re.compile(r"(dim|size|heads|layers|experts|hidden|intermediate|vocab|positions|"
                        r"rank|embd|width|channels)$")


# --- one class ---------------------------------------------------------------------------------

class Unpredictable(Exception):
    """The spec cannot say what this config builds (the message says why)."""


@dataclass(frozen=True)
class Expected:
    """What one class expects, for one config: every key with its shape (None: a dimension not
    checked), the keys whose presence is not predicted, and the class's load-time data."""

    keys: dict[str, tuple[int | None, ...]]
    head: frozenset[str]  # the keys outside the base model: the task head
    uncertain: tuple[str, ...]  # regexes: keys neither reported missing nor unused
    tied: dict[str, str]
    cls: Mapping[str, Any]
    version: str
    unmodeled: dict[str, Any]
    values: dict[str, Any]  # config.json as the modeling code reads it (defaults, derived)


def _templates(cls: Mapping[str, Any], switches: tuple[int, ...]
               ) -> tuple[dict[str, list[Any]], dict[str, Any], set[str]]:
    keys = dict(cls["keys"])
    counts = dict(cls["counts"])
    partial = set(cls.get("partial", ()))
    for n in switches:
        diff = cls.get("switches", {}).get(str(n))
        if not diff:
            continue
        for k in diff["remove"]:
            keys.pop(k, None)
        keys.update(diff["add"])
        keys.update(diff["shape"])
        counts.update(diff["counts"])
        partial |= set(diff["partial"])
    return keys, counts, partial


_PLACEHOLDER = re.compile(r"\{[a-z]\}")


def _expand(template: str, counts: Mapping[str, Any], values: Mapping[str, Any]
            ) -> Iterator[str] | None:
    """Every concrete key of a template; None when a block count is unknown."""
    parts = template.split(".")
    ranges: list[range] = []
    for n, part in enumerate(parts):
        if _PLACEHOLDER.fullmatch(part):
            counter = counts.get(".".join(parts[:n]))
            total = evaluate(counter, values) if isinstance(counter, str) else counter
            if not isinstance(total, int) or total < 0:
                return None
            ranges.append(range(total))
    fmt = _PLACEHOLDER.sub("{}", template)
    return _product(fmt, ranges)


def _product(fmt: str, ranges: list[range]) -> Iterator[str]:
    import itertools

    for indexes in itertools.product(*ranges):
        yield fmt.format(*indexes)


def _pattern(template: str) -> str:
    return "^" + _PLACEHOLDER.sub(r"\\d+", re.escape(template).replace(r"\{", "{")
                                  .replace(r"\}", "}")) + "$"


def expected(version: str, model_type: str, class_name: str,
             config: Mapping[str, Any]) -> Expected | None:
    tspec = type_spec(version, model_type)
    if tspec is None or class_name not in tspec["classes"]:
        return None
    cls = tspec["classes"][class_name]
    resolved = resolve(tspec, config)
    if resolved.unknown_sizes:
        raise Unpredictable(f"config.json sets {', '.join(sorted(resolved.unknown_sizes))}, "
                            f"which {tspec['config_class']} does not define: the modeling code "
                            "may size weights with it")
    templates, counts, partial = _templates(cls, resolved.switches)
    keys: dict[str, tuple[int | None, ...]] = {}
    head: set[str] = set()
    body = _base_templates(version, model_type)
    prefix = cls["base_model_prefix"]
    uncertain = [_pattern(t) for t in sorted(partial)]
    for template, shape in templates.items():
        concrete = _expand(template, counts, resolved.values)
        if concrete is None:
            uncertain.append(_pattern(template))
            continue
        dims = tuple(evaluate(d, resolved.values) for d in shape)
        is_head = body is not None and _strip(template, prefix) not in body
        for key in concrete:
            keys[key] = dims
            if is_head:
                head.add(key)
    if resolved.unmodeled:
        uncertain = [".*"]  # which keys exist is not known; their shapes still are
    tied = dict(cls.get("tied", {}))
    tie = resolved.values.get("tie_word_embeddings")
    if tie is None or tie:
        tied.update(cls.get("tied_with_embeddings", {}))
    return Expected(keys, frozenset(head), tuple(uncertain), tied, cls, version,
                    resolved.unmodeled, resolved.values)


def _strip(template: str, prefix: str) -> str:
    return template[len(prefix) + 1:] if prefix and template.startswith(prefix + ".") \
        else template


@functools.cache
def _base_templates(version: str, model_type: str) -> frozenset[str] | None:
    """The key templates of the type's base model (the class AutoModel loads), without the
    base_model_prefix: what every head class of the type shares. None when no class of the type
    is its base model."""
    from whyload.knowledge.model_classes import generated

    tspec = type_spec(version, model_type) or {"classes": {}}
    data = generated()
    for name, cls in tspec["classes"].items():
        found = data.lookup(name)
        if found is not None and found.is_base:
            keys = set(cls["keys"])
            for diff in cls.get("switches", {}).values():
                keys |= set(diff["add"])
            return frozenset(_strip(k, cls["base_model_prefix"]) for k in keys)
    return None


def count_fields(version: str, model_type: str) -> frozenset[str]:
    """The config fields that count a block list of this type (num_hidden_layers, n_layer…)."""
    return frozenset(_named(version, model_type)[1].values())


def infer_values(version: str, model_type: str,
                 checkpoint: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, str]]:
    """Config fields the weights show: a key whose template names a single field in one
    dimension votes for its value; a block count is the highest index plus one. Only values
    every voting key agrees on are returned: field -> (value, the key that shows it)."""
    tspec = type_spec(version, model_type)
    if tspec is None:
        return {}
    named, counted = _named(version, model_type)
    votes: dict[str, dict[int, str]] = {}
    highest: dict[str, tuple[int, str]] = {}
    for key, shape in checkpoint.items():
        norm = _INDEX.sub(".#", key)
        for path, field_ in counted.items():
            if norm.startswith(path + ".#"):
                index = int(key[len(path) + 1:].split(".", 1)[0]) if key.startswith(path) \
                    else None
                if index is not None and index + 1 > highest.get(field_, (0, ""))[0]:
                    highest[field_] = (index + 1, key)
        dims = named.get(norm)
        if dims is None or len(dims) != len(shape):
            continue
        for position, named_field in enumerate(dims):
            if named_field is not None:
                votes.setdefault(named_field, {}).setdefault(int(shape[position]), key)
    out = {f: next(iter(v.items())) for f, v in votes.items() if len(v) == 1}
    out.update(highest)
    return out


_INDEX = re.compile(r"\.\d+(?=\.|$)")


@functools.cache
def _named(version: str, model_type: str) -> tuple[dict[str, list[str | None]], dict[str, str]]:
    """key template ('#' for indexes) -> per dimension the single field it is, or None; block
    list path -> the field that counts it."""
    tspec = type_spec(version, model_type) or {"classes": {}}
    named: dict[str, list[str | None]] = {}
    counted: dict[str, str] = {}
    for cls in tspec["classes"].values():
        for template, shape in cls["keys"].items():
            norm = _PLACEHOLDER.sub("#", template)
            named.setdefault(norm, [d if isinstance(d, str) and d.isidentifier() else None
                                    for d in shape])
        for path, field_ in cls["counts"].items():
            if isinstance(field_, str) and "{" not in path:
                counted[path] = field_
    return named, counted


# --- transformers' renames on load -------------------------------------------------------------

@dataclass(frozen=True)
class Converted:
    """A checkpoint key a converter merges with others: which converter, and which of its source
    patterns (the order its tensors are concatenated in)."""

    converter: int
    source: int
    also: tuple[str, ...] = ()  # the other keys a one-to-many converter (a fused qkv) produces


def rename(key: str, conversions: list[Mapping[str, Any]]) -> tuple[str, Converted | None]:
    """The key transformers 5 loads a checkpoint key as (core_model_loading.rename_source_key:
    every renaming in turn, then at most one converter), and the converter that took it (its
    tensor is merged with others: stacked experts, fused projections)."""
    renamed = key
    for c in conversions:
        if c["kind"] == "renaming":
            renamed, _ = _apply(c, renamed)
    for n, c in enumerate(conversions):
        if c["kind"] == "converter":
            new, group = _apply(c, renamed)
            if group is not None:
                first, *others = c["targets"]
                also = tuple(new.replace(first, t, 1) for t in others if first in new)
                return new, Converted(n, int(group[1:]), also)
    return renamed, None


def converted_shape(c: Mapping[str, Any], sources: Mapping[int, list[tuple[int, ...]]]
                    ) -> tuple[int, ...] | None:
    """The shape a converter builds from the checkpoint tensors it collected (per source
    pattern), for the operations whose arithmetic is plain: stacking a module list, then
    concatenating. None for any other operation."""
    parts: list[tuple[int, ...]] = []
    ops = [o.get("op") if isinstance(o, Mapping) else o for o in c.get("operations", [])]
    dims = [o.get("dim") if isinstance(o, Mapping) else None for o in c.get("operations", [])]
    if not ops or any(op not in ("MergeModulelist", "Concatenate") for op in ops):
        return None
    for index in sorted(sources):
        shapes = sources[index]
        if ops[0] == "MergeModulelist":
            if len(set(shapes)) != 1:
                return None
            dim = dims[0] or 0
            one = list(shapes[0])
            parts.append(tuple([*one[:dim], len(shapes), *one[dim:]]))
        else:
            parts.extend(shapes)
    if ops[-1] != "Concatenate":
        return parts[0] if len(parts) == 1 else None
    dim = dims[-1] or 0
    if len({len(p) for p in parts}) != 1:
        return None
    if any(p[:dim] + p[dim + 1:] != parts[0][:dim] + parts[0][dim + 1:] for p in parts):
        # stacks of different lengths (an expert missing from one projection): transformers'
        # conversion fails; the smallest stack is what the checkpoint can give
        parts = [min(parts)] * len(parts)
    return (*parts[0][:dim], sum(p[dim] for p in parts), *parts[0][dim + 1:])


def _apply(c: Mapping[str, Any], key: str) -> tuple[str, str | None]:
    prefix = None
    to_match = key
    scope = c.get("scope_prefix")
    if scope is not None:
        scope_dot = f"{scope}." if scope else ""
        base = c.get("base_model_prefix") or ""
        base_dot = f"{base}." if base else ""
        if key.startswith(base_dot + scope_dot):
            prefix = base_dot + scope_dot
        elif key.startswith(scope_dot):
            prefix = scope_dot
        else:
            return key, None
        to_match = key.removeprefix(prefix)
    m = _compiled(c["pattern"]).search(to_match)
    if m is None:
        return key, None
    group = next(name for name, val in m.groupdict().items() if val is not None)
    replacement = c["targets"][0]
    if r"\1" in replacement:
        replacement = replacement.replace(r"\1", m.group(c["groupindex"][group] + 1))
    renamed = to_match.replace(m.group(0), replacement, 1)
    return (prefix + renamed if prefix is not None else renamed), group


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
