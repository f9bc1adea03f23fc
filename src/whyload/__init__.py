"""whyload: why a model fails to load, and what to do about it — without loading it.

    >>> import whyload
    >>> report = whyload.check("./my-bert")
    >>> report.verdict, [f.code for f in report.findings]
"""

from __future__ import annotations

from whyload.errors import TargetError, UsageError, WhyloadError
from whyload.pipeline import check
from whyload.report import Category, Effect, Finding, Report, Severity, Verdict

__version__ = "0.1.0"
__all__ = [
    "Category",
    "Effect",
    "Finding",
    "Report",
    "Severity",
    "TargetError",
    "UsageError",
    "Verdict",
    "WhyloadError",
    "__version__",
    "check",
]
