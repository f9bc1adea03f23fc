"""WL1xx: every file-level failure, built with the real libraries and broken the way the world
breaks it, then named by code, severity and evidence."""

from __future__ import annotations

import gzip
import json
import os
import shlex
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import codes, only

import whyload
from whyload import Effect, Severity, Verdict

Copy = Callable[[Path], Path]

LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4b0e2a1f7b7b0d2f3c8b4a1f9a6e2b5c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a\n"
    "size 90868376\n"
)


# --- healthy checkpoints: no error, verdict 'loads' ---------------------------------------------


@pytest.mark.parametrize("fixture", ["minilm", "safetensors_model", "bin_model",
                                     "legacy_bin_model", "sharded_model"])
def test_healthy_checkpoints_load(fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    report = whyload.check(str(path))
    assert report.verdict is Verdict.LOADS, report.findings
    assert not report.failed(Severity.WARNING), codes(report)
    assert report.facts["tensor_count"] > 0
    assert report.facts["parameter_count"] > 0


def test_minilm_facts(minilm: Path) -> None:
    facts = whyload.check(str(minilm)).facts
    assert facts["format"] == "safetensors"
    assert facts["weights"] == ["model.safetensors"]
    assert facts["model_type"] == "bert"
    assert facts["tensor_count"] == 104 or facts["tensor_count"] > 100
    assert 22_000_000 < facts["parameter_count"] < 23_000_000


def test_bin_tensors_match_the_state_dict(bin_model: Path, safetensors_model: Path) -> None:
    """The pickle walker finds the same keys and shapes that torch itself would load."""
    import torch

    state = torch.load(bin_model / "pytorch_model.bin", weights_only=True)
    snap_bin = whyload.check(str(bin_model)).facts
    assert snap_bin["tensor_count"] == len(state)
    assert snap_bin["parameter_count"] == sum(t.numel() for t in state.values())
    assert snap_bin["storage_devices"] == {"cpu": len(state)}


def test_legacy_format_is_read_and_noted(legacy_bin_model: Path) -> None:
    import torch

    report = whyload.check(str(legacy_bin_model), select=["WL133"])
    f = only(report, "WL133")
    assert f.severity is Severity.INFO
    state = torch.load(legacy_bin_model / "pytorch_model.bin", weights_only=True)
    assert whyload.check(str(legacy_bin_model)).facts["tensor_count"] == len(state)


# --- which weights exist at all ------------------------------------------------------------------


def test_no_weights(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").unlink()
    (model / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    f = only(whyload.check(str(model)), "WL100")
    assert f.severity is Severity.ERROR and f.effect is Effect.RAISES
    assert "config.json" in f.evidence["files"]


def test_weights_one_folder_down(tmp_path: Path, safetensors_model: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(safetensors_model, run / "checkpoint-500")
    shutil.copytree(safetensors_model, run / "checkpoint-1000")
    f = only(whyload.check(str(run)), "WL100")
    assert f.evidence["subfolders_with_weights"] == ["checkpoint-1000", "checkpoint-500"]
    assert "checkpoint-1000" in f.fix


def test_tf_only(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").unlink()
    (model / "tf_model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 2000)
    report = whyload.check(str(model))
    f = only(report, "WL101")
    assert "from_tf=True" in f.fix and report.verdict is Verdict.FAILS
    assert "WL100" not in codes(report)


def test_flax_only(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").unlink()
    (model / "flax_model.msgpack").write_bytes(b"\x81\xa4bert" + b"\0" * 100)
    f = only(whyload.check(str(model)), "WL102")
    assert "from_flax=True" in f.fix


def test_google_original_tf_bert(tmp_path: Path) -> None:
    release = tmp_path / "uncased_L-2_H-128_A-2"
    release.mkdir()
    (release / "bert_config.json").write_text(json.dumps(
        {"hidden_size": 128, "num_hidden_layers": 2, "vocab_size": 30522}))
    (release / "vocab.txt").write_text("[PAD]\n")
    (release / "bert_model.ckpt.index").write_bytes(b"\0\x01bert/embeddings/word_embeddings")
    (release / "bert_model.ckpt.data-00000-of-00001").write_bytes(b"\x07" * 4096)
    report = whyload.check(str(release))
    f = only(report, "WL103")
    assert f.evidence["checkpoint"] == "bert_model.ckpt"
    assert "transformers-cli convert --model_type bert" in f.fix
    assert "WL100" not in codes(report)


@pytest.mark.parametrize(("name", "head"), [("model.gguf", b"GGUF\x03\x00\x00\x00"),
                                            ("model.onnx", b"\x08\x07\x12\x07pytorch")])
def test_foreign_format_only(tmp_path: Path, name: str, head: bytes) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / name).write_bytes(head + b"\x01" * 1000)
    f = only(whyload.check(str(tmp_path)), "WL104")
    assert f.evidence["files"] == [name]


@pytest.mark.parametrize("name", ["model.pt", "bert_finetuned.bin", "weights.safetensors"])
def test_nonstandard_name(copy_of: Copy, bin_model: Path, safetensors_model: Path,
                          name: str) -> None:
    src = safetensors_model if name.endswith(".safetensors") else bin_model
    model = copy_of(src)
    weights = next(p for p in model.iterdir() if p.name.endswith((".safetensors", ".bin")))
    weights.rename(model / name)
    report = whyload.check(str(model))
    f = only(report, "WL105")
    assert f.evidence["file"] == name and f.evidence["tensors"] > 0
    assert f.fix.startswith(f"cd {shlex.quote(str(model))} && mv {name} ")
    assert "WL100" not in codes(report)


def test_variant_weights(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").rename(model / "model.fp16.safetensors")
    f = only(whyload.check(str(model)), "WL105")
    assert "variant='fp16'" in f.fix


def test_peft_adapter_is_not_a_missing_model(tmp_path: Path, hf_cache: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    (tmp_path / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "bert-base-uncased", "peft_type": "LORA"}))
    save_file({"base_model.model.encoder.lora_A.weight": np.zeros((4, 8), np.float32)},
              str(tmp_path / "adapter_model.safetensors"), metadata={"format": "pt"})
    import dataclasses

    env = whyload.env.collect()
    env = dataclasses.replace(env, versions={**env.versions, "peft": "0.13.2"})
    report = whyload.check(str(tmp_path), environment=env)
    f = only(report, "WL106")
    assert f.severity is Severity.INFO and f.evidence["base_model"] == "bert-base-uncased"
    # the only warning: its base is not in the (empty) cache, so it was not checked
    assert [g.code for g in report.findings if g.severity >= Severity.WARNING] == ["WL460"]


# --- files that are not what their name says -----------------------------------------------------


def test_lfs_pointer(copy_of: Copy, minilm: Path) -> None:
    model = copy_of(minilm)
    (model / "model.safetensors").write_text(LFS_POINTER)
    report = whyload.check(str(model))
    f = only(report, "WL110")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS
    assert f.evidence["real_size"] == 90868376
    assert f.evidence["oid"].startswith("sha256:4b0e2a1f")
    assert f.fix == (f"git -C {model} lfs install --local && "
                     f"git -C {model} lfs pull --include model.safetensors")
    assert codes(report) == ["WL110"]  # not also "header too large" or "format mismatch"


def test_lfs_pointer_fix_pastes_in_a_folder_with_a_space(tmp_path: Path, minilm: Path) -> None:
    """The fix names the real folder, quoted for the shell: pasted anywhere, it runs there."""
    model = tmp_path / "my models" / "mini lm"
    shutil.copytree(minilm, model)
    (model / "model.safetensors").write_text(LFS_POINTER)
    f = only(whyload.check(str(model)), "WL110")
    folder = shlex.quote(str(model))
    assert folder.startswith("'") and " " in folder
    assert f.fix == (f"git -C {folder} lfs install --local && "
                     f"git -C {folder} lfs pull --include model.safetensors")
    assert shlex.split(f.fix)[:3] == ["git", "-C", str(model)]


def test_lfs_pointer_for_a_tokenizer_file_is_a_warning(copy_of: Copy, minilm: Path) -> None:
    model = copy_of(minilm)
    (model / "tokenizer.json").write_text(LFS_POINTER)
    f = only(whyload.check(str(model)), "WL110")
    assert f.severity is Severity.WARNING


def test_lfs_pointer_beside_healthy_safetensors_is_a_note(copy_of: Copy, minilm: Path,
                                                             bin_model: Path) -> None:
    """from_pretrained reads model.safetensors first: a pointer .bin beside it doesn't stop it."""
    model = copy_of(minilm)
    (model / "pytorch_model.bin").write_text(LFS_POINTER)
    report = whyload.check(str(model))
    f = only(report, "WL110")
    assert f.severity is Severity.INFO and report.verdict is Verdict.LOADS
    assert "model.safetensors instead" in f.detail


@pytest.mark.parametrize(("page", "first"), [
    (b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>",
     "Google Drive - Quota exceeded"),
    (b'{"error":"Repository Not Found"}', '{"error":"Repository Not Found"}'),
])
def test_error_page_saved_as_weights(copy_of: Copy, bin_model: Path, page: bytes,
                                     first: str) -> None:
    model = copy_of(bin_model)
    (model / "pytorch_model.bin").write_bytes(page)
    report = whyload.check(str(model))
    f = only(report, "WL111")
    assert f.evidence["first_line"] == first and report.verdict is Verdict.FAILS
    assert codes(report) == ["WL111"]


def test_empty_weights(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").write_bytes(b"")
    assert codes(whyload.check(str(model))) == ["WL112"]


def test_zero_filled_weights(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    weights = model / "model.safetensors"
    size = weights.stat().st_size
    weights.write_bytes(b"")
    os.truncate(weights, size)  # preallocated, never written
    f = only(whyload.check(str(model)), "WL113")
    assert f.evidence["size"] == size


def test_partly_zero_file_is_not_called_preallocated(copy_of: Copy, bin_model: Path) -> None:
    model = copy_of(bin_model)
    weights = model / "pytorch_model.bin"
    data = bytearray(weights.read_bytes())
    data[: 8192] = bytes(8192)
    weights.write_bytes(bytes(data))
    assert "WL113" not in codes(whyload.check(str(model)))


def test_tar_gz_instead_of_weights(tmp_path: Path, safetensors_model: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    with tarfile.open(model / "model.tar.gz", "w:gz") as tar:
        tar.add(safetensors_model / "model.safetensors", arcname="model.safetensors")
        tar.add(safetensors_model / "config.json", arcname="config.json")
    f = only(whyload.check(str(model)), "WL114")
    assert f.fix == "tar -xzf model.tar.gz" and f.severity is Severity.ERROR


def test_gzipped_weights(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    weights = model / "model.safetensors"
    weights.write_bytes(gzip.compress(weights.read_bytes()))
    f = only(whyload.check(str(model)), "WL114")
    assert f.evidence["kind"] == "gzip"


def test_torch_checkpoint_renamed_safetensors(copy_of: Copy, bin_model: Path) -> None:
    model = copy_of(bin_model)
    (model / "pytorch_model.bin").rename(model / "model.safetensors")
    report = whyload.check(str(model))
    f = only(report, "WL115")
    assert f.evidence["declared"] == "safetensors" and f.evidence["actual"] == "torch-zip"
    assert "HeaderTooLarge" in f.detail
    assert f.fix == f"cd {shlex.quote(str(model))} && mv model.safetensors pytorch_model.bin"


def test_safetensors_renamed_bin(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    f = only(whyload.check(str(model)), "WL115")
    assert f.evidence["actual"] == "safetensors" and "invalid load key" in f.detail


# --- safetensors ---------------------------------------------------------------------------------


def _truncate(path: Path, keep: int) -> None:
    with path.open("r+b") as fh:
        fh.truncate(keep)


def test_truncated_safetensors(copy_of: Copy, minilm: Path) -> None:
    model = copy_of(minilm)
    weights = model / "model.safetensors"
    size = weights.stat().st_size
    _truncate(weights, size // 2)
    report = whyload.check(str(model))
    f = only(report, "WL120")
    assert f.evidence == {"file": "model.safetensors", "size": size // 2, "expected_size": size,
                          "missing_bytes": size - size // 2,
                          "library_error": "MetadataIncompleteBuffer"}
    assert "50.0% of the file is present" in f.detail
    assert report.verdict is Verdict.FAILS


def test_truncated_inside_the_header(copy_of: Copy, minilm: Path) -> None:
    model = copy_of(minilm)
    _truncate(model / "model.safetensors", 100)
    f = only(whyload.check(str(model)), "WL120")
    assert f.evidence["library_error"] == "InvalidHeaderLength"


def test_safetensors_library_agrees(copy_of: Copy, safetensors_model: Path) -> None:
    """Each header problem is the one the safetensors library itself raises."""
    from safetensors import safe_open

    model = copy_of(safetensors_model)
    weights = model / "model.safetensors"
    _truncate(weights, weights.stat().st_size - 10)
    with pytest.raises(Exception, match=r"MetadataIncompleteBuffer|file not fully covered"):
        safe_open(str(weights), "np")
    assert only(whyload.check(str(model)), "WL120").evidence["library_error"] == (
        "MetadataIncompleteBuffer")


def _rewrite_header(path: Path, edit: Callable[[dict], object]) -> None:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    new = json.dumps(edit(header)).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n :])


def test_corrupt_header_json(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    weights = model / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[20] = ord("}")  # a flipped byte inside the JSON
    weights.write_bytes(bytes(raw))
    f = only(whyload.check(str(model)), "WL121")
    assert f.evidence["library_error"] == "InvalidHeaderDeserialization"


def test_header_not_utf8(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    weights = model / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[12] = 0xFF
    weights.write_bytes(bytes(raw))
    assert only(whyload.check(str(model)), "WL121").evidence["library_error"] == "InvalidHeader"


def test_offsets_overlap(copy_of: Copy, safetensors_model: Path) -> None:
    def shift(header: dict) -> dict:
        name = next(k for k in header if k != "__metadata__")
        start, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = [start + 4, end + 4]
        return header

    model = copy_of(safetensors_model)
    _rewrite_header(model / "model.safetensors", shift)
    f = only(whyload.check(str(model)), "WL122")
    assert f.evidence["library_error"] in ("InvalidOffset", "TensorInvalidInfo")


def test_shape_does_not_match_span(copy_of: Copy, safetensors_model: Path) -> None:
    def grow(header: dict) -> dict:
        for k, v in header.items():
            if k != "__metadata__" and v["shape"] == [3]:
                v["shape"] = [4]
                return header
        raise AssertionError("the classifier bias should have 3 labels")

    model = copy_of(safetensors_model)
    _rewrite_header(model / "model.safetensors", grow)
    f = only(whyload.check(str(model)), "WL122")
    assert f.evidence["library_error"] == "TensorInvalidInfo"


def test_bytes_after_the_last_tensor(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    with (model / "model.safetensors").open("ab") as fh:
        fh.write(b"\0" * 64)
    f = only(whyload.check(str(model)), "WL122")
    assert f.evidence["library_error"] == "MetadataIncompleteBuffer"


def test_no_format_metadata(tmp_path: Path, safetensors_model: Path) -> None:
    """save_file without metadata, as mlx or a hand-made conversion writes it."""
    from safetensors.numpy import load_file, save_file

    shutil.copy(safetensors_model / "config.json", tmp_path)
    save_file(load_file(str(safetensors_model / "model.safetensors")),
              str(tmp_path / "model.safetensors"))
    import dataclasses

    report = whyload.check(str(tmp_path))  # transformers 5 assumes "pt": only a note
    f = only(report, "WL123")
    assert f.severity is Severity.INFO and report.verdict is Verdict.LOADS
    env = whyload.env.collect()
    old = dataclasses.replace(env, versions={**env.versions, "transformers": "4.30.2"})
    assert only(whyload.check(str(tmp_path), environment=old), "WL123").severity is \
        Severity.WARNING


def test_zero3_empty_tensors(tmp_path: Path, safetensors_model: Path) -> None:
    import numpy as np
    from safetensors.numpy import load_file, save_file

    shutil.copy(safetensors_model / "config.json", tmp_path)
    tensors = load_file(str(safetensors_model / "model.safetensors"))
    save_file({k: np.zeros((0,), v.dtype) for k, v in tensors.items()},
              str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    f = only(whyload.check(str(tmp_path)), "WL124")
    assert f.evidence["empty_tensors"] == len(tensors)
    assert "zero_to_fp32.py" in f.fix


def test_metadata_only_safetensors(tmp_path: Path, safetensors_model: Path) -> None:
    from safetensors.numpy import save_file

    shutil.copy(safetensors_model / "config.json", tmp_path)
    save_file({}, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    report = whyload.check(str(tmp_path))
    f = only(report, "WL125")
    assert f.effect is Effect.SILENT and report.verdict is Verdict.LOADS_BROKEN


# --- torch checkpoints ---------------------------------------------------------------------------


def test_truncated_torch_zip(copy_of: Copy, bin_model: Path) -> None:
    import torch

    model = copy_of(bin_model)
    weights = model / "pytorch_model.bin"
    size = weights.stat().st_size
    _truncate(weights, size // 2)
    with pytest.raises((RuntimeError, OSError)):  # "failed finding central directory"
        torch.load(weights, weights_only=True)
    report = whyload.check(str(model))
    f = only(report, "WL130")
    assert f.evidence["size"] == size // 2 and report.verdict is Verdict.FAILS


def test_zip_that_is_not_a_checkpoint(tmp_path: Path, safetensors_model: Path) -> None:
    import zipfile

    shutil.copy(safetensors_model / "config.json", tmp_path)
    with zipfile.ZipFile(tmp_path / "pytorch_model.bin", "w") as z:
        z.write(safetensors_model / "model.safetensors", "model.safetensors")
    f = only(whyload.check(str(tmp_path)), "WL131")
    assert f.evidence["missing"] == ["data.pkl", "version"]


def test_corrupt_pickle_in_zip(copy_of: Copy, bin_model: Path) -> None:
    model = copy_of(bin_model)
    weights = model / "pytorch_model.bin"
    raw = bytearray(weights.read_bytes())
    start = raw.index(b"\x80\x02")  # data.pkl is the first member, stored uncompressed
    raw[start + 2] = 0xFF  # not an opcode
    weights.write_bytes(bytes(raw))
    f = only(whyload.check(str(model)), "WL132")
    assert f.evidence["layout"] == "zip"


def test_truncated_legacy_checkpoint(copy_of: Copy, legacy_bin_model: Path) -> None:
    model = copy_of(legacy_bin_model)
    weights = model / "pytorch_model.bin"
    raw = weights.read_bytes()
    start = raw.index(b"\x80\x02ccollections\nOrderedDict")  # after magic, protocol, sys_info
    weights.write_bytes(raw[: start + 60])
    report = whyload.check(str(model))
    f = only(report, "WL132")
    assert f.evidence["layout"] == "legacy" and report.verdict is Verdict.FAILS


def test_whole_model_pickled(tmp_path: Path, safetensors_model: Path) -> None:
    import torch
    from conftest import _tiny_model

    shutil.copy(safetensors_model / "config.json", tmp_path)
    torch.save(_tiny_model(), tmp_path / "pytorch_model.bin")
    f = only(whyload.check(str(tmp_path)), "WL134")
    assert f.evidence["object"] == (
        "transformers.models.bert.modeling_bert.BertForSequenceClassification")
    assert f.evidence["tensors"] > 0


def test_training_checkpoint_tensors_are_found(tmp_path: Path, safetensors_model: Path) -> None:
    """A Lightning-style {'state_dict': ..., 'epoch': ...} file: tensors found under the nesting."""
    import torch
    from conftest import _tiny_model

    state = _tiny_model().state_dict()
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in state.items()},
                "pytorch-lightning_version": "2.4.0"}, tmp_path / "pytorch_model.bin")
    facts = whyload.check(str(tmp_path)).facts
    assert facts["tensor_count"] == len(state)


def test_tensors_saved_on_cuda_are_recorded(tmp_path: Path, bin_model: Path) -> None:
    """Storage locations come from the pickle: 'cuda:0' is visible without CUDA or torch."""
    import zipfile

    model = tmp_path / "m"
    shutil.copytree(bin_model, model)
    weights = model / "pytorch_model.bin"
    with zipfile.ZipFile(bin_model / "pytorch_model.bin") as src, \
            zipfile.ZipFile(weights, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info, data)
    facts = whyload.check(str(model)).facts
    assert facts["storage_devices"] == {"cuda:0": facts["tensor_count"]}


# --- sharded checkpoints -------------------------------------------------------------------------


def test_missing_shard(copy_of: Copy, sharded_model: Path) -> None:
    from safetensors import safe_open  # noqa: F401  (the real library is what fails here)

    model = copy_of(sharded_model)
    (model / "model-00002-of-00003.safetensors").unlink()
    report = whyload.check(str(model))
    f = only(report, "WL141")
    assert f.evidence["missing"] == ["model-00002-of-00003.safetensors"]
    assert f.evidence["shards"] == 3 and report.verdict is Verdict.FAILS


def test_index_invalid_json(copy_of: Copy, sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    index = model / "model.safetensors.index.json"
    index.write_text(index.read_text()[:-20])
    report = whyload.check(str(model))
    f = only(report, "WL140")
    assert f.evidence["line"] is not None and f.evidence["column"] is not None
    assert "WL141" not in codes(report)  # one broken index gives one finding


def test_index_lists_tensor_absent_from_shard(copy_of: Copy, sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    index = model / "model.safetensors.index.json"
    doc = json.loads(index.read_text())
    name = next(iter(doc["weight_map"]))
    doc["weight_map"]["bert.encoder.layer.9.output.dense.weight"] = doc["weight_map"][name]
    index.write_text(json.dumps(doc))
    report = whyload.check(str(model))
    f = only(report, "WL142")
    assert f.evidence["listed_but_absent"] == ["bert.encoder.layer.9.output.dense.weight"]
    # a 2-layer model has no layer 9: transformers loads every weight it has (see
    # tests/test_agree_with_transformers.py), so the index is wrong and the load is not
    assert f.evidence["expected_but_absent"] == []
    assert f.effect is Effect.NONE and report.verdict is Verdict.LOADS


def test_shard_holds_tensor_missing_from_index(copy_of: Copy, sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    index = model / "model.safetensors.index.json"
    doc = json.loads(index.read_text())
    dropped = sorted(doc["weight_map"])[0]
    del doc["weight_map"][dropped]
    index.write_text(json.dumps(doc))
    f = only(whyload.check(str(model)), "WL142")
    assert f.evidence["present_but_unlisted"] == [dropped]


def test_total_size_disagrees(copy_of: Copy, sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    index = model / "model.safetensors.index.json"
    doc = json.loads(index.read_text())
    doc["metadata"]["total_size"] = doc["metadata"]["total_size"] * 3
    index.write_text(json.dumps(doc))
    f = only(whyload.check(str(model)), "WL143")
    assert f.severity is Severity.INFO


def test_shards_without_index(copy_of: Copy, sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    (model / "model.safetensors.index.json").unlink()
    report = whyload.check(str(model))
    f = only(report, "WL144")
    assert f.evidence["expected_shards"] == 3 and len(f.evidence["shards"]) == 3
    assert "WL100" not in codes(report) and "WL105" not in codes(report)


# --- links and the HF cache ----------------------------------------------------------------------


def _cache_repo(cache: Path, repo_id: str, src: Path, commit: str = "a" * 40) -> Path:
    """Lay out a model as huggingface_hub does: blobs, refs/main, snapshots/<commit> links."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for i, f in enumerate(sorted(src.iterdir())):
        blob = repo / "blobs" / f"{i:064x}"
        shutil.copy(f, blob)
        (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    return repo


def test_hub_id_resolves_in_the_cache(hf_cache: Path, safetensors_model: Path) -> None:
    _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    report = whyload.check("acme/tiny-bert")
    assert report.verdict is Verdict.LOADS, codes(report)
    assert report.resolved["how"] == "hub-cache" and report.resolved["commit"] == "a" * 40


def test_dangling_cache_link(hf_cache: Path, safetensors_model: Path) -> None:
    repo = _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    target = (repo / "snapshots" / ("a" * 40) / "model.safetensors").resolve()
    target.unlink()
    report = whyload.check("acme/tiny-bert")
    f = only(report, "WL150")
    assert f.severity is Severity.ERROR and "../../blobs/" in f.evidence["link_target"]
    assert f.fix.startswith("hf download acme/tiny-bert model.safetensors")
    assert "WL100" not in codes(report)


def test_fix_for_a_cached_hub_id_names_the_repo(hf_cache: Path, safetensors_model: Path) -> None:
    """A cut file in the HF cache: the fix downloads it again by its real repo id."""
    repo = _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    blob = (repo / "snapshots" / ("a" * 40) / "model.safetensors").resolve()
    blob.write_bytes(blob.read_bytes()[:-100])
    report = whyload.check("acme/tiny-bert")
    f = only(report, "WL120")
    assert shlex.split(f.fix)[:3] == ["hf", "download", "acme/tiny-bert"]
    assert "model.safetensors" in shlex.split(f.fix) and "--force-download" in f.fix
    assert "<" not in f.fix and " . " not in f.fix


def test_ref_points_at_missing_snapshot(hf_cache: Path, safetensors_model: Path) -> None:
    repo = _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    (repo / "refs" / "main").write_text("b" * 40)
    report = whyload.check("acme/tiny-bert")
    f = only(report, "WL151")
    assert f.evidence["other_snapshots"] == ["a" * 40]
    assert codes(report) == ["WL151"]


def test_truncated_blob_in_the_cache(hf_cache: Path, safetensors_model: Path) -> None:
    repo = _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    link = repo / "snapshots" / ("a" * 40) / "model.safetensors"
    blob = link.resolve()
    with blob.open("r+b") as fh:
        fh.truncate(blob.stat().st_size // 3)
    f = only(whyload.check("acme/tiny-bert"), "WL120")
    assert f.evidence["blob"].startswith("../../blobs/")
    assert f.fix.startswith("hf download acme/tiny-bert model.safetensors --revision main")


def test_incomplete_blob(hf_cache: Path, safetensors_model: Path) -> None:
    repo = _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    (repo / "blobs" / ("f" * 64 + ".incomplete")).write_bytes(b"\0" * 10)
    f = only(whyload.check("acme/tiny-bert"), "WL152")
    assert f.severity is Severity.WARNING


def test_revision_by_commit(hf_cache: Path, safetensors_model: Path) -> None:
    _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model, commit="c" * 40)
    report = whyload.check("acme/tiny-bert", revision="c" * 40)
    assert report.verdict is Verdict.LOADS


def test_revision_not_cached(hf_cache: Path, safetensors_model: Path) -> None:
    _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    with pytest.raises(whyload.TargetError, match=r"revision 'v2' .* not in the cache"):
        whyload.check("acme/tiny-bert", revision="v2")


# --- a single weights file -----------------------------------------------------------------------


def test_single_file_target(minilm: Path, tmp_path: Path) -> None:
    report = whyload.check(str(minilm / "model.safetensors"))
    assert report.resolved["how"] == "file" and report.verdict is Verdict.LOADS
    broken = tmp_path / "x.safetensors"
    broken.write_bytes((minilm / "model.safetensors").read_bytes()[:5000])
    assert codes(whyload.check(str(broken))) == ["WL120"]


@pytest.mark.parametrize("header_len", [0x280, 0x380, 0x480, 0x580])
def test_safetensors_header_length_that_looks_like_a_pickle(tmp_path: Path,
                                                            header_len: int) -> None:
    """A header of 0x280..0x580 bytes starts with 80 02..05, like pickle's PROTO opcode."""
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    names, raw = 1, b""
    while True:  # the most tensors whose header still fits in header_len bytes
        tensors = {f"t{i:04d}": np.zeros((2,), np.float32) for i in range(names)}
        save_file(tensors, str(path), metadata={"format": "pt"})
        if int.from_bytes(path.read_bytes()[:8], "little") > header_len:
            break
        raw, names = path.read_bytes(), names + 1
    n = int.from_bytes(raw[:8], "little")  # pad the JSON with spaces, as the writer does
    path.write_bytes(header_len.to_bytes(8, "little") + raw[8 : 8 + n]
                     + b" " * (header_len - n) + raw[8 + n :])
    assert (tmp_path / "model.safetensors").read_bytes()[:2] == bytes([0x80, header_len >> 8])
    report = whyload.check(str(tmp_path / "model.safetensors"))
    assert report.facts["files"][0]["kind"] == "safetensors" and report.codes() == []


def test_legacy_checkpoint_cut_in_its_tensor_data(copy_of: Copy, legacy_bin_model: Path) -> None:
    import torch

    model = copy_of(legacy_bin_model)
    weights = model / "pytorch_model.bin"
    size = weights.stat().st_size
    _truncate(weights, size - 1000)
    with pytest.raises(RuntimeError, match="unexpected EOF"):
        torch.load(weights, weights_only=True)
    report = whyload.check(str(model))
    f = only(report, "WL130")
    assert f.evidence["expected_size"] == size and report.verdict is Verdict.FAILS


def test_a_reader_that_fails_makes_the_verdict_unknown(copy_of: Copy, safetensors_model: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers must not raise; if one does (a bug), that file is reported, not a traceback."""
    import whyload.snapshot as snapshot

    def broken(f: object, size: int) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(snapshot, "read_safetensors_header", broken)
    report = whyload.check(str(copy_of(safetensors_model)))
    f = only(report, "WL161")
    assert f.effect is Effect.UNKNOWN and "RecursionError" in f.evidence["error"]
    assert report.verdict is Verdict.UNKNOWN


def test_a_weights_file_under_a_name_that_says_nothing_is_read_by_its_bytes(
        tmp_path: Path, safetensors_model: Path) -> None:
    shutil.copy(safetensors_model / "model.safetensors", tmp_path / "weights.dat")
    report = whyload.check(str(tmp_path / "weights.dat"))
    assert report.facts["format"] == "safetensors" and report.facts["tensor_count"] > 0
    assert not any(f.severity is Severity.ERROR for f in report.findings)
    # no config.json beside it: whether from_pretrained loads it was not assessed
    assert report.verdict is Verdict.UNKNOWN and "config" in report.not_checked
