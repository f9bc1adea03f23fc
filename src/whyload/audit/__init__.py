"""`whyload audit`: many targets found (discovery), looked up in a cache of results (cache), the
rest checked on a Dask cluster by the pipeline `check` uses (run), and summed up (summary).

Dask is imported only when an audit runs: `whyload check` never pays for it, and without the
`fleet` extra `whyload audit` says which package to install.
"""

from __future__ import annotations

from whyload.audit.discovery import Target, discover
from whyload.audit.run import AuditOptions, Outcome
from whyload.audit.summary import Summary, summarize

__all__ = ["AuditOptions", "Outcome", "Summary", "Target", "discover", "summarize"]
