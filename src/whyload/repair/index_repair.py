"""Shard index repairs: an index that is missing, broken or disagrees with its shards is rebuilt
from the shards present — from their headers, without reading a tensor. A shard that is absent
is never papered over: that is a download to redo."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from whyload.repair.types import Refusal, Step
from whyload.report import Finding
from whyload.snapshot import PYTORCH_INDEX, SAFETENSORS_INDEX, SHARD, Snapshot

INDEX_CODES = ("WL140", "WL142", "WL143", "WL144")


def plan_index(snap: Snapshot, findings: tuple[Finding, ...]) -> tuple[list[Step], list[Refusal]]:
    answers = tuple(c for c in INDEX_CODES if any(f.code == c for f in findings))
    if not answers:
        return [], []
    groups: dict[tuple[str, str, int], list[str]] = {}
    for name in snap.files:
        m = SHARD.match(name)
        if m:
            groups.setdefault((m["stem"], m["ext"], int(m["n"])), []).append(name)
    steps: list[Step] = []
    refusals: list[Refusal] = []
    for (stem, ext, total), shards in sorted(groups.items()):
        shards.sort()
        index = SAFETENSORS_INDEX if ext == "safetensors" else PYTORCH_INDEX
        if stem not in ("model", "pytorch_model"):
            index = f"{stem}.{ext}.index.json"
        if len(shards) < total:
            refusals.append(Refusal(
                reason=f"{len(shards)} of {total} shards of {stem} are here: an index would hide "
                "the missing ones", next_step="download the missing shards again "
                "(hf download <repo> --include '" + f"{stem}-*-of-{total:05d}.{ext}')",
                codes=answers, file=index))
            continue
        weight_map: dict[str, str] = {}
        total_size = 0
        for shard in shards:
            facts = snap.files[shard]
            if not facts.tensors:
                refusals.append(Refusal(reason=f"{shard} could not be read: its tensors are "
                                        "unknown", next_step=f"download {shard} again",
                                        codes=answers, file=shard))
                break
            for key, info in facts.tensors.items():
                if key in weight_map:
                    refusals.append(Refusal(
                        reason=f"{key} is in both {weight_map[key]} and {shard}: shards of two "
                        "different saves are mixed", next_step="download the shards of one "
                        "revision again", codes=answers, file=shard))
                    break
                weight_map[key] = shard
                total_size += info.nbytes
        else:
            steps.append(Step(
                action="rebuild-index", writes=(index,), reads=tuple(shards),
                why=f"the index lists what {len(shards)} shards hold: {len(weight_map)} "
                f"tensors, {total_size:,} bytes", answers=answers,
                spec={"index": index, "weight_map": weight_map, "total_size": total_size}))
    return steps, refusals


def write_index(spec: Mapping[str, Any], dest: Path) -> None:
    index = {"metadata": {"total_size": spec["total_size"]},
             "weight_map": dict(sorted(dict(spec["weight_map"]).items()))}
    (dest / str(spec["index"])).write_text(json.dumps(index, indent=2) + "\n")
