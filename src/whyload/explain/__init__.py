"""explain: a traceback or a whole log in, the failure's cause, evidence and fix out.

lines (bounded, numbered lines) -> incidents (windows around failures) -> match (the error-text
table in whyload.knowledge.error_texts) and loading_report (transformers' key report) ->
diagnose (findings, merged with `whyload.check` on the model the log names) -> Report.
"""

from __future__ import annotations

import os
import sys
import types
from typing import TextIO

from whyload.explain.diagnose import diagnose_error, diagnose_exception, explain
from whyload.report import Report

__all__ = ["diagnose_error", "diagnose_exception", "explain"]


class _CallableModule(types.ModuleType):
    """`whyload.explain` names both this package and the function: once the package is
    imported, Python binds the name on `whyload` to the package, so the package explains too."""

    def __call__(self, source: str | os.PathLike[str] | TextIO, *,
                 run_check: bool = True) -> Report:
        return explain(source, run_check=run_check)


sys.modules[__name__].__class__ = _CallableModule
