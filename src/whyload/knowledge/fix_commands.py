"""The commands findings hand the user to repair a checkpoint: one place for every snippet that
re-saves weights, so each is written (and quoted) once. Where `whyload fix` does the job (into a
new folder, proven by a re-check and a real load) the finding names it first, and the snippet
that edits in place by hand second. They are text for the user to run; whyload itself never
executes them."""

from __future__ import annotations

import shlex
from pathlib import Path


def quoted(path: Path | str) -> str:
    """A path as the shell takes it: a folder with a space in its name stays one argument."""
    return shlex.quote(str(path))


def in_folder(folder: Path, command: str) -> str:
    """`command` run in the model's folder, where its relative file names point."""
    return f"cd {quoted(folder)} && {command}"


def whyload_fix(folder: Path) -> str:
    """`whyload fix` into a new folder beside the model."""
    return (f"whyload fix {quoted(folder)} --out {quoted(folder.parent / (folder.name + '-fixed'))}"
            " --apply")


def by_whyload_fix(folder: Path, by_hand: str) -> str:
    """`whyload fix` first; the in-place snippet for those who edit by hand."""
    return (f"{whyload_fix(folder)}  (a repaired copy; by hand, in place: "
            f"{in_folder(folder, by_hand)})")


def without_bom(folder: Path, name: str) -> str:
    """A copy of the folder with `name`'s UTF-8 byte-order mark removed (the original stays)."""
    copy = folder.parent / (folder.name + "-fixed")
    return (f"cp -rL {quoted(folder)} {quoted(copy)} && "
            f"sed -i '1s/^\\xEF\\xBB\\xBF//' {quoted(copy / name)}")


def lfs_pull(folder: Path, name: str) -> str:
    """Fetch one Git LFS file of the clone the folder is in."""
    return f"git -C {quoted(folder)} lfs install --local && git -C {quoted(folder)} lfs pull " \
        f"--include {quoted(name)}"


def upload_with_lfs(url: str, repo_id: str | None, name: str) -> str:
    """The remote stores a Git LFS pointer's text as the file: whoever owns it uploads the real
    bytes (hf upload stores them in LFS/Xet itself)."""
    if repo_id:
        return (f"the repo holds the pointer text, not the file: its owner uploads the real one "
                f"with `hf upload {quoted(repo_id)} ./{name} {quoted(name)}`")
    return f"the store holds the pointer text, not the file: upload the real {name} to {url}"


def hub_download(repo_id: str, revision: str | None, *names: str, force: bool = False) -> str:
    """Download files (with no names, the whole repo) of a hub repo into the HF cache."""
    files = "".join(f" {quoted(name)}" for name in names)
    return (f"hf download {quoted(repo_id)}{files}"
            + (f" --revision {quoted(revision)}" if revision else "")
            + (" --force-download" if force else ""))


def from_other_framework(folder: Path, flag: str, package: str) -> str:
    """Convert TensorFlow (from_tf) or Flax (from_flax) weights once, in transformers 4.x."""
    source = repr(str(folder))
    converted = repr(str(folder.parent / (folder.name + "-pt")))
    return (f"pip install 'transformers<5' {package} && python -c \"from transformers import "
            f"AutoModel; AutoModel.from_pretrained({source}, {flag}=True)"
            f".save_pretrained({converted})\"")


def rebuild_index(folder: Path) -> str:
    """Write model.safetensors.index.json from the shards' own keys."""
    return in_folder(folder, REBUILD_INDEX)


REBUILD_INDEX = (
    "python -c \"import glob, json; from safetensors import safe_open; "
    "wm = {k: f for f in sorted(glob.glob('model-*-of-*.safetensors')) "
    "for k in safe_open(f, 'np').keys()}; json.dump({'metadata': {}, 'weight_map': wm}, "
    "open('model.safetensors.index.json', 'w'), indent=2)\""
)


def strip_prefix(folder: Path, weights: str, prefix: str) -> str:
    """Rename every key without `prefix` (module., _orig_mod., a wrapper's name)."""
    return by_whyload_fix(folder, _rewrite_keys(weights, f"k.removeprefix('{prefix}')"))


