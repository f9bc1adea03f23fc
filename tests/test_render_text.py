"""The terminal and notebook views: a headline that never overstates, a report shown once."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

import whyload
from whyload.render.text import render_text
from whyload.report import Category, Effect, Finding, Report, Severity, Verdict

RED = "\x1b[1;31m"


def _headline(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()[1:3]]


def test_verdict_values_are_identifiers_and_labels_read_as_words() -> None:
    assert Verdict.LOADS_BROKEN.value == "loads_broken"
    assert Verdict.LOADS_BROKEN.label == "loads broken"
    assert all(v.value.isidentifier() for v in Verdict)


def test_loads_names_what_was_not_checked(minilm: Path) -> None:
    report = dataclasses.replace(whyload.check(str(minilm)),
                                 not_checked={"architecture": "no class could be chosen"})
    assert report.verdict is Verdict.LOADS
    text = render_text(report)
    assert _headline(text)[0] == ("verdict: loads — as far as checked; architecture not "
                                  "checked: no class could be chosen")
    assert "- architecture not checked: no class could be chosen" in text
    assert "✓ architecture" not in text and "✓ files" in text


def test_a_pickle_that_runs_code_outranks_the_loading_verdict(tmp_path: Path,
                                                              minilm: Path) -> None:
    healthy = whyload.check(str(minilm))
    runs_code = Finding(code="WL600", category=Category.SECURITY, severity=Severity.ERROR,
                        title="pytorch_model.bin calls os.system when unpickled",
                        effect=Effect.NONE, file="model.safetensors")
    report = dataclasses.replace(healthy, findings=(runs_code,))
    assert report.verdict is Verdict.LOADS  # loading is not stopped, yet code would run
    lines = _headline(render_text(report))
    assert lines == ["verdict: would run code when loaded — pytorch_model.bin calls os.system "
                     "when unpickled",
                     "loading: loads — nothing found that stops from_pretrained"]
    colored = render_text(report, color=True)
    assert f"{RED}would run code when loaded" in colored
    model = tmp_path / "m"
    shutil.copytree(minilm, model)
    (model / "pytorch_model.bin").write_bytes(b"\x80\x02cposix\nsystem\n(Vtouch x\ntR.")
    real = render_text(whyload.check(str(model)))
    assert _headline(real)[0].startswith("verdict: would run code when loaded — ")


def test_verify_speaks_of_bytes(tmp_path: Path, safetensors_model: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    nothing = whyload.verify(str(model))
    assert nothing.facts["bytes"] == "unverified"
    assert _headline(render_text(nothing))[0] == \
        "verdict: nothing to compare — no record of these bytes was found"
    whyload.lock(str(model))
    intact = whyload.verify(str(model))
    assert intact.facts["bytes"] == "intact"
    assert _headline(render_text(intact))[0] == "verdict: intact — every byte matches its record"
    (model / "extra.txt").write_text("added after the lock")
    partial = whyload.verify(str(model))
    assert partial.facts["bytes"] == "partial"
    assert _headline(render_text(partial))[0] == (
        "verdict: partly verified — 2 of 3 files match their record; the others have none or "
        "were not read")
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    damaged = whyload.verify(str(model))
    assert damaged.facts["bytes"] == "damaged"
    assert _headline(render_text(damaged))[0] == \
        "verdict: damaged — model.safetensors differs from the lock"


def _recorded_displays(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Pretend to be in a notebook, where rich displays what a console prints by itself."""
    import rich.console
    import rich.jupyter

    shown: list[Any] = []
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    monkeypatch.setattr(rich.jupyter, "display", lambda *args, **kw: shown.append(args))
    return shown


def test_a_report_renders_once_in_a_notebook(minilm: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    report: Report = whyload.check(str(minilm))
    shown = _recorded_displays(monkeypatch)
    assert not hasattr(report, "_repr_html_")  # one bundle, not a second hook beside it
    bundle = report._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "verdict: loads" in bundle["text/plain"] and "<pre" in bundle["text/html"]
    assert shown == [] and capsys.readouterr() == ("", "")


def test_ipython_formats_one_bundle(minilm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    formatters = pytest.importorskip("IPython.core.formatters")
    report = whyload.check(str(minilm))
    shown = _recorded_displays(monkeypatch)
    data, _ = formatters.DisplayFormatter().format(report)
    assert set(data) == {"text/plain", "text/html"} and shown == []
