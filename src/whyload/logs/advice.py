"""Advice never riskier than the problem: what explain suggests is safe for the file the log
names, and names that file.

- A weights_only refusal of a global that runs code is a security finding (WL630): the advice
  is not to load the file, never `weights_only=False`. A data global gets
  `torch.serialization.add_safe_globals([...])` with its exact name, or a re-save to
  safetensors. What the global does comes from whyload.knowledge.pickle_globals (the same
  classification `check` applies to a pickle's globals).
- `ignore_mismatched_sizes=True` comes after the real fix, says that those weights become
  random, and is dropped for a quantized checkpoint.
- A fix that names a placeholder (`<model>`, `<repo id>`) gets the model the log names.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Iterable, Sequence

from whyload.knowledge import fix_commands
from whyload.knowledge.pickle_globals import danger, known_data
from whyload.knowledge.torch_pickle import canonical
from whyload.logs.lines import Line
from whyload.logs.targets import is_hub_id, named_calls
from whyload.registry import Problem, stamp
from whyload.report import Effect, Finding, JSONValue, Severity

WEIGHTS_ONLY = "WL210"
RUNS_CODE = "WL630"
# torch's own words for the global it refused: "Unsupported global: GLOBAL posix.system was not an
# allowed global by default" (torch >= 2.4), "Trying to load unsupported GLOBAL posix.system
# whose module posix is blocked" (a module torch denies outright)
_REFUSED = re.compile(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (?P<name>[\w.]+)")
_UNSAFE_LOAD = re.compile(r"[^;(]*weights_only\s*=\s*False[^;)]*\)?")
_QUANTIZED = ("WL360", "WL361", "WL362", "WL363")
_IGNORE_SIZES = "ignore_mismatched_sizes=True"
_IGNORE_SIZES_REFUSED = re.compile(r"(?:never|do not|don't) (?:pass )?ignore_mismatched_sizes")
_PLACEHOLDERS = re.compile(r"(?P<quote>['\"]?)<(?P<what>model|repo id|repo_id|model id|model_id"
                           r"|path|folder|dir|file)>")
_HUB_PLACEHOLDERS = ("repo id", "repo_id", "model id", "model_id")
_CLASSIFIER = re.compile(r"^(?:\w+\.)?(?:classifier|score|qa_outputs)\.(?:out_proj\.)?weight$")


def refused_global(lines: Iterable[Line]) -> str | None:
    """The global torch's weights_only unpickler refused, as a full dotted name."""
    for line in lines:
        if "GLOBAL" in line.text and (found := _REFUSED.search(line.text)) is not None:
            name = found["name"].rstrip(".")
            return canonical(name if "." in name else f"builtins.{name}")
    return None


def refused_globals_advice(findings: Sequence[Finding], lines: Sequence[Line]
                           ) -> list[Finding]:
    """The findings of one failure with a weights_only refusal (WL210) told apart by what
    the refused global does: a global that runs code becomes WL630; a data global gets
    add_safe_globals with its exact name; neither ever gets weights_only=False."""
    if not any(f.code == WEIGHTS_ONLY for f in findings):
        return list(findings)
    name = refused_global(lines)
    loaded = [target for target, how in named_calls(lines) if how in ("torch.load", "load")]
    weights = loaded[-1] if loaded else None
    out: list[Finding] = []
    for finding in findings:
        if finding.code != WEIGHTS_ONLY:
            out.append(finding)
        elif name is not None and (does := danger(name)) is not None:
            if not any(f.code == RUNS_CODE for f in out):
                out.append(_runs_code(finding, name, does, weights))
        else:
            out.append(_data_global(finding, name, weights))
    return out


def _runs_code(refusal: Finding, name: str, does: str, weights: str | None) -> Finding:
    file = weights or refusal.file
    what = f"{file} would" if file else "The file would"
    check = f"whyload check {fix_commands.quoted(file)}" if file else "whyload check <file>"
    evidence: dict[str, JSONValue] = {
        **{k: v for k, v in refusal.evidence.items() if k in ("line", "text", "exception")},
        "global": name, "what_it_does": does, "refused_by": "torch.load, weights_only=True"}
    if file:
        evidence["file"] = file
    return stamp(RUNS_CODE, Problem(
        title=f"{what} run code when loaded: its pickle calls {name}, which torch refused",
        detail=f"torch.load with weights_only=True stopped at {name} ({does}). weights_only "
               "did its job: loading this file any other way (weights_only=False, an older torch, "
               "pickle) would call it on your machine.",
        evidence=evidence,
        fix=f"do not load this file; `{check}` lists every call its pickle makes; get the "
            "weights as safetensors from a source you trust",
        severity=Severity.ERROR, effect=Effect.RAISES, file=file))


