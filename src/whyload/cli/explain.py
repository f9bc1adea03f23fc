"""explain: a traceback or a log in, the cause and the fix out."""

from __future__ import annotations

from whyload.cli.common import app as app
