"""verify and lock: prove the bytes are the bytes that were saved.

Exit codes: 0 nothing at or above --fail-on, 1 something, 2 a target, lock or --sha256 that
cannot be used, 130 interrupted with Ctrl-C (the partial report is printed first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from whyload.cli.common import (
    FAIL_ON,
    FORMAT,
    REVISION,
    TARGET,
    VERBOSE,
    FailOn,
    Format,
    add_command,
    emit,
    out,
)

if TYPE_CHECKING:
    from whyload.cli.common import Commands
    from whyload.report import Report

INTERRUPTED_EXIT = 130
MAX_WORKERS = 256


def worker_count(text: str) -> int:
    """--workers: a whole number from 1 to MAX_WORKERS."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{count} is not in the range 1 to {MAX_WORKERS}")
    return count


def _add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=worker_count, metavar="N",
                        help="Files hashed at once (default: the CPU cores).")


def register(commands: Commands) -> None:
    parser = add_command(commands, "verify", verify)
    TARGET.add_to(parser)
    REVISION.add_to(parser)
    parser.add_argument("--lock", metavar="FILE",
                        help="A whyload.lock to verify against (default: whyload.lock beside the "
                        "files; ./whyload.lock for a cached hub id it was written for).")
    parser.add_argument("--sha256", action="append", default=[], metavar="FILE=HEX",
                        help="A published sha256 to check; repeat for more files.")
    parser.add_argument("--deep", action=argparse.BooleanOptionalAction, default=False,
                        help="Also scan tensor values for NaN, infinities and all-zero matrices "
                        "(numpy over mmap).")
    parser.add_argument("--against", metavar="REMOTE",
                        help="Compare with a remote listing: hf://org/name[@revision] (the "
                        "Hub's LFS sha256 and git blob ids) or a hub id; one request, nothing "
                        "downloaded.")
    _add_workers(parser)
    FORMAT.add_to(parser)
    FAIL_ON.add_to(parser)
    VERBOSE.add_to(parser)

    parser = add_command(commands, "lock", lock)
    TARGET.add_to(parser)
    parser.add_argument("--out", dest="out_path", metavar="PATH",
                        help="Where to write the lock (a file, or a folder for whyload.lock). "
                        "Default: beside the files; ./whyload.lock for a cached hub id.")
    parser.add_argument("--force", action=argparse.BooleanOptionalAction, default=False,
                        help="Replace an existing lock.")
    REVISION.add_to(parser)
    _add_workers(parser)
    FORMAT.add_to(parser)
    VERBOSE.add_to(parser, help="Show evidence.")


def verify(args: argparse.Namespace) -> int:
    """Read every byte and prove it: sha256 against HF cache blob names, download records,
    LFS pointers, a whyload.lock or --sha256; CRC32 of every torch zip member; --deep: values."""
    from whyload.integrity import verify as run_verify

    with _progress(args.format) as progress:
        report = run_verify(args.target, revision=args.revision, lock=args.lock,
                            sha256=tuple(args.sha256), deep=args.deep, workers=args.workers,
                            progress=progress, against=args.against)
    return _finish(report, args.format, args.fail_on, args.verbose)


def lock(args: argparse.Namespace) -> int:
    """Write whyload.lock: each file's size and sha256, tensor count, dtypes, parameter count,
    and the library versions here, so that `whyload verify` can prove later copies."""
    from whyload.integrity import lock as run_lock

    with _progress(args.format) as progress:
        report = run_lock(args.target, revision=args.revision, out=args.out_path,
                          force=args.force, workers=args.workers, progress=progress)
    if args.format == "text" and report.facts.get("written"):
        files = report.facts.get("files") or []
        size = sum(f["size"] for f in files)
        out(f"wrote {report.facts['lock']}: {len(files)} files, {size:,} bytes")
        if not report.findings:
            return 0
    code = _finish(report, args.format, "error", args.verbose)
    return code if report.facts.get("written") else max(code, 1)


def _finish(report: Report, fmt: Format, fail_on: FailOn, verbose: bool) -> int:
    if fmt == "text" and report.command == "verify":
        out(_summary_line(report))
    if report.facts.get("interrupted"):
        emit(report, fmt, "never", verbose)
        sys.stderr.write("whyload: interrupted: the report covers the files read so far\n")
        return INTERRUPTED_EXIT
    return emit(report, fmt, fail_on, verbose)


def _summary_line(report: Report) -> str:
    """One line on what was read and what it was compared with."""
    files = report.facts.get("files") or []
    read = [f for f in files if f["status"] != "not read"]
    sources: dict[str, int] = {}
    for f in read:
        for source in f["references"]:
            sources[source] = sources.get(source, 0) + 1
    if report.facts.get("lock"):
        sources[str(report.facts["lock"])] = len(read)
    members = sum(f["zip_members_checked"] for f in read)
    if members:
        sources["zip CRCs"] = members
    compared = ", ".join(f"{name} ({count})" for name, count in sources.items()) or "nothing"
    return (f"read {len(read)} of {len(files)} files ({report.facts.get('bytes_read', 0):,} "
            f"bytes, {report.facts.get('read_mib_per_s') or 0:,.0f} MiB/s); compared with: "
            f"{compared}")


@contextmanager
def _progress(fmt: Format) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar (bytes, rate, ETA) on stderr when it is a terminal and the output is
    text; nothing otherwise."""
    if fmt != "text" or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("hashing", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield advance
