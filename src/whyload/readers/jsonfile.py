"""JSON files (config.json, shard indexes, tokenizer configs), read with a size bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

MAX_JSON_BYTES = 64 << 20  # far above any real config or index; tokenizer.json can reach ~30 MB
UTF8_BOM = b"\xef\xbb\xbf"
# transformers, tokenizers, peft and sentence-transformers all read these files as plain UTF-8
# (open(..., encoding="utf-8") then json.load): a byte-order mark is an "Unexpected UTF-8 BOM"
BOM_ERROR = "it starts with a UTF-8 byte-order mark (BOM), which json.load refuses"


@dataclass(frozen=True)
class JsonDoc:
    """A parsed JSON document, or why it could not be parsed (with line and column)."""

    value: Any = None
    error: str | None = None
    line: int | None = None
    column: int | None = None
    context: str | None = None  # the text of the line the error is on
    size: int = 0
    bom: bool = False  # refused for a byte-order mark alone: without it, the JSON parses
    # keys an object sets more than once, with every value in order: json.load keeps the last
    duplicates: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def read_json(path: Path, size: int, limit: int = MAX_JSON_BYTES) -> JsonDoc:
    return read_json_file(lambda: path.open("rb"), size, limit)


def read_json_file(open_file: Callable[[], BinaryIO], size: int,
                   limit: int = MAX_JSON_BYTES, *, duplicates: bool = True) -> JsonDoc:
    """The document in the file open_file() opens (a local file, or a ranged remote one);
    `duplicates=False` skips noting repeated keys (the last still wins), which a large file
    whose repeats no check reads (tokenizer.json, a shard index) parses several times faster."""
    if size > limit:
        return JsonDoc(error=f"{size:,} bytes is too large for this kind of file "
                       f"(read limit {limit:,})", size=size)
    try:
        with open_file() as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        return JsonDoc(error=f"unreadable: {exc.strerror or exc}", size=size)
    return parse_json(raw, size, duplicates=duplicates)


def parse_json(raw: bytes, size: int | None = None, *, duplicates: bool = True) -> JsonDoc:
    """The document as json.load reads a file opened with encoding="utf-8" (what transformers
    does): a BOM is refused, NaN and Infinity are accepted, a repeated key keeps its last value."""
    size = len(raw) if size is None else size
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return JsonDoc(error=f"not UTF-8 (byte {exc.start})", size=size)
    if raw.startswith(UTF8_BOM):
        clean = parse_json(raw[len(UTF8_BOM):], size, duplicates=duplicates)
        if not clean.ok:  # broken beyond the mark: the syntax error is what to fix first
            return replace(clean, error=f"{clean.error} (after a UTF-8 byte-order mark)")
        return JsonDoc(error=BOM_ERROR, line=1, column=1,
                       context=text.splitlines()[0][:200], size=size, bom=True)
    repeated: list[tuple[str, tuple[Any, ...]]] = []
    try:
        value = json.loads(text, object_pairs_hook=lambda pairs: _last_wins(pairs, repeated)) \
            if duplicates else json.loads(text)
        return JsonDoc(value=value, size=size, duplicates=tuple(repeated))
    except json.JSONDecodeError as exc:
        lines = text.splitlines() or [""]
        context = lines[min(exc.lineno, len(lines)) - 1][:200]
        return JsonDoc(error=exc.msg, line=exc.lineno, column=exc.colno, context=context,
                       size=size)
    except RecursionError:
        return JsonDoc(error="nested too deeply", size=size)


def _last_wins(pairs: list[tuple[str, Any]], repeated: list[tuple[str, tuple[Any, ...]]]
               ) -> dict[str, Any]:
    """json's own rule for a repeated key (the last value wins), noting each repeat."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = [key for key, _ in pairs]
        for key in dict.fromkeys(k for k in seen if seen.count(k) > 1):
            repeated.append((key, tuple(v for k, v in pairs if k == key)))
    return obj
