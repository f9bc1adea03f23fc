"""Which files from_pretrained reads, and how much a problem in one matters: the severity a
WL1xx finding gets for a file, and the command that downloads it again."""

from __future__ import annotations

from whyload.knowledge import fix_commands
from whyload.report import Effect, Severity
from whyload.snapshot import FileFacts, Snapshot

TOKENIZER_FILES = frozenset({"tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                             "merges.txt", "spiece.model", "sentencepiece.bpe.model",
                             "special_tokens_map.json", "added_tokens.json", "spm.model"})


def needed_by_load(snap: Snapshot, name: str) -> bool:
    """Files whose failure makes from_pretrained itself fail."""
    return snap.in_plan(name) or name == snap.config_name or (
        snap.plan.format is None and snap.file(name) is not None
        and snap.files[name].is_weights)


def severity_of(snap: Snapshot, name: str) -> tuple[Severity, Effect, str]:
    """An error when from_pretrained reads the file; a warning for tokenizer files (the
    tokenizer fails); a note for a copy that from_pretrained passes over."""
    if needed_by_load(snap, name):
        return Severity.ERROR, Effect.RAISES, ""
    if name in TOKENIZER_FILES:
        return (Severity.WARNING, Effect.NONE,
                " The model loads; AutoTokenizer.from_pretrained fails on it.")
    if snap.plan.files:  # a copy in another format, or a stale index: loading is unaffected
        return (Severity.INFO, Effect.NONE,
                f" from_pretrained reads {snap.plan.index or snap.plan.files[0]} instead, so "
                "this one only breaks tools that open it directly.")
    return Severity.WARNING, Effect.NONE, ""


def worth_checking(snap: Snapshot, f: FileFacts) -> bool:
    return f.is_weights or needed_by_load(snap, f.name) or f.name in TOKENIZER_FILES or (
        f.name.endswith(".json") and f.name in snap.indexes)


def blob_evidence(f: FileFacts) -> dict[str, str]:
    """In the HF cache the file is a link: name the blob whose size is wrong."""
    return {"blob": f.entry.link_target} if f.entry.link_target else {}


def download_fix(snap: Snapshot, name: str) -> str:
    cache = snap.artifact.cache
    if cache is not None:
        return fix_commands.hub_download(cache.repo_id, cache.revision, name, force=True)
    return f"download {fix_commands.quoted(snap.artifact.root / name)} again from its source"



def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB", "EB"):
        if size < 1000 or unit == "EB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"
