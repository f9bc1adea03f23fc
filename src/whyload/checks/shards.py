"""WL140-WL144 — sharded checkpoints: the index and the shards it names."""

from __future__ import annotations

import re
from collections.abc import Iterator

from whyload.checks.file_roles import download_fix, severity_of
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.readers.sniff import Kind
from whyload.report import Category, Effect, Severity
from whyload.snapshot import SHARD, Snapshot

FILES = Category.FILES
VARIANT_INDEX = re.compile(r"^(?:model\.safetensors|pytorch_model\.bin)\.index\.([\w-]+)\.json$")


@check("WL140", "shard-index-invalid", FILES)
def index_invalid(snap: Snapshot) -> Iterator[Problem]:
    """A shard index (*.index.json) that is not valid JSON or has no weight_map

    from_pretrained reads the index first; a broken one fails before any shard is opened.
    """
    for name, idx in snap.indexes.items():
        if idx.doc.ok and idx.problem is None:
            continue
        if snap.files[name].kind in (Kind.LFS_POINTER, Kind.EMPTY, Kind.ZEROS, Kind.HTML):
            continue  # WL110-113 say what it is
        severity, effect, note = severity_of(snap, name)
        where = f" at line {idx.doc.line}, column {idx.doc.column}" if idx.doc.line else ""
        reason = idx.problem or f"{idx.doc.error}{where}"
        yield Problem(
            severity=severity, effect=effect, file=name,
            title=f"{name} is not a valid shard index",
            detail=f"{name}: {reason}." + note,
            evidence={"file": name, "error": idx.doc.error or idx.problem,
                      "line": idx.doc.line, "column": idx.doc.column},
            fix=download_fix(snap, name)
            + "  # or rebuild it from the shards: "
            + fix_commands.rebuild_index(snap.artifact.root),
        )


@check("WL141", "shard-missing", FILES, requires=["WL140"])
def shard_missing(snap: Snapshot) -> Iterator[Problem]:
    """Shards named by the index that are not in the folder

    A partial download, or a repo re-sharded after the index was copied: from_pretrained fails
    with FileNotFoundError for the first missing shard.
    """
    for name, idx in snap.indexes.items():
        if not idx.weight_map:
            continue
        missing = [s for s in idx.shards if s not in snap.files]
        if not missing:
            continue
        severity, effect, note = severity_of(snap, name)
        dangling = [s for s in missing if (e := snap.inventory.get(s)) and e.dangling]
        yield Problem(
            severity=severity, effect=effect, file=name,
            title=f"{len(missing)} of {len(idx.shards)} shards named by {name} are missing",
            detail=f"Missing: {', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}"
            + (f" ({len(dangling)} are broken links into the cache)" if dangling else "")
            + "." + note,
            evidence={"index": name, "missing": missing, "shards": len(idx.shards),
                      "tensors_in_missing": sum(1 for v in idx.weight_map.values()
                                                if v in missing)},
            fix=(fix_commands.hub_download(snap.artifact.cache.repo_id,
                                           snap.artifact.cache.revision, *missing[:8])
                 if snap.artifact.cache else
                 "copy or download the missing shards into "
                 + fix_commands.quoted(snap.artifact.root)),
        )


@check("WL142", "index-shard-disagree", FILES, requires=["WL140"])
def index_vs_shards(snap: Snapshot) -> Iterator[Problem]:
    """An index whose weight_map disagrees with what the shards hold

    transformers reads the index only for the list of shard files, then loads every tensor each
    of those shards holds: a tensor the index omits, or places in the wrong shard, loads anyway
    (a warning: the index is wrong, the load is not). A tensor the index lists but no shard
    holds is not loaded; if the model expects it, it stays at its random initialization with
    no exception.
    """
    for name, idx in snap.indexes.items():
        shards = [snap.files[s] for s in idx.shards if s in snap.files]
        if not idx.weight_map or not shards:
            continue
        readable = {f.name: f for f in shards if f.tensors or (
            f.safetensors is not None and f.safetensors.error is None)}
        held = {t for f in readable.values() for t in f.tensors}
        all_read = len(readable) == len(shards)
        misplaced = [t for t, shard in idx.weight_map.items()
                     if shard in readable and t not in readable[shard].tensors and t in held]
        absent = [t for t, shard in idx.weight_map.items()
                  if all_read and shard in readable and t not in held]
        unlisted = [t for t in held if t not in idx.weight_map]
        if not absent and not misplaced and not unlisted:
            continue
        needed = _expected_by_model(snap, absent)
        severity, effect, note = severity_of(snap, name)
        if not needed:
            severity, effect, note = Severity.WARNING, Effect.NONE, ""
        parts = ([f"{len(absent)} tensors listed in the index are in no shard "
                  f"({len(needed)} of them the model expects: they stay random)"] if absent
                 else []) + ([f"{len(misplaced)} tensors are in another shard than the index "
                              "says"] if misplaced else []) + (
            [f"{len(unlisted)} tensors in the shards are not in the index"] if unlisted else [])
        yield Problem(
            severity=severity, effect=Effect.SILENT if effect is Effect.RAISES else effect,
            file=name,
            title=f"{name} and its shards disagree on "
            f"{len(absent) + len(misplaced) + len(unlisted)} tensors"
            + ("" if needed else " (every weight still loads)"),
            detail="; ".join(parts) + ". transformers loads every tensor of every shard the "
            "index names, whatever its weight_map says"
            + (", so only the tensors in no shard are lost." if needed else
               ": the weights load intact, but tools that read the index (accelerate's "
               "device maps, conversions) see a wrong map.") + note,
            evidence={"index": name, "listed_but_absent": absent[:10],
                      "expected_but_absent": needed[:10],
                      "listed_in_another_shard": misplaced[:10],
                      "present_but_unlisted": unlisted[:10],
                      "counts": {"listed_but_absent": len(absent),
                                 "expected_but_absent": len(needed),
                                 "listed_in_another_shard": len(misplaced),
                                 "present_but_unlisted": len(unlisted)}},
            fix="rebuild the index from the shards: "
            + fix_commands.rebuild_index(snap.artifact.root),
        )


