"""verify and lock: prove the bytes are the bytes that were saved.

Exit codes: 0 nothing at or above --fail-on, 1 something, 2 a target, lock or --sha256 that
cannot be used, 130 interrupted with Ctrl-C (the partial report is printed first).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from whyload.cli.common import FailOn, Format, app, emit, out

INTERRUPTED_EXIT = 130


@app.command()
def verify(
    target: Annotated[str, typer.Argument(help="A model folder, a weights file, or a hub id "
                                          "(org/name) found in the local HF cache.")] = ".",
    revision: Annotated[str | None, typer.Option(help="Hub revision (branch, tag or commit) "
                                                 "to look up in the cache.")] = None,
    lock: Annotated[Path | None, typer.Option(
        "--lock", help="A whyload.lock to verify against (default: whyload.lock beside the "
        "files; ./whyload.lock for a cached hub id it was written for).")] = None,
    sha256: Annotated[list[str] | None, typer.Option(
        "--sha256", help="FILE=HEX: a published sha256 to check; repeat for more files.")] = None,
    deep: Annotated[bool, typer.Option(help="Also scan tensor values for NaN, infinities and "
                                       "all-zero matrices (numpy over mmap).")] = False,
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Files hashed at once "
                                                "(default: the CPU cores).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    fail_on: Annotated[FailOn, typer.Option(help="Exit 1 when a finding has at least this "
                                            "severity.")] = FailOn.error,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show evidence, notes and "
                                          "timings.")] = False,
) -> None:
    """Read every byte and prove it: sha256 against HF cache blob names, download records,
    LFS pointers, a whyload.lock or --sha256; CRC32 of every torch zip member; --deep: values."""
    from whyload.integrity import verify as run_verify

    with _progress(fmt) as progress:
        report = run_verify(target, revision=revision, lock=lock, sha256=tuple(sha256 or ()),
                            deep=deep, workers=workers, progress=progress)
    _finish(report, fmt, fail_on, verbose)


@app.command("lock")
def lock_command(
    target: Annotated[str, typer.Argument(help="A model folder, a weights file, or a hub id "
                                          "(org/name) found in the local HF cache.")] = ".",
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the lock (a file, or a folder for whyload.lock). Default: "
        "beside the files; ./whyload.lock for a cached hub id.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing lock.")] = False,
    revision: Annotated[str | None, typer.Option(help="Hub revision (branch, tag or commit) "
                                                 "to look up in the cache.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Files hashed at once "
                                                "(default: the CPU cores).")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show evidence.")] = False,
) -> None:
    """Write whyload.lock: each file's size and sha256, tensor count, dtypes, parameter count,
    and the library versions here, so that `whyload verify` can prove later copies."""
    from whyload.integrity import lock as run_lock

    with _progress(fmt) as progress:
        report = run_lock(target, revision=revision, out=out_path, force=force,
                          workers=workers, progress=progress)
    if fmt is Format.text and report.facts.get("written"):
        files = report.facts.get("files") or []
        size = sum(f["size"] for f in files)
        out(f"wrote {report.facts['lock']}: {len(files)} files, {size:,} bytes")
        if not report.findings:
            return
    _finish(report, fmt, FailOn.error, verbose)
    if not report.facts.get("written"):
        raise typer.Exit(1)


def _finish(report: object, fmt: Format, fail_on: FailOn, verbose: bool) -> None:
    from whyload.report import Report

    assert isinstance(report, Report)
    if fmt is Format.text and report.command == "verify":
        out(_summary_line(report))
    if report.facts.get("interrupted"):
        emit(report, fmt, FailOn.never, verbose)
        sys.stderr.write("whyload: interrupted: the report covers the files read so far\n")
        raise typer.Exit(INTERRUPTED_EXIT)
    emit(report, fmt, fail_on, verbose)


def _summary_line(report: object) -> str:
    """One line on what was read and what it was compared with."""
    from whyload.report import Report

    assert isinstance(report, Report)
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
    if fmt is not Format.text or not sys.stderr.isatty():
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
