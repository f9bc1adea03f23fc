"""Environment facts as plain data (the report's `facts`) and as one line per area."""

from __future__ import annotations

import dataclasses
from typing import Any

from whyload.env import Environment


def environment_facts(env: Environment) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
        if isinstance(value, (frozenset, set)):
            return len(value)  # the model-type registry: its size is what matters here
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(env, f.name)) for f in dataclasses.fields(env)}


def interpreter_facts(env: Environment) -> dict[str, Any]:
    """The interpreter the environment facts describe: path, Python version, how it was chosen."""
    return {"path": env.interpreter.path, "python": env.python,
            "chosen_by": env.interpreter.chosen_by, "has_pip": env.versions.get("pip") is not None}


def _gb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e9:.1f} GB"


def summarize(area: str, env: Environment) -> str:
    v = env.versions
    if area == "runtime":
        names = ("torch", "transformers", "tokenizers", "safetensors", "huggingface_hub",
                 "accelerate")
        return (f"python {env.python} at {env.interpreter.path} "
                f"({env.interpreter.chosen_by}); ") + ", ".join(
            f"{n} {v.get(n) or 'not installed'}" for n in names)
    if area == "torch":
        t, build = env.torch, env.torch_build
        if v.get("torch") is None and (t is None or not t.imported):
            return f"not installed in {env.interpreter.path}"
        if t is not None and not t.imported:
            return f"does not import: {t.error}"
        cuda = build.cuda if build else None
        text = (f"{build.version if build else v.get('torch')}, "
                + (f"CUDA {cuda} build" if cuda else "CPU-only build"))
        if t is not None and t.imported and cuda:
            text += (f", cuDNN {t.cudnn}, archs {' '.join(t.arch_list)}; CUDA "
                     + ("available" if t.cuda_available else f"NOT available ({t.cuda_error})"))
        return text
    if area == "gpu":
        g = env.gpus
        if g is None or not g.found:
            return "no NVIDIA GPU visible" + (f" ({g.error})" if g and g.error else "")
        devices = "; ".join(f"{d.name} sm_{(d.compute_capability or '?').replace('.', '')} "
                            f"{_gb(d.memory_free)} free of {_gb(d.memory_total)}"
                            for d in g.devices)
        return f"driver {g.driver} (CUDA {g.driver_cuda}); {devices or 'no devices'}"
    if area == "memory":
        m = env.memory
        limit = (f"container limit {_gb(m.cgroup_limit)} (cgroup v{m.cgroup_version}, "
                 f"{_gb(m.cgroup_usage)} used)" if m.cgroup_limit else "no container limit")
        return (f"{_gb(m.usable)} usable of {_gb(m.total)}; {limit}; swap free "
                f"{_gb(m.swap_free)}")
    if area == "hf cache":
        h = env.hf
        flags = [("exists" if h.cache_exists else "not created yet"),
                 ("writable" if h.cache_writable else "NOT writable")]
        if h.cache_free is not None:
            flags.append(f"{_gb(h.cache_free)} free")
        if h.offline:
            flags.append("offline mode")
        if h.variables:
            flags.append("set: " + ", ".join(sorted(h.variables)))
        return f"{h.cache_dir} ({'; '.join(flags)})"
    if area == "container":
        c = env.container
        return f"inside a container ({c.evidence})" if c.inside else "not in a container"
    return ""
