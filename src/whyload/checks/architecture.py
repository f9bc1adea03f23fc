"""WL4xx — architecture: which weights would from_pretrained leave missing, drop, reject for
shape, or initialize at random, for the class the model is loaded into?

The expected keys and shapes come from the BERT-family spec (knowledge/families.py), checked
against transformers itself by tests/test_family_spec.py. "Loads broken" starts here: a missing
weight is no exception, only a log line and a random tensor.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Iterator

from whyload.checks.groups import STRUCTURE
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.knowledge.families import FAMILY_PREFIXES, families, knows_key
from whyload.modelview import ModelView, head_keys, model_view
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

ARCH = Category.ARCHITECTURE
BERT_LIKE = {"bert", "roberta", "xlm-roberta", "camembert", "electra"}


def _sample(keys: list[str] | set[str] | frozenset[str], n: int = 6) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" … (+{len(keys) - n})" if len(keys) > n else "")


def _prefix(view: ModelView) -> str:
    return view.spec.base_model_prefix if view.spec else ""


def _claims_head(view: ModelView) -> bool:
    """Whether the checkpoint says it was saved by the class it is loaded into."""
    archs = (view.config or {}).get("architectures")
    return isinstance(archs, list) and view.target_class in archs


def _strip_fix(snap: Snapshot, prefix: str) -> str:
    return fix_commands.strip_prefix(
        snap.artifact.root,
        snap.plan.files[0] if snap.plan.files else "pytorch_model.bin", prefix)


@check("WL410", "wrapper-prefix", ARCH)
def wrapper_prefix(snap: Snapshot) -> Iterator[Problem]:
    """Every key carries a wrapper's prefix: `module.` (DataParallel/DDP) or `_orig_mod.`
    (torch.compile)

    The state dict was saved from the wrapper, not the model: no key matches, from_pretrained
    initializes every weight at random and only logs it ("Unexpected key(s) in state_dict:
    module.bert.embeddings…").
    """
    view = model_view(snap)
    if view.wrapper not in ("module.", "_orig_mod."):
        return
    source = "DataParallel / DistributedDataParallel" if view.wrapper == "module." else \
        "torch.compile"
    yield Problem(
        effect=Effect.SILENT,
        title=f"every weight name starts with {view.wrapper!r}: saved from the {source} wrapper",
        detail=f"{len(view.checkpoint)} keys like {next(iter(view.checkpoint))!r}; none matches "
        "the model, so every weight would be random.",
        evidence={"prefix": view.wrapper, "keys": len(view.checkpoint),
                  "example": next(iter(view.checkpoint))},
        fix=_strip_fix(snap, view.wrapper) + f"; in training code, save model"
        f"{'.module' if view.wrapper == 'module.' else '._orig_mod'}.state_dict()",
    )


@check("WL411", "training-checkpoint-nesting", ARCH)
def training_nesting(snap: Snapshot) -> Iterator[Problem]:
    """A training checkpoint (Lightning, a Trainer loop) instead of a model state dict

    The weights sit under `state_dict` (or `model`) next to optimizer state and epochs, and their
    names carry the LightningModule's attribute (`model.bert…`): from_pretrained finds none of
    them.
    """
    view = model_view(snap)
    for name in snap.plan.files:
        f = snap.file(name)
        if f is None or f.torch is None or not f.torch.nesting:
            continue
        path = "".join(f"[{k!r}]" for k in f.torch.nesting)
        prefix = view.wrapper or ""
        yield Problem(
            title=f"{name} is a training checkpoint: the weights are under {path}",
            detail=f"Top-level keys: {', '.join(f.torch.top_keys[:8])}. from_pretrained expects "
            "a flat dict of tensors" + (f" named without {prefix!r}" if prefix else "") + ".",
            evidence={"file": name, "nesting": list(f.torch.nesting),
                      "top_keys": list(f.torch.top_keys[:20]), "key_prefix": prefix or None},
            fix=fix_commands.extract_state_dict(snap.artifact.root, name, path, prefix), file=name,
        )
        return
    if view.wrapper == "model.":
        yield Problem(
            effect=Effect.SILENT,
            title="every weight name starts with 'model.': saved from a wrapping module",
            detail="A LightningModule (or a custom nn.Module) holding the model as self.model "
            "saved its own state dict; no key matches the model's names.",
            evidence={"prefix": "model.", "example": next(iter(view.checkpoint))},
            fix=_strip_fix(snap, "model."),
        )


@check("WL412", "foreign-prefix", ARCH)
def foreign_prefix(snap: Snapshot) -> Iterator[Problem]:
    """Weight names under a prefix the model does not use (`bert_model.`, `encoder.`, …)

    Keys saved from a custom wrapper module do not map onto the class's base_model_prefix:
    everything is reported missing and initialized at random, with no exception.
    """
    view = model_view(snap)
    pred = view.prediction
    if pred is None or not pred.expected or not view.checkpoint:
        return
    firsts = Counter(k.split(".", 1)[0] for k in view.checkpoint)
    first, count = firsts.most_common(1)[0]
    if count < 0.8 * len(view.checkpoint) or first in FAMILY_PREFIXES.values():
        return  # a wrapper prefix is on (nearly) every key, a head may sit beside it
    if len(pred.missing) < 0.9 * len(pred.expected):
        return
    prefix = f"{first}."
    base = _prefix(view)
    stripped = {k[len(prefix):] for k in view.checkpoint if k.startswith(prefix)}
    matches = sum(1 for k in pred.expected
                  if k in stripped or k.removeprefix(base + ".") in stripped)
    yield Problem(
        effect=Effect.SILENT,
        title=f"the weight names start with {prefix!r}, which {view.target_class} does not use",
        detail=f"{len(pred.missing)} of {len(pred.expected)} weights would be random; without "
        f"the prefix, {matches} names match.",
        evidence={"prefix": prefix, "missing": len(pred.missing),
                  "expected": len(pred.expected), "match_without_prefix": matches},
        fix=_strip_fix(snap, prefix),
    )


_POOLER = re.compile(r"(^|\.)pooler\.")
_INDEXES = re.compile(r"\.\d+(?=\.|$)")


def _layout(family: str | None) -> str | None:
    return "bert-like" if family in BERT_LIKE else family


@check("WL420", "other-family-weights", ARCH)
def other_family(snap: Snapshot) -> Iterator[Problem]:
    """Weights of another model family than the class they are loaded into

    BERT weights under model_type roberta (or an ALBERT checkpoint into BertModel) load without
    an exception: the names do not match, so the model comes back random.
    """
    view = model_view(snap)
    if view.class_family not in families() or view.weights_type is None or view.wrapper:
        return
    if {view.class_family, view.weights_type} == {"deberta", "deberta-v2"}:
        return  # WL422
    prefix = _prefix(view)
    firsts = {k.split(".", 1)[0] for k in view.checkpoint}
    foreign = sorted((firsts & set(FAMILY_PREFIXES.values())) - {prefix})
    if _layout(view.class_family) == _layout(view.weights_type) and not foreign:
        return
    weights = foreign[0] if foreign else view.weights_type
    yield Problem(
        effect=Effect.SILENT,
        title=f"these are {weights} weights; {view.target_class} is a {view.class_family} model",
        detail=(f"config.json says model_type {view.model_type!r}" if view.model_type else
                "The class") + f", but the weights are named like {weights} "
        f"({_sample([k for k in view.checkpoint], 2)}). Their names do not match, so "
        f"{view.target_class} would start from random weights.",
        evidence={"weights_family": weights, "class": view.target_class,
                  "model_type": view.model_type},
        fix=f"set \"model_type\": \"{view.weights_type}\" (and a {view.weights_type} "
        f"architectures entry) in config.json, or load with the {weights} class",
        file="config.json",
    )


@check("WL421", "electra-generator-discriminator", ARCH)
def electra_roles(snap: Snapshot) -> Iterator[Problem]:
    """An ELECTRA discriminator loaded as the generator (ElectraForMaskedLM), or the reverse

    ELECTRA trains two networks; a checkpoint holds the one it was converted from. The masked-LM
    head of a discriminator checkpoint is random: gibberish predictions, no exception.
    """
    view = model_view(snap)
    if view.class_family != "electra" or not view.target_class:
        return
    keys = " ".join(view.checkpoint)
    has_gen = "generator_predictions" in keys or "generator_lm_head" in keys
    has_disc = "discriminator_predictions" in keys
    wants_gen = view.target_class == "ElectraForMaskedLM"
    wants_disc = view.target_class == "ElectraForPreTraining"
    if wants_gen and has_disc and not has_gen:
        role, other, cls = "discriminator", "generator", "ElectraForPreTraining"
    elif wants_disc and has_gen and not has_disc:
        role, other, cls = "generator", "discriminator", "ElectraForMaskedLM"
    else:
        return
    yield Problem(
        effect=Effect.SILENT,
        title=f"an ELECTRA {role} checkpoint loaded as the {other} ({view.target_class})",
        detail=f"The weights hold the {role}'s head; {view.target_class} needs the {other}'s, "
        "which would be random.",
        evidence={"class": view.target_class, "checkpoint_role": role},
        fix=f"load it with {cls}, or use the {other} checkpoint",
    )


@check("WL422", "deberta-v1-v2", ARCH)
def deberta_versions(snap: Snapshot) -> Iterator[Problem]:
    """DeBERTa v2/v3 weights loaded into a DeBERTa (v1) class, or the reverse

    The two versions differ in attention layout and relative embeddings: "size mismatch for
    deberta.encoder.rel_embeddings.weight", or weights that silently do not match.
    """
    view = model_view(snap)
    if {view.class_family, view.weights_type} != {"deberta", "deberta-v2"}:
        return
    right = "DebertaV2" if view.weights_type == "deberta-v2" else "Deberta"
    head = families()[view.class_family or ""]["classes"][view.target_class or ""]["head"]
    yield Problem(
        title=f"{view.weights_type} weights loaded into {view.target_class}",
        detail=f"The weights have {view.weights_type}'s attention layout; "
        f"{view.target_class} is {view.class_family}.",
        evidence={"weights": view.weights_type, "class": view.target_class},
        fix=f"load with AutoModel{head.removeprefix('Model')} or {right}{head}, and set "
        f"\"model_type\": \"{view.weights_type}\" in config.json",
    )


@check("WL406", "auto-class-unsupported", ARCH)
def auto_class_unsupported(snap: Snapshot) -> Iterator[Problem]:
    """An Auto class that has no model for this model_type

    "Unrecognized configuration class <class 'BertConfig'> for this kind of AutoModel:
    AutoModelForSeq2SeqLM": encoder-only models have no generation or vision heads.
    """
    view = model_view(snap)
    if view.load_class is None or view.load_class.supported:
        return
    from whyload.knowledge.model_classes import generated

    mappings = generated().auto_mappings
    autos = sorted(a for a, types in mappings.items() if (view.model_type or "") in types)
    yield Problem(
        title=f"{view.target_class} has no model for model_type {view.model_type!r}",
        detail=f"{view.model_type} supports {', '.join(autos)}.",
        evidence={"class": view.target_class, "model_type": view.model_type,
                  "supported": autos},
        fix=f"use one of {', '.join(autos[:4])} …, or a model_type that has this head",
    )


@check("WL401", "head-not-in-weights", ARCH, requires=[STRUCTURE])
def head_missing(snap: Snapshot) -> Iterator[Problem]:
    """The task head is not in the weights: it would be initialized at random

    "Some weights of BertForSequenceClassification were not initialized from the model checkpoint
    … newly initialized: ['classifier.weight', 'classifier.bias']". No exception, and outputs
    that mean nothing: loads broken, whether the class is named or an AutoModelFor* class picks
    it (transformers#10329). Starting a fine-tune (`--finetune`) is the one case where a random
    head is the point: then the verdict is loads, and the report says the head is trained from
    scratch.
    """
    view = model_view(snap)
    pred = view.prediction
    if pred is None or not pred.missing:
        return
    head = head_keys(pred.missing, _prefix(view), view.spec)
    if not head:
        return
    prefix = _prefix(view)
    loaded = {pred.renamed.get(k, k) for k in view.checkpoint}
    whole_head = not loaded & set(head_keys(frozenset(pred.expected), prefix, view.spec))
    saved_by_base = bool(prefix) and not any(k.startswith(prefix + ".") for k in view.checkpoint)
    evidence = {"class": view.target_class, "class_from": view.class_source,
                "missing": head[:20], "checkpoint_architectures":
                (view.config or {}).get("architectures"), "finetune": snap.options.finetune}
    if snap.options.finetune:
        yield Problem(
            severity=Severity.INFO, effect=Effect.NONE,
            title=f"{view.target_class}'s head starts random, to be trained: {_sample(head, 3)}",
            detail="You said this load starts a fine-tune (--finetune): the checkpoint has no "
            f"{view.target_class} head, so transformers creates it at random and training "
            "learns it from scratch.",
            evidence=evidence,
            fix="nothing to do before training; save the fine-tuned model with save_pretrained "
            "so the head is in the checkpoint you load for inference",
        )
        return
    if view.class_source == "architectures" and _claims_head(view) and whole_head and \
            saved_by_base:
        # keys without the base_model_prefix were saved by the base class: architectures is
        # the class it was trained with (all-mpnet-base-v2 says MPNetForMaskedLM), and what
        # people load it with is AutoModel
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE,
            title=f"config.json names {view.target_class}, but the weights are the base model",
            detail=f"No {view.target_class} head is saved ({_sample(head, 3)}): AutoModel loads "
            f"these weights cleanly; {view.target_class} would start its head at random.",
            evidence=evidence,
            fix="load with AutoModel (what sentence-transformers does), or fine-tune the head "
            "before inference",
        )
        return
    renamed = _renamed_head(view, head)
    if renamed is not None:
        old, new = renamed
        yield Problem(
            effect=Effect.SILENT,
            title=f"the head was saved as {old}*; {view.target_class} expects {new}*",
            detail=f"{old}* has exactly the shapes of the missing {_sample(head, 3)}: a custom "
            "training script named its head differently, so it would be dropped and a random "
            "head created.",
            evidence={**evidence, "saved_as": old, "expected": new},
            fix=fix_commands.rename_prefix(
                snap.artifact.root,
                snap.plan.files[0] if snap.plan.files else "pytorch_model.bin", old, new),
        )
        return
    claims = _claims_head(view)
    yield Problem(
        effect=Effect.SILENT,
        title=f"{view.target_class}'s head is not in the weights: {_sample(head, 3)} would "
        "start random",
        detail=("config.json says the checkpoint is a " f"{view.target_class}, but its head was "
                "not saved (or was dropped on conversion): its outputs would be random."
                if claims else
                f"The checkpoint has no {view.target_class} head (it was saved as "
                f"{_saved_as(view)}): transformers creates one at random, loads without an "
                "exception, and every prediction is noise."),
        evidence=evidence,
        fix=("find the checkpoint that still has the head (the tied/shared weights may have been "
             "dropped by a safetensors conversion)" if claims else
             "load the class the checkpoint was saved with "
             f"(--class {shlex.quote(_saved_as(view))}) for inference; if you are starting a "
             "fine-tune, this is expected: say so with --finetune"),
    )


def _saved_as(view: ModelView) -> str:
    archs = (view.config or {}).get("architectures")
    return str(archs[0]) if isinstance(archs, list) and archs else "AutoModel"


def _renamed_head(view: ModelView, head: list[str]) -> tuple[str, str] | None:
    """(saved prefix, expected prefix) when unused keys are the missing head under another name:
    fc.weight [3, 768] + fc.bias [3] for classifier.weight + classifier.bias."""
    pred = view.prediction
    if pred is None or not pred.unexpected:
        return None
    # names of the family's own heads (NSP's cls.seq_relationship is [2, hidden] like a
    # 2-label classifier) are other heads, not this one renamed
    unknown = [k for k in pred.unexpected if view.class_family not in families()
               or not knows_key(view.class_family, k)]
    prefixes = set()
    for key in head:
        owner, _, leaf = key.rpartition(".")
        shape = tuple(pred.expected[key])
        candidates = {k.rpartition(".")[0] for k in unknown
                      if k.rpartition(".")[2] == leaf and tuple(view.checkpoint.get(
                          next((c for c, n in pred.renamed.items() if n == k), k), ())) == shape}
        if len(candidates) != 1:
            return None
        prefixes.add((candidates.pop() + ".", owner + "."))
    return prefixes.pop() if len(prefixes) == 1 else None


@check("WL402", "weights-missing", ARCH, requires=[STRUCTURE],
       superseded_by=["WL361", "WL362", "WL364"])
def weights_missing(snap: Snapshot) -> Iterator[Problem]:
    """Weights of the base model that the checkpoint does not have: initialized at random

    No exception, only a log line: the encoder layers, embeddings or pooler listed as "newly
    initialized" make every output wrong.
    """
    view = model_view(snap)
    pred = view.prediction
    if pred is None or not pred.missing:
        return
    prefix = _prefix(view)
    base = sorted(set(pred.missing) - set(head_keys(pred.missing, prefix, view.spec)))
    if not base:
        return
    only_pooler = all(_POOLER.search(k) for k in base)
    # a loaded task head on top of the pooler (BERT's sequence classification) reads it; when
    # the head is missing too, the pooler is part of a fresh head being fine-tuned
    head_reads_pooler = only_pooler and not head_keys(pred.missing, prefix, view.spec) \
        and bool(head_keys(frozenset(pred.expected), prefix, view.spec))
    harmless = only_pooler and not head_reads_pooler
    yield Problem(
        severity=Severity.WARNING if harmless else Severity.ERROR,
        effect=Effect.NONE if harmless else Effect.SILENT,
        title=f"{len(base)} weights of {view.target_class} are not in the checkpoint "
        "and would be random",
        detail=f"Missing: {_sample(base)}."
        + (" Only the pooler: outputs.pooler_output would be random; the hidden states are "
           "fine." if harmless else "")
        + (f" {view.target_class}'s head reads the pooler, so its predictions would be wrong."
           if head_reads_pooler else ""),
        evidence={"class": view.target_class, "missing": base[:30], "count": len(base)},
        fix="load the class the checkpoint was saved with, or a checkpoint that has these "
        "weights",
    )


@check("WL403", "weights-unused", ARCH, requires=[STRUCTURE],
       superseded_by=["WL361", "WL362", "WL364"])
def weights_unused(snap: Snapshot) -> Iterator[Problem]:
    """Weights in the checkpoint that the model has no place for: dropped on load

    "Some weights of the model checkpoint were not used when initializing …": a head the class
    does not have (expected when extracting a base model), or weights a mismatched config or
    class leaves behind.
    """
    view = model_view(snap)
    pred = view.prediction
    if pred is None or not pred.unexpected:
        return
    # weights of this very model at block indexes its config does not have: layers (or experts)
    # the config cut off, silently — the model is not the one that was trained
    own = {_INDEXES.sub(".#", k) for k in pred.expected}
    beyond = sorted(k for k in pred.unexpected if _INDEXES.sub(".#", k) in own)
    if beyond:
        yield Problem(
            effect=Effect.SILENT,
            title=f"{len(beyond)} weights of {view.target_class}'s own blocks have no place in "
            f"it, e.g. {beyond[0]}: config.json describes a smaller model",
            detail=f"Unused: {_sample(beyond)}. They are blocks of this architecture beyond "
            "what config.json builds (fewer layers or experts): transformers drops them and "
            "loads a different, truncated model without an exception.",
            evidence={"class": view.target_class, "unused": beyond[:30], "count": len(beyond)},
            fix="set the layer (or expert) count in config.json to what the weights hold",
        )
        return
    head = head_keys(pred.unexpected, _prefix(view))
    if not any(_POOLER.search(k) for k in pred.expected):  # this class has no pooler at all
        head += [k for k in pred.unexpected if _POOLER.search(k) and k not in head]
    base = sorted(set(pred.unexpected) - set(head))
    severity = Severity.WARNING if base else Severity.INFO
    yield Problem(
        severity=severity, effect=Effect.NONE,
        title=f"{len(pred.unexpected)} weights in the checkpoint would be unused by "
        f"{view.target_class}",
        detail=f"Unused: {_sample(pred.unexpected)}."
        + (" They belong to another head (or a pooler) this class does not have: dropped by "
           "design." if not base else ""),
        evidence={"class": view.target_class, "unused": sorted(pred.unexpected)[:30],
                  "count": len(pred.unexpected)},
        fix=("nothing to do if you meant to drop the head" if not base else
             "load the class the checkpoint was saved with"),
    )


@check("WL404", "shape-mismatch", ARCH, requires=[STRUCTURE],
       superseded_by=["WL361", "WL362", "WL364"])
def shape_mismatch(snap: Snapshot) -> Iterator[Problem]:
    """Weights whose shape differs from the model's: from_pretrained raises

    "size mismatch for classifier.weight: copying a param with shape torch.Size([3, 768]) from
    checkpoint, the shape in current model is torch.Size([2, 768])". With
    ignore_mismatched_sizes=True they load as random instead.
    """
    view = model_view(snap)
    pred = view.prediction
    if pred is None or not pred.mismatched:
        return
    items = sorted(pred.mismatched.items())
    key, (got, want) = items[0]
    yield Problem(
        title=f"{len(items)} weights have the wrong shape for {view.target_class}, e.g. {key}",
        detail=f"{key}: the checkpoint has {list(got)}, the model expects {list(want)}.",
        evidence={"class": view.target_class, "mismatched": [
            {"key": k, "checkpoint": list(g), "model": list(w)} for k, (g, w) in items[:20]]},
        # ignore_mismatched_sizes=True would silently replace quantized weights with random ones
        fix="make config.json match the weights (whyload check names the field)" + (
            "; never ignore_mismatched_sizes=True on a quantized checkpoint: it replaces the "
            "quantized weights with random ones" if snap.quantization is not None else
            ", or pass ignore_mismatched_sizes=True to re-initialize them on purpose"),
    )


def _auto_map_modules(auto_map: dict[str, object]) -> dict[str, list[str]]:
    """module file -> the auto classes it provides; 'org/repo--module.Class' points elsewhere."""
    out: dict[str, list[str]] = {}
    for auto, ref in auto_map.items():
        refs = ref if isinstance(ref, list) else [ref]
        for r in refs:
            if isinstance(r, str) and "." in r:
                module = r.rsplit(".", 1)[0]
                out.setdefault(module, []).append(auto)
    return out


@check("WL430", "remote-code", ARCH)
def remote_code(snap: Snapshot) -> Iterator[Problem]:
    """Custom model code (auto_map): it needs trust_remote_code=True, and a review

    transformers imports the Python files auto_map names and runs them. Without
    trust_remote_code it refuses — or, for a model_type it knows (bert), silently loads the
    built-in class instead and leaves the custom parts random. Files missing from the folder (or
    in another repo, 'org/repo--module.Class') fail offline: "Could not locate the
    configuration_x.py".
    """
    config = model_view(snap).config
    auto_map = config.get("auto_map") if config else None
    if not isinstance(auto_map, dict) or not auto_map:
        return
    modules = _auto_map_modules(auto_map)
    elsewhere = sorted(m for m in modules if "--" in m)
    local = {m: f"{m}.py" for m in modules if "--" not in m}
    missing = sorted(f for f in local.values() if f not in snap.code_files)
    present = [snap.code_files[f] for f in sorted(local.values()) if f in snap.code_files]
    model_type = config.get("model_type") if config else None
    built_in = isinstance(model_type, str) and model_type in families()
    if missing:
        yield Problem(
            severity=Severity.WARNING if built_in else Severity.ERROR,
            effect=Effect.NONE if built_in else Effect.RAISES,
            title=f"auto_map names code that is not in the folder: {', '.join(missing)}",
            detail="With trust_remote_code=True transformers imports these files and fails "
            "without them (offline: \"Could not locate the …py\")"
            + (f"; without it, the built-in {model_type} class loads instead." if built_in
               else "."),
            evidence={"missing": missing, "auto_map": auto_map},
            fix="download the repo's .py files too (hf download REPO --include '*.py'), then "
            "review them before passing trust_remote_code=True",
        )
    review = {c.name: c.risky for c in present}
    flagged = {n: r for n, r in review.items() if r}
    if not review and not elsewhere:
        return  # nothing to review here: the missing files are the finding above
    detail = (("The folder ships its own model code: loading runs it. " if review else
               "The model code lives in another repo. ")
              + (f"Lines in {', '.join(flagged)} deserve a review: see WL610." if flagged else
                 "Nothing in it reaches the network, spawns processes or evaluates strings.")
              + (f" Code from other repos: {', '.join(elsewhere)} (must be cached too)."
                 if elsewhere else "")
              + (f" Without trust_remote_code=True, transformers loads its built-in "
                 f"{model_type} class instead and leaves the custom weights random."
                 if built_in else ""))
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title="custom model code: loading needs trust_remote_code=True"
        + (f"; review {', '.join(review)}" if review else ""),
        detail=detail,
        evidence={"files": sorted(review), "flagged": flagged, "other_repos": elsewhere,
                  "auto_map": auto_map},
        fix=f"read {', '.join(sorted(review)) or 'the code'}, then from_pretrained(..., "
        "trust_remote_code=True) — pin revision= so the code cannot change under you",
    )


@check("WL405", "loading-not-predicted", ARCH)
def not_predicted(snap: Snapshot) -> Iterator[Problem]:
    """The loading report could not be predicted for this model

    The specs generated from transformers cover every class its Auto classes load; custom code,
    a model type newer than the specs, or a config field the spec never saw need `check --deep`,
    which asks transformers itself (on the meta device, in a child process) what the class
    expects.
    """
    view = model_view(snap)
    if view.prediction is not None or not view.checkpoint or view.config is None or view.wrapper:
        return
    if build_failure_repeats_on_load(snap):
        return  # WL407: the real load raises the same
    if snap.deep_error:
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE,
            title="--deep could not build the model to predict its loading report",
            detail=snap.deep_error,
            evidence={"model_type": view.model_type, "reason": snap.deep_error},
            fix="run `whyload env` to see whether torch and transformers import here",
        )
        return
    if snap.deep_spec is not None and snap.deep_spec.renames_on_load:
        yield Problem(
            severity=Severity.INFO, effect=Effect.NONE,
            title=f"transformers converts {snap.deep_spec.name}'s weight names on load",
            detail="Its checkpoint keys are renamed or merged while loading (stacked experts, "
            "fused projections), so whyload does not predict missing or unused weights for it.",
            evidence={"class": snap.deep_spec.name},
            fix="load it once with output_loading_info=True to see the report",
        )
        return
    if snap.options.deep:
        return
    yield Problem(
        severity=Severity.INFO, effect=Effect.NONE,
        title=f"missing and unused weights not predicted for model_type {view.model_type!r}",
        detail=(view.unpredictable or f"whyload's specs do not describe {view.target_class}")
        + "; --deep asks transformers.",
        evidence={"model_type": view.model_type, "class": view.target_class,
                  "reason": view.unpredictable},
        fix=f"whyload check {shlex.quote(snap.artifact.target)} --deep",
    )


@check("WL423", "class-of-another-model-type", ARCH, requires=["WL420", "WL421", "WL422"])
def class_of_another_model_type(snap: Snapshot) -> Iterator[Problem]:
    """The class is another model type's than config.json's

    transformers warns "You are using a model of type bert to instantiate a model of type gpt2"
    and loads anyway: the config is read into the other model's config class and the weights
    whose names do not fit that model start at random, with no exception.
    """
    from whyload.knowledge.model_classes import generated

    view = model_view(snap)
    chosen = view.load_class
    model_type = view.model_type
    if chosen is None or model_type is None or chosen.name.startswith("Auto"):
        return
    classes = generated()
    found = classes.lookup(chosen.name)
    if found is None or found.model_type is None or classes.same_family(chosen.name,
                                                                        model_type):
        return
    auto = f"AutoModel{found.head}" if found.head else "AutoModel"
    right = classes.auto_target(auto, model_type)
    yield Problem(
        effect=Effect.SILENT,
        title=f"{chosen.name} is a {found.model_type} model; config.json says model_type "
        f"{model_type!r}",
        detail=f"from_pretrained builds a {found.model_type} model from a {model_type} "
        "config: the weights' names and shapes do not fit it, so they are dropped and the "
        "model's own start at random (transformers only warns).",
        evidence={"class": chosen.name, "class_model_type": found.model_type,
                  "config_model_type": model_type, "class_from": chosen.source},
        fix=f"load it with {right} (or {auto})" if right else
        f"load it with a {model_type} class (AutoModel picks one)",
    )


@check("WL407", "model-cannot-be-built", ARCH)
def model_cannot_be_built(snap: Snapshot) -> Iterator[Problem]:
    """transformers refuses to build the model from this config: from_pretrained raises

    `check --deep` builds the class on the meta device with the transformers that will load
    it. When that fails in reading the config (an incomplete rope_scaling: "Missing required
    keys in `rope_parameters`"), on a kernel that is not installed (attn_implementation
    "flash_attention_2" without flash-attn) or on a value the constructor rejects, the real
    from_pretrained builds the same model first and raises the same exception. Failures that
    may come from the meta device itself stay a WL405 warning.
    """
    failure = snap.deep_failure
    if failure is None or not build_failure_repeats_on_load(snap):
        return
    config = model_view(snap).config or {}
    built = snap.load_class.name if snap.load_class else "the model"
    step = f"reading {snap.config_name}" if failure.phase == "config" else f"building {built}"
    yield Problem(
        title=f"from_pretrained will raise {failure.type}: {_first_line(failure.message)}",
        detail=f"transformers raised it while {step} (check --deep, on the meta device, in "
        "the interpreter that will load it); from_pretrained does the same before it reads a "
        "weight.",
        evidence={"exception": failure.type, "message": failure.message, "phase": failure.phase,
                  "class": snap.load_class.name if snap.load_class else None},
        fix=_build_failure_fix(snap, failure.message, config), file=snap.config_name,
    )


def build_failure_repeats_on_load(snap: Snapshot) -> bool:
    """Whether the real from_pretrained raises what the meta build raised: everything in
    reading the config, a missing package (ImportError), and a ValueError or KeyError from the
    constructor, which validates the config; not an error of the meta device itself."""
    failure = snap.deep_failure
    if failure is None:
        return False
    if failure.phase == "config" or "ImportError" in failure.bases:
        return True
    return bool({"ValueError", "KeyError"} & set(failure.bases)) and \
        "meta" not in failure.message.lower()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines or [""])[0]
    return first[:200]


def _build_failure_fix(snap: Snapshot, message: str, config: dict[str, object]) -> str:
    import json

    name = snap.config_name or "config.json"
    attn = json.dumps(config.get("attn_implementation"))
    if "FlashAttention" in message or "flash_attn" in message:
        install = snap.env.pip_install("flash-attn") if snap.env else "pip install flash-attn"
        return (f"remove \"attn_implementation\": {attn} from {name} (or pass "
                "attn_implementation=\"sdpa\" to from_pretrained), or install the kernel: "
                f"{install}")
    if "attn_implementation" in message:
        return (f"set \"attn_implementation\" in {name} to one the error lists (\"sdpa\" or "
                "\"eager\"), or remove it")
    if "rope" in message.lower():
        return (f"complete rope_scaling / rope_parameters in {name} with the keys the error "
                "names (the values from the model's source), or remove it")
    return f"correct {name} where the error points, then: whyload check --deep again"

