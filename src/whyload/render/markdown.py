"""Markdown: the findings reference generated from the registry (docs/findings.md, README)."""

from __future__ import annotations

from whyload.registry import Rule
from whyload.report import Category


def render_rules_markdown(rules: list[Rule]) -> str:
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
            out.append(f"| {r.code} | `{r.name}` | **{r.title}.**{by} {why} |")
        out.append("")
    return "\n".join(out)
