"""diagnose_error and explain: one error, or a whole log, in; findings and a Report out."""

from __future__ import annotations

import dataclasses
import io
import os
import stat
import time
import traceback
from collections.abc import Sequence
from typing import TextIO

from whyload.knowledge.error_texts import ERROR_TEXTS
from whyload.logs.advice import refused_globals_advice, safer_advice
from whyload.logs.incidents import Incident, IncidentScanner
from whyload.logs.lines import Line, open_log, open_stdin, text_lines
from whyload.logs.loading_report import loading_findings, read_loading_reports
from whyload.logs.match import find_matches, findings_of
from whyload.logs.targets import (
    is_hub_id,
    loadable_class,
    model_location,
    named_calls,
    named_locations,
)
from whyload.readers.sniff import ARCHIVES, MODEL_KINDS
from whyload.report import Category, Finding, JSONValue, Report, Severity, Skipped

MAX_CHECKED_TARGETS = 3
MAX_TARGET_TRIES = 12
_LOADING_RANK = len(ERROR_TEXTS)  # loading-report findings sort after the table's


def diagnose_lines(lines: Sequence[Line]) -> tuple[Finding, ...]:
    """The findings for the lines of one failure: the table's, then the loading report's."""
    return _diagnosed(lines)[0]


_Key = tuple[str, str | None]  # a finding's code and file


def _diagnosed(lines: Sequence[Line]) -> tuple[tuple[Finding, ...], dict[_Key, int]]:
    """diagnose_lines, and for each finding (code, file) the last line that showed it."""
    matches = find_matches(lines)
    table = refused_globals_advice(findings_of(matches), lines)
    report = [f for r in read_loading_reports(lines) for f in loading_findings(r)]
    known = {f.code for f in table}
    found = (*table, *(f for f in report if f.code not in known))
    last: dict[tuple[str, str | None], int] = {}
    anchors = {m.line.number: m.anchor or m.line.number for m in matches}
    for m in matches:  # a match in an exception's message counts at the exception's line
        key = (m.row.code, m.groups.get("file"))
        last[key] = max(last.get(key, 0), m.anchor or m.line.number)
    for f in found:
        line = f.evidence.get("line")
        key = (f.code, f.file)
        if key not in last and isinstance(line, int):  # a finding made from a match (WL630)
            last[key] = anchors.get(line, line)
    return found, last


def diagnose_error(text: str) -> tuple[Finding, ...]:
    """One error ("Type: message", optionally with its traceback and log lines around it) ->
    the findings of the error-text table, most specific first; () when nothing matches."""
    return diagnose_lines(text_lines(text))


def diagnose_exception(exc: BaseException) -> tuple[Finding, ...]:
    """diagnose_error for a caught exception: its traceback and the chain of its causes."""
    return diagnose_error("".join(traceback.format_exception(exc)))


@dataclasses.dataclass
class _Collected:
    """What the scan keeps across incidents: one finding per code and file, and the places."""

    findings: dict[tuple[str, str | None], Finding] = dataclasses.field(default_factory=dict)
    rank: dict[tuple[str, str | None], int] = dataclasses.field(default_factory=dict)
    counts: dict[tuple[str, str | None], int] = dataclasses.field(default_factory=dict)
    last_line: dict[tuple[str, str | None], int] = dataclasses.field(default_factory=dict)
    calls: dict[str, str] = dataclasses.field(default_factory=dict)  # location -> class
    attempts: int = 0
    attempt_ends: tuple[int, ...] = ()
    locations: dict[str, None] = dataclasses.field(default_factory=dict)
    incidents: int = 0
    lines: int = 0
    training: bool = False

    def add(self, incident: Incident) -> None:
        self.incidents += 1
        for location, model_class in named_calls(incident.lines):
            if len(self.calls) < 64:
                self.calls[location] = model_class
        found, last = _diagnosed(incident.lines)
        if not found:
            return
        for key, number in last.items():
            self.last_line[key] = max(self.last_line.get(key, 0), number)
        for order, finding in enumerate(found):
            key = (finding.code, finding.file)
            seen = finding.evidence.get("occurrences", 1)
            self.counts[key] = self.counts.get(key, 0) + (seen if isinstance(seen, int) else 1)
            if key in self.findings:
                continue
            self.findings[key] = finding
            self.rank[key] = _rank_of(finding.code, order)
        for location in named_locations(incident.lines):
            if len(self.locations) < 64:
                self.locations.setdefault(location, None)


