"""Proof that a repaired folder loads: a real from_pretrained, in a child process (`whyload
load`'s run_load), when torch and transformers are installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from whyload.repair.types import LoadProof
from whyload.report import Report, Verdict

LOAD_TIMEOUT_S = 900


def prove_load(folder: Path, after: Report,
               model_class: str | None = None) -> tuple[LoadProof | None, str | None]:
    """The real load of `folder` into `model_class` (default: its architectures), or why none
    ran."""
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        return None, f"{' and '.join(missing)} not installed here: no real load"
    if after.verdict is Verdict.FAILS:
        return None, "check says it still fails: no real load"
    from whyload.probe.load import load_class_name, run_load

    model_class = model_class or load_class_name(after)
    report = run_load(str(folder), model_class=model_class)
    facts: dict[str, Any] = dict(report.facts)
    exc = facts.get("exception")
    return LoadProof(model_class=str(facts.get("class") or model_class or "AutoModel"),
                     loaded=facts.get("outcome") == "loaded",
                     missing=tuple(map(str, facts.get("missing_keys") or ())),
                     unexpected=tuple(map(str, facts.get("unexpected_keys") or ())),
                     mismatched=tuple(map(str, facts.get("mismatched_keys") or ())),
                     error=_exception_line(exc),
                     how="whyload load (child process)"), None


def _exception_line(exc: object) -> str | None:
    """`Type: message` from the exception the load child reports (its traceback stays in the
    JSON report of `whyload load`)."""
    if not exc:
        return None
    if isinstance(exc, dict) and exc.get("message") is not None:
        return f"{exc.get('type') or 'Exception'}: {exc['message']}"[:500]
    return json.dumps(exc)[:500]

