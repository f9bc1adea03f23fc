"""whyload explain: real failures, made by the real libraries in the test, go in as tracebacks and
logs; the cause comes out under the same code `check` names for the same checkpoint."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import runpy
import shutil
import subprocess
import sys
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import codes, edit_config, run_cli, save_tiny

import whyload
from whyload.knowledge.error_texts import ERROR_TEXTS
from whyload.logs import diagnose_error, explain
from whyload.logs.lines import is_trigger
from whyload.registry import all_rules
from whyload.report import Effect, Severity, Verdict

LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:4b0e2a1f7b7b0d2f3c8b4a1f9a6e2b5c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a\n"
               "size 90868376\n")
NOISE = "2026-11-28 12:00:{:02d} INFO step {} loss=0.{} lr=3e-5 throughput=812 samples/s\n"


def noise(lines: int, start: int = 0) -> str:
    return "".join(NOISE.format(i % 60, i, i % 97) for i in range(start, start + lines))


# --- the table itself -------------------------------------------------------------------------


def test_every_table_code_is_registered() -> None:
    registered = {r.code for r in all_rules()}
    assert {row.code for row in ERROR_TEXTS} <= registered


@pytest.mark.parametrize("row", ERROR_TEXTS, ids=lambda r: f"{r.code}:{r.example[:40]}")
def test_each_row_recognises_its_own_example(row: object) -> None:
    from whyload.knowledge.error_texts import ErrorText

    assert isinstance(row, ErrorText)
    found = diagnose_error(row.example)
    assert found, row.example
    assert found[0].code == row.code
    assert found[0].evidence["line"] == row.example.count("\n") + 1
    assert found[0].fix and found[0].title and "?" not in found[0].title


@pytest.mark.parametrize("row", ERROR_TEXTS, ids=lambda r: f"{r.code}:{r.example[:40]}")
def test_each_row_is_found_inside_a_long_log(row: object) -> None:
    """The streaming scan's trigger words reach every row: the example buried in noise."""
    from whyload.knowledge.error_texts import ErrorText

    assert isinstance(row, ErrorText)
    assert is_trigger(row.example.splitlines()[-1])
    log = noise(300) + row.example + "\n" + noise(300, 300)
    report = explain(io.StringIO(log), run_check=False)
    assert row.code in codes(report)
    assert report.by_code(row.code)[0].evidence["line"] == 301 + row.example.count("\n")


