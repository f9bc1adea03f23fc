"""The interpreter that will load the model, not whyload's own: real second interpreters made
with `python -m venv --without-pip` (no torch, no transformers), one with a torch that does not
import, one that sees this environment's torch through a .pth file and really loads."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import only, run_cli

import whyload
from whyload import Severity, UsageError, Verdict
from whyload.env import Sources, collect
from whyload.env.interpreter import target_interpreter
from whyload.pipeline import env as env_report


def make_venv(folder: Path, *, site_packages: Path | None = None) -> Path:
    """A real venv without pip; `site_packages` is added to its path with a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    if site_packages is not None:
        (own_site_packages(folder) / "borrowed.pth").write_text(f"{site_packages}\n")
    return folder


def own_site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("interp") / "bare")


def test_check_python_speaks_of_that_interpreter(bare_venv: Path,
                                                 safetensors_model: Path) -> None:
    python = str(bare_venv / "bin" / "python")
    report = whyload.check(str(safetensors_model), python=str(bare_venv))
    f = only(report, "WL540")
    assert f.evidence["missing"] == ["torch", "transformers"]
    assert (f.evidence["interpreter"], f.evidence["chosen_by"]) == (python, "--python")
    assert python in f.title
    assert f.fix == f"uv pip install --python {python} torch transformers"  # no pip in it
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS
    # nothing about whyload's own interpreter, whose torch is installed
    assert importlib.util.find_spec("torch") is not None
    assert sys.executable not in json.dumps(report.to_dict())


def test_the_fix_uses_pip_where_the_interpreter_has_it(tmp_path: Path,
                                                       safetensors_model: Path) -> None:
    venv = make_venv(tmp_path / "v")
    (own_site_packages(venv) / "pip-24.0.dist-info").mkdir()
    f = only(whyload.check(str(safetensors_model), python=str(venv / "bin" / "python")),
             "WL540")
    assert f.fix == f"{venv / 'bin' / 'python'} -m pip install torch transformers"


def test_an_active_virtual_environment_is_the_target(bare_venv: Path, safetensors_model: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    machine = collect(Sources(environ={"VIRTUAL_ENV": str(bare_venv)}))
    assert (machine.interpreter.path, machine.interpreter.chosen_by) == (
        str(bare_venv / "bin" / "python"), "VIRTUAL_ENV")
    assert machine.versions["torch"] is None and machine.torch_build is None
    assert machine.model_types is None

    monkeypatch.setenv("VIRTUAL_ENV", str(bare_venv))
    report = whyload.check(str(safetensors_model))
    f = only(report, "WL540")
    assert f.evidence["chosen_by"] == "VIRTUAL_ENV" and "VIRTUAL_ENV" in f.detail
    # a guess, not the user's word: the model itself still loads
    assert f.severity is Severity.WARNING and report.verdict is Verdict.LOADS


def test_the_interpreter_whyload_runs_in_is_read_in_process(
        safetensors_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)  # activated: the same interpreter
    monkeypatch.delenv("CONDA_PREFIX", raising=False)

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("check started a process for its own interpreter")

    monkeypatch.setattr(subprocess, "run", no_child)
    report = whyload.check(str(safetensors_model))
    assert "WL540" not in report.codes()
    assert target_interpreter(None).this_process
    assert target_interpreter(sys.executable).this_process
    assert target_interpreter(sys.prefix).chosen_by == "--python"


def test_another_interpreter_is_not_this_process(bare_venv: Path) -> None:
    chosen = target_interpreter(str(bare_venv / "bin" / "python"))
    assert not chosen.this_process and chosen.path == str(bare_venv / "bin" / "python")
    conda = target_interpreter(None, {"CONDA_PREFIX": str(bare_venv)})
    assert conda.chosen_by == "CONDA_PREFIX" and not conda.this_process
    # an active venv is what `python` means in that shell, even inside a conda environment
    both = target_interpreter(None, {"VIRTUAL_ENV": sys.prefix, "CONDA_PREFIX": str(bare_venv)})
    assert both.this_process


def test_env_python_reports_a_torch_that_does_not_import(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "broken")
    site = own_site_packages(venv)
    (site / "torch-2.99.0.dist-info").mkdir()
    (site / "torch-2.99.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: torch\nVersion: 2.99.0\n")
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(
        "raise ImportError('libtorch_cuda.so: cannot open shared object file')\n")
    report = env_report(python=str(venv))
    assert report.facts["versions"]["torch"] == "2.99.0"
    assert report.facts["interpreter"]["path"] == str(venv / "bin" / "python")
    f = only(report, "WL515")
    assert f.severity is Severity.ERROR and "libtorch_cuda" in f.detail
    assert f.evidence["interpreter"] == str(venv / "bin" / "python")
    assert str(venv / "bin" / "python") in f.title and str(venv / "bin" / "python") in f.fix
    areas = {a["area"]: a for a in report.facts["areas"]}
    assert areas["torch"]["status"] == "error" and "does not import" in areas["torch"]["summary"]


def test_env_python_without_torch_says_where(bare_venv: Path) -> None:
    report = env_report(python=str(bare_venv), probe=False)
    areas = {a["area"]: a["summary"] for a in report.facts["areas"]}
    assert areas["torch"] == f"not installed in {bare_venv / 'bin' / 'python'}"
    assert str(bare_venv / "bin" / "python") in areas["runtime"]
    assert only(report, "WL540").evidence["interpreter"] == str(bare_venv / "bin" / "python")


@pytest.mark.parametrize("kind", ["missing", "folder", "not executable", "not python"])
def test_an_interpreter_that_is_not_one_is_a_usage_error(kind: str, tmp_path: Path,
                                                         safetensors_model: Path) -> None:
    path = tmp_path / "python"
    if kind == "folder":
        path.mkdir()
    elif kind == "not executable":
        path.write_text("")
    elif kind == "not python":
        path.write_text("#!/bin/sh\necho hello\n")
        path.chmod(0o755)
    with pytest.raises(UsageError) as err:
        whyload.check(str(safetensors_model), python=str(path))
    assert str(path) in str(err.value) and "--python" in str(err.value)


def test_a_stale_virtual_env_exits_2(tmp_path: Path, safetensors_model: Path) -> None:
    gone = tmp_path / "deleted-venv"
    done = run_cli("check", str(safetensors_model), env={**os.environ, "VIRTUAL_ENV": str(gone)})
    assert done.returncode == 2, done.stderr
    assert str(gone) in done.stderr and "VIRTUAL_ENV" in done.stderr
    assert "Traceback" not in done.stderr


def test_load_python_loads_in_that_interpreter(tmp_path: Path,
                                               safetensors_model: Path) -> None:
    torch_spec = importlib.util.find_spec("torch")
    assert torch_spec is not None and torch_spec.origin is not None
    venv = make_venv(tmp_path / "trainer", site_packages=Path(torch_spec.origin).parents[1])
    python = str(venv / "bin" / "python")
    report = whyload.run_load(str(safetensors_model), python=str(venv), timeout_s=120)
    assert report.facts["outcome"] == "loaded", report.facts.get("exception")
    assert report.facts["interpreter"] == {"path": python, "chosen_by": "--python"}
    assert report.facts["executable"] == python  # what the child itself says
    assert report.verdict is Verdict.LOADS
