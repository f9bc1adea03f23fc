"""WL5xx — environment: can this machine hold and run this model? Memory (cgroup aware), CUDA
build vs driver vs GPU, the Hugging Face cache, containers. Facts come from whyload.env; `check`
never imports torch, so torch's own view (arch list, does it import) comes from `whyload env`.
Versions are those of the interpreter that will load the model (whyload.env.interpreter): a
finding about an installed package names it, and its fix installs into it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from packaging.version import InvalidVersion, Version

from whyload.checks.registration import Problem, check
from whyload.env import Environment
from whyload.env.predict import predict_peak
from whyload.knowledge import fix_commands
from whyload.report import Category, Effect, Severity
from whyload.snapshot import Snapshot

ENV = Category.ENVIRONMENT
GB = 1e9


def _gb(n: int | float) -> str:
    return f"{n / GB:.1f} GB"


def _interpreter(env: Environment) -> dict[str, str]:
    """Evidence: which interpreter's packages a finding speaks of."""
    return {"interpreter": env.interpreter.path, "chosen_by": env.interpreter.chosen_by}


def _quantized_note(quantized: Mapping[str, str | int | None]) -> str:
    """How a quantized checkpoint's weights were counted in a memory prediction."""
    if not quantized:
        return ""
    if quantized.get("dequantized_to"):
        return (f" The {quantized.get('method')} weights are counted in "
                f"{quantized.get('dequantized_to')}, which transformers dequantizes them to here.")
    return (f" The {quantized.get('method')} weights are counted as stored (packed, "
            f"{quantized.get('kept_as_stored'):,} bytes), not dequantized.")


@check("WL500", "not-enough-memory", ENV)
def not_enough_memory(snap: Snapshot) -> Iterator[Problem]:
    """Loading needs more memory than this machine (or container) can give

    The kernel's OOM killer ends the process: "Killed", exit code 137, often with no Python
    error at all. In a container the cgroup limit counts, not the host's free memory.
    """
    env = snap.env
    peak = snap.predicted_peak()
    usable = snap.options.memory or (env.memory.usable if env is not None else None)
    if env is None or peak is None or usable is None:
        return
    if peak.host <= 0.85 * usable:
        return
    over = peak.host > usable
    half = predict_peak(snap.planned_tensors(), legacy=False, dtype="float16", device="cpu")
    yield Problem(
        severity=Severity.ERROR if over else Severity.WARNING,
        effect=Effect.RAISES if over else Effect.NONE,
        title=f"loading needs ~{_gb(peak.host)}; {_gb(usable)} is available",
        detail=f"Predicted peak: {', '.join(f'{k} {_gb(v)}' for k, v in peak.parts.items())}. "
        f"The limit is {'--memory' if snap.options.memory else env.memory.limited_by}"
        + (": the process would be killed (exit 137)." if over else ", with little headroom.")
        + _quantized_note(peak.quantized),
        evidence={"predicted_peak": peak.host, "usable": usable, "parts": dict(peak.parts),
                  "cgroup_limit": env.memory.cgroup_limit, "mem_available": env.memory.available,
                  **({"quantized": dict(peak.quantized)} if peak.quantized else {})},
        fix=f"load with dtype=torch.float16 (~{_gb(half.host)}), or device_map='auto' on a "
        f"GPU, or give the container at least {_gb(peak.host * 1.2)} (docker run --memory)",
    )


@check("WL510", "cuda-requested-cpu-torch", ENV)
def cpu_only_torch(snap: Snapshot) -> Iterator[Problem]:
    """--device cuda, but the installed torch is a CPU-only build

    "AssertionError: Torch not compiled with CUDA enabled" at the first .to('cuda').
    """
    env = snap.env
    if env is None or snap.options.device != "cuda" or env.torch_build is None:
        return
    if env.torch_build.cuda or env.torch_build.hip:
        return
    yield Problem(
        title=f"torch {env.torch_build.version} is a CPU-only build; --device cuda cannot work",
        detail=f"torch/version.py in {env.interpreter.path} says cuda = None.",
        evidence={"torch": env.torch_build.version, "cuda": None, **_interpreter(env)},
        fix=env.pip_install("torch", "--index-url", "https://download.pytorch.org/whl/cu124")
        + "  # pick the CUDA version your driver supports (nvidia-smi)",
    )


