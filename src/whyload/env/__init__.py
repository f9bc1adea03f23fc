"""The machine: the interpreter that will load the model and its versions, torch (probed in a
child), GPUs, memory and cgroups, containers, HF settings. Facts only — what they mean for a
model is decided by checks/environment.py."""

from __future__ import annotations

import shlex
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
from whyload.env.interpreter import Interpreter, read_runtime, target_interpreter
from whyload.env.memory import Memory, read_memory
from whyload.env.sources import Sources
from whyload.env.torch_probe import TorchProbe, probe_torch
from whyload.env.versions import TorchBuild


@dataclass(frozen=True)
class Environment:
    interpreter: Interpreter  # the one that will load the model; the versions below are its
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

    def pip_install(self, *requirements: str) -> str:
        """The command that installs `requirements` into the interpreter that loads the model."""
        return pip_install_command(self.interpreter.path, self.versions.get("pip") is not None,
                                   *requirements)


def pip_install_command(python: str, has_pip: bool, *requirements: str) -> str:
    """`requirements` installed into `python` (uv where it has no pip: uv's venvs come without
    it)."""
    packages = " ".join(shlex.quote(r) for r in requirements)
    if not has_pip:
        return f"uv pip install --python {shlex.quote(python)} {packages}"
    return f"{shlex.quote(python)} -m pip install {packages}"


def collect(src: Sources | None = None, *, gpus: bool = False, probe: bool = False,
            model_dir: str | None = None, python: str | None = None) -> Environment:
    """This machine's facts, with the versions of the interpreter that will load the model
    (`python`: a path or an environment folder; default: whyload.env.interpreter decides).
    UsageError when that interpreter does not exist or does not answer like a Python."""
    src = src or Sources()
    interpreter = target_interpreter(python, src.environ)
    runtime = read_runtime(interpreter)
    return Environment(
        interpreter=interpreter,
        python=runtime.python,
        platform=runtime.platform,
        versions=runtime.versions,
        torch_build=runtime.torch_build,
        model_types=runtime.model_types,
        memory=read_memory(src),
        container=read_container(src),
        hf=read_hf(src),
        gpus=read_gpus(src) if gpus else None,
        torch=probe_torch(src, interpreter.path) if probe else None,
        model_mount=ModelMount(model_dir, mount_of(src, model_dir)) if model_dir else None,
    )


__all__ = ["Environment", "Interpreter", "Sources", "collect"]
