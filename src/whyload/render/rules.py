"""`whyload rules`: every rule in the registry with its relations, as text, JSON or Markdown
(the Markdown is docs/findings.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from whyload.registry import GROUPS, Group, Rule, group_codes
from whyload.report import Category, JSONValue

RULES_FORMATS = ("text", "json", "markdown")


def render_rules(rules: Sequence[Rule], fmt: str) -> str:
    """The rules in `fmt` (text, json or markdown), each with the relations it declares."""
    groups = sorted(GROUPS.values(), key=lambda g: g.name)
    if fmt == "text":
        return _text(rules, groups)
    if fmt == "json":
        return json.dumps([_as_json(r, groups) for r in rules], indent=2)
    if fmt == "markdown":
        return _markdown(rules, groups)
    raise ValueError(f"no rules format {fmt!r}: one of {', '.join(RULES_FORMATS)}")


def _member_of(rule: Rule, groups: Sequence[Group]) -> list[str]:
    return [g.name for g in groups if rule.code in group_codes(g.name)]


def _relations(rule: Rule) -> list[str]:
    out = []
    if rule.requires:
        out.append("requires " + ", ".join(rule.requires))
    if rule.superseded_by:
        out.append("superseded by " + ", ".join(rule.superseded_by))
    return out


def _as_json(rule: Rule, groups: Sequence[Group]) -> dict[str, JSONValue]:
    return {"code": rule.code, "name": rule.name, "category": rule.category.value,
            "title": rule.title, "explanation": rule.explanation, "command": rule.command,
            "requires": list(rule.requires), "requires_codes": list(rule.required_codes),
            "superseded_by": list(rule.superseded_by),
            "superseded_by_codes": list(rule.superseding_codes),
            "groups": list(_member_of(rule, groups))}


def _text(rules: Sequence[Rule], groups: Sequence[Group]) -> str:
    width = max((len(r.name) for r in rules), default=0)
    lines = []
    for r in rules:
        lines.append(f"{r.code}  {r.category.value:<12} {r.name:<{width}}  {r.title}")
        lines += [f"{'':<{21 + width}}{relation}" for relation in _relations(r)]
    if groups:
        lines += ["", "groups:"]
        name_width = max(len(g.name) for g in groups)
        lines += [f"  {g.name:<{name_width}}  {', '.join(g.members)}" for g in groups]
    return "\n".join(lines)


def _markdown(rules: Sequence[Rule], groups: Sequence[Group]) -> str:
    out = ["# Findings reference", "",
           "Generated from the check registry (`whyload rules --format markdown`). Codes are "
           "stable: never renumbered, never reused.", ""]
    for category in Category:
        these = [r for r in rules if r.category is category]
        if not these:
            continue
        out += [f"## {category.value}", "", "| code | name | what it means |", "|---|---|---|"]
        for r in these:
            why = " ".join(r.explanation.split())
            by = "" if r.command == "check" else f" *(reported by `whyload {r.command}`)*"
            related = "".join(f" *{relation[0].upper()}{relation[1:]}.*"
                              for relation in _relations(r))
            out.append(f"| {r.code} | `{r.name}` | **{r.title}.**{by} {why}{related} |")
        out.append("")
    if groups:
        out += ["## groups", "",
                "Named sets of codes that relations name (`requires`, `superseded by`) and that "
                "verify, lock and fix act on.", "",
                "| group | codes | what they share |", "|---|---|---|"]
        out += [f"| `{g.name}` | {', '.join(g.members)} | {' '.join(g.doc.split())} |"
                for g in groups]
        out.append("")
    return "\n".join(out)
