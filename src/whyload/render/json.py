"""The versioned JSON shape (`whyload.report/2`) that scripts and CI rely on."""

from __future__ import annotations

import json
from typing import Any

from whyload.render import printable
from whyload.report import Report


def render_json(report: Report) -> str:
    return json.dumps(_plain(report.to_dict()), indent=2, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
