"""JSON files (config.json, shard indexes, tokenizer configs), read with a size bound."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 64 << 20  # far above any real config or index; tokenizer.json can reach ~30 MB


@dataclass(frozen=True)
class JsonDoc:
    """A parsed JSON document, or why it could not be parsed (with line and column)."""

    value: Any = None
    error: str | None = None
    line: int | None = None
    column: int | None = None
    context: str | None = None  # the text of the line the error is on
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def read_json(path: Path, size: int, limit: int = MAX_JSON_BYTES) -> JsonDoc:
    if size > limit:
        return JsonDoc(error=f"{size:,} bytes is too large for this kind of file "
                       f"(read limit {limit:,})", size=size)
    try:
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        return JsonDoc(error=f"unreadable: {exc.strerror or exc}", size=size)
    return parse_json(raw, size)


def parse_json(raw: bytes, size: int | None = None) -> JsonDoc:
    size = len(raw) if size is None else size
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return JsonDoc(error=f"not UTF-8 (byte {exc.start})", size=size)
    try:
        return JsonDoc(value=json.loads(text), size=size)
    except json.JSONDecodeError as exc:
        lines = text.splitlines() or [""]
        context = lines[min(exc.lineno, len(lines)) - 1][:200]
        return JsonDoc(error=exc.msg, line=exc.lineno, column=exc.colno, context=context,
                       size=size)
    except RecursionError:
        return JsonDoc(error="nested too deeply", size=size)
