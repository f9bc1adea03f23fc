"""Does torch import in the interpreter that will load the model, and what does it see? Asked
of that interpreter in a child process (whyload.probe.torch_child) with a timeout, so a broken
CUDA install (a hang, a segfault, a missing .so) cannot take whyload down."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from whyload.env.sources import Sources
from whyload.probe.launch import launch_command

TIMEOUT_S = 60


@dataclass(frozen=True)
class TorchProbe:
    ran: bool  # the child answered
    imported: bool = False
    error: str | None = None
    version: str | None = None
    cuda: str | None = None
    cudnn: int | None = None
    cuda_available: bool = False
    cuda_error: str | None = None
    arch_list: tuple[str, ...] = ()
    devices: tuple[dict[str, object], ...] = field(default_factory=tuple)


def probe_torch(src: Sources, python: str, timeout: float = TIMEOUT_S) -> TorchProbe:
    """`import torch` in `python` (a path to an interpreter), in a child process."""
    done = src.run(launch_command(python, "whyload.probe.torch_child"), timeout)
    if done is None:
        return TorchProbe(ran=False, error=f"`import torch` did not finish within {timeout:.0f} s")
    code, out, err = done
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (err.strip().splitlines() or [f"exit code {code}"])[-1]
        return TorchProbe(ran=False, error=f"the torch probe died (exit {code}): {last[:300]}")
    return TorchProbe(
        ran=True, imported=bool(data.get("imported")), error=data.get("error"),
        version=data.get("version"), cuda=data.get("cuda"), cudnn=data.get("cudnn"),
        cuda_available=bool(data.get("cuda_available")), cuda_error=data.get("cuda_error"),
        arch_list=tuple(data.get("arch_list") or ()), devices=tuple(data.get("devices") or ()),
    )
