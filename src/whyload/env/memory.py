"""How much memory a load can really use: MemAvailable, and the container's cgroup limit (v2
memory.max or v1 memory.limit_in_bytes) minus what the cgroup already uses — the number the
kernel's OOM killer goes by ("Killed", exit 137)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from whyload.env.sources import Sources

UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge page-aligned number


@dataclass(frozen=True)
class Memory:
    total: int | None
    available: int | None  # MemAvailable
    swap_free: int | None
    cgroup_limit: int | None  # None: no limit
    cgroup_usage: int | None
    cgroup_version: int | None

    @property
    def usable(self) -> int | None:
        """What a new allocation can get before the OOM killer steps in."""
        candidates = [v for v in (self.available,) if v is not None]
        if self.cgroup_limit is not None:
            candidates.append(max(self.cgroup_limit - (self.cgroup_usage or 0), 0))
        return min(candidates) if candidates else None

    @property
    def limited_by(self) -> str:
        if self.cgroup_limit is not None and self.usable == max(
                self.cgroup_limit - (self.cgroup_usage or 0), 0):
            return f"the container's memory limit (cgroup v{self.cgroup_version})"
        return "the machine's available memory"


def read_memory(src: Sources) -> Memory:
    meminfo = _meminfo(src.read("/proc/meminfo") or "")
    version, limit, usage = _cgroup(src)
    return Memory(total=meminfo.get("MemTotal"), available=meminfo.get("MemAvailable"),
                  swap_free=meminfo.get("SwapFree"), cgroup_limit=limit, cgroup_usage=usage,
                  cgroup_version=version)


def _meminfo(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) * 1024
            for m in re.finditer(r"^(\w+):\s+(\d+)\s*kB", text, re.M)}


def _cgroup(src: Sources) -> tuple[int | None, int | None, int | None]:
    """This process's memory cgroup: v2 from the unified line of /proc/self/cgroup, v1 from the
    memory controller's line; the limit files are read at that path, then at the mount root
    (what a container sees of its own cgroup)."""
    own = src.read("/proc/self/cgroup") or ""
    v2 = re.search(r"^0::(.*)$", own, re.M)
    v1 = re.search(r"^\d+:[^:]*\bmemory\b[^:]*:(.*)$", own, re.M)
    if v1:
        for base in (f"/sys/fs/cgroup/memory{v1.group(1)}", "/sys/fs/cgroup/memory"):
            limit = _number(src.read(f"{base}/memory.limit_in_bytes"))
            if limit is not None:
                usage = _number(src.read(f"{base}/memory.usage_in_bytes"))
                return 1, (limit if limit < UNLIMITED else None), usage
    if v2:
        for base in (f"/sys/fs/cgroup{v2.group(1)}".rstrip("/"), "/sys/fs/cgroup"):
            raw = src.read(f"{base}/memory.max")
            if raw is not None:
                usage = _number(src.read(f"{base}/memory.current"))
                return 2, _number(raw), usage
    return None, None, None


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None  # "max": no limit
