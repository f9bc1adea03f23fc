"""Tokenizer files, read for the numbers the model must agree with: how many ids the tokenizer
can produce, which ids are special, how long an input it allows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from whyload.readers.jsonfile import read_json

MAX_VOCAB_TXT = 64 << 20


@dataclass(frozen=True)
class TokenizerFacts:
    source: str  # the file the numbers come from
    size: int  # ids 0 .. size-1 (the highest id + 1)
    base_size: int  # the model vocabulary, before added tokens
    added: tuple[tuple[int, str], ...] = ()  # tokens added on top: (id, content)
    model: str | None = None  # WordPiece, BPE, Unigram, ...
    merges_as_pairs: bool | None = None  # BPE merges written as [a, b] (tokenizers >= 0.20)


def read_tokenizer(root: Path, sizes: dict[str, int]) -> TokenizerFacts | None:
    if "tokenizer.json" in sizes:
        facts = _from_tokenizer_json(root / "tokenizer.json", sizes["tokenizer.json"])
        if facts is not None:
            return facts
    if "vocab.txt" in sizes and sizes["vocab.txt"] <= MAX_VOCAB_TXT:
        try:
            with (root / "vocab.txt").open("rb") as f:
                lines = sum(1 for _ in f)
        except OSError:
            return None
        return TokenizerFacts("vocab.txt", lines, lines, model="WordPiece")
    return None


def _from_tokenizer_json(path: Path, size: int) -> TokenizerFacts | None:
    doc = read_json(path, size)
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
        for t in doc.value.get("added_tokens") or []
        if isinstance(t, dict) and isinstance(t.get("id"), int)
    )
    top = max([base - 1, *(i for i, _ in added)]) + 1
    merges = model.get("merges")
    pairs = isinstance(merges[0], list) if isinstance(merges, list) and merges else None
    kind = model.get("type")
    return TokenizerFacts("tokenizer.json", top, base, added,
                          kind if isinstance(kind, str) else None, pairs)