def _data_global(refusal: Finding, name: str | None, weights: str | None) -> Finding:
    evidence = dict(refusal.evidence)
    if weights:
        evidence["file"] = weights
    if name is None:
        check = f"whyload check {fix_commands.quoted(weights)}" if weights else \
            "whyload check <file>"
        return dataclasses.replace(refusal, evidence=evidence, fix=(
            f"`{check}` names the globals the pickle holds and whether each is data; allow a "
            "data one with torch.serialization.add_safe_globals([...]), or re-save the tensors "
            "as safetensors"))
    what = known_data(name)
    evidence["global"] = name
    evidence["global_is"] = what or "not known: a class of your project, or of a package " \
                                    "whyload has not reviewed"
    allow = fix_commands.add_safe_globals(name, weights)
    resave = fix_commands.resave_tensors_with_safe_global(name, weights)
    if what is None:
        fix = (f"if {name} is your own project's class and you trust the file: {allow}; "
               f"better, re-save the tensors as safetensors: {resave}")
    else:
        fix = f"{allow}  ({name}: {what}); or re-save the tensors as safetensors: {resave}"
    return dataclasses.replace(refusal, evidence=evidence, fix=fix,
                               title=f"torch.load with weights_only=True refuses the global {name}")


def safer_advice(findings: Sequence[Finding], *, model: str | None,
                 weights: str | None = None) -> list[Finding]:
    """Every fix made safe for what the findings show, and aimed at the model (and weights
    file) the log names."""
    risky = any(f.code == RUNS_CODE or (f.category.value == "security"
                                        and f.severity is Severity.ERROR) for f in findings)
    quantized = any(f.code in _QUANTIZED or "quantization" in f.evidence for f in findings)
    out = []
    for finding in findings:
        fix = finding.fix or ""
        if risky and "weights_only=False" in fix:
            fix = _without_unsafe_load(fix)
        if _IGNORE_SIZES in fix and not _IGNORE_SIZES_REFUSED.search(fix):
            fix = (_mismatch_fix(finding, quantized)
                   if quantized or "checked" not in finding.evidence or fix.startswith(
                       ("pass " + _IGNORE_SIZES, _IGNORE_SIZES)) else _warned(fix))
        if "<" in fix:
            file = finding.file or _text(finding.evidence.get("file")) or weights
            fix = _PLACEHOLDERS.sub(functools.partial(_filled, model=model, file=file), fix)
        out.append(finding if fix == finding.fix else dataclasses.replace(finding, fix=fix))
    return out


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _filled(found: re.Match[str], model: str | None, file: str | None) -> str:
    """A placeholder of a fix with what the log names: the model for <model>/<folder>/<path>,
    a hub id only for <repo id>, the weights file for <file>; kept when the log does not say.
    Inside quotes (Python) the value goes as it is, else quoted for the shell."""
    what, quote = found["what"], found["quote"]
    value = file if what == "file" else model
    if what == "file" and value is None:
        value = model
    hub = value is not None and "/" in value and is_hub_id(value) and not os.path.isdir(value)
    if value is None or (what in _HUB_PLACEHOLDERS and not hub):
        return found.group(0)
    return quote + (value if quote else fix_commands.quoted(value))


def _without_unsafe_load(fix: str) -> str:
    """A fix that unpickled with weights_only=False, for a file that would run code: gone."""
    return ("do not unpickle this file (it would run code): get the weights as safetensors from "
            "a source you trust")


def _warned(fix: str) -> str:
    """check's own fix, which comes first, with the warning on ignore_mismatched_sizes."""
    tail = fix[fix.index(_IGNORE_SIZES):]
    if "random" in tail:
        return fix
    return fix.replace(_IGNORE_SIZES, _IGNORE_SIZES + " (those weights become random: train "
                                                      "them before use)", 1)


def _mismatch_fix(finding: Finding, quantized: bool) -> str:
    """The fix for weights whose shapes differ: the config first; ignore_mismatched_sizes only
    last, saying that those weights become random; never for a quantized checkpoint."""
    mismatched = finding.evidence.get("mismatched")
    keys = list(mismatched) if isinstance(mismatched, dict) else \
        [str(finding.evidence.get("key", ""))]
    first = _config_fix(finding, keys)
    if quantized:
        return (first + "; do not pass ignore_mismatched_sizes=True: the checkpoint is "
                "quantized, and random values would replace its weights")
    shown = ", ".join(k for k in keys[:4] if k) or "those weights"
    return (f"{first}; only to train them anew: {_IGNORE_SIZES}, which leaves {shown} random "
            "(predictions are noise until trained)")


def _config_fix(finding: Finding, keys: list[str]) -> str:
    """The real fix for a shape mismatch: the head's size from the checkpoint, else its config."""
    head = [k for k in keys if _CLASSIFIER.match(k)]
    shapes = finding.evidence.get("mismatched")
    checkpoint = ""
    if head and isinstance(shapes, dict) and isinstance(shapes.get(head[0]), dict):
        checkpoint = str(shapes[head[0]].get("checkpoint", ""))
    elif head:
        checkpoint = str(finding.evidence.get("checkpoint_shape", ""))
    labels = checkpoint.split(",")[0].strip()
    if head and labels.isdigit():
        return (f"the checkpoint's head has {labels} labels: load it without num_labels (or "
                f"with num_labels={labels}), or take id2label from its config.json")
    return ("load the config saved with the checkpoint and set the size in config.json "
            "(vocab_size, max_position_embeddings, num_labels) to what the weights hold")


def strip_prefix_fix(location: str, prefix: str) -> str:
    """The fix for a checkpoint whose every key carries a wrapper's prefix: a new folder."""
    hub = "/" in location and is_hub_id(location) and not os.path.isdir(location)
    return fix_commands.strip_prefix_into_new_folder(location, prefix, hub=hub)
