"""Folders people really save that are not transformers folders: each is built with real files,
loaded once by real transformers (the error it raises is asserted), then checked by whyload for
the code, the verdict and the command that gets a loadable folder."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import codes, only

import whyload
from whyload import Severity, Verdict

UNRECOGNIZED = "Should have a `model_type` key in its config.json"
NO_WEIGHTS = "Error no file named model.safetensors, or pytorch_model.bin, found in directory"


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))


def _tiny_bert():  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=10,
                                max_position_embeddings=16))


def transformers_error(folder: Path, **kwargs: object) -> str:
    """What AutoModel.from_pretrained raises on the folder, as 'Type: message'."""
    import transformers

    try:
        transformers.AutoModel.from_pretrained(folder, **kwargs)
    except Exception as exc:  # the test asserts on the text
        return f"{type(exc).__name__}: {exc}"
    return "loaded"


def run_fix(command: str) -> None:
    """A finding's fix, pasted into a shell whose `python` is this interpreter."""
    import os

    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(command, shell=True, capture_output=True, text=True,
                          env={**os.environ, "PATH": path}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def _fails_with(report: whyload.Report, code: str) -> whyload.Finding:
    f = only(report, code)
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS, codes(report)
    return f


# ---- 1. diffusers ------------------------------------------------------------------------------

@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    """A Stable Diffusion pipeline's layout: model_index.json, diffusers components (hand-written
    config, a real tiny safetensors), a real transformers CLIPTextModel in text_encoder/."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    root = tmp_path / "sd"
    _write_json(root / "model_index.json", {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "PNDMScheduler"], "safety_checker": [None, None],
        "requires_safety_checker": False})
    for part, cls in (("unet", "UNet2DConditionModel"), ("vae", "AutoencoderKL")):
        _write_json(root / part / "config.json",
                    {"_class_name": cls, "_diffusers_version": "0.30.0", "in_channels": 4})
        save_file({"conv_in.weight": torch.zeros(4, 4, 3, 3)},
                  str(root / part / "diffusion_pytorch_model.safetensors"))
    CLIPTextModel(CLIPTextConfig(vocab_size=50, hidden_size=16, intermediate_size=20,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 max_position_embeddings=16, projection_dim=8,
                                 bos_token_id=0, eos_token_id=1, pad_token_id=1)
                  ).save_pretrained(root / "text_encoder")
    _write_json(root / "scheduler" / "scheduler_config.json",
                {"_class_name": "PNDMScheduler", "_diffusers_version": "0.30.0"})
    return root


def test_diffusers_pipeline_names_components_and_the_loader(pipeline: Path) -> None:
    # transformers 5: "ValueError: Unrecognized model in …/sd. Should have a `model_type` key in
    # its config.json." (the root has no config.json)
    assert UNRECOGNIZED in transformers_error(pipeline)
    f = _fails_with(whyload.check(str(pipeline)), "WL107")
    assert "StableDiffusionPipeline" in f.title
    assert f.evidence["components"]["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert f.evidence["transformers_components"] == ["text_encoder"]
    assert f.evidence["missing_components"] == ["tokenizer"]  # named, no tokenizer/ folder
    assert "DiffusionPipeline.from_pretrained(" in f.fix
    assert "CLIPTextModel.from_pretrained(" in f.fix and "subfolder='text_encoder'" in f.fix
    assert f"whyload check {pipeline / 'text_encoder'}" in f.fix


def test_transformers_component_of_a_pipeline_loads(pipeline: Path) -> None:
    assert transformers_error(pipeline, subfolder="text_encoder") == "loaded"
    report = whyload.check(str(pipeline / "text_encoder"))
    assert report.verdict is Verdict.LOADS and not report.failed(Severity.WARNING), codes(report)


def test_diffusers_component_is_named(pipeline: Path) -> None:
    unet = pipeline / "unet"
    assert UNRECOGNIZED in transformers_error(unet)
    report = whyload.check(str(unet))
    f = _fails_with(report, "WL108")
    assert f.evidence["class_name"] == "UNet2DConditionModel"
    assert "from diffusers import UNet2DConditionModel" in f.fix
    assert f"DiffusionPipeline.from_pretrained({str(pipeline)!r})" in f.fix
    assert "WL105" not in codes(report) and "WL303" not in codes(report)  # no mv, no model_type


# ---- 2. torch.distributed.checkpoint (FSDP) -------------------------------------------------

def _dcp_save(state: dict, folder: Path) -> None:
    import torch.distributed.checkpoint as dcp

    dcp.save(state, checkpoint_id=str(folder))  # no process group: a single-rank save


def test_distributed_checkpoint_merges_with_torch_format_utils(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    model = _tiny_bert()
    folder = tmp_path / "dcp"
    _dcp_save({"model": model.state_dict()}, folder)
    model.config.save_pretrained(folder)
    assert sorted(p.name for p in folder.iterdir()) == [".metadata", "__0_0.distcp",
                                                        "config.json"]
    assert NO_WEIGHTS in transformers_error(folder)
    f = _fails_with(whyload.check(str(folder)), "WL116")
    assert f.evidence["shards"] == ["__0_0.distcp"]
    assert ("python -m torch.distributed.checkpoint.format_utils dcp_to_torch "
            f"{folder}" in f.fix)
    # the command, run as is, gives a folder transformers loads with the same tensors
    run_fix(f.fix)
    merged = tmp_path / "dcp-merged"
    tensors = load_file(str(merged / "model.safetensors"))
    assert all(torch.equal(tensors[k], v) for k, v in model.state_dict().items())
    assert transformers_error(merged) == "loaded"
    assert whyload.check(str(merged)).verdict is not Verdict.FAILS


def test_accelerate_fsdp_folder_names_merge_weights(tmp_path: Path) -> None:
    model = _tiny_bert()
    ckpt = tmp_path / "checkpoint-10"
    _dcp_save({"model": model.state_dict()}, ckpt / "pytorch_model_fsdp_0")
    model.config.save_pretrained(ckpt)
    assert NO_WEIGHTS in transformers_error(ckpt)
    report = whyload.check(str(ckpt))
    f = _fails_with(report, "WL116")
    assert f.evidence["folder"] == "pytorch_model_fsdp_0/"
    assert f.fix.startswith(f"accelerate merge-weights {ckpt / 'pytorch_model_fsdp_0'} ")
    assert "WL100" not in codes(report)


# ---- 3. DeepSpeed ZeRO ----------------------------------------------------------------------

def _deepspeed_checkpoint(folder: Path, *, step: int = 20, latest: bool = True) -> Path:
    """What a Trainer with DeepSpeed ZeRO-2 leaves when it does not gather the weights: the
    states DeepSpeed pickles per rank (torch.save of its dicts), latest, zero_to_fp32.py."""
    import torch

    model = _tiny_bert()
    step_dir = folder / f"global_step{step}"
    step_dir.mkdir(parents=True)
    model.config.save_pretrained(folder)
    torch.save({"module": model.state_dict(), "buffer_names": [], "optimizer": None,
                "param_shapes": [{}], "ds_config": {}, "ds_version": "0.16.0"},
               step_dir / "mp_rank_00_model_states.pt")
    torch.save({"optimizer_state_dict": {"zero_stage": 2, "partition_count": 1},
                "ds_config": {}, "ds_version": "0.16.0"},
               step_dir / "zero_pp_rank_0_mp_rank_00_optim_states.pt")
    if latest:
        (folder / "latest").write_text(f"global_step{step}")
    (folder / "zero_to_fp32.py").write_text("#!/usr/bin/env python\nimport argparse\n")
    _write_json(folder / "trainer_state.json", {"global_step": step})
    return folder


def test_deepspeed_checkpoint_names_zero_to_fp32(tmp_path: Path) -> None:
    folder = _deepspeed_checkpoint(tmp_path / "checkpoint-20")
    assert NO_WEIGHTS in transformers_error(folder)
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL117")
    assert f.evidence["latest"] == "global_step20" and f.evidence["chosen"] == "global_step20"
    # zero_to_fp32.py CHECKPOINT_DIR OUTPUT_DIR [--safe_serialization] [-t TAG] (DeepSpeed's
    # argparse); `latest` names the step, so no -t
    assert f.fix == (f"cd {folder} && python zero_to_fp32.py . {tmp_path / 'checkpoint-20-fp32'}"
                     " --safe_serialization && cp config.json "
                     f"{tmp_path / 'checkpoint-20-fp32'}/")
    assert "WL100" not in codes(report)


def test_deepspeed_without_latest_names_the_step(tmp_path: Path) -> None:
    folder = _deepspeed_checkpoint(tmp_path / "run", step=7, latest=False)
    f = only(whyload.check(str(folder)), "WL117")
    assert "-t global_step7" in f.fix


def test_deepspeed_step_folder_itself(tmp_path: Path) -> None:
    folder = _deepspeed_checkpoint(tmp_path / "run") / "global_step20"
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL117")
    assert f.fix.startswith(f"cd {tmp_path / 'run'} && python -m deepspeed.utils.zero_to_fp32 .")
    assert "-t global_step20" in f.fix and "WL105" not in codes(report)


def test_deepspeed_checkpoint_with_gathered_weights_is_healthy(tmp_path: Path) -> None:
    folder = _deepspeed_checkpoint(tmp_path / "checkpoint-20")
    _tiny_bert().save_pretrained(folder)  # stage3_gather_16bit_weights_on_model_save / ZeRO-2
    assert transformers_error(folder) == "loaded"
    assert "WL117" not in codes(whyload.check(str(folder)))


# ---- 4. an interrupted hf download --local-dir ------------------------------------------------

def _local_dir(folder: Path, *, interrupted: bool) -> Path:
    """The bookkeeping huggingface_hub's own functions write (_local_folder.py): config.json
    complete, model.safetensors cut (its lock and its <hash>.<etag>.incomplete, no metadata)."""
    from huggingface_hub._local_folder import get_local_download_paths, write_download_metadata

    folder.mkdir()
    model = _tiny_bert()
    model.config.save_pretrained(folder)
    write_download_metadata(folder, "config.json", commit_hash="a" * 40, etag="b" * 40)
    paths = get_local_download_paths(folder, "model.safetensors")
    if interrupted:
        paths.lock_path.touch()
        paths.incomplete_path("c" * 64).write_bytes(b"\x00" * 1000)
    else:
        model.save_pretrained(folder)
        write_download_metadata(folder, "model.safetensors", commit_hash="a" * 40,
                                etag="c" * 64)
    return folder


def test_interrupted_local_dir_download_names_the_file(tmp_path: Path) -> None:
    folder = _local_dir(tmp_path / "bert", interrupted=True)
    assert NO_WEIGHTS in transformers_error(folder)
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL153")
    assert f.evidence["files"] == ["model.safetensors"]
    assert f.evidence["missing"] == ["model.safetensors"]
    assert f"hf download REPO --local-dir {folder}" in f.fix and "resumes" in f.fix
    assert "WL100" not in codes(report)


def test_interrupted_download_names_the_repo_from_config(tmp_path: Path) -> None:
    folder = _local_dir(tmp_path / "bert", interrupted=True)
    config = json.loads((folder / "config.json").read_text())
    _write_json(folder / "config.json", {**config, "_name_or_path": "google-bert/bert-base-cased"})
    f = only(whyload.check(str(folder)), "WL153")
    assert f.fix.startswith(f"hf download google-bert/bert-base-cased --local-dir {folder}")


def test_finished_local_dir_download_is_healthy(tmp_path: Path) -> None:
    folder = _local_dir(tmp_path / "bert", interrupted=False)
    assert transformers_error(folder) == "loaded"
    report = whyload.check(str(folder))
    assert "WL153" not in codes(report) and report.verdict is not Verdict.FAILS


# ---- 5. Keras 3 / KerasHub --------------------------------------------------------------------

def test_keras_hub_preset_names_keras_hub(tmp_path: Path) -> None:
    """A KerasHub preset's files as keras_hub writes them (JSON by hand, an HDF5 signature)."""
    folder = tmp_path / "gemma_2b_en"
    obj = {"module": "keras_hub.src.models.gemma.gemma_backbone", "class_name": "GemmaBackbone",
           "config": {"name": "gemma_backbone", "vocabulary_size": 256000, "num_layers": 18},
           "registered_name": "keras_hub>GemmaBackbone"}
    _write_json(folder / "config.json", obj)
    _write_json(folder / "metadata.json", {"keras_version": "3.5.0",
                                           "keras_hub_version": "0.15.1",
                                           "parameter_count": 2506172416})
    _write_json(folder / "task.json", {**obj, "class_name": "GemmaCausalLM",
                                       "registered_name": "keras_hub>GemmaCausalLM"})
    (folder / "model.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 2000)
    assert UNRECOGNIZED in transformers_error(folder)
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL109")
    assert f.evidence["keras_version"] == "3.5.0" and f.evidence["library"] == "keras_hub"
    assert f"keras_hub.models.GemmaCausalLM.from_preset({str(folder)!r})" in f.fix
    assert "WL303" not in codes(report)


def test_keras_file_names_load_model(tmp_path: Path) -> None:
    import zipfile

    folder = tmp_path / "k"
    folder.mkdir()
    with zipfile.ZipFile(folder / "model.keras", "w") as z:  # what model.save("x.keras") zips
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        z.writestr("config.json", json.dumps({"module": "keras", "class_name": "Sequential"}))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    f = only(whyload.check(str(folder)), "WL109")
    assert f"keras.saving.load_model({str(folder / 'model.keras')!r})" in f.fix


# ---- 6. GGUF ----------------------------------------------------------------------------------

def test_gguf_only_names_gguf_file_and_the_package(tmp_path: Path) -> None:
    folder = tmp_path / "gguf"
    folder.mkdir()
    name = "tinyllama.Q4_K_M.gguf"
    (folder / name).write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0))  # v3, no tensors, no kv
    assert UNRECOGNIZED in transformers_error(folder)
    # told the file, transformers reads its header itself: "… has no `general.architecture` in
    # its metadata." (a real GGUF has one); the tensors need gguf: "Please install torch and
    # gguf>=0.10.0 to load a GGUF checkpoint in PyTorch."
    assert "general.architecture" in transformers_error(folder, gguf_file=name)
    f = _fails_with(whyload.check(str(folder)), "WL104")
    assert f"from_pretrained({str(folder)!r}, gguf_file={name!r})" in f.fix
    assert "pip install 'gguf>=0.10.0'" in f.fix