@check("WL511", "no-gpu-visible", ENV, requires=["WL510"])
def no_gpu(snap: Snapshot) -> Iterator[Problem]:
    """--device cuda, but no NVIDIA GPU is visible

    nvidia-smi is missing or sees no device: in a container, the GPU was not passed through
    (docker run --gpus all); on a host, the driver is not installed.
    """
    env = snap.env
    if env is None or snap.options.device != "cuda" or env.gpus is None or env.gpus.devices:
        return
    yield Problem(
        title="no NVIDIA GPU is visible here",
        detail=(env.gpus.error or "nvidia-smi is not installed") + "."
        + (" This is a container: was it started with --gpus all?" if env.container.inside
           else ""),
        evidence={"nvidia_smi": env.gpus.found, "error": env.gpus.error,
                  "container": env.container.inside},
        fix="docker run --gpus all … (NVIDIA Container Toolkit), or install the NVIDIA driver",
    )


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


@check("WL512", "driver-too-old", ENV, requires=["WL510"])
def driver_too_old(snap: Snapshot) -> Iterator[Problem]:
    """The NVIDIA driver is older than the CUDA runtime torch was built with

    "CUDA driver version is insufficient for CUDA runtime version": torch imports, but
    torch.cuda.is_available() is False.
    """
    env = snap.env
    if env is None or env.gpus is None or env.torch_build is None:
        return
    driver_cuda = _version(env.gpus.driver_cuda)
    built = _version(env.torch_build.cuda)
    if driver_cuda is None or built is None or (built.major, built.minor) <= (
            driver_cuda.major, driver_cuda.minor):
        return
    yield Problem(
        title=f"torch needs CUDA {env.torch_build.cuda}; the driver supports up to "
        f"{env.gpus.driver_cuda}",
        detail=f"Driver {env.gpus.driver} (CUDA {env.gpus.driver_cuda}) is older than the CUDA "
        f"runtime of torch {env.torch_build.version} in {env.interpreter.path}.",
        evidence={"driver": env.gpus.driver, "driver_cuda": env.gpus.driver_cuda,
                  "torch_cuda": env.torch_build.cuda, **_interpreter(env)},
        fix=f"upgrade the NVIDIA driver, or install a torch built for CUDA "
        f"{driver_cuda.major}.x or older",
    )


@check("WL513", "gpu-arch-not-in-wheel", ENV, requires=["WL510"])
def arch_not_in_wheel(snap: Snapshot) -> Iterator[Problem]:
    """The GPU's architecture is not in the torch wheel's arch list

    "no kernel image is available for execution on the device" (and a warning that "CUDA
    capability sm_120 is not compatible with the current PyTorch installation").
    """
    env = snap.env
    if env is None or env.torch is None or not env.torch.arch_list or env.gpus is None:
        return
    archs = set(env.torch.arch_list)
    for gpu in env.gpus.devices:
        if gpu.compute_capability is None:
            continue
        sm = "sm_" + gpu.compute_capability.replace(".", "")
        compute = "compute_" + gpu.compute_capability.replace(".", "")
        if sm in archs or compute in archs:
            continue
        yield Problem(
            title=f"{gpu.name} ({sm}) is not in this torch build's arch list",
            detail=f"torch in {env.interpreter.path} supports {', '.join(sorted(archs))}.",
            evidence={"gpu": gpu.name, "capability": gpu.compute_capability,
                      "arch_list": sorted(archs), **_interpreter(env)},
            fix="install a torch wheel built for this GPU (a newer release, or the CUDA variant "
            "that lists it)",
        )


@check("WL514", "not-enough-gpu-memory", ENV, requires=["WL510", "WL511"])
def not_enough_vram(snap: Snapshot) -> Iterator[Problem]:
    """The weights do not fit in the GPU's free memory

    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate …" while moving weights.
    """
    env = snap.env
    peak = snap.predicted_peak()
    if env is None or peak is None or snap.options.device != "cuda" or not env.gpus or \
            not env.gpus.devices:
        return
    free = max(g.memory_free for g in env.gpus.devices)
    if peak.device <= free:
        return
    yield Problem(
        title=f"the weights need ~{_gb(peak.device)} on the GPU; {_gb(free)} is free",
        detail=f"Weights in {peak.weights_dtype} plus the CUDA context."
        + _quantized_note(peak.quantized),
        evidence={"needed": peak.device, "free": free,
                  "gpus": [g.name for g in env.gpus.devices],
                  **({"quantized": dict(peak.quantized)} if peak.quantized else {})},
        fix="load with dtype=torch.float16, or device_map='auto' to spread over GPUs and CPU",
    )


