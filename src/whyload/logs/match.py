"""Lines of one failure -> findings, through the error-text table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import whyload.checks  # noqa: F401  (registers every code the table names)
from whyload.knowledge.error_texts import ERROR_TEXTS, ErrorText
from whyload.logs.lines import Line, without_prefix
from whyload.registry import Problem, stamp
from whyload.report import Finding, JSONValue

# "OSError: ...", "_pickle.UnpicklingError: ...", "[rank0]: torch.OutOfMemoryError: ..."
_EXCEPTION_HEADER = re.compile(
    r"^(?:\[[^\]]*\]:?\s*)?(?P<qualified>(?:[A-Za-z_]\w*\.)*(?P<name>[A-Z_]\w*))(?::\s|:?\s*$)")
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt")
_TRACEBACK_START = "Traceback (most recent call last):"
MAX_EVIDENCE_TEXT = 400
# an exception's message may go on for lines that hold no trigger word ("Please pass the
# argument `trust_remote_code=True`"): they are read up to a blank line, at most this many
MAX_MESSAGE_LINES = 20
MAX_REMEMBERED_TEXTS = 4_096  # distinct (line, exception) pairs whose row is remembered
# a request that will be tried again (pip, huggingface_hub): a failure only if the last try fails,
# and that one is reported on its own line
_RETRY_NOTICE = re.compile(r"^\s*(?:WARNING: )?Retrying \(Retry\(|Retrying in [\d.]+ ?s\b"
                           r"|' thrown while requesting (?:HEAD|GET|POST) ")


@dataclass(frozen=True)
class Match:
    """A table row that recognised a line."""

    rank: int  # the row's position in the table: lower is more specific
    row: ErrorText
    line: Line
    exception: str | None
    groups: dict[str, str]


def exception_name(text: str) -> tuple[str, str] | None:
    """(short name, qualified name) when `text` is an exception's 'Type: message' line."""
    header = _EXCEPTION_HEADER.match(text)
    if header is None or not header["name"].endswith(_EXCEPTION_SUFFIXES):
        return None
    return header["name"], header["qualified"]


def find_matches(lines: Sequence[Line]) -> list[Match]:
    """Each line recognised by its most specific row; fallback rows only when nothing else."""
    matches: list[Match] = []
    current: tuple[str, str] | None = None  # the exception whose message is being read
    in_frames = False  # between 'Traceback ...:' and the exception: frames and source code
    message_left = 0  # lines of the current exception's message still to read
    remembered: dict[tuple[str, str | None], tuple[int, dict[str, str]] | None] = {}
    in_context: dict[int, bool] = {}
    for line in lines:
        text = without_prefix(line.text)
        if text.startswith(_TRACEBACK_START):
            current, in_frames, message_left = None, True, 0
            continue
        if in_frames and text[:1] in (" ", "\t", ""):
            continue
        in_frames = False
        message_left = message_left - 1 if text.strip() else 0
        if not line.trigger and message_left <= 0:  # a header always holds a trigger word
            continue
        if _RETRY_NOTICE.search(text):
            continue
        header = exception_name(text)
        if header is not None:
            current, message_left = header, MAX_MESSAGE_LINES
        # a warning repeated at every step is matched once: the row depends only on the text,
        # the exception it belongs to, and (fixed for `lines`) the context
        key = (text, current[0] if current else None)
        if key in remembered:
            hit = remembered[key]
        else:
            hit = _first_row(text, current, lines, in_context)
            if len(remembered) < MAX_REMEMBERED_TEXTS:
                remembered[key] = hit
        if hit is not None:
            rank, groups = hit
            matches.append(Match(rank, ERROR_TEXTS[rank], line, current[1] if current else None,
                                 dict(groups)))
    if any(not m.row.fallback for m in matches):
        matches = [m for m in matches if not m.row.fallback]
    return sorted(matches, key=lambda m: (m.rank, m.line.number))


def _first_row(text: str, current: tuple[str, str] | None, lines: Sequence[Line],
               in_context: dict[int, bool]) -> tuple[int, dict[str, str]] | None:
    """The most specific row that recognises `text` (read as part of `current`'s message), with
    its named groups; `in_context` remembers, per row, whether `lines` hold its context."""
    for rank, row in enumerate(ERROR_TEXTS):
        if row.types and current is not None and current[0] not in row.types:
            continue
        found = row.pattern.search(text)
        if found is None:
            continue
        if rank not in in_context:
            in_context[rank] = _in_context(row, lines)
        if in_context[rank]:
            return rank, {k: v for k, v in found.groupdict().items() if v is not None}
    return None


def _in_context(row: ErrorText, lines: Sequence[Line]) -> bool:
    """Whether a row that needs another line of the same error (a frame) has it."""
    context = row.context
    return context is None or any(context.search(line.text) for line in lines)


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\w+)\}")


def fill(template: str, values: dict[str, str]) -> str:
    """`template` with {name} replaced by the match's group (? when it did not take part);
    {{ and }} stand for braces; any other brace is kept as it is."""

    def value(found: re.Match[str]) -> str:
        if found.group(1) is None:
            return found.group(0)[0]
        return values.get(found.group(1), "?")

    return _PLACEHOLDER.sub(value, template)


def finding_of(match: Match, *, occurrences: int = 1) -> Finding:
    """The finding a match stands for: the row's cause and fix, the line as evidence."""
    values = match.groups
    evidence: dict[str, JSONValue] = {"line": match.line.number,
                                      "text": match.line.text.strip()[:MAX_EVIDENCE_TEXT]}
    if match.exception:
        evidence["exception"] = match.exception
    evidence.update(match.groups)
    if occurrences > 1:
        evidence["occurrences"] = occurrences
    row = match.row
    problem = Problem(title=fill(row.title, values), severity=row.severity,
                      detail=fill(row.cause, values), evidence=evidence,
                      fix=fill(row.fix, values), effect=row.effect,
                      file=match.groups.get("file"))
    return stamp(row.code, problem)


def findings_of(matches: Sequence[Match]) -> list[Finding]:
    """One finding per code and file, from its first (most specific) match, in table order."""
    first: dict[tuple[str, str | None], Match] = {}
    count: dict[tuple[str, str | None], int] = {}
    for m in matches:
        key = (m.row.code, m.groups.get("file"))
        first.setdefault(key, m)
        count[key] = count.get(key, 0) + 1
    return [finding_of(m, occurrences=count[key]) for key, m in first.items()]
