"""A whole log, streamed, cut into incidents: the bounded windows of lines around failures.

Memory is bounded whatever the log's size: between failures only the last CONTEXT_BEFORE lines
are kept; a failure's window grows while a traceback goes on or triggering lines keep coming
(CONTEXT_AFTER lines after the last one), up to MAX_INCIDENT_LINES, and is handed on and dropped
as soon as it closes.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from whyload.explain.lines import Line

CONTEXT_BEFORE = 40  # the loading report table and log lines just before a traceback
CONTEXT_AFTER = 12
MAX_INCIDENT_LINES = 4_000

# a line worth a closer look: every row of the error-text table contains one of these words
# (tests/test_explain.py checks each row's example against it)
TRIGGER = re.compile(
    r"Traceback \(most recent call last\)|Error|Exception|error|LOAD REPORT|Some weights"
    r"|Weights of|Killed|killed|exit (?:code|status)|OOM|oom-kill|Segmentation fault"
    r"|core dumped|returncode=|CUDA|cuda|size mismatch|key\(s\) in state_dict|invalid load key"
    r"|Unsupported|will be renamed|symlinks|sentencepiece|protobuf|tokenizer|Unrecognized"
    r"|does not appear|no file named|not found|Consistency check|Repo id|trust_remote_code"
    r"|No module named|No such file|No space|Not enough|outgoing traffic|couldn't connect"
    r"|No sentence-transformers|git-lfs|CVE-|untagged enum|index out of range|metadata"
    r"|header|Can't|Could not|PytorchStreamReader|zip archive|WinError|Read-only|Permission"
    r"|MISSING|UNEXPECTED|MISMATCH|Bus error|signal \d|died with|Signals\.")
# the lines that continue a traceback: frames, their source lines, carets, chaining text
_TRACEBACK_BODY = re.compile(r"^(?:\s|Traceback|During handling|The above exception|$)")


@dataclass(frozen=True)
class Incident:
    """The lines around one failure (or several close together)."""

    lines: tuple[Line, ...]

    @property
    def first(self) -> int:
        return self.lines[0].number if self.lines else 0


def incidents(lines: Iterable[Line]) -> Iterator[Incident]:
    """The incidents of a log, in order, each as soon as it closes."""
    before: deque[Line] = deque(maxlen=CONTEXT_BEFORE)
    window: list[Line] = []
    remaining = 0  # lines the open window still takes without a new trigger
    in_traceback = False
    for line in lines:
        text = line.text
        triggered = TRIGGER.search(text) is not None
        if text.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and not _TRACEBACK_BODY.match(text):
            in_traceback = False  # the exception line ends the frames; its message follows
            remaining = max(remaining, CONTEXT_AFTER)
        if window:
            window.append(line)
            if triggered or in_traceback:
                remaining = CONTEXT_AFTER
            else:
                remaining -= 1
            if remaining <= 0 or len(window) >= MAX_INCIDENT_LINES:
                yield Incident(tuple(window))
                window = []
                before.clear()
            continue
        if triggered or in_traceback:
            window = [*before, line]
            before.clear()
            remaining = CONTEXT_AFTER
        else:
            before.append(line)
    if window:
        yield Incident(tuple(window))
