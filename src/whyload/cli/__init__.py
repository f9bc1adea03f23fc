"""The command line: the only package that prints or exits.

Exit codes: 0 nothing at or above --fail-on, 1 something, 2 bad usage or a target that cannot be
examined, 130 interrupted. Never a traceback: unexpected errors are reported in one line
(WHYLOAD_DEBUG=1 shows the traceback). Each command lives in a module of its own, which declares
its options (`register`) and imports what it needs only when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from whyload.errors import WhyloadError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from whyload.cli.common import Commands

__all__ = ["build_parser", "command_names", "main"]

DESCRIPTION = ("Why does this model fail to load, and what do I do about it? Diagnoses model "
               "folders, weights files and cached hub ids without loading them.")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: `whyload [--version] COMMAND [OPTIONS]`."""
    return _declare()[0]


def command_names() -> list[str]:
    """Every command, in the order `whyload -h` lists them."""
    return list(_declare()[1].choices)


def _declare() -> tuple[argparse.ArgumentParser, Commands]:
    from whyload import __version__
    from whyload.cli import audit, diagnose, explain, integrity, load, repair

    parser = argparse.ArgumentParser(prog="whyload", description=DESCRIPTION,
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=__version__,
                        help="Print whyload's version and exit.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (diagnose, explain, integrity, load, repair, audit):
        module.register(commands)
    return parser, commands


def run(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and carry out its command; the exit code. Usage errors exit 2
    from argparse, with its message on stderr."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command's parser, whose usage is the one that helps
        getattr(args, "command_parser", parser).error(
            f"unrecognized arguments: {' '.join(unknown)}")
    if not hasattr(args, "run"):  # `whyload` alone
        parser.print_help()
        return 2
    code: int = args.run(args)
    return code


def main(argv: Sequence[str] | None = None) -> None:
    try:
        code = run(argv)
    except WhyloadError as exc:
        sys.stderr.write(f"whyload: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("whyload: interrupted\n")
        sys.exit(130)
    except Exception as exc:
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
    sys.exit(code)
