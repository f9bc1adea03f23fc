"""Logs and tracebacks in (`whyload explain`): the failure's cause, evidence and fix out.

lines (bounded, numbered lines) -> incidents (windows around failures) -> match (the error-text
table in whyload.knowledge.error_texts) and loading_report (transformers' key report) ->
diagnose (findings, merged with `whyload.check` on the model the log names) -> Report.
"""

from __future__ import annotations

from whyload.logs.diagnose import diagnose_error, diagnose_exception, explain

__all__ = ["diagnose_error", "diagnose_exception", "explain"]
