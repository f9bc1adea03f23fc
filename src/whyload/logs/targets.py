"""Model locations a log names (a local folder or file, a hub id), kept when they exist here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from pathlib import Path

from whyload.logs.lines import Line

_NAMED = (
    re.compile(r"from_pretrained\(\s*[rfb]?[\"']([^\"']+)[\"']"),
    re.compile(r"LOAD REPORT from: (\S.*?)\s*$"),
    re.compile(r"model checkpoint at (\S+?)(?: and are| were|\s*$)"),
    re.compile(r"found in directory (\S+?)\.?\s*$"),
    re.compile(r"Unrecognized model in (\S+?)\.? "),
    re.compile(r"(?:for|at|load|path|model|directory) [\"'`]([^\"'`\s]+)[\"'`]"),
    re.compile(r"[\"'<]((?:/|\./|\.\./|~/)[^\"'<>\s]+)[\"'>]"),
    re.compile(r"(?:from|at|in|directory|path|model|loading|Loading)[:=]?\s+((?:/|\./|~/)"
               r"[^\s\"'<>]+)"),
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}(?:/[\w.\-]{1,96})?$")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack")
MAX_CANDIDATES = 32
_NOT_MODELS = (".py", ".pyc", ".so", ".log", ".txt", ".html")
MAX_LISTED = 500  # entries of a named folder looked at for weights


def named_locations(lines: Iterable[Line]) -> list[str]:
    """The strings that look like model locations, in the order the log names them."""
    seen: dict[str, None] = {}
    for line in lines:
        for pattern in _NAMED:
            for found in pattern.finditer(line.text):
                candidate = found.group(1).rstrip(".,:;")
                if not candidate.endswith(_NOT_MODELS):
                    seen.setdefault(candidate, None)
                if len(seen) >= MAX_CANDIDATES:
                    return list(seen)
    return list(seen)


def model_location(candidate: str) -> str | None:
    """The folder or weights file to check for `candidate`, when it exists here; a hub id is
    returned as is (the caller resolves it in the cache)."""
    path = Path(candidate).expanduser()
    try:
        if path.is_dir():
            entries = itertools.islice(path.iterdir(), MAX_LISTED)
            if (path / "config.json").is_file() or any(
                    p.name.endswith(WEIGHT_SUFFIXES) for p in entries):
                return str(path)
            return None
        if path.is_file() and (path.name.endswith(WEIGHT_SUFFIXES)
                               or path.name == "config.json"):
            if (path.parent / "config.json").is_file():
                return str(path.parent)
            return str(path)
    except OSError:
        return None
    if not candidate.startswith((".", "/", "~")) and _HUB_ID.match(candidate):
        return candidate
    return None
