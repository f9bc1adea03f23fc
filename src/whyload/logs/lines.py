"""A log's lines: numbered as grep numbers them, shown as a terminal shows them, bounded."""

from __future__ import annotations

import codecs
import io
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

MAX_LINE_CHARS = 16_384  # the rest of a longer line (a progress bar, a dumped tensor) is skipped
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Lower-case words of which every failure line holds one: every row of the error-text table
# (tests/test_explain.py checks each row's example), tracebacks, transformers' loading report.
TRIGGER_WORDS = (
    "error", "exception", "traceback", "warning", "killed", "exit code", "exit status",
    "returncode", "exitcode", "signal", "segmentation fault", "core dumped", "oom", "out of memory",
    "load report", "some weights", "weights of", "missing", "unexpected", "mismatch",
    "state_dict", "unsupported", "renamed", "symlinks", "sentence-transformers",
    "out of range", "died with", "not found", "no such file", "no space", "requires",
    "no modules.json",
)

# Lower-case texts that show a model being trained (Trainer's loss dicts and banner, a training
# loop's progress): a head created at random before them is the fine-tuning that trains it.
TRAINING_MARKERS = ("{'loss':", '{"loss":', "***** running training *****", "train_runtime",
                    "loss=", "train_loss")

# what log collectors put before each line: ISO timestamps (docker logs -t; Kubernetes' CRI
# format adds the stream and a full/partial flag) and torchrun's rank labels
_COLLECTOR_PREFIX = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\s"
    r"(?:(?:stdout|stderr) [FP] )?|\[(?:rank|default)?\d+\]:\s?)+")


def without_prefix(text: str) -> str:
    """A line without the timestamp or rank label a log collector put before it."""
    if text[:1].isdigit() or text[:1] == "[":
        found = _COLLECTOR_PREFIX.match(text)
        if found is not None:
            return text[found.end():]
    return text


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


def clean(text: str) -> str:
    """A log line as a terminal shows it: after its last carriage return (progress bars
    redraw the line), without colour codes, at most MAX_LINE_CHARS long."""
    if "\r" in text:
        text = text.rstrip("\r")
        text = text[text.rfind("\r") + 1:]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text[:MAX_LINE_CHARS]


def text_lines(text: str) -> list[Line]:
    """The numbered lines of a text already in memory (lines end at \\n, as in a file)."""
    parts = text.split("\n")
    if parts and not parts[-1]:
        parts.pop()
    return [Line(number, line, is_trigger(line))
            for number, line in enumerate(map(clean, parts), start=1)]


def encoding_of(start: bytes) -> str:
    """The encoding a log's first bytes announce: UTF-16 with its byte-order mark (what Windows
    PowerShell's `>` writes), else UTF-8 (its mark, when there is one, dropped)."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def open_stdin() -> TextIO:
    """Standard input, read like a log file."""
    buffer = sys.stdin.buffer
    start = buffer.peek(4)[:4] if isinstance(buffer, io.BufferedReader) else b""
    return io.TextIOWrapper(buffer, encoding=encoding_of(start), errors="replace", newline="")


def open_log(source: str | os.PathLike[str]) -> TextIO:
    """A log file opened for streaming: undecodable bytes replaced; lines end at \\n only, so
    line numbers are the ones grep and editors show."""
    binary = Path(source).open("rb")  # noqa: SIM115  (the caller closes the stream)
    try:
        start = binary.peek(4)[:4]
    except OSError:
        start = b""
    return io.TextIOWrapper(binary, encoding=encoding_of(start), errors="replace", newline="")
