"""verify and lock, from the user's side: real checkpoints saved by transformers and torch, HF
caches laid out with real blob names, bytes flipped in each format, locks written and read back."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import codes, only, rewrite_safetensors, run_cli

import whyload.integrity as integrity
from whyload.errors import TargetError, UsageError
from whyload.integrity import hashing
from whyload.report import Effect, Report, Severity, Verdict

REPO_ID = "acme/tiny-bert"
COMMIT = "c0ffee" + "0" * 34
LFS_SUFFIXES = (".safetensors", ".bin")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def flip_byte(path: Path, offset: int, mask: int = 0x01) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ mask]))


def tensor_data_offset(path: Path) -> int:
    """The first byte of a safetensors file's tensor data (past its header)."""
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


def storage_offset(path: Path, key: str = "0") -> int:
    """The first data byte of the zip member <root>/data/<key> of a torch checkpoint."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(f"/data/{key}"))
    raw = path.read_bytes()[info.header_offset : info.header_offset + 30]
    return info.header_offset + 30 + int.from_bytes(raw[26:28], "little") + int.from_bytes(
        raw[28:30], "little")


def worst(report: Report) -> Severity | None:
    return report.worst


# --- an HF cache with real blob names -------------------------------------------------------------


def cache_repo(cache: Path, src: Path, repo_id: str = REPO_ID) -> Path:
    """Lay a model out as huggingface_hub does: LFS files under their sha256, small files under
    their git blob sha1, snapshots/<commit>/<file> relative links into blobs/. Returns the
    snapshot folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        name = sha256_of(f) if f.name.endswith(LFS_SUFFIXES) else git_blob_sha1(f)
        blob = repo / "blobs" / name
        shutil.copy(f, blob)
        link = snapshot / f.relative_to(src)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


def test_cached_model_verifies_against_both_kinds_of_blob_name(
        hf_cache: Path, safetensors_model: Path) -> None:
    cache_repo(hf_cache, safetensors_model)
    report = integrity.verify(REPO_ID)
    assert report.command == "verify" and report.findings == ()
    assert report.verdict is Verdict.LOADS
    files = {f["name"]: f for f in report.facts["files"]}
    assert {f["status"] for f in files.values()} == {"verified"}
    assert files["model.safetensors"]["references"] == ["hf-cache"]
    assert files["config.json"]["sha256"] == sha256_of(safetensors_model / "config.json")


def test_subfolders_of_a_cached_repo_are_verified(
        hf_cache: Path, copy_of: Callable[[Path], Path], safetensors_model: Path) -> None:
    src = copy_of(safetensors_model)
    (src / "1_Pooling").mkdir()
    (src / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}\n')
    snapshot = cache_repo(hf_cache, src)
    report = integrity.verify(REPO_ID)
    assert report.findings == ()
    assert "1_Pooling/config.json" in [f["name"] for f in report.facts["files"]]
    (snapshot / "1_Pooling" / "config.json").resolve().write_text("{}\n")
    f = only(integrity.verify(REPO_ID), "WL171")
    assert f.file == "1_Pooling/config.json"
    assert f.fix.endswith(f"1_Pooling/config.json --revision {COMMIT} --force-download")


def test_bit_flip_in_a_cached_safetensors_blob(hf_cache: Path, safetensors_model: Path) -> None:
    snapshot = cache_repo(hf_cache, safetensors_model)
    blob = (snapshot / "model.safetensors").resolve()
    flip_byte(blob, tensor_data_offset(blob) + 5, 0x40)

    from safetensors.numpy import load_file  # the real library loads it without complaint

    assert load_file(str(blob))
    f = only(integrity.verify(REPO_ID), "WL170")
    assert f.severity is Severity.ERROR and f.effect is Effect.SILENT
    assert f.file == "model.safetensors"
    assert f.evidence["expected"] == blob.name and f.evidence["actual"] == sha256_of(blob)
    assert f.evidence["source"] == "hf-cache"
    assert f.fix == (f"hf download {REPO_ID} model.safetensors --revision {COMMIT} "
                     "--force-download")


