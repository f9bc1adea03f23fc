"""How a rule registers: `@check` for a pure function over a Snapshot, `declare` for a finding
another command reports, `group` for a named set of codes that relations can name.

A check declares its relations here, as data:
- `requires`: codes or groups that run first; if one of them finds an error, this check does not
  run (one broken file gives one finding, not twenty);
- `superseded_by`: codes or groups whose finding on the same target says the same thing better;
  when one fires, this check's findings are not reported.

Modules under whyload.checks register as they are imported. The registry (whyload.registry)
imports them all and validates every code a relation names, so a typo fails at import.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from whyload.report import Category, Effect, JSONValue, Severity

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
class Group:
    """A named set of codes (or other groups) that a relation can name in one word."""

    name: str
    members: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    category: Category
    requires: tuple[str, ...]  # codes or group names, as declared
    func: CheckFunc | None  # None: a finding of another command, never run by `check`
    command: str = "check"  # the command that reports it
    docstring: str = ""
    superseded_by: tuple[str, ...] = ()  # codes or group names, as declared

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

    @property
    def required_codes(self) -> tuple[str, ...]:
        """The codes `requires` names, groups expanded."""
        return codes_of(self.requires)

    @property
    def superseding_codes(self) -> tuple[str, ...]:
        """The codes `superseded_by` names, groups expanded."""
        return codes_of(self.superseded_by)


RULES: dict[str, Rule] = {}
GROUPS: dict[str, Group] = {}


def check(
    code: str,
    name: str,
    category: Category,
    *,
    requires: Sequence[str] = (),
    superseded_by: Sequence[str] = (),
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check. The docstring is the rule's documentation: a title line, then why.
    `requires` and `superseded_by` take codes (WL301) or group names (see `group`)."""

    if isinstance(requires, str) or isinstance(superseded_by, str):
        raise TypeError(f"{code}: requires= and superseded_by= take a list of codes or groups")

    def register(func: CheckFunc) -> CheckFunc:
        _add(Rule(code, name, category, tuple(requires), func,
                  superseded_by=tuple(superseded_by)))
        return func

    return register


def declare(code: str, name: str, category: Category, doc: str, *, command: str) -> str:
    """Register a finding that `command` (verify, load, explain, fix) reports from what it saw,
    not from a snapshot. `doc` is its documentation: a title line, then why. Returns the code."""
    _add(Rule(code, name, category, (), None, command=command, docstring=doc))
    return code


def group(name: str, doc: str, *members: str) -> str:
    """Name a set of codes (or groups) once, so relations and other commands can name it.
    Returns the name, to use in `requires=`/`superseded_by=`."""
    if name in GROUPS or name in RULES:
        raise RuntimeError(f"group {name!r} declared twice")
    GROUPS[name] = Group(name, tuple(members), inspect.cleandoc(doc))
    return name


def codes_of(names: Iterable[str]) -> tuple[str, ...]:
    """Codes and group names -> the codes, groups expanded (recursively), in declared order."""
    out: dict[str, None] = {}
    for name in names:
        if name in GROUPS:
            out.update(dict.fromkeys(codes_of(GROUPS[name].members)))
        else:
            out[name] = None
    return tuple(out)


def _add(rule: Rule) -> None:
    if rule.code in RULES or rule.code in GROUPS:
        raise RuntimeError(f"check code {rule.code} registered twice")
    RULES[rule.code] = rule
