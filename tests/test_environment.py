"""WL5xx and `whyload env`: the probe reads real-shaped fakes — cgroup files in tmp_path, a fake
nvidia-smi, environment dicts, a torch that does not import — so every branch runs here, GPU or
not."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import codes, edit_config, only, run_cli

import whyload
from whyload import Severity, Verdict
from whyload.env import Environment, Sources, collect
from whyload.env.gpu import read_gpus
from whyload.env.memory import read_memory
from whyload.env.predict import predict_peak
from whyload.env.torch_probe import TorchProbe, probe_torch
from whyload.env.versions import TorchBuild
from whyload.pipeline import env as env_report
from whyload.readers.tensors import TensorInfo

MEMINFO = "MemTotal:       {total} kB\nMemAvailable:   {avail} kB\nSwapFree:       0 kB\n"


def fake_root(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "root"
    for name, text in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def machine(tmp_path: Path, *, avail_kb: int = 16_000_000, limit: int | None = None,
            usage: int = 0, **replace: object) -> Environment:
    files = {"/proc/meminfo": MEMINFO.format(total=32_000_000, avail=avail_kb),
             "/proc/self/cgroup": "0::/docker/abc\n"}
    if limit is not None:
        files["/sys/fs/cgroup/docker/abc/memory.max"] = f"{limit}\n"
        files["/sys/fs/cgroup/docker/abc/memory.current"] = f"{usage}\n"
    env = collect(Sources(root=fake_root(tmp_path, files), environ={"HOME": str(tmp_path)}))
    return dataclasses.replace(env, **replace)


# --- memory ---------------------------------------------------------------------------------------


def test_cgroup_v2_limit_is_what_counts(tmp_path: Path) -> None:
    mem = machine(tmp_path, limit=2_000_000_000, usage=500_000_000).memory
    assert (mem.cgroup_version, mem.cgroup_limit, mem.usable) == (2, 2_000_000_000, 1_500_000_000)
    assert "container" in mem.limited_by


def test_cgroup_v2_max_means_no_limit(tmp_path: Path) -> None:
    root = fake_root(tmp_path, {"/proc/meminfo": MEMINFO.format(total=8_000_000, avail=4_000_000),
                                "/proc/self/cgroup": "0::/\n",
                                "/sys/fs/cgroup/memory.max": "max\n"})
    mem = read_memory(Sources(root=root))
    assert mem.cgroup_limit is None and mem.usable == 4_000_000 * 1024


def test_cgroup_v1_limit(tmp_path: Path) -> None:
    root = fake_root(tmp_path, {
        "/proc/meminfo": MEMINFO.format(total=8_000_000, avail=6_000_000),
        "/proc/self/cgroup": "4:memory:/kubepods/pod1\n0::/\n",
        "/sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes": "1073741824\n",
        "/sys/fs/cgroup/memory/kubepods/pod1/memory.usage_in_bytes": "73741824\n"})
    mem = read_memory(Sources(root=root))
    assert (mem.cgroup_version, mem.usable) == (1, 1_000_000_000)


def test_model_too_big_for_the_container(tmp_path: Path, minilm: Path) -> None:
    """MiniLM (90 MB) plus the torch runtime in a 300 MB container: Killed."""
    env = machine(tmp_path, limit=300_000_000)
    report = whyload.check(str(minilm), environment=env)
    f = only(report, "WL500")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.FAILS
    assert f.evidence["usable"] == 300_000_000
    assert f.evidence["predicted_peak"] > 440 * 2**20
    assert "container's memory limit" in f.detail and "dtype=torch.float16" in f.fix


def test_roomy_machine_has_no_memory_finding(tmp_path: Path, minilm: Path) -> None:
    assert "WL500" not in codes(whyload.check(str(minilm), environment=machine(tmp_path)))


def test_prediction_counts_conversion_and_legacy() -> None:
    tensors = {"w": TensorInfo("F32", (1000, 1000))}  # 4 MB
    plain = predict_peak(tensors, legacy=False, dtype=None, device="cpu")
    half = predict_peak(tensors, legacy=False, dtype="float16", device="cpu")
    legacy = predict_peak(tensors, legacy=True, dtype=None, device="cpu")
    assert plain.parts["weights"] == 4_000_000 and "mapped checkpoint pages" not in plain.parts
    assert half.parts["weights"] == 2_000_000 and half.parts["mapped checkpoint pages"] == 4_000_000
    assert "unpickled state dict" not in legacy.parts  # used in place, measured so
    legacy_half = predict_peak(tensors, legacy=True, dtype="float16", device="cpu")
    assert legacy_half.parts["unpickled state dict"] == 4_000_000
    gpu = predict_peak(tensors, legacy=False, dtype="float16", device="cuda")
    assert gpu.device == 2_000_000 + 500 * 2**20


# --- GPUs and the CUDA stack ----------------------------------------------------------------------

SMI_CSV = "NVIDIA H200, 143771, 140000, 550.54.15, 9.0\n"
SMI_HEAD = "| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4     |\n"


def fake_smi(csv: str = SMI_CSV, head: str = SMI_HEAD) -> Callable[[list[str], float],
                                                                   tuple[int, str, str]]:
    def run(argv: list[str], timeout: float) -> tuple[int, str, str]:
        assert argv[0] == "nvidia-smi"
        return (0, csv, "") if len(argv) > 1 else (0, head, "")

    return run


def test_nvidia_smi_is_parsed() -> None:
    gpus = read_gpus(Sources(which=lambda name: "/usr/bin/" + name, run=fake_smi()))
    assert gpus.found and gpus.driver == "550.54.15" and gpus.driver_cuda == "12.4"
    (gpu,) = gpus.devices
    assert (gpu.name, gpu.compute_capability, gpu.memory_free) == ("NVIDIA H200", "9.0",
                                                                     140000 * 2**20)


def _cuda_machine(tmp_path: Path, torch_cuda: str = "12.4", csv: str = SMI_CSV,
                  probe: TorchProbe | None = None) -> Environment:
    env = machine(tmp_path)
    gpus = read_gpus(Sources(which=lambda name: "/usr/bin/" + name, run=fake_smi(csv)))
    return dataclasses.replace(env, gpus=gpus, torch=probe,
                               torch_build=TorchBuild(f"2.6.0+cu{torch_cuda.replace('.', '')}",
                                                      torch_cuda, None))


def test_cpu_only_torch_with_device_cuda(tmp_path: Path, minilm: Path) -> None:
    env = dataclasses.replace(_cuda_machine(tmp_path), torch_build=TorchBuild("2.6.0+cpu", None,
                                                                              None))
    f = only(whyload.check(str(minilm), device="cuda", environment=env), "WL510")
    assert "CPU-only" in f.title


def test_no_gpu_visible(tmp_path: Path, minilm: Path) -> None:
    env = dataclasses.replace(_cuda_machine(tmp_path), gpus=read_gpus(
        Sources(which=lambda name: None)))
    f = only(whyload.check(str(minilm), device="cuda", environment=env), "WL511")
    assert f.evidence["nvidia_smi"] is False


def test_driver_too_old_for_the_wheel(tmp_path: Path, minilm: Path) -> None:
    env = _cuda_machine(tmp_path, torch_cuda="12.8")
    f = only(whyload.check(str(minilm), device="cuda", environment=env), "WL512")
    assert (f.evidence["driver_cuda"], f.evidence["torch_cuda"]) == ("12.4", "12.8")


def test_gpu_arch_missing_from_the_wheel(tmp_path: Path, minilm: Path) -> None:
    probe = TorchProbe(ran=True, imported=True, cuda="12.4",
                       arch_list=("sm_50", "sm_60", "sm_70", "sm_80"))
    env = _cuda_machine(tmp_path, csv="NVIDIA B200, 183000, 180000, 570.1, 12.0\n", probe=probe)
    f = only(whyload.check(str(minilm), device="cuda", environment=env), "WL513")
    assert f.evidence["capability"] == "12.0"


def test_weights_do_not_fit_the_gpu(tmp_path: Path, minilm: Path) -> None:
    env = _cuda_machine(tmp_path, csv="Tesla T4, 15360, 300, 550.54.15, 7.5\n")
    f = only(whyload.check(str(minilm), device="cuda", environment=env), "WL514")
    assert f.evidence["free"] == 300 * 2**20


def test_healthy_gpu_machine(tmp_path: Path, minilm: Path) -> None:
    report = whyload.check(str(minilm), device="cuda", environment=_cuda_machine(tmp_path))
    assert not [c for c in codes(report) if c.startswith("WL5")]


def test_torch_that_does_not_import(tmp_path: Path) -> None:
    """A real child process with a torch that raises on import (a missing CUDA library)."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise OSError('libcudnn.so.9: cannot open shared object file')\n")
    import subprocess
    import sys

    def run(argv: list[str], timeout: float) -> tuple[int, str, str]:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
        return done.returncode, done.stdout, done.stderr

    probe = probe_torch(Sources(run=run), sys.executable)
    assert probe.ran and not probe.imported and "libcudnn" in (probe.error or "")
    env = dataclasses.replace(machine(tmp_path), torch=probe)
    report = env_report(environment=env)
    f = only(report, "WL515")
    assert "libcudnn" in f.detail
    assert {a["area"]: a["status"] for a in report.facts["areas"]}["torch"] == "error"


