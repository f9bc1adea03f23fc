"""Lines of one failure -> findings, through the error-text table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import whyload.checks  # noqa: F401  (registers every code the table names)
from whyload.knowledge.error_texts import ERROR_TEXTS, ErrorText
from whyload.logs.lines import Line, starts_record
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
# how shells, IDEs and supervisors report a SIGKILL (the OOM killer's signal) when the process
# itself printed nothing: bash's "line 3: 12345 Killed  python x.py", zsh's "killed", PyCharm's
# "exit code -9", subprocess's "non-zero exit status -9", systemd's "status=9/KILL"
_KILL_NOTICE = re.compile(
    r"^(?:[\w./-]+: line \d+:\s+\d+\s+|\[\d+\]\s+\d+\s+|zsh: )?[Kk]illed\s+\S*"
    r"(?:python|\.py|torchrun|accelerate|deepspeed)|exit(?:ed with)? (?:code|status):? -9\b"
    r"|return ?code:? -9\b|non-zero exit status -9\b|status=9/KILL\b"
    r"|exit code 137 \(interrupted by signal 9")
_KILL_ROW = next(rank for rank, row in enumerate(ERROR_TEXTS)
                 if row.code == "WL500" and row.pattern.search("Killed"))
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
    # the line of the exception whose message holds the match (its own line otherwise): which
    # attempt of a log the match belongs to
    anchor: int = 0


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
    remembered: _Remembered = {}
    in_context: dict[int, bool] = {}
    message = _Message()
    header_line = 0
    for line in lines:
        text = line.plain
        if text.startswith(_TRACEBACK_START):
            matches.extend(message.close(lines, in_context, remembered))
            current, in_frames, message_left = None, True, 0
            continue
        if in_frames and text[:1] in (" ", "\t", ""):
            continue
        in_frames = False
        message_left = message_left - 1 if text.strip() else 0
        if not line.trigger and message_left <= 0:  # a header always holds a trigger word
            message.add(text, line.text)  # a quiet line may still go on with a wrapped message
            continue
        if _RETRY_NOTICE.search(text):
            continue
        header = exception_name(text)
        if header is not None:
            matches.extend(message.close(lines, in_context, remembered))
            message.open(line, text, header)
            current, message_left, header_line = header, MAX_MESSAGE_LINES, line.number
        else:
            message.add(text, line.text)
        hit = _remembered_row(text, current, lines, in_context, remembered)
        if hit is None and _KILL_NOTICE.search(text):
            hit = _KILL_ROW, {}
        if hit is not None:
            rank, groups = hit
            message.matched(rank)
            anchor = header_line if current and message_left > 0 else line.number
            matches.append(Match(rank, ERROR_TEXTS[rank], line, current[1] if current else None,
                                 dict(groups), anchor))
    matches.extend(message.close(lines, in_context, remembered))
    if any(not m.row.fallback for m in matches):
        matches = [m for m in matches if not m.row.fallback]
    return sorted(matches, key=lambda m: (m.rank, m.line.number))


# a line that starts a record of its own rather than going on with a message: "ERROR: ...",
# "WARNING:", "Traceback", "OSError: ..."
_RECORD_START = re.compile(r"^(?:[A-Z][\w.]*(?::\s|:$)|Traceback \(|During handling"
                           r"|The above exc)")
FOLDED_WIDTH = 60
_Remembered = dict[tuple[str, str | None], "tuple[int, dict[str, str]] | None"]


def _remembered_row(text: str, current: tuple[str, str] | None, lines: Sequence[Line],
                    in_context: dict[int, bool], remembered: _Remembered
                    ) -> tuple[int, dict[str, str]] | None:
    """_first_row, once per distinct text and exception: a warning repeated at every step is
    matched once (the row depends only on the text, the exception it belongs to, and the
    context, which is fixed for `lines`)."""
    key = (text, current[0] if current else None)
    if key in remembered:
        return remembered[key]
    hit = _first_row(text, current, lines, in_context)
    if len(remembered) < MAX_REMEMBERED_TEXTS:
        remembered[key] = hit
    return hit


class _Message:
    """An exception's message read as one text: rich wraps it at the terminal's width, older
    releases print it over several lines, so a row may recognise only the lines joined. What a
    single line already matched is not matched again."""

    def __init__(self) -> None:
        self.header: Line | None = None
        self.exception: tuple[str, str] | None = None
        self.parts: list[str] = []
        self.blank = 0
        self.ended = True
        self.ranks: set[int] = set()
        self.folded = False
        self.previous = ""

    def open(self, line: Line, text: str, exception: tuple[str, str]) -> None:
        self.header, self.exception, self.parts = line, exception, [text.strip()]
        self.blank, self.ended, self.ranks, self.folded = 0, False, set(), False
        self.previous = text

    def add(self, text: str, raw: str) -> None:
        """A line after the header: part of the message until two blank lines, a line that
        starts a record of its own ("ERROR: ...", another exception), or MAX_MESSAGE_LINES."""
        if self.ended:
            return
        stripped = text.strip()
        self.blank = 0 if stripped else self.blank + 1
        if self.blank >= 2 or len(self.parts) >= MAX_MESSAGE_LINES or \
                _RECORD_START.match(stripped) or starts_record(raw):
            self.ended = True
        elif stripped:
            # rich folds a word longer than the terminal without a space: the line ends mid-word
            self.folded = self.folded or (len(self.previous) >= FOLDED_WIDTH
                                          and not self.previous[-1:].isspace())
            self.parts.append(stripped)
            self.previous = text

    def matched(self, rank: int) -> None:
        if not self.ended:
            self.ranks.add(rank)

    def close(self, lines: Sequence[Line], in_context: dict[int, bool],
              remembered: _Remembered) -> list[Match]:
        header, exception, parts = self.header, self.exception, self.parts
        self.header, self.parts, self.ended = None, [], True
        if header is None or exception is None or len(parts) < 2:
            return []
        found: list[Match] = []
        for joined in (" ".join(parts), *(("".join(parts),) if self.folded else ())):
            hit = _remembered_row(joined, exception, lines, in_context, remembered)
            if hit is not None and hit[0] not in self.ranks and \
                    not (ERROR_TEXTS[hit[0]].fallback and self.ranks):
                self.ranks.add(hit[0])
                found.append(Match(hit[0], ERROR_TEXTS[hit[0]], header, exception[1],
                                   dict(hit[1]), header.number))
        return found


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