# The error texts of ../shared/FAILURES.md, entry by entry, and the code each one is.
CATALOGUE = [
    ("F1", "_pickle.UnpicklingError: invalid load key, 'v'.", "WL110"),
    ("F1", "OSError: You seem to have cloned a repository without having git-lfs installed. "
           "Please install git-lfs and run `git lfs install` followed by `git lfs pull`", "WL110"),
    ("F1", "WeightsUnpickler error: Unsupported operand 118", "WL110"),
    ("F2", "_pickle.UnpicklingError: invalid load key, '<'.", "WL111"),
    ("F3", "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central "
           "directory", "WL130"),
    ("F3", "OSError: Unable to load weights from pytorch checkpoint file for "
           "'pytorch_model-00039-of-00061.bin' at 'pytorch_model-00039-of-00061.bin'. If you "
           "tried to load a PyTorch model from a TF 2.0 checkpoint, please set from_tf=True.",
     "WL130"),
    ("F3", "RuntimeError: [enforce fail at inline_container.cc:180] . file in archive is not in "
           "a subdirectory: hello.txt", "WL131"),
    ("F3", "RuntimeError: PytorchStreamReader failed locating file data.pkl: file not found",
     "WL131"),
    ("F4", "SafetensorError: Error while deserializing header: MetadataIncompleteBuffer",
     "WL120"),
    ("F4", "SafetensorError: Error while deserializing header: InvalidHeaderLength", "WL120"),
    ("F5", "Error while deserializing header: HeaderTooLarge", "WL115"),
    ("F6", "SafetensorError: Error while deserializing header: InvalidHeaderDeserialization",
     "WL121"),
    ("F7", "AttributeError: 'NoneType' object has no attribute 'get'", "WL123"),
    ("F7", "OSError: The safetensors archive passed at model.safetensors does not contain the "
           "valid metadata. Make sure you save your model with the save_pretrained method.",
     "WL123"),
    ("F8", "size mismatch for encoder.layer.3.attention.self.query.weight: copying a param with "
           "shape torch.Size([0]) from checkpoint, the shape in current model is "
           "torch.Size([768, 768]).", "WL124"),
    ("F9", "OSError: Error no file named pytorch_model.bin, model.safetensors, tf_model.h5, "
           "model.ckpt.index or flax_model.msgpack found in directory X.", "WL100"),
    ("F10", "FileNotFoundError: [Errno 2] No such file or directory: "
            "'/m/model-00001-of-00004.safetensors'", "WL141"),
    ("F11", "OSError: Consistency check failed: file should be of size 440449768 but has size "
            "4122356 (model.safetensors). We are sorry for the inconvenience. Please retry with "
            "`force_download=True`.", "WL190"),
    ("F12", "OSError: [Errno 28] No space left on device", "WL541"),
    ("F12", "UserWarning: Not enough free disk space to download the file. The expected file "
            "size is: 440.47 MB. The target location /root/.cache only has 12.10 MB free disk "
            "space.", "WL541"),
    ("F13", "RuntimeError: unable to open file </root/.cache/huggingface/hub/models--bert-base-"
            "uncased/snapshots/1dbc/model.safetensors> in read-only mode: No such file or "
            "directory (2)", "WL150"),
    ("F14", "OSError: bert does not appear to have a file named pytorch_model.bin but there is a "
            "file for TensorFlow weights. Use `from_tf=True` to load this model from those "
            "weights.", "WL101"),
    ("F14", "Loading a TensorFlow model in PyTorch, requires both PyTorch and TensorFlow to be "
            "installed.", "WL101"),
    ("F15", "OSError: Can't load config for './uncased_L-12_H-768_A-12/bert_config.json'.",
     "WL302"),
    ("F16", "Some weights of ElectraForMaskedLM were not initialized from the model checkpoint at "
            "google/electra-small-discriminator and are newly initialized: "
            "['generator_predictions.LayerNorm.weight', 'generator_lm_head.bias']", "WL421"),
    ("V1", 'RuntimeError: Error(s) in loading state_dict for BertModel: Unexpected key(s) in '
           'state_dict: "bert.embeddings.position_ids".', "WL230"),
    ("V2", "Exception: data did not match any variant of untagged enum ModelWrapper at line "
           "250373 column 3", "WL203"),
    ("V3", "ValueError: The checkpoint you are trying to load has model type `modernbert` but "
           "Transformers does not recognize this architecture. This could be because of an "
           "issue with the checkpoint, or because your version of Transformers is out of date.",
     "WL201"),
    ("V3", "Traceback (most recent call last):\n  File \"transformers/models/auto/"
           "configuration_auto.py\", line 710, in __getitem__\n    raise KeyError(key)\n"
           "KeyError: 'llama'", "WL201"),
    ("V4", "_pickle.UnpicklingError: Weights only load failed. In PyTorch 2.6, we changed the "
           "default value of the weights_only argument in torch.load from False to True. "
           "Unsupported global: GLOBAL belt_nlp.bert.BertNN was not an allowed global by "
           "default.", "WL210"),
    ("V5", "ValueError: Due to a serious vulnerability issue in `torch.load`, even with "
           "`weights_only=True`, we now require users to upgrade torch to at least v2.6 in order "
           "to use the function. This version restriction does not apply when loading files "
           "with safetensors. See the vulnerability report here "
           "https://nvd.nist.gov/vuln/detail/CVE-2025-32434", "WL204"),
    ("V6", "RuntimeError: ./pytorch_model.bin is a zip archive (did you mean to use "
           "torch.jit.load()?)", "WL231"),
    ("V6", "RuntimeError: Attempted to read a PyTorch file with version 3, but the maximum "
           "supported version for reading is 1.", "WL231"),
    ("V7", "ModuleNotFoundError: No module named 'transformers.configuration_bert'", "WL232"),
    ("V7", "AttributeError: Can't get attribute 'gelu' on <module 'transformers.modeling_bert'>",
     "WL232"),
    ("V7", "AttributeError: 'BertConfig' object has no attribute 'return_dict'", "WL350"),
    ("V8", "OSError: Error no file named pytorch_model.bin, tf_model.h5, model.ckpt.index or "
           "flax_model.msgpack found in directory ./llava.", "WL233"),
    ("V9", "ValueError: Tokenizer class TokenizersBackend does not exist or is not currently "
           "imported.", "WL202"),
    ("V10", "TypeError: BertModel.__init__() got an unexpected keyword argument 'dtype'",
     "WL234"),
    ("V11", "A parameter name that contains `gamma` will be renamed internally to `weight`. "
            "Please use a different name to suppress this warning.", "WL235"),
    ("C1", "ValueError: Unrecognized model in ./finbert. Should have a `model_type` key in its "
           "config.json, or contain one of the following strings in its name: albert, bert",
     "WL303"),
    ("C2", "OSError: file ./model/config.json not found", "WL300"),
    ("C3", "RuntimeError: Error(s) in loading state_dict for BertForSequenceClassification: "
           "size mismatch for classifier.weight: copying a param with shape torch.Size([3, 768]) "
           "from checkpoint, the shape in current model is torch.Size([2, 768]). You may "
           "consider adding `ignore_mismatched_sizes=True` in the model `from_pretrained` "
           "method.", "WL310"),
    ("C3", "TypeError: __init__() got an unexpected keyword argument 'ignore_mismatched_sizes'",
     "WL234"),
    ("C4", "size mismatch for bert.embeddings.word_embeddings.weight: copying a param with shape "
           "torch.Size([28996, 768]) from checkpoint, the shape in current model is "
           "torch.Size([30522, 768]).", "WL310"),
    ("C5", "size mismatch for deberta.encoder.rel_embeddings.weight: copying a param with shape "
           "torch.Size([512, 1536]) from checkpoint, the shape in current model is "
           "torch.Size([1024, 1536]).", "WL422"),
    ("C6", "AttributeError: 'BertConfig' object has no attribute 'add_layers'", "WL350"),
    ("C6", "AttributeError: type object 'BertConfig' has no attribute "
           "'pretrained_config_archive_map'", "WL350"),
    ("C7", "ValueError: Unrecognized configuration class <class 'transformers.models.distilbert."
           "configuration_distilbert.DistilBertConfig'> for this kind of AutoModel: "
           "AutoModelForSeq2SeqLM.", "WL406"),
    ("C8", "OSError: Can't load tokenizer for 'bert-base-uncased'. If you were trying to load it "
           "from 'https://huggingface.co/models', make sure you don't have a local directory "
           "with the same name.", "WL521"),
    ("C9", "huggingface_hub.utils._validators.HFValidationError: Repo id must be in the form "
           "'repo_name' or 'namespace/repo_name': './pretrained_model/mt5-base'. Use `repo_type` "
           "argument if needed.", "WL570"),
    ("C9", "OSError: ./models/my-bert is not a local folder and is not a valid model identifier "
           "listed on 'https://huggingface.co/models'", "WL570"),
    ("C10", "huggingface_hub.utils._errors.RepositoryNotFoundError: 401 Client Error. "
            "Repository Not Found for url: https://huggingface.co/api/models/D:%5Cmodel.",
     "WL571"),
    ("C10", "huggingface_hub.errors.GatedRepoError: 403 Client Error.", "WL571"),
    ("C11", "ValueError: This tokenizer cannot be instantiated. Please make sure you have "
            "`sentencepiece` installed in order to use this tokenizer.", "WL572"),
    ("C11", "ValueError: Couldn't instantiate the backend tokenizer from one of: (1) a "
            "`tokenizers` library serialization file", "WL572"),
    ("C11", "ImportError: DebertaV2Converter requires the protobuf library but it was not found "
            "in your environment.", "WL572"),
    ("C12", "TypeError: stat: path should be string, bytes, os.PathLike or integer, not NoneType",
     "WL351"),
    ("C13", "IndexError: index out of range in self", "WL330"),
    ("K1", "Some weights of BertForSequenceClassification were not initialized from the model "
           "checkpoint at bert-base-uncased and are newly initialized: ['classifier.bias', "
           "'classifier.weight']", "WL401"),
    ("K1", "Some weights of the model checkpoint at bert-base-uncased were not used when "
           "initializing BertForSequenceClassification: ['cls.predictions.bias', "
           "'cls.seq_relationship.weight']", "WL403"),
    ("K2", 'RuntimeError: Error(s) in loading state_dict for BertModel: Missing key(s) in '
           'state_dict: "embeddings.word_embeddings.weight". Unexpected key(s) in state_dict: '
           '"module.bert.embeddings.word_embeddings.weight".', "WL410"),
    ("K3", 'Unexpected key(s) in state_dict: "model.roberta.embeddings.word_embeddings.weight".',
     "WL411"),
    ("K4", "Weights of BertModel not initialized from pretrained model: "
           "['bert.embeddings.word_embeddings.weight', 'bert.embeddings.position_embeddings."
           "weight']", "WL402"),
    ("K5", "ValueError: Loading jinaai/jina-bert requires you to execute the configuration file "
           "in that repo on your local machine. Make sure you have read the code there to avoid "
           "malicious use, then set the option `trust_remote_code=True` to remove this error.",
     "WL430"),
    ("K5", "ModuleNotFoundError: No module named 'transformers_modules.jinaai'", "WL430"),
    ("K5", "OSError: Could not locate the configuration_bert.py inside "
           "jinaai/jina-bert-implementation.", "WL430"),
    ("K7", "No sentence-transformers model found with name answerdotai/ModernBERT-base. Creating "
           "a new one with mean pooling.", "WL450"),
    ("K8", "Some weights of RobertaForMaskedLM were not initialized from the model checkpoint at "
           "./converted and are newly initialized: ['lm_head.decoder.weight', 'lm_head.bias']",
     "WL401"),
    ("E1", "Killed", "WL500"),
    ("E1", "Process finished with exit code 137", "WL500"),
    ("E1", "RuntimeError: [enforce fail at alloc_cpu.cpp:114] data. DefaultCPUAllocator: can't "
           "allocate memory: you tried to allocate 268435456 bytes. Error code 12 (Cannot "
           "allocate memory)", "WL500"),
    ("E1", "torchrun: worker killed by signal 9", "WL500"),
    ("E2", "RuntimeError: Attempting to deserialize object on a CUDA device but "
           "torch.cuda.is_available() is False. If you are running on a CPU-only machine, please "
           "use torch.load with map_location=torch.device('cpu') to map your storages to the "
           "CPU.", "WL516"),
    ("E3", "AssertionError: Torch not compiled with CUDA enabled", "WL510"),
    ("E4", "RuntimeError: The NVIDIA driver on your system is too old (found version 11040).",
     "WL512"),
    ("E4", "RuntimeError: CUDA driver version is insufficient for CUDA runtime version", "WL512"),
    ("E5", "RuntimeError: CUDA error: no kernel image is available for execution on the device",
     "WL513"),
    ("E5", "UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible "
           "with the current PyTorch installation.", "WL513"),
    ("E6", "OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't "
           "find it in the cached files and it looks like bert-base-uncased is not the path to a "
           "directory containing a file named config.json.", "WL573"),
    ("E6", "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find the requested files in "
           "the disk cache and outgoing traffic has been disabled. To enable hf.co look-ups and "
           "downloads online, set 'local_files_only' to False.", "WL522"),
    ("E6", "huggingface_hub.errors.OfflineModeIsEnabled: Cannot reach https://huggingface.co/api/"
           "models/bert-base-uncased: offline mode is enabled. To disable it, please unset the "
           "`HF_HUB_OFFLINE` environment variable.", "WL522"),
    ("E6", "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', "
           "port=443): Max retries exceeded with url: /api/models/bert-base-uncased (Caused by "
           "NameResolutionError(\"Failed to resolve 'huggingface.co' ([Errno -3] Temporary "
           "failure in name resolution)\"))", "WL573"),
    ("E7", "requests.exceptions.SSLError: HTTPSConnectionPool(host='cdn-lfs.huggingface.co', "
           "port=443): Max retries exceeded with url: /repos/ (Caused by SSLError("
           "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
           "failed')))", "WL574"),
    ("E8", "OSError: There was a problem when trying to write in your cache folder "
           "(/workspace/.cache/huggingface/transformers/). You should set the environment "
           "variable TRANSFORMERS_CACHE to a writable directory.", "WL520"),
    ("E8", "PermissionError: [Errno 13] Permission denied: '/root/.cache/huggingface/token'",
     "WL520"),
    ("E9", "OSError: [Errno 30] Read-only file system: '/nonexistent'", "WL520"),
    ("E11", "UserWarning: `huggingface_hub` cache-system uses symlinks by default to efficiently "
            "store duplicated files but your machine does not support them in C:\\cache.",
     "WL575"),
    ("E11", "OSError: [WinError 1314] A required privilege is not held by the client", "WL575"),
    ("CUDA", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB.", "WL514"),
    ("CUDA", "RuntimeError: CUDA error: device-side assert triggered", "WL576"),
    ("CUDA", "RuntimeError: CUDA error: out of memory", "WL514"),
    ("KeyError", "KeyError: 'input_ids'", None),  # a KeyError outside the config mapping
]


@pytest.mark.parametrize(("entry", "text", "code"), CATALOGUE,
                         ids=[f"{e}-{c}-{i}" for i, (e, _, c) in enumerate(CATALOGUE)])
def test_catalogue_error_texts_are_named(entry: str, text: str, code: str | None) -> None:
    found = diagnose_error(text)
    if code is None:
        assert found == (), f"{entry}: a false alarm {[f.code for f in found]}"
        return
    assert found, f"{entry}: nothing matched"
    assert found[0].code == code, f"{entry}: {[f.code for f in found]}"


def test_nothing_matches_gives_an_empty_tuple() -> None:
    assert diagnose_error("ValueError: the answer is not 42") == ()
    assert diagnose_error("") == ()


def test_chained_traceback_names_the_root_cause_first() -> None:
    """huggingface_hub's LocalEntryNotFoundError, re-raised by transformers as 'We couldn't
    connect': offline mode is the cause, the connection message only its echo."""
    log = """Traceback (most recent call last):
  File "hub.py", line 1, in cached_files
huggingface_hub.errors.LocalEntryNotFoundError: Cannot find the requested files in the disk cache \
and outgoing traffic has been disabled. To enable hf.co look-ups and downloads online, set \
'local_files_only' to False.

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "app.py", line 3, in <module>
OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find \
them in the cached files.
"""
    found = diagnose_error(log)
    assert [f.code for f in found] == ["WL522"]
    assert found[0].evidence["exception"] == "huggingface_hub.errors.LocalEntryNotFoundError"
    assert found[0].evidence["line"] == 3


def test_exception_type_restricts_a_row() -> None:
    """'index out of range in self' is the embedding lookup only as an IndexError."""
    assert [f.code for f in diagnose_error("IndexError: index out of range in self")] == ["WL330"]
    assert diagnose_error("ValueError: index out of range in self") == ()


def test_evidence_carries_extracted_values() -> None:
    (finding,) = diagnose_error(
        "_pickle.UnpicklingError: Weights only load failed.\n"
        "WeightsUnpickler error: Unsupported global: GLOBAL transformers.training_args."
        "TrainingArguments was not an allowed global by default.")
    assert finding.code == "WL210"
    assert finding.evidence["global_name"] == "transformers.training_args.TrainingArguments"
    assert finding.evidence["line"] == 2
    assert "from transformers.training_args import TrainingArguments; " \
           "torch.serialization.add_safe_globals([TrainingArguments])" in finding.fix
    assert "weights_only=False" not in finding.fix
    (mismatch,) = diagnose_error(CATALOGUE[[c[0] for c in CATALOGUE].index("C4")][1])
    assert mismatch.evidence["key"] == "bert.embeddings.word_embeddings.weight"
    assert mismatch.evidence["checkpoint_shape"] == "28996, 768"
    assert mismatch.evidence["model_shape"] == "30522, 768"


# --- real failures, made here by the real libraries --------------------------------------------


@dataclass(frozen=True)
class RealFailure:
    """A broken checkpoint, the real call that fails on it, and the code check names."""

    name: str
    build: Callable[[Path, Path, Path], Path]  # (safetensors, bin, tmp) -> model folder
    code: str
    check_class: str | None = None


def _copy(src: Path, tmp: Path, name: str) -> Path:
    dst = tmp / name
    shutil.copytree(src, dst)
    return dst


def _lfs_bin(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(binary, tmp, "lfs-bin")
    (out / "pytorch_model.bin").write_text(LFS_POINTER)
    return out


def _lfs_safetensors(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(st, tmp, "lfs-st")
    (out / "model.safetensors").write_text(LFS_POINTER)
    return out


def _html_bin(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(binary, tmp, "html-bin")
    (out / "pytorch_model.bin").write_text("<!DOCTYPE html><html><body>Quota exceeded</body>"
                                           "</html>")
    return out


def _truncated_safetensors(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(st, tmp, "cut-st")
    data = (out / "model.safetensors").read_bytes()
    (out / "model.safetensors").write_bytes(data[: len(data) // 2])
    return out


def _zip_not_torch(st: Path, binary: Path, tmp: Path) -> Path:
    import zipfile

    out = _copy(binary, tmp, "zip-not-torch")
    with zipfile.ZipFile(out / "pytorch_model.bin", "w") as archive:
        archive.writestr("weights.npy", b"\x93NUMPY" + bytes(200))
    return out


def _truncated_zip(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(binary, tmp, "cut-zip")
    data = (out / "pytorch_model.bin").read_bytes()
    (out / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    return out


def _training_args_in_bin(st: Path, binary: Path, tmp: Path) -> Path:
    import torch
    from safetensors.torch import load_file

    out = tmp / "weights-only"
    out.mkdir()
    shutil.copy(st / "config.json", out)
    state = dict(load_file(str(st / "model.safetensors")))
    torch.save({**state, "args": argparse.Namespace(lr=3e-5)}, out / "pytorch_model.bin")
    return out


def _vocab_mismatch(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(st, tmp, "vocab")
    edit_config(out, vocab_size=120)
    return out


def _labels_mismatch(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(st, tmp, "labels")
    edit_config(out, id2label={str(i): f"L{i}" for i in range(5)},
                label2id={f"L{i}": i for i in range(5)})
    return out


def _no_config(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(st, tmp, "no-config")
    (out / "config.json").unlink()
    return out


def _no_weights(st: Path, binary: Path, tmp: Path) -> Path:
    out = _copy(st, tmp, "no-weights")
    (out / "model.safetensors").unlink()
    return out


def _missing_shard(st: Path, binary: Path, tmp: Path) -> Path:
    from transformers import AutoModelForSequenceClassification

    out = tmp / "sharded"
    AutoModelForSequenceClassification.from_pretrained(st).save_pretrained(
        out, max_shard_size="30KB")
    next(iter(sorted(out.glob("model-00001-of-*.safetensors")))).unlink()
    return out


def _module_prefix(st: Path, binary: Path, tmp: Path) -> Path:
    import torch
    from safetensors.torch import load_file

    out = tmp / "ddp"
    out.mkdir()
    shutil.copy(st / "config.json", out)
    state = load_file(str(st / "model.safetensors"))
    torch.save({f"module.{k}": v for k, v in state.items()}, out / "pytorch_model.bin")
    return out


def _base_model(st: Path, binary: Path, tmp: Path) -> Path:
    return save_tiny(tmp / "base", "BertModel")


REAL_FAILURES = [
    RealFailure("lfs-pointer-bin", _lfs_bin, "WL110"),
    RealFailure("lfs-pointer-safetensors", _lfs_safetensors, "WL110"),
    RealFailure("html-page-bin", _html_bin, "WL111"),
    RealFailure("truncated-safetensors", _truncated_safetensors, "WL120"),
    RealFailure("truncated-torch-zip", _truncated_zip, "WL130"),
    RealFailure("zip-not-torch", _zip_not_torch, "WL131"),
    RealFailure("weights-only-global", _training_args_in_bin, "WL210"),
    RealFailure("vocab-size-contradicts", _vocab_mismatch, "WL310"),
    RealFailure("num-labels-contradicts", _labels_mismatch, "WL310"),
    RealFailure("no-config", _no_config, "WL300"),
    RealFailure("no-weights", _no_weights, "WL100"),
    RealFailure("missing-shard", _missing_shard, "WL141"),
    RealFailure("module-prefix", _module_prefix, "WL410"),
    RealFailure("base-into-classifier", _base_model, "WL401",
                check_class="BertForSequenceClassification"),
]


def _load_and_capture(folder: Path, class_name: str) -> str:
    """Run the real from_pretrained; return what a user would see: transformers' log lines and,
    when it raises, the traceback."""
    script = folder.parent / f"load_{folder.name}.py"
    script.write_text("import transformers\n"
                      f"model = transformers.{class_name}.from_pretrained({str(folder)!r})\n")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        runpy.run_path(str(script))
    except Exception:
        buffer.write(traceback.format_exc())
    finally:
        logger.removeHandler(handler)
    return buffer.getvalue()


@pytest.fixture(scope="module", params=REAL_FAILURES, ids=lambda f: f.name)
def real_failure(request: pytest.FixtureRequest, safetensors_model: Path, bin_model: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[RealFailure, Path, str]:
    failure: RealFailure = request.param
    folder = failure.build(safetensors_model, bin_model, tmp_path_factory.mktemp(failure.name))
    class_name = failure.check_class or "AutoModelForSequenceClassification"
    return failure, folder, _load_and_capture(folder, class_name)


def test_real_failure_is_named_as_check_names_it(
        real_failure: tuple[RealFailure, Path, str], tmp_path: Path) -> None:
    failure, folder, output = real_failure
    checked = whyload.check(str(folder), model_class=failure.check_class)
    assert failure.code in codes(checked), "the fixture is not the failure it claims to be"
    log = tmp_path / "train.log"
    log.write_text(noise(50) + output + noise(20, 50))
    report = explain(log)
    assert report.command == "explain"
    assert failure.code in codes(report), (codes(report), output[-600:])
    finding = report.by_code(failure.code)[0]
    assert finding.evidence.get("checked") == str(folder) or "line" in finding.evidence
    assert report.facts["checked"], "the model the log names was checked"


def test_real_failure_without_check_still_names_the_cause(
        real_failure: tuple[RealFailure, Path, str]) -> None:
    """The text alone (diagnose_error): the same code, or for a file whose bytes only check can
    classify, the honest 'not what its name says'."""
    failure, _, output = real_failure
    found = [f.code for f in diagnose_error(output)]
    assert found, output[-600:]
    guesses = {"WL110": {"WL110", "WL115"}, "WL300": {"WL300", "WL303"}}
    assert set(found) & guesses.get(failure.code, {failure.code}), (found, output[-600:])
    line = diagnose_error(output)[0].evidence["line"]
    assert isinstance(line, int) and 1 <= line <= output.count("\n") + 1


def test_offline_cache_miss_from_real_transformers(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = ("import transformers\n"
            "transformers.AutoModel.from_pretrained('bert-base-uncased')\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 1
    report = explain(io.StringIO(run.stderr), run_check=False)
    assert codes(report)[0] == "WL522"
    assert report.verdict is Verdict.FAILS


def test_killed_child_process_is_out_of_memory(tmp_path: Path) -> None:
    """A real SIGKILL (what the OOM killer sends): the shell's 137 and Python's own message."""
    shell = subprocess.run(["bash", "-c", f"{sys.executable} -c 'import os, signal; "
                            "os.kill(os.getpid(), signal.SIGKILL)'; echo \"exit code $?\""],
                           capture_output=True, text=True, timeout=60)
    assert "exit code 137" in shell.stdout
    try:
        subprocess.run([sys.executable, "-c", "import os, signal; "
                        "os.kill(os.getpid(), signal.SIGKILL)"], check=True, timeout=60)
    except subprocess.CalledProcessError:
        python_side = traceback.format_exc()
    for text in (shell.stdout, python_side):
        (finding,) = diagnose_error(text)
        assert finding.code == "WL500"
        assert finding.severity is Severity.ERROR and finding.effect is Effect.RAISES


# --- transformers' loading report ------------------------------------------------------------


def test_v5_loading_report_head_newly_initialized(
        safetensors_model: Path, tmp_path: Path) -> None:
    base = save_tiny(tmp_path / "base", "BertModel")
    output = _load_and_capture(base, "BertForSequenceClassification")
    assert "LOAD REPORT" in output and "MISSING" in output
    report = explain(io.StringIO(output), run_check=False)
    assert codes(report) == ["WL401"]
    head = report.findings[0]
    assert head.severity is Severity.WARNING
    assert sorted(head.evidence["missing"]) == ["classifier.bias", "classifier.weight"]
    assert head.evidence["model_class"] == "BertForSequenceClassification"
    assert head.evidence["path"] == str(base)


def test_v5_loading_report_mismatch_raised(safetensors_model: Path, tmp_path: Path) -> None:
    folder = _labels_mismatch(safetensors_model, safetensors_model, tmp_path)
    output = _load_and_capture(folder, "AutoModelForSequenceClassification")
    (finding,) = [f for f in diagnose_error(output) if f.code == "WL310"]
    assert finding.effect is Effect.RAISES
    assert finding.evidence["mismatched"]["classifier.weight"] == {"checkpoint": "3, 32",
                                                                   "model": "5, 32"}


def test_v5_loading_report_with_brace_ranges_finds_the_prefix(
        safetensors_model: Path, tmp_path: Path) -> None:
    folder = _module_prefix(safetensors_model, safetensors_model, tmp_path)
    output = _load_and_capture(folder, "AutoModelForSequenceClassification")
    assert "{0, 1}" in output  # transformers 5 folds layer numbers into ranges
    found = diagnose_error(output)
    assert [f.code for f in found] == ["WL410"]
    assert found[0].evidence["prefix"] == "module."


def test_v4_sentences_are_read() -> None:
    log = ("Some weights of the model checkpoint at ./m were not used when initializing "
           "BertForSequenceClassification: ['cls.predictions.bias']\n"
           "- This IS expected if you are initializing BertForSequenceClassification from the "
           "checkpoint of a model trained on another task\n"
           "Some weights of BertForSequenceClassification were not initialized from the model "
           "checkpoint at ./m and are newly initialized because the shapes did not match:\n"
           "- classifier.weight: found shape torch.Size([3, 32]) in the checkpoint and "
           "torch.Size([5, 32]) in the model instantiated\n")
    found = {f.code: f for f in diagnose_error(log)}
    assert set(found) == {"WL310", "WL403"}
    assert found["WL310"].effect is Effect.SILENT  # re-initialized, no exception
    assert found["WL403"].severity is Severity.INFO


# --- healthy models: no false alarm --------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["safetensors_model", "bin_model", "legacy_bin_model",
                                     "sharded_model", "minilm"])
def test_healthy_load_log_explains_nothing(fixture: str, request: pytest.FixtureRequest,
                                           tmp_path: Path) -> None:
    folder: Path = request.getfixturevalue(fixture)
    class_name = "AutoModel" if fixture == "minilm" else "AutoModelForSequenceClassification"
    output = _load_and_capture(folder, class_name)
    log = tmp_path / "ok.log"
    log.write_text(noise(30) + f"loading {folder}\n" + output + "eval_error_rate=0.01\n"
                   "Warning: tokenizer parallelism is on\n" + noise(30, 30))
    report = explain(log)
    assert [f.code for f in report.findings if f.severity >= Severity.WARNING] == [], \
        report.findings
    assert report.verdict is not Verdict.FAILS


def test_no_failure_found_says_unknown_not_loads() -> None:
    report = explain(io.StringIO(noise(100)), run_check=False)
    assert report.findings == ()
    assert report.verdict is Verdict.UNKNOWN
    assert report.skipped[0].reason.startswith("no failure")


# --- streaming -----------------------------------------------------------------------------


def test_a_long_log_streams_in_bounded_memory(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    line = NOISE.format(1, 1, 1)
    with log.open("w") as out:
        for _ in range(20):
            out.write(line * 10_000)
        out.write("x" * 5_000_000 + "\n")  # one giant line (a dumped tensor)
        out.write("Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n"
                  "_pickle.UnpicklingError: invalid load key, 'v'.\n")
        out.write(line * 1000)
    size = log.stat().st_size
    tracemalloc.start()
    report = explain(log, run_check=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert codes(report) == ["WL110"]
    assert report.findings[0].evidence["line"] == 200_004
    assert peak < 4_000_000 < size, (peak, size)


def test_every_failure_in_a_log_is_reported_once_with_its_count() -> None:
    error = "OSError: [Errno 28] No space left on device\n"
    log = noise(100) + error + noise(100, 100) + error + noise(100, 200)
    report = explain(io.StringIO(log), run_check=False)
    assert codes(report) == ["WL541"]
    assert report.findings[0].evidence["line"] == 101
    assert report.findings[0].evidence["occurrences"] == 2
    assert report.facts["incidents"] == 2


def test_carriage_return_progress_bars_and_colours() -> None:
    log = ("Loading weights:   0%|   | 0/39\rLoading weights: 100%|###| 39/39\r\n"
           "\x1b[31mtorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\x1b[0m"
           "\n")
    (finding,) = explain(io.StringIO(log), run_check=False).findings
    assert finding.code == "WL514"
    assert finding.evidence["exception"] == "torch.OutOfMemoryError"
    assert "\x1b" not in str(finding.evidence["text"])


# --- the model the log names --------------------------------------------------------------------


def test_a_log_naming_a_healthy_model_adds_no_check_findings(
        safetensors_model: Path) -> None:
    log = (f"model = AutoModelForSequenceClassification.from_pretrained('{safetensors_model}')\n"
           "IndexError: index out of range in self\n")
    report = explain(io.StringIO(log))
    assert codes(report) == ["WL330"]
    assert report.facts["checked"] == [{"target": str(safetensors_model), "verdict": "loads",
                                        "codes": [], "class": "AutoModelForSequenceClassification"}]


def test_explain_merges_one_finding_per_code(
        safetensors_model: Path, tmp_path: Path) -> None:
    folder = _truncated_safetensors(safetensors_model, safetensors_model, tmp_path)
    output = _load_and_capture(folder, "AutoModelForSequenceClassification")
    report = explain(io.StringIO(output))
    assert codes(report).count("WL120") == 1
    merged = report.by_code("WL120")[0]
    assert merged.evidence["checked"] == str(folder)
    assert merged.evidence["missing_bytes"] > 0  # what check measured
    assert "incomplete metadata" in merged.evidence["log_text"]  # what the log said
    assert isinstance(merged.evidence["log_line"], int)


# --- command line ---------------------------------------------------------------------------


def test_cli_explain_file_json(tmp_path: Path) -> None:
    log = tmp_path / "err.log"
    log.write_text(noise(5) + "_pickle.UnpicklingError: invalid load key, '<'.\n")
    run = run_cli("explain", str(log), "--format", "json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["schema"] == "whyload.report/2" and report["command"] == "explain"
    assert report["findings"][0]["code"] == "WL111"
    assert report["findings"][0]["evidence"]["line"] == 6


def test_cli_explain_stdin_text() -> None:
    run = subprocess.run([sys.executable, "-m", "whyload", "explain", "-"], input="Killed\n",
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "WL500" in run.stdout and "low_cpu_mem_usage" in run.stdout


@pytest.mark.parametrize("bad", ["missing.log", "a-directory"])
def test_cli_explain_bad_input_is_a_clear_error(bad: str, tmp_path: Path) -> None:
    (tmp_path / "a-directory").mkdir()
    run = run_cli("explain", str(tmp_path / bad))
    assert run.returncode == 2
    assert run.stderr.startswith("whyload: error: cannot read the log")
    assert "Traceback" not in run.stderr


def test_cli_explain_binary_garbage_is_not_a_crash(tmp_path: Path) -> None:
    log = tmp_path / "garbage.log"
    log.write_bytes(os.urandom(200_000) + b"\nOSError: [Errno 28] No space left on device\n")
    run = run_cli("explain", str(log), "--format", "json", "--no-check")
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["findings"][0]["code"] == "WL541"


def test_explain_imports_neither_torch_nor_transformers(tmp_path: Path) -> None:
    log = tmp_path / "err.log"
    log.write_text("OSError: [Errno 28] No space left on device\n")
    code = ("import sys; from whyload.logs import diagnose_error, explain; "
            "explain(sys.argv[1]); diagnose_error('Killed'); "
            "print(sorted(m for m in ('torch', 'transformers', 'safetensors') if m in "
            "sys.modules))")
    run = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.strip() == "[]", run.stderr


def test_line_numbers_are_greps_even_with_progress_bars(tmp_path: Path) -> None:
    """tqdm redraws a line with \\r: a file's line is what ends at \\n, as grep -n counts."""
    log = tmp_path / "tqdm.log"
    log.write_bytes(b"Epoch 1:  10%|#   | 1/10\rEpoch 1: 100%|####| 10/10\r\n" * 10
                    + b"Epoch 2:  50%|##  | 5/10\rKilled\n")
    grep = subprocess.run(["grep", "-n", "Killed", str(log)], capture_output=True, text=True)
    assert grep.stdout.startswith("11:")
    assert explain(log, run_check=False).findings[0].evidence["line"] == 11
    run = subprocess.run([sys.executable, "-m", "whyload", "explain", "-", "-f", "json"],
                         input=log.read_bytes(), capture_output=True, timeout=60)
    assert json.loads(run.stdout)["findings"][0]["evidence"]["line"] == 11


def test_diagnose_exception_reads_the_chain() -> None:
    """What the CLI's own error output uses: a caught exception, its causes included; the
    source lines a traceback quotes are code, not messages."""
    from whyload.logs import diagnose_exception

    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as inner:
            raise RuntimeError("could not write the converted weights") from inner
    except RuntimeError as outer:
        found = diagnose_exception(outer)
    assert [f.code for f in found] == ["WL541"]
    assert found[0].evidence["exception"] == "OSError"


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


def test_a_cached_hub_id_in_the_log_is_checked(
        safetensors_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    repo = _cache_repo(cache, "acme/tiny-bert", safetensors_model)
    blob = (repo / "snapshots" / ("a" * 40) / "model.safetensors").resolve()
    with blob.open("r+b") as fh:
        fh.truncate(blob.stat().st_size // 3)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    script = tmp_path / "serve.py"
    script.write_text("import transformers\n"
                      "model = transformers.AutoModelForSequenceClassification.from_pretrained("
                      "'acme/tiny-bert')\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 1 and "Traceback" in run.stderr
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    report = explain(io.StringIO(run.stderr))
    assert codes(report) == ["WL120"], (codes(report), run.stderr[-800:])
    finding = report.findings[0]
    assert finding.evidence["checked"] == "acme/tiny-bert"
    assert finding.fix.startswith("hf download acme/tiny-bert model.safetensors")
    assert "log_line" in finding.evidence


def test_tokenizer_json_from_a_newer_tokenizers(minilm: Path, tmp_path: Path) -> None:
    """A tokenizer.json naming a pre-tokenizer type the installed tokenizers does not have (as
    a newer release writes): the real error of tokenizers itself."""
    from tokenizers import Tokenizer

    spec = json.loads((minilm / "tokenizer.json").read_text())
    spec["pre_tokenizer"] = {"type": "FuturePreTokenizer"}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(Exception) as raised:
        Tokenizer.from_file(str(path))
    found = diagnose_error("".join(traceback.format_exception(raised.value)))
    assert [f.code for f in found] == ["WL203"]
    assert found[0].evidence["enum"] == "PreTokenizerUntagged"


def test_a_folder_that_is_not_a_model_is_not_checked(tmp_path: Path) -> None:
    """A log that names the project folder (a package.json, no weights) draws no WL100."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text("{}")
    log = f"Loading data from {project}\nKilled\n"
    report = explain(io.StringIO(log))
    assert codes(report) == ["WL500"]
    assert report.facts["checked"] == []


@pytest.mark.parametrize(("model_class", "missing", "severity"), [
    ("BertModel", "['bert.pooler.dense.weight', 'bert.pooler.dense.bias']", Severity.WARNING),
    ("BertForSequenceClassification", "['bert.pooler.dense.weight', 'bert.pooler.dense.bias', "
     "'classifier.weight', 'classifier.bias']", Severity.WARNING),
    ("BertForSequenceClassification", "['bert.pooler.dense.weight', 'bert.pooler.dense.bias']",
     Severity.ERROR),
    ("BertModel", "['bert.encoder.layer.0.output.dense.weight']", Severity.ERROR),
])
def test_a_new_pooler_matters_only_under_a_loaded_head(model_class: str, missing: str,
                                                       severity: Severity) -> None:
    """As check's WL402: a pooler newly initialized after MLM training is harmless for hidden
    states and for a head being fine-tuned, wrong under a trained classifier that reads it."""
    log = (f"Some weights of {model_class} were not initialized from the model checkpoint at "
           f"./mlm and are newly initialized: {missing}\n")
    (finding,) = [f for f in diagnose_error(log) if f.code == "WL402"]
    assert finding.severity is severity


def test_whyload_explain_is_the_function_once_the_package_is_imported() -> None:
    code = ("import io, whyload; import whyload.logs; "
            "print(whyload.explain(io.StringIO('Killed\\n'), run_check=False).codes())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert run.stdout.strip() == "['WL500']", run.stderr
