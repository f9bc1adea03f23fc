"""WL107-WL109, WL116-WL119, WL126 — folders other tools save, which from_pretrained cannot
open: a diffusers pipeline or one of its components, a Keras preset, a torch.distributed
(FSDP) checkpoint, a DeepSpeed ZeRO checkpoint, and original releases that predate the
transformers format (OpenAI Whisper, Meta's consolidated.*.pth, nanoGPT's ckpt.pt). Each names
the tool that loads the folder, or the command that converts it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.readers.sniff import Kind
from whyload.report import Category
from whyload.snapshot import FileFacts, Snapshot

FILES = Category.FILES
# what transformers 5 raises on a folder whose config.json has no model_type (or no config.json
# at all, for the layouts below): every one of them was loaded once with AutoModel to see it
UNRECOGNIZED = ("ValueError: Unrecognized model in {dir}. Should have a `model_type` key in its "
                "config.json.")
NO_WEIGHTS = ("OSError: Error no file named model.safetensors, or pytorch_model.bin, found in "
              "directory {dir}.")


def _installed(snap: Snapshot, package: str) -> str | None:
    return snap.env.versions.get(package) if snap.env is not None else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---- diffusers -------------------------------------------------------------------------------

def pipeline_components(index: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """model_index.json's components: name -> (library, class); [null, null] is an absent one."""
    out: dict[str, tuple[str, str]] = {}
    for name, value in index.items():
        if (not name.startswith("_") and isinstance(value, list) and len(value) == 2
                and all(isinstance(v, str) for v in value)):
            out[name] = (value[0], value[1])
    return out


@check("WL107", "diffusers-pipeline", FILES)
def diffusers_pipeline(snap: Snapshot) -> Iterator[Problem]:
    """A diffusers pipeline (model_index.json), not a transformers model

    A pipeline keeps one model per subfolder (unet/, vae/, text_encoder/ …) and names them in
    model_index.json; its root has no config.json, so AutoModel.from_pretrained raises
    "Unrecognized model … Should have a `model_type` key in its config.json". diffusers loads the
    whole pipeline; a transformers component loads on its own with subfolder=.
    """
    index = _dict(snap.document("model_index.json"))
    if not index or snap.config_name is not None or snap.artifact.focus is not None:
        return
    components = pipeline_components(index)
    root = snap.artifact.root
    present = {n: c for n, c in components.items() if n in snap.inventory.subfolders}
    transformers_parts = {n: cls for n, (lib, cls) in present.items() if lib == "transformers"
                          and any(f in snap.inventory.subfolders[n]
                                  for f in ("config.json",))}
    pipeline = index.get("_class_name") if isinstance(index.get("_class_name"), str) else None
    listed = ", ".join(f"{n}/ ({lib} {cls})" for n, (lib, cls) in present.items())
    missing = sorted(set(components) - set(present))
    fix = fix_commands.diffusers_pipeline(root)
    if transformers_parts:
        name, cls = next(iter(transformers_parts.items()))
        fix += (f"  (its transformers component {name}/ alone: "
                f"{fix_commands.transformers_subfolder(root, cls, name)}, or whyload check "
                f"{fix_commands.quoted(root / name)})")
    yield Problem(
        title=f"a diffusers pipeline{f' ({pipeline})' if pipeline else ''}, not a transformers "
        "model: load it with diffusers",
        detail=f"model_index.json names its components: {listed or 'none present'}"
        + (f"; named but absent: {', '.join(missing)}" if missing else "")
        + ". There is no config.json at the root, so transformers raises "
        + UNRECOGNIZED.format(dir=root),
        evidence={"pipeline": pipeline, "diffusers_version": index.get("_diffusers_version"),
                  "components": {n: list(c) for n, c in components.items()},
                  "missing_components": missing,
                  "transformers_components": sorted(transformers_parts)},
        fix=fix, file="model_index.json",
    )


DIFFUSERS_WEIGHTS = re.compile(r"^diffusion_pytorch_model(\.[\w-]+)?\.(safetensors|bin)"
                               r"(\.index\.json)?$|^diffusion_pytorch_model-\d{5}-of-\d{5}\.")


