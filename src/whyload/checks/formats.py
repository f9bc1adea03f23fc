"""WL120-WL134 — format headers: a safetensors header, a torch zip or a legacy pickle that
from_pretrained cannot read, or reads into nothing."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from whyload.checks.file_roles import blob_evidence, download_fix, human_size, severity_of
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.readers.safetensors import HeaderError
from whyload.report import Category, Effect, Severity
from whyload.snapshot import FileFacts, Snapshot

FILES = Category.FILES


def _library_error(error: HeaderError | None) -> str:
    """Both spellings users meet: 'MetadataIncompleteBuffer' (old), 'incomplete metadata…'."""
    return f"{error.value}: \"{error.message}\"" if error else ""


def _safetensors(snap: Snapshot) -> Iterator[FileFacts]:
    return (f for f in snap.files.values() if f.safetensors is not None)


@check("WL120", "safetensors-truncated", FILES)
def safetensors_truncated(snap: Snapshot) -> Iterator[Problem]:
    """A safetensors file shorter than its header promises

    An interrupted download, copy or save: safetensors raises MetadataIncompleteBuffer (or
    InvalidHeaderLength when even the header is cut).
    """
    for f in _safetensors(snap):
        h = f.safetensors
        assert h is not None
        cut_header = h.error is HeaderError.INVALID_LENGTH
        short = h.error is HeaderError.INCOMPLETE and (h.data_end or 0) > h.file_size
        if not (cut_header or short):
            continue
        expected = h.data_end if short else (8 + (h.header_len or 0))
        severity, effect, note = severity_of(snap, f.name)
        pct = 100 * h.file_size / expected if expected else 0
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is truncated: {human_size(h.file_size)} of "
            f"{'at least ' if cut_header else ''}{human_size(expected)}",
            detail=f"safetensors: {_library_error(h.error)} — {h.error_detail}. "
            f"{pct:.1f}% of the file is present." + note,
            evidence={"file": f.name, "size": h.file_size, "expected_size": expected,
                      "missing_bytes": (expected or 0) - h.file_size,
                      "library_error": h.error.value if h.error else None,
                      **blob_evidence(f)},
            fix=download_fix(snap, f.name),
        )


@check("WL121", "safetensors-header-corrupt", FILES)
def safetensors_header(snap: Snapshot) -> Iterator[Problem]:
    """A safetensors header that is not valid UTF-8 JSON describing tensors

    safetensors raises InvalidHeader, InvalidHeaderDeserialization or HeaderTooSmall. Bit rot in
    the first bytes, a hand-edited header, or a writer that did not finish.
    """
    for f in _safetensors(snap):
        h = f.safetensors
        assert h is not None
        if h.error not in (HeaderError.TOO_SMALL, HeaderError.TOO_LARGE, HeaderError.NOT_UTF8,
                           HeaderError.NOT_DESERIALIZABLE):
            continue
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: the safetensors header is corrupt ({_library_error(h.error)})",
            detail=f"{h.error_detail}." + note,
            evidence={"file": f.name, "library_error": h.error.value if h.error else None,
                      "header_length": h.header_len, "size": h.file_size},
            fix=download_fix(snap, f.name),
        )


@check("WL122", "safetensors-layout-invalid", FILES)
def safetensors_layout(snap: Snapshot) -> Iterator[Problem]:
    """Tensor offsets in a safetensors header that do not tile the file

    Offsets that overlap or leave gaps (InvalidOffset), a shape x dtype that does not match a
    tensor's byte span (TensorInvalidInfo), sizes that overflow, or bytes after the last tensor
    (MetadataIncompleteBuffer): the header and the data disagree.
    """
    for f in _safetensors(snap):
        h = f.safetensors
        assert h is not None
        extra = h.error is HeaderError.INCOMPLETE and (h.data_end or 0) < h.file_size
        if h.error not in (HeaderError.INVALID_OFFSET, HeaderError.OVERFLOW,
                           HeaderError.MISALIGNED, HeaderError.INVALID_INFO) and not extra:
            continue
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: the header does not match the data ({_library_error(h.error)})",
            detail=f"{h.error_detail}." + note,
            evidence={"file": f.name, "library_error": h.error.value if h.error else None,
                      "size": h.file_size, "header_accounts_for": h.data_end},
            fix=download_fix(snap, f.name) + "  # or save it again with safetensors",
        )


@check("WL123", "safetensors-no-format-metadata", FILES)
def safetensors_format(snap: Snapshot) -> Iterator[Problem]:
    """A safetensors file without `__metadata__` {"format": "pt"}

    Written by save_file without metadata (mlx, hand-made files, a Trainer saving a plain
    nn.Module). transformers 4.x before the change that assumed "pt" fails with "'NoneType'
    object has no attribute 'get'" or "does not contain the valid metadata"; newer releases
    load it.
    """
    for f in _safetensors(snap):
        h = f.safetensors
        assert h is not None
        if h.error is not None or not snap.in_plan(f.name) or not h.tensors:
            continue
        fmt = h.format
        if fmt in ("pt", "tf", "flax", "mlx"):
            continue
        installed = snap.env.versions.get("transformers") if snap.env else None
        modern = installed is not None and installed.split(".")[0].isdigit() and int(
            installed.split(".")[0]) >= 5
        yield Problem(
            severity=Severity.INFO if modern else Severity.WARNING, effect=Effect.NONE,
            file=f.name,
            title=f"{f.name} has no format metadata" if fmt is None
            else f"{f.name} declares format {fmt!r}",
            detail="Older transformers (4.x) refuse safetensors weights whose __metadata__ lacks "
            '"format": "pt"; current releases assume PyTorch.',
            evidence={"file": f.name, "metadata": h.metadata},
            fix="python -c \"from safetensors.torch import load_file, save_file; "
            f"save_file(load_file('{f.name}'), '{f.name}.new', metadata={{'format': 'pt'}})\""
            f" && mv {f.name}.new {f.name}",
        )


def _zero_size(f: FileFacts) -> list[str]:
    return [name for name, t in f.tensors.items() if t.shape and 0 in t.shape]


@check("WL124", "zero-size-tensors", FILES)
def zero_size(snap: Snapshot) -> Iterator[Problem]:
    """Weights saved with shape [0]: DeepSpeed ZeRO-3 partitions that were never gathered

    "size mismatch for encoder.layer.3.attention.self.query.weight: copying a param with shape
    torch.Size([0])": each rank held a slice, and the save wrote empty placeholders.
    """
    for f in snap.weights():
        empty = _zero_size(f)
        if not empty or len(empty) * 4 < len(f.tensors):
            continue  # a few empty tensors can be legitimate (an unused buffer)
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: {len(empty)} of {len(f.tensors)} tensors have zero elements",
            detail="Parameters saved as empty tensors are ZeRO-3 partitions saved without "
            "gathering them." + note,
            evidence={"file": f.name, "empty_tensors": len(empty), "examples": empty[:5]},
            fix="python zero_to_fp32.py CHECKPOINT_DIR pytorch_model.bin  # or set "
            "stage3_gather_16bit_weights_on_model_save: true and save again",
        )


@check("WL125", "no-tensors", FILES, requires=["WL210"])
def no_tensors(snap: Snapshot) -> Iterator[Problem]:
    """A weights file that holds no tensors

    A metadata-only safetensors file (ZeRO-3 saves, interrupted writers) loads without an
    exception, and every weight of the model stays randomly initialized.
    """
    for name in snap.plan.files:
        f = snap.file(name)
        if f is None or f.tensors:
            continue
        h = f.safetensors
        if h is not None and h.error is None:
            yield Problem(
                effect=Effect.SILENT, file=f.name,
                title=f"{f.name} is a valid safetensors file with no tensors",
                detail=f"The header ({h.header_len} bytes) lists no tensors; from_pretrained "
                "would initialize every weight at random.",
                evidence={"file": f.name, "size": f.size, "metadata": h.metadata},
                fix="save the model again from gathered (consolidated) parameters",
            )
        if f.torch is not None and f.torch.error is None and f.torch.pickled_object is None:
            yield Problem(
                effect=Effect.SILENT, file=f.name,
                title=f"{f.name} holds no tensors",
                detail="The checkpoint's object graph contains no tensor.",
                evidence={"file": f.name, "top_keys": list(f.torch.top_keys)[:20]},
                fix="save the model's state_dict(), or use model.save_pretrained()",
            )


# --- torch checkpoints ---------------------------------------------------------------------------


def _torch(snap: Snapshot) -> Iterator[FileFacts]:
    return (f for f in snap.files.values() if f.torch is not None and f.is_weights)


@check("WL130", "torch-checkpoint-truncated", FILES)
def torch_truncated(snap: Snapshot) -> Iterator[Problem]:
    """A torch checkpoint cut short: a zip without its central directory, or a legacy file
    whose tensor data stops early

    torch raises "PytorchStreamReader failed reading zip archive: failed finding central
    directory" (transformers re-raises it as "Unable to load weights from pytorch checkpoint file
    … set from_tf=True" — a misleading hint), or for the legacy format "unexpected EOF, expected
    N more bytes. The file might be corrupted."
    """
    for f in _torch(snap):
        t = f.torch
        assert t is not None
        if not t.truncated or (t.layout != "zip" and t.pickle_error):
            continue  # a pickle cut inside its object graph: WL132
        severity, effect, note = severity_of(snap, f.name)
        zip_layout = t.layout == "zip"
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is truncated: " + ("the zip has no central directory" if zip_layout
                                                else f"{human_size(f.size)} of "
                                                f"{human_size(t.expected_size)}"),
            detail=f"{t.error}. The download or copy stopped early"
            + ("; the from_tf hint in transformers' message does not apply." if zip_layout
               else ".") + note,
            evidence={"file": f.name, "size": f.size, "expected_size": t.expected_size,
                      **blob_evidence(f)},
            fix=download_fix(snap, f.name),
        )


@check("WL131", "zip-not-torch", FILES)
def zip_not_torch(snap: Snapshot) -> Iterator[Problem]:
    """A zip file that is not a torch checkpoint (no data.pkl / version record)

    torch.load accepts a zip only when it holds <root>/data.pkl and <root>/version; anything
    else fails with "PytorchStreamReader failed locating file data.pkl".
    """
    for f in _torch(snap):
        t = f.torch
        assert t is not None
        if not t.missing_records:
            continue
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is a zip without {' and '.join(t.missing_records)}",
            detail=f"It holds {len(t.members)} members ({', '.join(t.members[:4])}"
            f"{' …' if len(t.members) > 4 else ''}), not a torch checkpoint; an archive to "
            "extract, or the wrong file." + note,
            evidence={"file": f.name, "missing": list(t.missing_records),
                      "members": list(t.members[:20])},
            fix=f"unzip -l {shlex.quote(f.name)}  # extract it if it holds the model",
        )


@check("WL132", "pickle-unreadable", FILES)
def pickle_unreadable(snap: Snapshot) -> Iterator[Problem]:
    """A torch checkpoint whose pickle is corrupt or cut

    The object graph (data.pkl, or the legacy stream) stops before its end or holds bytes that
    are no pickle opcodes: torch.load fails with UnpicklingError or EOFError ("Ran out of
    input").
    """
    for f in _torch(snap):
        t = f.torch
        assert t is not None
        if t.pickle_error is None or (t.truncated and t.layout == "zip"):
            continue
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: the checkpoint's pickle is "
            f"{'cut short' if t.truncated else 'corrupt'}",
            detail=f"{t.pickle_error}; {len(t.tensors)} tensors were readable before that."
            + note,
            evidence={"file": f.name, "layout": t.layout, "pickle_error": t.pickle_error,
                      "tensors_read": len(t.tensors)},
            fix=download_fix(snap, f.name),
        )


@check("WL133", "legacy-torch-format", FILES)
def legacy_format(snap: Snapshot) -> Iterator[Problem]:
    """A checkpoint in the legacy (torch < 1.6) serialization

    It still loads with current torch; newer tools (safetensors conversion, mmap loading) need
    the zip format.
    """
    for f in _torch(snap):
        t = f.torch
        assert t is not None
        if t.layout != "legacy" or t.error or not snap.in_plan(f.name):
            continue
        yield Problem(
            severity=Severity.INFO, effect=Effect.NONE, file=f.name,
            title=f"{f.name} uses the legacy (torch < 1.6) format",
            detail="torch.load still reads it, but it cannot be memory-mapped.",
            evidence={"file": f.name, "layout": "legacy", "tensors": len(t.tensors)},
            fix=fix_commands.to_safetensors(snap.artifact.root, f.name),
        )


@check("WL134", "pickled-object-not-state-dict", FILES)
def pickled_object(snap: Snapshot) -> Iterator[Problem]:
    """A whole pickled object where a state dict should be

    `torch.save(model)` pickles the class by import path: loading needs that exact code, and on
    torch >= 2.6 (weights_only) it fails with "Unsupported global". from_pretrained expects a
    dict of tensors.
    """
    for f in _torch(snap):
        t = f.torch
        assert t is not None
        if t.pickled_object is None or not t.tensors:
            continue  # a pickled call that builds no module: WL210 names it
        severity, effect, note = severity_of(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is a pickled {t.pickled_object.rsplit('.', 1)[-1]} object, "
            "not a state dict",
            detail=f"The file pickles {t.pickled_object} itself ({len(t.tensors)} tensors "
            "inside). Loading it imports that class and needs weights_only=False." + note,
            evidence={"file": f.name, "object": t.pickled_object, "tensors": len(t.tensors)},
            fix=fix_commands.state_dict_of_pickled_model(snap.artifact.root, f.name),
        )
