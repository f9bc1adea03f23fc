"""A log, read line by line with bounds: numbered lines, ANSI colours removed, long lines cut."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

MAX_LINE_CHARS = 16_384  # the rest of a longer line (a progress bar, a dumped tensor) is skipped
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Lower-case words of which every failure line holds one: every row of the error-text table
# (tests/test_explain.py checks each row's example), tracebacks, transformers' loading report.
TRIGGER_WORDS = (
    "error", "exception", "traceback", "warning", "killed", "exit code", "exit status",
    "returncode", "signal", "segmentation fault", "core dumped", "oom", "out of memory",
    "load report", "some weights", "weights of", "missing", "unexpected", "mismatch",
    "state_dict", "unsupported", "renamed", "symlinks", "sentence-transformers",
    "out of range", "died with", "not found", "no such file", "no space", "requires",
)


def is_trigger(text: str) -> bool:
    """Whether a line holds a trigger word."""
    lowered = text.lower()
    return any(word in lowered for word in TRIGGER_WORDS)


@dataclass(frozen=True)
class Line:
    """One line of the log: its 1-based number and its text (no newline, no colour codes);
    `trigger`: it holds a word that failure lines hold (only such lines meet the table)."""

    number: int
    text: str
    trigger: bool = False


def numbered_lines(stream: TextIO) -> Iterator[Line]:
    """The lines of `stream`, each at most MAX_LINE_CHARS long; never holds more than one."""
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_CHARS)
        if not chunk:
            return
        number += 1
        if not chunk.endswith(("\n", "\r")):  # cut: skip the rest of this line
            rest = chunk
            while rest and not rest.endswith(("\n", "\r")):
                rest = stream.readline(MAX_LINE_CHARS)
        text = clean(chunk.rstrip("\r\n"))
        yield Line(number, text, is_trigger(text))


def clean(text: str) -> str:
    """A log line without terminal colour codes, at most MAX_LINE_CHARS long."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text[:MAX_LINE_CHARS]


def text_lines(text: str) -> list[Line]:
    """The numbered lines of a text already in memory."""
    return list(numbered_lines(io.StringIO(text)))


def open_log(source: str | os.PathLike[str]) -> TextIO:
    """A log file opened for streaming: undecodable bytes replaced, any newline convention."""
    return Path(source).open("r", encoding="utf-8", errors="replace", newline=None)
