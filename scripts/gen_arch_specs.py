"""Generate src/whyload/knowledge/specs/transformers-<version>/ from the installed transformers:
one `<model_type>.json.gz` per type and an `index.json` (which classes each type has, which types
did not build and why, the versions and the date).

For every model type and every class an Auto class loads, the model is built on the meta device
(no memory, no weights) at several config points, and each state-dict key's shape is written as
a formula of config fields: `model.layers.{i}.self_attn.k_proj.weight: [num_key_value_heads*
head_dim, hidden_size]`. `check` evaluates the formulas for any config.json without importing
torch; the differential tests load real checkpoints and compare.

How a formula is found. The base point is the config class's defaults with every layer count set
to 2. Each integer field is then doubled on its own (the config is rebuilt with from_dict, as
from_pretrained does, so fields the config derives stay as given); a dimension that doubles
depends on the field, one that halves divides by it. A dimension that follows no such product is
tried as `a*field+b`; what fits nothing is written `null` (not checked). Every formula is then
verified at a point where all fields change at once, and dropped when it disagrees.

Which keys exist. A block index (`layers.3.`) becomes `{i}`; the field that counts the block is
the one whose doubling doubles the block count. Keys that exist only for some values of a config
switch (a bool flipped, a None field set, the hints below) are recorded per switch; keys present
for only part of a block list (DeepSeek's first dense layers) are marked `partial` and never
reported missing or unused. Fields the config class derives when config.json omits them
(`head_dim = hidden_size / num_attention_heads`) are learned the same way.

The checkpoint conversions transformers 5 applies on load (its conversion_mapping: legacy
names, stacked MoE experts) are recorded from transformers' own objects, compiled pattern and
replacement, so `check` renames keys exactly as the loader does.

    .venv/bin/python scripts/gen_arch_specs.py [--only llama,gpt2] [--budget-s 1800]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gzip
import json
import re
import sys
import time
import traceback
from fractions import Fraction
from pathlib import Path
from typing import Any

# the arithmetic `check` evaluates the formulas with: verified here with the very same function
from whyload.knowledge.specs import evaluate

ROOT = Path(__file__).resolve().parents[1]
OUT_ROOT = ROOT / "src/whyload/knowledge/specs"
SCHEMA = "whyload.arch_spec/1"

# generated first, so a time budget never leaves out what most people load
POPULAR = (
    "bert", "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
    "gemma2", "gemma3_text", "phi", "phi3", "phimoe", "gpt2", "gptj", "gpt_neox", "gpt_neo",
    "falcon", "opt", "bloom", "t5", "mt5", "bart", "mbart", "pegasus", "marian", "whisper",
    "wav2vec2", "hubert", "vit", "deit", "swin", "convnext", "clip", "clip_text_model",
    "clip_vision_model", "siglip", "siglip_vision_model", "blip", "llava", "modernbert",
    "longformer", "big_bird", "xlnet", "roberta", "xlm-roberta", "distilbert", "albert",
    "electra", "deberta", "deberta-v2", "camembert", "mpnet", "starcoder2", "gpt_bigcode",
    "codegen", "stablelm", "olmo", "olmo2", "granite", "cohere", "deepseek_v3", "deepseek_v2",
    "dbrx", "mamba", "mamba2", "jamba", "falcon_mamba", "recurrent_gemma", "internlm3",
    "exaone", "smollm3", "ministral", "llama4_text", "gpt_oss", "glm", "glm4", "helium",
    "seed_oss", "qwen3_next", "bert-generation", "roformer", "ernie", "layoutlm", "layoutlmv3",
    "beit", "dinov2", "segformer", "resnet", "mobilevit", "detr", "yolos", "speech_to_text",
    "sew", "wavlm", "data2vec-audio", "data2vec-text", "unispeech", "led", "bigbird_pegasus",
    "prophetnet", "longt5", "umt5", "switch_transformers", "nllb-moe", "m2m_100", "xglm",
    "ctrl", "openai-gpt", "megatron-bert", "nomic_bert", "funnel", "squeezebert", "mobilebert",
    "convbert", "canine", "esm",
)

# config fields that never change which weights exist
INERT = {"output_hidden_states", "output_attentions", "return_dict", "use_cache",
         "torchscript", "is_decoder", "add_cross_attention", "tie_encoder_decoder",
         "use_return_dict", "_attn_implementation_autoset", "is_encoder_decoder",
         "tie_word_embeddings", "chunk_size_feed_forward", "pretraining_tp"}
LAYER_COUNT = re.compile(r"(^|_)(num_)?(hidden_)?(layers?|n_layer|n_layers|num_layers|"
                         r"num_hidden_layers|encoder_layers|decoder_layers|depth)$")

# values a switch cannot be found by flipping a bool or setting a None field: (field, value).
# "=field" sets it equal to another field.
HINTS: dict[str, list[tuple[str, Any]]] = {
    "electra": [("embedding_size", "=hidden_size")],
    "albert": [("embedding_size", "=hidden_size")],
    "deberta": [("type_vocab_size", 0), ("pos_att_type", ["c2p"]), ("pos_att_type", ["p2c"]),
                ("relative_attention", True)],
    "deberta-v2": [("type_vocab_size", 0), ("pos_att_type", ["c2p"]), ("pos_att_type", ["p2c"]),
                   ("conv_kernel_size", 3), ("norm_rel_ebd", "layer_norm"),
                   ("embedding_size", "=hidden_size"), ("relative_attention", True)],
    "bert": [("type_vocab_size", 0)],
    "roberta": [("type_vocab_size", 0)],
    "gpt2": [("n_inner", "=4*n_embd")],
}
# switches whose keys only matter together: the base of these types turns them on
BASE_HINTS: dict[str, dict[str, Any]] = {
    "deberta": {"relative_attention": True, "pos_att_type": ["c2p", "p2c"]},
    "deberta-v2": {"relative_attention": True, "pos_att_type": ["c2p", "p2c"],
                   "position_buckets": 23, "max_relative_positions": -1},
}
LAYERS = 6
# fields the modeling code reads with getattr(config, name, default) although the config class
# does not define them (Qwen3-MoE's head_dim): explored like a field that is None by default
GETATTR_FIELDS = ("head_dim",)
NONE_VALUE = 48  # the value a None field is set to, to see whether it adds weights


# --- config points ----------------------------------------------------------------------------

def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and k.endswith("_config") and "model_type" in v:
            out.update(flatten(v, name + "."))
        else:
            out[name] = v
    return out


def values_of(config: Any) -> dict[str, Any]:
    """The config as fields: nested sub-configs flattened, num_labels (which to_dict leaves to
    id2label) included."""
    out = flatten(config.to_dict())
    out["num_labels"] = config.num_labels
    return out


def with_value(d: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(d)
    if path == "num_labels":  # from_dict derives id2label from it
        out.pop("id2label", None)
        out.pop("label2id", None)
    node = out
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    return out


def is_size(name: str, value: Any) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return (isinstance(value, int) and not isinstance(value, bool) and value > 0
            and not leaf.endswith(("_id", "_ids", "_idx", "_index", "seed", "_step", "steps"))
            and leaf not in INERT and "token" not in leaf and leaf != "transformers_version")


def base_inputs(config_cls: Any, model_type: str) -> dict[str, Any]:
    """The defaults, with layer counts at most 6: fast to build, and long enough that layers which
    differ by position (DeepSeek's first 3 dense ones, every 4th sliding one) all appear."""
    d = config_cls().to_dict()
    for path, value in flatten(d).items():
        leaf = path.rsplit(".", 1)[-1]
        if isinstance(value, int) and not isinstance(value, bool) and value > LAYERS and \
                LAYER_COUNT.search(leaf):
            d = with_value(d, path, LAYERS)
        if leaf == "layer_types" and isinstance(value, list):
            d = with_value(d, path, None)  # derived again from the layer count
    for path, value in BASE_HINTS.get(model_type, {}).items():
        d = with_value(d, path, value)
    d.pop("transformers_version", None)
    return d


# fields that name things or tune numbers, never which weights exist
NAMES = re.compile(r"(^|_)(act|activation|activation_function|hidden_act|hidden_activation|"
                   r"name_or_path|model_type|architectures|problem_type|dtype|torch_dtype|"
                   r"transformers_version|tokenizer_class|task_specific_params|id2label|"
                   r"label2id|prefix|finetuning_task|rope_type|attn_implementation|"
                   r"layer_types|auto_map|custom_pipelines|quantization_config)$")


def _may_choose(field: str, value: Any) -> bool:
    leaf = field.rsplit(".", 1)[-1]
    if leaf.startswith("_") or leaf in INERT or NAMES.search(leaf) or "token" in leaf:
        return False
    return isinstance(value, str) or (isinstance(value, list) and bool(value)
                                      and all(isinstance(x, str) for x in value))


def make_config(config_cls: Any, d: dict[str, Any]) -> Any:
    return config_cls.from_dict(copy.deepcopy(d))


# --- building ----------------------------------------------------------------------------------

class Built:
    """The state dicts of every class at one config point (None: that class did not build)."""

    def __init__(self, config: Any, shapes: dict[str, dict[str, tuple[int, ...]] | None],
                 models: dict[str, Any]) -> None:
        self.config = config
        self.shapes = shapes
        self.models = models


def build_all(classes: dict[str, Any], config_cls: Any, d: dict[str, Any],
              keep: bool = False) -> Built | None:
    import torch

    try:
        config = make_config(config_cls, d)
    except Exception:
        return None
    shapes: dict[str, dict[str, tuple[int, ...]] | None] = {}
    models: dict[str, Any] = {}
    for name, cls in classes.items():
        try:
            with torch.device("meta"):
                model = cls(copy.deepcopy(config))
            shapes[name] = {k: tuple(int(x) for x in t.shape)
                            for k, t in model.state_dict().items()}
            if keep:
                models[name] = model
        except Exception:
            shapes[name] = None
    return Built(config, shapes, models)


# --- formulas ----------------------------------------------------------------------------------

def _levels(key: str) -> list[tuple[str, int]]:
    """(path of each numeric part with earlier numbers as '#', the number): layers.2.experts.3.w
    -> [('layers', 2), ('layers.#.experts', 3)]."""
    parts = key.split(".")
    out = []
    for n, part in enumerate(parts):
        if part.isdigit() and n:
            out.append((".".join("#" if p.isdigit() else p for p in parts[:n]), int(part)))
    return out


def counted_paths(points: list[dict[str, tuple[int, ...]]]) -> set[str]:
    """The block lists whose length some config field changes (layers, experts); the others
    (T5's layer.0 / layer.1, a Sequential's children) keep their literal index."""
    highest: list[dict[str, int]] = []
    for shapes in points:
        h: dict[str, int] = {}
        for key in shapes:
            for path, i in _levels(key):
                h[path] = max(h.get(path, -1), i)
        highest.append(h)
    base, *others = highest
    return {p for p, n in base.items() if any(o.get(p, n) != n for o in others)}


def template(key: str, counted: set[str]) -> str:
    """layers.2.mlp.experts.3.w -> 'layers.{i}.mlp.experts.{j}.w' (counted block lists only)."""
    parts = key.split(".")
    names = iter("ijklmn")
    for n, part in enumerate(parts):
        if part.isdigit() and n and ".".join(
                "#" if p.isdigit() or p.startswith("{") else p for p in parts[:n]) in counted:
            parts[n] = "{" + next(names) + "}"
    return ".".join(parts)


def path_template(path: str) -> str:
    """'layers.#.experts' -> 'layers.{i}.experts' (the form counts are written in)."""
    names = iter("ijklmn")
    return ".".join("{" + next(names) + "}" if p == "#" else p for p in path.split("."))


def firsts(shapes: dict[str, tuple[int, ...]], counted: set[str]) -> dict[str, tuple[int, ...]]:
    """template -> the shape of its lowest-index instance."""
    out: dict[str, tuple[int, ...]] = {}
    for key in sorted(shapes, key=lambda k: [int(p) if p.isdigit() else -1 for p in k.split(".")]):
        out.setdefault(template(key, counted), shapes[key])
    return out


def index_sets(shapes: dict[str, tuple[int, ...]], counted: set[str]
               ) -> dict[str, set[tuple[int, ...]]]:
    out: dict[str, set[tuple[int, ...]]] = {}
    for key in shapes:
        idx = tuple(i for path, i in _levels(key) if path in counted)
        out.setdefault(template(key, counted), set()).add(idx)
    return out


def monomial(d0: int, changes: dict[str, tuple[int, int, int]]) -> str | None:
    """d0 at the base; changes: field -> (old, new, dimension then). A product of fields (each
    to the power 1 or -1) times a constant, or None."""
    exps: dict[str, int] = {}
    for f, (old, new, d) in changes.items():
        if d == d0:
            continue
        if d0 == 0:
            return None
        r = Fraction(d, d0)
        rv = Fraction(new, old)
        if r == rv:
            exps[f] = 1
        elif r == 1 / rv:
            exps[f] = -1
        elif r == rv * rv:
            exps[f] = 2
        else:
            return None
    c = Fraction(d0)
    for f, e in exps.items():
        c /= Fraction(changes[f][0]) ** e
    num = [f for f, e in sorted(exps.items()) if e > 0 for _ in range(e)]
    den = [f for f, e in sorted(exps.items()) if e < 0]
    if c.denominator != 1:
        den.append(str(c.denominator))
    factors = ([str(c.numerator)] if c.numerator != 1 or not num else []) + num
    return "*".join(factors) + "".join(f"/{f}" for f in den)


def affine(d0: int, changes: dict[str, tuple[int, int, int]]) -> str | None:
    moved = {f: c for f, c in changes.items() if c[2] != d0}
    if len(moved) != 1:
        return None
    (f, (old, new, d)), = moved.items()
    a = Fraction(d - d0, new - old)
    if a.denominator != 1 or a == 0:
        return None
    b = d0 - a * old
    head = f if a == 1 else f"{a.numerator}*{f}"
    return head + (f"+{b}" if b > 0 else f"-{-b}" if b < 0 else "")


def fit(d0: int, changes: dict[str, tuple[int, int, int]]) -> str | int | None:
    if all(c[2] == d0 for c in changes.values()):
        return d0
    return monomial(d0, changes) or affine(d0, changes)


# --- one class, one switch ---------------------------------------------------------------------

def describe_point(name: str, base: Built, perturbed: dict[str, Built],
                   values: dict[str, Any]) -> dict[str, Any] | None:
    """Key templates with formulas, and what counts each block list, for one class at one switch
    setting."""
    shapes = base.shapes.get(name)
    if shapes is None:
        return None
    others = {f: p.shapes[name] for f, p in perturbed.items() if p.shapes.get(name) is not None}
    counted = counted_paths([shapes, *others.values()])
    base_first = firsts(shapes, counted)
    other_firsts = {f: firsts(s, counted) for f, s in others.items()}
    new_values = {f: values_of(perturbed[f].config).get(f) for f in others}
    keys: dict[str, list[Any]] = {}
    for tmpl, shape in base_first.items():
        dims: list[Any] = []
        for n, d0 in enumerate(shape):
            changes = {}
            for f, first in other_firsts.items():
                other = first.get(tmpl)
                new = new_values[f]
                if other is None or len(other) != len(shape) or not isinstance(new, int) \
                        or new == values[f]:
                    continue
                changes[f] = (values[f], new, other[n])
            dims.append(fit(d0, changes))
        keys[tmpl] = dims
    # which field counts each block list: the one whose change moves its length, and equals it
    counts: dict[str, Any] = {}
    uncounted: set[str] = set()
    for path in sorted(counted):
        n = 1 + max((i for k in shapes for p, i in _levels(k) if p == path), default=-1)
        counter: Any = None
        for f, s in others.items():
            m = 1 + max((i for k in s for p, i in _levels(k) if p == path), default=-1)
            if m != n:
                counter = f if values[f] == n and new_values[f] == m else None
                break
        if counter is None:
            uncounted.add(path)
        else:
            counts[path_template(path)] = counter
    # a key present for only part of a block list (DeepSeek's first dense layers), or in a list
    # no field counts, is never reported missing or unused
    partial = set()
    for tmpl, idx in index_sets(shapes, counted).items():
        key = next(k for k in shapes if template(k, counted) == tmpl)
        total = 1
        for path in (p for p, _ in _levels(key) if p in counted):
            counter = counts.get(path_template(path))
            total *= int(values.get(counter, 0)) if counter else 0
        if len(idx) != total:
            partial.add(tmpl)
    return {"keys": keys, "counts": counts, "partial": sorted(partial)}


def verify(name: str, spec: dict[str, Any], point: Built) -> None:
    """Drop every formula that mispredicts at a point where all fields changed together."""
    shapes = point.shapes.get(name)
    if shapes is None:
        return
    values = values_of(point.config)
    counted = {p for t in spec["counts"] for p in [t.replace("{i}", "#").replace("{j}", "#")]}
    actual = firsts(shapes, counted)
    for tmpl, dims in spec["keys"].items():
        got = actual.get(tmpl)
        if got is None or len(got) != len(dims):
            continue
        for n, expr in enumerate(dims):
            try:
                ok = evaluate(expr, values) == got[n]
            except (KeyError, ValueError, TypeError, ZeroDivisionError):
                ok = False
            if not ok:
                dims[n] = None


# --- one model type ----------------------------------------------------------------------------

def conversions(model: Any) -> list[dict[str, Any]]:
    """transformers' own renames and converters for this model, as the loader compiles them."""
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import WeightConverter
    except ImportError:
        return []
    out = []
    for t in get_model_conversion_mapping(model, add_legacy=True):
        out.append({
            "kind": "converter" if isinstance(t, WeightConverter) else "renaming",
            "pattern": t.compiled_sources.pattern,
            "groupindex": dict(t.compiled_sources.groupindex),
            "targets": list(t.target_patterns),
            "scope_prefix": getattr(t, "scope_prefix", None),
            "base_model_prefix": getattr(t, "base_model_prefix", None),
            "operations": [{"op": type(o).__name__, "dim": getattr(o, "dim", None)}
                           for o in getattr(t, "operations", [])],
        })
    return out


def true_defaults(config_cls: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """What the config class gives each field when config.json leaves it out: its own defaults,
    not the shortened base the models were built at."""
    try:
        real = values_of(config_cls())
    except Exception:
        return fields
    return {f: real.get(f, v) for f, v in fields.items()}


def length_rules(model_type: str, class_names: list[str]) -> list[dict[str, Any]]:
    """Lists that must hold one entry per layer, as transformers enforces them (Longformer's
    attention_window): a list field as long as a layer count, which the config or the model
    refuses once the count changes and the list does not. The exception's first line is kept."""
    import torch
    import transformers
    from transformers import CONFIG_MAPPING

    config_cls = CONFIG_MAPPING[model_type]
    cls = getattr(transformers, class_names[0])
    with torch.device("meta"):  # the model may turn a field into its per-layer list (Longformer)
        d = cls(config_cls()).config.to_dict()
    d.pop("transformers_version", None)
    rules = []
    for name, value in d.items():
        if not isinstance(value, list) or not value or name in ("architectures", "layer_types",
                                                                 "mlp_layer_types"):
            continue  # layer_types: the config rule every class applies (WL314)
        for count, n in d.items():
            if not (LAYER_COUNT.search(count) and n == len(value)):
                continue
            try:
                config = config_cls.from_dict({**d, count: n + 1})
                with torch.device("meta"):
                    cls(config)
            except Exception as exc:  # the refusal is what is recorded
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                if name in text:
                    rules.append({"list": name, "count": count, "error": type(exc).__name__,
                                  "message": text[:300]})
    return rules


def refresh_defaults(out_dir: Path) -> None:
    """Rewrite the defaults (and the per-layer list rules) of every generated type from its
    config class, without rebuilding the specs."""
    from transformers import CONFIG_MAPPING

    for path in sorted(out_dir.glob("*.json.gz")):
        spec = json.loads(gzip.decompress(path.read_bytes()))
        spec["defaults"] = true_defaults(CONFIG_MAPPING[spec["model_type"]], spec["defaults"])
        try:
            spec["length_rules"] = length_rules(spec["model_type"], sorted(spec["classes"]))
        except Exception:
            spec["length_rules"] = []
        text = json.dumps(spec, sort_keys=True, separators=(",", ":")) + "\n"
        path.write_bytes(gzip.compress(text.encode(), mtime=0))


def learn_derived(config_cls: Any, d: dict[str, Any], sizes: list[str]) -> dict[str, Any]:
    """Fields the config computes when config.json leaves them out: field -> formula."""
    derived: dict[str, Any] = {}
    base = flatten(make_config(config_cls, d).to_dict())
    for f in sizes:
        if "." in f:
            continue
        without = {k: v for k, v in d.items() if k != f}
        try:
            got = flatten(make_config(config_cls, without).to_dict()).get(f)
        except Exception:
            continue
        if not isinstance(got, int) or isinstance(got, bool):
            continue
        changes = {}
        for g in sizes:
            if g == f or "." in g or g not in without:
                continue
            try:
                cfg = flatten(make_config(config_cls, {**without, g: base[g] * 2}).to_dict())
            except Exception:
                continue
            if isinstance(cfg.get(f), int):
                changes[g] = (base[g], base[g] * 2, cfg[f])
        formula = fit(got, changes)
        if isinstance(formula, str):
            derived[f] = formula
    return derived


def describe_type(model_type: str, class_names: list[str], deadline: float) -> dict[str, Any]:
    import transformers
    from transformers import CONFIG_MAPPING

    config_cls = CONFIG_MAPPING[model_type]
    classes = {n: getattr(transformers, n) for n in class_names if hasattr(transformers, n)}
    d = base_inputs(config_cls, model_type)
    base = build_all(classes, config_cls, d, keep=True)
    if base is None or all(s is None for s in base.shapes.values()):
        # a shortened layer count the config rejects (GPT-Neo's attention_types, wav2vec2's
        # conv_dim list): shorten only the counts it accepts
        d = {**config_cls().to_dict(), **BASE_HINTS.get(model_type, {})}
        d.pop("transformers_version", None)
        for path, value in base_inputs(config_cls, model_type).items():
            trial = {**d, path: value}
            point = build_all(classes, config_cls, trial)
            if point is not None and any(s is not None for s in point.shapes.values()):
                d = trial
        base = build_all(classes, config_cls, d, keep=True)
    if base is None:
        raise RuntimeError("the default config does not build")
    classes = {n: c for n, c in classes.items() if base.shapes.get(n) is not None}
    if not classes:
        raise RuntimeError("no class builds from the default config")
    values = values_of(base.config)
    sizes = [f for f, v in values.items() if is_size(f, v)]

    def perturb(start: dict[str, Any], vals: dict[str, Any], fields: list[str]
                ) -> dict[str, Built]:
        out = {}
        for f in fields:
            if time.monotonic() > deadline:
                raise TimeoutError
            if not isinstance(vals.get(f), int):
                continue
            point = build_all(classes, config_cls, with_value(start, f, vals[f] * 2))
            if point is not None and any(s is not None for s in point.shapes.values()):
                out[f] = point
        return out

    # switches: a bool flipped, a None field set, a hint's value
    switches: list[tuple[str, Any]] = []
    for f, v in values.items():
        leaf = f.rsplit(".", 1)[-1]
        if leaf in INERT or leaf.startswith("_"):
            continue
        if isinstance(v, bool):
            switches.append((f, not v))
        elif v is None and not leaf.endswith(("_id", "_ids")) and "token" not in leaf:
            switches.append((f, NONE_VALUE))
    switches += [(f, NONE_VALUE) for f in GETATTR_FIELDS if f not in values]
    switches += HINTS.get(model_type, [])

    base_perturbed = perturb(d, values, sizes)
    check_point = d
    for f in sizes:
        check_point = with_value(check_point, f, values[f] * (3 if LAYER_COUNT.search(
            f.rsplit(".", 1)[-1]) else 4))
    check_built = build_all(classes, config_cls, check_point)
    out_classes: dict[str, Any] = {}
    for name in classes:
        spec = describe_point(name, base, base_perturbed, values)
        if spec is None:
            continue
        if check_built is not None:
            verify(name, spec, check_built)
        model = base.models[name]
        tied = dict(getattr(model, "all_tied_weights_keys", None) or {})
        flipped = build_all({name: classes[name]}, config_cls, {
            **d, "tie_word_embeddings": not base.config.to_dict().get("tie_word_embeddings")},
            keep=True)
        other = dict(getattr(flipped.models.get(name), "all_tied_weights_keys", None) or {}) \
            if flipped else {}
        with_embeddings = tied if base.config.to_dict().get("tie_word_embeddings") else other
        without = other if base.config.to_dict().get("tie_word_embeddings") else tied
        spec.update({
            "base_model_prefix": model.base_model_prefix,
            "tied": without,  # tied whatever tie_word_embeddings says
            "tied_with_embeddings": {k: v for k, v in with_embeddings.items()
                                     if without.get(k) != v},
            "ignore_missing": sorted(model._keys_to_ignore_on_load_missing or []),
            "ignore_unexpected": sorted(model._keys_to_ignore_on_load_unexpected or []),
            "buffers": sorted(n for n, _ in model.named_buffers()),
            "conversions": conversions(model),
            "switches": {},
        })
        out_classes[name] = spec
    # each switch: the keys it adds (with formulas), removes, or reshapes
    used_switches: list[dict[str, Any]] = []
    for f, value in switches:
        if time.monotonic() > deadline:
            raise TimeoutError
        if isinstance(value, str) and value.startswith("="):
            expr = value[1:]
            value = evaluate(expr, values)
        else:
            expr = None
        sd = with_value(d, f, value)
        point = build_all(classes, config_cls, sd)
        if point is None:
            continue
        changed = {n for n in out_classes if point.shapes.get(n) is not None and
                   set(point.shapes[n]) != set(base.shapes[n] or {})}
        reshaped = {n for n in out_classes if point.shapes.get(n) is not None and
                    n not in changed and point.shapes[n] != base.shapes[n]}
        if not changed and not reshaped:
            continue
        svalues = values_of(point.config)
        extra = [f] if is_size(f, svalues.get(f)) and f not in sizes else []
        sperturbed = perturb(sd, svalues, [*sizes, *extra])
        index = len(used_switches)
        used_switches.append({"field": f, "value": value, "equals": expr,
                              "base": values.get(f)})
        for n in changed | reshaped:
            sspec = describe_point(n, point, sperturbed, svalues)
            if sspec is None:
                continue
            bspec = out_classes[n]
            diff = {
                "add": {k: v for k, v in sspec["keys"].items() if k not in bspec["keys"]},
                "remove": sorted(k for k in bspec["keys"] if k not in sspec["keys"]),
                "shape": {k: v for k, v in sspec["keys"].items()
                          if k in bspec["keys"] and v != bspec["keys"][k]},
                "counts": {k: v for k, v in sspec["counts"].items()
                           if bspec["counts"].get(k) != v},
                "partial": sorted(set(sspec["partial"]) - set(bspec["partial"])),
            }
            bspec["switches"][str(index)] = diff
    switch_fields = {s["field"] for s in used_switches}
    defaults_needed = {f: values.get(f) for f in values
                       if is_size(f, values.get(f)) or f in switch_fields
                       or f.rsplit(".", 1)[-1] == "tie_word_embeddings"}
    defaults_needed.update({f: values.get(f) for f in switch_fields})
    # the other fields that could choose modules (a string, a list of strings): `check` trusts
    # its prediction of which keys exist only where config.json agrees with these
    fixed = {f: v for f, v in values.items() if f not in defaults_needed and _may_choose(f, v)}
    return {
        "model_type": model_type,
        "config_class": config_cls.__name__,
        "defaults": true_defaults(config_cls, defaults_needed),
        "derived": learn_derived(config_cls, d, sizes),
        "aliases": dict(getattr(config_cls, "attribute_map", {}) or {}),
        "switches": used_switches,
        "fixed": fixed,
        "length_rules": length_rules(model_type, sorted(out_classes)),
        # every field the config class has: a size-like field config.json sets beyond these
        # is one the generator never saw (check then declines to predict shapes)
        "known": sorted(values),
        "classes": out_classes,
    }


def config_rules() -> dict[str, Any]:
    """Rules every config class applies when it is read (PreTrainedConfig's validators), with
    transformers' own constants: `check` applies them to config.json."""
    from transformers import configuration_utils as cu

    rules: dict[str, Any] = {}
    if hasattr(cu.PreTrainedConfig, "validate_layer_type"):
        # layer_types (then mlp_layer_types): each entry allowed, one per hidden layer
        rules["layer_types"] = {
            "layer_types": list(getattr(cu, "ALLOWED_ATTN_LAYER_TYPES", ())),
            "mlp_layer_types": list(getattr(cu, "ALLOWED_MLP_LAYER_TYPES", ())),
        }
    return rules


def model_type_classes() -> dict[str, list[str]]:
    """model_type -> the classes an Auto class loads for it (from model_classes.json)."""
    data = json.loads((ROOT / "src/whyload/knowledge/model_classes.json").read_text())
    out: dict[str, list[str]] = {}
    for name, c in data["classes"].items():
        if c.get("auto") and c.get("model_type"):
            out.setdefault(c["model_type"], []).append(name)
    for _auto, mapping in data["auto"].items():
        for mt, names in mapping.items():
            for n in names if isinstance(names, list) else [names]:
                if n in data["classes"] and n not in out.setdefault(mt, []):
                    out[mt].append(n)
    return {mt: sorted(v) for mt, v in out.items()}


def main() -> None:
    import torch
    import transformers

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated model types")
    parser.add_argument("--budget-s", type=float, default=2400)
    parser.add_argument("--per-type-s", type=float, default=60)
    parser.add_argument("-v", action="store_true", help="print tracebacks")
    parser.add_argument("--refresh-defaults", action="store_true",
                        help="only rewrite the defaults and the index of the existing specs")
    parser.add_argument("--shard", default="0/1", help="i/n: every n-th type from the i-th "
                        "(run n at once on n cores)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    out_dir = OUT_ROOT / f"transformers-{transformers.__version__}"
    out_dir.mkdir(parents=True, exist_ok=True)
    by_type = model_type_classes()
    if args.refresh_defaults:
        refresh_defaults(out_dir)
        by_type = {}
    order = [t for t in POPULAR if t in by_type] + sorted(t for t in by_type if t not in POPULAR)
    if args.only:
        order = [t for t in args.only.split(",") if t in by_type]
    shard, shards = map(int, args.shard.split("/"))
    order = order[shard::shards]
    start = time.monotonic()
    index_file = out_dir / "index.json"
    index = json.loads(index_file.read_text()) if index_file.exists() else {"types": {},
                                                                            "failed": {}}
    for mt in order:
        if time.monotonic() - start > args.budget_s:
            print(f"budget spent; stopped before {mt}", file=sys.stderr)
            break
        t0 = time.monotonic()
        try:
            spec = describe_type(mt, by_type[mt], t0 + args.per_type_s)
        except TimeoutError:
            index["failed"][mt] = f"took over {args.per_type_s:.0f} s"
            print(f"{mt}: timeout", file=sys.stderr)
            continue
        except Exception as exc:  # a type whose defaults do not build is recorded, not fatal
            index["failed"][mt] = f"{type(exc).__name__}: {str(exc)[:200]}"
            print(f"{mt}: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
            if args.v:
                traceback.print_exc()
            continue
        text = json.dumps(spec, sort_keys=True, separators=(",", ":")) + "\n"
        # gzip (mtime 0: the same spec gives the same bytes): ~10x smaller in the wheel
        (out_dir / f"{mt}.json.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
        print(f"{mt}: {len(spec['classes'])} classes, {len(spec['switches'])} switches, "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
    if index_file.exists():  # another shard may have finished meanwhile
        index["failed"] = {**json.loads(index_file.read_text()).get("failed", {}),
                           **index["failed"]}
    index["types"] = {f.name.removesuffix(".json.gz"): sorted(
        json.loads(gzip.decompress(f.read_bytes()))["classes"])
        for f in sorted(out_dir.glob("*.json.gz"))}
    index["failed"] = {t: why for t, why in index["failed"].items() if t not in index["types"]}
    index.update({
        "schema": SCHEMA,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "generated": datetime.date.today().isoformat(),
        "script": "scripts/gen_arch_specs.py",
        "config_rules": config_rules(),
    })
    index_file.write_text(json.dumps(index, sort_keys=True, indent=1) + "\n")


if __name__ == "__main__":
    main()
