"""verify, lock and fix on the folders users really have: HF caches as huggingface_hub lays them
out, `hf download --local-dir` folders, git clones, sentence-transformers and Trainer output,
sharded and old .bin saves, MiniLM; and the bad input they really type."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TINY_BERT, codes, only, run_cli
from whyload import integrity
from whyload.errors import TargetError, UsageError
from whyload.report import Report, Severity

REPO_ID = "acme/tiny-bert"
OLD, NEW = "1" * 40, "2" * 40
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def etag_of(path: Path) -> str:
    return sha256_of(path) if path.name.endswith(LFS_SUFFIXES) else git_blob_sha1(path)


def tree_hash(folder: Path) -> dict[str, str]:
    """Every path under folder (links as their target, files as their sha256)."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = sha256_of(path) + f" {path.stat().st_mode:o}"
        else:
            out[rel] = "dir"
    return out


def above_info(report: Report) -> list[str]:
    return [f"{f.code} {f.title}" for f in report.findings if f.severity is not Severity.INFO]


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def clean_run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = run_cli(*args, cwd=cwd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done


# --- the layouts ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def st_model(tmp_path_factory: pytest.TempPathFactory, safetensors_model: Path) -> Path:
    """A sentence-transformers folder: the transformer at the top, modules in subfolders."""
    out = tmp_path_factory.mktemp("st") / "st-model"
    shutil.copytree(safetensors_model, out)
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": TINY_BERT["hidden_size"], "pooling_mode_mean_tokens": True}))
    (out / "2_Normalize").mkdir()
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}]))
    (out / "sentence_bert_config.json").write_text('{"max_seq_length": 64}')
    (out / "config_sentence_transformers.json").write_text(
        '{"__version__": {"sentence_transformers": "3.0.1"}}')
    (out / "README.md").write_text("# tiny\n")
    return out


@pytest.fixture(scope="module")
def trainer_output(tmp_path_factory: pytest.TempPathFactory, safetensors_model: Path) -> Path:
    """What Trainer leaves: checkpoint-500/ with optimizer, scheduler, RNG state, trainer_state
    and the pickled TrainingArguments, and the final model at the top."""
    import torch
    from transformers import BertForSequenceClassification, TrainingArguments

    out = tmp_path_factory.mktemp("trainer") / "output"
    model = BertForSequenceClassification.from_pretrained(safetensors_model)
    checkpoint = out / "checkpoint-500"
    model.save_pretrained(checkpoint)
    optimizer = torch.optim.AdamW(model.parameters())
    torch.save(optimizer.state_dict(), checkpoint / "optimizer.pt")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    torch.save(scheduler.state_dict(), checkpoint / "scheduler.pt")
    torch.save({"python": (3, (1, 2), None), "cpu": torch.random.get_rng_state()},
               checkpoint / "rng_state.pth")
    (checkpoint / "trainer_state.json").write_text(json.dumps(
        {"global_step": 500, "epoch": 1.0, "log_history": [{"loss": 0.5, "step": 500}]}))
    args = object.__new__(TrainingArguments)  # the real class; __init__ wants accelerate
    args.__dict__.update(output_dir=str(out), learning_rate=5e-5, num_train_epochs=3.0)
    torch.save(args, checkpoint / "training_args.bin")
    model.save_pretrained(out)
    shutil.copy(checkpoint / "training_args.bin", out)
    (out / "all_results.json").write_text('{"train_loss": 0.5}')
    (out / "runs").mkdir()
    return out


@pytest.fixture(scope="module")
def old_bin_save(tmp_path_factory: pytest.TempPathFactory, bin_model: Path) -> Path:
    """A transformers 4.x-style save: pytorch_model.bin and a config with 4.x fields."""
    out = tmp_path_factory.mktemp("old") / "old-bin"
    shutil.copytree(bin_model, out)
    config = json.loads((out / "config.json").read_text())
    config.update(transformers_version="4.30.2", torch_dtype="float32",
                  gradient_checkpointing=False)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    return out


