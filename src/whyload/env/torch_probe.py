"""Does torch import in the interpreter that will load the model, and what does it see? Asked
of that interpreter in a child process with a timeout, so a broken CUDA install (a hang, a
segfault, a missing .so) cannot take whyload down."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from whyload.env.sources import Sources

PROBE = r"""
import json, sys
out = {}
try:
    import torch
except BaseException as exc:
    print(json.dumps({"imported": False, "error": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
out.update(imported=True, version=torch.__version__, cuda=torch.version.cuda,
           hip=getattr(torch.version, "hip", None))
try:
    out["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
except Exception as exc:
    out["cudnn"] = None
try:
    out["cuda_available"] = bool(torch.cuda.is_available())
    out["arch_list"] = torch.cuda.get_arch_list() if torch.version.cuda else []
    devices = []
    for i in range(torch.cuda.device_count() if out["cuda_available"] else 0):
        free, total = torch.cuda.mem_get_info(i)
        major, minor = torch.cuda.get_device_capability(i)
        devices.append({"name": torch.cuda.get_device_name(i), "capability": f"{major}.{minor}",
                        "free": free, "total": total})
    out["devices"] = devices
except Exception as exc:
    out["cuda_error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""
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
    done = src.run([python, "-c", PROBE], timeout)
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
