"""The child process that rewrites weights: `python -m whyload.repair.convert` reads a job (JSON)
on stdin, loads the source weights — safetensors, or a torch pickle with weights_only=True only —
applies the key rewrite and writes safetensors into the job's folder.

Runs only as a child of `whyload fix --apply`: torch is imported here and nowhere in the parent.
Non-tensor objects of a training checkpoint (argparse.Namespace, …) are unpickled as inert stand-ins
registered for that one load, so no class of the checkpoint is ever called; the parent has already
refused any file whose pickle names a call that runs code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from whyload.repair.keys import KeyRewrite, assign_shards, shard_names


class Dropped:
    """What a non-tensor object of a training checkpoint unpickles to: nothing at all."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def load_tensors(path: Path, stand_ins: list[str]) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    import torch

    with torch.serialization.safe_globals([(Dropped, name) for name in stand_ins]):
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    return {"": loaded}  # the caller walks the nesting


def _walk(obj: Any, nesting: list[str]) -> Any:
    for key in nesting:
        obj = obj[key]
    return obj


def convert(job: Mapping[str, Any]) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file

    source, dest = Path(job["source"]), Path(job["dest"])
    rewrite = KeyRewrite.from_dict(job["rewrite"])
    tensors: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for name in job["files"]:
        loaded = load_tensors(source / name, list(job.get("stand_ins", [])))
        if "" in loaded and len(loaded) == 1:
            loaded = _walk(loaded[""], list(job.get("nesting", [])))
        if not isinstance(loaded, Mapping):
            raise TypeError(f"{name} holds a {type(loaded).__name__}, not a dict of tensors")
        for key, value in loaded.items():
            new = rewrite.rename(str(key))
            if new is None or not isinstance(value, torch.Tensor):
                dropped.append(str(key))
                continue
            if new in tensors:
                raise ValueError(f"two tensors would be named {new}")
            tensors[new] = value
    # safetensors refuses tensors that share storage (tied weights): each gets its own copy
    seen: set[tuple[int, int]] = set()
    for key, value in tensors.items():
        storage = (value.untyped_storage().data_ptr(), value.untyped_storage().nbytes())
        if storage in seen or not value.is_contiguous() or value.numel() != \
                value.untyped_storage().nbytes() // max(value.element_size(), 1):
            tensors[key] = value.detach().clone().contiguous()
        seen.add(storage)
    sizes = {k: v.numel() * v.element_size() for k, v in tensors.items()}
    groups = assign_shards(sizes, job.get("max_shard_bytes"))
    names = shard_names(len(groups))
    for name, keys in zip(names, groups, strict=True):
        save_file({k: tensors[k] for k in keys}, str(dest / name), metadata={"format": "pt"})
    if len(names) > 1:
        index = {"metadata": {"total_size": sum(sizes.values())},
                 "weight_map": {k: n for n, keys in zip(names, groups, strict=True)
                                for k in sorted(keys)}}
        (dest / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return {"written": names, "tensors": len(tensors), "dropped": dropped}


def main() -> None:
    job = json.loads(sys.stdin.read())
    result = convert(job)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