def _expected_by_model(snap: Snapshot, absent: list[str]) -> list[str]:
    """The tensors in no shard that the model expects. Without a prediction for the class,
    every one: the index was written from the saved state dict, so each was saved."""
    prediction = snap.view.prediction
    if prediction is None or not absent:
        return absent
    missing = prediction.missing
    return [t for t in absent if t in missing or any(
        m.endswith("." + t) or t.endswith("." + m) for m in missing)]


@check("WL143", "index-total-size", FILES, requires=["WL140", "WL141"])
def index_total_size(snap: Snapshot) -> Iterator[Problem]:
    """An index whose metadata.total_size differs from the tensors it maps

    total_size is informational (transformers does not verify it), but a mismatch means the index
    was written for other shards: a stale copy or a re-sharded repo.
    """
    for name, idx in snap.indexes.items():
        if idx.total_size is None or not idx.weight_map:
            continue
        tensors: dict[str, int] = {}
        for tensor, shard in idx.weight_map.items():
            f = snap.files.get(shard)
            if f is None or tensor not in f.tensors:
                return  # WL141/WL142 already explain the difference
            tensors[tensor] = f.tensors[tensor].nbytes
        actual = sum(tensors.values())
        file_bytes = sum(snap.files[s].size for s in idx.shards)
        if actual == idx.total_size or file_bytes == idx.total_size:
            continue
        if abs(actual - idx.total_size) <= 0.01 * max(actual, 1):
            continue  # writers round, dedupe tied weights or count padding differently
        yield Problem(
            severity=Severity.INFO, effect=Effect.NONE, file=name,
            title=f"{name} says total_size {idx.total_size:,}; its tensors hold {actual:,} bytes",
            detail="The index may have been written for a different set of shards.",
            evidence={"index": name, "total_size": idx.total_size, "tensor_bytes": actual},
            fix="rebuild the index from the shards: "
            + fix_commands.rebuild_index(snap.artifact.root),
        )


@check("WL144", "shards-without-index", FILES)
def shards_without_index(snap: Snapshot) -> Iterator[Problem]:
    """Shard files (model-00001-of-0000N) without the index that lists them

    from_pretrained finds shards only through model.safetensors.index.json (or
    pytorch_model.bin.index.json); without it, it reports that no weights exist.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    groups: dict[tuple[str, str, str], list[str]] = {}
    for name in snap.files:
        m = SHARD.match(name)
        if m:
            groups.setdefault((m["stem"], m["n"], m["ext"]), []).append(name)
    for (stem, n, ext), names in sorted(groups.items()):
        index = f"{stem}.{ext}.index.json"
        if index in snap.files:
            continue
        variant = next((m.group(1) for i in snap.indexes if (m := VARIANT_INDEX.match(i))
                        and set(names) & set(snap.indexes[i].shards)), None)
        if variant is not None:
            yield Problem(
                title=f"sharded weights of the {variant!r} variant only",
                detail=f"The index is {stem}.{ext}.index.{variant}.json: from_pretrained finds "
                f"it only when asked for variant={variant!r}.",
                evidence={"variant": variant, "shards": sorted(names)},
                fix=f"from_pretrained({str(snap.artifact.root)!r}, variant={variant!r})",
            )
            continue
        expected = int(n)
        yield Problem(
            title=f"{len(names)} of {expected} shards of {stem} without {index}",
            detail=f"The shards are here ({', '.join(sorted(names)[:3])}"
            f"{' …' if len(names) > 3 else ''}) but not the index that lists them"
            + (f", and {expected - len(names)} shards are missing too" if len(names) < expected
               else "") + ".",
            evidence={"shards": sorted(names), "expected_shards": expected, "index": index},
            fix=(fix_commands.hub_download(snap.artifact.cache.repo_id,
                                           snap.artifact.cache.revision, index)
                 if snap.artifact.cache else
                 fix_commands.rebuild_index(snap.artifact.root) if ext == "safetensors" else
                 "copy pytorch_model.bin.index.json from the checkpoint's source"),
        )
