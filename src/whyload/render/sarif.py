"""SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure DevOps) read.

One run; each code that has a finding becomes one rule (documented by the `rules` the caller
passes); each finding one result at error, warning or note. Every result has a location: the file
the finding is about, else config.json for a finding about configuration, else the planned weights
file, else the target itself; a finding from a log points at its line. URIs are relative to
`%SRCROOT%`: the git work tree that holds the target, else the current directory when the target
is under it, else the target folder; `originalUriBaseIds` says which. Findings about custom code
(WL610) point at their first line and carry the other lines as related locations.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlparse

from whyload.render import printable
from whyload.report import Category, Finding, Report, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
INFORMATION_URI = "https://github.com/whyload/whyload"
SRCROOT = "%SRCROOT%"
CONFIG_FILE = "config.json"


class RuleDoc(Protocol):
    """A rule's documentation, as the registry's Rule gives it."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def explanation(self) -> str: ...

    @property
    def category(self) -> Category: ...


def render_sarif(report: Report, rules: Mapping[str, RuleDoc]) -> str:
    """`rules` documents each code (the registry's rules, passed by the caller); a code it lacks
    is named only."""
    return json.dumps(sarif_log(report, rules), indent=2, default=str)


def sarif_log(report: Report, rules: Mapping[str, RuleDoc]) -> dict[str, Any]:
    """The SARIF log for a report, as plain data."""
    from whyload import __version__

    codes = sorted({f.code for f in report.findings})
    index = {code: i for i, code in enumerate(codes)}
    worst = {code: max(f.severity for f in report.findings if f.code == code) for code in codes}
    places = Places.of(report)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "whyload", "version": __version__,
                            "semanticVersion": __version__, "informationUri": INFORMATION_URI,
                            "rules": [_rule(code, rules.get(code), worst[code])
                                      for code in codes]}},
        "results": [_result(f, index[f.code], places) for f in report.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"verdict": report.verdict.value, "target": printable(report.target),
                       "command": report.command},
    }
    if places.root is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": places.root.as_uri() + "/"}}
    return {"$schema": SCHEMA, "version": VERSION, "runs": [run]}


@dataclass(frozen=True)
class Places:
    """Where a report's findings are, as paths relative to %SRCROOT% (`root`)."""

    report: Report
    target: Path | None  # the folder (or log file) that findings name files relative to
    root: Path | None

    @classmethod
    def of(cls, report: Report) -> Places:
        path = report.resolved.get("path") if report.resolved else None
        if not isinstance(path, str) or path.startswith("<"):  # env, or a log read from stdin
            return cls(report, None, None)
        target = Path(path).resolve()
        return cls(report, target, source_root(target if target.is_dir() else target.parent))

    @property
    def from_log(self) -> bool:
        return self.report.resolved.get("how") == "log"

    def file_of(self, f: Finding) -> str | None:
        """The file the finding is about, relative to the target folder; for a log, the log."""
        if self.target is None:
            return None
        if self.from_log:
            return self.target.name
        evidence_file = f.evidence.get("file")
        named = f.file or (evidence_file if isinstance(evidence_file, str) else None)
        if named:
            return named
        if f.category is Category.CONFIG and (self.target / CONFIG_FILE).is_file():
            return CONFIG_FILE
        weights = self.report.facts.get("weights")
        if isinstance(weights, list) and weights and isinstance(weights[0], str):
            return weights[0]
        focus = self.report.resolved.get("file")
        return focus if isinstance(focus, str) else ""


def relative_uri(target: Path, root: Path, file: str) -> str:
    """`file` (relative to the target folder; "" the target itself) relative to `root`."""
    folder = target if target.is_dir() else target.parent
    full = folder / file if file else target
    relative = os.path.relpath(full, root).replace(os.sep, "/")
    if full.is_dir() and relative != ".":
        relative += "/"
    return quote(printable(relative))


def source_root(folder: Path) -> Path:
    """What %SRCROOT% stands for: the git work tree that holds `folder` (a resolved path), else
    the current directory if it holds it, else the folder itself."""
    for parent in (folder, *folder.parents):
        if (parent / ".git").exists():
            return parent
    cwd = Path.cwd().resolve()
    if folder == cwd or cwd in folder.parents:
        return cwd
    return folder