def test_tensors_saved_on_cuda_on_a_cpu_host(tmp_path: Path, bin_model: Path) -> None:
    import shutil
    import zipfile

    model = tmp_path / "m"
    shutil.copytree(bin_model, model)
    with zipfile.ZipFile(bin_model / "pytorch_model.bin") as src, \
            zipfile.ZipFile(model / "pytorch_model.bin", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info, data)
    f = only(whyload.check(str(model), environment=machine(tmp_path)), "WL516")
    assert f.severity is Severity.INFO and f.evidence["devices"] == ["cuda:0"]


# --- caches and containers -----------------------------------------------------------------------


def test_read_only_cache(tmp_path: Path, minilm: Path) -> None:
    cache = tmp_path / "hf"
    (cache / "hub").mkdir(parents=True)
    files = {"/proc/meminfo": MEMINFO.format(total=32_000_000, avail=16_000_000),
             "/proc/self/mountinfo":
             f"36 35 98:0 / / rw,noatime - ext4 /dev/root rw\n"
             f"99 36 0:50 / {cache} ro,relatime - overlay overlay ro\n"}
    env = collect(Sources(root=fake_root(tmp_path, files), environ={"HF_HOME": str(cache)}))
    f = only(whyload.check(str(minilm), environment=env), "WL520")
    assert f.evidence["read_only"] is True and "HF_HOME" in f.fix


