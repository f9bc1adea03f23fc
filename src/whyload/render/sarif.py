"""SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure DevOps) read.

One run; each code that has a finding becomes one rule (its registry documentation as help);
each finding one result at error, warning or note, located at its file relative to the target
(`uriBaseId` TARGET, which `originalUriBaseIds` maps to the target folder). Findings about custom
code (WL610) point at their first line and carry the other lines as related locations.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from whyload.render import printable
from whyload.report import Finding, Report, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
INFORMATION_URI = "https://github.com/whyload/whyload"


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_log(report), indent=2, default=str)


def sarif_log(report: Report) -> dict[str, Any]:
    """The SARIF log for a report, as plain data."""
    from whyload import __version__
    from whyload.registry import RULES, all_rules

    all_rules()
    codes = sorted({f.code for f in report.findings})
    index = {code: i for i, code in enumerate(codes)}
    worst = {code: max(f.severity for f in report.findings if f.code == code) for code in codes}
    rules = [_rule(code, RULES.get(code), worst[code]) for code in codes]
    root = _root(report)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "whyload", "version": __version__,
                            "semanticVersion": __version__, "informationUri": INFORMATION_URI,
                            "rules": rules}},
        "results": [_result(f, index[f.code]) for f in report.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"verdict": report.verdict.value, "target": printable(report.target),
                       "command": report.command},
    }
    if root is not None:
        run["originalUriBaseIds"] = {"TARGET": {"uri": root}}
    return {"$schema": SCHEMA, "version": VERSION, "runs": [run]}


def _root(report: Report) -> str | None:
    path = report.resolved.get("path") if report.resolved else None
    if not isinstance(path, str):
        return None
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    return folder.resolve().as_uri() + "/"


def _rule(code: str, rule: Any, severity: Severity) -> dict[str, Any]:
    """A rule from the registry; its default level is the worst this report gave it."""
    title = rule.title if rule is not None else code
    explanation = rule.explanation if rule is not None else ""
    return {
        "id": code,
        "name": _camel(rule.name) if rule is not None else code,
        "shortDescription": {"text": printable(title)},
        "fullDescription": {"text": printable(explanation or title)},
        "help": {"text": printable(f"{title}\n\n{explanation}".strip()),
                 "markdown": printable(f"**{title}**\n\n{explanation}".strip())},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {"category": rule.category.value if rule is not None else "unknown",
                       "tags": [rule.category.value] if rule is not None else []},
    }


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _location(file: str, line: int | None = None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": quote(printable(file)),
                                                     "uriBaseId": "TARGET"}}
    if line is not None and line > 0:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    text = f.title + (f"\n{f.detail}" if f.detail else "") + (f"\nFix: {f.fix}" if f.fix else "")
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": printable(text)},
        "properties": {"category": f.category.value, "effect": f.effect.value,
                       "evidence": json.loads(json.dumps(dict(f.evidence), default=str))},
    }
    file = f.file or (f.evidence.get("file") if isinstance(f.evidence.get("file"), str)
                      else None)
    lines = [x for x in f.evidence.get("lines", []) if isinstance(x, dict)] \
        if isinstance(f.evidence.get("lines"), list) else []
    if file:
        first = lines[0].get("line") if lines else None
        result["locations"] = [_location(file, first if isinstance(first, int) else None)]
        related = [_location(file, x["line"]) | {"id": i, "message": {"text": printable(
            f"{x.get('what', '')}: {x.get('code', '')}")}}
            for i, x in enumerate(lines[1:20], 1) if isinstance(x.get("line"), int)]
        if related:
            result["relatedLocations"] = related
    digest = hashlib.sha256(f"{f.code}|{file}|{f.title}".encode("utf-8", "replace")).hexdigest()
    result["partialFingerprints"] = {"whyloadFinding/v1": digest[:32]}
    return result