# ---- 7. original releases ---------------------------------------------------------------------

def test_openai_whisper_checkpoint_names_the_conversion_script(tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "whisper"
    folder.mkdir()
    dims = {"n_mels": 80, "n_vocab": 51865, "n_audio_ctx": 1500, "n_audio_state": 8,
            "n_audio_head": 2, "n_audio_layer": 1, "n_text_ctx": 448, "n_text_state": 8,
            "n_text_head": 2, "n_text_layer": 1}
    torch.save({"dims": dims, "model_state_dict": {
        "encoder.conv1.weight": torch.zeros(8, 80, 3),
        "decoder.token_embedding.weight": torch.zeros(16, 8)}}, folder / "tiny.pt")
    assert UNRECOGNIZED in transformers_error(folder)
    # the wheel ships no conversion scripts: python -m transformers.models.whisper.
    # convert_openai_to_hf says "No module named transformers.models.whisper.convert_openai_to_hf"
    gone = subprocess.run([sys.executable, "-m",
                           "transformers.models.whisper.convert_openai_to_hf", "--help"],
                          capture_output=True, text=True)
    assert "No module named" in gone.stderr
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL118")
    assert f.evidence["top_keys"] == ["dims", "model_state_dict"]
    assert "src/transformers/models/whisper/convert_openai_to_hf.py" in f.fix
    assert (f"python convert_openai_to_hf.py --checkpoint_path {folder / 'tiny.pt'} "
            f"--pytorch_dump_folder_path {tmp_path / 'whisper-hf'}") in f.fix
    assert "WL105" not in codes(report)  # not "mv tiny.pt pytorch_model.bin"


def test_meta_consolidated_release_names_the_llama_script(tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "Llama-2-7b"
    folder.mkdir()
    torch.save({"tok_embeddings.weight": torch.zeros(32, 8),
                "layers.0.attention.wq.weight": torch.zeros(8, 8),
                "norm.weight": torch.zeros(8), "output.weight": torch.zeros(32, 8)},
               folder / "consolidated.00.pth")
    _write_json(folder / "params.json", {"dim": 8, "n_layers": 1, "n_heads": 2, "vocab_size": 32,
                                         "multiple_of": 256, "norm_eps": 1e-05})
    (folder / "tokenizer.model").write_bytes(b"\n\x0e\n\x05<unk>\x15\x00\x00\x00\x00\x18\x02")
    assert UNRECOGNIZED in transformers_error(folder)
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL119")
    assert f.evidence["shards"] == ["consolidated.00.pth"] and f.evidence["llama_version"] == "2"
    assert "src/transformers/models/llama/convert_llama_weights_to_hf.py" in f.fix
    assert (f"--input_dir {folder} --num_shards 1 --llama_version 2 "
            f"--output_dir {tmp_path / 'Llama-2-7b-hf'}") in f.fix
    assert "WL105" not in codes(report)


def _nanogpt_checkpoint(folder: Path):  # type: ignore[no-untyped-def]
    """nanoGPT's train.py checkpoint, from a tiny GPT-2: same module names, nn.Linear weights
    (Conv1D's transposed), the training state beside them."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=8, n_positions=16,
                                      vocab_size=32)).eval()
    transposed = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                  "mlp.c_proj.weight")
    sd = {k: (v.t().contiguous() if k.endswith(transposed) else v.clone())
          for k, v in gpt2.state_dict().items()}
    folder.mkdir()
    torch.save({"model": sd, "optimizer": {"state": {}, "param_groups": []},
                "model_args": {"n_layer": 1, "n_head": 2, "n_embd": 8, "block_size": 16,
                               "bias": True, "vocab_size": 32, "dropout": 0.0},
                "iter_num": 100, "best_val_loss": torch.tensor(1.5),
                "config": {"batch_size": 12}}, folder / "ckpt.pt")
    return gpt2


def test_nanogpt_checkpoint_is_rebuilt_as_gpt2(tmp_path: Path) -> None:
    import torch
    from transformers import GPT2LMHeadModel

    folder = tmp_path / "out-shakespeare"
    gpt2 = _nanogpt_checkpoint(folder)
    assert UNRECOGNIZED in transformers_error(folder)
    report = whyload.check(str(folder))
    f = _fails_with(report, "WL126")
    assert {"model", "model_args", "iter_num"} <= set(f.evidence["top_keys"])
    assert "WL105" not in codes(report)
    # the command, run as is, rebuilds the same model
    run_fix(f.fix)
    rebuilt = GPT2LMHeadModel.from_pretrained(tmp_path / "out-shakespeare-hf").eval()
    ids = torch.tensor([[1, 5, 7, 3]])
    with torch.no_grad():
        assert torch.allclose(rebuilt(ids).logits, gpt2(ids).logits, atol=1e-6)


# ---- 8. names that differ only in case --------------------------------------------------------

@pytest.mark.parametrize(("names", "error"), [
    ({"config.json": "Config.json", "model.safetensors": "Model.safetensors"}, UNRECOGNIZED),
    ({"pytorch_model.bin": "PYTORCH_MODEL.BIN"}, NO_WEIGHTS),
])
def test_name_in_the_wrong_case(tmp_path: Path, names: dict[str, str], error: str) -> None:
    import torch

    folder = tmp_path / "m"
    model = _tiny_bert()
    model.save_pretrained(folder)
    if "pytorch_model.bin" in names:  # a real torch .bin, as older transformers saved
        (folder / "model.safetensors").unlink()
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    for right, wrong in names.items():
        (folder / right).rename(folder / wrong)
    if (folder / "config.json").exists() and (folder / "config.JSON").exists():
        pytest.skip("a case-insensitive file system")
    assert error in transformers_error(folder)
    report = whyload.check(str(folder))
    found = {f.evidence["file"]: f for f in report.by_code("WL154")}
    assert set(found) == set(names.values()), codes(report)
    for wrong, f in found.items():
        assert f.severity is Severity.ERROR and f.fix.endswith(f"mv {wrong} {wrong.lower()}")
    assert report.verdict is Verdict.FAILS and "WL105" not in codes(report)
    for wrong in names.values():  # the fix, applied: it loads
        (folder / wrong).rename(folder / wrong.lower())
    assert transformers_error(folder) == "loaded"


def test_healthy_folders_get_none_of_these(safetensors_model: Path, sharded_model: Path,
                                           bin_model: Path) -> None:
    ours = {"WL107", "WL108", "WL109", "WL116", "WL117", "WL118", "WL119", "WL126", "WL153",
            "WL154"}
    for folder in (safetensors_model, sharded_model, bin_model):
        assert not ours & set(codes(whyload.check(str(folder)))), folder


def test_copy_keeps_the_original(tmp_path: Path) -> None:
    """The folders above are only read: a check leaves every file as it was."""
    folder = _deepspeed_checkpoint(tmp_path / "c")
    before = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    whyload.check(str(folder))
    assert before == sorted((p.relative_to(folder), p.stat().st_mtime_ns)
                            for p in folder.rglob("*"))
    shutil.rmtree(folder)
