"""plan(): what `whyload fix` would write, from what and why, built from the same snapshot and
findings `whyload check` reports. Planning reads headers and JSON only, like check: no tensor,
no pickle, no torch. Nothing is written until RepairPlan.apply()."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whyload.checks.groups import NEEDS_INVENTED_WEIGHTS
from whyload.errors import UsageError
from whyload.integrity.lockfile import LOCK_NAME
from whyload.pipeline import examine
from whyload.registry import group_codes
from whyload.repair.apply import apply_plan
from whyload.repair.byte_guard import damaged_inputs
from whyload.repair.config_repair import plan_config
from whyload.repair.index_repair import plan_index
from whyload.repair.refusals import refusals as find_refusals
from whyload.repair.types import ApplyResult, Refusal, Step, summary
from whyload.repair.weights_repair import plan_weights
from whyload.report import Report, Severity
from whyload.resolve import resolve
from whyload.snapshot import Options, Snapshot

SKIPPED_DIRS = frozenset({".git"})  # a clone's history is not part of the model
DOWNLOAD_RECORDS = ".cache/huggingface/download"  # what `hf download --local-dir` recorded
MAX_COPIED_FILES = 10_000


def plan(target: str, out: str | Path, *, force: bool = False, to_safetensors: bool = False,
         max_shard_bytes: int | None = None, overrides: Mapping[str, Any] | None = None,
         model_class: str | None = None) -> RepairPlan:
    """The repair plan for `target` (a folder, or a hub id in the HF cache) into the new folder
    `out`. `to_safetensors` converts .bin weights even when nothing else needs it;
    `max_shard_bytes` re-shards; `overrides` sets config values the weights do not determine
    (num_attention_heads). Raises UsageError when `out` cannot be written safely."""
    artifact = resolve(str(target))
    if artifact.focus is not None:
        raise UsageError(f"{target} is a single file; fix repairs a model folder",
                         hint=f"whyload fix {shlex.quote(str(artifact.root))} "
                         f"--out {shlex.quote(str(out))}")
    source = artifact.root.resolve()
    dest = check_out(source, Path(out), force=force)
    examination = examine(artifact, options=Options(model_class=model_class))
    snap, findings = examination.snapshot, examination.findings
    before = examination.report(str(target))
    planned = frozenset([*snap.plan.files, *([snap.plan.index] if snap.plan.index else [])])
    refused = find_refusals(findings, planned)
    steps: list[Step] = []
    weights, weights_refused = plan_weights(snap, findings, to_safetensors=to_safetensors,
                                            max_shard_bytes=max_shard_bytes)
    config, config_refused = plan_config(snap, findings, overrides or {})
    index, index_refused = plan_index(snap, findings) if not weights else ([], [])
    steps = [*config, *index, *weights]
    refused += [*weights_refused, *config_refused, *index_refused]
    rewritten = [name for s in steps if s.action == "rewrite-weights" for name in s.reads]
    if rewritten and not refused:
        refused += damaged_inputs(artifact, rewritten)
    answered = {c for s in steps for c in s.answers} | {c for r in refused for c in r.codes}
    unanswered = tuple(f"{f.code}: {f.title}" + (f" — {f.fix}" if f.fix else "")
                       for f in findings
                       if f.severity is Severity.ERROR and f.code not in answered)
    replaced = {name for s in steps if s.action == "rewrite-weights" for name in s.reads}
    written = {name for s in steps for name in s.writes}
    records = {f"{DOWNLOAD_RECORDS}/{name}.{ext}" for name in replaced | written
               for ext in ("metadata", "lock")}  # they describe the bytes before the repair
    copies, notes = files_to_copy(source, replaced | written | records | {LOCK_NAME})
    if steps and (source / LOCK_NAME).is_file():
        notes.append(f"{LOCK_NAME} is not copied: it records the files before the repair; "
                     f"whyload lock {shlex.quote(str(dest))} records the repaired ones")
    notes += [f"{f.code}: {f.title} — fix does not invent weights; {f.fix}".rstrip("; ")
              for f in findings if f.code in group_codes(NEEDS_INVENTED_WEIGHTS)
              and f.severity is not Severity.ERROR]
    if any(s.action == "rewrite-weights" for s in steps):
        notes.append("legacy names (LayerNorm.gamma/beta) are written as weight/bias; "
                     "transformers 5 renames them on load, so they are not repaired on their own")
    return RepairPlan(source=source, out=dest, before=before, steps=tuple(steps),
                      copies=tuple(copies), refusals=tuple(refused), unanswered=unanswered,
                      notes=tuple(notes), model_class=model_class, snapshot=snap)


def check_out(source: Path, out: Path, *, force: bool) -> Path:
    """The absolute output folder, or UsageError when writing there could touch the source."""
    if not str(out).strip() or out.name in ("", ".", ".."):
        raise UsageError(f"--out {str(out)!r}: name a new folder to write the repaired copy "
                         "into", hint=f"e.g. --out {shlex.quote(str(source) + '-fixed')}")
    parent = out.expanduser().absolute().parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is not a folder",
                         hint=f"e.g. --out {shlex.quote(str(source) + '-fixed')}")
    existing = next(p for p in (parent, *parent.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"--out {out}: {existing} is not a folder",
                         hint=f"e.g. --out {shlex.quote(str(source) + '-fixed')}")
    # the folders still missing are made when the plan is applied (never inside the source)
    dest = existing.resolve() / parent.relative_to(existing) / out.name
    if dest == source or source in dest.parents:
        raise UsageError(f"--out {out} is inside the model folder {source}",
                         hint="write the repaired copy beside it, e.g. --out "
                         f"{source.parent / (source.name + '-fixed')}")
    if dest in source.parents:
        raise UsageError(f"--out {out} contains the model folder {source}",
                         hint="choose a folder outside the model's own")
    if (dest.exists() or dest.is_symlink()) and not force:
        raise UsageError(f"{dest} already exists",
                         hint="choose a new folder, or --force to replace it")
    if force and dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder", hint="remove it or choose another")
    return dest


def files_to_copy(source: Path, skip: set[str]) -> tuple[list[str], list[str]]:
    """Every regular file under source (relative paths) except `skip`, and what was left out."""
    copies: list[str] = []
    notes: list[str] = []
    for folder, dirs, names in os.walk(source):
        here = Path(folder)
        for d in sorted(dirs):
            if d in SKIPPED_DIRS:
                notes.append(f"{(here / d).relative_to(source)}/ is not copied")
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(names):
            path = here / name
            rel = str(path.relative_to(source))
            if rel in skip:
                continue
            if not path.is_file():  # a dangling link, a FIFO, a socket
                notes.append(f"{rel} is not a regular file and is not copied")
                continue
            copies.append(rel)
            if len(copies) > MAX_COPIED_FILES:
                raise UsageError(f"{source} holds more than {MAX_COPIED_FILES:,} files",
                                 hint="point fix at the model folder itself")
    return copies, notes


@dataclass(frozen=True, kw_only=True)
class RepairPlan:
    """What `whyload fix` would write into `out`, from what and why; `apply()` writes it."""

    source: Path
    out: Path
    before: Report
    steps: tuple[Step, ...]
    copies: tuple[str, ...]  # files taken over unchanged
    refusals: tuple[Refusal, ...] = ()
    unanswered: tuple[str, ...] = ()  # error findings no step answers (their own fix applies)
    notes: tuple[str, ...] = ()
    model_class: str | None = None  # the class the load proof uses (None: architectures)
    snapshot: Snapshot | None = field(default=None, repr=False, compare=False)

    @property
    def nothing_to_fix(self) -> bool:
        return not self.steps and not self.refusals

    @property
    def applicable(self) -> bool:
        return bool(self.steps) and not self.refusals

    def answered(self) -> list[str]:
        return sorted({code for step in self.steps for code in step.answers})

    def apply(self, *, force: bool = False, prove: bool = True) -> ApplyResult:
        """Write the repaired folder (atomically), then check it and, when torch and
        transformers are installed, load it for real in a child process."""
        return apply_plan(self, force=force, prove=prove)

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "out": str(self.out),
                "before": summary(self.before),
                "steps": [s.to_dict() for s in self.steps], "copies": list(self.copies),
                "refusals": [r.to_dict() for r in self.refusals],
                "unanswered": list(self.unanswered), "notes": list(self.notes),
                "nothing_to_fix": self.nothing_to_fix}
