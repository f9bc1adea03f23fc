"""explain: a traceback or a log in, the cause and the fix out."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from whyload.cli.common import FAIL_ON, FORMAT, VERBOSE, add_command, emit
from whyload.errors import UsageError

if TYPE_CHECKING:
    from whyload.cli.common import Commands


def register(commands: Commands) -> None:
    parser = add_command(commands, "explain", explain)
    parser.add_argument("log", nargs="?", default="-",
                        help="A log or traceback file; '-' reads standard input (the default).")
    FORMAT.add_to(parser)
    FAIL_ON.add_to(parser)
    parser.add_argument("--no-check", action="store_true",
                        help="Do not run `check` on the model the log names.")
    parser.add_argument("--remote", action="store_true",
                        help="Check a hub id the log names on the Hub (by its headers) when it "
                             "is not in the local cache.")
    VERBOSE.add_to(parser)


def explain(args: argparse.Namespace) -> int:
    """Explain a failed load from its traceback or log: the cause, the line that shows it, and
    the fix. Runs `check` on the model folder or cached hub id the log names (with --remote, on
    the Hub too)."""
    from whyload.logs import explain as explain_log

    if args.log == "-" and sys.stdin.isatty():
        raise UsageError("no log: give a file, or pipe one in "
                         "(python train.py 2>&1 | whyload explain -)")
    report = explain_log(args.log, run_check=not args.no_check, remote=args.remote)
    return emit(report, args.format, args.fail_on, args.verbose)
