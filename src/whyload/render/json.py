"""The versioned JSON shape (`whyload.report/1`) that scripts and CI rely on."""

from __future__ import annotations

import json

from whyload.report import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
