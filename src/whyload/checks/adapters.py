"""WL460-WL462 — PEFT adapters: the base model adapter_config.json names, whether it is here
and loads, and whether the adapter's target_modules name modules it has. The base is found and
examined when the snapshot is taken (pipeline.examine_adapter_base); these checks read it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.report import Category, Effect, Severity, Verdict
from whyload.resolve import looks_like_hub_id
from whyload.snapshot import AdapterBase, Snapshot

ARCH = Category.ARCHITECTURE
ALL_LINEAR = "all-linear"  # peft's shorthand for every linear layer but the output head


def _base(snap: Snapshot) -> AdapterBase | None:
    return snap.adapter_base if snap.plan.adapter else None


def _adapter_config(snap: Snapshot) -> dict[str, Any]:
    doc = snap.document("adapter_config.json")
    return doc if isinstance(doc, dict) else {}


@check("WL460", "adapter-base-not-found", ARCH)
def base_not_found(snap: Snapshot) -> Iterator[Problem]:
    """The base model a PEFT adapter names is not on this machine

    peft builds the base first: AutoModel.from_pretrained(base_model_name_or_path). A local
    path that does not exist fails; a hub id that is not in the HF cache is downloaded when
    online and fails offline ("We couldn't connect to 'https://huggingface.co'").
    """
    base = _base(snap)
    if base is None or (base.found is not None and base.problem is None):
        return
    if base.named is None:
        yield Problem(
            title="adapter_config.json names no base model",
            detail="base_model_name_or_path is missing or empty: AutoPeftModel cannot tell "
            "which model to put the adapter on.",
            evidence={"base_model": None, "problem": base.problem},
            fix="load the base yourself: PeftModel.from_pretrained(AutoModel.from_pretrained("
            f"BASE), {str(snap.artifact.root)!r})", file="adapter_config.json")
        return
    hub_id = base.found is None and looks_like_hub_id(base.named) and not base.named.startswith(
        ("/", "~"))
    offline = snap.env is not None and snap.env.hf.offline
    downloads = hub_id and not offline
    yield Problem(
        severity=Severity.WARNING if downloads else Severity.ERROR,
        effect=Effect.UNKNOWN if downloads else Effect.RAISES,
        title=f"the adapter's base model {base.named!r} is not "
        + ("in the HF cache" if hub_id else "here"),
        detail=(base.problem or "") + (
            ". from_pretrained downloads it when online; whyload does not, so the base was "
            "not checked" if downloads else
            ". HF_HUB_OFFLINE is set: from_pretrained cannot download it" if hub_id else
            ": peft cannot build the base model, and the adapter does not load."),
        evidence={"base_model": base.named, "found": base.found, "problem": base.problem,
                  "offline": offline},
        fix=(fix_commands.hub_download(base.named, None) if hub_id else
             "set base_model_name_or_path in adapter_config.json to the base model's folder "
             "or hub id"), file="adapter_config.json")


@check("WL461", "adapter-base-does-not-load", ARCH)
def base_does_not_load(snap: Snapshot) -> Iterator[Problem]:
    """The base model of a PEFT adapter does not load (or loads broken)

    The adapter goes on top of the base: whatever stops the base (or leaves its weights random)
    stops the adapted model the same way. The base was checked like any target.
    """
    base = _base(snap)
    if base is None or base.verdict is None:
        return
    verdict = Verdict(base.verdict)
    if verdict is Verdict.LOADS:
        return
    effect = {Verdict.FAILS: Effect.RAISES, Verdict.LOADS_BROKEN: Effect.SILENT}.get(
        verdict, Effect.UNKNOWN)
    yield Problem(
        severity=Severity.WARNING if effect is Effect.UNKNOWN else Severity.ERROR,
        effect=effect,
        title=f"the adapter's base model {base.named!r}: {verdict.label}",
        detail=f"whyload check on the base ({base.found}) says: {base.headline}.",
        evidence={"base_model": base.named, "found": base.found, "base_verdict": base.verdict,
                  "base_headline": base.headline, "base_codes": list(base.codes)},
        fix=f"whyload check {fix_commands.quoted(base.found or base.named or '')}  "
        "# fix the base first", file="adapter_config.json")


@check("WL462", "adapter-target-modules-not-found", ARCH, requires=["WL460"])
def target_modules_not_found(snap: Snapshot) -> Iterator[Problem]:
    """The adapter's target_modules name modules the base model does not have

    peft wraps every module whose name equals a target or ends with "." + target (a string
    target is a regular expression matched against the whole name). When none matches it
    raises "ValueError: Target modules {…} not found in the base model. Please check the target
    modules and try again." — an adapter trained on another architecture (q_proj/v_proj on a
    BERT). Targets that match nothing beside others that match are silently unused.
    """
    base = _base(snap)
    if base is None or not base.module_names:
        return
    targets = _adapter_config(snap).get("target_modules")
    names = base.module_names
    if isinstance(targets, str):
        if targets == ALL_LINEAR or _regex_matches(targets, names):
            return
        unmatched, listed = [targets], targets
    elif isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets):
        unmatched = [t for t in targets if not _suffix_matches(t, names)]
        if not unmatched:
            return
        listed = "{" + ", ".join(repr(t) for t in sorted(set(targets))) + "}"  # peft's set
    else:
        return  # no target_modules: peft takes its defaults for the model type
    none = len(unmatched) == len(targets) if isinstance(targets, list) else True
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names if not n.rsplit(".", 1)[-1].isdigit()})
    yield Problem(
        severity=Severity.ERROR if none else Severity.WARNING,
        effect=Effect.RAISES if none else Effect.NONE,
        title=(f"Target modules {listed} not found in the base model" if none else
               f"target_modules {unmatched} match no module of the base model"),
        detail=(f"peft raises \"ValueError: Target modules {listed} not found in the base model."
                " Please check the target modules and try again.\"" if none else
                "peft adapts the modules the other targets match and ignores these.")
        + f" The base ({base.named}) has modules named {', '.join(leaves[:12])}"
        + (" …" if len(leaves) > 12 else "") + ".",
        evidence={"base_model": base.named, "target_modules": targets,
                  "not_found": unmatched, "base_module_leaves": leaves[:40]},
        fix=("the adapter was trained on another model: use that base model (its "
             "base_model_name_or_path), or retrain with target_modules from "
             f"{', '.join(leaves[:6])}" if none else
             f"remove {', '.join(map(repr, unmatched))} from target_modules in "
             "adapter_config.json"), file="adapter_config.json")


def _suffix_matches(target: str, names: frozenset[str]) -> bool:
    """peft's rule for a list entry: the whole name, or its last dotted parts."""
    return any(n == target or n.endswith("." + target) for n in names)


def _regex_matches(pattern: str, names: frozenset[str]) -> bool:
    """peft's rule for a string: re.fullmatch on the name. The base's weight names may carry
    a head class's prefix (bert.) or not, so either form counts."""
    try:
        regex = re.compile(pattern)
    except re.error:
        return True  # peft fails on it differently; not this finding
    return any(regex.fullmatch(n) or regex.fullmatch(n.split(".", 1)[-1]) for n in names)