@check("WL108", "diffusers-component", FILES)
def diffusers_component(snap: Snapshot) -> Iterator[Problem]:
    """A diffusers model (a pipeline's unet/, vae/, transformer/), not a transformers one

    Its config.json names a `_class_name` and `_diffusers_version` but no model_type, and its
    weights are diffusion_pytorch_model.safetensors: transformers raises "Unrecognized model …
    Should have a `model_type` key". diffusers loads it by that class, or the whole pipeline
    from the folder above.
    """
    config = _dict(snap.document("config.json"))
    if not config or "model_type" in config or snap.artifact.focus is not None:
        return
    if "_diffusers_version" not in config and not (
            "_class_name" in config and any(DIFFUSERS_WEIGHTS.match(n) for n in snap.files)):
        return
    cls = config.get("_class_name") if isinstance(config.get("_class_name"), str) else None
    weights = sorted(n for n in snap.files if DIFFUSERS_WEIGHTS.match(n))
    root = snap.artifact.root
    fix = fix_commands.diffusers_model(root, cls) if cls else "pip install diffusers"
    yield Problem(
        title=f"a diffusers model{f' ({cls})' if cls else ''}, not a transformers model: load "
        "it with diffusers",
        detail=f"config.json has _class_name {cls!r} and _diffusers_version "
        f"{config.get('_diffusers_version')!r} but no model_type"
        + (f"; the weights are {', '.join(weights)}" if weights else "")
        + ". transformers raises " + UNRECOGNIZED.format(dir=root),
        evidence={"class_name": cls, "diffusers_version": config.get("_diffusers_version"),
                  "weights": weights},
        fix=fix + f"  (part of a pipeline: {fix_commands.diffusers_pipeline(root.parent)})",
        file="config.json",
    )


# ---- Keras ---------------------------------------------------------------------------------

def _keras_object(value: Any) -> dict[str, Any]:
    """A Keras serialized object: {"module", "class_name", "config", "registered_name"}."""
    doc = _dict(value)
    return doc if "class_name" in doc and ("module" in doc or "registered_name" in doc) else {}


@check("WL109", "keras-preset", FILES)
def keras_preset(snap: Snapshot) -> Iterator[Problem]:
    """A Keras 3 / KerasHub preset or .keras file, not a transformers model

    A KerasHub preset is metadata.json (keras_version), config.json as a Keras object
    (module, class_name, config) and model.weights.h5; a .keras file zips the same. transformers
    reads neither ("Unrecognized model … Should have a `model_type` key"): KerasHub loads the
    preset, keras.saving.load_model the .keras file.
    """
    if snap.artifact.focus is not None or snap.plan.format is not None:
        return
    metadata = _dict(snap.document("metadata.json"))
    config = _keras_object(snap.document("config.json"))
    task = _keras_object(snap.document("task.json"))
    keras_files = sorted(n for n, f in snap.files.items()
                         if n.endswith(".keras") and f.kind is Kind.ZIP)
    if not (config or "keras_version" in metadata or keras_files):
        return
    if not (config or keras_files):
        return
    root = snap.artifact.root
    chosen = task or config
    registered = str(chosen.get("registered_name") or "")
    library = registered.split(">", 1)[0] if ">" in registered else "keras_hub"
    library = library if library in ("keras_hub", "keras_nlp", "keras_cv") else "keras_hub"
    cls = chosen.get("class_name") if isinstance(chosen.get("class_name"), str) else None
    if config and cls:
        fix = (f"pip install {library.replace('_', '-')} && " + fix_commands.python_call(
            f"import {library}; {library}.models.{cls}.from_preset({str(root)!r})"))
    else:
        name = keras_files[0]
        fix = fix_commands.python_call(
            f"import keras; keras.saving.load_model({str(root / name)!r})")
    yield Problem(
        title=f"a Keras {'preset' if config else 'model file'}"
        f"{f' ({cls})' if cls else ''}, not a transformers model: load it with "
        f"{library if config else 'keras'}",
        detail=(f"config.json is a Keras object ({config.get('module')}.{config.get('class_name')})"
                if config else f"{', '.join(keras_files)} is a Keras archive")
        + (f", saved by Keras {metadata.get('keras_version')}" if "keras_version" in metadata
           else "")
        + ". transformers raises " + UNRECOGNIZED.format(dir=root),
        evidence={"class_name": cls, "library": library, "keras_version":
                  metadata.get("keras_version"), "keras_files": keras_files,
                  "weights": sorted(n for n in snap.files if n.endswith(".weights.h5"))},
        fix=fix, file="config.json" if config else keras_files[0],
    )


