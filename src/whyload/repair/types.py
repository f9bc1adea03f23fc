"""What `whyload fix` plans and what applying a plan did: frozen, plain data, JSON-ready."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whyload.report import JSONValue, Report, Severity

if TYPE_CHECKING:
    from whyload.snapshot import Snapshot


@dataclass(frozen=True, kw_only=True)
class Step:
    """One repair: the files it writes, the files it reads, why, and the findings it answers.

    `action` names the writer (write-config, rebuild-index, rewrite-weights); `spec` is what that
    writer needs, as plain data.
    """

    action: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    why: str
    answers: tuple[str, ...]
    spec: Mapping[str, JSONValue] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, JSONValue]:
        return {"action": self.action, "writes": list(self.writes), "reads": list(self.reads),
                "why": self.why, "answers": list(self.answers), "notes": list(self.notes),
                "spec": dict(self.spec)}


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Something fix will not do, why, and what to do instead."""

    reason: str
    next_step: str
    codes: tuple[str, ...] = ()
    file: str | None = None

    def to_dict(self) -> dict[str, JSONValue]:
        return {"reason": self.reason, "next_step": self.next_step, "codes": list(self.codes),
                "file": self.file}


@dataclass(frozen=True, kw_only=True)
class LoadProof:
    """What a real from_pretrained of the repaired folder did (in a child process)."""

    model_class: str
    loaded: bool
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[str, ...] = ()
    error: str | None = None
    how: str = "child process"

    @property
    def clean(self) -> bool:
        return self.loaded and not (self.missing or self.mismatched)

    def to_dict(self) -> dict[str, JSONValue]:
        return {"model_class": self.model_class, "loaded": self.loaded, "clean": self.clean,
                "missing": list(self.missing), "unexpected": list(self.unexpected),
                "mismatched": list(self.mismatched), "error": self.error, "how": self.how}


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    """The repaired folder, with the check before and after, and the real load when it ran."""

    out: Path
    written: tuple[str, ...]
    copied: tuple[str, ...]
    before: Report
    after: Report
    load: LoadProof | None = None
    load_skipped: str | None = None  # why no real load ran

    @property
    def ok(self) -> bool:
        after_ok = not any(f.severity is Severity.ERROR for f in self.after.findings)
        return after_ok and (self.load is None or self.load.clean)

    def to_dict(self) -> dict[str, JSONValue]:
        return {"out": str(self.out), "written": list(self.written), "copied": list(self.copied),
                "before": _summary(self.before), "after": _summary(self.after),
                "load": self.load.to_dict() if self.load else None,
                "load_skipped": self.load_skipped, "ok": self.ok}


def _summary(report: Report) -> dict[str, JSONValue]:
    return {"verdict": report.verdict.value, "codes": report.codes()}


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
        from whyload.repair.apply import apply_plan

        return apply_plan(self, force=force, prove=prove)

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "out": str(self.out),
                "before": _summary(self.before),
                "steps": [s.to_dict() for s in self.steps], "copies": list(self.copies),
                "refusals": [r.to_dict() for r in self.refusals],
                "unanswered": list(self.unanswered), "notes": list(self.notes),
                "nothing_to_fix": self.nothing_to_fix}