def rename_prefix(folder: Path, weights: str, old: str, new: str) -> str:
    """Rename the keys that start with `old` to start with `new` instead, in place."""
    renamed = f"('{new}' + k[{len(old)}:] if k.startswith('{old}') else k)"
    return in_folder(folder, _rewrite_keys(weights, renamed))


def _rewrite_keys(weights: str, key: str) -> str:
    """Load, rename every key k to `key` (a Python expression of k), save in place."""
    if weights.endswith(".safetensors"):
        return ("python -c \"from safetensors.torch import load_file, save_file; "
                f"sd = load_file('{weights}'); save_file({{{key}: v for k, v "
                f"in sd.items()}}, '{weights}', metadata={{'format': 'pt'}})\"  # keep a backup")
    return ("python -c \"import torch; "
            f"sd = torch.load('{weights}', weights_only=True); "
            f"torch.save({{{key}: v for k, v in sd.items()}}, '{weights}')\"  # keep a backup")


def extract_state_dict(folder: Path, weights: str, path: str, prefix: str) -> str:
    """Take the model's tensors out of a training checkpoint ({'state_dict': …, 'epoch': …})."""
    return by_whyload_fix(
        folder,
        f"python -c \"import torch; ckpt = torch.load('{weights}', weights_only=False); "
        f"sd = ckpt{path}; torch.save({{k.removeprefix('{prefix}'): v for k, v in "
        "sd.items()}, 'pytorch_model.bin')\"  # only for a file you trust")


def to_safetensors(folder: Path, weights: str) -> str:
    """Re-save a .bin as model.safetensors (tied tensors cloned: safetensors refuses shared)."""
    return by_whyload_fix(
        folder,
        "python -c \"import torch; from safetensors.torch import save_file; "
        f"sd = torch.load('{weights}', weights_only=True); save_file({{k: v.clone() for k, v "
        "in sd.items()}, 'model.safetensors', metadata={'format': 'pt'})\"")


def keep_only_tensors(folder: Path, weights: str) -> str:
    """Drop the non-tensor entries (training args, RNG state) that weights_only refuses."""
    return by_whyload_fix(
        folder,
        f"python -c \"import torch; sd = torch.load('{weights}', weights_only=False); "
        "torch.save({k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}, "
        f"'{weights}')\"  # only for a file you trust")


def state_dict_of_pickled_model(folder: Path, weights: str) -> str:
    return in_folder(folder, f"python -c \"import torch; torch.save(torch.load('{weights}', "
                     "weights_only=False).state_dict(), 'pytorch_model.bin')\"  # in the "
                     "environment that saved it; only for files you trust")


def load_on_cpu(weights: str) -> str:
    return f"torch.load('{weights}', map_location='cpu')"


def python_call(statement: str) -> str:
    """One line of Python as a shell command."""
    return f"python -c \"{statement}\""


def beside(folder: Path, suffix: str) -> Path:
    """A new folder next to the model's: where a converted copy goes, never over the original."""
    return folder.parent / (folder.name + suffix)


def diffusers_pipeline(root: Path) -> str:
    return ("pip install diffusers && " + python_call(
        "from diffusers import DiffusionPipeline; "
        f"DiffusionPipeline.from_pretrained({str(root)!r})"))


def diffusers_model(folder: Path, class_name: str) -> str:
    return ("pip install diffusers && " + python_call(
        f"from diffusers import {class_name}; {class_name}.from_pretrained({str(folder)!r})"))


def transformers_subfolder(root: Path, class_name: str, subfolder: str) -> str:
    """A transformers model kept in a subfolder of another layout (a pipeline's text_encoder/)."""
    return python_call(f"from transformers import {class_name}; "
                       f"{class_name}.from_pretrained({str(root)!r}, subfolder={subfolder!r})")


