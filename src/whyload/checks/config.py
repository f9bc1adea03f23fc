"""WL3xx — configuration: does config.json exist, parse, and agree with the weights and the
tokenizer? Sizes are read back out of the weights' shapes (BERT family), never guessed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from whyload.checks.groups import SIZES_UNREADABLE
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.knowledge.families import effective_config, families
from whyload.modelview import model_view
from whyload.readers.jsonfile import MAX_JSON_BYTES
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

CONFIG = Category.CONFIG
# sizes that shape a tensor: a contradiction is a "size mismatch" at load time
SIZES = ("vocab_size", "hidden_size", "dim", "intermediate_size", "hidden_dim",
         "max_position_embeddings", "type_vocab_size", "embedding_size", "num_labels",
         "position_buckets", "max_relative_positions", "relative_attention_num_buckets")
# block counts: a contradiction silently drops or randomizes whole layers
COUNTS = ("num_hidden_layers", "n_layers", "num_hidden_groups", "inner_group_num")


def _config(snap: Snapshot) -> dict[str, Any] | None:
    return model_view(snap).config


@check("WL300", "config-missing", CONFIG)
def config_missing(snap: Snapshot) -> Iterator[Problem]:
    """No config.json beside the weights

    from_pretrained reads config.json first: "OSError: … does not appear to have a file named
    config.json". For BERT-family weights, most of it can be read back from the tensor shapes.
    """
    if snap.config_name is not None or snap.plan.format is None or snap.plan.adapter:
        return
    if snap.artifact.focus is not None:
        return
    view = model_view(snap)
    guessed = view.weights_type
    inferred = {k: v.value for k, v in view.inferred.items()}
    draft: dict[str, Any] = {}
    if guessed:
        fam = families()[guessed]
        base = next(n for n, c in fam["classes"].items() if c["head"] == "Model")
        draft = {"model_type": guessed, "architectures": [base], **inferred}
    detail = "The folder has weights but no config.json."
    if draft:
        detail += (f" The weights are {guessed} weights; the sizes below are read from their "
                   "shapes. num_attention_heads is not in the weights: take it from the base "
                   "model's config.")
    yield Problem(
        title="config.json is missing",
        detail=detail,
        evidence={"inferred_config": draft},
        fix=(f"write config.json: {json.dumps(draft)}" if draft
             else "copy config.json from the model this checkpoint was trained from"),
    )


@check("WL301", "config-invalid-json", CONFIG)
def config_invalid(snap: Snapshot) -> Iterator[Problem]:
    """config.json is not valid JSON (or not a JSON object)

    A hand edit that left a trailing comma, a truncated copy, a merge conflict marker:
    "json.decoder.JSONDecodeError: Expecting … line L column C".
    """
    doc = snap.config
    name = snap.config_name
    if doc is None or name is None:
        return
    if doc.ok and isinstance(doc.value, dict):
        return
    if doc.ok:
        yield Problem(title=f"{name} is a JSON {type(doc.value).__name__}, not an object",
                      detail="transformers reads it and finds no model_type: \"ValueError: "
                      "Unrecognized model in …. Should have a `model_type` key in its "
                      "config.json\".",
                      evidence={"file": name}, fix=f"restore {name} from the model's source",
                      file=name)
        return
    if doc.bom:
        yield Problem(
            title=f"{name} starts with a UTF-8 byte-order mark (BOM): transformers refuses it",
            detail="transformers opens it as plain UTF-8 and json.load stops at the mark "
            "(\"Unexpected UTF-8 BOM\"): from_pretrained raises \"OSError: It looks like the "
            f"config file at '…/{name}' is not a valid JSON file\". An editor (Notepad, some "
            "Windows tools) added it; the JSON after it is fine.",
            evidence={"file": name, "error": doc.error, "bom": True, "line": 1, "column": 1},
            fix=fix_commands.without_bom(snap.artifact.root, name), file=name)
        return
    if doc.size > MAX_JSON_BYTES:  # not read: no real config comes near the limit
        yield Problem(
            title=f"{name} is {doc.size:,} bytes, too large to be a model config",
            detail=f"Real configs are a few kB (whyload reads at most {MAX_JSON_BYTES:,} bytes "
            "of JSON). Something else was saved under this name; from_pretrained would read it "
            "all into memory and fail to parse it as a config.",
            evidence={"file": name, "size": doc.size, "read_limit": MAX_JSON_BYTES},
            fix=f"head -c 300 {name}  # see what it is; restore {name} from the model's source",
            file=name)
        return
    where = f" at line {doc.line}, column {doc.column}" if doc.line else ""
    yield Problem(
        title=f"{name} is not valid JSON: {doc.error}{where}",
        detail=(f"Line {doc.line}: {doc.context!r}" if doc.context is not None else doc.error
                or ""),
        evidence={"file": name, "error": doc.error, "line": doc.line, "column": doc.column,
                  "context": doc.context},
        fix=f"fix {name}{where} (python -m json.tool {name} shows the spot)", file=name,
    )


@check("WL305", "config-duplicate-key", CONFIG, requires=["WL301"])
def duplicate_keys(snap: Snapshot) -> Iterator[Problem]:
    """config.json sets the same key twice: transformers takes the last value

    json.load keeps the last of repeated keys without a word; a hand edit or a merge that added
    a second "hidden_size" decides the model's shape from whichever came last.
    """
    doc = snap.config
    name = snap.config_name
    if doc is None or not doc.ok or not doc.duplicates or name is None:
        return
    for key, values in doc.duplicates:
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE,
            title=f"{name} sets {key!r} {len(values)} times; transformers uses the last, "
            f"{json.dumps(values[-1])}",
            detail=f"Values in order: {', '.join(json.dumps(v) for v in values)}. json.load "
            "keeps the last one; the others are ignored.",
            evidence={"file": name, "key": key, "values": list(values), "used": values[-1]},
            fix=f"keep one {key!r} in {name} (the value the model was trained with)", file=name)


@check("WL302", "bert-config-only", CONFIG)
def bert_config_only(snap: Snapshot) -> Iterator[Problem]:
    """bert_config.json instead of config.json

    The original Google BERT releases name it bert_config.json and omit model_type; transformers
    only reads config.json.
    """
    if snap.config_name != "bert_config.json":
        return
    yield Problem(
        title="the config is bert_config.json; from_pretrained reads config.json",
        detail="bert_config.json is the original Google release's name, without model_type.",
        evidence={"file": "bert_config.json"},
        fix="python -c \"import json; c = json.load(open('bert_config.json')); "
        "c['model_type'] = 'bert'; json.dump(c, open('config.json', 'w'), indent=2)\"",
        file="bert_config.json",
    )


@check("WL303", "no-model-type", CONFIG, requires=["WL301"],
       superseded_by=["WL108", "WL109"])
def no_model_type(snap: Snapshot) -> Iterator[Problem]:
    """config.json has no model_type

    AutoConfig/AutoModel fail with "Unrecognized model in …. Should have a model_type key in its
    config.json" (transformers 4 guessed from the folder's name; 5 does not). A concrete class
    (BertModel.from_pretrained) still loads it.
    """
    config = _config(snap)
    if config is None or snap.config_name != "config.json":
        return
    if isinstance(config.get("model_type"), str) and config["model_type"]:
        return
    view = model_view(snap)
    archs = config.get("architectures")
    from_arch = None
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        from_arch = next((mt for mt, fam in families().items() if archs[0] in fam["classes"]),
                         None)
    guess = from_arch or view.weights_type
    concrete = view.load_class is not None and view.class_source == "--class" and \
        not view.load_class.name.startswith("Auto")
    yield Problem(
        severity=Severity.WARNING if concrete else Severity.ERROR,
        effect=Effect.NONE if concrete else Effect.RAISES,
        title="config.json has no model_type",
        detail="AutoConfig/AutoModel (and pipelines) cannot tell which architecture to build"
        + (f"; {view.target_class}.from_pretrained still works" if concrete else "")
        + (f". The {'architectures field' if from_arch else 'weights'} say {guess!r}." if guess
           else "."),
        evidence={"inferred_model_type": guess},
        fix=f"add \"model_type\": \"{guess}\" to config.json" if guess
        else "add the model_type of the architecture the weights were trained with",
        file="config.json",
    )


@check("WL304", "config-value-type", CONFIG, requires=["WL301"])
def value_types(snap: Snapshot) -> Iterator[Problem]:
    """A config value of the wrong type ("hidden_size": "768", a float layer count)

    The model is built from these numbers: a string or a fraction fails in the constructor with
    a TypeError far from its cause.
    """
    view = model_view(snap)
    config = view.config
    if config is None or view.family is None:
        return
    defaults = families()[view.family]["defaults"]
    for key, default in defaults.items():
        value = config.get(key)
        if value is None or not isinstance(default, int) or isinstance(default, bool):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            continue
        if isinstance(value, float) and value.is_integer():
            continue
        yield Problem(
            title=f"config.json: {key} is {json.dumps(value)}, not a whole number",
            detail=f"{key} sizes tensors; {type(value).__name__} {value!r} cannot.",
            evidence={"field": key, "value": value, "type": type(value).__name__},
            fix=f"set \"{key}\": {_as_int(value)} in config.json" if _as_int(value) is not None
            else f"set {key} to the integer the model was trained with",
            file="config.json",
        )


def _as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def config_values(snap: Snapshot) -> dict[str, Any] | None:
    view = model_view(snap)
    if view.config is None or view.family is None:
        return None
    try:
        return effective_config(view.family, view.config)
    except (TypeError, ValueError, KeyError):
        return None


@check("WL310", "size-contradicts-weights", CONFIG, requires=[SIZES_UNREADABLE])
def sizes_contradict(snap: Snapshot) -> Iterator[Problem]:
    """A size in config.json that the weights contradict (vocab_size, hidden_size, …)

    The model is built from config.json and then filled from the weights: "size mismatch for
    bert.embeddings.word_embeddings.weight: copying a param with shape [28996, 768] from
    checkpoint, the shape in current model is [30522, 768]".
    """
    view = model_view(snap)
    values, fields = _sizes(snap)
    if values is None:
        return
    mismatched = view.prediction.mismatched if view.prediction else {}
    quantized = snap.quantization
    for attr in fields:
        seen = view.inferred.get(attr)
        said = values.get(attr)
        if seen is None or said is None or seen.value == said:
            continue
        if quantized is not None and quantized.quantized(seen.key):
            continue  # a packed shape (4-bit bytes, int32 words) says nothing of the config
        raises = any(seen.key.endswith(k.split(".", 1)[-1]) or k == seen.key for k in mismatched)
        if attr == "num_labels" and not raises:
            continue  # only the class's own head says what num_labels must be (MultipleChoice: 1)
        severity = Severity.ERROR if raises or view.prediction is None else Severity.WARNING
        fix_key = "id2label" if attr == "num_labels" else attr
        fix = (f"set \"num_labels\": {seen.value} (and an id2label with {seen.value} entries)"
               if attr == "num_labels" else f"set \"{fix_key}\": {seen.value} in config.json")
        yield Problem(
            severity=severity, effect=Effect.RAISES,
            title=f"config.json says {attr} {said}, the weights say {seen.value}",
            detail=f"{seen.key} has shape {list(seen.shape)}; a model built with {attr}={said} "
            "expects another shape, and from_pretrained stops with a size mismatch.",
            evidence={"field": attr, "config": said, "weights": seen.value, "tensor": seen.key,
                      "shape": list(seen.shape)},
            fix=fix, file="config.json",
        )


def _sizes(snap: Snapshot) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """config.json's values as the modeling code reads them, and the size fields to compare
    with the weights: the BERT-family spec's, else the generated spec's (every field a weight
    dimension names on its own). (None, ()) when neither describes this model."""
    view = model_view(snap)
    if view.wrapper:
        return None, ()
    values = config_values(snap)
    if values is not None:
        if view.weights_type is None or not _same_layout(view.family, view.weights_type):
            return None, ()  # another family's key layout: its sizes are not these (WL420)
        return values, SIZES
    if view.values is None:
        return None, ()
    return view.values, tuple(sorted(f for f in view.inferred if f not in view.count_fields))


def _same_layout(family: str | None, weights_type: str | None) -> bool:
    """bert, roberta, xlm-roberta, camembert and electra share one key layout."""
    bert_like = {"bert", "roberta", "xlm-roberta", "camembert", "electra"}
    return family == weights_type or (family in bert_like and weights_type in bert_like)


def _layers(snap: Snapshot) -> Iterator[tuple[str, int, int, str]]:
    view = model_view(snap)
    values = config_values(snap)
    counts: tuple[str, ...] | frozenset[str] = COUNTS
    if values is None or not _same_layout(view.family, view.weights_type):
        values, counts = view.values, view.count_fields
    if values is None or view.wrapper:
        return
    for attr in sorted(counts):
        seen = view.inferred.get(attr)
        said = values.get(attr)
        if seen is not None and isinstance(said, int) and said != seen.value:
            yield attr, said, seen.value, seen.key


def _layers_effect(snap: Snapshot) -> Effect:
    """Silent, unless a weight of the layers that do load has the wrong shape too (YOLOS keeps
    a position embedding per layer): then from_pretrained raises first."""
    view = model_view(snap)
    return Effect.RAISES if view.prediction is not None and view.prediction.mismatched else \
        Effect.SILENT


@check("WL311", "fewer-layers-in-config", CONFIG, requires=[SIZES_UNREADABLE])
def fewer_layers(snap: Snapshot) -> Iterator[Problem]:
    """config.json has fewer layers than the weights: the extra layers are silently dropped

    No exception: from_pretrained builds the smaller model, lists the extra layers as unused
    weights in a log line, and returns a model that is not the one that was trained.
    """
    for attr, said, seen, key in _layers(snap):
        if said < seen:
            yield Problem(
                effect=_layers_effect(snap),
                title=f"config.json says {attr} {said}, the weights hold {seen}",
                detail=f"Layers {said}..{seen - 1} (up to {key}) would be dropped without an "
                "error; the outputs change.",
                evidence={"field": attr, "config": said, "weights": seen, "last_key": key},
                fix=f"set \"{attr}\": {seen} in config.json", file="config.json",
            )


@check("WL312", "more-layers-in-config", CONFIG, requires=[SIZES_UNREADABLE])
def more_layers(snap: Snapshot) -> Iterator[Problem]:
    """config.json has more layers than the weights: the missing layers are randomly initialized

    No exception: from_pretrained reports them as newly initialized in a log line and returns a
    model whose last layers are random.
    """
    for attr, said, seen, key in _layers(snap):
        if said > seen:
            yield Problem(
                effect=_layers_effect(snap),
                title=f"config.json says {attr} {said}, the weights hold only {seen}",
                detail=f"Layers {seen}..{said - 1} would be created at random: the model loads "
                "and predicts garbage.",
                evidence={"field": attr, "config": said, "weights": seen, "last_key": key},
                fix=f"set \"{attr}\": {seen} in config.json", file="config.json",
            )


@check("WL314", "layer-types-disagree", CONFIG, requires=["WL301"])
def layer_types_disagree(snap: Snapshot) -> Iterator[Problem]:
    """config.json's layer_types does not have one entry per hidden layer (or names an unknown one)

    transformers 5 validates it while reading the config and refuses: "`num_hidden_layers` (20)
    must be equal to the number of `layer_types` (24)" — typically a model pruned by editing
    num_hidden_layers, with layer_types left as it was.
    """
    from whyload.knowledge import specs

    config = _config(snap)
    installed = snap.env.versions.get("transformers") if snap.env else None
    version = specs.version_for(installed)
    if config is None or version is None or not specs.covers(installed):
        return
    rules = specs.config_rules(version).get("layer_types")
    if not rules:
        return
    for where, section in _sections(config):
        for name, allowed in rules.items():  # transformers stops at the first one not set
            layers = section.get(name)
            if not isinstance(layers, list):
                break
            layers_n = section.get("num_hidden_layers")
            unknown = sorted({str(t) for t in layers} - set(allowed))
            path = f"{where}{name}"
            if unknown:
                yield Problem(
                    effect=Effect.RAISES,
                    title=f"{path} names {', '.join(unknown)}, which transformers does not know",
                    detail=f"transformers {version} accepts {', '.join(allowed)} and refuses the "
                    f"config: \"The `{name}` entries must be in …\".",
                    evidence={"field": path, "unknown": unknown, "allowed": list(allowed)},
                    fix=f"use one of {', '.join(allowed)} for each layer", file="config.json",
                )
            elif isinstance(layers_n, int) and not isinstance(layers_n, bool) and \
                    layers_n != len(layers):
                yield Problem(
                    effect=Effect.RAISES,
                    title=f"{where}num_hidden_layers is {layers_n}, {path} lists {len(layers)} "
                    "layers",
                    detail=f"transformers refuses the config: \"`num_hidden_layers` ({layers_n}) "
                    f"must be equal to the number of `{name}` ({len(layers)})\".",
                    evidence={"field": path, "num_hidden_layers": layers_n,
                              "entries": len(layers)},
                    fix=f"make {path} list one entry per layer ({layers_n}), or set "
                    f"num_hidden_layers to {len(layers)} if the weights hold that many",
                    file="config.json",
                )


@check("WL315", "per-layer-list-disagrees", CONFIG, requires=["WL301"])
def per_layer_list(snap: Snapshot) -> Iterator[Problem]:
    """A config list that must hold one entry per layer has another length

    Longformer and LED keep an attention_window per layer, Gemma 3n an intermediate_size per
    layer; transformers refuses the model when the layer count was edited and the list was not:
    "`len(config.attention_window)` should equal `config.num_hidden_layers`. Expected 13, given
    12". Which lists these are comes from the generated specs (transformers refusing a changed
    count with the list kept).
    """
    from whyload.knowledge import specs

    view = model_view(snap)
    generated, config = view.generated, view.config
    if generated is None or config is None:
        return
    tspec = specs.type_spec(generated.version, generated.model_type) or {}
    for rule in tspec.get("length_rules", []):
        entries, layers = config.get(rule["list"]), generated.values.get(rule["count"])
        if not isinstance(entries, list) or not isinstance(layers, int) or \
                len(entries) == layers:
            continue
        yield Problem(
            effect=Effect.RAISES,
            title=f"{rule['list']} lists {len(entries)} layers, {rule['count']} is {layers}",
            detail=f"transformers {generated.version} needs one entry per layer and refuses "
            f"the model ({rule['error']}, as in \"{rule['message']}\").",
            evidence={"field": rule["list"], "entries": len(entries), "count_field":
                      rule["count"], "layers": layers},
            fix=f"give {rule['list']} one entry per layer ({layers}), or set {rule['count']} "
            f"to {len(entries)} if the weights hold that many", file="config.json",
        )


def _sections(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """config.json and its sub-configs (text_config, …), each validated on its own."""
    yield "", config
    for key, value in config.items():
        if key.endswith("_config") and isinstance(value, dict):
            yield f"{key}.", value


@check("WL320", "heads-do-not-divide-hidden", CONFIG, requires=[SIZES_UNREADABLE])
def heads_divide_hidden(snap: Snapshot) -> Iterator[Problem]:
    """hidden_size is not a multiple of num_attention_heads

    The attention layer refuses to build: "The hidden size (768) is not a multiple of the number
    of attention heads (10)".
    """
    values = config_values(snap)
    if values is None:
        return
    hidden = values.get("hidden_size", values.get("dim"))
    heads = values.get("num_attention_heads", values.get("n_heads"))
    if not isinstance(hidden, int) or not isinstance(heads, int) or heads <= 0:
        return
    if hidden % heads == 0:
        return
    divisors = [d for d in (1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 64) if hidden % d == 0]
    yield Problem(
        title=f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}",
        detail="Each head gets hidden_size / num_attention_heads dimensions; the model cannot "
        "be built.",
        evidence={"hidden_size": hidden, "num_attention_heads": heads},
        fix=f"set num_attention_heads to the value the model was trained with "
        f"(a divisor of {hidden}: {', '.join(map(str, divisors[-4:]))}, …)",
        file="config.json",
    )


@check("WL321", "labels-inconsistent", CONFIG, requires=["WL301"])
def labels_inconsistent(snap: Snapshot) -> Iterator[Problem]:
    """id2label, label2id and num_labels disagree

    A num_labels that contradicts id2label raises when the config loads; a label2id that is not
    id2label's inverse makes pipelines print the wrong label names.
    """
    config = _config(snap)
    if config is None:
        return
    id2label = config.get("id2label")
    label2id = config.get("label2id")
    num = config.get("num_labels")
    if isinstance(id2label, dict) and isinstance(num, int) and num != len(id2label):
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE,
            title=f"num_labels is {num} but id2label has {len(id2label)} entries",
            detail="transformers keeps num_labels and replaces the label names with LABEL_0…"
            f"LABEL_{num - 1}: predictions lose their names.",
            evidence={"num_labels": num, "id2label_size": len(id2label)},
            fix="remove num_labels from config.json (id2label defines it)", file="config.json",
        )
    if isinstance(id2label, dict) and isinstance(label2id, dict):
        inverse = {str(v): k for k, v in label2id.items()}
        wrong = sorted(k for k, v in id2label.items() if inverse.get(str(k)) != v)
        if wrong or len(label2id) != len(id2label):
            yield Problem(
                severity=Severity.WARNING, effect=Effect.NONE,
                title="label2id is not the inverse of id2label",
                detail=f"{len(wrong)} labels disagree (e.g. id {wrong[0] if wrong else '?'}): "
                "predicted ids map to the wrong names.",
                evidence={"ids": wrong[:10], "id2label": dict(list(id2label.items())[:10]),
                          "label2id": dict(list(label2id.items())[:10])},
                fix="rebuild label2id as {name: id for id, name in id2label.items()}",
                file="config.json",
            )


def embedding_rows(snap: Snapshot) -> tuple[int, str] | None:
    view = model_view(snap)
    seen = view.inferred.get("vocab_size")
    if seen is not None:
        return seen.value, f"{seen.key} {list(seen.shape)}"
    values = config_values(snap)
    if values is not None and isinstance(values.get("vocab_size"), int):
        return values["vocab_size"], "config.json vocab_size"
    return None


# model types whose embeddings take a fixed padding_idx, not config.pad_token_id
FIXED_PADDING_IDX = frozenset({"mpnet"})
SPECIAL_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id",
               "decoder_start_token_id")


@check("WL331", "special-token-id-out-of-range", CONFIG, requires=[SIZES_UNREADABLE])
def special_ids(snap: Snapshot) -> Iterator[Problem]:
    """A special token id in config.json beyond the vocabulary

    pad_token_id becomes the embedding's padding_idx, which must be below vocab_size: building
    the model raises "Padding_idx must be within num_embeddings" (MPNet excepted: its padding_idx
    is fixed at 1). The other ids are not read while loading: the model loads intact, and
    generation or the first input that uses the id fails — a warning about inference.
    """
    config = _config(snap)
    rows = embedding_rows(snap)
    if config is None or rows is None:
        return
    view = model_view(snap)
    for key in SPECIAL_IDS:
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < rows[0]:
            continue
        builds_padding = key == "pad_token_id" and view.family not in FIXED_PADDING_IDX
        yield Problem(
            severity=Severity.ERROR if builds_padding else Severity.WARNING,
            effect=Effect.RAISES if builds_padding else Effect.NONE,
            title=f"{key} {value} is beyond the {rows[0]:,}-row vocabulary",
            detail=f"{rows[1]}: ids run 0..{rows[0] - 1}. " + (
                "It is the embedding's padding_idx: from_pretrained raises \"AssertionError: "
                "Padding_idx must be within num_embeddings\"." if builds_padding else
                "The model loads intact; inference that uses this id fails."),
            evidence={"field": key, "value": value, "vocab_rows": rows[0]},
            fix=f"set \"{key}\" to the tokenizer's id for that token (tokenizer."
            f"{key.removesuffix('_id')}_id)", file="config.json",
        )


@check("WL340", "config-dtype-differs-from-weights", CONFIG, requires=["WL301"])
def dtype_differs(snap: Snapshot) -> Iterator[Problem]:
    """config.json's dtype differs from the weights' dtype

    transformers 5 loads in the config's dtype by default (dtype="auto"): float32 weights under
    "dtype": "float16" come back as float16 — half the memory, less precision — without a word.
    """
    said = snap.config_dtype()
    weights = snap.planned_tensors()
    if said is None or not weights:
        return
    stored = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64"}.get(said)
    quantized = snap.quantization  # its fp8 weights and float scales are kept as stored
    floats = {t.dtype for k, t in weights.items() if t.dtype.startswith(("F", "BF"))
              and (quantized is None or not quantized.quantized(k))}
    if stored is None or not floats or floats == {stored}:
        return
    loads_as = snap.load_dtype()
    yield Problem(
        severity=Severity.INFO, effect=Effect.NONE,
        title=f"config.json says dtype {said}; the weights are {'/'.join(sorted(floats))}",
        detail=(f"from_pretrained converts them to {loads_as} by default."
                if loads_as == said else
                "transformers 4 loads them as stored; 5 converts them to the config's dtype."),
        evidence={"config_dtype": said, "weights": sorted(floats), "loads_as": loads_as},
        fix="pass dtype= explicitly to choose, or set \"dtype\" in config.json to match",
        file=snap.config_name,
    )


# input embedding matrices by the names transformers models give them (rows = vocab_size)
EMBEDDING_KEYS = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight",
                  "shared.weight", "tok_embeddings.weight")


@check("WL313", "vocab-contradicts-embeddings", CONFIG, requires=[SIZES_UNREADABLE])
def vocab_vs_embeddings(snap: Snapshot) -> Iterator[Problem]:
    """config.json's vocab_size differs from the rows of the embedding matrix (any model type)

    Every transformers model builds nn.Embedding(vocab_size, hidden): a checkpoint saved after
    resize_token_embeddings with a stale config (or the reverse) fails with "size mismatch for
    model.embed_tokens.weight". The BERT family gets the full size check (WL310); this covers
    the rest, without --deep.
    """
    view = model_view(snap)
    if view.family is not None or view.values is not None or view.config is None or \
            view.wrapper:
        return  # the BERT-family and the generated specs compare every size (WL310)
    said = view.config.get("vocab_size")
    if not isinstance(said, int) or isinstance(said, bool):
        return
    for key, shape in sorted(view.checkpoint.items()):
        if key.endswith(EMBEDDING_KEYS) and len(shape) == 2 and "vision" not in key:
            if shape[0] == said:
                return
            yield Problem(
                title=f"config.json says vocab_size {said}, {key} has {shape[0]:,} rows",
                detail="The model is built with vocab_size rows and filled from the weights: "
                "from_pretrained stops with a size mismatch.",
                evidence={"config": said, "weights": shape[0], "tensor": key,
                          "shape": list(shape)},
                fix=f"set \"vocab_size\": {shape[0]} in config.json", file="config.json",
            )
            return


@check("WL322", "distilbert-qa-labels", CONFIG, requires=["WL301"])
def distilbert_qa_labels(snap: Snapshot) -> Iterator[Problem]:
    """DistilBertForQuestionAnswering with num_labels other than 2

    Its head predicts a start and an end: the constructor refuses anything else ("config.
    num_labels should be 2, but it is 3").
    """
    view = model_view(snap)
    values = config_values(snap)
    if view.target_class != "DistilBertForQuestionAnswering" or values is None:
        return
    if values.get("num_labels") == 2:
        return
    yield Problem(
        title=f"DistilBertForQuestionAnswering needs num_labels 2; config.json gives "
        f"{values.get('num_labels')}",
        detail="Question answering predicts a start and an end position.",
        evidence={"num_labels": values.get("num_labels")},
        fix="remove id2label/label2id/num_labels from config.json (2 is the default)",
        file="config.json",
    )
