"""Weights repairs, planned from the snapshot: strip a wrapper's prefix (module., _orig_mod.,
a Lightning module's model., a custom wrapper's name), take the model's tensors out of a training
checkpoint, convert a .bin to safetensors, re-shard. The tensors are rewritten by a child
process (whyload.repair.convert); the plan knows every name it will write from the headers."""

from __future__ import annotations

from whyload.knowledge.torch_pickle import rejected_globals, runs_code
from whyload.modelview import shared_prefix
from whyload.repair.keys import KeyRewrite, assign_shards, shard_names
from whyload.repair.types import Refusal, Step
from whyload.report import Finding, Severity
from whyload.snapshot import VARIANT, Snapshot

PREFIX_CODES = ("WL410", "WL411", "WL412")
# a .bin that safetensors answers: legacy serialization, tensors saved on a GPU, old torch
CONVERSION_CODES = ("WL133", "WL204", "WL210", "WL516")


def plan_weights(snap: Snapshot, findings: tuple[Finding, ...], *, to_safetensors: bool,
                 max_shard_bytes: int | None) -> tuple[list[Step], list[Refusal]]:
    files = list(snap.plan.files)
    answers: list[str] = []
    reasons: list[str] = []
    prefix: str | None = None
    nesting: list[str] = []
    unnamed = _nonstandard_name(snap, findings) if not files else None
    if unnamed is not None:  # last.ckpt, model.pt: from_pretrained sees no weights at all
        source = snap.files[unnamed]
        files = [unnamed]
        nesting = list(source.torch.nesting) if source.torch else []
        prefix = shared_prefix(list(source.tensors))
        answers.append("WL105")
        reasons.append(f"write the tensors of {unnamed}"
                       + (" under " + "".join(f"[{k!r}]" for k in nesting) if nesting else "")
                       + (f", without {prefix!r}" if prefix else "")
                       + " as model.safetensors (WL105)")
    elif not files or snap.plan.format not in ("pytorch", "safetensors"):
        return [], []
    for f in findings:
        if f.code in ("WL410", "WL412") or (f.code == "WL411" and "prefix" in f.evidence):
            prefix = str(f.evidence["prefix"])
            answers.append(f.code)
            reasons.append(f"strip {prefix!r} from every name ({f.code})")
        elif f.code == "WL411":
            nesting = [str(k) for k in f.evidence.get("nesting") or []]
            key_prefix = f.evidence.get("key_prefix")
            prefix = str(key_prefix) if key_prefix else prefix
            answers.append(f.code)
            reasons.append("take the tensors under " + "".join(f"[{k!r}]" for k in nesting)
                           + (f", without {prefix!r}" if prefix else "")
                           + ", drop the training state (WL411)")
        elif f.code in CONVERSION_CODES and f.file in files and f.severity is Severity.ERROR:
            answers.append(f.code)
            reasons.append(f"re-save as safetensors ({f.code}: {f.title})")
    if snap.plan.format == "pytorch" and to_safetensors and not reasons:
        reasons.append("convert to safetensors (asked with --safetensors)")
    if max_shard_bytes:
        reasons.append(f"cut into shards of at most {max_shard_bytes:,} bytes")
    if not reasons:
        return [], []
    stand_ins: list[str] = []
    for name in files:
        facts = snap.files.get(name)
        if facts is None or facts.torch is None:
            continue
        rejected = rejected_globals(list(facts.torch.globals))
        code = [g for g in rejected if runs_code(g)]
        if code or facts.torch.pickled_object:
            return [], [Refusal(reason=f"{name} names calls that run code when unpickled "
                                f"({', '.join(code[:3]) or facts.torch.pickled_object}): fix "
                                "will not load it", next_step="get the weights from a trusted "
                                "source, as safetensors", codes=tuple(dict.fromkeys(answers)),
                                file=name)]
        stand_ins.extend(g for g in rejected if g not in stand_ins)
    rewrite = KeyRewrite(strip_prefix=prefix)
    sizes: dict[str, int] = {}
    dropped: list[str] = []
    for name in files:
        facts = snap.files.get(name)
        for key, info in (facts.tensors if facts else {}).items():
            new = rewrite.rename(key)
            if new is None:
                dropped.append(key)
            else:
                sizes[new] = info.nbytes
    renamed = sum(1 for name in files for key in (snap.files[name].tensors
                                                  if name in snap.files else {})
                  if rewrite.rename(key) not in (key, None))
    groups = assign_shards(sizes, max_shard_bytes)
    writes = shard_names(len(groups))
    if len(writes) > 1:
        writes.append("model.safetensors.index.json")
    notes = []
    if stand_ins:
        notes.append("non-tensor objects unpickled as inert stand-ins and dropped: "
                     + ", ".join(stand_ins[:5]))
    if renamed:
        notes.append(f"{renamed} tensor names change")
    if dropped:
        notes.append("stale buffers dropped (transformers rebuilds them): "
                     + ", ".join(dropped[:3]))
    if unnamed is not None:
        notes.append(f"{unnamed} is not copied: model.safetensors replaces it")
    replaced = [*files, *([snap.plan.index] if snap.plan.index else [])]
    return [Step(action="rewrite-weights", writes=tuple(writes), reads=tuple(replaced),
                 why="; ".join(reasons), answers=tuple(dict.fromkeys(answers)),
                 notes=tuple(notes),
                 spec={"files": files, "nesting": nesting, "rewrite": rewrite.to_dict(),
                       "stand_ins": stand_ins, "max_shard_bytes": max_shard_bytes,
                       "tensors": len(sizes)})], []


def _nonstandard_name(snap: Snapshot, findings: tuple[Finding, ...]) -> str | None:
    """The one weights file WL105 names, unless it is a variant (from_pretrained(variant=…)
    reads those as they are)."""
    named = [f.evidence.get("file") for f in findings if f.code == "WL105"]
    if len(named) != 1 or not isinstance(named[0], str) or VARIANT.match(named[0]):
        return None
    facts = snap.files.get(named[0])
    return named[0] if facts is not None and facts.tensors else None