def test_edited_config_in_the_cache_fails_its_git_blob_id(
        hf_cache: Path, safetensors_model: Path) -> None:
    snapshot = cache_repo(hf_cache, safetensors_model)
    blob = (snapshot / "config.json").resolve()
    text = blob.read_text()
    blob.write_text(text.replace('"hidden_size": 32', '"hidden_size": 23'))
    report = integrity.verify(REPO_ID)
    f = only(report, "WL171")
    assert f.evidence["algorithm"] == "git-sha1" and f.evidence["expected"] == blob.name
    assert f.evidence["actual"] == git_blob_sha1(blob)
    assert "config.json --revision" in f.fix
    assert codes(report) == ["WL171"]


def test_dangling_cache_link_is_not_verifiable(hf_cache: Path, safetensors_model: Path) -> None:
    snapshot = cache_repo(hf_cache, safetensors_model)
    (snapshot / "model.safetensors").resolve().unlink()
    report = integrity.verify(REPO_ID)
    f = only(report, "WL181")
    assert "dangling" in f.title and report.verdict is Verdict.UNKNOWN


def test_cached_bin_and_its_zip_crcs(hf_cache: Path, bin_model: Path) -> None:
    cache_repo(hf_cache, bin_model)
    report = integrity.verify(REPO_ID)
    assert report.findings == ()
    files = {f["name"]: f for f in report.facts["files"]}
    assert files["pytorch_model.bin"]["zip_members_checked"] > 10


# --- zip CRCs catch bit flips with no reference ---------------------------------------------------


def test_bit_flip_in_a_zip_bin_is_caught_by_its_crc(
        copy_of: Callable[[Path], Path], bin_model: Path) -> None:
    import torch

    folder = copy_of(bin_model)
    weights = folder / "pytorch_model.bin"
    before = torch.load(weights, weights_only=True)
    flip_byte(weights, storage_offset(weights) + 2, 0x40)
    after = torch.load(weights, weights_only=True)  # torch does not check the CRC
    assert any(not torch.equal(before[k], after[k]) for k in before)

    report = integrity.verify(str(folder))
    f = only(report, "WL172")
    assert f.severity is Severity.ERROR and report.verdict is Verdict.LOADS_BROKEN
    assert f.evidence["member"].endswith("/data/0")
    assert f.evidence["expected_crc32"] != f.evidence["actual_crc32"]
    assert "where" in f.fix and "came from is not recorded" in f.fix


def test_crcs_across_read_boundaries(copy_of: Callable[[Path], Path], bin_model: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "CHUNK_BYTES", 997)  # members straddle many reads
    folder = copy_of(bin_model)
    assert "WL172" not in codes(integrity.verify(str(folder)))
    weights = folder / "pytorch_model.bin"
    flip_byte(weights, storage_offset(weights, "5") + 1)
    assert codes(integrity.verify(str(folder))).count("WL172") == 1


# --- healthy models: nothing above info -----------------------------------------------------------


@pytest.mark.parametrize("fixture", ["safetensors_model", "bin_model", "legacy_bin_model",
                                     "sharded_model", "minilm"])
