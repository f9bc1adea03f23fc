"""`with whyload.probe.guarded.load(...) as model:` — preflight, load in process, refuse random
weights unless allowed, free the memory on exit. Every refusal carries its Report."""

from __future__ import annotations

import gc
from pathlib import Path

import psutil
import pytest
from conftest import save_tiny

from whyload.errors import LoadFailed, LoadRefused, PreflightRefused, RandomWeightsRefused
from whyload.probe.guarded import load
from whyload.report import Severity, Verdict

MB = 2**20


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BertModel checkpoint: fine-tuning it for classification creates a new head."""
    return save_tiny(tmp_path_factory.mktemp("guarded") / "base", "BertModel")


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300 MB BERT (tiny vocabulary, wide layers), so that its memory shows in RSS."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("guarded") / "wide"
    BertModel(BertConfig(vocab_size=100, hidden_size=1024, num_hidden_layers=6,
                         num_attention_heads=16, intermediate_size=4096,
                         max_position_embeddings=64)).save_pretrained(out)
    return out


def test_a_clean_model_is_handed_out(safetensors_model: Path) -> None:
    guard = load(str(safetensors_model))
    with guard as model:
        assert type(model).__name__ == "BertForSequenceClassification"
        assert next(model.parameters()).device.type == "cpu"
    assert guard.report is not None
    assert guard.report.verdict is Verdict.LOADS
    assert guard.report.facts["in_process"] is True
    assert next(model.parameters()).device.type == "meta"  # released, though still named


def test_a_new_head_is_refused_unless_allowed(base_model: Path) -> None:
    with (pytest.raises(RandomWeightsRefused) as refused,
          load(str(base_model), "BertForSequenceClassification")):
        pytest.fail("a model with a random head was handed out")
    assert refused.value.random == ("classifier.bias", "classifier.weight")
    assert refused.value.report.codes() == ["WL401"]
    assert "allow_random" in str(refused.value)

    with load(str(base_model), "BertForSequenceClassification",
              allow_random=("classifier.*",)) as model:
        assert type(model).__name__ == "BertForSequenceClassification"


def test_allow_random_must_cover_every_random_weight(base_model: Path) -> None:
    with (pytest.raises(RandomWeightsRefused) as refused,
          load(str(base_model), "BertForSequenceClassification",
               allow_random=("classifier.bias",))):
        pass
    assert refused.value.random == ("classifier.weight",)


def test_mismatched_weights_started_at_random_count_as_random(
        safetensors_model: Path) -> None:
    with (pytest.raises(RandomWeightsRefused) as refused,
          load(str(safetensors_model), num_labels=5, ignore_mismatched_sizes=True)):
        pass
    assert set(refused.value.random) == {"classifier.bias", "classifier.weight"}
    with load(str(safetensors_model), num_labels=5, ignore_mismatched_sizes=True,
              allow_random=["classifier.*"]) as model:
        assert model.classifier.out_features == 5


def test_preflight_refuses_what_check_says_fails(safetensors_model: Path,
                                                 copy_of) -> None:  # type: ignore[no-untyped-def]
    folder = copy_of(safetensors_model)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(PreflightRefused) as refused, load(str(folder)):
        pytest.fail("a truncated checkpoint was loaded")
    report = refused.value.report
    assert report.command == "check" and report.verdict is Verdict.FAILS
    assert "WL120" in report.codes()
    assert refused.value.hint  # the fix of the first cause


def test_preflight_refuses_cuda_without_a_gpu(safetensors_model: Path) -> None:
    with pytest.raises(PreflightRefused) as refused, load(str(safetensors_model), device="cuda"):
        pass
    assert {"WL510", "WL511"} & set(refused.value.report.codes())


def test_a_load_that_raises_carries_its_report_and_cause(safetensors_model: Path) -> None:
    """A class of the caller's own (check cannot know it) whose construction raises."""
    import transformers

    class Exploding(transformers.BertForSequenceClassification):
        def __init__(self, config: object) -> None:
            raise ValueError("this model refuses to be built")

    with pytest.raises(LoadFailed) as failed, load(str(safetensors_model), Exploding):
        pass
    assert failed.value.report.codes() == ["WL441"]
    assert failed.value.report.by_code("WL441")[0].severity is Severity.ERROR
    assert isinstance(failed.value.__cause__, ValueError)
    assert isinstance(failed.value, LoadRefused)


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _touch(model: object) -> float:
    """Read every weight, so mmapped pages count in RSS as they would after real use."""
    import torch

    with torch.no_grad():
        return float(sum(p.float().sum() for p in model.parameters()))  # type: ignore[attr-defined]


def test_memory_is_released_after_the_block(wide_model: Path) -> None:
    with load(str(wide_model)) as model:  # warm-up: lazy imports and allocator arenas
        _touch(model)
    start = _rss()
    for dtype in (None, "bfloat16"):  # mmapped float32, and a converted copy
        with load(str(wide_model), dtype=dtype) as model:
            _touch(model)
            inside = _rss()
        after = _rss()
        assert inside - start > 100 * MB, (dtype, inside - start)
        assert after - start < 60 * MB, (dtype, (after - start) / MB)


def test_memory_is_released_when_the_block_raises(wide_model: Path) -> None:
    with load(str(wide_model)) as model:
        _touch(model)
    start = _rss()
    with pytest.raises(KeyError), load(str(wide_model), dtype="bfloat16") as model:
        _touch(model)
        raise KeyError("user code failed")
    assert _rss() - start < 60 * MB
    assert next(model.parameters()).device.type == "meta"
