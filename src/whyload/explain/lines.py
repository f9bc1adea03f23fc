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


@dataclass(frozen=True)
class Line:
    """One line of the log: its 1-based number and its text (no newline, no colour codes)."""

    number: int
    text: str


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
        text = chunk.rstrip("\r\n")
        if "\x1b" in text:
            text = _ANSI.sub("", text)
        yield Line(number, text)


def text_lines(text: str) -> list[Line]:
    """The numbered lines of a text already in memory."""
    return list(numbered_lines(io.StringIO(text)))


def open_log(source: str | os.PathLike[str]) -> TextIO:
    """A log file opened for streaming: undecodable bytes replaced, any newline convention."""
    return Path(source).open("r", encoding="utf-8", errors="replace", newline=None)
