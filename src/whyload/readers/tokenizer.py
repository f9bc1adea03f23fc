"""Tokenizer files, read for the numbers the model must agree with: how many ids the tokenizer
can produce, which ids are special, how long an input it allows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from whyload.readers.jsonfile import JsonDoc, read_json_file

MAX_VOCAB_TXT = 64 << 20


@dataclass(frozen=True)
class TokenizerFacts:
    source: str  # the file the numbers come from
    size: int  # ids 0 .. size-1 (the highest id + 1)
    base_size: int  # the model vocabulary, before added tokens
    added: tuple[tuple[int, str], ...] = ()  # tokens added on top: (id, content)
    model: str | None = None  # WordPiece, BPE, Unigram, ...
    merges_as_pairs: bool | None = None  # BPE merges written as [a, b] (tokenizers >= 0.20)


def read_tokenizer(root: Path | Callable[[str], BinaryIO], sizes: dict[str, int]
                   ) -> tuple[TokenizerFacts | None, JsonDoc | None]:
    """The tokenizer's numbers (from tokenizer.json, else vocab.txt), and tokenizer.json's
    document when it is not valid JSON. `root` is the folder, or what opens a file by name."""
    open_file = root if callable(root) else (lambda name: (root / name).open("rb"))
    broken = None
    if "tokenizer.json" in sizes:
        doc = read_json_file(lambda: open_file("tokenizer.json"), sizes["tokenizer.json"],
                             duplicates=False)
        facts = _from_tokenizer_json(doc)
        if facts is not None:
            return facts, None
        broken = None if doc.ok else doc
    if "vocab.txt" in sizes and sizes["vocab.txt"] <= MAX_VOCAB_TXT:
        try:
            with open_file("vocab.txt") as f:
                lines = sum(1 for _ in f)
        except OSError:
            return None, broken
        return TokenizerFacts("vocab.txt", lines, lines, model="WordPiece"), broken
    return None, broken


def _list(value: object) -> list[object]:
    """A list the file should hold, or nothing: `"added_tokens": true` is not a list of tokens."""
    return value if isinstance(value, list) else []


def _from_tokenizer_json(doc: JsonDoc) -> TokenizerFacts | None:
    if not doc.ok or not isinstance(doc.value, dict):
        return None
    model = doc.value.get("model")
    if not isinstance(model, dict):
        return None
    vocab = model.get("vocab")
    base = 0
    if isinstance(vocab, dict):
        ids: Iterable[Any] = vocab.values()
        if set(map(type, ids)) - {int}:  # rare: a hand-edited vocab with other values
            ids = [v for v in ids if type(v) is int]
        base = max(ids, default=-1) + 1  # a 30k-50k vocab: C loops, not a Python one
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...], ids are positions
        base = len(vocab)
    added = tuple(
        (t["id"], str(t.get("content", "")))
        for t in _list(doc.value.get("added_tokens"))
        if isinstance(t, dict) and isinstance(t.get("id"), int)
    )
    top = max([base - 1, *(i for i, _ in added)]) + 1
    merges = model.get("merges")
    pairs = isinstance(merges[0], list) if isinstance(merges, list) and merges else None
    kind = model.get("type")
    return TokenizerFacts("tokenizer.json", top, base, added,
                          kind if isinstance(kind, str) else None, pairs)
