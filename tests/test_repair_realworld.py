"""whyload fix never launders damaged bytes: a rewrite to safetensors drops the zip CRCs and the
file's hash, so weights that `whyload verify` proves damaged are refused, not converted."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from tests.conftest import run_cli
from whyload.repair import plan
from whyload.report import Severity

REPO_ID = "acme/tiny-bert"
COMMIT = "e" * 40


def tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): ("-> " + os.readlink(p)) if p.is_symlink() else
            hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def flip_in_member(path: Path, member_suffix: str) -> None:
    """Flip one bit inside a stored member of a torch zip (its data, not the zip structure)."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:
                                                    info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + 5] ^= 0x40
    path.write_bytes(bytes(data))


def test_bin_failing_its_crc_is_not_converted(tmp_path: Path, bin_model: Path) -> None:
    source = tmp_path / "model"
    shutil.copytree(bin_model, source)
    flip_in_member(source / "pytorch_model.bin", "/data/0")
    verified = run_cli("verify", str(source), "--format", "json")
    assert '"WL172"' in verified.stdout  # verify sees it ...
    before = tree_hash(source)
    repair = plan(str(source), tmp_path / "fixed", to_safetensors=True)
    (refusal,) = repair.refusals  # ... so fix must not hide it in a clean safetensors file
    assert refusal.codes == ("WL172",) and refusal.file == "pytorch_model.bin"
    assert "rewriting them would hide the damage" in refusal.reason
    assert refusal.next_step.startswith("download pytorch_model.bin again")
    done = run_cli("fix", str(source), "--out", str(tmp_path / "fixed"), "--safetensors",
                   "--apply")
    assert done.returncode == 1 and "refused" in done.stdout and "Traceback" not in done.stderr
    assert not (tmp_path / "fixed").exists()
    assert tree_hash(source) == before


def test_damaged_cache_blob_is_not_rewritten(tmp_path: Path, safetensors_model: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A DataParallel save in the HF cache whose blob no longer hashes to its name: stripping
    the prefix would write a file with no record left to prove it wrong."""
    import huggingface_hub.constants as constants
    from safetensors.numpy import load_file, save_file

    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    model = tmp_path / "model"
    shutil.copytree(safetensors_model, model)
    tensors = load_file(str(model / "model.safetensors"))
    save_file({"module." + k: v for k, v in tensors.items()}, str(model / "model.safetensors"),
              metadata={"format": "pt"})
    repo = cache / f"models--{REPO_ID.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for f in sorted(model.iterdir()):
        data = f.read_bytes()
        name = (hashlib.sha256(data).hexdigest() if f.suffix == ".safetensors" else
                hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
        (repo / "blobs" / name).write_bytes(data)
        (snapshot / f.name).symlink_to(os.path.relpath(repo / "blobs" / name, snapshot))
    healthy = plan(REPO_ID, tmp_path / "fixed")
    assert healthy.refusals == () and healthy.before.codes() == ["WL410"]
    blob = (snapshot / "model.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0x01
    blob.write_bytes(bytes(data))
    damaged = plan(REPO_ID, tmp_path / "fixed")
    (refusal,) = damaged.refusals
    assert refusal.codes == ("WL170",)
    assert (f"hf download {REPO_ID} model.safetensors --revision {COMMIT} --force-download"
            in refusal.next_step)
    assert not damaged.applicable


def test_a_lock_of_the_broken_files_is_not_carried_into_the_repair(
        tmp_path: Path, safetensors_model: Path) -> None:
    """whyload.lock records the files before the repair: copied, it would make verify call
    the repaired config.json changed."""
    import json

    from whyload import integrity

    source = tmp_path / "model"
    shutil.copytree(safetensors_model, source)
    integrity.lock(str(source))
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    repair = plan(str(source), tmp_path / "fixed")
    assert "whyload.lock" not in repair.copies
    assert any(n.startswith("whyload.lock is not copied") for n in repair.notes)
    result = repair.apply(prove=False)
    assert not (result.out / "whyload.lock").exists()
    assert integrity.verify(str(result.out)).worst is Severity.INFO


def test_download_records_of_repaired_files_are_not_copied(tmp_path: Path,
                                                           safetensors_model: Path) -> None:
    """An `hf download --local-dir` folder: the record of config.json describes the broken
    bytes, so the repaired copy keeps only the records of the files copied unchanged."""
    import json

    from huggingface_hub._local_folder import write_download_metadata

    from whyload import integrity

    source = tmp_path / "model"
    shutil.copytree(safetensors_model, source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    for f in sorted(source.iterdir()):
        data = f.read_bytes()
        etag = (hashlib.sha256(data).hexdigest() if f.suffix == ".safetensors" else
                hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
        write_download_metadata(source, f.name, COMMIT, etag)
    result = plan(str(source), tmp_path / "fixed").apply(prove=False)
    records = result.out / ".cache" / "huggingface" / "download"
    assert (records / "model.safetensors.metadata").is_file()
    assert not (records / "config.json.metadata").exists()
    report = integrity.verify(str(result.out))
    assert report.findings == (), [f.code for f in report.findings]


@pytest.mark.parametrize(("setting", "message"), [
    ("num_attention_heads=abc", "num_attention_heads is an integer"),
    ("num_attention_heads=true", "num_attention_heads is an integer"),
    ("hidden_size=1e400", "not a finite number"),
    ("hidden_size=64", "contradicts the weights, which determine hidden_size = 32"),
])
def test_set_values_fix_must_not_write(setting: str, message: str, tmp_path: Path,
                                       safetensors_model: Path) -> None:
    """A word where a count goes, Infinity (not JSON), a size the weights contradict: each
    would be written into config.json and reported as repaired."""
    import json

    source = tmp_path / "model"
    shutil.copytree(safetensors_model, source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    done = run_cli("fix", str(source), "--out", str(tmp_path / "fixed"), "--apply",
                   "--no-load", "--set", setting)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "fixed").exists()
    ok = run_cli("fix", str(source), "--out", str(tmp_path / "fixed"), "--apply", "--no-load",
                 "--set", "num_attention_heads=4", "--set", "hidden_size=32")
    assert ok.returncode == 0 and "repaired" in ok.stdout, ok.stdout


def test_a_class_transformers_does_not_have_is_a_clear_failed_load(
        tmp_path: Path, safetensors_model: Path) -> None:
    import json

    source = tmp_path / "model"
    shutil.copytree(safetensors_model, source)
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    done = run_cli("fix", str(source), "--out", str(tmp_path / "fixed"), "--apply",
                   "--class", "NoSuchModel")
    assert done.returncode == 2  # refused before anything is written
    assert "no model class 'NoSuchModel'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "fixed").exists()
