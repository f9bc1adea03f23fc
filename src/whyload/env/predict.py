"""How much memory loading a checkpoint takes, predicted from its headers.

transformers 5 builds the model on the meta device and then fills it from the checkpoint:
safetensors and torch-zip files are memory-mapped and used in place when no dtype conversion is
needed (their pages become resident as the weights are first used); a legacy (torch < 1.6) pickle
is read into memory whole and used in place too; a conversion (float32 on disk to float16) makes
a copy while the stored tensors are read. On top of the weights comes the runtime itself: torch
and transformers imported. benchmarks/run.py compares these predictions with real loads
(within 8.5% from a tiny BERT to BERT-base, safetensors, zip and legacy .bin, f32 and f16).

A quantized checkpoint's quantizer keeps its packed weights and their scales as stored (uint8,
int32, int8, fp8): they are counted at the file's own bytes, never at a dequantized size, and a
requested dtype converts only the other tensors. Where transformers dequantizes instead (fp8
without a GPU that runs it), those weights are counted in the dtype they become.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from whyload.readers.tensors import DTYPE_BITS, TensorInfo

MiB = 1 << 20
RUNTIME_BYTES = {"cpu": 440 * MiB, "cuda": 1100 * MiB}  # import torch + transformers (+ CUDA)
CUDA_CONTEXT_BYTES = 500 * MiB
DTYPES = {"float32": "F32", "fp32": "F32", "float16": "F16", "fp16": "F16", "half": "F16",
          "bfloat16": "BF16", "bf16": "BF16", "float64": "F64"}


@dataclass(frozen=True)
class PeakEstimate:
    host: int  # peak resident bytes of the loading process
    device: int  # bytes on the GPU (0 for a CPU load)
    parts: Mapping[str, int]  # what the host peak is made of
    weights_dtype: str  # the dtype the weights end up in
    # what a quantized checkpoint's weights were counted as: {"method", "kept_as_stored" bytes,
    # "dequantized_to"}; empty for a checkpoint that is not quantized
    quantized: Mapping[str, str | int | None] = field(default_factory=dict)


def predict_peak(tensors: Mapping[str, TensorInfo], *, legacy: bool, dtype: str | None,
                 device: str, quantized: Collection[str] = (), method: str | None = None,
                 dequantized_to: str | None = None) -> PeakEstimate:
    """`quantized`: the keys a quantizer (`method`) keeps as stored, at their file bytes; with
    `dequantized_to` it turns them into that dtype instead (counted at their numel)."""
    target = DTYPES.get(dtype or "")
    stored = sum(t.nbytes for t in tensors.values())
    kept = set(quantized)
    dequantize = DTYPES.get(dequantized_to or "")

    def loaded_bytes(key: str, t: TensorInfo) -> int:
        if key in kept:
            return t.numel * DTYPE_BITS[dequantize] // 8 if dequantize else t.nbytes
        if t.dtype.startswith(("F", "BF")):
            return t.numel * DTYPE_BITS.get(target or t.dtype, 0) // 8
        return t.nbytes

    converted = sum(loaded_bytes(k, t) for k, t in tensors.items())
    conversion = converted != stored
    parts: dict[str, int] = {"runtime": RUNTIME_BYTES["cuda" if device == "cuda" else "cpu"]}
    if device == "cuda":
        parts["staging"] = max((t.nbytes for t in tensors.values()), default=0) * 2
        gpu = converted + CUDA_CONTEXT_BYTES
    else:
        # without a conversion the stored tensors (mapped, or unpickled whole) are the weights;
        # a conversion reads them all while it writes the converted copy
        parts["weights"] = converted
        if conversion:
            parts["unpickled state dict" if legacy else "mapped checkpoint pages"] = stored
        gpu = 0
    counted: dict[str, str | int | None] = {}
    if method is not None:
        counted = {"method": method, "dequantized_to": dequantized_to,
                   "kept_as_stored": 0 if dequantize else sum(
                       t.nbytes for k, t in tensors.items() if k in kept)}
    return PeakEstimate(host=sum(parts.values()), device=gpu, parts=parts,
                        weights_dtype=target or _dominant(tensors), quantized=counted)


def _dominant(tensors: Mapping[str, TensorInfo]) -> str:
    by_dtype: dict[str, int] = {}
    for t in tensors.values():
        by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.nbytes
    return max(by_dtype, key=lambda d: by_dtype[d]) if by_dtype else "?"
