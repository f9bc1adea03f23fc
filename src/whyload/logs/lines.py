"""A log's lines: numbered as grep numbers them, shown as a terminal shows them, bounded."""

from __future__ import annotations

import codecs
import io
import os
import re
import sys
from dataclasses import dataclass, field
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
    "no modules.json", "offline", "cannot reach",
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


_TIME = (r"(?:\d{4}-\d{2}-\d{2}[T ])?\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_LEVEL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)"
# what Python's logging (and loguru, hydra, glog/absl as torchrun prints it) put before a message:
# "2024-05-01 12:00:00,123 - name - ERROR - ", "INFO:root:", "[2024-05-01 ...][name][ERROR] - ",
# "2024-05-01 12:00:00.123 | ERROR    | mod:func:12 - ", "E0501 12:00:00.123456 1234 api.py:869] "
_LOGGER_LEVEL = (rf"(?:(?:\[[\w.<>\-]+\]|[\w.<>\-]+\s+[-|])\s*)?\[?{_LEVEL}\]?"
                 rf"(?:\s*[-|:]\s+(?:[\w.<>\-]+:[\w.<>\-]+:\d+\s+-\s+)?|\s+)")
_LOGGING_PREFIX = re.compile(
    rf"^(?:{_LEVEL}:[\w.<>\-]*:"
    rf"|\[?{_TIME}\]?\s*(?:[-|]?\s*{_LOGGER_LEVEL}|[-|:]\s+|\s)"
    rf"|(?:[-|]\s*)?{_LOGGER_LEVEL}"
    r"|[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [\w./\-]+:\d+\] )")
_LOGGING_STARTS = frozenset("0123456789[DIWECF-|")

# IPython / Jupyter tracebacks: "OSError    Traceback (most recent call last)" heads them, frames
# are "Cell In[3], line 5" and "File ~/x.py:12, in f(a)" (IPython 7: "<ipython-input-3-…> in
# <module>", "~/x.py in f(a)"), source lines carry "----> 5" / "-> 12" markers
_TRACEBACK_HEAD = "Traceback (most recent call last)"
_IPYTHON_HEAD = re.compile(r"^[\w.]+\s+Traceback \(most recent call last\)")
_IPYTHON_FRAME = re.compile(r"^(?:Cell In\s*\[\d*\], line \d+|File \S.*:\d+, in \S"
                            r"|<ipython-input-[\w-]+> in \S|(?:~|/|[A-Za-z]:\\)\S* in \S)")
_IPYTHON_ARROW = re.compile(r"^-*> ?\d+ ")
_SEPARATOR = re.compile(r"^-{20,}\s*$")
# rich tracebacks: a box of │ ╭ ╰ (nested for locals), "❱" at the failing line
_BOX_EDGES = "│╭╰╮╯─┃┏┗"


def without_prefix(text: str) -> str:
    """A line as the program printed it: without the timestamp or rank label a log collector
    put before it or the prefix a logging format adds, and with the frames of an IPython or rich
    traceback written as Python writes them ("Traceback (most recent call last):" at the start,
    frames and source lines indented)."""
    if text[:1] in _BOX_EDGES:
        return _unboxed(text)
    if text[:1].isdigit() or text[:1] == "[":
        found = _COLLECTOR_PREFIX.match(text)
        if found is not None:
            text = text[found.end():]
    if text[:1] in _LOGGING_STARTS:
        found = _LOGGING_PREFIX.match(text)
        if found is not None:
            text = text[found.end():]
    if not text or text[0] in " \t":
        return text
    if text[0] in "-C":
        if _IPYTHON_ARROW.match(text):
            return "    " + text.lstrip("->").lstrip(" 0123456789")
        if _SEPARATOR.match(text):
            return ""
    if (text[0] in "CF<~/" or text[1:3] == ":\\") and _IPYTHON_FRAME.match(text):
        return "  " + text
    if "Traceback (most" in text and _IPYTHON_HEAD.match(text):
        return _TRACEBACK_HEAD + ":"
    return text


def starts_record(text: str) -> bool:
    """Whether a raw log line opens a record of its own: a logging format's prefix (a level, a
    timestamp with a level) stands before it. A collector's prefix is on every line, and a
    message's continuation lines have none."""
    if text[:1].isdigit() or text[:1] == "[":
        found = _COLLECTOR_PREFIX.match(text)
        if found is not None:
            text = text[found.end():]
    return text[:1] in _LOGGING_STARTS and _LOGGING_PREFIX.match(text) is not None


def _unboxed(text: str) -> str:
    """A line of a rich traceback's box as a plain traceback line."""
    if _TRACEBACK_HEAD in text and text[:1] == "╭":
        return _TRACEBACK_HEAD + ":"
    inner = text.strip()
    while inner[:1] in "│┃" and inner[-1:] in "│┃" and len(inner) > 1:
        inner = inner[1:-1].strip()
    if inner[:1] in "╭╰┏┗─":
        return ""
    return "  " + inner.lstrip("❱ ")


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
    plain: str = field(default="", compare=False, repr=False)  # without_prefix(text), once

    def __post_init__(self) -> None:
        if not self.plain and self.text:
            object.__setattr__(self, "plain", without_prefix(self.text))


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
