"""WL100-WL106, WL154 — layout: which weights from_pretrained finds in the folder at all (none,
TensorFlow or Flax only, a Google TF release, another format, an unexpected name, an adapter, a
name in the wrong case)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

from whyload.checks.file_roles import download_fix
from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
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
    Snapshot,
    declared_format,
)

FILES = Category.FILES


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


@check("WL100", "no-weights", FILES, superseded_by=["WL116", "WL117", "WL153"])
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
        fix = (download_fix(snap, SAFETENSORS_NAME) if snap.artifact.cache else
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
        fix=fix_commands.from_other_framework(snap.artifact.root, "from_tf", "tensorflow"),
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
        fix=fix_commands.from_other_framework(snap.artifact.root, "from_flax", "flax"),
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
        fix=fix_commands.in_folder(
            snap.artifact.root,
            f"transformers-cli convert --model_type bert --tf_checkpoint {shlex.quote(prefix)} "
            f"--config {config} --pytorch_dump_output pytorch_model.bin && "
            f"cp {config} config.json  # then add \"model_type\": \"bert\""),
        file=ckpts[0],
    )


@check("WL104", "foreign-format-only", FILES)
def foreign_format(snap: Snapshot) -> Iterator[Problem]:
    """Only GGUF or ONNX weights

    from_pretrained reads GGUF only when told the file (gguf_file=...), for the architectures
    transformers can dequantize, and with the gguf package (>= 0.10.0: "Please install torch and
    gguf>=0.10.0 to load a GGUF checkpoint in PyTorch."); ONNX models run with onnxruntime /
    optimum, not from_pretrained.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    found = {fmt: names for fmt, names in _formats(snap).items() if fmt in ("gguf", "onnx")}
    if not found or any(fmt in _formats(snap) for fmt in ("safetensors", "torch", "tf", "flax")):
        return
    if "gguf" in found:
        name = found["gguf"][0]
        fix = fix_commands.from_gguf(snap.artifact.root, name)
    else:
        name = found["onnx"][0]
        fix = (f"load it with optimum: ORTModel.from_pretrained({str(snap.artifact.root)!r}) "
               "(pip install optimum[onnxruntime])")
    yield Problem(
        title=f"only {'/'.join(sorted(found)).upper()} weights: not a from_pretrained checkpoint",
        detail="These files are another runtime's format; transformers' PyTorch loader does not "
        "pick them up by itself.",
        evidence={"files": sorted(n for names in found.values() for n in names)},
        fix=fix, file=name,
    )


@check("WL105", "nonstandard-weights-name", FILES,
       superseded_by=["WL108", "WL117", "WL118", "WL119", "WL126", "WL154"])
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
        fix = (f"from_pretrained({str(snap.artifact.root)!r}, "
               f"variant={variant.group('variant')!r})")
        detail = f"{f.name} is the {variant.group('variant')!r} variant of the weights."
    else:
        target = SAFETENSORS_NAME if f.kind is Kind.SAFETENSORS else PYTORCH_NAME
        fix = fix_commands.in_folder(snap.artifact.root, f"mv {shlex.quote(f.name)} {target}")
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
    examined = snap.adapter_base
    about_base = {"base_verdict": examined.verdict, "base_headline": examined.headline,
                  "base_found": examined.found} if examined is not None else {}
    install = snap.env.pip_install("peft") if snap.env is not None else "pip install peft"
    python = snap.env.interpreter.path if snap.env is not None else None
    if snap.env is not None and snap.env.versions.get("peft") is None:
        yield Problem(
            title="a PEFT adapter, and peft is not installed",
            detail="from_pretrained on an adapter folder needs peft (and its base model"
            f"{f', {base},' if base else ''} cached or reachable): without peft it fails with "
            f"\"Unrecognized model\". peft is not installed in {python}.",
            evidence={"base_model": base, "peft": None, "python": python, **about_base},
            fix=f"{install}  # then AutoPeftModel.from_pretrained({str(snap.artifact.root)!r})",
        )
        return
    yield Problem(
        severity=Severity.INFO,
        title="a PEFT adapter: it loads on top of its base model",
        detail=f"The adapter needs its base model{f' ({base})' if base else ''}; transformers "
        "loads it with peft installed, or use PeftModel.from_pretrained(base_model, DIR).",
        evidence={"base_model": base, **about_base},
        fix=f"{install}  # then AutoPeftModel.from_pretrained({str(snap.artifact.root)!r})",
    )


# the names from_pretrained and AutoTokenizer open, exactly so spelled
EXACT_NAMES = (SAFETENSORS_NAME, "model.safetensors.index.json", PYTORCH_NAME,
               "pytorch_model.bin.index.json", "config.json", "generation_config.json",
               "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
               "vocab.json", "merges.txt", "added_tokens.json", "preprocessor_config.json")
NEEDED_TO_LOAD = frozenset(EXACT_NAMES[:5])
# what transformers 5 raises when the file is not there (seen with each misnamed file)
MISSING_EFFECT = {
    "config.json": "\"ValueError: Unrecognized model in … Should have a `model_type` key in its "
                   "config.json.\"",
    **dict.fromkeys((SAFETENSORS_NAME, PYTORCH_NAME), "\"OSError: Error no file named "
                    "model.safetensors, or pytorch_model.bin, found in directory …\" (when no "
                    "other weights are there)."),
}


def case_mismatches(snap: Snapshot) -> list[tuple[str, str]]:
    """(name on disk, the name from_pretrained opens) for files that differ only in case."""
    lower = {n.lower(): n for n in EXACT_NAMES}
    return [(name, lower[name.lower()]) for name in sorted(snap.files)
            if name.lower() in lower and name != lower[name.lower()]
            and lower[name.lower()] not in snap.files]


@check("WL154", "name-differs-in-case", FILES)
def name_differs_in_case(snap: Snapshot) -> Iterator[Problem]:
    """A file named in the wrong case (Config.json, Model.safetensors, PYTORCH_MODEL.BIN)

    from_pretrained opens config.json, model.safetensors, pytorch_model.bin exactly so
    spelled. On a case-sensitive file system (Linux, most containers) Config.json is not
    config.json: transformers says there is no config or no weights. On macOS and Windows it is
    found, and breaks when the folder is copied to Linux or uploaded to the hub.
    """
    if snap.artifact.focus is not None:
        return
    folds = snap.inventory.case_insensitive
    for name, expected in case_mismatches(snap):
        needed = expected in NEEDED_TO_LOAD and not folds
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE,
            title=f"{name} should be named {expected}: from_pretrained looks for {expected}",
            detail=(f"{name} differs from {expected} only in case. "
                    + ("This file system ignores case, so it is found here; it is not on Linux "
                       "or once uploaded." if folds else
                       "This file system tells them apart, so transformers does not see it: "
                       + MISSING_EFFECT.get(expected, "AutoTokenizer / generation fall back "
                                            "to defaults or fail."))),
            evidence={"file": name, "expected": expected, "case_insensitive_fs": folds},
            fix=fix_commands.in_folder(snap.artifact.root,
                                       f"mv {shlex.quote(name)} {shlex.quote(expected)}"),
            file=name,
        )