def _rank_of(code: str, order: int) -> int:
    for index, row in enumerate(ERROR_TEXTS):
        if row.code == code:
            return index
    return _LOADING_RANK + order


def explain(source: str | os.PathLike[str] | TextIO, *, run_check: bool = True,
            remote: bool = False) -> Report:
    """Find the failures in a log or traceback (a path, '-' for stdin, an open text stream, or
    the text itself when it spans lines), read line by line in bounded memory, and explain each:
    cause, evidence line, fix.

    When the log names a local model folder or a cached hub id that exists here and `run_check`
    is true, `whyload.check` runs on it and its findings are merged in (one per code and file).
    With `remote`, a hub id that is not cached here is checked on the Hub by its headers (explain
    reaches the network only when asked).
    Raises TargetError when the log cannot be opened.
    """
    from whyload.errors import TargetError

    if isinstance(source, str) and "\n" in source:  # a traceback pasted in a notebook
        source = io.StringIO(source)
        source.name = "<text>"
    t0 = time.perf_counter()
    collected = _Collected()
    if isinstance(source, (str, os.PathLike)):
        name = "<stdin>" if source == "-" else os.fspath(source)
    else:
        name = str(getattr(source, "name", None) or "<stream>")
    if isinstance(source, (str, os.PathLike)) and source != "-":
        _refuse_non_log(source)
        try:
            stream: TextIO = open_log(source)
        except OSError as exc:
            raise TargetError(str(source), f"cannot read the log {str(source)!r}: "
                              f"{exc.strerror or exc}",
                              hint="give a log file, or '-' to read standard input") from exc
        with stream:
            _scan(stream, collected)
    elif source == "-":
        _scan(open_stdin(), collected)
    else:
        _scan(source, collected)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    keys = sorted(collected.findings, key=lambda k: (-collected.findings[k].severity,
                                                     collected.rank[k]))
    earlier = _earlier_attempts(collected)
    findings = [_counted(collected.findings[k], collected.counts[k]) for k in keys]
    findings = sorted((_from_earlier_attempt(f) if (f.code, f.file) in earlier else f
                       for f in findings), key=lambda f: -f.severity)
    if collected.training:
        findings = [_trained_later(f) for f in findings]
    checked: list[dict[str, JSONValue]] = []
    unchecked: list[dict[str, JSONValue]] = []
    locations = _locations_first_called(collected)
    if run_check:
        findings, checked, unchecked = _merge_checks(findings, locations, collected.calls,
                                                     remote=remote)
    findings = safer_advice(findings, model=_the_model(collected, locations),
                            weights=_the_weights(collected))
    t2 = time.perf_counter()
    skipped: tuple[Skipped, ...] = ()
    if not findings:
        skipped = (Skipped(code="explain", reason="no failure that whyload knows was found in "
                                                  "the log"),)
    return Report(command="explain", target=name, resolved={"how": "log", "path": name},
                  findings=tuple(findings), skipped=skipped,
                  facts={"lines": collected.lines, "incidents": collected.incidents,
                         "attempts": collected.attempts,
                         "locations": list(collected.locations)[:16],
                         "code_calls": [{"target": t, "class": c}
                                        for t, c in list(collected.calls.items())[:16]],
                         "checked": checked, "not_checked": unchecked},
                  timings={"scan_s": round(t1 - t0, 6), "check_s": round(t2 - t1, 6),
                           "total_s": round(t2 - t0, 6)})


def _counted(finding: Finding, occurrences: int) -> Finding:
    if occurrences <= 1:
        return finding
    return dataclasses.replace(finding, evidence={**finding.evidence, "occurrences": occurrences})


def _trained_later(finding: Finding) -> Finding:
    """A head created at random in a log that goes on to train: the fine-tuning that fills it,
    a note rather than a warning."""
    if finding.code != "WL401":
        return finding
    return dataclasses.replace(
        finding, severity=Severity.INFO,
        detail=finding.detail + " The log goes on to train the model, which fills the head.",
        evidence={**finding.evidence, "training_seen": True})


def _scan(stream: TextIO, collected: _Collected) -> None:
    scanner = IncidentScanner()
    for incident in scanner.scan(stream):
        collected.add(incident)
    collected.lines = scanner.lines
    collected.training = scanner.training
    collected.attempts = scanner.attempts
    collected.attempt_ends = tuple(scanner.attempt_ends)


