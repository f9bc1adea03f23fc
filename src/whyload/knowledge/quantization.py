"""Quantized checkpoints: which method stored the weights, what it adds to their names and
shapes, and what the loading Python needs installed for it. Data and pure functions only.

A quantizer changes the state dict a checkpoint holds. Written as transformers 5.25 saves and
reads them (its quantizers' `serialized_names`, checked against checkpoints bitsandbytes 0.50.2
saved on a CPU):

    bitsandbytes 4-bit   m.weight            U8  [numel/2, 1]   packed in place
                         m.weight.absmax, .quant_map, .nested_absmax, .nested_quant_map,
                         m.weight.quant_state.bitsandbytes__nf4 (or __fp4)
    bitsandbytes 8-bit   m.weight            I8  [out, in]      same shape, int8
                         m.SCB, m.weight_format
    GPTQ                 m.qweight, m.qzeros I32 (packed), m.scales, m.g_idx    no m.weight
    AWQ                  m.qweight, m.qzeros I32 (packed), m.scales             no m.weight
    fp8 (fine-grained)   m.weight            F8_E4M3 [out, in]  same shape
                         m.weight_scale_inv, m.activation_scale
    compressed-tensors   m.weight_packed I32 + m.weight_shape (packed: no m.weight), or m.weight
                         F8/I8 beside m.weight_scale, m.weight_zero_point, m.weight_global_scale
    HQQ                  m.W_q U8 (packed) + its meta beside it                  no m.weight
    torchao              m.weight_qdata, _scale, _zero_point, ... (tensor subclass parts)
    MLX (mlx-lm)         m.weight U32 [out, in*bits/32] packed in place; m.scales, m.biases;
                         config.json "quantization": {"group_size", "bits"} and no quant_method
                         (recent mlx-lm copies the block to "quantization_config" too)

The architecture checks ask `quantization_of` whether a checkpoint is quantized, and then which
keys hold packed shapes (`packed`), which it adds (`adds`) and which model weights it stores under
other names (`stores`): none of these are unused, missing or mismatched weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Backend:
    """A package transformers checks for before it loads the method (`is_X_available`)."""

    distribution: str  # the pip name; whyload.env.versions reports it under this name
    minimum: str | None  # the lowest version transformers accepts (None: any)
    error: str  # what transformers 5.25 raises when it is missing (or older than `minimum`)

    @property
    def requirement(self) -> str:
        return f"{self.distribution}>={self.minimum}" if self.minimum else self.distribution


@dataclass(frozen=True)
class Method:
    """How one quantization method lays out a checkpoint, and what loading it needs."""

    name: str  # transformers' AUTO_QUANTIZER_MAPPING key ("bitsandbytes_4bit"), or "mlx"
    title: str  # for people: "bitsandbytes 4-bit"
    suffixes: tuple[str, ...]  # key suffixes (after the module's name) the method stores
    packed_suffixes: tuple[str, ...]  # those whose shape is the packed storage, not the model's
    weight_in_place: bool  # m.weight stays (in quantized form); else other names replace it
    backends: tuple[Backend, ...] = ()  # in the order transformers checks them
    transformers_loads: bool = True  # False: transformers has no quantizer for it (MLX)


_ACCELERATE = "1.1.0"  # ACCELERATE_MIN_VERSION
_BNB = "0.46.1"  # BITSANDBYTES_MIN_VERSION


def _bnb(bits: str) -> tuple[Backend, ...]:
    return (
        Backend("accelerate", _ACCELERATE, f"ImportError: Using `bitsandbytes` {bits} quantization "
                f"requires accelerate: `pip install 'accelerate>={_ACCELERATE}'`"),
        Backend("bitsandbytes", _BNB, f"ImportError: Using `bitsandbytes` {bits} quantization "
                f"requires bitsandbytes: `pip install -U bitsandbytes>={_BNB}`"),
    )


BNB_4BIT_SUFFIXES = ("weight.absmax", "weight.quant_map", "weight.nested_absmax",
                     "weight.nested_quant_map", "weight.quant_state.bitsandbytes__nf4",
                     "weight.quant_state.bitsandbytes__fp4")
GPTQ_SUFFIXES = ("qweight", "qzeros", "scales", "g_idx")

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("bitsandbytes_4bit", "bitsandbytes 4-bit", BNB_4BIT_SUFFIXES, ("weight",), True,
           _bnb("4-bit")),
    Method("bitsandbytes_8bit", "bitsandbytes 8-bit", ("SCB", "weight_format"), (), True,
           _bnb("8-bit")),
    Method("gptq", "GPTQ", GPTQ_SUFFIXES, ("qweight", "qzeros"), False, (
        Backend("optimum", "1.24.0", "ImportError: Loading a GPTQ quantized model requires "
                "optimum (`pip install optimum`)"),
        Backend("gptqmodel", "1.4.3", "ImportError: Loading a GPTQ quantized model requires "
                "gptqmodel (`pip install gptqmodel`) library."),
    )),
    Method("awq", "AWQ", ("qweight", "qzeros", "scales"), ("qweight", "qzeros"), False, (
        Backend("gptqmodel", None, "ImportError: Loading an AWQ quantized model requires "
                "gptqmodel. Please install it with `pip install gptqmodel`"),
        Backend("accelerate", _ACCELERATE, "ImportError: Loading an AWQ quantized model "
                "requires accelerate (`pip install accelerate`)"),
    )),
    Method("fp8", "fp8 (fine-grained)", ("weight_scale_inv", "activation_scale"), (), True, (
        Backend("accelerate", _ACCELERATE, "ImportError: Loading an FP8 quantized model "
                "requires accelerate (`pip install accelerate`)"),
    )),
    Method("compressed-tensors", "compressed-tensors",
           ("weight_packed", "weight_shape", "weight_scale", "weight_zero_point",
            "weight_global_scale", "input_scale", "input_zero_point", "input_global_scale"),
           ("weight_packed",), True, (
               Backend("compressed-tensors", "0.15.0", "ImportError: compressed-tensors>=0.15.0 "
                       "is required for compressed-tensors quantization. Please install it "
                       "with `pip install compressed-tensors>=0.15.0`."),
           )),
    Method("hqq", "HQQ", ("W_q", "meta", "scale", "zero", "nbits", "shape", "group_size",
                          "axis", "packing", "unpack_view_dtype", "view_as_float",
                          "compute_dtype", "channel_wise", "optimize", "round_zero",
                          "encoded_state_dict", "stores_quant_config", "offload_meta",
                          "quant_scale", "quant_zero"), ("W_q",), False, (
        Backend("hqq", "0.2.1", "ImportError: A valid HQQ version (>=0.2.1) is not available. "
                "Please follow the instructions to install it: `https://github.com/mobiusml/hqq/`."),
    )),
    Method("torchao", "torchao",
           tuple(f"weight_{s}" for s in ("qdata", "scale_and_zero", "per_tensor_scale", "scale",
                                         "zero_point", "act_pre_scale")),
           ("weight_qdata",), False, (
               Backend("torchao", "0.15.0", "ModuleNotFoundError: No module named 'torchao'"),
           )),
    Method("mlx", "MLX (mlx-lm)", ("scales", "biases"), ("weight",), True,
           transformers_loads=False),
)}

# every quant_method transformers 5.25 dispatches (AUTO_QUANTIZER_MAPPING); a quant_method outside
# it is skipped with "Unknown quantization type, got …" and the weights load as plain tensors
TRANSFORMERS_METHODS = frozenset({
    "awq", "bitsandbytes_4bit", "bitsandbytes_8bit", "gptq", "aqlm", "quanto", "quark",
    "fouroversix", "fp_quant", "eetq", "higgs", "hqq", "compressed-tensors", "fbgemm_fp8",
    "torchao", "bitnet", "vptq", "spqr", "fp8", "gguf", "nvfp4", "mxfp8", "auto-round", "mxfp4",
    "metal", "sinq", "gemma"})
TRANSFORMERS_VERSION = "5.25"  # where TRANSFORMERS_METHODS and the error texts come from
# what transformers raises for a quantization_config with neither quant_method nor load_in_*bit
NO_QUANT_METHOD = ("ValueError: The model's quantization config from the arguments has no "
                   "`quant_method` attribute. Make sure that the model has been correctly "
                   "quantized")
# the order in which a checkpoint's own keys betray a method when config.json does not say it
_BY_KEYS = ("bitsandbytes_4bit", "bitsandbytes_8bit", "gptq", "awq", "hqq", "fp8",
            "compressed-tensors", "torchao", "mlx")


@dataclass(frozen=True)
class Quantization:
    """A quantized checkpoint: its method, where that was read, and what it did to the keys."""

    method: Method
    declared: str  # "quantization_config", "quantization (MLX)", or "weights" (config is silent)
    quant_method: str | None  # as config.json writes it ("bitsandbytes"); None: not written
    config: Mapping[str, Any]  # the config block (empty when only the weights tell)
    packed_keys: frozenset[str] = frozenset()  # keys whose shape is the packed storage
    extra_keys: frozenset[str] = frozenset()  # keys the method stores beside the weights
    stored_weights: frozenset[str] = frozenset()  # model keys stored under other names
    quantized_modules: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return self.method.name

    def packed(self, key: str) -> bool:
        """Whether the checkpoint key holds a weight in its packed (quantized) storage shape:
        never a shape mismatch."""
        return key in self.packed_keys

    def adds(self, key: str) -> bool:
        """Whether the checkpoint key is one the method stores beside the weights (scales,
        zeros, quant state): never an unused weight."""
        return key in self.extra_keys

    def stores(self, model_key: str) -> bool:
        """Whether a key the model expects is in the checkpoint under the method's names
        (GPTQ's m.qweight for m.weight): never a missing weight."""
        return model_key in self.stored_weights

    def quantized(self, key: str) -> bool:
        """Whether the key is part of a quantized weight (packed, added, or stored)."""
        return self.packed(key) or self.adds(key) or self.stores(key)


def method_name(block: Mapping[str, Any]) -> str | None:
    """The AUTO_QUANTIZER_MAPPING key transformers dispatches a quantization_config to (bnb's
    load_in_4bit/load_in_8bit decide before quant_method, as AutoQuantizationConfig.from_dict
    does); None when the block has neither."""
    if block.get("load_in_4bit") is True:
        return "bitsandbytes_4bit"
    if block.get("load_in_8bit") is True:
        return "bitsandbytes_8bit"
    method = block.get("quant_method")
    if method == "bitsandbytes":
        return "bitsandbytes_4bit"  # from_config: neither flag set means 4-bit
    return method if isinstance(method, str) and method else None


def is_mlx_block(block: Any) -> bool:
    """mlx-lm's {"group_size": 64, "bits": 4, ...}: no quant_method, no load_in_*bit."""
    return (isinstance(block, Mapping) and isinstance(block.get("bits"), int)
            and isinstance(block.get("group_size"), int) and "quant_method" not in block
            and not block.get("load_in_4bit") and not block.get("load_in_8bit"))


def quantization_of(config: Mapping[str, Any] | None,
                    keys: Iterable[str]) -> Quantization | None:
    """The checkpoint's quantization, from config.json (`quantization_config`, or MLX's
    `quantization`) and its keys (a name -> shape mapping, or the names: shapes are not needed);
    None when it is not quantized, or when config.json names a method whyload does not know
    (`declared_method` tells what it names). Without a config block, the keys alone decide,
    from a marker only that method writes (bitsandbytes' quant_map, GPTQ's g_idx, MLX's .scales
    and .biases beside a .weight, ...)."""
    names = list(keys)
    config = config if isinstance(config, Mapping) else {}
    block = config.get("quantization_config")
    mlx = config.get("quantization")
    if isinstance(block, Mapping) and not is_mlx_block(block):
        name = method_name(block)
        method = METHODS.get(name or "")
        if method is None:
            return None  # unknown or unnamed: declared_method tells the checks what it says
        raw = block.get("quant_method")
        return _layout(method, names, "quantization_config", raw if isinstance(raw, str)
                       else None, block)
    if is_mlx_block(block) or is_mlx_block(mlx):
        chosen = block if is_mlx_block(block) else mlx
        assert isinstance(chosen, Mapping)
        return _layout(METHODS["mlx"], names, "quantization (MLX)", None, chosen)
    for name in _BY_KEYS:
        found = _layout(METHODS[name], names, "weights", None, {})
        if found.quantized_modules and _convincing(found, names):
            return found
    return None


def declared_method(config: Mapping[str, Any] | None) -> str | None:
    """What config.json's quantization_config names (quant_method, or bnb's load_in_*bit),
    whether or not whyload or transformers knows it; None without a block or a method."""
    block = config.get("quantization_config") if isinstance(config, Mapping) else None
    return method_name(block) if isinstance(block, Mapping) else None


def _convincing(found: Quantization, keys: list[str]) -> bool:
    """Keys alone decide only with the method's own marker on some module: a stray `scales` or
    `SCB` is no GPTQ or bitsandbytes checkpoint."""
    markers = {"bitsandbytes_4bit": "weight.quant_map", "bitsandbytes_8bit": "SCB",
               "gptq": "g_idx", "awq": "qzeros", "hqq": "W_q", "fp8": "weight_scale_inv",
               "compressed-tensors": "weight_packed", "torchao": "weight_qdata"}
    if found.method.name == "mlx":  # .scales and .biases beside the same packed .weight
        present = set(keys)
        return any(f"{m}.scales" in present and f"{m}.biases" in present
                   and f"{m}.weight" in present for m in found.quantized_modules)
    marker = markers[found.method.name]
    if found.method.name == "awq" and any(k.endswith(".g_idx") for k in keys):
        return False  # GPTQ
    return any(k.endswith("." + marker) or k == marker for k in keys)


def _layout(method: Method, keys: list[str], declared: str, quant_method: str | None,
            block: Mapping[str, Any]) -> Quantization:
    present = set(keys)
    suffixes = sorted(method.suffixes, key=len, reverse=True)  # weight.quant_map before quant_map
    by_last: dict[str, list[str]] = {}  # a key's last part picks the suffixes worth trying
    for suffix in suffixes:
        by_last.setdefault(suffix.rsplit(".", 1)[-1], []).append(suffix)
    extra: set[str] = set()
    packed: set[str] = set()
    modules: set[str] = set()
    for key in keys:
        for suffix in by_last.get(key.rpartition(".")[2], ()):
            if key.endswith("." + suffix):
                module = key[: -len(suffix) - 1]
                modules.add(module)
                extra.add(key)
                if suffix in method.packed_suffixes:
                    packed.add(key)
                break
    stored: set[str] = set()
    for module in modules:
        weight = f"{module}.weight"
        if weight not in present:
            stored.add(weight)
        elif method.weight_in_place:  # packed (bnb 4-bit, MLX), or int8/fp8 in the same shape
            packed.add(weight)
    return Quantization(method, declared, quant_method, dict(block), frozenset(packed),
                        frozenset(extra), frozenset(stored), frozenset(modules))


def bits_of(q: Quantization) -> int | None:
    """The weight bit width, where the method or its config states one."""
    if q.method.name == "bitsandbytes_4bit":
        return 4
    if q.method.name in ("bitsandbytes_8bit", "fp8"):
        return 8
    for key in ("bits", "w_bit", "nbits"):
        value = q.config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


# transformers 5.25's fp8 quantizer (FineGrainedFP8HfQuantizer.validate_environment): without a
# CUDA (or XPU) device, or on a GPU below compute capability 8.9, a pre-quantized checkpoint is
# dequantized to bf16 on load, with one of these warnings
FP8_NO_GPU = ("Using FP8 quantized models requires a GPU or XPU, we will default to "
              "dequantizing the model to bf16 since no GPU or XPU is available")
FP8_OLD_GPU = ("FP8 quantized models is only supported on GPUs with compute capability >= 8.9 "
               "(e.g 4090/H100), actual = `{capability}`. We will default to dequantizing the "
               "model to bf16.")
FP8_MIN_CAPABILITY = (8, 9)


def dequantized_on_load(q: Quantization, *, torch_has_cuda: bool | None,
                        capabilities: Sequence[str]) -> str | None:
    """The dtype transformers dequantizes `q`'s weights to on a machine whose torch has CUDA
    (None: not known) and whose visible GPUs have these compute capabilities ("8.6"); None when
    they stay quantized (or it cannot be told)."""
    if q.method.name != "fp8" or q.config.get("dequantize") is True:
        return "bfloat16" if q.method.name == "fp8" else None
    if torch_has_cuda is False:
        return "bfloat16"
    if torch_has_cuda and capabilities and all(
            _capability(c) < FP8_MIN_CAPABILITY for c in capabilities):
        return "bfloat16"
    return None


def _capability(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return (int(major), int(minor or 0)) if major.isdigit() and (minor or "0").isdigit() \
        else (0, 0)


def mismatches_are_packed(mismatched: Sequence[str], others: Sequence[str]) -> Quantization | None:
    """The quantization that explains shape mismatches a load reported (transformers' loading
    report names the mismatched keys and, as unexpected, the method's extra keys): then
    ignore_mismatched_sizes=True would replace quantized weights with random ones."""
    found = quantization_of(None, [*mismatched, *others])
    if found is None or not any(found.packed(k) for k in mismatched):
        return None
    return found


IGNORE_SIZES_ON_QUANTIZED = ("never pass ignore_mismatched_sizes=True here: these are "
                             "{title} packed weights, and it would replace every one of them "
                             "with random values")
