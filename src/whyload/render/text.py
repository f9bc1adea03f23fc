"""The terminal view: the verdict, one glanceable line per category (like `flutter doctor`),
then each finding with what was seen, the evidence and the fix."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from whyload.render import printable
from whyload.report import Category, Effect, Finding, Report, Severity, Verdict

MARKS = {Severity.ERROR: ("✗", "bold red"), Severity.WARNING: ("!", "yellow"),
         Severity.INFO: ("i", "cyan")}
VERDICT_STYLE = {Verdict.LOADS: "bold green", Verdict.FAILS: "bold red",
                 Verdict.LOADS_BROKEN: "bold magenta", Verdict.UNKNOWN: "bold yellow"}
VERDICT_TEXT = {
    Verdict.LOADS: "loads — nothing found that stops from_pretrained",
    Verdict.FAILS: "fails — from_pretrained will raise",
    Verdict.LOADS_BROKEN: "loads broken — no exception, but some weights will be wrong",
    Verdict.UNKNOWN: "unknown — some checks could not run",
}
# load and explain report what already happened, not a prediction
HAPPENED_TEXT = {
    Verdict.LOADS: "loaded — from_pretrained returned a complete model",
    Verdict.FAILS: "failed — from_pretrained raised, or the process died",
    Verdict.LOADS_BROKEN: "loaded broken — no exception, but some weights are wrong",
    Verdict.UNKNOWN: "unknown — what happened could not be established",
}
HAPPENED = ("load", "explain")


def _summary(report: Report) -> str:
    facts = report.facts
    parts = []
    if facts.get("format"):
        parts.append(f"{facts['format']}")
    if facts.get("tensor_count"):
        parts.append(f"{facts['tensor_count']:,} tensors")
    if facts.get("parameter_count"):
        parts.append(f"{_count(facts['parameter_count'])} parameters")
    dtypes = facts.get("dtypes") or {}
    if dtypes:
        parts.append("/".join(dtypes))
    if facts.get("model_type"):
        parts.append(f"model_type {facts['model_type']}")
    remote = facts.get("remote")
    if isinstance(remote, dict):
        parts.append(f"read remotely: {remote.get('bytes_read', 0):,} bytes in "
                     f"{remote.get('requests', 0)} requests")
    return ", ".join(parts)


def _count(n: int) -> str:
    if n >= 10**15:  # only a header that lies gets here; floats would overflow
        return f"~10^{len(str(n)) - 1}"
    for unit, scale in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{n / scale:,.1f}{unit}"
    return str(n)


BYTES_TEXT = {
    "intact": ("intact — every byte matches its record", "bold green"),
    "unverified": ("nothing to compare — no record of these bytes was found", "bold yellow"),
}
RUNS_CODE = "would run code when loaded — "


def headline(report: Report) -> list[Text]:
    """The verdict line, and under it what would otherwise be overstated: a pickle that runs
    code outranks any loading verdict; a "loads" names what was not checked."""
    verdict = report.verdict
    lines: list[Text] = []
    runs_code = next((f for f in report.findings if f.category is Category.SECURITY
                      and f.severity is Severity.ERROR), None)
    if runs_code is not None:
        lines.append(Text("  verdict: ").append(RUNS_CODE + printable(runs_code.title),
                                                style="bold red"))
    if report.command == "verify":
        text, style = _bytes_headline(report)
    else:
        text, style = _loading_headline(report), VERDICT_STYLE[verdict]
    unchecked = "; ".join(f"{category} not checked: {printable(reason)}"
                          for category, reason in report.not_checked.items())
    remote = report.facts.get("remote")
    if isinstance(remote, dict) and remote.get("not_checked"):
        remotely = "not checked remotely: " + ", ".join(remote["not_checked"])
        unchecked = f"{unchecked}; {remotely}" if unchecked else remotely
    if unchecked and verdict is Verdict.LOADS and report.command not in HAPPENED:
        text, style = f"{text.split(' — ', 1)[0]} — as far as checked; {unchecked}", "bold yellow"
    label = "  loading: " if runs_code is not None else "  verdict: "
    lines.append(Text(label).append(text, style=style))
    return lines


def _loading_headline(report: Report) -> str:
    verdict = report.verdict
    if report.command == "env":
        return {Verdict.LOADS: "ready — nothing here stops a model from loading",
                Verdict.FAILS: "not ready — loads will fail here",
                }.get(verdict, VERDICT_TEXT[verdict])
    if report.command in HAPPENED:
        return HAPPENED_TEXT[verdict]
    single = report.resolved.get("how") == "file" or (
        report.resolved.get("how") == "remote" and bool(report.resolved.get("file")))
    if single and verdict is Verdict.LOADS:
        return "loads — the file reads as a valid checkpoint"
    if verdict is Verdict.UNKNOWN and report.not_checked and not report.skipped and not any(
            f.effect is Effect.UNKNOWN for f in report.findings):
        return "unknown — what decides loading was not checked (see below)"
    return VERDICT_TEXT[verdict]


def _bytes_headline(report: Report) -> tuple[str, str]:
    """verify speaks of bytes: whether they match their records, not whether they load."""
    state = report.facts.get("bytes")
    if state == "damaged":
        worst = next((f for f in report.findings if f.severity is Severity.ERROR), None)
        why = printable(worst.title) if worst else "some bytes differ from their record"
        return f"damaged — {why}", "bold red"
    if state == "partial":
        files = len(report.facts.get("files") or [])
        matched = report.facts.get("files_matched", 0)
        return (f"partly verified — {matched} of {files} files match their record; "
                "the others have none or were not read", "bold yellow")
    if isinstance(state, str) and state in BYTES_TEXT:
        return BYTES_TEXT[state]
    return VERDICT_TEXT[Verdict.UNKNOWN], VERDICT_STYLE[Verdict.UNKNOWN]


def _memory_asked(report: Report) -> bool:
    """The memory question is asked with --device, --dtype or --memory."""
    fit = report.facts.get("memory_fit")
    return isinstance(fit, dict) and bool(fit.get("asked"))


def _gigabytes(n: int) -> str:
    if n >= 10**21:  # only a header that lies gets here; floats would overflow
        return f"~10^{len(str(n)) - 10} GB"
    return f"{n / 1e9:.1f} GB"


def memory_line(fit: dict[str, Any]) -> Text:
    """"will not fit: needs 17.1 GB, this GPU has 11.8 GB free" — the answer to "will it fit"."""
    needs, has = _gigabytes(fit["needs_bytes"]), _gigabytes(fit["has_bytes"])
    where = fit["where"]
    against = (f"--memory is {has}" if where == "--memory" else
               f"{where.removesuffix(' has free')} has {has} free"
               if where.endswith("has free") else f"{where} {has} usable")
    if fit["fits"]:
        return Text(f"  memory: fits: needs {needs}, {against}", style="green")
    return Text(f"  memory: will not fit: needs {needs}, {against}", style="bold red")


def render_rich(report: Report, *, verbose: bool = False) -> Group:
    lines: list[Any] = []
    machine = report.command == "env"
    lines.append(Text(f"whyload {report.command}" + ("" if machine else
                                                     f" {printable(report.target)}"),
                      style="bold"))
    fit = report.facts.get("memory_fit") if report.command == "check" else None
    if isinstance(fit, dict) and _memory_asked(report):
        lines.append(memory_line(fit))
    lines.extend(headline(report))
    summary = _summary(report) if report.command == "check" else ""
    if summary:
        lines.append(Text(f"  {printable(summary)}", style="dim"))
    lines.append(Text())

    areas = report.facts.get("areas")
    marks = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "error": ("✗", "bold red")}
    if isinstance(areas, list):  # `whyload env`: a line per area
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=3, justify="right")
        grid.add_column(width=10, style="bold")
        grid.add_column()
        for area in areas:
            mark, style = marks.get(area["status"], ("?", "yellow"))
            grid.add_row(Text(mark, style=style), area["area"], printable(area["summary"]))
        lines.append(grid)
    # check examines every category; the other commands answer only for what they saw
    if areas:
        shown: list[Category] = [Category(c) for c in report.not_checked if c in CATEGORY_VALUES]
    elif report.command == "check":
        shown = list(Category)
    else:
        seen = {f.category.value for f in report.findings} | set(report.not_checked)
        shown = [c for c in Category if c.value in seen]
    for category in shown:
        lines.append(_category_line(category, report))
    for s in report.skipped:
        lines.append(Text(f"  ? {s.code} did not run: {printable(s.reason)}", style="yellow"))

    if report.findings:
        lines.append(Text())
    for f in report.findings:
        if f.severity is Severity.INFO and not verbose and report.failed(Severity.WARNING):
            continue
        lines.extend(_finding(f, verbose))
    hidden = sum(1 for f in report.findings if f.severity is Severity.INFO) if (
        not verbose and report.failed(Severity.WARNING)) else 0
    if hidden:
        lines.append(Text(f"  ({hidden} note{'s' if hidden > 1 else ''} hidden; -v shows them)",
                          style="dim"))
    if verbose and report.timings:
        lines.append(Text(f"  timings: {json.dumps(dict(report.timings))}", style="dim"))
    return Group(*lines)


CATEGORY_VALUES = frozenset(c.value for c in Category)


def _category_line(category: Category, report: Report) -> Text:
    """One glanceable line: ✗ ! ✓ by the worst finding, or "-" for what was not assessed."""
    found = [f for f in report.findings if f.category is category]
    counts = _counts(found)
    reason = report.not_checked.get(category.value)
    worst = max((f.severity for f in found), default=None)
    if worst is not None and worst > Severity.INFO:
        mark, style = MARKS[worst]
    elif reason is not None:
        mark, style = "-", "dim"
    else:
        mark, style = "✓", "green"
    line = Text(f"  {mark} ", style=style)
    line.append(f"{category.value:<13}", style="bold")
    if reason is not None:
        quiet = f"not checked: {printable(reason)}"
        line.append(f"{counts}; {quiet}" if counts else quiet, style="dim")
    else:
        line.append(counts or "no problems found", style=style if counts else "dim")
    return line


def _counts(found: list[Finding]) -> str:
    parts = []
    for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        n = sum(1 for f in found if f.severity is sev)
        if n:
            parts.append(f"{n} {sev.label}{'s' if n > 1 else ''}")
    return ", ".join(parts)


def _finding(f: Finding, verbose: bool) -> list[Any]:
    """The title on the mark's line; detail, evidence and fix indented under it, wrapped there."""
    mark, style = MARKS[f.severity]
    title = Text(f"{f.code} ", style=style)
    title.append(printable(f.title), style="bold")
    body = Text()
    if f.detail:
        body.append(printable(f.detail) + "\n")
    if verbose and f.evidence:
        ev = ", ".join(f"{k}={_short(v)}" for k, v in f.evidence.items() if v not in (None, [], {}))
        body.append(f"evidence: {printable(ev)}\n", style="dim")
    if f.fix:
        body.append("fix: ", style="green")
        body.append(printable(f.fix) + "\n")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=3, justify="right")
    grid.add_column()
    grid.add_row(Text(mark, style=style), title)
    if body:
        body.rstrip()
        grid.add_row("", body)
    return [grid, Text()]


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 160 else text[:157] + "…"


def render_text(report: Report, *, color: bool = False, width: int = 100,
                verbose: bool = False) -> str:
    buf = io.StringIO()
    # force_jupyter=False: in a notebook rich would display the output itself, not write it
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width,
                      highlight=False, emoji=False, soft_wrap=False, force_jupyter=False)
    console.print(render_rich(report, verbose=verbose))
    text = buf.getvalue()
    return text if color else "\n".join(line.rstrip() for line in text.split("\n"))


def render_html(report: Report) -> str:
    console = Console(record=True, file=io.StringIO(), width=100, highlight=False,
                      force_jupyter=False)
    console.print(render_rich(report, verbose=True))
    return console.export_html(inline_styles=True, code_format="<pre>{code}</pre>")


__all__ = ["render_html", "render_rich", "render_text"]