def _earlier_attempts(collected: _Collected) -> set[tuple[str, str | None]]:
    """The findings seen only before the last attempt began (after the exception, or the
    "Killed", that ended the one before it); none when the last attempt shows no warning or
    error of its own (its cause is then unknown, and the earlier ones are all there is to say)."""
    if collected.attempts < 2 or len(collected.attempt_ends) < 2:
        return set()
    boundary = collected.attempt_ends[-2]
    earlier = {k for k, line in collected.last_line.items() if line <= boundary}
    last = set(collected.findings) - earlier
    if not any(collected.findings[k].severity >= Severity.WARNING for k in last):
        return set()
    return earlier & set(collected.findings)


def _from_earlier_attempt(finding: Finding) -> Finding:
    """A failure of an attempt the log goes on past: mentioned, not the diagnosis."""
    return dataclasses.replace(
        finding, title=f"An earlier attempt: {finding.title}", severity=Severity.INFO,
        detail=finding.detail + " The log goes on to a later attempt, which failed otherwise; "
                                "this one is kept for reference.",
        evidence={**finding.evidence, "attempt": "earlier"})


def _locations_first_called(collected: _Collected) -> list[str]:
    """The locations the log names, those the printed code passes to a loading call first (the
    last such call first: the one that ran last)."""
    called = list(reversed(collected.calls))
    return [*called, *(loc for loc in collected.locations if loc not in collected.calls)]


def _the_weights(collected: _Collected) -> str | None:
    """The file the last torch.load (or safetensors load) of the printed code read."""
    loads = [target for target, how in collected.calls.items()
             if how in ("torch.load", "load_file", "safe_open", "load_state_dict")]
    return loads[-1] if loads else None


def _the_model(collected: _Collected, locations: list[str]) -> str | None:
    """The model the failure is about, when the log says: what the last loading call passed,
    else the only location the log names."""
    if collected.calls:
        return next(reversed(collected.calls))
    return locations[0] if len(locations) == 1 else None


def _refuse_non_log(path: str | os.PathLike[str]) -> None:
    """Raise TargetError for what is plainly not a log: a folder, or a model or archive file
    passed by mistake (its first bytes say so)."""
    from whyload.errors import TargetError
    from whyload.readers.sniff import HEAD_BYTES, sniff

    name = os.fspath(path)
    if os.path.isdir(name):
        raise TargetError(name, f"cannot read the log {name!r}: it is a folder",
                          hint=f"give a log file; for a model folder run `whyload check {name}`")
    try:
        mode = os.stat(name).st_mode
        if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and \
                os.path.realpath(name) != os.devnull:  # /dev/zero would be read forever
            raise TargetError(name, f"{name!r} is a device, not a log file",
                              hint="give a log file, or pipe the log in with '-'")
        if not stat.S_ISREG(mode):
            return  # a pipe (`<(python train.py 2>&1)`) is read once, by the scan
        with open(name, "rb") as file:
            head = file.read(HEAD_BYTES)
            size = os.fstat(file.fileno()).st_size
    except OSError:
        return  # open_log says why
    kind = sniff(head, size, os.path.basename(name))
    if kind in ARCHIVES:
        raise TargetError(name, f"{name!r} is a {kind.value} archive, not a log",
                          hint=f"decompress it first: e.g. zcat {name} | whyload explain -")
    if kind in MODEL_KINDS:
        raise TargetError(name, f"{name!r} is a {kind.value} file, not a log",
                          hint=f"explain reads logs and tracebacks; for a model file run "
                               f"`whyload check {name}`")