def test_local_folder_shadows_cached_hub_id(tmp_path: Path, minilm: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    (cache / "models--bert-base-uncased" / "snapshots" / ("a" * 40)).mkdir(parents=True)
    work = tmp_path / "work"
    (work / "bert-base-uncased").mkdir(parents=True)
    (work / "bert-base-uncased" / "config.json").write_text('{"model_type": "bert"}')
    monkeypatch.chdir(work)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    f = only(whyload.check("bert-base-uncased"), "WL521")
    assert f.evidence["cached"].endswith("models--bert-base-uncased")


def test_runtime_missing(tmp_path: Path, minilm: Path) -> None:
    env = machine(tmp_path)
    env = dataclasses.replace(env, versions={**env.versions, "torch": None})
    f = only(whyload.check(str(minilm), environment=env), "WL540")
    assert f.evidence["missing"] == ["torch"]


# --- versions ------------------------------------------------------------------------------------


def test_model_type_unknown_to_installed_transformers(tmp_path: Path, minilm: Path) -> None:
    import shutil

    from transformers import AutoConfig

    model = tmp_path / "m"
    shutil.copytree(minilm, model)
    edit_config(model, model_type="modernbert_v9", transformers_version="9.1.0")
    with pytest.raises(ValueError, match="does not recognize this architecture"):
        AutoConfig.from_pretrained(model)
    f = only(whyload.check(str(model)), "WL201")
    assert f.evidence["model_type"] == "modernbert_v9" and "transformers>=9.1.0" in f.fix


def test_every_bert_family_type_is_known(minilm: Path) -> None:
    env = collect()
    assert env.model_types is not None
    assert {"bert", "roberta", "deberta-v2", "distilbert", "modernbert"} <= env.model_types


def test_bin_on_old_torch(tmp_path: Path, bin_model: Path) -> None:
    env = machine(tmp_path)
    env = dataclasses.replace(env, versions={**env.versions, "torch": "2.5.1",
                                             "transformers": "4.52.3"})
    f = only(whyload.check(str(bin_model), environment=env), "WL204")
    assert "torch >= 2.6" in f.title
    assert "WL204" not in codes(whyload.check(str(bin_model), environment=machine(tmp_path)))


def test_tokenizer_class_from_v5_on_4x(tmp_path: Path, minilm: Path) -> None:
    import shutil

    model = tmp_path / "m"
    shutil.copytree(minilm, model)
    path = model / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()),
                                "tokenizer_class": "TokenizersBackend"}))
    env = machine(tmp_path)
    env = dataclasses.replace(env, versions={**env.versions, "transformers": "4.57.3"})
    f = only(whyload.check(str(model), environment=env), "WL202")
    assert "BertTokenizerFast" in f.fix


