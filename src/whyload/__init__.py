"""whyload: why a model fails to load, and what to do about it — without loading it.

    >>> import whyload
    >>> report = whyload.check("./my-bert")             # headers and JSON only, no torch
    >>> report.verdict, [f.code for f in report.findings]
    >>> whyload.verify("./my-bert")                     # every byte: hashes, zip CRCs
    >>> whyload.explain("error.log")                 # a traceback or log in, the cause out
    >>> whyload.run_load("./my-bert")                   # a real load, in a capped child process
    >>> with whyload.load("./my-bert", allow_random=("classifier.*",)) as model:
    ...     ...                                         # preflight, load, refuse random weights
    >>> whyload.plan_repair("./my-bert", "./fixed").apply()   # repair into a new folder

Every command returns the same Report (verdict + findings), which renders in a terminal (rich)
and a notebook. Importing whyload imports neither torch nor transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whyload.errors import (
    LoadFailed,
    LoadRefused,
    PreflightRefused,
    RandomWeightsRefused,
    TargetError,
    UsageError,
    WhyloadError,
)
from whyload.report import Category, Effect, Finding, Report, Severity, Verdict

if TYPE_CHECKING:
    from whyload.integrity import lock, verify
    from whyload.logs import diagnose_error, diagnose_exception, explain
    from whyload.pipeline import check
    from whyload.probe.guarded import load
    from whyload.probe.load import run_load
    from whyload.repair import RepairPlan
    from whyload.repair.plan import plan as plan_repair

# The commands are imported when first used: `import whyload` and `whyload --version` stay quick,
# and `whyload check` imports nothing the other commands need.
_LAZY = {
    "check": ("whyload.pipeline", "check"),
    "explain": ("whyload.logs", "explain"),
    "diagnose_error": ("whyload.logs", "diagnose_error"),
    "diagnose_exception": ("whyload.logs", "diagnose_exception"),
    "lock": ("whyload.integrity", "lock"),
    "verify": ("whyload.integrity", "verify"),
    "load": ("whyload.probe.guarded", "load"),
    "run_load": ("whyload.probe.load", "run_load"),
    "RepairPlan": ("whyload.repair", "RepairPlan"),
    "plan_repair": ("whyload.repair.plan", "plan"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'whyload' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    return getattr(importlib.import_module(module), attribute)


__version__ = "0.1.0"
__all__ = [
    "Category",
    "Effect",
    "Finding",
    "LoadFailed",
    "LoadRefused",
    "PreflightRefused",
    "RandomWeightsRefused",
    "RepairPlan",
    "Report",
    "Severity",
    "TargetError",
    "UsageError",
    "Verdict",
    "WhyloadError",
    "__version__",
    "check",
    "diagnose_error",
    "diagnose_exception",
    "explain",
    "load",
    "lock",
    "plan_repair",
    "run_load",
    "verify",
]
