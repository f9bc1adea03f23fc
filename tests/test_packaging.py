"""How whyload installs: the lock covers what the tests run with, extras never pin torch, a
command whose extra is missing says which one to install, and the package ships its types,
schemas and licence."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

import pytest

import whyload
from whyload.errors import MissingExtra

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match is not None
    return match.group(0).lower().replace("_", "-")


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def test_the_lock_pins_every_package_installed_here() -> None:
    """make test installs from requirements-lock.txt: what is installed is what it pins."""
    locked = _locked()
    if importlib.metadata.version("transformers") != locked["transformers"]:
        pytest.skip("not the locked environment (make test-min / test-latest)")
    for dist in importlib.metadata.distributions():
        name = _name(dist.metadata["Name"])
        if name == "whyload":
            continue
        assert name in locked, f"{name} is installed but not in requirements-lock.txt"
        assert dist.version.split("+", 1)[0] == locked[name], name


def test_the_lock_covers_every_declared_requirement() -> None:
    locked = _locked()
    extras = PYPROJECT["optional-dependencies"]
    declared = [*PYPROJECT["dependencies"], *(r for rs in extras.values() for r in rs)]
    for requirement in declared:
        name = _name(requirement)
        assert name == "whyload" or name in locked, requirement


def test_no_extra_pins_torch_or_any_runtime_package() -> None:
    """Installing whyload[torch] must never replace the user's torch: ranges, not pins."""
    extras = PYPROJECT["optional-dependencies"]
    for extra in ("deep", "torch", "demo"):
        for requirement in extras[extra]:
            assert "==" not in requirement, (extra, requirement)
    assert all("==" not in r for r in PYPROJECT["dependencies"])


def test_check_needs_neither_numpy_nor_psutil() -> None:
    names = {_name(r) for r in PYPROJECT["dependencies"]}
    assert not names & {"numpy", "psutil", "torch", "transformers", "typer"}


def test_a_missing_extra_is_a_usage_error_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                    safetensors_model: Path) -> None:
    real = importlib.util.find_spec

    def without(*missing: str):  # type: ignore[no-untyped-def]
        return lambda name, *a: None if name in missing else real(name, *a)

    monkeypatch.setattr(importlib.util, "find_spec", without("psutil"))
    with pytest.raises(MissingExtra) as raised:
        whyload.run_load(str(safetensors_model))
    assert raised.value.hint == "pip install 'whyload[torch]'"
    assert raised.value.modules == ("psutil",)

    monkeypatch.setattr(importlib.util, "find_spec", without("numpy"))
    with pytest.raises(MissingExtra, match="verify --deep needs numpy") as deep:
        whyload.verify(str(safetensors_model), deep=True)
    assert deep.value.hint == "pip install 'whyload[deep]'"


def test_version_types_schemas_and_licence_ship() -> None:
    assert whyload.__version__ == importlib.metadata.version("whyload")
    package = Path(whyload.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "schemas" / "report.schema.json").is_file()
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert PYPROJECT["license"] == "Apache-2.0"
    assert any(c == "Typing :: Typed" for c in PYPROJECT["classifiers"])
