"""WL2xx: what the installed libraries refuse. The knowledge whyload carries is checked against
the installed torch, so it cannot drift."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import _tiny_model, codes, only

import whyload
from whyload import Severity, Verdict
from whyload.knowledge import torch_pickle


def test_allowlist_matches_the_installed_torch() -> None:
    from torch import _weights_only_unpickler as wo

    data = torch_pickle._data()
    assert set(data["allowed"]) == set(wo._get_allowed_globals())
    assert set(data["blocked_modules"]) == set(wo._blocklisted_modules)


@pytest.mark.parametrize(("extra", "named"), [
    ({"rng_state": np.random.get_state()[1][:4].sum()}, "numpy"),
    ({"args": argparse.Namespace(lr=1e-5, epochs=3)}, "argparse.Namespace"),
])
def test_training_state_next_to_the_weights(tmp_path: Path, safetensors_model: Path,
                                            extra: dict, named: str) -> None:
    import torch

    shutil.copy(safetensors_model / "config.json", tmp_path)
    torch.save({**_tiny_model().state_dict(), **extra}, tmp_path / "pytorch_model.bin")
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    report = whyload.check(str(tmp_path))
    f = only(report, "WL210")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS
    assert any(named in g for g in f.evidence["rejected_globals"])
    assert "weights_only=False" in f.title and "add_safe_globals" in f.fix


def test_protocol_4_pickle_is_refused_by_weights_only(tmp_path: Path,
                                                      safetensors_model: Path) -> None:
    """pickle.dump with protocol 4 (not torch.save) uses opcodes torch's unpickler lacks."""
    import pickle

    shutil.copy(safetensors_model / "config.json", tmp_path)
    with (tmp_path / "pytorch_model.bin").open("wb") as fh:
        pickle.dump({"x": [1, 2, 3]}, fh, protocol=4)
    report = whyload.check(str(tmp_path))
    f = only(report, "WL210")
    assert "SHORT_BINUNICODE" in f.evidence["rejected_opcodes"] or \
        "MEMOIZE" in f.evidence["rejected_opcodes"]


def test_plain_state_dicts_pass(bin_model: Path, legacy_bin_model: Path) -> None:
    for model in (bin_model, legacy_bin_model):
        assert "WL210" not in codes(whyload.check(str(model)))


def test_hostile_call_is_named(tmp_path: Path, safetensors_model: Path) -> None:
    import os

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, ("touch /tmp/whyload-should-never-exist",))

    import torch

    shutil.copy(safetensors_model / "config.json", tmp_path)
    torch.save({"weight": Payload()}, tmp_path / "pytorch_model.bin")
    report = whyload.check(str(tmp_path))
    f = only(report, "WL600")  # the security fact; WL210 (torch refuses it) stays quiet
    assert "WL210" not in codes(report)
    assert list(f.evidence["globals"]) == ["posix.system"]
    assert f.fix.startswith("do not load pytorch_model.bin")
    assert not Path("/tmp/whyload-should-never-exist").exists()
    assert json.dumps(report.to_dict())


def test_relative_key_positions_under_transformers_5(tmp_path: Path) -> None:
    """Saved by 4.x with relative_key: 5.x ignores the field and drops distance_embedding."""
    from conftest import edit_config, load_report, save_tiny
    from safetensors.numpy import load_file, save_file

    model = save_tiny(tmp_path / "m", "BertModel", num_labels=2)
    edit_config(model, position_embedding_type="relative_key", transformers_version="4.40.0")
    tensors = load_file(str(model / "model.safetensors"))
    for i in range(2):  # what 4.x saved: a distance embedding per layer
        tensors[f"encoder.layer.{i}.attention.self.distance_embedding.weight"] = np.zeros(
            (2 * 64 - 1, 16), np.float32)
    save_file(tensors, str(model / "model.safetensors"), metadata={"format": "pt"})
    assert load_report(model, "BertModel")["unexpected_keys"]  # dropped, no exception
    report = whyload.check(str(model))
    f = only(report, "WL206")
    assert f.evidence["position_embedding_type"] == "relative_key"
    assert report.verdict is Verdict.LOADS_BROKEN
