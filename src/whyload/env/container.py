"""Containers, mounts and the Hugging Face cache settings."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from whyload.env.sources import Sources

HF_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE",
                "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_TOKEN",
                "HTTPS_PROXY", "HTTP_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class Container:
    inside: bool
    evidence: str | None  # what gave it away


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fs_type: str
    read_only: bool


@dataclass(frozen=True)
class ModelMount:
    """The mount the model folder sits on (its own mount point when a volume is mounted there)."""

    path: str
    mount: Mount | None

    @property
    def is_mount_point(self) -> bool:
        return self.mount is not None and self.mount.mount_point == self.path


@dataclass(frozen=True)
class HfSettings:
    variables: dict[str, str]  # HF_* and proxy variables that are set (tokens masked)
    cache_dir: str
    cache_exists: bool
    cache_writable: bool
    cache_mount: Mount | None
    offline: bool
    cache_free: int | None  # free bytes on the cache's file system


def read_container(src: Sources) -> Container:
    for marker in ("/.dockerenv", "/run/.containerenv"):
        if src.read(marker, limit=1) is not None:
            return Container(True, marker)
    if src.environ.get("KUBERNETES_SERVICE_HOST"):
        return Container(True, "KUBERNETES_SERVICE_HOST")
    cgroup = src.read("/proc/1/cgroup") or ""
    m = re.search(r"(docker|kubepods|containerd|libpod|lxc)", cgroup)
    if m:
        return Container(True, f"/proc/1/cgroup mentions {m.group(1)}")
    return Container(False, None)


def mount_of(src: Sources, path: str) -> Mount | None:
    """The mount holding `path`, from /proc/self/mountinfo (the longest matching prefix)."""
    best: Mount | None = None
    for line in (src.read("/proc/self/mountinfo", limit=4 << 20) or "").splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 6 or not rest:
            continue
        point = fields[4].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best.mount_point)):
            best = Mount(point, rest[0], "ro" in fields[5].split(","))
    return best


def hf_cache_dir(environ: dict[str, str] | os._Environ[str]) -> str:
    """What huggingface_hub uses: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub
    (resolved here without importing it)."""
    if environ.get("HF_HUB_CACHE") or environ.get("HUGGINGFACE_HUB_CACHE"):
        return str(environ.get("HF_HUB_CACHE") or environ.get("HUGGINGFACE_HUB_CACHE"))
    home = environ.get("HF_HOME") or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def read_hf(src: Sources) -> HfSettings:
    variables = {k: ("***" if "TOKEN" in k else v) for k, v in src.environ.items()
                 if k in HF_VARIABLES}
    cache = hf_cache_dir(dict(src.environ))
    exists = os.path.isdir(cache)
    probe = cache if exists else _existing_parent(cache)
    writable = os.access(probe, os.W_OK) if probe else False
    offline = any(src.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
                  for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    free = None
    if probe:
        try:
            free = shutil.disk_usage(probe).free
        except OSError:
            free = None
    return HfSettings(variables, cache, exists, writable, mount_of(src, cache), offline, free)


def _existing_parent(path: str) -> str | None:
    p = Path(path)
    for parent in (p, *p.parents):
        if parent.exists():
            return str(parent)
    return None
