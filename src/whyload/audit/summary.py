"""What an audit found, in a few numbers: verdicts, the most frequent codes, the targets to look at
first. Built from the rows (whyload.report data), so a JSONL file read back gives the same."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from whyload.report import Category, Verdict

# the order verdicts are shown in: what needs a person first
VERDICT_ORDER = (Verdict.LOADS_BROKEN.value, Verdict.FAILS.value, Verdict.UNKNOWN.value,
                 Verdict.LOADS.value)
AUDIT_FAULTS = ("WL590", "WL591", "WL592", "WL593")
FIRST_LIMIT = 10
CODES_LIMIT = 10


@dataclass(frozen=True)
class CodeCount:
    code: str
    title: str  # the title of one of its findings (they vary by numbers)
    severity: str
    targets: int  # how many targets have it


@dataclass(frozen=True)
class Priority:
    """A target to look at, and why it comes before the others."""

    target: str
    verdict: str
    headline: str  # its first finding: code and title
    reason: str


@dataclass(frozen=True)
class Summary:
    total: int
    verdicts: dict[str, int]
    categories: dict[str, int]  # targets with an error or warning in each category
    codes: tuple[CodeCount, ...]
    first: tuple[Priority, ...]
    faults: int  # rows the audit itself could not finish (WL590-WL593)
    from_cache: int = 0
    seconds: float = 0.0
    all_codes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "verdicts": self.verdicts, "categories": self.categories,
            "codes": [vars(c) for c in self.codes], "first": [vars(p) for p in self.first],
            "faults": self.faults, "from_cache": self.from_cache, "seconds": self.seconds,
        }


def summarize(rows: Iterable[Mapping[str, Any]], *, from_cache: int = 0,
              seconds: float = 0.0) -> Summary:
    rows = list(rows)
    verdicts = Counter(str(r.get("verdict")) for r in rows)
    per_code: Counter[str] = Counter()
    example: dict[str, Mapping[str, Any]] = {}
    categories: Counter[str] = Counter()
    faults = 0
    for row in rows:
        findings = list(row.get("findings", ()))
        found = {f["code"] for f in findings}
        per_code.update(found)
        for f in findings:
            example.setdefault(f["code"], f)
        categories.update({f["category"] for f in findings if f["severity"] != "info"})
        faults += bool(found & set(AUDIT_FAULTS))
    ranked = sorted(rows, key=_urgency)
    first = tuple(_priority(r) for r in ranked[:FIRST_LIMIT] if _urgency(r)[0] < len(REASONS))
    codes = tuple(CodeCount(code, str(example[code]["title"]), str(example[code]["severity"]),
                            count)
                  for code, count in sorted(per_code.items(), key=lambda kv: (-kv[1], kv[0]))
                  [:CODES_LIMIT])
    return Summary(
        total=len(rows),
        verdicts={v: verdicts.get(v, 0) for v in VERDICT_ORDER},
        categories={c.value: categories.get(c.value, 0) for c in Category},
        codes=codes, first=first, faults=faults, from_cache=from_cache, seconds=seconds,
        all_codes=dict(per_code))


# why a target comes first, most urgent first
REASONS = (
    "would run code when loaded",  # a security error: pickle that calls os.system, ...
    "loads with wrong weights, without an error",
    "fails to load",
    "the audit could not check it",
    "not fully assessed",
)


def _urgency(row: Mapping[str, Any]) -> tuple[int, int, str]:
    findings = list(row.get("findings", ()))
    errors = [f for f in findings if f["severity"] == "error"]
    codes = {f["code"] for f in findings}
    verdict = row.get("verdict")
    if any(f["category"] == Category.SECURITY.value for f in errors):
        rank = 0
    elif verdict == Verdict.LOADS_BROKEN.value:
        rank = 1
    elif verdict == Verdict.FAILS.value:
        rank = 2
    elif codes & set(AUDIT_FAULTS):
        rank = 3
    elif verdict == Verdict.UNKNOWN.value:
        rank = 4
    else:
        rank = len(REASONS)
    return rank, -len(errors), str(row.get("target"))


def _priority(row: Mapping[str, Any]) -> Priority:
    findings = list(row.get("findings", ()))
    top = findings[0] if findings else None
    headline = f"{top['code']} {top['title']}" if top else "nothing decides the verdict"
    return Priority(target=label(row), verdict=str(row.get("verdict")), headline=headline,
                    reason=REASONS[_urgency(row)[0]])


def label(row: Mapping[str, Any]) -> str:
    """How a row's target is shown: a cached hub id with its revision."""
    resolved = row.get("resolved") or {}
    revision = resolved.get("revision") if isinstance(resolved, Mapping) else None
    target = str(row.get("target"))
    return f"{target}@{revision}" if revision and resolved.get("how") == "hub-cache" else target
