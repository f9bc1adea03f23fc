"""audit: every checkpoint a team owns, checked in one run, on this machine or a Dask cluster.

Rows are written as JSON lines while the audit runs (--out, or stdout with --format json), a
progress bar on stderr counts each verdict, and the summary comes last. Exit codes: 0 nothing at
or above --fail-on, 1 something, 2 bad usage, 130 interrupted (every row written so far is a
whole line; the cache keeps them, so the same command resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, get_args

from whyload.cli.common import (
    DEVICE,
    DTYPE,
    FAIL_ON,
    IGNORE,
    MODEL_CLASS,
    PYTHON,
    SELECT,
    STORAGE_OPTION,
    add_command,
    out,
)
from whyload.cli.integrity import INTERRUPTED_EXIT, worker_count
from whyload.cli.load import seconds

if TYPE_CHECKING:
    from whyload.audit.run import Audit, Outcome
    from whyload.audit.summary import Summary
    from whyload.cli.common import Commands

AuditFormat = Literal["text", "json", "sarif"]
DEFAULT_TIMEOUT_S = 60.0
VERIFY_TIMEOUT_S = 3600.0  # hashing a 100 GB checkpoint at disk speed
VERDICT_MARKS = (("loads", "green", "loads"), ("fails", "red", "fails"),
                 ("loads_broken", "dark_orange", "broken"), ("unknown", "grey62", "unknown"))


def register(commands: Commands) -> None:
    parser = add_command(commands, "audit", audit)
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="A folder tree (every model folder in it), an HF cache (every repo "
                        "and revision), a text file of targets (one a line), s3://bucket/prefix/, "
                        "hf://author, or any target `whyload check` takes.")
    parser.add_argument("--out", "-o", metavar="FILE",
                        help="Write one whyload.report a line (JSON lines) as results arrive.")
    parser.add_argument("--html", metavar="FILE",
                        help="Write one self-contained HTML page: counts, a filterable table, "
                        "each finding's evidence and fix.")
    parser.add_argument("--format", "-f", choices=get_args(AuditFormat), default="text",
                        help="What goes to stdout: the summary (text), every row as JSON lines "
                        "(json), or one SARIF log for the whole fleet (sarif). Default: "
                        "%(default)s.")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="An existing Dask scheduler (tcp://host:8786), whose workers have "
                        "whyload installed. Default: a cluster on this machine.")
    parser.add_argument("--workers", type=worker_count, metavar="N",
                        help="Workers of the local cluster (default: one per CPU).")
    parser.add_argument("--timeout", type=seconds, metavar="SECONDS",
                        help="Give up on a target after this long (default: 60, and 3600 with "
                        "--verify, which reads every byte).")
    parser.add_argument("--verify", action="store_true",
                        help="Also read every byte of each target (whyload verify), spread "
                        "over the workers.")
    parser.add_argument("--cache", metavar="DIR",
                        help="Where results are kept to resume and to recheck only what changed "
                        "(default: the user cache folder, ~/.cache/whyload/audit).")
    parser.add_argument("--no-cache", action="store_true",
                        help="Check every target again, and keep nothing.")
    FAIL_ON.add_to(parser)
    SELECT.add_to(parser)
    IGNORE.add_to(parser)
    MODEL_CLASS.add_to(parser)
    DEVICE.add_to(parser)
    DTYPE.add_to(parser)
    PYTHON.add_to(parser)
    STORAGE_OPTION.add_to(parser)
    parser.add_argument("--finetune", action="store_true",
                        help="The models are about to be fine-tuned (see `whyload check`).")


def audit(args: argparse.Namespace) -> int:
    """Check every model a team owns in one run, on this machine or a Dask cluster: folder trees,
    HF caches, lists, buckets and Hub authors; JSON lines, a summary, an HTML page, SARIF."""
    from whyload.audit.cache import ResultCache, default_cache_dir
    from whyload.audit.discovery import RemoteLister, discover, first_target_holding
    from whyload.audit.run import Audit, AuditOptions, require_dask, start_cluster
    from whyload.errors import UsageError
    from whyload.registry import validate_patterns

    require_dask()
    validate_patterns([*args.select, *args.ignore])
    options = AuditOptions(select=tuple(args.select), ignore=tuple(args.ignore),
                           model_class=args.model_class, device=args.device, dtype=args.dtype,
                           python=args.python, finetune=args.finetune, verify=args.verify,
                           timeout=args.timeout or (VERIFY_TIMEOUT_S if args.verify else
                                                    DEFAULT_TIMEOUT_S))
    lister = RemoteLister(storage_options=dict(args.storage_option) or None)
    targets = list(discover(args.targets, lister=lister))
    if not targets:
        raise UsageError(f"no model found in {' '.join(args.targets)}",
                         hint="a model folder holds weights or a config.json with model_type")
    cache_dir = None if args.no_cache else Path(args.cache or default_cache_dir())
    for written in filter(None, (args.out, args.html, cache_dir)):
        holder = first_target_holding(Path(written), targets)
        if holder is not None:
            raise UsageError(f"{written} is inside {holder}, an audited folder",
                             hint="audit never writes into the folders it checks: choose "
                             "another place")
    t0 = time.perf_counter()
    with ExitStack() as stack:
        cache = ResultCache(cache_dir) if cache_dir is not None else None
        if cache is not None:
            stack.callback(cache.close)
        rows_out = stack.enter_context(_open(args.out)) if args.out else None
        cluster = start_cluster(args.scheduler, args.workers)
        stack.callback(cluster.close)
        run = Audit(cluster, targets, options, cache)
        rows, interrupted = _collect(run, rows_out, args.format)
        summary = _summary(rows, run, time.perf_counter() - t0)
    if args.html:
        from whyload.render.html import render_audit_html

        Path(args.html).write_text(render_audit_html(rows, summary), encoding="utf-8")
    if args.format == "sarif":
        out(_sarif(rows))
    elif args.format == "text":
        out(render_summary(summary, interrupted=interrupted))
    else:
        sys.stderr.write(render_summary(summary, interrupted=interrupted) + "\n")
    if interrupted:
        sys.stderr.write("whyload: interrupted: the rows written so far are complete lines; "
                         "the same command resumes where this one stopped\n")
        return INTERRUPTED_EXIT
    return _exit_code(rows, args.fail_on)


def _open(path: str) -> IO[str]:
    return open(path, "w", encoding="utf-8")


def _collect(run: Audit, rows_out: IO[str] | None,
             fmt: AuditFormat) -> tuple[list[dict[str, Any]], bool]:
    """Every row as it arrives: to --out and (json) stdout, whole lines, flushed; Ctrl-C stops
    the audit and keeps what arrived."""
    rows: list[dict[str, Any]] = []
    with _Progress(len(run.targets)) as progress:
        try:
            for outcome in run.outcomes():
                line = json.dumps(outcome.row, default=str) + "\n"
                if rows_out is not None:
                    rows_out.write(line)
                    rows_out.flush()
                if fmt == "json":
                    sys.stdout.write(line)
                    sys.stdout.flush()
                rows.append(outcome.row)
                progress.advance(outcome)
        except KeyboardInterrupt:
            run.cancel()
            return rows, True
    return rows, False


def _summary(rows: list[dict[str, Any]], run: Audit, elapsed: float) -> Summary:
    from whyload.audit.summary import summarize

    return summarize(rows, from_cache=run.cached, seconds=round(elapsed, 3))


def _sarif(rows: list[dict[str, Any]]) -> str:
    from whyload.registry import all_rules
    from whyload.render.json import report_from_data
    from whyload.render.sarif import fleet_sarif_log

    reports = [report_from_data(r) for r in rows]
    return json.dumps(fleet_sarif_log(reports, {r.code: r for r in all_rules()}), indent=2,
                      default=str)


def _exit_code(rows: list[dict[str, Any]], fail_on: str) -> int:
    if fail_on == "never":
        return 0
    from whyload.report import Severity

    threshold = Severity.parse(fail_on)
    return int(any(Severity.parse(f["severity"]) >= threshold
                   for r in rows for f in r.get("findings", ())))


def render_summary(summary: Summary, *, interrupted: bool = False) -> str:
    """The summary as text: verdicts, the most frequent codes, the targets to look at first."""
    from whyload.audit.summary import VERDICT_ORDER

    labels = {"loads": "loads", "fails": "fails", "loads_broken": "loads broken",
              "unknown": "unknown"}
    head = (f"audited {summary.total:,} targets in {summary.seconds:,.1f} s"
            f" ({summary.from_cache:,} from the cache)" + (" - interrupted" if interrupted else ""))
    lines = [head, "  " + "   ".join(f"{labels[v]}: {summary.verdicts.get(v, 0):,}"
                                     for v in VERDICT_ORDER)]
    if summary.faults:
        lines.append(f"  the audit could not check {summary.faults:,} (WL590-WL593)")
    if summary.codes:
        lines.append("most frequent findings:")
        lines.extend(f"  {c.code} {c.severity:<7} {c.targets:>6,}  {c.title}"
                     for c in summary.codes)
    if summary.first:
        lines.append("look at these first:")
        lines.extend(f"  {p.target}\n      {p.headline} ({p.reason})" for p in summary.first)
    return "\n".join(lines)


class _Progress:
    """A rich progress bar on stderr, with counts per verdict, when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.counts: Counter[str] = Counter()
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        if not sys.stderr.isatty():
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task(self._description(), total=self.total)
        self.bar.__enter__()
        return self

    def _description(self) -> str:
        return " ".join(f"[{color}]{label} {self.counts.get(verdict, 0):,}[/]"
                        for verdict, color, label in VERDICT_MARKS)

    def advance(self, outcome: Outcome) -> None:
        self.counts[outcome.verdict] += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=self._description())

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