def dcp_to_safetensors(dcp_dir: Path, config_dir: Path, out: Path) -> str:
    """torch.distributed.checkpoint's own converter (format_utils, mode dcp_to_torch) to one
    torch file, then the model's tensors (under "model" when the trainer saved {"model": …})
    as model.safetensors beside a copy of config.json."""
    merged = out / "merged.pt"
    return (f"mkdir -p {quoted(out)} && python -m torch.distributed.checkpoint.format_utils "
            f"dcp_to_torch {quoted(dcp_dir)} {quoted(merged)} && "
            + python_call("import torch; from safetensors.torch import save_file; "
                          f"sd = torch.load({str(merged)!r}, weights_only=True); "
                          "sd = sd.get('model', sd); save_file({k: v.clone() for k, v in "
                          f"sd.items()}}, {str(out / 'model.safetensors')!r}, "
                          "metadata={'format': 'pt'})")
            + f" && cp {quoted(config_dir / 'config.json')} {quoted(out)}/")


def accelerate_merge(fsdp_dir: Path, config_dir: Path, out: Path) -> str:
    """accelerate's merge of a SHARDED_STATE_DICT FSDP checkpoint: writes out/model.safetensors."""
    return (f"accelerate merge-weights {quoted(fsdp_dir)} {quoted(out)} && "
            f"cp {quoted(config_dir / 'config.json')} {quoted(out)}/")


def zero_to_fp32(folder: Path, out: Path, tag: str | None, script_present: bool) -> str:
    """DeepSpeed's consolidation of ZeRO partitions into full fp32 weights (model.safetensors
    in `out`); the script the checkpoint carries matches the DeepSpeed that wrote it."""
    script = "python zero_to_fp32.py ." if script_present else \
        "python -m deepspeed.utils.zero_to_fp32 ."
    tag_arg = f" -t {quoted(tag)}" if tag else ""
    return in_folder(folder, f"{script} {quoted(out)} --safe_serialization{tag_arg} && "
                     f"cp config.json {quoted(out)}/")


def transformers_script(module_path: str, arguments: str, version: str | None) -> str:
    """A conversion script from the transformers repository: the wheel ships none of them
    (python -m transformers.models.…convert_… says "No module named"), so fetch the one of the
    installed release."""
    ref = f"v{version}" if version else "main"
    name = module_path.rsplit("/", 1)[-1]
    url = (f"https://raw.githubusercontent.com/huggingface/transformers/{ref}/src/transformers/"
           f"{module_path}")
    return f"curl -fLO {url} && python {name} {arguments}"


# nanoGPT names its modules as GPT-2 does, but with nn.Linear where GPT-2 has Conv1D: these
# four weights are stored transposed. A compiled model saves every key under `_orig_mod.`.
NANOGPT_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                      "mlp.c_proj.weight")


def nanogpt_to_gpt2(folder: Path, ckpt: str, out: Path) -> str:
    """Rebuild a nanoGPT ckpt.pt as a transformers GPT2LMHeadModel folder."""
    return in_folder(folder, python_call(
        "import torch; from transformers import GPT2Config, GPT2LMHeadModel; "
        f"c = torch.load({ckpt!r}, map_location='cpu', weights_only=True); a = c['model_args']; "
        "sd = {k.removeprefix('_orig_mod.'): v for k, v in c['model'].items()}; "
        f"sd = {{k: v.t() if k.endswith({NANOGPT_TRANSPOSED!r}) else v for k, v in sd.items()}}; "
        "m = GPT2LMHeadModel(GPT2Config(n_layer=a['n_layer'], n_head=a['n_head'], "
        "n_embd=a['n_embd'], n_positions=a['block_size'], vocab_size=a['vocab_size'])); "
        "r = m.load_state_dict(sd, strict=False); print('not in ckpt:', r.missing_keys); "
        f"m.save_pretrained({str(out)!r})"))


GGUF_MIN_VERSION = "0.10.0"  # transformers' GGUF_MIN_VERSION (utils/import_utils.py)


