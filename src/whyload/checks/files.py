"""WL1xx — files: is every byte from_pretrained will read present, and is it what its name says?"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.readers.safetensors import HeaderError
from whyload.readers.sniff import ARCHIVES, Kind
from whyload.report import Category, Effect, Severity
from whyload.snapshot import (
    FLAX_INDEX,
    FLAX_NAME,
    PYTORCH_NAME,
    SAFETENSORS_NAME,
    SHARD,
    TF1_INDEX,
    TF_INDEX,
    TF_NAME,
    VARIANT,
    FileFacts,
    Snapshot,
    declared_format,
)

FILES = Category.FILES
VARIANT_INDEX = re.compile(r"^(?:model\.safetensors|pytorch_model\.bin)\.index\.([\w-]+)\.json$")
TOKENIZER_FILES = frozenset({"tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                             "merges.txt", "spiece.model", "sentencepiece.bpe.model",
                             "special_tokens_map.json", "added_tokens.json", "spm.model"})


def _needed(snap: Snapshot, name: str) -> bool:
    """Files whose failure makes from_pretrained itself fail."""
    return snap.in_plan(name) or name == snap.config_name or (
        snap.plan.format is None and snap.file(name) is not None
        and snap.files[name].is_weights)


def _severity(snap: Snapshot, name: str) -> tuple[Severity, Effect, str]:
    """An error when from_pretrained reads the file; a warning for tokenizer files (the
    tokenizer fails); a note for a copy that from_pretrained passes over."""
    if _needed(snap, name):
        return Severity.ERROR, Effect.RAISES, ""
    if name in TOKENIZER_FILES:
        return (Severity.WARNING, Effect.NONE,
                " The model loads; AutoTokenizer.from_pretrained fails on it.")
    if snap.plan.files:  # a copy in another format, or a stale index: loading is unaffected
        return (Severity.INFO, Effect.NONE,
                f" from_pretrained reads {snap.plan.index or snap.plan.files[0]} instead, so "
                "this one only breaks tools that open it directly.")
    return Severity.WARNING, Effect.NONE, ""


def _relevant(snap: Snapshot, f: FileFacts) -> bool:
    return f.is_weights or _needed(snap, f.name) or f.name in TOKENIZER_FILES or (
        f.name.endswith(".json") and f.name in snap.indexes)


def _blob(f: FileFacts) -> dict[str, str]:
    """In the HF cache the file is a link: name the blob whose size is wrong."""
    return {"blob": f.entry.link_target} if f.entry.link_target else {}


def _download_fix(snap: Snapshot, name: str) -> str:
    cache = snap.artifact.cache
    if cache is not None:
        return (f"hf download {cache.repo_id} {shlex.quote(name)} --revision {cache.revision} "
                "--force-download")
    return f"re-download {name} from its source"


# --- which weights are there at all ------------------------------------------------------------


def _formats(snap: Snapshot) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in snap.weights():
        fmt = f.declared or (f.kind.value if f.kind else "unknown")
        out.setdefault(fmt, []).append(f.name)
    return out


def _is_adapter(snap: Snapshot) -> bool:
    return "adapter_config.json" in snap.files


def _google_tf_release(snap: Snapshot) -> list[str]:
    return [n for n in snap.files if n.endswith(".ckpt.index") or n.endswith(".ckpt-best.index")
            or re.search(r"\.ckpt(-\d+)?\.index$", n)]


@check("WL100", "no-weights", FILES)
def no_weights(snap: Snapshot) -> Iterator[Problem]:
    """No model weights in the folder

    from_pretrained looks for model.safetensors, model.safetensors.index.json, pytorch_model.bin
    or its index. A folder with only config and tokenizer files fails with "Error no file named
    model.safetensors … found in directory". Often the weights are one folder down (a Trainer's
    checkpoint-500/) or were never downloaded.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None or _is_adapter(snap):
        return  # an adapter without weights: WL106 would need them, and says what it is
    if any(snap.weights()) or snap.inventory.missing_root:
        return
    if any(f.kind in ARCHIVES for f in snap.files.values()):
        return  # WL114: the weights are in the archive
    if any(e.dangling or e.unreadable or e.special for e in snap.inventory.entries
           if declared_format(e.name)):
        return  # WL150 / WL160: the weights are there, but cannot be opened
    if "model_index.json" in snap.files:
        return  # a diffusers pipeline: weights live in its component folders
    sub = snap.inventory.subfolders_with_weights
    present = sorted(snap.files)
    if sub:
        best = sorted(sub, key=_checkpoint_step)[-1]
        fix = f"whyload check {shlex.quote(str(snap.artifact.root / best))}"
        detail = (f"The weights are in subfolder{'s' if len(sub) > 1 else ''} "
                  f"{', '.join(sub)}: point from_pretrained at the one you want.")
    else:
        fix = (_download_fix(snap, SAFETENSORS_NAME) if snap.artifact.cache else
               "copy the weights (model.safetensors) beside config.json, or save the model "
               "with model.save_pretrained(folder)")
        detail = ("The folder is empty." if not present else
                  "The folder holds " + ", ".join(present[:8])
                  + (" …" if len(present) > 8 else "") + " but no weights file.")
    yield Problem(title="no model weights in this folder", detail=detail,
                  evidence={"files": present[:50], "subfolders_with_weights": list(sub)}, fix=fix)


