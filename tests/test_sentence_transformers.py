"""WL450: a sentence-transformers export without modules.json. SentenceTransformer(path) then
builds a new model with mean pooling and drops the saved modules (all-MiniLM-L6-v2 loses its
Normalize), silently. check sees it from the files; explain names the same code from the log."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import whyload
from tests.conftest import codes, only
from whyload.report import Effect, Severity


def _embedding_norm_and_modules(folder: Path, log: io.StringIO) -> tuple[float, list[str]]:
    """What sentence-transformers itself does with the folder (its log goes to `log`)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    handler = logging.StreamHandler(log)
    logger = logging.getLogger("sentence_transformers")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        model = SentenceTransformer(str(folder), device="cpu")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    vector = model.encode(["a sentence to embed"])[0]
    return float(np.linalg.norm(vector)), [type(m).__name__ for m in model]


@pytest.fixture
def without_modules_json(copy_of: Callable[[Path], Path], minilm: Path) -> Path:
    folder = copy_of(minilm)
    (folder / "modules.json").unlink()
    return folder


def test_export_without_modules_json(without_modules_json: Path, minilm: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    saved_norm, saved_modules = _embedding_norm_and_modules(minilm, io.StringIO())
    log = io.StringIO()
    norm, modules = _embedding_norm_and_modules(without_modules_json, log)
    assert "Normalize" in saved_modules and "Normalize" not in modules  # the real damage
    assert abs(saved_norm - 1) < 1e-3 and abs(norm - 1) > 0.5

    report = whyload.check(str(without_modules_json))
    f = only(report, "WL450")
    assert f.severity is Severity.WARNING and f.effect is Effect.NONE  # from_pretrained is fine
    assert f.evidence["markers"] == ["config_sentence_transformers.json",
                                     "sentence_bert_config.json"]
    assert str(without_modules_json) in f.fix

    explained = whyload.explain(log.getvalue())
    assert "WL450" in codes(explained)


def test_healthy_export_and_plain_transformer_have_no_wl450(minilm: Path,
                                                            safetensors_model: Path) -> None:
    assert "WL450" not in codes(whyload.check(str(minilm)))
    assert "WL450" not in codes(whyload.check(str(safetensors_model)))