# ---- torch.distributed.checkpoint (FSDP) -----------------------------------------------------

def _is_dcp(names: tuple[str, ...] | list[str]) -> bool:
    return ".metadata" in names and any(n.endswith(".distcp") for n in names)


@check("WL116", "distributed-checkpoint", FILES)
def distributed_checkpoint(snap: Snapshot) -> Iterator[Problem]:
    """A torch.distributed.checkpoint (FSDP sharded) checkpoint: merge it first

    FSDP with SHARDED_STATE_DICT (and torch.distributed.checkpoint.save) writes one
    __<rank>_0.distcp file per rank and a pickled .metadata; from_pretrained finds no weights
    ("Error no file named model.safetensors, or pytorch_model.bin"). torch merges the shards
    (python -m torch.distributed.checkpoint.format_utils dcp_to_torch); accelerate's folders
    (pytorch_model_fsdp_0/) merge with `accelerate merge-weights`.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    root = snap.artifact.root
    here = _is_dcp(list(snap.files))
    subs = sorted(n for n, names in snap.inventory.subfolders.items() if _is_dcp(names))
    if not here and not subs:
        return
    out = fix_commands.beside(root, "-merged")
    config_dir = root if snap.config_name == "config.json" else None
    if here:
        shards = sorted(n for n in snap.files if n.endswith(".distcp"))
        fix = fix_commands.dcp_to_safetensors(root, config_dir or root, out)
        where = "this folder"
    else:
        model_dirs = [s for s in subs if "model" in s] or subs
        shards = sorted(n for n in snap.inventory.subfolders[model_dirs[0]]
                        if n.endswith(".distcp"))
        where = f"{model_dirs[0]}/"
        sub = root / model_dirs[0]
        fix = (fix_commands.accelerate_merge(sub, root, out)
               if model_dirs[0].startswith("pytorch_model_fsdp")
               else fix_commands.dcp_to_safetensors(sub, root, out))
    if config_dir is None:
        fix += "  (copy config.json of the model that was trained into it: this folder has none)"
    yield Problem(
        title=f"an FSDP / torch.distributed checkpoint ({len(shards)} .distcp shard"
        f"{'s' if len(shards) != 1 else ''}): merge it before from_pretrained",
        detail=f"{where} holds {', '.join(shards[:4])}{' …' if len(shards) > 4 else ''} and "
        ".metadata: the model's tensors split across ranks, which only torch.distributed."
        "checkpoint reads. transformers raises " + NO_WEIGHTS.format(dir=root),
        evidence={"folder": where, "shards": shards[:50], "subfolders": subs},
        fix=fix,
    )


# ---- DeepSpeed ZeRO --------------------------------------------------------------------------

ZERO_STATES = re.compile(r"(^|_)(model|optim)_states\.pt$")


def _zero_step_folders(snap: Snapshot) -> list[str]:
    return sorted((n for n, names in snap.inventory.subfolders.items()
                   if any(ZERO_STATES.search(f) for f in names)), key=_step)


def _step(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else -1


def _latest_tag(snap: Snapshot) -> str | None:
    entry = snap.inventory.get("latest")
    if entry is None or entry.kind is not Kind.TEXT or entry.size > 200:
        return None
    tag = entry.head.decode("utf-8", "replace").strip()
    return tag if re.fullmatch(r"[\w.\-]+", tag) else None


@check("WL117", "deepspeed-zero-checkpoint", FILES)
def deepspeed_checkpoint(snap: Snapshot) -> Iterator[Problem]:
    """A DeepSpeed ZeRO checkpoint (global_step*/, zero_to_fp32.py): consolidate it first

    DeepSpeed saves each rank's partition of the weights and optimizer
    (global_step500/*_model_states.pt, zero_pp_rank_*_optim_states.pt) and names the last step in
    `latest`; from_pretrained finds no weights. zero_to_fp32.py, which DeepSpeed writes beside
    them, rebuilds the full weights (--safe_serialization writes model.safetensors).
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    root = snap.artifact.root
    steps = _zero_step_folders(snap)
    states_here = sorted(n for n in snap.files if ZERO_STATES.search(n))
    if not steps and not states_here:
        return
    script = "zero_to_fp32.py" in snap.files
    if steps:
        tag = _latest_tag(snap)
        folder, chosen = root, (tag if tag in steps else steps[-1])
        fix = fix_commands.zero_to_fp32(root, fix_commands.beside(root, "-fp32"),
                                        None if tag in steps else chosen, script)
        states = [f for f in snap.inventory.subfolders[chosen] if ZERO_STATES.search(f)]
        detail = (f"{chosen}/ holds {', '.join(states[:4])}{' …' if len(states) > 4 else ''}"
                  + (f"; `latest` names {tag}" if tag else
                     "; there is no `latest` file, so the step is given with -t"))
    else:  # pointed at the step folder itself
        folder, chosen = root.parent, root.name
        fix = fix_commands.zero_to_fp32(folder, fix_commands.beside(folder, "-fp32"), chosen,
                                        False)
        detail = f"this folder is DeepSpeed step {chosen}: {', '.join(states_here[:4])}"
    if "config.json" not in snap.files and folder == root:
        fix += "  (copy config.json of the trained model into it first)"
    yield Problem(
        title=f"a DeepSpeed ZeRO checkpoint ({chosen}): consolidate it with zero_to_fp32.py "
        "before from_pretrained",
        detail=detail + ". The weights are split into ZeRO partitions; transformers raises "
        + NO_WEIGHTS.format(dir=root),
        evidence={"step_folders": steps, "latest": _latest_tag(snap), "chosen": chosen,
                  "zero_to_fp32": script, "states": states_here[:20]},
        fix=fix,
    )


# ---- original releases ---------------------------------------------------------------------

def _torch_files(snap: Snapshot) -> Iterator[FileFacts]:
    return (f for f in snap.files.values() if f.torch is not None)


def _transformers(snap: Snapshot) -> str | None:
    return _installed(snap, "transformers")


@check("WL118", "openai-whisper-checkpoint", FILES)
def whisper_checkpoint(snap: Snapshot) -> Iterator[Problem]:
    """An original OpenAI Whisper checkpoint ({"dims", "model_state_dict"}): convert it

    openai-whisper's .pt files (tiny.pt, large-v3.pt) hold the model's sizes under "dims" and
    its tensors, under its own names, in "model_state_dict"; there is no config.json, so
    transformers raises "Unrecognized model". transformers' convert_openai_to_hf.py writes a
    WhisperForConditionalGeneration folder.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    for f in _torch_files(snap):
        assert f.torch is not None
        if {"dims", "model_state_dict"} <= set(f.torch.top_keys):
            out = fix_commands.beside(snap.artifact.root, "-hf")
            args = (f"--checkpoint_path {fix_commands.quoted(snap.artifact.root / f.name)} "
                    f"--pytorch_dump_folder_path {fix_commands.quoted(out)}")
            yield Problem(
                title=f"{f.name} is an original OpenAI Whisper checkpoint: convert it to the "
                "transformers format",
                detail=f"{f.name} is a dict with \"dims\" and \"model_state_dict\" "
                f"({len(f.torch.tensors)} tensors under openai-whisper's names), the layout "
                "openai-whisper saves. transformers raises "
                + UNRECOGNIZED.format(dir=snap.artifact.root),
                evidence={"file": f.name, "top_keys": list(f.torch.top_keys),
                          "tensors": len(f.torch.tensors)},
                fix=fix_commands.transformers_script("models/whisper/convert_openai_to_hf.py",
                                                     args, _transformers(snap))
                + "  (add --convert_preprocessor True, with tiktoken installed, for the "
                "tokenizer)",
                file=f.name,
            )
            return


CONSOLIDATED = re.compile(r"^consolidated\.(\d+)\.pth$")


def _llama_version(params: dict[str, Any]) -> str:
    """The --llama_version the script wants, from params.json (its context size and
    special tokens depend on it)."""
    if params.get("use_scaled_rope"):
        return "3.1"
    vocab = params.get("vocab_size")
    if isinstance(vocab, int) and vocab >= 128000:
        return "3"
    return "2" if params.get("norm_eps") == 1e-5 else "1"


@check("WL119", "meta-consolidated-checkpoint", FILES)
def meta_consolidated(snap: Snapshot) -> Iterator[Problem]:
    """An original Meta Llama release (consolidated.*.pth + params.json): convert it

    Meta ships Llama as consolidated.00.pth … (one per model-parallel rank), params.json and
    tokenizer.model, with its own tensor names (tok_embeddings, layers.0.attention.wq);
    transformers raises "Unrecognized model". convert_llama_weights_to_hf.py writes a
    LlamaForCausalLM folder.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    shards = sorted(n for n in snap.files if CONSOLIDATED.match(n))
    params = _dict(snap.document("params.json"))
    if not shards or not (params or any(
            k.startswith(("tok_embeddings.", "layers.")) for n in shards
            for k in snap.files[n].tensors)):
        return
    root = snap.artifact.root
    version = _llama_version(params)
    out = fix_commands.beside(root, "-hf")
    args = (f"--input_dir {fix_commands.quoted(root)} --num_shards {len(shards)} "
            f"--llama_version {version} --output_dir {fix_commands.quoted(out)}")
    yield Problem(
        title=f"an original Meta Llama release ({len(shards)} consolidated.*.pth): convert it "
        "to the transformers format",
        detail=f"{', '.join(shards[:4])} hold Meta's tensor names"
        + (", params.json its sizes" if params else ", and params.json is missing")
        + ("" if "tokenizer.model" in snap.files else "; tokenizer.model, which the script "
           "converts too, is missing")
        + f". --llama_version {version} is read from params.json (vocab_size, rope scaling). "
        "transformers raises " + UNRECOGNIZED.format(dir=root),
        evidence={"shards": shards, "params": {k: params[k] for k in sorted(params)
                                               if isinstance(params[k], (int, float, str))},
                  "llama_version": version},
        fix=fix_commands.transformers_script("models/llama/convert_llama_weights_to_hf.py",
                                             args, _transformers(snap)),
        file=shards[0],
    )


@check("WL126", "nanogpt-checkpoint", FILES)
def nanogpt_checkpoint(snap: Snapshot) -> Iterator[Problem]:
    """A nanoGPT training checkpoint (ckpt.pt with model, model_args, iter_num): rebuild it

    nanoGPT's train.py saves {"model", "optimizer", "model_args", "iter_num", "best_val_loss",
    "config"}: GPT-2's module names, but nn.Linear weights where GPT-2 has Conv1D (stored
    transposed), and no config.json; transformers raises "Unrecognized model". transformers has
    no script for it: build a GPT2LMHeadModel from model_args and the transposed weights.
    """
    if snap.plan.format is not None or snap.artifact.focus is not None:
        return
    for f in _torch_files(snap):
        assert f.torch is not None
        keys = set(f.torch.top_keys)
        if {"model", "model_args"} <= keys and keys & {"iter_num", "config", "best_val_loss"}:
            out = fix_commands.beside(snap.artifact.root, "-hf")
            compiled = any(k.startswith("_orig_mod.") for k in f.torch.tensors)
            yield Problem(
                title=f"{f.name} is a nanoGPT checkpoint: rebuild it as a transformers GPT-2",
                detail=f"{f.name} is a dict with {', '.join(sorted(keys))}: nanoGPT's training "
                f"state, {len(f.torch.tensors)} tensors under \"model\""
                + (" (saved from torch.compile: every key starts with _orig_mod.)"
                   if compiled else "")
                + ". transformers raises " + UNRECOGNIZED.format(dir=snap.artifact.root),
                evidence={"file": f.name, "top_keys": list(f.torch.top_keys),
                          "tensors": len(f.torch.tensors), "compiled": compiled},
                fix=fix_commands.nanogpt_to_gpt2(snap.artifact.root, f.name, out),
                file=f.name,
            )
            return
