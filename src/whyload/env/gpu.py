"""GPUs and the NVIDIA driver, from nvidia-smi (no CUDA library is loaded)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from whyload.env.sources import Sources

QUERY = "name,memory.total,memory.free,driver_version,compute_cap"


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_total: int  # bytes
    memory_free: int
    compute_capability: str | None  # "8.0"


@dataclass(frozen=True)
class Gpus:
    found: bool  # nvidia-smi answered
    driver: str | None = None
    driver_cuda: str | None = None  # the newest CUDA this driver supports ("CUDA Version")
    devices: tuple[Gpu, ...] = ()
    error: str | None = None


def read_gpus(src: Sources) -> Gpus:
    if src.which("nvidia-smi") is None:
        return Gpus(found=False)
    done = src.run(["nvidia-smi", f"--query-gpu={QUERY}", "--format=csv,noheader,nounits"], 10)
    if done is None or done[0] != 0:
        why = "nvidia-smi did not answer" if done is None else (done[2] or done[1]).strip()
        return Gpus(found=False, error=why[:300] or "nvidia-smi failed")
    devices = []
    driver = None
    for index, line in enumerate(row for row in done[1].splitlines() if row.strip()):
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 4:
            continue
        name, total, free, driver = cells[0], cells[1], cells[2], cells[3]
        cap = cells[4] if len(cells) > 4 and re.fullmatch(r"\d+\.\d+", cells[4]) else None
        devices.append(Gpu(index, name, _mib(total), _mib(free), cap))
    header = src.run(["nvidia-smi"], 10)
    cuda = None
    if header is not None:
        m = re.search(r"CUDA Version:\s*([\d.]+)", header[1])
        cuda = m.group(1) if m else None
    return Gpus(found=True, driver=driver, driver_cuda=cuda, devices=tuple(devices))


def _mib(text: str) -> int:
    return int(float(text)) * (1 << 20) if re.fullmatch(r"[\d.]+", text) else 0
