"""The findings reference in Markdown: render.rules.render_rules(rules, "markdown")."""

from __future__ import annotations

from collections.abc import Sequence

from whyload.registry import Rule
from whyload.render.rules import render_rules


def render_rules_markdown(rules: Sequence[Rule]) -> str:
    return render_rules(rules, "markdown")
