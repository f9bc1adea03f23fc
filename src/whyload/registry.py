"""The check registry: each check is a small pure function over a Snapshot, registered with a
stable code, a category and the checks it depends on.

A check yields `Problem`s; the registry stamps them with the rule's code and category. Checks run
in dependency order (graphlib); a check whose prerequisite found an error is not run, so one broken
file gives one finding, not twenty.

The other commands (verify, load, explain) find things no snapshot holds: a hash that differs, a
child process killed, a line in a log. Their codes are `declare`d here too, so every code has one
documented rule, `whyload rules` lists them all, and `stamp` turns their Problems into Findings.
"""

from __future__ import annotations

import graphlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from whyload.report import Category, Effect, Finding, JSONValue, Severity, Skipped

if TYPE_CHECKING:
    from whyload.snapshot import Snapshot


@dataclass(frozen=True, kw_only=True)
class Problem:
    """What a check yields: a Finding before the registry gives it its code and category."""

    title: str
    severity: Severity = Severity.ERROR
    detail: str = ""
    evidence: Mapping[str, JSONValue] = field(default_factory=dict)
    fix: str = ""
    effect: Effect = Effect.RAISES
    file: str | None = None


CheckFunc = Callable[["Snapshot"], Iterable[Problem]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    category: Category
    requires: tuple[str, ...]
    func: CheckFunc | None  # None: a finding of another command, never run by `check`
    command: str = "check"  # the command that reports it
    docstring: str = ""

    @property
    def title(self) -> str:
        return self.doc.split("\n", 1)[0].strip()

    @property
    def doc(self) -> str:
        text = self.docstring or (self.func.__doc__ if self.func else None)
        return inspect.cleandoc(text or self.name)

    @property
    def explanation(self) -> str:
        parts = self.doc.split("\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""


RULES: dict[str, Rule] = {}


def check(
    code: str, name: str, category: Category, *, requires: Sequence[str] = ()
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check. The docstring is the rule's documentation: a title line, then why."""

    def register(func: CheckFunc) -> CheckFunc:
        _add(Rule(code, name, category, tuple(requires), func))
        return func

    return register


def declare(code: str, name: str, category: Category, doc: str, *, command: str) -> str:
    """Register a finding that `command` (verify, load, explain, fix) reports from what it saw,
    not from a snapshot. `doc` is its documentation: a title line, then why. Returns the code."""
    _add(Rule(code, name, category, (), None, command=command, docstring=doc))
    return code


def _add(rule: Rule) -> None:
    if rule.code in RULES:
        raise RuntimeError(f"check code {rule.code} registered twice")
    RULES[rule.code] = rule


def stamp(code: str, problem: Problem) -> Finding:
    """The Finding for a Problem under a registered code."""
    rule = RULES[code]
    effect = problem.effect
    if problem.severity is not Severity.ERROR and effect is not Effect.UNKNOWN:
        effect = Effect.NONE
    return Finding(code=rule.code, category=rule.category, severity=problem.severity,
                   title=problem.title, detail=problem.detail, evidence=problem.evidence,
                   fix=problem.fix, effect=effect, file=problem.file)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then in the order a person should fix them."""
    category_order = list(Category)
    return sorted(findings, key=lambda f: (-f.severity, category_order.index(f.category), f.code,
                                           f.file or ""))


def all_rules() -> list[Rule]:
    import whyload.checks  # noqa: F401  (registers every check)

    return sorted(RULES.values(), key=lambda r: r.code)


def matches(code: str, patterns: Iterable[str]) -> bool:
    """`--select`/`--ignore` take a code (WL104) or a prefix (WL1, WL10)."""
    return any(code.startswith(p.strip().upper()) for p in patterns if p.strip())


def validate_patterns(patterns: Iterable[str]) -> None:
    from whyload.errors import UsageError

    codes = [r.code for r in all_rules()]
    for p in patterns:
        if not any(c.startswith(p.strip().upper()) for c in codes):
            raise UsageError(
                f"{p!r} matches no check code", hint="`whyload rules` lists every code"
            )


def run_checks(
    snapshot: Snapshot,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> tuple[tuple[Finding, ...], tuple[Skipped, ...]]:
    """Run the selected checks (all by default) and those they require, in dependency order;
    report the selected ones."""
    every = {r.code: r for r in all_rules() if r.func is not None}
    wanted = {c for c in every if (not select or matches(c, select)) and not matches(c, ignore)}
    rules: dict[str, Rule] = {}
    stack = list(wanted)
    while stack:  # the selected checks and, transitively, the checks they require
        code = stack.pop()
        if code in every and code not in rules:
            rules[code] = every[code]
            stack.extend(every[code].requires)
    order = graphlib.TopologicalSorter(
        {code: [d for d in rule.requires if d in rules] for code, rule in rules.items()}
    ).static_order()

    blocked: set[str] = set()  # checks that found an error, or could not run
    found: list[Finding] = []
    skipped: list[Skipped] = []
    for code in order:
        rule = rules[code]
        if any(dep in blocked for dep in rule.requires):
            blocked.add(code)
            continue
        assert rule.func is not None
        try:
            problems = list(rule.func(snapshot))
        except Exception as exc:  # a bug in a check must not hide the other findings
            blocked.add(code)
            skipped.append(Skipped(code=code,
                                   reason=f"internal error: {type(exc).__name__}: {exc}"))
            continue
        for p in problems:
            if p.severity is Severity.ERROR:
                blocked.add(code)
            found.append(stamp(rule.code, p))

    def keep(code: str) -> bool:
        return code in wanted

    return (
        tuple(f for f in sort_findings(found) if keep(f.code)),
        tuple(s for s in skipped if keep(s.code)),
    )
