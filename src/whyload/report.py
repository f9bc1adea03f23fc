"""The result types every command returns: Finding, Severity, Category, Verdict, Report."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "whyload.report/2"


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that max() gives the worst."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}: use one of {names}") from None


class Category(str, enum.Enum):
    """The article's families of failure, in the order a person should look at them."""

    FILES = "files"
    VERSION = "version"
    CONFIG = "config"
    ARCHITECTURE = "architecture"
    ENVIRONMENT = "environment"
    SECURITY = "security"


class Effect(str, enum.Enum):
    """What the problem does to `from_pretrained`: what the verdict is built from."""

    RAISES = "raises"  # loading stops with an exception
    SILENT = "silent"  # loading returns a model whose weights are wrong
    UNKNOWN = "unknown"  # whyload could not tell: part of the target could not be read
    NONE = "none"  # worth knowing; loading is not affected


class Verdict(str, enum.Enum):
    """What from_pretrained will do (or did); the values are identifiers, `label` is for people."""

    LOADS = "loads"
    FAILS = "fails"
    LOADS_BROKEN = "loads_broken"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


JSONValue = Any  # plain data: str, int, float, bool, None, lists and dicts of those


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem, with what was seen and the command or edit that fixes it."""

    code: str
    category: Category
    severity: Severity
    title: str
    detail: str = ""
    evidence: Mapping[str, JSONValue] = field(default_factory=dict)
    fix: str = ""
    effect: Effect = Effect.NONE
    file: str | None = None

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "code": self.code,
            "category": self.category.value,
            "severity": self.severity.label,
            "title": self.title,
            "detail": self.detail,
            "evidence": dict(self.evidence),
            "fix": self.fix,
            "effect": self.effect.value,
            "file": self.file,
        }


@dataclass(frozen=True, kw_only=True)
class Skipped:
    """A check that could not run, and why: the verdict is 'unknown' unless something failed."""

    code: str
    reason: str


# what decides whether from_pretrained loads: a "loads" needs the files and at least one of the
# other two assessed; otherwise nothing that decides loading was looked at
DECISIVE = (Category.FILES, Category.CONFIG, Category.ARCHITECTURE)


def decide_verdict(findings: tuple[Finding, ...], skipped: tuple[Skipped, ...],
                   not_checked: Mapping[str, str] | None = None) -> Verdict:
    effects = {f.effect for f in findings if f.severity is Severity.ERROR}
    if Effect.RAISES in effects:
        return Verdict.FAILS
    if Effect.SILENT in effects:
        return Verdict.LOADS_BROKEN
    if skipped or any(f.effect is Effect.UNKNOWN for f in findings):
        return Verdict.UNKNOWN
    unassessed = set(not_checked or ())
    if Category.FILES.value in unassessed or all(
            c.value in unassessed for c in DECISIVE[1:]):
        return Verdict.UNKNOWN
    return Verdict.LOADS


@dataclass(frozen=True, kw_only=True)
class Report:
    """What a command found about one target. Renderers turn it into text, JSON, Markdown."""

    command: str
    target: str
    resolved: Mapping[str, JSONValue]
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...] = ()
    facts: Mapping[str, JSONValue] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    # the categories this command examines that were not assessed for this target, and why
    # (category value -> reason): shown as "not checked", never as a clean ✓
    not_checked: Mapping[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return decide_verdict(self.findings, self.skipped, self.not_checked)

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def by_code(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]

    def failed(self, threshold: Severity) -> bool:
        return any(f.severity >= threshold for f in self.findings)

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "schema": SCHEMA,
            "command": self.command,
            "target": self.target,
            "resolved": dict(self.resolved),
            "verdict": self.verdict.value,
            "findings": [f.to_dict() for f in self.findings],
            "skipped": [{"code": s.code, "reason": s.reason} for s in self.skipped],
            "not_checked": dict(self.not_checked),
            "facts": dict(self.facts),
            "timings": dict(self.timings),
        }

    def __rich__(self) -> Any:
        from whyload.render.text import render_rich

        return render_rich(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The notebook's one display of the report: IPython takes every view from here, so no
        other hook (rich's text/plain formatter, a `_repr_html_`) shows it a second time."""
        from whyload.render.text import render_html, render_text

        return {"text/plain": render_text(self, verbose=True), "text/html": render_html(self)}