HEALTHY = ["safetensors_model", "bin_model", "legacy_bin_model", "sharded_model", "minilm",
           "st_model", "trainer_output", "old_bin_save"]


def cache_revisions(cache: Path, revisions: dict[str, Path], repo_id: str = REPO_ID) -> Path:
    """Lay out several revisions as huggingface_hub does: blobs under sha256 (LFS) or git blob
    sha1 (small files) shared between snapshots, relative links, refs/main at the last one,
    refs/pr/1, .no_exist for files looked up and missing. Returns the repo folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    for commit, src in revisions.items():
        snapshot = repo / "snapshots" / commit
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            blob = repo / "blobs" / etag_of(f)
            if not blob.exists():
                shutil.copy(f, blob)
            link = snapshot / f.relative_to(src)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
        missing = repo / ".no_exist" / commit
        missing.mkdir(parents=True)
        (missing / "adapter_config.json").touch()
        (missing / "model.safetensors.index.json").touch()
    (repo / "refs" / "pr").mkdir(parents=True)
    (repo / "refs" / "main").write_text(list(revisions)[-1])
    (repo / "refs" / "pr" / "1").write_text(next(iter(revisions)))
    return repo


@pytest.fixture
def cached_two_revisions(hf_cache: Path, st_model: Path, tmp_path: Path) -> Path:
    old = tmp_path / "old-revision"
    shutil.copytree(st_model, old)
    (old / "README.md").write_text("# tiny, first version\n")
    repo = cache_revisions(hf_cache, {OLD: old, NEW: st_model})
    from huggingface_hub import scan_cache_dir, try_to_load_from_cache

    assert try_to_load_from_cache(REPO_ID, "1_Pooling/config.json") == str(
        repo / "snapshots" / NEW / "1_Pooling" / "config.json")  # huggingface_hub reads it
    assert {r.commit_hash for r in next(iter(scan_cache_dir(hf_cache).repos)).revisions} == {
        OLD, NEW}
    return repo


def test_cache_with_two_revisions_by_hub_id_and_by_snapshot_path(cached_two_revisions: Path
                                                                 ) -> None:
    before = tree_hash(cached_two_revisions)
    for target in (REPO_ID, str(cached_two_revisions / "snapshots" / NEW),
                   str(cached_two_revisions / "snapshots" / OLD)):
        report = integrity.verify(target)
        assert report.findings == (), codes(report)
        files = {f["name"]: f["references"] for f in report.facts["files"]}
        assert files["model.safetensors"] == ["hf-cache"]
        assert files["1_Pooling/config.json"] == ["hf-cache"]  # subfolders too
        assert all(refs == ["hf-cache"] for refs in files.values()), files
    old = integrity.verify(REPO_ID, revision=OLD)
    assert old.findings == () and old.resolved["commit"] == OLD
    assert tree_hash(cached_two_revisions) == before


def test_damaged_blob_found_through_the_snapshot_path(cached_two_revisions: Path) -> None:
    snapshot = cached_two_revisions / "snapshots" / NEW
    flip_last_byte((snapshot / "model.safetensors").resolve())
    f = only(integrity.verify(str(snapshot)), "WL170")
    assert f.severity is Severity.ERROR and f.evidence["source"] == "hf-cache"
    assert f.fix == (f"hf download {REPO_ID} model.safetensors --revision {NEW} "
                     f"--cache-dir {cached_two_revisions.parent} --force-download")


def test_hf_local_dir_as_huggingface_hub_writes_it(tmp_path: Path, st_model: Path) -> None:
    from huggingface_hub._local_folder import read_download_metadata, write_download_metadata

    folder = tmp_path / "local"
    shutil.copytree(st_model, folder)
    names = [str(p.relative_to(folder)) for p in sorted(folder.rglob("*")) if p.is_file()]
    for name in names:
        write_download_metadata(folder, name, "c" * 40, etag_of(folder / name))
        assert read_download_metadata(folder, name) is not None  # current, to huggingface_hub
    before = tree_hash(folder)
    report = integrity.verify(str(folder))
    assert report.findings == (), codes(report)
    assert {f["name"] for f in report.facts["files"]} == set(names)
    assert all(f["references"] == ["hf-local-dir"] for f in report.facts["files"])
    assert tree_hash(folder) == before
    flip_last_byte(folder / "1_Pooling" / "config.json")
    f = only(integrity.verify(str(folder)), "WL171")
    assert f.fix.startswith("hf download <repo_id> 1_Pooling/config.json --revision " + "c" * 40)


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.email=a@b.c", "-c", "user.name=a",
                    *args], check=True, capture_output=True)


def test_git_clone_with_lfs_store_and_a_small_file_of_the_same_size(
        tmp_path: Path, safetensors_model: Path) -> None:
    """Only the files .gitattributes puts in LFS are compared with the LFS objects: a
    config.json that happens to be as long as an LFS object is not an LFS file."""
    clone = tmp_path / "clone"
    shutil.copytree(safetensors_model, clone)
    (clone / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                                          "*.bin filter=lfs diff=lfs merge=lfs -text\n")
    git(clone, "init", "-q")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "model")
    store = clone / ".git" / "lfs" / "objects"
    weights = clone / "model.safetensors"
    size = (clone / "config.json").stat().st_size
    other = b"x" * size  # an LFS object of an older revision, as long as config.json
    for data in (weights.read_bytes(), other):
        oid = hashlib.sha256(data).hexdigest()
        (store / oid[:2] / oid[2:4]).mkdir(parents=True, exist_ok=True)
        (store / oid[:2] / oid[2:4] / oid).write_bytes(data)
    before = tree_hash(clone)
    report = integrity.verify(str(clone))
    assert above_info(report) == []
    files = {f["name"]: f["references"] for f in report.facts["files"]}
    assert files["model.safetensors"] == ["git-lfs"] and files["config.json"] == []
    assert tree_hash(clone) == before
    flip_last_byte(weights)
    f = only(integrity.verify(str(clone)), "WL170")
    command = f.fix.split("  #")[0]
    subprocess.run(command, shell=True, check=True, capture_output=True)  # the fix, as given
    assert integrity.verify(str(clone)).findings == ()


@pytest.mark.parametrize("fixture", HEALTHY)
def test_healthy_layouts_verify_lock_and_fix_clean(fixture: str, request: pytest.FixtureRequest,
                                                   tmp_path: Path) -> None:
    source: Path = request.getfixturevalue(fixture)
    folder = tmp_path / "model"
    shutil.copytree(source, folder, symlinks=True)
    before = tree_hash(folder)
    report = integrity.verify(str(folder))
    assert above_info(report) == [], (fixture, codes(report))
    assert tree_hash(folder) == before
    lock = tmp_path / "model.lock"
    written = integrity.lock(str(folder), out=lock)
    assert written.facts["written"] and above_info(written) == []
    assert tree_hash(folder) == before  # --out: nothing beside the files
    again = integrity.verify(str(folder), lock=lock)
    assert again.findings == (), codes(again)
    done = clean_run("fix", str(folder), "--out", str(tmp_path / "fixed"), "--apply")
    assert done.returncode == 0 and "nothing to fix" in done.stdout, done.stdout
    assert not (tmp_path / "fixed").exists()
    assert tree_hash(folder) == before


def test_checkpoint_folder_of_a_trainer_run(trainer_output: Path) -> None:
    checkpoint = trainer_output / "checkpoint-500"
    report = integrity.verify(str(checkpoint))
    assert above_info(report) == [], codes(report)
    names = {f["name"] for f in report.facts["files"]}
    assert {"optimizer.pt", "training_args.bin", "trainer_state.json"} <= names


def test_run_folder_with_only_checkpoints_names_them(tmp_path: Path,
                                                     trainer_output: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(trainer_output / "checkpoint-500", runs / "checkpoint-500")
    for command in ("verify", "lock"):
        done = clean_run(command, str(runs))
        assert done.returncode == 2, done.stdout
        assert "no files to read" in done.stderr and "checkpoint-500" in done.stderr
    assert not (runs / "whyload.lock").exists()


# --- bad input -----------------------------------------------------------------------------


def test_empty_folder_is_not_a_healthy_model(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TargetError, match="no files to read"):
        integrity.verify(str(empty))
    for command in ("verify", "lock"):
        done = clean_run(command, str(empty))
        assert done.returncode == 2 and "no files to read" in done.stderr
    assert list(empty.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_lock_that_is_a_fifo_does_not_hang(tmp_path: Path, safetensors_model: Path) -> None:
    fifo = tmp_path / "lock.fifo"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    done = clean_run("verify", str(safetensors_model), "--lock", str(fifo))
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert time.monotonic() - t0 < 30


def test_lock_from_a_newer_whyload(copy_of: Callable[[Path], Path],
                                   safetensors_model: Path) -> None:
    folder = copy_of(safetensors_model)
    integrity.lock(str(folder))
    lock = folder / "whyload.lock"
    doc = json.loads(lock.read_text())
    doc.update(schema="whyload.lock/2", signatures=[])
    lock.write_text(json.dumps(doc))
    done = clean_run("verify", str(folder), "--lock", str(lock))
    assert done.returncode == 2 and "newer whyload" in done.stderr
    assert "pip install -U whyload" in done.stderr
    f = only(integrity.verify(str(folder)), "WL183")
    assert f.fix == "pip install -U whyload"


def test_sha256_in_the_forms_users_paste(tmp_path: Path, safetensors_model: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "my model"
    shutil.copytree(safetensors_model, folder)
    digest = sha256_of(folder / "model.safetensors")
    monkeypatch.chdir(tmp_path)
    sha256sum_line = subprocess.run(["sha256sum", "my model/model.safetensors"], check=True,
                                    capture_output=True, text=True).stdout.strip()
    for form in (sha256sum_line, f"{digest} *model.safetensors",
                 f"./model.safetensors={digest.upper()}", f"model.safetensors=sha256:{digest}",
                 f"my model/model.safetensors={digest}", f" model.safetensors = {digest} "):
        report = integrity.verify(str(folder), sha256=[form])
        files = {f["name"]: f["references"] for f in report.facts["files"]}
        assert report.findings == () and files["model.safetensors"] == ["--sha256"], form
    single = integrity.verify(str(folder / "model.safetensors"), sha256=[digest])
    assert single.findings == ()
    bad = integrity.verify(str(folder), sha256=[f"model.safetensors={'0' * 64}"])
    assert only(bad, "WL170").evidence["expected"] == "0" * 64
    for form in (digest, f"{digest[:-1]}  model.safetensors", f"other.bin={digest}"):
        with pytest.raises(UsageError):  # a bare hash for a folder of several files is ambiguous
            integrity.verify(str(folder), sha256=[form])


def test_fix_commands_quote_a_folder_with_spaces(tmp_path: Path, safetensors_model: Path) -> None:
    folder = tmp_path / "my model"
    shutil.copytree(safetensors_model, folder)
    report = integrity.verify(str(folder))
    assert only(report, "WL182").fix.startswith(f"whyload lock '{folder}'")
    integrity.lock(str(folder))
    (folder / "extra.txt").write_text("x")
    added = only(integrity.verify(str(folder)), "WL175")
    assert added.fix.startswith(f"whyload lock '{folder}' --force  #")


@pytest.mark.parametrize(("out", "message"), [
    ("", "name a new folder"), (".", "name a new folder"),
    ("/dev/null/fixed", "/dev/null is not a folder"),
    ("{file}/fixed", "is not a folder"),
])
def test_fix_out_that_cannot_be_a_folder(out: str, message: str, tmp_path: Path,
                                         safetensors_model: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(safetensors_model, broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    before = tree_hash(tmp_path)
    done = clean_run("fix", str(broken), "--out", out.format(file=a_file), "--apply",
                     cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert tree_hash(tmp_path) == before


def test_folder_names_huggingface_hub_rejects_as_hub_ids(tmp_path: Path,
                                                         safetensors_model: Path) -> None:
    """`bert--finetuned` is a fine folder name but not a valid hub id: huggingface_hub's
    validation must not turn it into an internal error."""
    shutil.copytree(safetensors_model, tmp_path / "bert--finetuned")
    done = clean_run("verify", "bert--finetuned", cwd=tmp_path)
    assert done.returncode == 0 and "read 2 of 2 files" in done.stdout, done.stderr
    done = clean_run("lock", "bert--finetuned", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "bert--finetuned" / "whyload.lock").is_file()
    done = clean_run("fix", "bert--finetuned", "--out", "fixed", cwd=tmp_path)
    assert done.returncode == 0 and "nothing to fix" in done.stdout
    for command in (["verify"], ["lock"], ["fix", "--out", "fixed"]):
        done = clean_run(command[0], "org--x/name", *command[1:], cwd=tmp_path)
        assert done.returncode == 2 and "valid hub id" in done.stderr


def test_cache_repo_folder_points_at_its_hub_id(cached_two_revisions: Path) -> None:
    done = clean_run("verify", str(cached_two_revisions))
    assert done.returncode == 2
    assert f"whyload verify {REPO_ID}" in done.stderr


def test_sentence_transformers_modules_are_locked_too(copy_of: Callable[[Path], Path],
                                                      st_model: Path) -> None:
    folder = copy_of(st_model)
    integrity.lock(str(folder))
    locked = json.loads((folder / "whyload.lock").read_text())["files"]
    assert "1_Pooling/config.json" in locked and "modules.json" in locked
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    f = only(integrity.verify(str(folder)), "WL173")
    assert f.file == "1_Pooling/config.json"


def test_lock_of_a_snapshot_path_is_not_written_into_the_cache(
        cached_two_revisions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = tree_hash(cached_two_revisions)
    snapshot = cached_two_revisions / "snapshots" / NEW
    report = integrity.lock(str(snapshot))
    assert report.facts["written"] and report.facts["lock"] == str(work / "whyload.lock")
    assert tree_hash(cached_two_revisions) == before
    target = json.loads((work / "whyload.lock").read_text())["target"]
    assert target["repo_id"] == REPO_ID and target["commit"] == NEW
    for verified in (integrity.verify(REPO_ID), integrity.verify(str(snapshot))):
        assert verified.facts["lock"] == str(work / "whyload.lock")
        assert verified.findings == (), codes(verified)


def test_deep_on_minilm_says_nothing_of_its_integer_buffer(minilm: Path) -> None:
    """embeddings.position_ids is int64: it cannot hold NaN, so it is not 'not scanned'."""
    report = integrity.verify(str(minilm), deep=True)
    assert codes(report) == ["WL182"], codes(report)
    assert report.facts["values_scanned"] > 100


def test_lfs_pointer_and_error_page_are_not_verified_weights(
        copy_of: Callable[[Path], Path], safetensors_model: Path) -> None:
    """A clone without git-lfs, a download that saved an error page: hashing them proves
    nothing, and a lock must not record them as the healthy model."""
    folder = copy_of(safetensors_model)
    weights = folder / "model.safetensors"
    oid, size = sha256_of(weights), weights.stat().st_size
    weights.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\n"
                       f"size {size}\n")
    f = only(integrity.verify(str(folder)), "WL110")
    assert f.severity is Severity.ERROR and f.fix.endswith("--include model.safetensors")
    done = clean_run("lock", str(folder))
    assert done.returncode == 1 and "WL185" in done.stdout
    assert not (folder / "whyload.lock").exists()
    weights.write_text("<!DOCTYPE html><html><head><title>429 Too Many Requests</title>")
    assert "WL111" in codes(integrity.verify(str(folder)))
