"""The command line: the only package that prints or exits.

Exit codes: 0 nothing at or above --fail-on, 1 something, 2 bad usage or a target that cannot be
examined. Never a traceback: unexpected errors are reported in one line (WHYLOAD_DEBUG=1 shows
the traceback). Each command lives in a module of its own; importing it registers it on `app`.
"""

from __future__ import annotations

import os
import sys

import typer

from whyload.cli import diagnose, explain, integrity, load, repair
from whyload.cli.common import app
from whyload.errors import WhyloadError

__all__ = ["app", "diagnose", "explain", "integrity", "load", "main", "repair"]


def main() -> None:
    try:
        # without standalone mode click returns the code of typer.Exit instead of raising it
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except WhyloadError as exc:
        sys.stderr.write(f"whyload: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("whyload: interrupted\n")
        sys.exit(130)
    except Exception as exc:
        # usage errors (typer's own, or click's in older typer) know how to show themselves
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(2)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        if os.environ.get("WHYLOAD_DEBUG"):
            raise
        from whyload.logs import diagnose_exception

        known = diagnose_exception(exc)
        if known:  # the one knowledge table: a full disk, no memory, a read-only cache, ...
            cause = known[0]
            sys.stderr.write(f"whyload: error: {cause.title} ({cause.code})\n  -> {cause.fix}\n")
            sys.exit(2)
        sys.stderr.write(f"whyload: internal error: {type(exc).__name__}: {exc}\n"
                         "  (set WHYLOAD_DEBUG=1 for the traceback, and please report it)\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)