def from_gguf(folder: Path, name: str) -> str:
    """transformers dequantizes a GGUF file into a PyTorch model when told its name."""
    return (f"pip install 'gguf>={GGUF_MIN_VERSION}' && " + python_call(
        "from transformers import AutoModelForCausalLM; AutoModelForCausalLM.from_pretrained("
        f"{str(folder)!r}, gguf_file={name!r})"))


def importable(dotted: str) -> tuple[str, str]:
    """(import statement, the name it binds) for a global torch names ("argparse.Namespace",
    "numpy._core.multiarray.scalar"); a bare name ("eval") is a builtin."""
    module, _, name = dotted.rpartition(".")
    if not module or module == "builtins":
        return "", name
    top = module.split(".", 1)[0]
    if module == top:
        return f"import {module}; ", dotted
    return f"from {module} import {name}; ", name


# a numpy value pickles as its constructor plus its dtype's class, and torch names one refused
# global at a time: allow the ones numpy scalars and arrays need together
_NUMPY_COMPANIONS = ("numpy.ndarray, numpy.dtype, *(type(numpy.dtype(c)) for c in "
                     "numpy.typecodes['AllFloat'] + numpy.typecodes['AllInteger'] + '?')")


def safe_globals(dotted: str) -> tuple[str, str]:
    """(imports, list) for torch.serialization.add_safe_globals of one data global (and, for a
    numpy value, the dtype classes it needs beside it)."""
    statement, bound = importable(dotted)
    if dotted.startswith("numpy."):
        return f"import numpy; {statement}", f"[{bound}, {_NUMPY_COMPANIONS}]"
    return statement, f"[{bound}]"


def add_safe_globals(dotted: str, weights: str | None) -> str:
    """torch.load with weights_only=True that also accepts one reviewed data global."""
    statement, allowed = safe_globals(dotted)
    source = repr(weights) if weights else "'<file>'"
    return python_call(f"import torch; {statement}torch.serialization.add_safe_globals({allowed}); "
                       f"ckpt = torch.load({source}, weights_only=True)")


def resave_tensors_with_safe_global(dotted: str, weights: str | None) -> str:
    """The tensors of a checkpoint that holds one data global, re-saved as safetensors beside it
    (a new file; the original stays), read with weights_only=True and that global allowed."""
    statement, allowed = safe_globals(dotted)
    source = weights or "<file>"
    out = str(Path(source).with_suffix("")) + ".safetensors" if weights else "<file>.safetensors"
    return python_call(
        f"import torch; {statement}from safetensors.torch import save_file; "
        f"torch.serialization.add_safe_globals({allowed}); "
        f"c = torch.load({source!r}, weights_only=True); c = c.get('state_dict', c); "
        "save_file({k: v.clone().contiguous() for k, v in c.items() if isinstance(v, "
        f"torch.Tensor)}}, {out!r}, metadata={{'format': 'pt'}})")


def strip_prefix_into_new_folder(location: str, prefix: str, *, hub: bool) -> str:
    """Every weight of a model folder (or a cached hub repo) with `prefix` removed from its
    name, written as model.safetensors into a new folder beside it with config.json; the
    original stays as it is."""
    name = location.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    out = (name if hub else location.rstrip("/\\")) + "-" + prefix.strip(".") + "-stripped"
    source = (f"huggingface_hub.snapshot_download({location!r})" if hub else repr(location))
    return python_call(
        "import glob, os, shutil, torch, huggingface_hub; "
        "from safetensors.torch import load_file, save_file; "
        f"src = {source}; out = {out!r}; os.makedirs(out, exist_ok=True); "
        "files = sorted(glob.glob(os.path.join(src, 'model*.safetensors'))) or "
        "sorted(glob.glob(os.path.join(src, 'pytorch_model*.bin'))); sd = {}; "
        "[sd.update(load_file(f) if f.endswith('.safetensors') else "
        "torch.load(f, weights_only=True)) for f in files]; "
        f"save_file({{k.removeprefix({prefix!r}): v.clone().contiguous() for k, v in "
        "sd.items()}, os.path.join(out, 'model.safetensors'), metadata={'format': 'pt'}); "
        "shutil.copy(os.path.join(src, 'config.json'), out)")