@check("WL516", "tensors-saved-on-cuda", ENV)
def saved_on_cuda(snap: Snapshot) -> Iterator[Problem]:
    """A .bin whose tensors were saved on a GPU, on a machine without one

    from_pretrained maps them to the CPU itself; a plain torch.load does not: "Attempting to
    deserialize object on a CUDA device but torch.cuda.is_available() is False".
    """
    env = snap.env
    if env is None or snap.options.device == "cuda" or (env.torch_build and env.torch_build.cuda):
        return
    for name in snap.plan.files:
        f = snap.file(name)
        devices = {t.device for t in (f.tensors.values() if f else []) if t.device}
        cuda = sorted(d for d in devices if d.startswith("cuda"))
        if cuda:
            yield Problem(
                severity=Severity.INFO, effect=Effect.NONE, file=name,
                title=f"{name} was saved with tensors on {', '.join(cuda)}; this torch has no "
                "CUDA",
                detail=f"The torch in {env.interpreter.path} is a CPU build: from_pretrained "
                "maps them to the CPU; torch.load needs map_location.",
                evidence={"file": name, "devices": cuda, **_interpreter(env)},
                fix=fix_commands.load_on_cpu(name),
            )


@check("WL520", "hf-cache-not-writable", ENV)
def cache_not_writable(snap: Snapshot) -> Iterator[Problem]:
    """The Hugging Face cache is not writable

    Even a fully cached model can trigger writes (locks, .no_exist markers, the token):
    "There was a problem when trying to write in your cache folder", "[Errno 30] Read-only file
    system". Common in containers running as another user or with a read-only root.
    """
    env = snap.env
    if env is None:
        return
    hf = env.hf
    read_only = hf.cache_mount is not None and hf.cache_mount.read_only
    if hf.cache_writable and not read_only:
        return
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"the HF cache {hf.cache_dir} is "
        + ("on a read-only file system" if read_only else "not writable by this user"),
        detail="Downloads and even some offline loads write there."
        + (" HF_HUB_OFFLINE is set, which avoids most writes." if hf.offline else ""),
        evidence={"cache_dir": hf.cache_dir, "read_only": read_only,
                  "writable": hf.cache_writable, "offline": hf.offline},
        fix="export HF_HOME=/tmp/hf  # a writable place; or HF_HUB_OFFLINE=1 with a "
        "pre-populated cache",
    )


@check("WL521", "local-folder-shadows-hub-id", ENV)
def shadowing(snap: Snapshot) -> Iterator[Problem]:
    """A local folder named like the hub id, used instead of the cached model

    from_pretrained('bert-base-uncased') loads ./bert-base-uncased when that folder exists —
    often an incomplete copy: "make sure you don't have a local directory with the same name".
    """
    a = snap.artifact
    cached = a.shadows
    if cached is None:
        return
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"./{a.target} shadows the cached hub model {a.target}",
        detail=f"from_pretrained({a.target!r}) loads this local folder, not {cached}.",
        evidence={"local": str(a.root), "cached": str(cached)},
        fix=f"rename ./{a.target}, or load by an absolute path / the org-qualified id",
    )


@check("WL530", "empty-mount", ENV)
def empty_mount(snap: Snapshot) -> Iterator[Problem]:
    """The model folder is an empty mount point: the volume was mounted from the wrong place

    docker run -v /wrong/host/path:/models/bert creates an empty folder and mounts it; the
    container sees nothing and from_pretrained reports no config or weights.
    """
    a = snap.artifact
    if a.how != "folder" or snap.files or snap.inventory.subfolders_with_weights:
        return
    if snap.env is None or snap.env.model_mount is None or \
            not snap.env.model_mount.is_mount_point:
        return
    inside = snap.env.container.inside
    yield Problem(
        title=f"{a.root} is an empty mount point",
        detail="Something is mounted here, and it is empty"
        + (" — inside a container, usually a volume whose host path is wrong or empty."
           if inside else "."),
        evidence={"path": str(a.root), "container": inside},
        fix="check the -v/--mount host path (it must hold config.json and the weights)",
    )


CHOSEN_BECAUSE = {
    "--python": "the interpreter given with --python",
    "VIRTUAL_ENV": "the active virtual environment (VIRTUAL_ENV)",
    "CONDA_PREFIX": "the active conda environment (CONDA_PREFIX)",
}