def test_healthy_models_give_nothing_above_info(fixture: str,
                                                request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    report = integrity.verify(str(folder), deep=True)
    assert worst(report) in (None, Severity.INFO), [(f.code, f.title) for f in report.findings]
    assert report.verdict is Verdict.LOADS
    assert set(codes(report)) <= {"WL182", "WL179"}
    assert report.facts["values_scanned"] > 0 or fixture == "legacy_bin_model"


# --- references beside the files -----------------------------------------------------------------


def test_lfs_pointer_beside_the_file(copy_of: Callable[[Path], Path],
                                     safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    weights = folder / "model.safetensors"
    (folder / "model.safetensors.lfs").write_text(
        "version https://git-lfs.github.com/spec/v1\n"
        f"oid sha256:{sha256_of(weights)}\nsize {weights.stat().st_size}\n")
    report = integrity.verify(str(folder))
    assert report.findings == ()
    flip_byte(weights, weights.stat().st_size - 3)
    f = only(integrity.verify(str(folder)), "WL170")
    assert f.evidence["source"] == "lfs-pointer"
    assert f.evidence["reference"].endswith("model.safetensors.lfs")


def test_download_record_of_hf_local_dir(copy_of: Callable[[Path], Path],
                                         safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    records = folder / ".cache" / "huggingface" / "download"
    records.mkdir(parents=True)
    for f in ("model.safetensors", "config.json"):
        etag = sha256_of(folder / f) if f.endswith(".safetensors") else git_blob_sha1(folder / f)
        (records / f"{f}.metadata").write_text(f"{COMMIT}\n{etag}\n{time.time() + 5}\n")
    assert integrity.verify(str(folder)).findings == ()
    weights = folder / "model.safetensors"
    flip_byte(weights, tensor_data_offset(weights) + 100)
    os.utime(weights, (time.time() - 60, time.time() - 60))  # as if damaged in the download
    f = only(integrity.verify(str(folder)), "WL170")
    assert f.severity is Severity.ERROR and f.evidence["source"] == "hf-local-dir"
    assert f"--revision {COMMIT} --local-dir" in f.fix and "<repo_id>" in f.fix


def test_sha256_given_on_the_command_line(copy_of: Callable[[Path], Path],
                                          legacy_bin_model: Path) -> None:
    folder = copy_of(legacy_bin_model)
    weights = folder / "pytorch_model.bin"
    good = sha256_of(weights)
    assert integrity.verify(str(folder), sha256=[f"pytorch_model.bin={good}"]).findings == ()
    flip_byte(weights, weights.stat().st_size // 2)
    f = only(integrity.verify(str(folder), sha256=[f"pytorch_model.bin=sha256:{good.upper()}"]),
             "WL170")
    assert f.evidence["expected"] == good and f.evidence["source"] == "--sha256"


@pytest.mark.parametrize("pair", ["model.safetensors", "model.safetensors=abc",
                                  "=" + "a" * 64, "nope.bin=" + "a" * 64])
def test_malformed_sha256_is_a_usage_error(pair: str, safetensors_model: Path) -> None:
    with pytest.raises(UsageError):
        integrity.verify(str(safetensors_model), sha256=[pair])
    proc = run_cli("verify", str(safetensors_model), "--sha256", pair)
    assert proc.returncode == 2 and "--sha256" in proc.stderr and "Traceback" not in proc.stderr


# --- lock -----------------------------------------------------------------------------------------


def test_lock_round_trip(copy_of: Callable[[Path], Path], safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    report = integrity.lock(str(folder))
    path = folder / "whyload.lock"
    assert report.facts["written"] and report.facts["lock"] == str(path)
    text = path.read_text()
    doc = json.loads(text)
    assert doc["schema"] == "whyload.lock/1"
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert doc["files"]["model.safetensors"] == {
        "sha256": sha256_of(folder / "model.safetensors"),
        "size": (folder / "model.safetensors").stat().st_size}
    assert doc["format"]["tensor_count"] == 41 and doc["format"]["dtypes"] == {"F32": 41}
    assert doc["format"]["parameter_count"] > 0
    assert set(doc["versions"]) == {"transformers", "torch", "tokenizers", "safetensors",
                                    "huggingface_hub"}
    assert "whyload.lock" not in doc["files"]

    verified = integrity.verify(str(folder))
    assert verified.findings == () and verified.facts["lock"] == str(path)

    flip_byte(folder / "model.safetensors", tensor_data_offset(folder / "model.safetensors"))
    f = only(integrity.verify(str(folder)), "WL173")
    assert f.severity is Severity.ERROR and f.evidence["expected"] == \
        doc["files"]["model.safetensors"]["sha256"]
    assert "--force" in f.fix


def test_lock_never_overwrites_without_force(copy_of: Callable[[Path], Path],
                                             safetensors_model: Path, tmp_path: Path) -> None:
    folder = copy_of(safetensors_model)
    integrity.lock(str(folder))
    (folder / "whyload.lock").write_text("{}")
    with pytest.raises(UsageError, match="already exists"):
        integrity.lock(str(folder))
    assert (folder / "whyload.lock").read_text() == "{}"
    proc = run_cli("lock", str(folder))
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert integrity.lock(str(folder), force=True).facts["written"]
    elsewhere = tmp_path / "locks"
    elsewhere.mkdir()
    integrity.lock(str(folder), out=elsewhere)
    assert (elsewhere / "whyload.lock").is_file()
    assert integrity.verify(str(folder), lock=elsewhere / "whyload.lock").findings == ()


def test_lock_of_a_cached_hub_id_goes_to_the_current_folder(
        hf_cache: Path, bin_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = cache_repo(hf_cache, bin_model)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in snapshot.parent.parent.rglob("*"))
    report = integrity.lock(REPO_ID)
    assert report.facts["lock"] == str(work / "whyload.lock")
    assert sorted(p.name for p in snapshot.parent.parent.rglob("*")) == before
    doc = json.loads((work / "whyload.lock").read_text())
    assert doc["target"]["repo_id"] == REPO_ID and doc["target"]["commit"] == COMMIT
    verified = integrity.verify(REPO_ID)
    assert verified.facts["lock"] == str(work / "whyload.lock") and verified.findings == ()


def test_lock_refuses_a_damaged_model(copy_of: Callable[[Path], Path], bin_model: Path) -> None:
    folder = copy_of(bin_model)
    weights = folder / "pytorch_model.bin"
    flip_byte(weights, storage_offset(weights) + 1)
    report = integrity.lock(str(folder))
    assert not report.facts["written"] and not (folder / "whyload.lock").exists()
    assert set(codes(report)) == {"WL172", "WL185"}
    proc = run_cli("lock", str(folder))
    assert proc.returncode == 1 and "WL185" in proc.stdout


def test_added_and_removed_since_the_lock(copy_of: Callable[[Path], Path],
                                          sharded_model: Path) -> None:
    folder = copy_of(sharded_model)
    integrity.lock(str(folder))
    shard = sorted(folder.glob("model-*.safetensors"))[0]
    shard.unlink()
    (folder / "README.md").write_text("# notes\n")
    report = integrity.verify(str(folder))
    removed = only(report, "WL174")
    assert removed.file == shard.name and removed.severity is Severity.ERROR
    added = only(report, "WL175")
    assert added.file == "README.md" and added.severity is Severity.INFO


def test_version_drift_since_the_lock(copy_of: Callable[[Path], Path],
                                      safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    integrity.lock(str(folder))
    path = folder / "whyload.lock"
    doc = json.loads(path.read_text())
    doc["versions"].update(transformers="4.46.3", safetensors="0.7.1")
    path.write_text(json.dumps(doc))
    report = integrity.verify(str(folder))
    major = only(report, "WL220")
    assert major.severity is Severity.WARNING
    assert major.evidence == {"package": "transformers", "locked": "4.46.3",
                              "installed": importlib.metadata.version("transformers")}
    assert major.fix == 'pip install "transformers==4.46.3"'
    minor = only(report, "WL221")
    assert minor.severity is Severity.INFO and minor.evidence["package"] == "safetensors"
    assert report.verdict is Verdict.LOADS


@pytest.mark.parametrize("content, message", [
    ("not json {", "is not JSON"),
    ('{"schema": "whyload.lock/9", "files": {}}', "schema"),
    ('{"schema": "whyload.lock/1", "files": {"a": {"size": "x"}}}', "needs 'sha256'"),
    ("[]", "not a whyload lock"),
])
def test_unusable_locks(content: str, message: str, copy_of: Callable[[Path], Path],
                        safetensors_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.lock"
    bad.write_text(content)
    with pytest.raises(UsageError, match=message):
        integrity.verify(str(safetensors_model), lock=bad)
    proc = run_cli("verify", str(safetensors_model), "--lock", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    folder = copy_of(safetensors_model)  # beside the files: a finding, not an error
    (folder / "whyload.lock").write_text(content)
    f = only(integrity.verify(str(folder)), "WL183")
    assert f.severity is Severity.WARNING


# --- --deep: values -------------------------------------------------------------------------------


def test_deep_finds_nan_inf_and_zero_matrices(copy_of: Callable[[Path], Path],
                                              safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    nan_key = "bert.encoder.layer.0.attention.self.query.weight"
    inf_key = "bert.encoder.layer.1.output.dense.weight"
    zero_key = "classifier.weight"

    def damage(tensors: dict) -> dict:
        tensors[nan_key] = tensors[nan_key].copy()
        tensors[nan_key][3, 4] = np.nan
        tensors[inf_key] = tensors[inf_key].copy()
        tensors[inf_key][0, 0] = np.inf
        tensors[zero_key] = np.zeros_like(tensors[zero_key])
        return tensors

    rewrite_safetensors(folder / "model.safetensors", damage)
    assert integrity.verify(str(folder)).findings[0].code == "WL182"  # values need --deep
    report = integrity.verify(str(folder), deep=True)
    nan = only(report, "WL176")
    assert nan.severity is Severity.ERROR and report.verdict is Verdict.LOADS_BROKEN
    assert nan.evidence["tensors"] == [{"tensor": nan_key, "dtype": "F32", "shape": [32, 32],
                                        "nan": 1, "inf": 0}]
    assert only(report, "WL177").evidence["tensors"][0]["tensor"] == inf_key
    assert only(report, "WL178").evidence["tensors"][0]["tensor"] == zero_key


def test_deep_reads_bfloat16_bits(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    weights = torch.randn(4, 4, dtype=torch.bfloat16)
    weights[1, 1] = float("nan")
    weights[2, 2] = float("-inf")
    save_file({"w": weights, "bias": torch.zeros(4, dtype=torch.bfloat16)},
              str(tmp_path / "model.safetensors"))
    report = integrity.verify(str(tmp_path / "model.safetensors"), deep=True)
    assert only(report, "WL176").evidence["tensors"][0] == {
        "tensor": "w", "dtype": "BF16", "shape": [4, 4], "nan": 1, "inf": 1}
    assert "WL178" not in codes(report)  # a zero bias is normal


def test_deep_scans_zip_bin_storages(tmp_path: Path) -> None:
    import torch

    state = {"encoder.weight": torch.randn(8, 8), "decoder.weight": torch.zeros(8, 8),
             "half.weight": torch.randn(4, 4).half(), "position_ids": torch.arange(8)}
    state["half.weight"][0, 1] = float("nan")
    torch.save(state, tmp_path / "pytorch_model.bin")
    report = integrity.verify(str(tmp_path), deep=True)
    assert only(report, "WL176").evidence["tensors"][0]["tensor"] == "half.weight"
    assert only(report, "WL178").evidence["tensors"][0]["tensor"] == "decoder.weight"
    assert "WL179" not in codes(report)  # int64 position_ids cannot hold NaN: not "unscanned"


def test_deep_says_legacy_pickles_are_not_scanned(legacy_bin_model: Path) -> None:
    report = integrity.verify(str(legacy_bin_model), deep=True)
    f = only(report, "WL179")
    assert f.evidence["not_scanned"][0]["file"] == "pytorch_model.bin"


# --- bad input ------------------------------------------------------------------------------------


def test_missing_target(tmp_path: Path) -> None:
    with pytest.raises(TargetError):
        integrity.verify(str(tmp_path / "nope"))
    proc = run_cli("verify", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_fifo_in_the_folder_and_as_the_target(copy_of: Callable[[Path], Path],
                                              safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    os.mkfifo(folder / "vocab.txt")
    f = only(integrity.verify(str(folder)), "WL181")
    assert "fifo" in f.title
    proc = run_cli("verify", str(folder / "vocab.txt"), timeout=20)
    assert proc.returncode == 2 and "FIFO" in proc.stderr


def test_symlink_loop_in_the_folder(copy_of: Callable[[Path], Path],
                                    safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    (folder / "vocab.txt").symlink_to("vocab.txt")
    f = only(integrity.verify(str(folder)), "WL181")
    assert "loop" in f.title and f.file == "vocab.txt"
    report = integrity.lock(str(folder))
    assert not report.facts["written"] and "WL185" in codes(report)


def test_unreadable_file(copy_of: Callable[[Path], Path], safetensors_model: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_of(safetensors_model)
    real_open = os.open

    def refuse_weights(path: object, flags: int, *args: object) -> int:
        if str(path).endswith("model.safetensors"):  # what chmod 0 does to anyone but root
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse_weights)
    report = integrity.verify(str(folder))
    f = only(report, "WL181")
    assert f.file == "model.safetensors" and f.evidence["error"] == "Permission denied"
    assert report.verdict is Verdict.UNKNOWN


# --- progress, interruption, the CLI --------------------------------------------------------------


def test_progress_reaches_the_total_and_stop_gives_a_partial_report(
        copy_of: Callable[[Path], Path], sharded_model: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    report = integrity.verify(str(sharded_model), progress=lambda d, t: seen.append((d, t)))
    total = sum(f.stat().st_size for f in sharded_model.iterdir())
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not report.facts["interrupted"]

    monkeypatch.setattr(hashing, "CHUNK_BYTES", 4096)
    stop = threading.Event()

    def stop_early(done: int, total: int) -> None:
        if done > total // 3:
            stop.set()

    partial = integrity.verify(str(sharded_model), progress=stop_early, stop=stop, workers=1)
    f = only(partial, "WL180")
    assert partial.facts["interrupted"] and partial.verdict is Verdict.UNKNOWN
    assert f.evidence["not_read"] and f.evidence["verified"] < f.evidence["files"]


def test_ctrl_c_prints_a_partial_report(tmp_path: Path) -> None:
    big = tmp_path / "model.safetensors"
    with big.open("wb") as fh:  # sparse: costs no disk, hashes at memory speed
        fh.truncate(6 << 30)
    proc = subprocess.Popen([sys.executable, "-m", "whyload", "verify", str(tmp_path),
                             "--format", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("hashing finished before the interrupt")
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    report = json.loads(stdout)
    assert report["facts"]["interrupted"] is True
    assert "WL180" in [f["code"] for f in report["findings"]]


def test_cli_json_has_no_progress_and_exit_codes(copy_of: Callable[[Path], Path],
                                                 bin_model: Path) -> None:
    folder = copy_of(bin_model)
    proc = run_cli("verify", str(folder), "--format", "json", "--deep")
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["command"] == "verify"
    weights = folder / "pytorch_model.bin"
    flip_byte(weights, storage_offset(weights) + 7)
    proc = run_cli("verify", str(folder))
    assert proc.returncode == 1 and "WL172" in proc.stdout
    assert "compared with: zip CRCs (" in proc.stdout


def test_verify_and_lock_import_neither_torch_nor_transformers(
        copy_of: Callable[[Path], Path], bin_model: Path) -> None:
    folder = copy_of(bin_model)
    script = (
        "import sys, whyload.integrity as i\n"
        f"i.lock({str(folder)!r}); r = i.verify({str(folder)!r}, deep=True)\n"
        "print([m for m in ('torch', 'transformers', 'safetensors') if m in sys.modules])\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("read_ahead", [False, True])
def test_one_pass_digests_match_hashlib_and_zipfile(read_ahead: bool, bin_model: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "CHUNK_BYTES", 1009)  # many chunks, members straddling them
    weights = bin_model / "pytorch_model.bin"
    digest = hashing.hash_file(hashing.HashRequest("w", weights, git_sha1=True, zip_crcs=True),
                               read_ahead=read_ahead)
    assert digest.sha256 == sha256_of(weights) and digest.git_sha1 == git_blob_sha1(weights)
    assert digest.size == weights.stat().st_size and digest.crc_mismatches == ()
    with zipfile.ZipFile(weights) as zf:
        stored = {i.filename for i in zf.infolist() if i.compress_type == zipfile.ZIP_STORED}
    assert digest.zip is not None and {s.name for s in digest.zip.spans} == stored
    stop = threading.Event()
    stop.set()
    stopped = hashing.hash_file(hashing.HashRequest("w", weights), stop=stop,
                                read_ahead=read_ahead)
    assert stopped.interrupted and stopped.sha256 is None


def test_git_checkout_with_its_lfs_store(copy_of: Callable[[Path], Path],
                                         safetensors_model: Path) -> None:
    repo = copy_of(safetensors_model)
    weights = repo / "model.safetensors"
    oid = sha256_of(weights)
    store = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4]
    store.mkdir(parents=True)
    shutil.copy(weights, store / oid)
    report = integrity.verify(str(repo))
    assert report.findings == ()
    files = {f["name"]: f for f in report.facts["files"]}
    assert files["model.safetensors"]["references"] == ["git-lfs"]
    flip_byte(weights, tensor_data_offset(weights) + 11)
    f = only(integrity.verify(str(repo)), "WL170")
    assert f.evidence["expected"] == oid and f.evidence["source"] == "git-lfs"
    assert f.fix.startswith(f"git -C {repo.resolve()} checkout -- model.safetensors")


def test_fix_uses_the_older_cli_when_only_it_is_installed(
        hf_cache: Path, safetensors_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from whyload.integrity import fixes

    class Script:
        def __init__(self, name: str) -> None:
            self.name = name

    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [Script("huggingface-cli")])
    fixes.hub_cli.cache_clear()
    try:
        snapshot = cache_repo(hf_cache, safetensors_model)
        blob = (snapshot / "model.safetensors").resolve()
        flip_byte(blob, tensor_data_offset(blob))
        f = only(integrity.verify(REPO_ID), "WL170")
        assert f.fix.startswith(f"huggingface-cli download {REPO_ID} model.safetensors")
    finally:
        fixes.hub_cli.cache_clear()


def _zip_member(path: Path, suffix: str) -> zipfile.ZipInfo:
    with zipfile.ZipFile(path) as z:
        return next(i for i in z.infolist() if i.filename.endswith(suffix))


def test_a_member_header_that_is_not_there_is_damage(copy_of: Callable[[Path], Path],
                                                      bin_model: Path) -> None:
    """check reads the directory and data.pkl, both intact; torch.load fails on the member."""
    import torch

    folder = copy_of(bin_model)
    weights = folder / "pytorch_model.bin"
    member = _zip_member(weights, "/data/3")
    with weights.open("r+b") as f:
        f.seek(member.header_offset)
        f.write(b"\0\0\0\0")
    with pytest.raises(RuntimeError, match="invalid header or archive is corrupted"):
        torch.load(weights, weights_only=True)
    report = integrity.verify(str(folder))
    finding = only(report, "WL184")
    assert finding.severity is Severity.ERROR and finding.effect is Effect.RAISES
    assert finding.evidence["member"] == member.filename and "damaged" in finding.title


def test_a_cut_zip_is_named_once_by_check_s_code(copy_of: Callable[[Path], Path],
                                                  bin_model: Path) -> None:
    folder = copy_of(bin_model)
    weights = folder / "pytorch_model.bin"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 200])  # the zip directory is gone
    report = integrity.verify(str(folder))
    assert only(report, "WL130").severity is Severity.ERROR
    assert "WL184" not in codes(report)
