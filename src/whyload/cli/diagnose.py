"""check, env, rules, demo, version: the commands that diagnose without writing anything."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from whyload.cli.common import (
    DEVICE,
    DTYPE,
    FAIL_ON,
    FORMAT,
    IGNORE,
    MODEL_CLASS,
    PYTHON,
    REMOTE,
    REVISION,
    RULES_FORMATS,
    SELECT,
    STORAGE_OPTION,
    TARGET,
    VERBOSE,
    add_command,
    emit,
    out,
    size,
    use_color,
)

if TYPE_CHECKING:
    from whyload.cli.common import Commands


def register(commands: Commands) -> None:
    parser = add_command(commands, "check", check)
    TARGET.add_to(parser)
    REVISION.add_to(parser)
    MODEL_CLASS.add_to(parser)
    FORMAT.add_to(parser)
    FAIL_ON.add_to(parser)
    SELECT.add_to(parser)
    IGNORE.add_to(parser)
    VERBOSE.add_to(parser)
    parser.add_argument("--deep", action=argparse.BooleanOptionalAction, default=False,
                        help="For classes the shipped specs do not describe (custom code, a model "
                        "type newer than the specs), build the model on the meta device "
                        "(transformers, in a child process) to predict its loading report.")
    parser.add_argument("--finetune", action="store_true",
                        help="You are about to fine-tune: a task head the checkpoint lacks is "
                        "meant to start random (verdict 'loads'; without it, 'loads broken').")
    DEVICE.add_to(parser)
    DTYPE.add_to(parser)
    PYTHON.add_to(parser)
    REMOTE.add_to(parser)
    STORAGE_OPTION.add_to(parser)
    parser.add_argument("--memory", type=size, metavar="SIZE",
                        help="Memory of the machine that will load it (24G), instead of this "
                        "one's: the first line says whether the load fits.")

    parser = add_command(commands, "env", env)
    FORMAT.add_to(parser)
    DEVICE.add_to(parser, help="Check readiness for this device (default: %(default)s).")
    FAIL_ON.add_to(parser)
    VERBOSE.add_to(parser, help="Show evidence.")
    PYTHON.add_to(parser)

    parser = add_command(commands, "rules", rules)
    FORMAT.add_to(parser, choices=RULES_FORMATS)

    parser = add_command(commands, "demo", demo)
    parser.add_argument("--keep", metavar="FOLDER", help="Build the broken copies in this "
                        "folder and keep them (default: a temporary folder).")

    add_command(commands, "version", version)


def check(args: argparse.Namespace) -> int:
    """Diagnose a model without loading it: headers and JSON only, in well under a second."""
    from whyload.pipeline import check as run_check

    report = run_check(args.target, revision=args.revision, select=args.select,
                       ignore=args.ignore, model_class=args.model_class, deep=args.deep,
                       device=args.device, dtype=args.dtype, python=args.python,
                       finetune=args.finetune, remote=args.remote,
                       storage_options=dict(args.storage_option), memory=args.memory)
    return emit(report, args.format, args.fail_on, args.verbose)


def env(args: argparse.Namespace) -> int:
    """Diagnose this machine: versions, torch (imported in a child process), GPUs, memory and
    container limits, the Hugging Face cache."""
    from whyload.pipeline import env as run_env

    report = run_env(device=args.device, python=args.python)
    return emit(report, args.format, args.fail_on, args.verbose)


def rules(args: argparse.Namespace) -> int:
    """List every check: its code, category, name and what it means."""
    from whyload.registry import all_rules
    from whyload.render.rules import render_rules

    out(render_rules(all_rules(), args.format))
    return 0


def demo(args: argparse.Namespace) -> int:
    """Break copies of a real bundled BERT the way the world does, and diagnose each."""
    from whyload.demo import run_demo

    out(run_demo(args.keep, color=use_color()))
    return 0


def version(args: argparse.Namespace) -> int:
    """Print whyload's version."""
    from whyload import __version__

    out(__version__)
    return 0
