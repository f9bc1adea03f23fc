"""`import torch` in the interpreter that will load the model, and what it sees: its version and
build, cuDNN, the GPUs and their free memory. One JSON object on stdout.

Run by whyload.env.torch_probe through probe/launch.py, in a child process with a timeout: a
broken CUDA install (a hang, a segfault, a missing .so) takes down only this process. It needs
the stdlib and torch only, and runs on Python 3.8 and later.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def describe_torch() -> dict[str, Any]:
    try:
        torch: Any = importlib.import_module("torch")
    except BaseException as exc:  # a missing .so raises OSError, a broken build anything
        return {"imported": False, "error": f"{type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {"imported": True, "version": torch.__version__,
                           "cuda": torch.version.cuda,
                           "hip": getattr(torch.version, "hip", None)}
    try:
        available = torch.backends.cudnn.is_available()
        out["cudnn"] = torch.backends.cudnn.version() if available else None
    except Exception:
        out["cudnn"] = None
    try:
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["arch_list"] = torch.cuda.get_arch_list() if torch.version.cuda else []
        devices = []
        for i in range(torch.cuda.device_count() if out["cuda_available"] else 0):
            free, total = torch.cuda.mem_get_info(i)
            major, minor = torch.cuda.get_device_capability(i)
            devices.append({"name": torch.cuda.get_device_name(i),
                            "capability": f"{major}.{minor}", "free": free, "total": total})
        out["devices"] = devices
    except Exception as exc:
        out["cuda_error"] = f"{type(exc).__name__}: {exc}"
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(describe_torch()) + "\n")
