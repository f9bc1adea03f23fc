"""WL360-WL364 (config) and WL542-WL543 (environment) — quantized and converted checkpoints.

config.json's `quantization_config` decides whether from_pretrained builds quantized layers
(bitsandbytes, GPTQ, AWQ, fp8, compressed-tensors, HQQ, torchao) and reads the packed weights
into them; an MLX conversion's `quantization` block is no method transformers has. A checkpoint
whose config and weights disagree about quantization loads broken or not at all; a quantized one
whose backend is missing from the loading Python stops before any weight is read. Methods, key
layouts and the texts transformers raises: whyload.knowledge.quantization.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from whyload.checks.registration import Problem, check
from whyload.knowledge import fix_commands
from whyload.knowledge.quantization import (
    FP8_NO_GPU,
    FP8_OLD_GPU,
    NO_QUANT_METHOD,
    TRANSFORMERS_METHODS,
    TRANSFORMERS_VERSION,
    Backend,
    Quantization,
    bits_of,
    declared_method,
    is_mlx_block,
    quantization_of,
)
from whyload.report import Category, Effect, JSONValue, Severity
from whyload.snapshot import Snapshot

CONFIG = Category.CONFIG
ENV = Category.ENVIRONMENT
# what transformers does with each method's weights when config.json does not name the method:
# bnb 4-bit and MLX weights are packed in place (a size mismatch); int8/fp8 ones keep the model's
# shape and are copied without their scales; the others are stored under other names
SAME_SHAPE = frozenset({"bitsandbytes_8bit", "fp8"})
PACKED_IN_PLACE = frozenset({"bitsandbytes_4bit", "mlx"})


def _config(snap: Snapshot) -> dict[str, object] | None:
    cfg = snap.document("config.json") if snap.config_name == "config.json" else None
    return cfg if isinstance(cfg, dict) else None


def _stored_bytes(snap: Snapshot, q: Quantization) -> int:
    tensors = snap.planned_tensors()
    return sum(tensors[k].nbytes for k in q.packed_keys | q.extra_keys if k in tensors)


def _example(q: Quantization) -> str | None:
    return min(q.packed_keys) if q.packed_keys else None


@check("WL360", "quantized-checkpoint", CONFIG)
def quantized_checkpoint(snap: Snapshot) -> Iterator[Problem]:
    """The weights are quantized: their packed shapes and extra keys are the method's, not errors

    A bitsandbytes, GPTQ, AWQ, fp8, compressed-tensors, HQQ or torchao checkpoint stores its
    linear layers packed (uint8, int32, int8, fp8) beside scales and zeros. from_pretrained builds
    quantized layers from config.json's quantization_config and reads them in; whyload reads the
    packed shapes as such, and predicts memory from the stored bytes, not a dequantized size.
    """
    q = snap.quantization
    if q is None or q.declared != "quantization_config" or not q.method.transformers_loads:
        return
    stored = _stored_bytes(snap, q)
    yield Problem(
        severity=Severity.INFO, effect=Effect.NONE,
        title=f"the weights are quantized with {q.method.title}"
        + (f" ({bits_of(q)}-bit)" if bits_of(q) and str(bits_of(q)) not in q.method.title
           else ""),
        detail=f"{len(q.quantized_modules)} layers are stored quantized ({stored:,} bytes of "
        "packed weights and their scales); loading needs "
        + (", ".join(b.requirement for b in q.method.backends) or "no extra package")
        + ". Memory is predicted from these stored bytes.",
        evidence={"method": q.name, "quant_method": q.quant_method, "bits": bits_of(q),
                  "quantized_layers": len(q.quantized_modules),
                  "packed_weights": len(q.packed_keys), "extra_keys": len(q.extra_keys),
                  "stored_bytes": stored, "example": _example(q),
                  "backends": [b.requirement for b in q.method.backends]},
        fix="nothing to do",
    )


@check("WL361", "mlx-conversion", CONFIG, requires=["WL301"])
def mlx_conversion(snap: Snapshot) -> Iterator[Problem]:
    """An MLX (mlx-lm) conversion: transformers cannot load its packed weights

    mlx-lm stores each quantized weight as uint32 words [out, in*bits/32] beside .scales and
    .biases, and config.json says "quantization": {"group_size", "bits"} with no quant_method.
    Recent mlx-lm copies that block to quantization_config, and transformers raises "The model's
    quantization config from the arguments has no `quant_method` attribute"; without it, every
    packed weight is a size mismatch ("You set `ignore_mismatched_sizes` to `False`"), and
    ignore_mismatched_sizes=True would silently replace all of them with random weights.
    """
    q = snap.quantization
    if q is None or q.name != "mlx" or not q.packed_keys:
        return
    cfg = _config(snap) or {}
    copied = is_mlx_block(cfg.get("quantization_config"))
    example = _example(q)
    tensor = snap.planned_tensors().get(example or "")
    shape = list(tensor.shape) if tensor else None
    dtype = tensor.dtype if tensor else None
    root = fix_commands.quoted(snap.artifact.root)
    out = fix_commands.quoted(snap.artifact.root.parent / (snap.artifact.root.name + "-pt"))
    yield Problem(
        title=f"an MLX conversion ({bits_of(q)}-bit, group size {q.config.get('group_size')}): "
        "transformers cannot load its packed weights",
        detail=(f"config.json's quantization_config has no quant_method: from_pretrained "
                f"raises \"{NO_QUANT_METHOD.split(': ', 1)[1]}\"." if copied else
                f"transformers has no MLX quantizer: {len(q.packed_keys)} packed weights "
                f"(e.g. {example} {shape} {dtype}) are size mismatches and from_pretrained "
                "raises.")
        + " Never pass ignore_mismatched_sizes=True: every quantized layer would be random.",
        evidence={"method": "mlx", "quantization": dict(q.config),
                  "quantization_config_copied": copied, "packed_weights": len(q.packed_keys),
                  "example": example, "example_shape": shape, "example_dtype": dtype,
                  "raises": NO_QUANT_METHOD if copied else "RuntimeError: You set "
                  "`ignore_mismatched_sizes` to `False`, thus raising an error."},
        fix=f"load it with mlx-lm on Apple silicon (mlx_lm.load({str(snap.artifact.root)!r})), or "
        "use the checkpoint it was converted from; PyTorch weights: mlx_lm.convert --hf-path "
        f"{root} --mlx-path {out} --dequantize (on a Mac)",
        file="config.json",
    )


@check("WL362", "quantized-weights-config-silent", CONFIG, requires=["WL301"])
def config_silent(snap: Snapshot) -> Iterator[Problem]:
    """Quantized weights, and config.json has no quantization_config

    from_pretrained builds plain layers: GPTQ/AWQ/HQQ/torchao weights are under other names and
    every quantized layer starts at random; bitsandbytes 8-bit and fp8 weights are copied without
    their scales (wrong values, no error); bitsandbytes 4-bit weights are a size mismatch. The
    config was usually replaced by the original model's.
    """
    q = snap.quantization
    cfg = _config(snap)
    if q is None or q.declared != "weights" or cfg is None:
        return
    if isinstance(cfg.get("quantization_config"), dict):
        return  # a block that names another or no method: WL363, WL364
    raises = q.name in PACKED_IN_PLACE
    same_shape = q.name in SAME_SHAPE
    yield Problem(
        effect=Effect.RAISES if raises else Effect.SILENT,
        title=f"the weights are quantized ({q.method.title}), and config.json has no "
        "quantization_config",
        detail=f"{len(q.quantized_modules)} layers are stored quantized (e.g. {_example(q)}). "
        + ("Without the quantizer their packed shapes do not fit the model: from_pretrained "
           "raises a size mismatch." if raises else
           "Without the quantizer they are copied as plain numbers, without their scales: the "
           "model loads and computes garbage." if same_shape else
           f"Without the quantizer the model's {len(q.stored_weights)} weights they stand for "
           "are missing and start at random; the packed tensors are dropped."),
        evidence={"method": q.name, "quantized_layers": len(q.quantized_modules),
                  "example": _example(q), "missing_if_loaded": sorted(q.stored_weights)[:10]},
        fix="restore config.json from where these weights came from (its quantization_config "
        f"names the method: quant_method \"{_config_name(q)}\")",
        file="config.json",
    )


def _config_name(q: Quantization) -> str:
    return "bitsandbytes" if q.name.startswith("bitsandbytes") else q.name


@check("WL363", "quantization-config-without-method", CONFIG, requires=["WL301"],
       superseded_by=["WL361"])
def no_method(snap: Snapshot) -> Iterator[Problem]:
    """config.json's quantization_config names no method

    Without quant_method (or bitsandbytes' load_in_4bit/load_in_8bit) transformers cannot pick
    a quantizer: "ValueError: The model's quantization config from the arguments has no
    `quant_method` attribute. Make sure that the model has been correctly quantized".
    """
    cfg = _config(snap)
    block = cfg.get("quantization_config") if cfg else None
    if not isinstance(block, dict) or declared_method(cfg) is not None:
        return
    shown = quantization_of({}, snap.planned_tensors())  # what the weights themselves say
    yield Problem(
        title="config.json's quantization_config has no quant_method",
        detail=f"from_pretrained raises \"{NO_QUANT_METHOD.split(': ', 1)[1]}\"."
        + (f" The weights look quantized with {shown.method.title}." if shown else ""),
        evidence={"quantization_config": block, "weights_look": shown.name if shown else None,
                  "raises": NO_QUANT_METHOD},
        fix=(f"add \"quant_method\": \"{_config_name(shown)}\" to quantization_config in "
             "config.json" if shown else
             "restore config.json from where these weights came from, or remove "
             "quantization_config if the weights are not quantized"),
        file="config.json",
    )


@check("WL364", "unknown-quant-method", CONFIG, requires=["WL301"])
def unknown_method(snap: Snapshot) -> Iterator[Problem]:
    """quantization_config names a method transformers does not have: it is skipped

    transformers warns "Unknown quantization type, got … Hence, we will skip the quantization"
    and builds plain layers: quantized weights then load as random or garbage (a typo in
    quant_method, or a method of another library or a newer transformers).
    """
    cfg = _config(snap)
    name = declared_method(cfg)
    if name is None or name in TRANSFORMERS_METHODS:
        return
    shown = quantization_of({}, snap.planned_tensors())
    close = sorted(m for m in TRANSFORMERS_METHODS if m.replace("-", "").replace("_", "")
                   == name.lower().replace("-", "").replace("_", ""))
    yield Problem(
        severity=Severity.ERROR if shown else Severity.WARNING,
        effect=Effect.SILENT if shown else Effect.NONE,
        title=f"quant_method {name!r} is not a method transformers {TRANSFORMERS_VERSION} has",
        detail=f"from_pretrained warns \"Unknown quantization type, got {name}\" and skips the "
        "quantization"
        + (f": these {shown.method.title} weights would load as plain tensors (wrong or random)."
           if shown else "; the weights are then read as plain tensors."),
        evidence={"quant_method": name, "weights_look": shown.name if shown else None,
                  "known": sorted(TRANSFORMERS_METHODS), "transformers": TRANSFORMERS_VERSION},
        fix=(f"set \"quant_method\": \"{close[0]}\" in config.json" if close else
             "set quant_method to the method that saved the weights"
             + (f" (\"{_config_name(shown)}\")" if shown else "")
             + ", or upgrade transformers if a newer release has it"),
        file="config.json",
    )


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


def _unmet(backend: Backend, installed: str | None) -> str | None:
    """Why transformers would not accept the installed backend: "missing", "older than X"."""
    if installed is None:
        return "missing"
    have, need = _version(installed), _version(backend.minimum)
    if have is not None and need is not None and have < need:
        return f"{installed} is older than {backend.minimum}"
    return None


@check("WL542", "quantization-backend-missing", ENV, requires=["WL540"])
def backend_missing(snap: Snapshot) -> Iterator[Problem]:
    """The quantized checkpoint's backend is not installed in the interpreter that loads it

    from_pretrained checks for the method's packages before it reads a weight and raises, for
    bitsandbytes 4-bit, "ImportError: Using `bitsandbytes` 4-bit quantization requires
    accelerate: `pip install 'accelerate>=1.1.0'`" (then "... requires bitsandbytes"); GPTQ
    needs optimum and gptqmodel, AWQ gptqmodel and accelerate, fp8 accelerate, compressed-tensors
    compressed-tensors>=0.15.0, HQQ hqq>=0.2.1, torchao torchao.
    """
    q, env = snap.quantization, snap.env
    if q is None or env is None or q.declared != "quantization_config":
        return
    if env.versions.get("transformers") is None:
        return  # WL540
    unmet = {b.distribution: why for b in q.method.backends
             if (why := _unmet(b, env.versions.get(b.distribution))) is not None}
    if not unmet:
        return
    first = next(b for b in q.method.backends if b.distribution in unmet)
    requirements = [b.requirement for b in q.method.backends if b.distribution in unmet]
    evidence: dict[str, JSONValue] = {
        "method": q.name, "unmet": dict(unmet), "raises": first.error,
        "installed": {b.distribution: env.versions.get(b.distribution)
                      for b in q.method.backends},
        "interpreter": env.interpreter.path, "chosen_by": env.interpreter.chosen_by}
    yield Problem(
        title=f"{q.method.title} needs {', '.join(requirements)} in {env.interpreter.path}",
        detail=f"from_pretrained stops before reading a weight: \"{first.error}\"."
        + ("".join(f" {name}: {why}." for name, why in unmet.items() if why != "missing")),
        evidence=evidence,
        fix=env.pip_install(*requirements),
    )


@check("WL543", "fp8-dequantized-on-load", ENV)
def fp8_dequantized(snap: Snapshot) -> Iterator[Problem]:
    """An fp8 checkpoint on a machine without a GPU that runs fp8: dequantized to bf16

    transformers warns "Using FP8 quantized models requires a GPU or XPU, we will default to
    dequantizing the model to bf16" (or names a compute capability below 8.9) and loads bf16
    weights: twice the fp8 checkpoint's memory, and not the fp8 kernels.
    """
    q, env = snap.quantization, snap.env
    if q is None or env is None or q.name != "fp8" or q.declared != "quantization_config":
        return
    if q.config.get("dequantize") is True or snap.dequantized_to() is None:
        return
    no_cuda = env.torch_build is not None and not (env.torch_build.cuda or env.torch_build.hip)
    capabilities = [g.compute_capability for g in (env.gpus.devices if env.gpus else ())
                    if g.compute_capability]
    said = FP8_NO_GPU if no_cuda else FP8_OLD_GPU.format(capability=", ".join(capabilities))
    tensors = snap.planned_tensors()
    fp8 = sum(tensors[k].nbytes for k in q.packed_keys if k in tensors)
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"the fp8 weights would be dequantized to bf16 here ({fp8 * 2:,} bytes instead "
        f"of {fp8:,})",
        detail=f"transformers: \"{said}\"."
        + (f" torch in {env.interpreter.path} is a CPU build." if no_cuda else ""),
        evidence={"method": q.name, "warning": said, "fp8_bytes": fp8, "bf16_bytes": fp8 * 2,
                  "torch_cuda": env.torch_build.cuda if env.torch_build else None,
                  "capabilities": list(capabilities)},
        fix="load on a GPU with compute capability 8.9 or newer (device_map='cuda'), or accept "
        "bf16 weights",
    )

