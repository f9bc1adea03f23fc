"""Tokenizer files, read for the numbers the model must agree with: how many ids the tokenizer
can produce, which ids are special, how long an input it allows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from whyload.readers.jsonfile import JsonDoc, read_json

MAX_VOCAB_TXT = 64 << 20


@dataclass(frozen=True)
class TokenizerFacts:
    source: str  # the file the numbers come from
    size: int  # ids 0 .. size-1 (the highest id + 1)
    base_size: int  # the model vocabulary, before added tokens
    added: tuple[tuple[int, str], ...] = ()  # tokens added on top: (id, content)
    model: str | None = None  # WordPiece, BPE, Unigram, ...
    merges_as_pairs: bool | None = None  # BPE merges written as [a, b] (tokenizers >= 0.20)


def read_tokenizer(root: Path, sizes: dict[str, int]) -> tuple[TokenizerFacts | None,
                                                                JsonDoc | None]:
    """The tokenizer's numbers (from tokenizer.json, else vocab.txt), and tokenizer.json's
    document when it is not valid JSON."""
    broken = None
    if "tokenizer.json" in sizes:
        doc = read_json(root / "tokenizer.json", sizes["tokenizer.json"])
        facts = _from_tokenizer_json(doc)
        if facts is not None:
            return facts, None
        broken = None if doc.ok else doc
    if "vocab.txt" in sizes and sizes["vocab.txt"] <= MAX_VOCAB_TXT:
        try:
            with (root / "vocab.txt").open("rb") as f:
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
    ids: list[int] = []
    if isinstance(vocab, dict):
        ids = [v for v in vocab.values() if isinstance(v, int)]
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...], ids are positions
        ids = list(range(len(vocab)))
    base = max(ids, default=-1) + 1
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
