"""The complete registry: every rule the checks package registers, its relations validated, and
the runner that applies them.

Each check is a small pure function over a Snapshot, registered where it is defined (see
whyload.checks.registration) with a stable code, a category and its relations to other codes.
A check yields `Problem`s; the registry stamps them with the rule's code and category. Checks run
in dependency order (graphlib); a check whose prerequisite found an error is not run, and a check
superseded by a code that fired is not reported, so one broken file gives one finding, not twenty.

The other commands (verify, load, explain) find things no snapshot holds: a hash that differs, a
child process killed, a line in a log. Their codes are `declare`d too, so every code has one
documented rule, `whyload rules` lists them all, and `stamp` turns their Problems into Findings.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import whyload.checks  # noqa: F401  (registers every rule)
from whyload.checks.registration import GROUPS, RULES, Group, Problem, Rule, codes_of
from whyload.report import Category, Effect, Finding, Severity, Skipped

if TYPE_CHECKING:
    from whyload.snapshot import Snapshot

__all__ = ["GROUPS", "RULES", "Group", "Problem", "Rule", "all_rules", "group_codes", "matches",
           "relation_errors", "run_checks", "sort_findings", "stamp", "validate_patterns"]


def relation_errors(rules: Mapping[str, Rule], groups: Mapping[str, Group]) -> list[str]:
    """What is wrong with the declared relations: a name that is no code and no group, a group
    that contains itself, a check that requires or is superseded by something `check` never runs,
    a circle of requirements. Empty when every relation holds."""
    errors: list[str] = []
    names = set(rules) | set(groups)
    for g in groups.values():
        errors += [f"group {g.name!r} names {m!r}, which is no registered code or group"
                   for m in g.members if m not in names]

    def contains_itself(name: str, seen: tuple[str, ...]) -> bool:
        if name in seen:
            return True
        members = groups[name].members if name in groups else ()
        return any(contains_itself(m, (*seen, name)) for m in members if m in groups)

    errors += [f"group {g!r} contains itself" for g in groups if contains_itself(g, ())]
    if errors:
        return errors
    for rule in rules.values():
        for relation, declared in (("requires", rule.requires),
                                   ("superseded_by", rule.superseded_by)):
            for name in declared:
                if name not in names:
                    errors.append(f"{rule.code} {relation} {name!r}, which is no registered "
                                  "code or group")
            for code in codes_of(n for n in declared if n in names):
                if rules[code].func is None:
                    errors.append(f"{rule.code} {relation} {code}, which `check` never runs "
                                  f"(`whyload {rules[code].command}` reports it)")
                elif code == rule.code:
                    errors.append(f"{rule.code} {relation} itself")
    if errors:
        return errors
    try:
        graphlib.TopologicalSorter(
            {code: [*r.required_codes, *r.superseding_codes] for code, r in rules.items()}
        ).prepare()
    except graphlib.CycleError as exc:
        errors.append(f"relations form a circle: {' -> '.join(exc.args[1])}")
    return errors


def _validate() -> None:
    errors = relation_errors(RULES, GROUPS)
    if errors:
        raise RuntimeError("invalid check relations:\n" + "\n".join(errors))


_validate()


def all_rules() -> list[Rule]:
    return sorted(RULES.values(), key=lambda r: r.code)


def group_codes(name: str) -> frozenset[str]:
    """The codes of a named group (groups inside it expanded)."""
    if name not in GROUPS:
        raise KeyError(f"no group named {name!r}")
    return frozenset(codes_of([name]))


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
    """Run the selected checks (all by default) and those their relations name, in dependency
    order; report the selected ones."""
    every = {r.code: r for r in all_rules() if r.func is not None}
    wanted = {c for c in every if (not select or matches(c, select)) and not matches(c, ignore)}
    rules: dict[str, Rule] = {}
    stack = list(wanted)
    while stack:  # the selected checks and, transitively, the checks their relations name
        code = stack.pop()
        if code in every and code not in rules:
            rules[code] = every[code]
            stack.extend([*every[code].required_codes, *every[code].superseding_codes])
    order = graphlib.TopologicalSorter(
        {code: [d for d in (*rule.required_codes, *rule.superseding_codes) if d in rules]
         for code, rule in rules.items()}
    ).static_order()

    blocked: set[str] = set()  # checks that found an error, or could not run
    fired: set[str] = set()  # checks that reported something
    found: list[Finding] = []
    skipped: list[Skipped] = []
    for code in order:
        rule = rules[code]
        if any(dep in blocked for dep in rule.required_codes):
            blocked.add(code)
            continue
        if any(c in fired for c in rule.superseding_codes):
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
            fired.add(code)
            found.append(stamp(rule.code, p))

    def keep(code: str) -> bool:
        return code in wanted

    return (
        tuple(f for f in sort_findings(found) if keep(f.code)),
        tuple(s for s in skipped if keep(s.code)),
    )