def test_tokenizer_json_with_pair_merges_on_old_tokenizers(tmp_path: Path,
                                                           safetensors_model: Path) -> None:
    import shutil

    from tokenizers import Tokenizer, models, trainers

    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    tok = Tokenizer(models.BPE())
    tok.train_from_iterator(["hello world low lower lowest"] * 20,
                            trainers.BpeTrainer(vocab_size=40))
    tok.save(str(model / "tokenizer.json"))
    env = machine(tmp_path)
    env = dataclasses.replace(env, versions={**env.versions, "tokenizers": "0.19.1"})
    f = only(whyload.check(str(model), environment=env), "WL203")
    assert f.evidence["tokenizers"] == "0.19.1"


def test_saved_by_a_newer_major(tmp_path: Path, safetensors_model: Path) -> None:
    import shutil

    model = tmp_path / "m"
    shutil.copytree(safetensors_model, model)
    edit_config(model, transformers_version="6.2.0")
    f = only(whyload.check(str(model)), "WL205")
    assert f.severity is Severity.WARNING


# --- the env command ------------------------------------------------------------------------------


def test_env_command_text_and_json() -> None:
    done = run_cli("env")
    assert done.returncode == 0, done.stderr
    for area in ("runtime", "torch", "gpu", "memory", "hf cache", "container"):
        assert area in done.stdout
    report = json.loads(run_cli("env", "--format", "json").stdout)
    assert report["command"] == "env" and report["facts"]["versions"]["torch"]
    assert report["facts"]["torch"]["imported"] is True
    assert [a["area"] for a in report["facts"]["areas"]] == [
        "runtime", "torch", "gpu", "memory", "hf cache", "container"]


def test_empty_volume_mounted_as_the_model_folder(tmp_path: Path) -> None:
    model = tmp_path / "models" / "bert"
    model.mkdir(parents=True)
    files = {"/proc/meminfo": MEMINFO.format(total=32_000_000, avail=16_000_000),
             "/.dockerenv": "",
             "/proc/self/mountinfo": "36 35 98:0 / / rw,noatime - ext4 /dev/root rw\n"
             f"99 36 0:50 /wrong/host/path {model} rw,relatime - ext4 /dev/sdb1 rw\n"}
    env = collect(Sources(root=fake_root(tmp_path, files), environ={}), model_dir=str(model))
    report = whyload.check(str(model), environment=env)
    f = only(report, "WL530")
    assert f.evidence == {"path": str(model), "container": True}
    assert report.verdict is Verdict.FAILS


def test_offline_with_a_partial_cache(tmp_path: Path, safetensors_model: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    snap = cache / "models--acme--tiny" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (cache / "models--acme--tiny" / "refs").mkdir()
    (cache / "models--acme--tiny" / "refs" / "main").write_text("a" * 40)
    (snap / "config.json").write_text((safetensors_model / "config.json").read_text())
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    f = only(whyload.check("acme/tiny"), "WL522")
    assert f.evidence["missing"] == ["model.safetensors (or pytorch_model.bin)"]


def test_hub_id_typed_as_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    (cache / "models--bert-base-uncased" / "snapshots" / ("a" * 40)).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))  # where huggingface_hub and whyload look
    with pytest.raises(whyload.TargetError) as err:
        whyload.check("./bert-base-uncased")
    assert "whyload check bert-base-uncased" in str(err.value)


def test_low_disk_space_where_the_cache_lives(tmp_path: Path, minilm: Path) -> None:
    env = machine(tmp_path)
    env = dataclasses.replace(env, hf=dataclasses.replace(env.hf, cache_free=10_000_000))
    f = only(whyload.check(str(minilm), environment=env), "WL541")
    assert f.evidence["needed"] > 80_000_000 and f.severity is Severity.WARNING
