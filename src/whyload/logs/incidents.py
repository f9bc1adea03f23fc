"""A whole log, streamed, cut into incidents: the bounded windows of lines around failures.

Memory is bounded whatever the log's size: the log is read in blocks of BLOCK_CHARS, a line longer
than MAX_LINE_CHARS is cut, and between failures only the last CONTEXT_BEFORE lines are kept. A
failure's window grows while a traceback goes on or trigger words keep coming (CONTEXT_AFTER
lines after the last one), up to MAX_INCIDENT_LINES, and is handed on as soon as it closes.

Speed comes from not looking at quiet lines one by one: a block is searched for the trigger
words with str.find (lower-cased once), and only a block with a hit, or one that continues an
open window, is split into lines.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from whyload.logs.lines import (
    MAX_LINE_CHARS,
    TRAINING_MARKERS,
    TRIGGER_WORDS,
    Line,
    clean,
)

CONTEXT_BEFORE = 20  # the loading report table and log lines just before a traceback
CONTEXT_AFTER = 12
MAX_INCIDENT_LINES = 4_000
BLOCK_CHARS = 1 << 18

# the lines that continue a traceback: frames, their source lines, carets, chaining text
_CHAINING = ("During handling of the above exception", "The above exception was the direct cause")
_TRACEBACK_BODY = re.compile(r"^(?:\s|Traceback|During handling|The above exception|$)")


@dataclass(frozen=True)
class Incident:
    """The lines around one failure (or several close together)."""

    lines: tuple[Line, ...]


class IncidentScanner:
    """Feeds a log's text through; yields incidents as they close. `lines` counts the log;
    `training` says whether it shows a model being trained (TRAINING_MARKERS)."""

    def __init__(self) -> None:
        self.lines = 0
        self.training = False
        # each failed attempt ends with a traceback's exception line (a chained traceback
        # belongs to the same attempt) or a bare "Killed": the last two ends are kept
        self.attempts = 0
        self.attempt_ends: deque[int] = deque(maxlen=2)
        self._chained = False
        self._before: deque[Line] = deque(maxlen=CONTEXT_BEFORE)
        self._window: list[Line] = []
        self._remaining = 0
        self._in_traceback = False

    def scan(self, stream: TextIO) -> Iterator[Incident]:
        """Every incident of `stream`, read in blocks of whole lines."""
        carry = ""
        while True:
            chunk = stream.read(BLOCK_CHARS)
            if not chunk:
                break
            block = carry + chunk
            end = block.rfind("\n") + 1
            carry = block[end:]
            if len(carry) > MAX_LINE_CHARS:  # a line without end: keep its start only
                carry = carry[:MAX_LINE_CHARS]
            if end:
                yield from self._block(block[:end])
        if carry:
            yield from self._block(carry + "\n")
        if self._window:
            yield Incident(tuple(self._window))
            self._window = []

    def _block(self, block: str) -> Iterator[Incident]:
        lowered = block.lower()
        if not self.training:
            self.training = any(marker in lowered for marker in TRAINING_MARKERS)
        hits = _trigger_offsets(lowered)
        if not hits and not self._window and not self._in_traceback:
            self._skip(block)
            return
        texts = block.split("\n")
        texts.pop()  # the block ends with a newline
        starts = list(itertools.accumulate((len(t) + 1 for t in texts), initial=0))
        triggered = sorted({bisect.bisect_right(starts, offset) - 1 for offset in hits})
        base = self.lines
        index, count, next_hit = 0, len(texts), 0
        while index < count:
            while next_hit < len(triggered) and triggered[next_hit] < index:
                next_hit += 1
            if not self._window and not self._in_traceback:
                # quiet until the next trigger: keep only the lines just before it
                stop = triggered[next_hit] if next_hit < len(triggered) else count
                first = max(index, stop - CONTEXT_BEFORE)
                self._before.extend(Line(base + i + 1, clean(texts[i])) for i in range(first, stop))
                index = stop
                if index >= count:
                    break
            hit = next_hit < len(triggered) and triggered[next_hit] == index
            self.lines = base + index + 1
            yield from self._line(Line(self.lines, clean(texts[index]), hit))
            index += 1
        self.lines = base + count

    def _skip(self, block: str) -> None:
        """A block without trigger words and no window open: count it, keep its tail."""
        tail = block.rsplit("\n", CONTEXT_BEFORE + 1)[:-1][-CONTEXT_BEFORE:]
        count = block.count("\n")
        first = self.lines + count - len(tail) + 1
        self._before.extend(Line(first + i, clean(t)) for i, t in enumerate(tail))
        self.lines += count

    def _line(self, line: Line) -> Iterator[Incident]:
        text, triggered = line.plain, line.trigger
        if text.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
        elif self._in_traceback and not _TRACEBACK_BODY.match(text):
            self._in_traceback = False  # the exception line ends the frames; its message follows
            self._remaining = max(self._remaining, CONTEXT_AFTER)
            self._attempt_ended(line.number)
        elif triggered and text.strip() == "Killed":
            self._chained = False
            self._attempt_ended(line.number)
        elif triggered and text.startswith(_CHAINING):
            self._chained = True
        if self._window:
            self._window.append(line)
            if triggered or self._in_traceback:
                self._remaining = CONTEXT_AFTER
            else:
                self._remaining -= 1
            if self._remaining <= 0 or len(self._window) >= MAX_INCIDENT_LINES:
                yield Incident(tuple(self._window))
                self._window = []
                self._before.clear()
            return
        if triggered or self._in_traceback:
            self._window = [*self._before, line]
            self._before.clear()
            self._remaining = CONTEXT_AFTER
        else:
            self._before.append(line)


    def _attempt_ended(self, number: int) -> None:
        if self._chained and self.attempt_ends:
            self.attempt_ends[-1] = number  # the chain's last exception ends the same attempt
        else:
            self.attempts += 1
            self.attempt_ends.append(number)
        self._chained = False


def _trigger_offsets(lowered: str) -> list[int]:
    """Where the trigger words occur in a lower-cased block (str.find: no regex, no per-line
    Python)."""
    offsets: list[int] = []
    for word in TRIGGER_WORDS:
        at = lowered.find(word)
        while at >= 0:
            offsets.append(at)
            at = lowered.find(word, at + len(word))
    return offsets
