"""The versioned JSON shape (`whyload.report/2`) that scripts and CI rely on."""

from __future__ import annotations

import json
from typing import Any

from whyload.render import printable
from whyload.report import Report


def render_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, default=str)


def report_data(report: Report) -> dict[str, Any]:
    """The report as the plain data its JSON holds (names that are not UTF-8 made printable)."""
    data: dict[str, Any] = _plain(report.to_dict())
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def report_from_data(data: dict[str, Any]) -> Report:
    """A report back from its JSON data (a row of `whyload audit --out`), for the renderers."""
    from whyload.report import Category, Effect, Finding, Severity, Skipped

    findings = tuple(
        Finding(code=f["code"], category=Category(f["category"]),
                severity=Severity.parse(f["severity"]), title=f["title"],
                detail=f.get("detail", ""), evidence=f.get("evidence") or {},
                fix=f.get("fix", ""), effect=Effect(f.get("effect", "none")), file=f.get("file"))
        for f in data.get("findings", ()))
    skipped = tuple(Skipped(code=s["code"], reason=s["reason"]) for s in data.get("skipped", ()))
    return Report(command=data.get("command", "check"), target=data.get("target", ""),
                  resolved=data.get("resolved") or {}, findings=findings, skipped=skipped,
                  facts=data.get("facts") or {}, timings=data.get("timings") or {},
                  not_checked=data.get("not_checked") or {})