@check("WL540", "runtime-missing", ENV)
def runtime_missing(snap: Snapshot) -> Iterator[Problem]:
    """torch or transformers is not installed in the interpreter that will load the model

    from_pretrained cannot run there: "ModuleNotFoundError: No module named 'torch'". That
    interpreter is --python, else the active virtual or conda environment, else whyload's own.
    """
    env = snap.env
    if env is None:
        return
    missing = [p for p in ("torch", "transformers") if env.versions.get(p) is None]
    if not missing:
        return
    interpreter = env.interpreter
    told = interpreter.chosen_by == "--python"  # the user named the loading interpreter
    because = CHOSEN_BECAUSE.get(interpreter.chosen_by)
    yield Problem(
        severity=Severity.ERROR if told else Severity.WARNING,
        effect=Effect.RAISES if told else Effect.NONE,
        title=f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed "
        f"in {interpreter.path}",
        detail=f"from_pretrained cannot run in {because}." if because else
        "from_pretrained cannot run in the interpreter whyload runs in; if the model is loaded "
        "by another one, name it: --python /path/to/its/bin/python.",
        evidence={"missing": missing, **_interpreter(env)},
        fix=env.pip_install(*missing),
    )


@check("WL515", "torch-does-not-import", ENV)
def torch_broken(snap: Snapshot) -> Iterator[Problem]:
    """torch is installed but does not import (or hangs importing)

    A missing shared library (libcudnn, libcusparseLt), a CUDA/driver mismatch or a half-done
    upgrade: every load fails before it starts. whyload asked in a child process.
    """
    env = snap.env
    probe = env.torch if env else None
    if probe is None or probe.imported or env is None or env.versions.get("torch") is None:
        return
    yield Problem(
        title=f"torch {env.versions.get('torch')} is installed in {env.interpreter.path} but "
        "does not import",
        detail=probe.error or "the probe gave no answer",
        evidence={"torch": env.versions.get("torch"), "error": probe.error, **_interpreter(env)},
        fix=env.pip_install("--force-reinstall", "torch")
        + "  # the build matching your CUDA driver",
    )


@check("WL522", "offline-files-not-cached", ENV)
def offline_not_cached(snap: Snapshot) -> Iterator[Problem]:
    """Offline mode, and the cache lacks files from_pretrained needs

    With HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1) nothing is fetched: "We couldn't connect
    to 'https://huggingface.co' … couldn't find it in the cached files" /
    "LocalEntryNotFoundError: … outgoing traffic has been disabled". Often only part of the repo
    was downloaded, or with another HF_HOME.
    """
    cache, env = snap.artifact.cache, snap.env
    if cache is None or env is None or not env.hf.offline:
        return
    missing = [n for n in ("config.json",) if n not in snap.files]
    if snap.plan.format is None:
        missing.append("model.safetensors (or pytorch_model.bin)")
    missing += [s for idx in snap.indexes.values() for s in idx.shards if s not in snap.files]
    if not missing:
        return
    yield Problem(
        title=f"offline mode, and the cache of {cache.repo_id} lacks {', '.join(missing[:4])}",
        detail=f"HF_HUB_OFFLINE is set: nothing will be downloaded, and {cache.repo_dir} holds "
        "only part of the repo.",
        evidence={"repo_id": cache.repo_id, "missing": missing, "cache_dir": str(cache.cache_dir)},
        fix=f"HF_HUB_OFFLINE=0 {fix_commands.hub_download(cache.repo_id, cache.revision)}  # once, "
        "where the network is "
        "reachable; keep HF_HOME the same when loading",
    )


@check("WL541", "low-disk-space", ENV)
def low_disk(snap: Snapshot) -> Iterator[Problem]:
    """Little free disk where downloads and conversions are written

    A download into a full disk leaves a truncated file (sometimes only the warning "Not enough
    free disk space", then a misleading "Can't load the model"); a safetensors conversion needs
    the model's size again.
    """
    env = snap.env
    if env is None or env.hf.cache_free is None:
        return
    need = sum(t.nbytes for t in snap.planned_tensors().values()) or 1 << 30
    if env.hf.cache_free >= need:
        return
    yield Problem(
        severity=Severity.WARNING, effect=Effect.NONE,
        title=f"{_gb(env.hf.cache_free)} free on the HF cache's disk; "
        f"{'this model needs ' + _gb(need) if snap.planned_tensors() else 'under 1 GB'}",
        detail=f"{env.hf.cache_dir}: a re-download or a conversion of these weights would not "
        "fit, and a full disk leaves truncated files behind.",
        evidence={"cache_dir": env.hf.cache_dir, "free": env.hf.cache_free, "needed": need},
        fix="free space, or export HF_HOME to a disk with room",
    )
