"""Python files shipped beside the weights (what `auto_map` makes transformers import), read as
text for the constructs a reviewer should look at. Never imported, never run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_CODE_BYTES = 2 << 20

# construct -> why a reviewer should look at it
RISKY = {
    "network": re.compile(r"\b(requests|urllib|httpx|socket|aiohttp|http\.client)\b"),
    "subprocess": re.compile(r"\b(subprocess|os\.system|os\.popen|pty\.spawn)\b"),
    "eval/exec": re.compile(r"(?<![\w.])(eval|exec|compile)\s*\("),
    "dynamic import": re.compile(r"\b(__import__|importlib\.import_module)\b"),
    "file writes": re.compile(
        r"open\([^)]*['\"][wa]b?['\"]|\.write_(text|bytes)\(|shutil\.(rmtree|move)"),
    "pickle": re.compile(r"\b(pickle\.loads?|torch\.load)\("),
}


@dataclass(frozen=True)
class CodeFile:
    name: str
    size: int
    imports: tuple[str, ...]
    risky: dict[str, int]  # construct -> first line number


def read_code(root: Path, name: str, size: int) -> CodeFile:
    if size > MAX_CODE_BYTES:
        return CodeFile(name, size, (), {"too large to review here": 0})
    try:
        text = (root / name).read_text("utf-8", errors="replace")
    except OSError:
        return CodeFile(name, size, (), {})
    imports = sorted(set(re.findall(r"^\s*(?:from|import)\s+([\w.]+)", text, re.M)))
    risky: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        for what, pattern in RISKY.items():
            if what not in risky and pattern.search(line):
                risky[what] = n
    return CodeFile(name, size, tuple(imports), risky)