def _rule(code: str, rule: RuleDoc | None, severity: Severity) -> dict[str, Any]:
    """A rule as documented; its default level is the worst this report gave it."""
    title = rule.title if rule is not None else code
    explanation = rule.explanation if rule is not None else ""
    category = rule.category.value if rule is not None else "unknown"
    return {
        "id": code,
        "name": _camel(rule.name) if rule is not None else code,
        "shortDescription": {"text": printable(title)},
        "fullDescription": {"text": printable(explanation or title)},
        "help": {"text": printable(f"{title}\n\n{explanation}".strip()),
                 "markdown": printable(f"**{title}**\n\n{explanation}".strip())},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {"category": category, "tags": [category] if rule is not None else []},
    }


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _location(uri: str, line: int | None = None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}}
    if line is not None and line > 0:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _result(f: Finding, rule_index: int, places: Places) -> dict[str, Any]:
    text = f.title + (f"\n{f.detail}" if f.detail else "") + (f"\nFix: {f.fix}" if f.fix else "")
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": LEVELS[f.severity],
        "message": {"text": printable(text)},
        "properties": {"category": f.category.value, "effect": f.effect.value,
                       "evidence": json.loads(json.dumps(dict(f.evidence), default=str))},
    }
    lines = [x for x in f.evidence.get("lines", []) if isinstance(x, dict)] \
        if isinstance(f.evidence.get("lines"), list) else []
    first = (f.evidence.get("line", f.evidence.get("log_line")) if places.from_log
             else lines[0].get("line") if lines else None)
    file = places.file_of(f)
    if file is None or places.target is None or places.root is None:
        where = printable(places.report.target)  # the machine (env), or a log from stdin
        result["locations"] = [{"logicalLocations": [{"name": where, "kind": "module"}]}]
    else:
        where = relative_uri(places.target, places.root, file)
        result["locations"] = [_location(where, first if isinstance(first, int) else None)]
        related = [_location(where, x["line"]) | {"id": i, "message": {"text": printable(
            f"{x.get('what', '')}: {x.get('code', '')}")}}
            for i, x in enumerate(lines[1:20], 1) if isinstance(x.get("line"), int)]
        if related:
            result["relatedLocations"] = related
    # a number in the title (a size, a count) changes between runs; the finding does not
    stable_title = re.sub(r"\d+", "", f.title)
    digest = hashlib.sha256(f"{f.code}|{where}|{stable_title}".encode("utf-8", "replace"))
    result["partialFingerprints"] = {"whyloadFinding/v2": digest.hexdigest()[:32]}
    return result


def fleet_sarif_log(reports: list[Report], rules: Mapping[str, RuleDoc]) -> dict[str, Any]:
    """One SARIF log for many targets (`whyload audit --format sarif`): one run, each target's
    results as `sarif_log` makes them, with their locations relative to the folder that holds
    every target (%SRCROOT%), and the target and its verdict in each result's properties."""
    from whyload import __version__

    runs = [(report, sarif_log(report, rules)["runs"][0]) for report in reports]
    bases = [_path_of(run["originalUriBaseIds"][SRCROOT]["uri"])
             for _, run in runs if "originalUriBaseIds" in run]
    root = Path(os.path.commonpath([str(b) for b in bases])) if bases else None
    codes = sorted({f.code for report in reports for f in report.findings})
    index = {code: i for i, code in enumerate(codes)}
    worst = {code: max(f.severity for r in reports for f in r.findings if f.code == code)
             for code in codes}
    results: list[dict[str, Any]] = []
    for report, run in runs:
        base = run.get("originalUriBaseIds", {}).get(SRCROOT, {}).get("uri")
        for result in run["results"]:
            result["ruleIndex"] = index[result["ruleId"]]
            result["properties"].update(target=printable(report.target),
                                        verdict=report.verdict.value)
            for location in result.get("locations", []) + result.get("relatedLocations", []):
                artifact = location.get("physicalLocation", {}).get("artifactLocation")
                if artifact and base and root is not None:
                    full = os.path.normpath(_path_of(base) / unquote(artifact["uri"]))
                    artifact["uri"] = quote(os.path.relpath(full, root).replace(os.sep, "/"))
            results.append(result)
    fleet: dict[str, Any] = {
        "tool": {"driver": {"name": "whyload", "version": __version__,
                            "semanticVersion": __version__, "informationUri": INFORMATION_URI,
                            "rules": [_rule(code, rules.get(code), worst[code])
                                      for code in codes]}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"command": "audit", "targets": len(reports),
                       "verdicts": {v: sum(r.verdict.value == v for r in reports)
                                    for v in ("loads", "fails", "loads_broken", "unknown")}},
    }
    if root is not None:
        fleet["originalUriBaseIds"] = {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}}
    return {"$schema": SCHEMA, "version": VERSION, "runs": [fleet]}


def _path_of(uri: str) -> Path:
    """The path a file:// URI names."""
    return Path(unquote(urlparse(uri).path))
