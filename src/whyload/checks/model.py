"""What the config and the weights say about the model, derived once per snapshot and shared by
the config (WL3xx) and architecture (WL4xx) checks."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from whyload.knowledge.families import (
    ClassSpec,
    Inferred,
    LoadingPrediction,
    class_spec,
    families,
    family_of_class,
    guess_family,
    infer_config,
    predict_loading,
)
from whyload.snapshot import Snapshot

AUTO_HEADS = {
    "AutoModel": "Model", "AutoModelForMaskedLM": "ForMaskedLM",
    "AutoModelForSequenceClassification": "ForSequenceClassification",
    "AutoModelForTokenClassification": "ForTokenClassification",
    "AutoModelForQuestionAnswering": "ForQuestionAnswering",
    "AutoModelForMultipleChoice": "ForMultipleChoice", "AutoModelForPreTraining": "ForPreTraining",
    "AutoModelForCausalLM": "ForCausalLM", "AutoModelForNextSentencePrediction":
    "ForNextSentencePrediction",
}  # fmt: skip
WRAPPERS = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class ModelView:
    config: dict[str, Any] | None  # config.json, when it parses to an object
    model_type: str | None  # what the config says
    weights_type: str | None  # what the weights look like (BERT family only)
    checkpoint: dict[str, tuple[int, ...]] = field(default_factory=dict)
    target_class: str | None = None
    class_source: str = ""  # "--class", "architectures" or "AutoModel"
    class_family: str | None = None  # the family whose spec describes target_class
    spec: ClassSpec | None = None  # what target_class expects, for this config
    prediction: LoadingPrediction | None = None
    inferred: dict[str, Inferred] = field(default_factory=dict)
    wrapper: str | None = None  # a prefix every key shares: module., _orig_mod., model.

    @property
    def family(self) -> str | None:
        """The model_type from config, when whyload knows the family's weights."""
        return self.model_type if self.model_type in families() else None


_CACHE: OrderedDict[int, tuple[Snapshot, ModelView]] = OrderedDict()


def model_view(snap: Snapshot) -> ModelView:
    hit = _CACHE.get(id(snap))
    if hit is not None and hit[0] is snap:
        return hit[1]
    view = _build(snap)
    _CACHE[id(snap)] = (snap, view)
    while len(_CACHE) > 16:
        _CACHE.popitem(last=False)
    return view


def _build(snap: Snapshot) -> ModelView:
    doc = snap.config
    config = doc.value if doc is not None and doc.ok and isinstance(doc.value, dict) else None
    model_type = config.get("model_type") if config else None
    model_type = model_type if isinstance(model_type, str) else None
    checkpoint = {k: t.shape for k, t in snap.planned_tensors().items()}
    wrapper = shared_prefix(list(checkpoint))
    keys = [k[len(wrapper):] if wrapper else k for k in checkpoint]
    weights_type = guess_family(keys) if keys else None
    target, source = _target_class(snap, config, model_type)
    class_family = family_of_class(target) if target else None
    spec = None
    if target and class_family and config is not None:
        spec = class_spec(class_family, target, config)
    elif snap.deep_spec is not None and not snap.deep_spec.renames_on_load:
        spec, class_family = snap.deep_spec, "transformers"  # built by transformers itself
    prediction = predict_loading(spec, checkpoint) if spec and checkpoint and not wrapper else None
    inferred_type = model_type if model_type in families() else weights_type
    inferred = infer_config(inferred_type, checkpoint) if inferred_type and not wrapper else {}
    return ModelView(config, model_type, weights_type, checkpoint, target, source, class_family,
                     spec, prediction, inferred, wrapper)


def _target_class(snap: Snapshot, config: dict[str, Any] | None,
                  model_type: str | None) -> tuple[str | None, str]:
    asked = snap.options.model_class
    fam = families().get(model_type or "")
    if asked:
        if asked.startswith("AutoModel") and fam is not None:
            heads = {"ForCausalLM": ("ForCausalLM", "LMHeadModel")}.get(
                AUTO_HEADS.get(asked, ""), (AUTO_HEADS.get(asked, ""),))
            found = next((c for h in heads if (c := _class_with_head(fam, h))), None)
            return (found, "--class") if found else (asked, "--class (unsupported)")
        return asked, "--class"
    if isinstance(snap.document("modules.json"), list) and fam is not None:
        # sentence-transformers loads the base model with AutoModel
        return _class_with_head(fam, "Model"), "sentence-transformers (modules.json)"
    archs = config.get("architectures") if config else None
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0], "architectures"
    if fam is not None:
        return _class_with_head(fam, "Model"), "AutoModel"
    return None, ""


def _class_with_head(fam: dict[str, Any], head: str) -> str | None:
    return next((n for n, c in fam["classes"].items() if c["head"] == head), None)


def shared_prefix(keys: list[str]) -> str | None:
    """A wrapper prefix on (nearly) every key: DataParallel's module., torch.compile's
    _orig_mod., a Lightning module's model. — None when there is none."""
    if not keys:
        return None
    for wrapper in WRAPPERS:
        if sum(k.startswith(wrapper) for k in keys) >= 0.9 * len(keys):
            return wrapper
    first = {k.split(".", 1)[0] for k in keys}
    if first == {"model"} and guess_family([k[len("model."):] for k in keys]) is not None:
        return "model."  # BERT-family base models are never called "model": a wrapper's name
    return None


def head_keys(keys: set[str] | frozenset[str], prefix: str) -> list[str]:
    """The keys outside the base model: the task head (classifier, qa_outputs, cls, lm_head)."""
    return sorted(k for k in keys if not k.startswith(prefix + ".") and not re.match(
        r"^(embeddings|encoder|pooler|transformer)\.", k))
