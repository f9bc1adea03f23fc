"""config.json repairs: values the weights contradict are rewritten from the weights' shapes, a
missing config is generated from them (plus documented defaults, marked), bert_config.json
becomes config.json. A value the weights do not determine is never made up: it comes from the
user (--set) or a documented default, and config.json says which under `_whyload_inferred`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from whyload.errors import UsageError
from whyload.knowledge.families import class_spec, families, predict_loading
from whyload.modelview import model_view
from whyload.readers.jsonfile import read_json
from whyload.repair.types import Refusal, Step
from whyload.report import Finding
from whyload.snapshot import Snapshot

INFERRED_KEY = "_whyload_inferred"
# the attention head count is not in any tensor's shape: the config class's documented default
HEADS_FIELD = {"distilbert": "n_heads"}
DEFAULT_HEADS = {"bert": 12, "roberta": 12, "xlm-roberta": 12, "camembert": 12, "electra": 4,
                 "albert": 64, "distilbert": 12, "deberta": 12, "deberta-v2": 24, "mpnet": 12}
HIDDEN_FIELD = {"distilbert": "dim"}
# the sizes config checks compare with the weights: WL310 (sizes), WL311/312 (layers)
CONTRADICTIONS = ("WL310", "WL311", "WL312", "WL313")


def plan_config(snap: Snapshot, findings: tuple[Finding, ...],
                overrides: Mapping[str, Any]) -> tuple[list[Step], list[Refusal]]:
    """The step that writes config.json, or why it cannot be written."""
    by_code = {f.code: [g for g in findings if g.code == f.code] for f in findings}
    if "WL301" in by_code:  # a config that does not parse: its values are unknown, not inferable
        return [], [Refusal(reason="config.json is not valid JSON: its values cannot be read "
                            "back, and guessing them would make up a model",
                            next_step=by_code["WL301"][0].fix, codes=("WL301",),
                            file="config.json")]
    if "WL300" in by_code:
        return _generate(snap, by_code["WL300"][0], overrides)
    changes: dict[str, Any] = {}
    inferred: dict[str, str] = {}
    answers: list[str] = []
    base = snap.config_name
    if "WL303" in by_code and by_code["WL303"][0].evidence.get("inferred_model_type"):
        changes["model_type"] = by_code["WL303"][0].evidence["inferred_model_type"]
        inferred["model_type"] = "from the architectures field or the weights' key names"
        answers.append("WL303")
    if "WL302" in by_code:
        model_type = model_view(snap).weights_type or "bert"
        changes["model_type"] = model_type
        inferred["model_type"] = "from the weights' key names" if model_view(snap).weights_type \
            else "bert_config.json is the original Google BERT release's name"
        answers.append("WL302")
    for code in CONTRADICTIONS:
        for f in by_code.get(code, []):
            field_name = str(f.evidence.get("field", "vocab_size"))
            value = f.evidence.get("weights")
            if not isinstance(value, int):
                continue
            changes[field_name] = value
            tensor = f.evidence.get("tensor") or f.evidence.get("last_key")
            inferred[field_name] = f"from the weights: {tensor}"
            if field_name == "num_labels":  # label names are not in the weights: drop them
                changes["id2label"] = None
                changes["label2id"] = None
            answers.append(code)
    current = snap.document(base) if base else None
    check_overrides(overrides, changes, current if isinstance(current, dict) else {})
    for key, value in overrides.items():
        changes[key] = value
        inferred[key] = "given with --set"
    if not changes:
        return [], []
    why = "; ".join(f"{k} = {json.dumps(v)} ({inferred.get(k, 'follows from it')})"
                    for k, v in changes.items())
    return [Step(action="write-config", writes=("config.json",),
                 reads=(base,) if base else (), why=why, answers=tuple(dict.fromkeys(answers)),
                 spec={"base": base, "set": changes, "inferred": inferred})], []


def check_overrides(overrides: Mapping[str, Any], from_weights: Mapping[str, Any],
                    config: Mapping[str, Any]) -> None:
    """UsageError for a --set value fix must not write: not finite (config.json would not be
    JSON), another type than the config's own value (a word where a count goes), or a value
    that contradicts a size the weights determine (model_type and architectures are read from
    names, so --set may correct them)."""
    for key, value in overrides.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--set {key}={value}: not a finite number")
        known = from_weights.get(key, config.get(key))
        if isinstance(known, int) and not isinstance(known, bool) and (
                not isinstance(value, int) or isinstance(value, bool)):
            raise UsageError(f"--set {key}={json.dumps(value)}: {key} is an integer "
                             f"(config.json has {json.dumps(known)})")
        if isinstance(from_weights.get(key), int) and value != from_weights[key]:
            raise UsageError(f"--set {key}={json.dumps(value)} contradicts the weights, which "
                             f"determine {key} = {json.dumps(from_weights[key])}",
                             hint=f"leave {key} to fix: it writes what the weights hold")


def _generate(snap: Snapshot, finding: Finding,
              overrides: Mapping[str, Any]) -> tuple[list[Step], list[Refusal]]:
    draft = dict(finding.evidence.get("inferred_config") or {})
    model_type = draft.get("model_type")
    if not isinstance(model_type, str) or model_type not in families():
        return [], [Refusal(reason="config.json is missing and the weights are not a BERT-family "
                            "model whyload can read a config back from",
                            next_step=finding.fix, codes=("WL300",))]
    hidden_field = HIDDEN_FIELD.get(model_type, "hidden_size")
    unread = [k for k in (hidden_field, "vocab_size") if not isinstance(draft.get(k), int)]
    if unread:  # the names do not match the model's (a wrapper prefix): nothing was read
        return [], [Refusal(reason="config.json is missing and the weights' names hide their "
                            f"sizes ({', '.join(unread)} not read)", next_step="fix the weight "
                            "names first (whyload fix), then run whyload fix on the result",
                            codes=("WL300",))]
    inferred = {k: "from the weights' shapes" for k in draft if k not in ("architectures",)}
    inferred["model_type"] = "from the weights' key names"
    draft["architectures"], arch_note = _architecture(snap, model_type, draft)
    inferred["architectures"] = arch_note
    heads = HEADS_FIELD.get(model_type, "num_attention_heads")
    hidden = draft.get(hidden_field)
    notes: list[str] = []
    if heads not in overrides:
        default = DEFAULT_HEADS[model_type]
        if isinstance(hidden, int) and hidden % default:
            return [], [Refusal(
                reason=f"config.json is missing, and {heads} is not in the weights: the "
                f"documented default {default} does not divide hidden size {hidden}",
                next_step=f"add --set {heads}=N: the value of the base model it was trained from",
                codes=("WL300",))]
        draft[heads] = default
        inferred[heads] = (f"documented default of {model_type} ({default}); not in the "
                           "weights: confirm it against the base model, or pass --set")
        notes.append(f"{heads}={default} is the documented default, not read from the weights")
    check_overrides(overrides, {k: v for k, v in draft.items() if k != heads}, draft)
    for key, value in overrides.items():
        draft[key] = value
        inferred[key] = "given with --set"
    why = ("generated from the weights: " + ", ".join(f"{k}={json.dumps(v)}"
                                                       for k, v in draft.items()))
    weights = tuple(snap.plan.files)
    return [Step(action="write-config", writes=("config.json",), reads=weights, why=why,
                 answers=("WL300",), notes=tuple(notes),
                 spec={"base": None, "set": draft, "inferred": inferred})], []


def _architecture(snap: Snapshot, model_type: str,
                  config: Mapping[str, Any]) -> tuple[list[str], str]:
    """The one class whose expected weights the checkpoint fills exactly; else the base model."""
    checkpoint = {k: t.shape for k, t in snap.planned_tensors().items()}
    fam = families()[model_type]
    exact = []
    for name in fam["classes"]:
        try:
            pred = predict_loading(class_spec(model_type, name, config), checkpoint)
        except (KeyError, TypeError, ValueError):
            continue
        if not pred.missing and not pred.unexpected and not pred.mismatched:
            exact.append(name)
    if len(exact) == 1:
        return exact, "the one class whose weights match the checkpoint exactly"
    base = next(n for n, c in fam["classes"].items() if c["head"] == "Model")
    which = f" ({', '.join(exact)} all match)" if exact else ""
    return [base], f"the base model: the weights do not single out a head class{which}"


def write_config(source: Path, spec: Mapping[str, Any], dest: Path) -> None:
    """Write dest/config.json: the base config (if any) with the planned values set."""
    base = spec.get("base")
    config: dict[str, Any] = {}
    if isinstance(base, str):
        path = source / base
        doc = read_json(path, path.stat().st_size)
        if not doc.ok or not isinstance(doc.value, dict):
            raise ValueError(f"{base} no longer parses as a JSON object")
        config = dict(doc.value)
    for key, value in dict(spec.get("set") or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    config[INFERRED_KEY] = dict(spec.get("inferred") or {})
    (dest / "config.json").write_text(json.dumps(config, indent=2, sort_keys=False) + "\n")