def _checkpoint_step(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else -1


@check("WL101", "tf-weights-only", FILES)
def tf_only(snap: Snapshot) -> Iterator[Problem]:
    """Only TensorFlow weights (tf_model.h5)

    transformers 4.x loads them into PyTorch only with from_tf=True and TensorFlow installed;
    transformers 5 removed TensorFlow support, so convert once in a 4.x environment.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    names = [n for n in (TF_NAME, TF_INDEX, TF1_INDEX) if n in snap.files]
    if not names:
        return
    yield Problem(
        title=f"only TensorFlow weights ({names[0]}): PyTorch from_pretrained will not find them",
        detail="The folder has TensorFlow weights and no PyTorch ones. transformers < 5 can "
        "convert them with from_tf=True (TensorFlow must be installed); transformers 5 cannot.",
        evidence={"files": names},
        fix="pip install 'transformers<5' tensorflow && python -c \"from transformers import "
        "AutoModel; AutoModel.from_pretrained('DIR', from_tf=True).save_pretrained('DIR-pt')\"",
        file=names[0],
    )


@check("WL102", "flax-weights-only", FILES, superseded_by=["WL101"])
def flax_only(snap: Snapshot) -> Iterator[Problem]:
    """Only Flax weights (flax_model.msgpack)

    transformers 4.x loads them into PyTorch only with from_flax=True and JAX/Flax installed;
    transformers 5 removed Flax support, so convert once in a 4.x environment.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    names = [n for n in (FLAX_NAME, FLAX_INDEX) if n in snap.files]
    if not names:
        return
    yield Problem(
        title=f"only Flax weights ({names[0]}): PyTorch from_pretrained will not find them",
        detail="The folder has Flax weights and no PyTorch ones. transformers < 5 converts them "
        "with from_flax=True (flax must be installed); transformers 5 cannot.",
        evidence={"files": names},
        fix="pip install 'transformers<5' flax && python -c \"from transformers import AutoModel;"
        " AutoModel.from_pretrained('DIR', from_flax=True).save_pretrained('DIR-pt')\"",
        file=names[0],
    )


@check("WL103", "google-tf-checkpoint", FILES)
def google_tf_release(snap: Snapshot) -> Iterator[Problem]:
    """An original Google TensorFlow BERT release (bert_config.json + *.ckpt.*)

    The google-research/bert layout predates transformers: bert_config.json has no model_type
    and the weights are a TF1 checkpoint (often with adam_m/adam_v optimizer slots). It must be
    converted once; transformers cannot read it directly.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    ckpts = _google_tf_release(snap)
    if not ckpts or (TF1_INDEX in snap.files and "bert_config.json" not in snap.files):
        return
    prefix = ckpts[0][: -len(".index")]
    config = "bert_config.json" if "bert_config.json" in snap.files else "CONFIG.json"
    yield Problem(
        title="an original Google TF BERT checkpoint: convert it before from_pretrained",
        detail=f"{prefix}.* is a TensorFlow 1 checkpoint"
        + (" and bert_config.json has no model_type" if config == "bert_config.json" else "")
        + ". Convert it to PyTorch once (transformers 4.x, TensorFlow installed).",
        evidence={"checkpoint": prefix, "config": config if config in snap.files else None},
        fix=f"transformers-cli convert --model_type bert --tf_checkpoint {prefix} "
        f"--config {config} --pytorch_dump_output pytorch_model.bin && "
        f"cp {config} config.json  # then add \"model_type\": \"bert\"",
        file=ckpts[0],
    )


@check("WL104", "foreign-format-only", FILES)
def foreign_format(snap: Snapshot) -> Iterator[Problem]:
    """Only GGUF or ONNX weights

    from_pretrained reads GGUF only when told the file (gguf_file=...) and for supported
    architectures; ONNX models run with onnxruntime / optimum, not from_pretrained.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    found = {fmt: names for fmt, names in _formats(snap).items() if fmt in ("gguf", "onnx")}
    if not found or any(fmt in _formats(snap) for fmt in ("safetensors", "torch", "tf", "flax")):
        return
    if "gguf" in found:
        name = found["gguf"][0]
        fix = f"AutoModel.from_pretrained('DIR', gguf_file={name!r})  # needs `pip install gguf`"
    else:
        name = found["onnx"][0]
        fix = ("load it with optimum: ORTModel.from_pretrained('DIR') "
               "(pip install optimum[onnxruntime])")
    yield Problem(
        title=f"only {'/'.join(sorted(found)).upper()} weights: not a from_pretrained checkpoint",
        detail="These files are another runtime's format; transformers' PyTorch loader does not "
        "pick them up by itself.",
        evidence={"files": sorted(n for names in found.values() for n in names)},
        fix=fix, file=name,
    )


@check("WL105", "nonstandard-weights-name", FILES)
def nonstandard_name(snap: Snapshot) -> Iterator[Problem]:
    """Weights under a name from_pretrained does not look for

    Weights saved as model.pt, gptq_model-4bit-128g.bin, model.fp16.safetensors (a variant) or
    shards without their index are invisible to from_pretrained, which then says it found no
    weights at all.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    loadable = [f for f in snap.weights()
                if f.kind in (Kind.SAFETENSORS, Kind.TORCH_ZIP, Kind.PICKLE) and f.tensors
                and not SHARD.match(f.name)]
    if not loadable:
        return
    f = max(loadable, key=lambda x: x.size)
    variant = VARIANT.match(f.name)
    if variant:
        fix = f"from_pretrained('DIR', variant={variant.group('variant')!r})"
        detail = f"{f.name} is the {variant.group('variant')!r} variant of the weights."
    else:
        target = SAFETENSORS_NAME if f.kind is Kind.SAFETENSORS else PYTORCH_NAME
        fix = f"mv {shlex.quote(f.name)} {target}"
        detail = (f"{f.name} holds {len(f.tensors)} tensors in {f.kind.value if f.kind else '?'}"
                  f" format, but from_pretrained only opens {target} (or a sharded index).")
    yield Problem(title=f"weights saved as {f.name}, a name from_pretrained does not look for",
                  detail=detail, evidence={"file": f.name, "tensors": len(f.tensors),
                                           "size": f.size}, fix=fix, file=f.name)


@check("WL106", "peft-adapter", FILES)
def peft_adapter(snap: Snapshot) -> Iterator[Problem]:
    """A PEFT adapter, not a full model

    adapter_config.json with adapter weights: the base model comes from elsewhere
    (base_model_name_or_path), and the adapter goes on top of it.
    """
    if not snap.plan.adapter:
        return
    adapter = snap.document("adapter_config.json")
    base = adapter.get("base_model_name_or_path") if isinstance(adapter, dict) else None
    if snap.env is not None and snap.env.versions.get("peft") is None:
        yield Problem(
            title="a PEFT adapter, and peft is not installed",
            detail="from_pretrained on an adapter folder needs peft (and its base model"
            f"{f', {base},' if base else ''} cached or reachable): without peft it fails with "
            "\"Unrecognized model\".",
            evidence={"base_model": base, "peft": None},
            fix="pip install peft  # then AutoPeftModel.from_pretrained(DIR)",
        )
        return
    yield Problem(
        severity=Severity.INFO,
        title="a PEFT adapter: it loads on top of its base model",
        detail=f"The adapter needs its base model{f' ({base})' if base else ''}; transformers "
        "loads it with peft installed, or use PeftModel.from_pretrained(base_model, DIR).",
        evidence={"base_model": base},
        fix="pip install peft  # then AutoPeftModel.from_pretrained(DIR)",
    )


# --- files that are not what their name says ---------------------------------------------------


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB", "EB"):
        if size < 1000 or unit == "EB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


@check("WL110", "lfs-pointer", FILES)
def lfs_pointer(snap: Snapshot) -> Iterator[Problem]:
    """A Git LFS pointer file where the real file should be

    `git clone` without git-lfs leaves ~130-byte text files in place of the weights. torch.load
    then fails with "invalid load key, 'v'" (or "Unsupported operand 118"), safetensors with
    HeaderTooLarge.
    """
    for f in snap.files.values():
        if f.kind is not Kind.LFS_POINTER or f.lfs is None:
            continue
        severity, effect, note = _severity(snap, f.name)
        real = f" the real file is {_human(f.lfs.size)}" if f.lfs.size else ""
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is a Git LFS pointer, not the file itself",
            detail=f"{f.name} is a {f.size}-byte pointer;{real} and was never fetched." + note,
            evidence={"file": f.name, "size": f.size, "real_size": f.lfs.size, "oid": f.lfs.oid},
            fix=f"git lfs install && git lfs pull --include {shlex.quote(f.name)}",
        )


def _page_title(head: bytes) -> str:
    m = re.search(rb"<title[^>]*>([^<]{1,200})", head, re.I)
    if m:
        return m.group(1).decode("utf-8", "replace").strip()
    first = head.strip().split(b"\n", 1)[0][:120]
    return first.decode("utf-8", "replace")


@check("WL111", "error-page", FILES)
def error_page(snap: Snapshot) -> Iterator[Problem]:
    """An HTML or JSON page saved in place of the weights

    A download that followed no redirect, hit a quota, a proxy login or a mirror's 404 saves the
    error page under the weights' name: torch.load says "invalid load key, '<'", safetensors
    HeaderTooLarge.
    """
    for f in snap.files.values():
        if not f.is_weights or f.kind not in (Kind.HTML, Kind.JSON, Kind.TEXT):
            continue
        severity, effect, note = _severity(snap, f.name)
        what = {Kind.HTML: "an HTML page", Kind.JSON: "a JSON document", Kind.TEXT: "a text file"}
        title = _page_title(f.entry.head)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is {what[f.kind]}, not weights",
            detail=f"{f.name} ({_human(f.size)}) starts with text: {title!r}. A download saved an "
            "error page instead of the file." + note,
            evidence={"file": f.name, "size": f.size, "kind": f.kind.value, "first_line": title},
            fix=_download_fix(snap, f.name) + " with a client that follows redirects "
            "(hf download, curl -L)",
        )


@check("WL112", "empty-file", FILES)
def empty_file(snap: Snapshot) -> Iterator[Problem]:
    """An empty file

    A copy or download that was created but never written. Loading it fails (EOFError,
    HeaderTooSmall, or a JSON decode error).
    """
    for f in snap.files.values():
        if f.kind is not Kind.EMPTY or not _relevant(snap, f):
            continue
        severity, effect, note = _severity(snap, f.name)
        yield Problem(severity=severity, effect=effect, file=f.name,
                      title=f"{f.name} is empty (0 bytes)",
                      detail=f"{f.name} has no content." + note,
                      evidence={"file": f.name, "size": 0}, fix=_download_fix(snap, f.name))


@check("WL113", "zero-filled", FILES)
def zero_filled(snap: Snapshot) -> Iterator[Problem]:
    """A file of zeros: space reserved by a download that never wrote into it

    Download managers and some copy tools preallocate the whole file, so its size looks right;
    its bytes are all zero.
    """
    for f in snap.files.values():
        if f.kind is not Kind.ZEROS or not _relevant(snap, f):
            continue
        severity, effect, note = _severity(snap, f.name)
        yield Problem(severity=severity, effect=effect, file=f.name,
                      title=f"{f.name} is all zeros ({_human(f.size)})",
                      detail=f"The first and last 4 KB of {f.name} are zero bytes: the file was "
                      "preallocated by an interrupted download or copy, its size right, its "
                      "content never written." + note,
                      evidence={"file": f.name, "size": f.size}, fix=_download_fix(snap, f.name))


@check("WL114", "archive-not-extracted", FILES)
def archive(snap: Snapshot) -> Iterator[Problem]:
    """A compressed archive where the weights should be

    A model.tar.gz (SageMaker, a release download) or a gzipped weights file must be extracted
    first; from_pretrained reads neither.
    """
    for f in snap.files.values():
        if f.kind not in ARCHIVES:
            continue
        archive_name = re.search(r"\.(tar|tgz|gz|bz2|xz|zst)(\.|$)", f.name) is not None
        if not f.is_weights and not archive_name:
            continue
        if not f.is_weights and snap.plan.format is not None:
            continue  # a stray archive beside healthy weights
        severity, effect, note = _severity(snap, f.name)
        if not f.is_weights:
            severity, effect = Severity.ERROR, Effect.RAISES  # it holds the missing weights
        tar = f.kind is Kind.TAR or ".tar" in f.name or f.name.endswith(".tgz")
        fix = {Kind.GZIP: f"tar -xzf {shlex.quote(f.name)}" if tar else
               f"gunzip -k {shlex.quote(f.name)}",
               Kind.BZIP2: f"tar -xjf {shlex.quote(f.name)}" if tar else
               f"bunzip2 -k {shlex.quote(f.name)}",
               Kind.XZ: f"tar -xJf {shlex.quote(f.name)}" if tar else
               f"unxz -k {shlex.quote(f.name)}",
               Kind.ZSTD: f"tar --zstd -xf {shlex.quote(f.name)}" if tar else
               f"unzstd {shlex.quote(f.name)}",
               Kind.TAR: f"tar -xf {shlex.quote(f.name)}"}[f.kind]
        yield Problem(severity=severity, effect=effect, file=f.name,
                      title=f"{f.name} is a {f.kind.value} archive, not extracted",
                      detail=f"{f.name} ({_human(f.size)}) is compressed; extract it into the "
                      "model folder first." + note,
                      evidence={"file": f.name, "size": f.size, "kind": f.kind.value}, fix=fix)


_CONTENT_NAMES = {
    Kind.SAFETENSORS: "a safetensors file", Kind.TORCH_ZIP: "a torch zip checkpoint",
    Kind.PICKLE: "a pickle (legacy torch checkpoint)", Kind.ZIP: "a zip archive",
    Kind.HDF5: "an HDF5 (TensorFlow/Keras) file", Kind.GGUF: "a GGUF file",
    Kind.MSGPACK: "a msgpack (Flax) file", Kind.UNKNOWN: "of no known format",
    Kind.ONNX: "an ONNX model",
}  # fmt: skip
_EXPECTED = {"safetensors": {Kind.SAFETENSORS}, "torch": {Kind.TORCH_ZIP, Kind.PICKLE},
             "tf": {Kind.HDF5}, "flax": {Kind.MSGPACK, Kind.UNKNOWN}, "gguf": {Kind.GGUF},
             "onnx": {Kind.ONNX, Kind.UNKNOWN}}


@check("WL115", "format-mismatch", FILES)
def format_mismatch(snap: Snapshot) -> Iterator[Problem]:
    """A weights file whose bytes are another format than its name says

    A pickle renamed .safetensors gives HeaderTooLarge; a safetensors file renamed .bin gives
    "invalid load key". Loaders pick the parser from the name, so the name must match.
    """
    for f in snap.files.values():
        if not f.is_weights or f.declared not in _EXPECTED or f.kind in _EXPECTED[f.declared]:
            continue
        if f.kind not in _CONTENT_NAMES:
            continue  # pointers, pages, archives, empty files: their own checks say it
        if f.kind is Kind.ZIP and f.torch is not None and f.declared == "torch":
            continue  # a zip without data.pkl: WL131
        severity, effect, note = _severity(snap, f.name)
        right = {Kind.SAFETENSORS: "model.safetensors", Kind.TORCH_ZIP: PYTORCH_NAME,
                 Kind.PICKLE: PYTORCH_NAME, Kind.HDF5: TF_NAME}.get(f.kind)
        what = _CONTENT_NAMES[f.kind]
        symptom = {"safetensors": "HeaderTooLarge", "torch": "invalid load key"}.get(
            f.declared or "", "a parse error")
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is {what}, not {f.declared}",
            detail=f"The name says {f.declared}, the bytes say {what}; loading it fails with "
            f"{symptom}." + note,
            evidence={"file": f.name, "declared": f.declared, "actual": f.kind.value if f.kind
                      else None, "first_bytes": f.entry.head[:16].hex()},
            fix=f"mv {shlex.quote(f.name)} {right}" if right else _download_fix(snap, f.name),
        )


# --- safetensors ---------------------------------------------------------------------------------


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
        severity, effect, note = _severity(snap, f.name)
        pct = 100 * h.file_size / expected if expected else 0
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is truncated: {_human(h.file_size)} of "
            f"{'at least ' if cut_header else ''}{_human(expected)}",
            detail=f"safetensors: {_library_error(h.error)} — {h.error_detail}. "
            f"{pct:.1f}% of the file is present." + note,
            evidence={"file": f.name, "size": h.file_size, "expected_size": expected,
                      "missing_bytes": (expected or 0) - h.file_size,
                      "library_error": h.error.value if h.error else None,
                      **_blob(f)},
            fix=_download_fix(snap, f.name),
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
        severity, effect, note = _severity(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: the safetensors header is corrupt ({_library_error(h.error)})",
            detail=f"{h.error_detail}." + note,
            evidence={"file": f.name, "library_error": h.error.value if h.error else None,
                      "header_length": h.header_len, "size": h.file_size},
            fix=_download_fix(snap, f.name),
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
        severity, effect, note = _severity(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: the header does not match the data ({_library_error(h.error)})",
            detail=f"{h.error_detail}." + note,
            evidence={"file": f.name, "library_error": h.error.value if h.error else None,
                      "size": h.file_size, "header_accounts_for": h.data_end},
            fix=_download_fix(snap, f.name) + "  # or save it again with safetensors",
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
        severity, effect, note = _severity(snap, f.name)
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
        severity, effect, note = _severity(snap, f.name)
        zip_layout = t.layout == "zip"
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is truncated: " + ("the zip has no central directory" if zip_layout
                                                else f"{_human(f.size)} of "
                                                f"{_human(t.expected_size)}"),
            detail=f"{t.error}. The download or copy stopped early"
            + ("; the from_tf hint in transformers' message does not apply." if zip_layout
               else ".") + note,
            evidence={"file": f.name, "size": f.size, "expected_size": t.expected_size,
                      **_blob(f)},
            fix=_download_fix(snap, f.name),
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
        severity, effect, note = _severity(snap, f.name)
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
        severity, effect, note = _severity(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name}: the checkpoint's pickle is "
            f"{'cut short' if t.truncated else 'corrupt'}",
            detail=f"{t.pickle_error}; {len(t.tensors)} tensors were readable before that."
            + note,
            evidence={"file": f.name, "layout": t.layout, "pickle_error": t.pickle_error,
                      "tensors_read": len(t.tensors)},
            fix=_download_fix(snap, f.name),
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
            fix=fix_commands.to_safetensors(f.name),
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
        severity, effect, note = _severity(snap, f.name)
        yield Problem(
            severity=severity, effect=effect, file=f.name,
            title=f"{f.name} is a pickled {t.pickled_object.rsplit('.', 1)[-1]} object, "
            "not a state dict",
            detail=f"The file pickles {t.pickled_object} itself ({len(t.tensors)} tensors "
            "inside). Loading it imports that class and needs weights_only=False." + note,
            evidence={"file": f.name, "object": t.pickled_object, "tensors": len(t.tensors)},
            fix=fix_commands.state_dict_of_pickled_model(f.name),
        )


# --- sharded checkpoints -------------------------------------------------------------------------


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
        severity, effect, note = _severity(snap, name)
        where = f" at line {idx.doc.line}, column {idx.doc.column}" if idx.doc.line else ""
        reason = idx.problem or f"{idx.doc.error}{where}"
        yield Problem(
            severity=severity, effect=effect, file=name,
            title=f"{name} is not a valid shard index",
            detail=f"{name}: {reason}." + note,
            evidence={"file": name, "error": idx.doc.error or idx.problem,
                      "line": idx.doc.line, "column": idx.doc.column},
            fix=_download_fix(snap, name)
            + f"  # or rebuild it from the shards: {fix_commands.REBUILD_INDEX}",
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
        severity, effect, note = _severity(snap, name)
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
            fix=(f"hf download {snap.artifact.cache.repo_id} "
                 + " ".join(shlex.quote(m) for m in missing[:8]) if snap.artifact.cache
                 else "copy or download the missing shards into the folder"),
        )


@check("WL142", "index-shard-disagree", FILES, requires=["WL140"])
def index_vs_shards(snap: Snapshot) -> Iterator[Problem]:
    """An index whose weight_map disagrees with what the shards hold

    Tensors the index places in a shard that does not hold them are never loaded, and tensors a
    shard holds but the index omits are ignored: either way weights stay at their random
    initialization, with no exception.
    """
    for name, idx in snap.indexes.items():
        absent: list[str] = []
        unlisted: list[str] = []
        shards = [snap.files[s] for s in idx.shards if s in snap.files]
        if not idx.weight_map or not shards:
            continue
        readable = {f.name: f for f in shards if f.tensors or (
            f.safetensors is not None and f.safetensors.error is None)}
        for tensor, shard in idx.weight_map.items():
            f = readable.get(shard)
            if f is not None and tensor not in f.tensors:
                absent.append(tensor)
        for f in readable.values():
            unlisted.extend(t for t in f.tensors if t not in idx.weight_map)
        if not absent and not unlisted:
            continue
        severity, effect, note = _severity(snap, name)
        yield Problem(
            severity=severity, effect=Effect.SILENT if effect is Effect.RAISES else effect,
            file=name,
            title=f"{name} and its shards disagree on {len(absent) + len(unlisted)} tensors",
            detail=(f"{len(absent)} tensors listed in the index are not in their shard; "
                    if absent else "") + (f"{len(unlisted)} tensors in the shards are not in the "
                                          "index; " if unlisted else "")
            + "those weights would not be loaded." + note,
            evidence={"index": name, "listed_but_absent": absent[:10],
                      "present_but_unlisted": unlisted[:10],
                      "counts": {"listed_but_absent": len(absent),
                                 "present_but_unlisted": len(unlisted)}},
            fix=f"rebuild the index from the shards: {fix_commands.REBUILD_INDEX}",
        )


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
            fix=f"rebuild the index from the shards: {fix_commands.REBUILD_INDEX}",
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
                fix=f"from_pretrained('DIR', variant={variant!r})",
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
            fix=(f"hf download {snap.artifact.cache.repo_id} {index}" if snap.artifact.cache else
                 fix_commands.REBUILD_INDEX if ext == "safetensors" else
                 "copy pytorch_model.bin.index.json from the checkpoint's source"),
        )


# --- links, the HF cache, unreadable files ------------------------------------------------------


@check("WL150", "dangling-link", FILES)
def dangling_link(snap: Snapshot) -> Iterator[Problem]:
    """A symbolic link whose target is missing

    In the HF cache, snapshot files are links into blobs/; a cache copied without its links, a
    blob deleted by hand, or a relative cache_dir breaks them: "unable to open file … No such
    file or directory". transformers treats the file as absent.
    """
    standard = {SAFETENSORS_NAME, PYTORCH_NAME, "config.json", "model.safetensors.index.json",
                "pytorch_model.bin.index.json"}
    shards = {s for idx in snap.indexes.values() for s in idx.shards}
    for e in snap.inventory.entries:
        if not e.dangling:
            continue
        needed = e.name in standard or e.name in shards
        loop = e.unreadable == "symbolic link loop"
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE, file=e.name,
            title=f"{e.name} is a symbolic link loop" if loop
            else f"{e.name} is a broken link (its target is missing)",
            detail=(f"{e.name} -> {e.link_target} leads back to itself (a symbolic link loop)"
                    if loop else f"{e.name} -> {e.link_target}, which does not exist")
            + (" (the cache blob was deleted, or the cache was copied without it)"
               if snap.artifact.cache and not loop else "") + ".",
            evidence={"file": e.name, "link_target": e.link_target},
            fix=_download_fix(snap, e.name) if snap.artifact.cache
            else f"copy the real file over the link (cp -L SOURCE/{e.name} .)",
        )


@check("WL151", "cache-ref-missing-snapshot", FILES)
def ref_missing_snapshot(snap: Snapshot) -> Iterator[Problem]:
    """A cache ref that points at a snapshot that is not there

    refs/main names a commit whose snapshots/<commit>/ folder is gone (deleted by hand, or a
    partial cache copy), so the cache holds nothing for that revision.
    """
    cache = snap.artifact.cache
    if cache is None or not cache.snapshot_missing:
        return
    snapdir = cache.repo_dir / "snapshots"
    others = list(cache.snapshots)
    yield Problem(
        title=f"refs/{cache.revision} of {cache.repo_id} points at a missing snapshot",
        detail=f"refs/{cache.revision} says {cache.commit}, but {snapdir}/{cache.commit} does "
        "not exist" + (f"; cached snapshots: {', '.join(others)}" if others else "") + ".",
        evidence={"repo_id": cache.repo_id, "revision": cache.revision, "commit": cache.commit,
                  "other_snapshots": others},
        fix=f"hf download {cache.repo_id} --revision {cache.revision}",
    )


@check("WL152", "cache-incomplete-download", FILES)
def incomplete_download(snap: Snapshot) -> Iterator[Problem]:
    """Interrupted downloads in the cache (blobs/*.incomplete)

    A download was cut (or is running in another process right now). If a file of this model is
    missing or short, this is why; several processes downloading into one cache at once is a
    common cause.
    """
    cache = snap.artifact.cache
    if cache is None or not cache.incomplete_blobs:
        return
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"{len(cache.incomplete_blobs)} interrupted download(s) in the cache of "
        f"{cache.repo_id}",
        detail="blobs/ holds partial files; a download stopped (or is still running).",
        evidence={"repo_id": cache.repo_id, "incomplete": list(cache.incomplete_blobs[:10])},
        fix=f"hf download {cache.repo_id} --revision {cache.revision}  # resumes and completes",
    )


@check("WL160", "unreadable-file", FILES)
def unreadable(snap: Snapshot) -> Iterator[Problem]:
    """A file that cannot be read (permission denied, a FIFO or device under a model file name)

    from_pretrained fails with PermissionError or blocks forever reading a FIFO.
    """
    for e in snap.inventory.entries:
        if e.dangling:
            continue
        if e.unreadable is None and e.special is None:
            continue
        declared = e.name.endswith((".safetensors", ".bin", ".json", ".pt", ".pth", ".txt",
                                    ".model"))
        if not declared:
            continue
        what = e.unreadable or f"a {e.special}, not a regular file"
        needed = e.name in (SAFETENSORS_NAME, PYTORCH_NAME, "config.json") or any(
            e.name in idx.shards for idx in snap.indexes.values())
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE, file=e.name,
            title=f"{e.name} cannot be read: {what}",
            detail=f"{e.name}: {what}.",
            evidence={"file": e.name, "reason": what},
            fix=f"chmod a+r {shlex.quote(e.name)}  # or run as its owner" if e.unreadable
            else f"replace {e.name} with the real file",
        )


@check("WL161", "file-not-analysed", FILES)
def not_analysed(snap: Snapshot) -> Iterator[Problem]:
    """whyload could not analyse a file (its reader stopped on bytes beyond its bounds)

    The verdict is then 'unknown' for that file: nothing was concluded from it.
    """
    for f in snap.files.values():
        if f.reader_error is None:
            continue
        yield Problem(
            severity=Severity.WARNING, effect=Effect.UNKNOWN, file=f.name,
            title=f"{f.name} could not be analysed",
            detail=f"The reader stopped: {f.reader_error}.",
            evidence={"file": f.name, "error": f.reader_error},
            fix="report this file's first bytes (`xxd FILE | head`) to the whyload maintainers",
        )