def _merge_checks(findings: list[Finding], locations: list[str], calls: dict[str, str], *,
                  remote: bool = False
                  ) -> tuple[list[Finding], list[dict[str, JSONValue]], list[dict[str, JSONValue]]]:
    """`findings` with those of `whyload.check` on each location that exists here (with the
    class the printed code loads it into), or, with `remote`, on the Hub for a hub id that is not
    cached; a code both name is one finding: check's, with the log's line added to its evidence.
    Also the hub ids that could not be checked, and why."""

    checked: list[dict[str, JSONValue]] = []
    unchecked: list[dict[str, JSONValue]] = []
    merged = list(findings)
    done: set[str] = set()
    tries = 0
    for candidate in locations:
        target = model_location(candidate)
        if target is None or target in done or tries >= MAX_TARGET_TRIES:
            continue
        tries += 1
        model_class = loadable_class(calls.get(candidate))
        report, why = _check_named(target, model_class, remote)
        if report is None:
            if is_hub_id(target) and len(unchecked) < MAX_CHECKED_TARGETS:
                unchecked.append({"target": target, "why": why})
            continue
        done.add(target)
        checked.append({"target": target, "verdict": report.verdict.value,
                        "codes": report.codes(), "class": model_class})
        for finding in report.findings:
            merged = _merge_one(merged, finding, target)
        merged = _explained_by_check(merged, report.findings, target)
        if len(done) >= MAX_CHECKED_TARGETS:
            break
    merged = sorted(_refined(merged), key=lambda f: -f.severity)  # stable: table order kept
    return merged, checked, unchecked


def _explained_by_check(findings: list[Finding], from_check: Sequence[Finding], target: str
                        ) -> list[Finding]:
    """A log's guess about the files ("does not appear to have a file named ...") that check,
    run on the model the log names, explains otherwise (a broken cache link, an LFS pointer):
    the log's line stays as the symptom, check's findings are the cause."""
    causes = [f.code for f in from_check
              if f.severity is Severity.ERROR and f.category is Category.FILES]
    if not causes:
        return findings
    out = []
    for finding in findings:
        if "checked" not in finding.evidence and finding.category is Category.FILES and \
                finding.severity is Severity.ERROR and finding.code not in causes:
            finding = dataclasses.replace(
                finding, severity=Severity.INFO,
                title=f"{finding.title} (the symptom; the cause: {', '.join(causes)})",
                detail=finding.detail + f" `whyload check {target}` found what is wrong with "
                                        f"the files: {', '.join(causes)}.",
                fix=f"see {', '.join(causes)}",
                evidence={**finding.evidence, "explained_by": causes, "checked": target})
        out.append(finding)
    return out


def _check_named(target: str, model_class: str | None, remote: bool) -> tuple[Report | None, str]:
    """check's report on a location the log names, or None and why it could not be checked: a
    hub id that is not cached here is retried on the Hub when `remote`."""
    from whyload.errors import WhyloadError
    from whyload.pipeline import check

    try:
        return check(target, model_class=model_class), ""
    except (WhyloadError, OSError, ValueError) as exc:
        why = _why_unchecked(exc)
    if not (remote and is_hub_id(target)):
        return None, f"{why} (--remote checks it on the Hub)" if is_hub_id(target) else why
    try:
        return check(target, model_class=model_class, remote=True), ""
    except (WhyloadError, OSError, ValueError) as exc:
        return None, f"not cached here; on the Hub: {_why_unchecked(exc)}"


def _why_unchecked(exc: BaseException) -> str:
    """Why a hub id the log names was not checked: not in the local HF cache (explain checks the
    Hub only with --remote), or the Hub refused."""
    return (str(exc).splitlines() or ["not found"])[0][:200]


def _refined(findings: list[Finding]) -> list[Finding]:
    """Drop a log's guess ('header too large') where check named what the file really is."""
    from_check = {f.code for f in findings if "checked" in f.evidence}
    kept = []
    for finding in findings:
        row = next((r for r in ERROR_TEXTS if r.code == finding.code), None)
        if "checked" not in finding.evidence and row is not None and \
                from_check & (set(row.refined_by) - {finding.code}):
            continue
        kept.append(finding)
    return kept


def _merge_one(findings: list[Finding], from_check: Finding, target: str) -> list[Finding]:
    evidence = {**from_check.evidence, "checked": target}
    for i, finding in enumerate(findings):
        same_file = finding.file is None or from_check.file is None or \
            os.path.basename(finding.file) == os.path.basename(from_check.file)
        merged_before = finding.evidence.get("checked")
        if finding.code == from_check.code and same_file and merged_before in (None, target):
            log = {f"log_{k}": v for k, v in finding.evidence.items() if k in ("line", "text")}
            # the log saw it happen: check's milder prediction ('needs trust_remote_code') does
            # not make a load that raised a warning
            happened = finding.severity > from_check.severity
            findings[i] = dataclasses.replace(
                from_check, evidence={**evidence, **log},
                severity=finding.severity if happened else from_check.severity,
                effect=finding.effect if happened else from_check.effect)
            return findings
    return [*findings, dataclasses.replace(from_check, evidence=evidence)]
