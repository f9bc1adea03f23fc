"""What every command shares: the options several commands take, how a command is declared, and
how a report is printed and turned into an exit code.

Importing this module costs argparse and nothing of whyload beyond it: each command imports what
it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from whyload.report import Report

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

Format = Literal["text", "json", "sarif"]
RulesFormat = Literal["text", "json", "markdown"]
FailOn = Literal["error", "warning", "info", "never"]
Device = Literal["cpu", "cuda", "mps"]
Dtype = Literal["float32", "float16", "bfloat16"]

RULES_FORMATS: tuple[RulesFormat, ...] = get_args(RulesFormat)


def storage_option(text: str) -> tuple[str, object]:
    """--storage-option key=value: true/false and numbers as such, the rest as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    try:
        return key.strip(), int(value)
    except ValueError:
        return key.strip(), value


def comma_list(value: str) -> list[str]:
    """One --select/--ignore value: 'WL1,WL104' -> ['WL1', 'WL104']."""
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class Option:
    """An option several commands take, declared once: its flags, its help, and how argparse
    reads it (add_argument's keywords)."""

    flags: tuple[str, ...]
    help: str
    reading: Mapping[str, Any] = field(default_factory=dict)

    def add_to(self, parser: argparse.ArgumentParser, *, help: str | None = None,
               **reading: Any) -> None:
        """Add it to a command; `help` and `reading` replace the shared ones for that command."""
        parser.add_argument(*self.flags, help=help or self.help, **{**self.reading, **reading})


TARGET = Option(("target",), "A model folder, a weights file, or a hub id (org/name) found in "
                "the local HF cache (default: the current folder).", {"nargs": "?", "default": "."})
FORMAT = Option(("--format", "-f"), "Output format (default: %(default)s).",
                {"choices": get_args(Format), "default": "text"})
FAIL_ON = Option(("--fail-on",), "Exit 1 when a finding has at least this severity "
                 "(default: %(default)s).", {"choices": get_args(FailOn), "default": "error"})
VERBOSE = Option(("--verbose", "-v"), "Show evidence, notes and timings.",
                 {"action": "store_true"})
MODEL_CLASS = Option(("--class",), "The class you load with (BertForSequenceClassification, "
                     "AutoModelForTokenClassification, ...). Default: config.json's "
                     "architectures.", {"dest": "model_class", "metavar": "CLASS"})
DEVICE = Option(("--device",), "Where it will be loaded (default: %(default)s).",
                {"choices": get_args(Device), "default": "cpu"})
DTYPE = Option(("--dtype",), "The dtype it will be loaded in (default: as stored).",
               {"choices": get_args(Dtype)})
REVISION = Option(("--revision",), "Hub revision (branch, tag or commit) to look up in the "
                  "cache.")
REMOTE = Option(("--remote",), "Read a hub id (org/name) on the Hub by ranges instead of in "
                "the local cache; hf://, s3://, gs:// and https:// targets are always remote.",
                {"action": "store_true"})
STORAGE_OPTION = Option(("--storage-option",), "An fsspec option for s3:// gs:// ... targets "
                        "(anon=true, endpoint_url=http://...); repeat for more.",
                        {"action": "append", "type": storage_option, "default": [],
                         "metavar": "KEY=VALUE"})
SELECT = Option(("--select",), "Only these codes or prefixes (WL1, WL104); repeat or "
                "comma-separate.",
                {"action": "extend", "type": comma_list, "default": [], "metavar": "CODES"})
IGNORE = Option(("--ignore",), "Drop these codes or prefixes; repeat or comma-separate.",
                {"action": "extend", "type": comma_list, "default": [], "metavar": "CODES"})
PYTHON = Option(("--python",), "The Python interpreter that will load the model (default: "
                "$VIRTUAL_ENV's or $CONDA_PREFIX's python when set, else this one).",
                {"metavar": "PATH"})

Run = Callable[[argparse.Namespace], int]


def add_command(commands: Commands, name: str, run: Run) -> argparse.ArgumentParser:
    """Declare a command that `run` carries out (it returns the exit code). Its docstring is its
    help: the first sentence in the list of commands, all of it under `whyload NAME -h`."""
    description = " ".join((run.__doc__ or "").split())
    summary = description.split(". ")[0].rstrip(".") + "."
    parser = commands.add_parser(name, help=summary, description=description,
                                 allow_abbrev=False)
    parser.set_defaults(run=run, command_parser=parser)
    return parser


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return os.environ.get("FORCE_COLOR") is not None or sys.stdout.isatty()


def emit(report: Report, fmt: Format, fail_on: FailOn, verbose: bool) -> int:
    """Print a report in the chosen format; the exit code: 1 when a finding reaches --fail-on."""
    from whyload.report import Severity

    if fmt == "json":
        from whyload.render.json import render_json

        out(render_json(report))
    elif fmt == "sarif":
        from whyload.registry import all_rules
        from whyload.render.sarif import render_sarif

        out(render_sarif(report, {r.code: r for r in all_rules()}))
    else:
        from whyload.render.text import render_text

        out(render_text(report, color=use_color(), verbose=verbose))
    return int(fail_on != "never" and report.failed(Severity.parse(fail_on)))


def size(text: str) -> int:
    """argparse's reading of a size option (2G, 512MiB, 5GB; whyload.sizes.parse_size)."""
    from whyload.sizes import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
