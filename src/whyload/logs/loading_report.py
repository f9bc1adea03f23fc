"""transformers' own loading report in a log -> findings.

transformers 5 prints a table after from_pretrained (`<Class> LOAD REPORT from: <path>`, then
`key | STATUS | detail` rows: MISSING, UNEXPECTED, MISMATCH); transformers 4 wrote sentences
("Some weights of X were not initialized from the model checkpoint at P and are newly
initialized: [...]"). Both name the same three facts, collected here into one LoadingReport.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import whyload.checks  # noqa: F401  (registers every code the table names)
from whyload.knowledge import fix_commands
from whyload.knowledge.quantization import IGNORE_SIZES_ON_QUANTIZED, mismatches_are_packed
from whyload.logs.advice import strip_prefix_fix
from whyload.logs.lines import Line
from whyload.registry import Problem, stamp
from whyload.report import Effect, Finding, JSONValue, Severity

_V5_HEADER = re.compile(r"(?P<model_class>\w+) LOAD REPORT from: (?P<path>.+?)\s*$")
_V5_ROW = re.compile(r"^(?P<key>[^\s|][^|]*?)\s*\|\s*(?P<status>MISSING|UNEXPECTED|MISMATCH)\s*\|"
                     r"\s*(?P<detail>.*?)\s*$")
_V5_SHAPES = re.compile(r"ckpt: torch\.Size\(\[(?P<checkpoint>[^\]]*)\]\) vs "
                        r"model:\s*torch\.Size\(\[(?P<model>[^\]]*)\]\)")
_V5_RAISED = "You set `ignore_mismatched_sizes` to `False`"
_V4_MISSING = re.compile(r"Some weights of (?P<model_class>\w+) were not initialized from the "
                         r"model checkpoint at (?P<path>.+?) and are newly initialized"
                         r"(?P<shapes> because the shapes did not match)?")
_V4_UNUSED = re.compile(r"Some weights of the model checkpoint at (?P<path>.+?) were not used "
                        r"when initializing (?P<model_class>\w+)")
_V3_MISSING = re.compile(r"Weights of (?P<model_class>\w+) not initialized from pretrained model")
_V4_SHAPE_ROW = re.compile(r"^- (?P<key>[\w.\-]+): found shape torch\.Size\(\[(?P<checkpoint>"
                           r"[^\]]*)\]\) in the checkpoint and torch\.Size\(\[(?P<model>[^\]]*)"
                           r"\]\) in the model")
_QUOTED = re.compile(r"'([^']+)'")
# the parts of a model that a base checkpoint never has: new ones are expected when fine-tuning
HEAD_PREFIXES = ("classifier.", "qa_outputs.", "lm_head.", "cls.", "score.", "pre_classifier.",
                 "generator_predictions.", "generator_lm_head.", "discriminator_predictions.",
                 "predictions.", "sop_classifier.", "mask_predictions.", "lm_predictions.")
WRAPPER_PREFIXES = {"module.": "WL410", "_orig_mod.": "WL410", "model.": "WL411"}
SHOWN_KEYS = 8


@dataclass
class LoadingReport:
    """What transformers said about the keys of one load."""

    model_class: str = ""
    path: str = ""
    first_line: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[str, str]] = field(default_factory=dict)
    raised: bool = False

    @property
    def empty(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


def read_loading_reports(lines: Iterable[Line]) -> list[LoadingReport]:
    """Every loading report (v5 table or v4 sentences) among `lines`."""
    reports: list[LoadingReport] = []
    current: LoadingReport | None = None
    in_shape_list = False
    for line in lines:
        text = line.plain
        if not (line.trigger or "|" in text or text.startswith("- ")):
            in_shape_list = False
            continue
        if (head := _V5_HEADER.search(text)) is not None:
            current = LoadingReport(head["model_class"], head["path"], line.number)
            reports.append(current)
            continue
        if (row := _V5_ROW.match(text)) is not None and current is not None:
            _add_row(current, row["key"], row["status"], row["detail"])
            continue
        if _V5_RAISED in text and current is not None:
            current.raised = True
            continue
        if (v4 := _V4_MISSING.search(text)) is not None:
            if not _same_load(current, v4["model_class"], v4["path"]) or current is None \
                    or current.missing:
                current = LoadingReport(v4["model_class"], v4["path"], line.number)
                reports.append(current)
            in_shape_list = bool(v4["shapes"])
            if not in_shape_list:
                current.missing.extend(_QUOTED.findall(text[v4.end():]))
            continue
        if (shape := _V4_SHAPE_ROW.match(text)) is not None and current is not None \
                and in_shape_list:
            current.mismatched[shape["key"]] = (shape["checkpoint"], shape["model"])
            continue
        if (unused := _V4_UNUSED.search(text)) is not None:
            if not _same_load(current, unused["model_class"], unused["path"]) or \
                    current is None or current.unexpected:
                current = LoadingReport(unused["model_class"], unused["path"], line.number)
                reports.append(current)
            current.unexpected.extend(_QUOTED.findall(text[unused.end():]))
            continue
        if (v3 := _V3_MISSING.search(text)) is not None:
            current = LoadingReport(v3["model_class"], "", line.number)
            reports.append(current)
            current.missing.extend(_QUOTED.findall(text[v3.end():]))
        in_shape_list = in_shape_list and text.startswith("- ")
    return [r for r in reports if not r.empty]


def _same_load(report: LoadingReport | None, model_class: str, path: str) -> bool:
    """Whether a transformers 4 sentence goes on with the report before it: the unused and the
    missing sentences of one load name the same class and path."""
    return report is not None and report.model_class == model_class and report.path == path


def _add_row(report: LoadingReport, key: str, status: str, detail: str) -> None:
    if status == "MISSING":
        report.missing.append(key)
    elif status == "UNEXPECTED":
        report.unexpected.append(key)
    elif (shapes := _V5_SHAPES.search(detail)) is not None:
        report.mismatched[key] = (shapes["checkpoint"], shapes["model"])
    else:
        report.mismatched[key] = ("?", "?")


def _shown(keys: list[str]) -> str:
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


def _common_prefix(keys: list[str]) -> str | None:
    firsts = {k.split(".", 1)[0] + "." for k in keys if "." in k}
    return firsts.pop() if len(firsts) == 1 and len(keys) > 1 else None


_LAYER = re.compile(r"\.(?:\d+|\{[\d, ]+\})\.")


def _no_name_matches(missing: list[str], unexpected: list[str]) -> bool:
    """Whether the whole model is missing and the checkpoint's keys are something else: the
    missing keys hold the embeddings and numbered layers, and the checkpoint's unused keys are
    as many (counting transformers 5's `{0, 1}` ranges)."""
    if not missing or not unexpected:
        return False
    if not any("embed" in k or k.startswith(("wte.", "wpe.")) for k in missing):
        return False
    if not any(_LAYER.search(k) for k in missing):
        return False
    return _count(unexpected) * 2 >= _count(missing)


def _count(keys: list[str]) -> int:
    return sum(max(1, k.count(",") + 1) if "{" in k else 1 for k in keys)


def loading_findings(report: LoadingReport) -> list[Finding]:
    """The causes a loading report shows, with the keys as evidence."""
    where: dict[str, JSONValue] = {"line": report.first_line, "model_class": report.model_class,
                                   "path": report.path}
    found: list[Finding] = []
    missing, unexpected = report.missing, report.unexpected
    prefix = _common_prefix(unexpected) if unexpected else None
    renamed = {k[len(prefix):] for k in unexpected} & set(missing) if prefix else set()
    if prefix and len(renamed) >= max(1, len(missing) // 2):
        code = WRAPPER_PREFIXES.get(prefix, "WL412")
        found.append(stamp(code, Problem(
            title=f"Every checkpoint key carries the prefix {prefix!r}: no weight was loaded",
            detail=f"{len(unexpected)} checkpoint keys were not used and {len(missing)} model "
                   f"weights were newly initialized: the names differ by {prefix!r}.",
            evidence={**where, "prefix": prefix, "unexpected": unexpected[:SHOWN_KEYS],
                      "missing": missing[:SHOWN_KEYS], "all_missing": True},
            fix=(f"strip {prefix!r} into a new folder: {strip_prefix_fix(report.path, prefix)}"
                 if report.path else
                 f"strip the prefix: {{k.removeprefix('{prefix}'): v for k, v in sd.items()}}, "
                 "then save_pretrained into a new folder"), effect=Effect.SILENT)))
        return found
    if _no_name_matches(missing, unexpected):
        found.append(stamp("WL470", Problem(
            title=f"None of the checkpoint's weight names match {report.model_class}'s: every "
                  "weight was newly initialized",
            detail=f"transformers reports the model's weights missing ({_shown(missing[:3])} "
                   f"...) and the checkpoint's unused ({_shown(unexpected[:3])} ...), and no "
                   "common prefix tells them apart: the checkpoint was saved by other code. The "
                   "model that loaded is entirely random.",
            evidence={**where, "missing": missing[:SHOWN_KEYS],
                      "unexpected": unexpected[:SHOWN_KEYS], "all_missing": True,
                      "prefix": _common_prefix(unexpected)},
            fix="load the class and library the checkpoint was saved with, or convert its names "
                "with that project's conversion script"
                + (f"; `whyload check {fix_commands.quoted(report.path)}` shows what it holds"
                   if report.path else ""),
            effect=Effect.SILENT)))
        return found
    if any("generator_predictions" in k or "generator_lm_head" in k for k in missing):
        found.append(stamp("WL421", Problem(
            title=f"An ELECTRA discriminator loaded as {report.model_class}",
            detail="The generator's head (generator_predictions) is newly initialized: the "
                   "checkpoint is the discriminator, so masked-LM output is noise.",
            evidence={**where, "missing": missing[:SHOWN_KEYS]},
            fix="load it with ElectraForPreTraining, or use the -generator checkpoint",
            effect=Effect.SILENT)))
    head = [k for k in missing if k.startswith(HEAD_PREFIXES)]
    base = [k for k in missing if not k.startswith(HEAD_PREFIXES)]
    if head:
        found.append(stamp("WL401", Problem(
            title=f"{report.model_class}'s head was newly initialized: {_shown(head)}",
            detail="transformers created these weights at random because the checkpoint does "
                   "not have them. Expected when fine-tuning a base model; wrong for inference.",
            evidence={**where, "missing": head[:50], "count": len(head)},
            fix="train the head before inference, or load the class the checkpoint was saved "
                "with", severity=Severity.WARNING, effect=Effect.NONE)))
    if base:
        # as check's WL402: a new pooler matters only when a loaded task head reads it
        only_pooler = all("pooler." in k for k in base)
        head_reads_pooler = only_pooler and not head and "For" in report.model_class
        harmless = only_pooler and not head_reads_pooler
        found.append(stamp("WL402", Problem(
            title=f"{len(base)} weights of {report.model_class} were newly initialized: "
                  f"{_shown(base)}",
            detail="The model has weights the checkpoint lacks; transformers filled them with "
                   "random values and returned the model without an error."
                   + (" Only the pooler: pooler_output is random; the hidden states are fine."
                      if harmless else ""),
            evidence={**where, "missing": base[:50], "count": len(base)},
            fix="load the class (and config) the checkpoint was saved with; "
                f"`whyload check {fix_commands.quoted(report.path) if report.path else '<model>'}`"
                " shows what the weights hold",
            severity=Severity.WARNING if harmless else Severity.ERROR,
            effect=Effect.NONE if harmless else Effect.SILENT)))
    deberta = {k: v for k, v in report.mismatched.items() if "rel_embeddings" in k}
    sizes = {k: v for k, v in report.mismatched.items() if k not in deberta}
    for code, mismatched in (("WL422", deberta), ("WL310", sizes)):
        if mismatched:
            found.append(_mismatch_finding(code, report, mismatched, where))
    if unexpected:
        found.append(stamp("WL403", Problem(
            title=f"{len(unexpected)} checkpoint weights were not used by "
                  f"{report.model_class}: {_shown(unexpected)}",
            detail="The checkpoint holds weights the class has no place for (a head of another "
                   "task, a pooler); they were dropped.",
            evidence={**where, "unexpected": unexpected[:50], "count": len(unexpected)},
            fix="nothing, when loading a base of a fine-tuned model on purpose; otherwise load "
                "the class the checkpoint was saved with",
            severity=Severity.INFO, effect=Effect.NONE)))
    return found


def _mismatch_finding(code: str, report: LoadingReport, mismatched: dict[str, tuple[str, str]],
                      where: dict[str, JSONValue]) -> Finding:
    first_key, (ckpt, model) = next(iter(mismatched.items()))
    cause = ("the relative-position table differs between DeBERTa v1 and v2/v3"
             if code == "WL422" else "the config contradicts the weights (num_labels for a "
             "classifier, vocab_size or max_position_embeddings for embeddings)")
    fix = ("load with AutoModel (or the DebertaV2* classes for v2/v3)" if code == "WL422" else
           "take the config from the same checkpoint and fix the size in config.json; or pass "
           "ignore_mismatched_sizes=True to re-initialize them at random")
    packed = mismatches_are_packed(list(mismatched), report.unexpected)
    if packed is not None:  # random weights would replace the quantized ones
        cause = (f"they are {packed.method.title} packed weights (their scales are the "
                 "unexpected keys), read by a model built without that quantizer")
        code = "WL362" if packed.method.transformers_loads else "WL361"
        fix = ("load the checkpoint with the quantization_config it was saved with"
               if packed.method.transformers_loads else
               "load it with mlx-lm on Apple silicon, or use the checkpoint it was converted "
               "from") + "; " + IGNORE_SIZES_ON_QUANTIZED.format(title=packed.method.title)
        where = {**where, "quantization": packed.name}
    return stamp(code, Problem(
        title=f"{len(mismatched)} weights of {report.model_class} differ in shape from the "
              f"checkpoint: {_shown(list(mismatched))}",
        detail=f"{first_key} is [{ckpt}] in the checkpoint and [{model}] in the model: {cause}"
               + ("; from_pretrained raised." if report.raised else
                  "; they were re-initialized at random (ignore_mismatched_sizes)."),
        evidence={**where, "mismatched": {k: {"checkpoint": c, "model": m}
                                          for k, (c, m) in list(mismatched.items())[:50]}},
        fix=fix, severity=Severity.ERROR,
        effect=Effect.RAISES if report.raised else Effect.SILENT))
