"""Installed versions, from package metadata and files — nothing is imported.

Stdlib only, and Python 3.8 compatible: another interpreter runs this file's text
(`python -c <text>`) to answer for itself (whyload.env.interpreter).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import platform
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "accelerate",
            "huggingface_hub", "sentencepiece", "protobuf", "numpy", "peft", "bitsandbytes",
            "sentence-transformers", "pip",
            # the backends of quantized checkpoints (whyload.knowledge.quantization)
            "optimum", "gptqmodel", "compressed-tensors", "hqq", "torchao")
ANSWER_PREFIX = "whyload-runtime: "  # marks the answer among whatever else the child prints


@dataclass(frozen=True)
class TorchBuild:
    """What torch/version.py says about the installed wheel (read as text, not imported)."""

    version: str
    cuda: str | None
    hip: str | None


def installed_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """The versions of `packages`, from the `<name>-<version>.dist-info` folder names on
    sys.path: one listing per path entry (importlib.metadata would scan them once per
    package)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                project, _, version = name.rsplit(".", 1)[0].partition("-")
                found.setdefault(_normalize(project), version)
    return {name: found.get(_normalize(name)) for name in packages}


def _normalize(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def torch_build() -> TorchBuild | None:
    folder = _package_dir("torch")
    try:
        text = (folder / "version.py").read_text() if folder else ""
    except OSError:
        return None

    def value(name: str) -> str | None:
        m = re.search(rf"^{name}(?::[^=]*)?\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
        return m.group(1) if m else None

    version = value("__version__")
    return TorchBuild(version, value("cuda"), value("hip")) if version else None


def known_model_types() -> frozenset[str] | None:
    """The model types the installed transformers registers (CONFIG_MAPPING_NAMES), read from
    its source files; None when transformers is not installed."""
    folder = _package_dir("transformers")
    if folder is None:
        return None
    files = tuple(folder / "models" / "auto" / name
                  for name in ("auto_mappings.py", "configuration_auto.py"))
    stamps: list[int | None] = []
    for path in files:
        try:
            stamps.append(path.stat().st_mtime_ns)
        except OSError:
            stamps.append(None)
    return _model_types_in(files, tuple(stamps))


@functools.lru_cache(maxsize=4)
def _model_types_in(files: tuple[Path, ...], stamps: tuple[int | None, ...]
                    ) -> frozenset[str] | None:
    """The registered names in those files, read once per installed version of them (their
    mtimes are the key): an audit checks thousands of models against one transformers."""
    found: set[str] = set()
    for path, stamp in zip(files, stamps, strict=True):
        if stamp is None:
            continue
        try:
            text = path.read_text()
        except OSError:
            continue
        found.update(re.findall(r"[\(\s]\"([\w-]+)\"\s*[:,]\s*\"\w+Config\"", text))
    return frozenset(found) or None


def runtime_facts() -> dict[str, object]:
    """What this interpreter can load with, as plain data (the same for this process and for
    another interpreter answering over JSON)."""
    build = torch_build()
    types = known_model_types()
    # not platform.platform(): it runs `uname -p` and reads the interpreter's binary (~40 ms)
    system = f"{platform.system()}-{platform.release()}-{platform.machine()}"
    return {"python": sys.version.split()[0], "platform": system,
            "versions": installed_versions(), "torch_build": asdict(build) if build else None,
            "model_types": sorted(types) if types is not None else None}


if __name__ == "__main__":
    sys.path[:] = [entry for entry in sys.path if entry]  # `-c` puts the current folder first
    print(ANSWER_PREFIX + json.dumps(runtime_facts()))
