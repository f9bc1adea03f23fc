"""The renames a weights rewrite applies, and how it cuts shards: pure functions, shared by the
plan (to say what will be written) and the child process that writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from whyload.knowledge.families import LEGACY_RENAMES

# buffers transformers rebuilds itself and no longer stores (BERT family, transformers >= 4.31)
STALE_BUFFERS = ("embeddings.position_ids",)


@dataclass(frozen=True, kw_only=True)
class KeyRewrite:
    """How each checkpoint key becomes a key of the repaired weights."""

    strip_prefix: str | None = None  # module., _orig_mod., model., a wrapper's own name
    legacy_names: bool = True  # LayerNorm.gamma/beta -> weight/bias
    drop_stale_buffers: bool = True

    def rename(self, key: str) -> str | None:
        """The new name of `key`, or None when it is dropped."""
        if self.strip_prefix:
            key = key.removeprefix(self.strip_prefix)
        if self.legacy_names:
            for old, new in LEGACY_RENAMES:
                key = key.replace(old, new)
        if self.drop_stale_buffers and key.endswith(STALE_BUFFERS):
            return None
        return key

    def to_dict(self) -> dict[str, object]:
        return {"strip_prefix": self.strip_prefix, "legacy_names": self.legacy_names,
                "drop_stale_buffers": self.drop_stale_buffers}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> KeyRewrite:
        prefix = d.get("strip_prefix")
        return cls(strip_prefix=prefix if isinstance(prefix, str) else None,
                   legacy_names=bool(d.get("legacy_names", True)),
                   drop_stale_buffers=bool(d.get("drop_stale_buffers", True)))


def shard_names(count: int, stem: str = "model", ext: str = "safetensors") -> list[str]:
    if count == 1:
        return [f"{stem}.{ext}"]
    return [f"{stem}-{i:05d}-of-{count:05d}.{ext}" for i in range(1, count + 1)]


def assign_shards(sizes: Mapping[str, int], max_bytes: int | None) -> list[list[str]]:
    """Keys in order, cut into shards of at most max_bytes (a bigger tensor gets its own),
    the way save_pretrained fills them."""
    keys: Sequence[str] = list(sizes)
    if not max_bytes:
        return [list(keys)]
    shards: list[list[str]] = [[]]
    filled = 0
    for key in keys:
        if shards[-1] and filled + sizes[key] > max_bytes:
            shards.append([])
            filled = 0
        shards[-1].append(key)
        filled += sizes[key]
    return shards
