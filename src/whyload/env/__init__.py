"""The machine: versions, torch (probed in a child), GPUs, memory and cgroups, containers, HF
settings. Facts only — what they mean for a model is decided by checks/environment.py."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from whyload.env.container import (
    Container,
    HfSettings,
    ModelMount,
    mount_of,
    read_container,
    read_hf,
)
from whyload.env.gpu import Gpus, read_gpus
from whyload.env.memory import Memory, read_memory
from whyload.env.sources import Sources
from whyload.env.versions import TorchBuild, installed_versions, known_model_types, torch_build
from whyload.probe.torch_import import TorchProbe, probe_torch


@dataclass(frozen=True)
class Environment:
    python: str
    platform: str
    versions: dict[str, str | None]
    torch_build: TorchBuild | None
    model_types: frozenset[str] | None  # what the installed transformers knows
    memory: Memory
    container: Container
    hf: HfSettings
    gpus: Gpus | None = None  # None: not looked at (a CPU load)
    torch: TorchProbe | None = None  # None: not probed (check does not import torch)
    model_mount: ModelMount | None = None  # the mount under the model folder, when asked


def collect(src: Sources | None = None, *, gpus: bool = False, probe: bool = False,
            model_dir: str | None = None, python: str | None = None) -> Environment:
    src = src or Sources()
    return Environment(
        python=sys.version.split()[0],
        platform=platform.platform(terse=True),
        versions=installed_versions(),
        torch_build=torch_build(),
        model_types=known_model_types(),
        memory=read_memory(src),
        container=read_container(src),
        hf=read_hf(src),
        gpus=read_gpus(src) if gpus else None,
        torch=probe_torch(src) if probe else None,
        model_mount=ModelMount(model_dir, mount_of(src, model_dir)) if model_dir else None,
    )


__all__ = ["Environment", "Sources", "collect"]
