"""Quantized and converted checkpoints (WL360-WL364, WL542-WL543).

The checkpoints are a tiny BERT saved by transformers, rewritten with torch and safetensors into
each method's layout: the keys, dtypes and shape formulas of checkpoints bitsandbytes 0.50.2
saved on a CPU (4-bit nf4 with double quantization: U8 [numel/2, 1] + absmax U8 + nested_absmax
F32 [1] + nested_quant_map F32 [256] + quant_map F32 [16] + quant_state U8; 8-bit: I8 + SCB F32
[out] + weight_format U8 []), GPTQ's qweight/qzeros/scales/g_idx, fine-grained fp8, and mlx-lm's
uint32 words + scales + biases. Each real-library test shows what transformers (installed here
without accelerate, bitsandbytes, optimum or gptqmodel) really does with them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import codes, only

import whyload
from whyload.env.predict import predict_peak
from whyload.knowledge.quantization import (
    METHODS,
    dequantized_on_load,
    mismatches_are_packed,
    quantization_of,
)
from whyload.readers.tensors import TensorInfo
from whyload.report import Severity, Verdict

BNB_4BIT_CONFIG = {
    "_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "float16",
    "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_use_double_quant": True, "llm_int8_enable_fp32_cpu_offload": False,
    "llm_int8_has_fp16_weight": False, "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0,
    "load_in_4bit": True, "load_in_8bit": False, "quant_method": "bitsandbytes"}  # as saved
BNB_8BIT_CONFIG = {**BNB_4BIT_CONFIG, "_load_in_4bit": False, "_load_in_8bit": True,
                   "load_in_4bit": False, "load_in_8bit": True,
                   "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": False}
GPTQ_CONFIG = {"bits": 4, "group_size": 32, "desc_act": False, "sym": True,
               "quant_method": "gptq", "checkpoint_format": "gptq"}
FP8_CONFIG = {"quant_method": "fp8", "activation_scheme": "dynamic", "fmt": "e4m3",
              "weight_block_size": [128, 128]}
MLX_BLOCK = {"group_size": 32, "bits": 4}


def _linear(name: str, shape: tuple[int, ...]) -> bool:
    return name.endswith(".weight") and len(shape) == 2 and "embeddings" not in name


def _bnb4(t: dict) -> dict:  # type: ignore[type-arg]
    import torch

    out = {}
    for k, v in t.items():
        if not _linear(k, tuple(v.shape)):
            out[k] = v
            continue
        n = v.numel()
        out[k] = torch.zeros(((n + 1) // 2, 1), dtype=torch.uint8)
        out[k + ".absmax"] = torch.zeros(((n + 63) // 64,), dtype=torch.uint8)
        out[k + ".nested_absmax"] = torch.zeros((1,), dtype=torch.float32)
        out[k + ".nested_quant_map"] = torch.zeros((256,), dtype=torch.float32)
        out[k + ".quant_map"] = torch.zeros((16,), dtype=torch.float32)
        out[k + ".quant_state.bitsandbytes__nf4"] = torch.zeros((168,), dtype=torch.uint8)
    return out


def _bnb8(t: dict) -> dict:  # type: ignore[type-arg]
    import torch

    out = {}
    for k, v in t.items():
        out[k] = v
        if _linear(k, tuple(v.shape)):
            module = k.removesuffix(".weight")
            out[k] = torch.ones(v.shape, dtype=torch.int8)
            out[module + ".SCB"] = torch.ones((v.shape[0],), dtype=torch.float32)
            out[module + ".weight_format"] = torch.tensor(0, dtype=torch.uint8)
    return out


def _gptq(t: dict) -> dict:  # type: ignore[type-arg]
    import torch

    out = {}
    for k, v in t.items():
        if not _linear(k, tuple(v.shape)):
            out[k] = v
            continue
        rows, cols = v.shape  # [out, in]
        module = k.removesuffix(".weight")
        out[module + ".qweight"] = torch.zeros((cols * 4 // 32, rows), dtype=torch.int32)
        out[module + ".qzeros"] = torch.zeros(((cols + 31) // 32, rows * 4 // 32 or 1),
                                              dtype=torch.int32)
        out[module + ".scales"] = torch.ones(((cols + 31) // 32, rows), dtype=torch.float16)
        out[module + ".g_idx"] = torch.zeros((cols,), dtype=torch.int32)
    return out


def _fp8(t: dict) -> dict:  # type: ignore[type-arg]
    import torch

    out = dict(t)
    for k, v in t.items():
        if _linear(k, tuple(v.shape)):
            out[k] = v.to(torch.float8_e4m3fn)
            out[k.removesuffix("weight") + "weight_scale_inv"] = torch.ones(
                ((v.shape[0] + 127) // 128, (v.shape[1] + 127) // 128))
    return out


def _mlx(t: dict) -> dict:  # type: ignore[type-arg]
    import torch

    out = {}
    for k, v in t.items():
        if not _linear(k, tuple(v.shape)):
            out[k] = v
            continue
        rows, cols = v.shape
        module = k.removesuffix(".weight")
        out[k] = torch.zeros((rows, cols * 4 // 32), dtype=torch.uint32)
        out[module + ".scales"] = torch.ones((rows, cols // 32 or 1), dtype=torch.float16)
        out[module + ".biases"] = torch.zeros((rows, cols // 32 or 1), dtype=torch.float16)
    return out


def _quantize(src: Path, dst: Path, layout: Callable[[dict], dict],  # type: ignore[type-arg]
              **config: object) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    tensors = layout(load_file(str(src / "model.safetensors")))
    save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(config)
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    return dst


@pytest.fixture(scope="module")
def quantized(tmp_path_factory: pytest.TempPathFactory,
              safetensors_model: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("quantized")
    make = {
        "bnb4": (_bnb4, {"quantization_config": BNB_4BIT_CONFIG}),
        "bnb8": (_bnb8, {"quantization_config": BNB_8BIT_CONFIG}),
        "gptq": (_gptq, {"quantization_config": GPTQ_CONFIG, "dtype": "float16"}),
        "fp8": (_fp8, {"quantization_config": FP8_CONFIG}),
        "mlx": (_mlx, {"quantization": MLX_BLOCK}),
        "mlx-copied": (_mlx, {"quantization": MLX_BLOCK, "quantization_config": MLX_BLOCK}),
        "gptq-config-lost": (_gptq, {}),
        "bnb8-config-lost": (_bnb8, {}),
        "no-method": (_gptq, {"quantization_config": {"bits": 4, "group_size": 32,
                                                      "desc_act": False}}),
        "typo": (_gptq, {"quantization_config": {**GPTQ_CONFIG, "quant_method": "gptq-v2"}}),
    }
    return {name: _quantize(safetensors_model, root / f"q-{name}", layout, **config)
            for name, (layout, config) in make.items()}


def _raises(folder: Path) -> str:
    from transformers import AutoModelForSequenceClassification

    try:
        AutoModelForSequenceClassification.from_pretrained(folder)
    except Exception as exc:  # the real library's own text is the point
        return f"{type(exc).__name__}: {exc}"
    return ""


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


needs_no_accelerate = pytest.mark.skipif(_installed("accelerate"),
                                         reason="accelerate is installed here")


# --- recognising the method -----------------------------------------------------------------------


def test_each_layout_is_recognised_from_config_and_keys(quantized: dict[str, Path]) -> None:
    from safetensors import safe_open

    def of(name: str) -> tuple[str, str] | None:
        folder = quantized[name]
        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            keys = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
        q = quantization_of(json.loads((folder / "config.json").read_text()), keys)
        return (q.name, q.declared) if q else None

    assert of("bnb4") == ("bitsandbytes_4bit", "quantization_config")
    assert of("bnb8") == ("bitsandbytes_8bit", "quantization_config")
    assert of("gptq") == ("gptq", "quantization_config")
    assert of("fp8") == ("fp8", "quantization_config")
    assert of("mlx") == ("mlx", "quantization (MLX)")
    assert of("mlx-copied") == ("mlx", "quantization (MLX)")
    assert of("gptq-config-lost") == ("gptq", "weights")
    assert of("bnb8-config-lost") == ("bitsandbytes_8bit", "weights")
    assert of("typo") is None  # a method whyload does not know: WL364 says so


def test_packed_added_and_stored_keys() -> None:
    keys = {"bert.encoder.layer.0.intermediate.dense.weight": (592, 1),
            "bert.encoder.layer.0.intermediate.dense.weight.absmax": (19,),
            "bert.encoder.layer.0.intermediate.dense.weight.quant_map": (16,),
            "bert.encoder.layer.0.intermediate.dense.weight.quant_state.bitsandbytes__nf4": (168,),
            "bert.encoder.layer.0.intermediate.dense.bias": (37,),
            "bert.embeddings.word_embeddings.weight": (99, 32)}
    q = quantization_of({"quantization_config": BNB_4BIT_CONFIG}, keys)
    assert q is not None
    assert q.packed("bert.encoder.layer.0.intermediate.dense.weight")
    assert q.adds("bert.encoder.layer.0.intermediate.dense.weight.absmax")
    assert not q.packed("bert.embeddings.word_embeddings.weight")
    assert not q.quantized("bert.encoder.layer.0.intermediate.dense.bias")
    gptq = quantization_of({"quantization_config": GPTQ_CONFIG},
                           ["m.qweight", "m.qzeros", "m.scales", "m.g_idx", "m.bias"])
    assert gptq is not None and gptq.stores("m.weight") and gptq.packed("m.qweight")
    assert gptq.adds("m.scales") and not gptq.quantized("m.bias")


def test_plain_checkpoints_are_not_quantized(safetensors_model: Path) -> None:
    assert quantization_of(json.loads((safetensors_model / "config.json").read_text()),
                           ["bert.encoder.layer.0.attention.self.query.weight"]) is None
    # a stray name of a method without its marker decides nothing
    assert quantization_of({}, ["m.weight", "m.scales", "m.SCB2"]) is None
    report = whyload.check(str(safetensors_model))
    assert not [c for c in codes(report) if c.startswith(("WL36", "WL54"))]
    assert "quantization" not in report.facts


# --- the environment: what from_pretrained checks before it reads a weight -----------------------


@needs_no_accelerate
def test_bnb_4bit_without_accelerate(quantized: dict[str, Path]) -> None:
    raised = _raises(quantized["bnb4"])
    assert raised == ("ImportError: Using `bitsandbytes` 4-bit quantization requires accelerate: "
                      "`pip install 'accelerate>=1.1.0'`")
    report = whyload.check(str(quantized["bnb4"]))
    f = only(report, "WL542")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS
    assert f.evidence["raises"] == raised
    assert f.evidence["unmet"] == {"accelerate": "missing", "bitsandbytes": "missing"}
    assert "accelerate>=1.1.0" in f.fix and "bitsandbytes>=0.46.1" in f.fix and "pip" in f.fix
    info = only(report, "WL360")
    assert info.severity is Severity.INFO and info.evidence["method"] == "bitsandbytes_4bit"
    assert info.evidence["bits"] == 4 and info.evidence["quantized_layers"] == 14


@needs_no_accelerate
def test_gptq_and_fp8_backends(quantized: dict[str, Path]) -> None:
    gptq = _raises(quantized["gptq"])
    assert gptq == "ImportError: Loading a GPTQ quantized model requires optimum (`pip install " \
        "optimum`)"
    f = only(whyload.check(str(quantized["gptq"])), "WL542")
    assert f.evidence["raises"] == gptq and "gptqmodel>=1.4.3" in f.fix
    fp8 = _raises(quantized["fp8"])
    assert fp8 == "ImportError: Loading an FP8 quantized model requires accelerate (`pip install " \
        "accelerate`)"
    assert only(whyload.check(str(quantized["fp8"])), "WL542").evidence["raises"] == fp8


def test_backend_installed_in_the_target_interpreter(quantized: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """The versions are those of the interpreter that loads the model (another venv's here);
    whyload imports nothing of them."""
    from test_environment import machine

    env = machine(tmp_path)
    ready = dataclasses.replace(env, versions={**env.versions, "accelerate": "1.16.0",
                                               "bitsandbytes": "0.50.2"})
    assert "WL542" not in codes(whyload.check(str(quantized["bnb4"]), environment=ready))
    old = dataclasses.replace(env, versions={**env.versions, "accelerate": "1.16.0",
                                             "bitsandbytes": "0.45.0"})
    f = only(whyload.check(str(quantized["bnb4"]), environment=old), "WL542")
    assert f.evidence["unmet"] == {"bitsandbytes": "0.45.0 is older than 0.46.1"}
    assert f.evidence["raises"].endswith("`pip install -U bitsandbytes>=0.46.1`")
    assert f.fix.endswith("'bitsandbytes>=0.46.1'")


def test_fp8_without_a_gpu_is_dequantized(quantized: dict[str, Path], tmp_path: Path) -> None:
    """transformers 5.25 on this CPU-only torch: "Using FP8 quantized models requires a GPU or
    XPU, we will default to dequantizing the model to bf16"."""
    from test_environment import machine

    from whyload.env.versions import TorchBuild

    cpu = machine(tmp_path, torch_build=TorchBuild("2.13.0", None, None))
    report = whyload.check(str(quantized["fp8"]), environment=cpu)
    f = only(report, "WL543")
    assert f.severity is Severity.WARNING and f.evidence["bf16_bytes"] == 2 * f.evidence[
        "fp8_bytes"]
    assert "dequantizing the model to bf16" in str(f.evidence["warning"])
    assert report.facts["predicted_peak"]["quantized"]["dequantized_to"] == "bfloat16"
    cuda = machine(tmp_path, torch_build=TorchBuild("2.13.0", "12.8", None))
    assert "WL543" not in codes(whyload.check(str(quantized["fp8"]), environment=cuda))
    q = quantization_of({"quantization_config": FP8_CONFIG}, ["m.weight", "m.weight_scale_inv"])
    assert q is not None
    assert dequantized_on_load(q, torch_has_cuda=True, capabilities=["8.6"]) == "bfloat16"
    assert dequantized_on_load(q, torch_has_cuda=True, capabilities=["9.0"]) is None


# --- memory: the stored bytes, never a dequantized estimate --------------------------------------


def test_memory_counts_the_packed_bytes(quantized: dict[str, Path]) -> None:
    report = whyload.check(str(quantized["bnb4"]), dtype="float16")
    peak = report.facts["predicted_peak"]
    tensor_bytes = report.facts["tensor_bytes"]
    assert peak["quantized"]["method"] == "bitsandbytes_4bit"
    assert peak["quantized"]["kept_as_stored"] > 0
    # float16 halves only the tensors that are not quantized; the packed ones stay as stored
    assert peak["parts"]["weights"] < tensor_bytes
    assert peak["parts"]["weights"] > peak["quantized"]["kept_as_stored"]


def test_predict_peak_keeps_quantized_tensors_as_stored() -> None:
    tensors = {"w": TensorInfo("F8_E4M3", (1024, 1024)), "b": TensorInfo("F32", (1024,))}
    plain = predict_peak(tensors, legacy=False, dtype="bfloat16", device="cuda")
    kept = predict_peak(tensors, legacy=False, dtype="bfloat16", device="cuda",
                        quantized={"w"}, method="fp8")
    assert plain.device - kept.device == 1024 * 1024  # fp8 stays one byte, not bf16's two
    assert kept.quantized == {"method": "fp8", "dequantized_to": None,
                              "kept_as_stored": 1024 * 1024}


# --- MLX conversions -----------------------------------------------------------------------------


def test_mlx_conversion_cannot_load(quantized: dict[str, Path]) -> None:
    assert _raises(quantized["mlx"]).startswith(
        "RuntimeError: You set `ignore_mismatched_sizes` to `False`, thus raising an error.")
    f = only(whyload.check(str(quantized["mlx"])), "WL361")
    assert f.severity is Severity.ERROR and f.evidence["example_dtype"] == "U32"
    assert f.evidence["quantization_config_copied"] is False
    assert "mlx_lm" in f.fix and "--dequantize" in f.fix
    assert "ignore_mismatched_sizes=True" not in f.fix


def test_mlx_block_copied_to_quantization_config(quantized: dict[str, Path]) -> None:
    raised = _raises(quantized["mlx-copied"])
    assert raised == ("ValueError: The model's quantization config from the arguments has no "
                      "`quant_method` attribute. Make sure that the model has been correctly "
                      "quantized")
    report = whyload.check(str(quantized["mlx-copied"]))
    f = only(report, "WL361")
    assert f.evidence["raises"] == raised and f.evidence["quantization_config_copied"] is True
    assert "WL363" not in codes(report)  # superseded: WL361 says it better


def test_explain_never_suggests_random_weights_for_packed_ones(
        quantized: dict[str, Path]) -> None:
    """transformers' loading report of the MLX load lists the packed weights as MISMATCH and
    their scales as UNEXPECTED: explain names the conversion, not a config size."""
    import io
    import logging

    from transformers.utils import logging as hf_logging

    log = io.StringIO()
    handler = logging.StreamHandler(log)
    hf_logging.get_logger().addHandler(handler)
    try:
        raised = _raises(quantized["mlx"])
    finally:
        hf_logging.get_logger().removeHandler(handler)
    text = log.getvalue() + "\n" + raised
    assert "LOAD REPORT" in text and "MISMATCH" in text
    findings = [f for f in whyload.explain(text).findings if f.code == "WL361"]
    assert findings and all("ignore_mismatched_sizes=True here" in f.fix or
                            "ignore_mismatched_sizes" not in f.fix for f in findings)
    packed = mismatches_are_packed(["bert.encoder.layer.{0, 1}.attention.self.key.weight"],
                                   ["bert.encoder.layer.{0, 1}.attention.self.key.scales",
                                    "bert.encoder.layer.{0, 1}.attention.self.key.biases"])
    assert packed is not None and packed.name == "mlx"


# --- config.json against the weights -------------------------------------------------------------


def test_gptq_weights_without_their_config_load_random(quantized: dict[str, Path]) -> None:
    from transformers import AutoModelForSequenceClassification

    _, info = AutoModelForSequenceClassification.from_pretrained(
        quantized["gptq-config-lost"], output_loading_info=True)
    assert "bert.encoder.layer.0.attention.self.query.weight" in info["missing_keys"]
    assert "bert.encoder.layer.0.attention.self.query.qweight" in info["unexpected_keys"]
    report = whyload.check(str(quantized["gptq-config-lost"]))
    f = only(report, "WL362")
    assert f.effect.value == "silent" and f.evidence["method"] == "gptq"
    assert report.verdict is Verdict.LOADS_BROKEN
    assert '"gptq"' in f.fix


def test_int8_weights_without_their_config_load_unscaled(quantized: dict[str, Path]) -> None:
    from transformers import AutoModelForSequenceClassification

    model, info = AutoModelForSequenceClassification.from_pretrained(
        quantized["bnb8-config-lost"], output_loading_info=True)
    assert not info["missing_keys"] and not info["mismatched_keys"]  # no error, no warning...
    assert "bert.pooler.dense.SCB" in info["unexpected_keys"]
    # ...and the int8 values are read as floats, without their scales
    assert float(model.bert.pooler.dense.weight.detach().abs().max()) == 1.0
    f = only(whyload.check(str(quantized["bnb8-config-lost"])), "WL362")
    assert f.effect.value == "silent" and f.evidence["method"] == "bitsandbytes_8bit"


def test_quantization_config_without_method(quantized: dict[str, Path]) -> None:
    assert _raises(quantized["no-method"]).startswith(
        "ValueError: The model's quantization config from the arguments has no `quant_method`")
    f = only(whyload.check(str(quantized["no-method"])), "WL363")
    assert f.severity is Severity.ERROR and f.evidence["weights_look"] == "gptq"
    assert '"quant_method": "gptq"' in f.fix


def test_unknown_quant_method_is_skipped(quantized: dict[str, Path]) -> None:
    from transformers import AutoModelForSequenceClassification

    _, info = AutoModelForSequenceClassification.from_pretrained(
        quantized["typo"], output_loading_info=True)  # "Unknown quantization type": skipped
    assert "bert.encoder.layer.0.attention.self.query.weight" in info["missing_keys"]
    f = only(whyload.check(str(quantized["typo"])), "WL364")
    assert f.severity is Severity.ERROR and f.evidence["quant_method"] == "gptq-v2"
    assert f.evidence["weights_look"] == "gptq"


def test_a_leftover_unknown_block_on_plain_weights_is_a_warning(copy_of: Callable[[Path], Path],
                                                                safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "mystery"}
    (folder / "config.json").write_text(json.dumps(cfg))
    report = whyload.check(str(folder))
    f = only(report, "WL364")
    assert f.severity is Severity.WARNING and f.evidence["weights_look"] is None
    assert report.verdict is Verdict.LOADS


def test_every_method_names_its_backends_as_transformers_does() -> None:
    """The texts are copied from transformers' quantizers; they name the same requirement."""
    for method in METHODS.values():
        for backend in method.backends:
            assert backend.distribution.replace("-", "_") in backend.error.replace("-", "_") \
                or backend.distribution == "torchao"
    assert not METHODS["mlx"].transformers_loads


# --- the architecture checks see the weights as the quantizer loads them ------------------------


@pytest.mark.parametrize("name", ["bnb4", "bnb8", "gptq", "fp8"])
def test_packed_and_added_keys_are_no_architecture_problem(quantized: dict[str, Path],
                                                           name: str) -> None:
    """Packed shapes are no size mismatch, scales and zeros no unused weights, GPTQ's qweight no
    missing weight: the prediction the architecture checks read leaves them out once."""
    from whyload.pipeline import examine

    exam = examine(str(quantized[name]))
    view = exam.snapshot.view
    assert view.prediction is not None
    assert not view.prediction.mismatched
    assert not view.prediction.unexpected
    assert not view.prediction.missing
    assert not {"WL402", "WL403", "WL404"} & set(exam.report("x").codes())


def test_a_quantized_mismatch_never_suggests_ignore_mismatched_sizes(
        quantized: dict[str, Path], copy_of: Callable[[Path], Path]) -> None:
    """A real size mismatch in a quantized checkpoint (the embeddings, which bitsandbytes leaves
    unquantized, against an edited vocab_size): the fix does not offer ignore_mismatched_sizes,
    which would replace the quantized weights with random ones."""
    folder = copy_of(quantized["bnb8"])
    config = json.loads((folder / "config.json").read_text())
    config["vocab_size"] += 8
    (folder / "config.json").write_text(json.dumps(config))
    report = whyload.check(str(folder))
    assert "WL310" in report.codes()
    assert not [f.code for f in report.findings if "ignore_mismatched_sizes=True" in (f.fix or "")
                and "never" not in (f.fix or "")]
