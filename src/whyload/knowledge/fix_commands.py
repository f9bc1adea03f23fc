"""The commands findings hand the user to repair a checkpoint: one place for every snippet that
re-saves weights, so each is written (and quoted) once. Where `whyload fix` does the job (into a
new folder, proven by a re-check and a real load) the finding names it first, and the snippet
that edits in place by hand second. They are text for the user to run; whyload itself never
executes them."""

from __future__ import annotations

WHYLOAD_FIX = "whyload fix . --out ../fixed --apply"


def by_whyload_fix(by_hand: str) -> str:
    """`whyload fix` first; the in-place snippet for those who edit by hand."""
    return f"{WHYLOAD_FIX}  (a repaired copy; by hand, in place: {by_hand})"


REBUILD_INDEX = (
    "python -c \"import glob, json; from safetensors import safe_open; "
    "wm = {k: f for f in sorted(glob.glob('model-*-of-*.safetensors')) "
    "for k in safe_open(f, 'np').keys()}; json.dump({'metadata': {}, 'weight_map': wm}, "
    "open('model.safetensors.index.json', 'w'), indent=2)\""
)


def strip_prefix(weights: str, prefix: str) -> str:
    """Rename every key without `prefix` (module., _orig_mod., a wrapper's name)."""
    return by_whyload_fix(_rewrite_keys(weights, f"k.removeprefix('{prefix}')"))


def rename_prefix(weights: str, old: str, new: str) -> str:
    """Rename the keys that start with `old` to start with `new` instead, in place."""
    return _rewrite_keys(weights, f"('{new}' + k[{len(old)}:] if k.startswith('{old}') else k)")


def _rewrite_keys(weights: str, key: str) -> str:
    """Load, rename every key k to `key` (a Python expression of k), save in place."""
    if weights.endswith(".safetensors"):
        return ("python -c \"from safetensors.torch import load_file, save_file; "
                f"sd = load_file('{weights}'); save_file({{{key}: v for k, v "
                f"in sd.items()}}, '{weights}', metadata={{'format': 'pt'}})\"  # keep a backup")
    return ("python -c \"import torch; "
            f"sd = torch.load('{weights}', weights_only=True); "
            f"torch.save({{{key}: v for k, v in sd.items()}}, '{weights}')\"  # keep a backup")


def extract_state_dict(weights: str, path: str, prefix: str) -> str:
    """Take the model's tensors out of a training checkpoint ({'state_dict': …, 'epoch': …})."""
    return by_whyload_fix(
        f"python -c \"import torch; ckpt = torch.load('{weights}', weights_only=False); "
        f"sd = ckpt{path}; torch.save({{k.removeprefix('{prefix}'): v for k, v in "
        "sd.items()}, 'pytorch_model.bin')\"  # only for a file you trust")


def to_safetensors(weights: str) -> str:
    """Re-save a .bin as model.safetensors (tied tensors cloned: safetensors refuses shared)."""
    return by_whyload_fix(
        "python -c \"import torch; from safetensors.torch import save_file; "
        f"sd = torch.load('{weights}', weights_only=True); save_file({{k: v.clone() for k, v "
        "in sd.items()}, 'model.safetensors', metadata={'format': 'pt'})\"")


def keep_only_tensors(weights: str) -> str:
    """Drop the non-tensor entries (training args, RNG state) that weights_only refuses."""
    return by_whyload_fix(
        f"python -c \"import torch; sd = torch.load('{weights}', weights_only=False); "
        "torch.save({k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}, "
        f"'{weights}')\"  # only for a file you trust")


def state_dict_of_pickled_model(weights: str) -> str:
    return (f"python -c \"import torch; torch.save(torch.load('{weights}', weights_only=False)"
            ".state_dict(), 'pytorch_model.bin')\"  # in the environment that saved it; "
            "only for files you trust")


def load_on_cpu(weights: str) -> str:
    return f"torch.load('{weights}', map_location='cpu')"
