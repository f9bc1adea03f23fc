"""What `whyload fix` plans and what applying a plan did: frozen, plain data, JSON-ready."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from whyload.report import JSONValue, Report, Severity

if TYPE_CHECKING:
    pass


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
                "before": summary(self.before), "after": summary(self.after),
                "load": self.load.to_dict() if self.load else None,
                "load_skipped": self.load_skipped, "ok": self.ok}


def summary(report: Report) -> dict[str, JSONValue]:
    return {"verdict": report.verdict.value, "codes": report.codes()}
