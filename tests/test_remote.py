"""Remote targets read by ranges: the same codes and verdict as a local check of the same
folder, served by a fake Hub (tests/fake_hub.py) and moto's S3 server on 127.0.0.1; the remote's
own failures as findings or exit 2; nothing downloaded, nothing written to the HF cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import codes, edit_config, only, run_cli
from fake_hub import FakeHub

import whyload
from whyload.errors import TargetError
from whyload.report import Severity, Verdict

Copy = Callable[[Path], Path]
LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
               b"size 90868376\n")


@pytest.fixture(scope="module")
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub().start()
    yield hub
    hub.stop()


@pytest.fixture
def hub(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeHub:
    """The fake Hub as HF_ENDPOINT, with an empty HF_HOME that must stay empty."""
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    fake_hub.fail.clear()
    fake_hub.fail_once.clear()
    fake_hub.ignore_ranges = False
    fake_hub.redirect_lfs = False
    fake_hub.reset_counts()
    return fake_hub


def serve(hub: FakeHub, folder: Path, repo_id: str = "org/model", **kwargs: object) -> str:
    hub.add(repo_id, folder, **kwargs)  # type: ignore[arg-type]
    return f"hf://{repo_id}"


def same_as_local(remote: whyload.Report, local: whyload.Report) -> None:
    assert codes(remote) == codes(local)
    assert [f.severity for f in remote.findings] == [f.severity for f in local.findings]
    assert remote.verdict is local.verdict
    for key in ("format", "weights", "tensor_count", "parameter_count", "dtypes"):
        assert remote.facts.get(key) == local.facts.get(key), key


# -- the same answers as a local check ----------------------------------------------------------

def _truncated(copy_of: Copy, minilm: Path) -> Path:
    model = copy_of(minilm)
    weights = model / "model.safetensors"
    with weights.open("r+b") as fh:
        fh.truncate(weights.stat().st_size // 2)
    return model


def _lfs_pointer(copy_of: Copy, minilm: Path) -> Path:
    model = copy_of(minilm)
    (model / "model.safetensors").write_bytes(LFS_POINTER)
    return model


def _vocab_contradicts(copy_of: Copy, safetensors_model: Path) -> Path:
    model = copy_of(safetensors_model)
    edit_config(model, vocab_size=120)
    return model


def _missing_shard(copy_of: Copy, sharded_model: Path) -> Path:
    model = copy_of(sharded_model)
    index = json.loads((model / "model.safetensors.index.json").read_text())
    (model / sorted(set(index["weight_map"].values()))[-1]).unlink()
    return model


def _no_weights(copy_of: Copy, safetensors_model: Path) -> Path:
    model = copy_of(safetensors_model)
    (model / "model.safetensors").unlink()
    return model


def _error_page(copy_of: Copy, bin_model: Path) -> Path:
    model = copy_of(bin_model)
    (model / "pytorch_model.bin").write_bytes(b"<!DOCTYPE html><html><body>Access denied"
                                              b"</body></html>\n" * 4)
    return model


BROKEN = {"truncated": (_truncated, "minilm", "WL120"),
          "lfs-pointer": (_lfs_pointer, "minilm", "WL110"),
          "vocab-contradicts": (_vocab_contradicts, "safetensors_model", None),
          "missing-shard": (_missing_shard, "sharded_model", None),
          "no-weights": (_no_weights, "safetensors_model", "WL100"),
          "error-page": (_error_page, "bin_model", "WL111")}


@pytest.mark.parametrize("fixture", ["safetensors_model", "bin_model", "legacy_bin_model",
                                     "sharded_model", "minilm"])
def test_healthy_models_read_remotely_as_locally(hub: FakeHub, fixture: str,
                                                 request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    remote = whyload.check(serve(hub, folder, f"org/{fixture.replace('_', '-')}"))
    local = whyload.check(str(folder))
    same_as_local(remote, local)
    assert remote.verdict is Verdict.LOADS
    assert remote.resolved["how"] == "remote" and remote.resolved["store"] == "hf"
    assert "checksums" in remote.facts["remote"]["not_checked"]  # every byte: never "fine"
    facts = remote.facts["remote"]
    assert 0 < facts["bytes_read"] < 1_000_000
    served = sum(int(r[2].split("-")[1]) - int(r[2][6:].split("-")[0]) + 1
                 for r in hub.range_requests() if r[2])
    assert facts["bytes_read"] == served


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_models_give_the_same_findings(hub: FakeHub, case: str, copy_of: Copy,
                                              request: pytest.FixtureRequest) -> None:
    make, fixture, code = BROKEN[case]
    folder = make(copy_of, request.getfixturevalue(fixture))
    remote = whyload.check(serve(hub, folder, f"org/broken-{case}"))
    local = whyload.check(str(folder))
    same_as_local(remote, local)
    assert local.verdict is not Verdict.LOADS
    if code:
        assert code in codes(remote)


def test_a_listed_size_short_of_the_header_is_truncated_without_reading_the_data(
        hub: FakeHub, copy_of: Copy, minilm: Path) -> None:
    model = _truncated(copy_of, minilm)
    report = whyload.check(serve(hub, model, "org/cut"))
    f = only(report, "WL120")
    assert f.severity is Severity.ERROR
    weights = [r for r in hub.range_requests() if r[1].endswith("model.safetensors")]
    assert all(int(r[2].split("-")[1]) < 70_000 for r in weights if r[2])  # the head only


def test_minilm_costs_under_a_megabyte_and_a_few_requests(hub: FakeHub, minilm: Path) -> None:
    report = whyload.check(serve(hub, minilm, "sentence-transformers/all-MiniLM-L6-v2"))
    facts = report.facts["remote"]
    assert facts["bytes_read"] < 1_000_000
    assert facts["requests"] <= 2 * len(list(minilm.iterdir()))
    assert facts["listing_requests"] == 1
    assert (minilm / "model.safetensors").stat().st_size > 90 * facts["bytes_read"]


def test_lfs_files_redirected_to_a_cdn(hub: FakeHub, sharded_model: Path) -> None:
    """The Hub answers an LFS file's resolve URL with a 302 to its CDN; the Range goes along."""
    hub.redirect_lfs = True
    report = whyload.check(serve(hub, sharded_model, "org/cdn"))
    same_as_local(report, whyload.check(str(sharded_model)))
    assert any(r[1].startswith("/cdn/") and r[2] for r in hub.requests)


def test_revision_and_commit_are_reported(hub: FakeHub, safetensors_model: Path) -> None:
    repo = hub.add("org/revs", safetensors_model, revisions=("main", "v1.0"))
    report = whyload.check("hf://org/revs@v1.0")
    assert report.resolved["revision"] == "v1.0" and report.resolved["commit"] == repo.commit
    assert all(repo.commit in r[1] for r in hub.range_requests())


def test_a_bare_hub_id_with_remote(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/bare")
    report = whyload.check("org/bare", remote=True)
    same_as_local(report, whyload.check(str(safetensors_model)))


def test_a_hub_id_without_an_organisation(hub: FakeHub, safetensors_model: Path) -> None:
    """The Hub's first models keep their bare names (gpt2): hf://gpt2 is a repo, not an error."""
    serve(hub, safetensors_model, "tinybert")
    report = whyload.check("hf://tinybert@main")
    same_as_local(report, whyload.check(str(safetensors_model)))
    assert report.resolved["revision"] == "main"


def test_single_file_on_the_hub(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/one-file")
    report = whyload.check("hf://org/one-file/model.safetensors")
    local = whyload.check(str(safetensors_model / "model.safetensors"))
    same_as_local(report, local)
    assert report.resolved["file"] == "model.safetensors"


def test_a_remote_file_that_is_no_model_file_is_refused(hub: FakeHub,
                                                       safetensors_model: Path,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "with-notes"
    shutil.copytree(safetensors_model, folder)
    (folder / "notes.txt").write_text("training went fine\n" * 20)
    serve(hub, folder, "org/notes")
    err = _target_error("hf://org/notes/notes.txt")
    assert "is not a model file" in err.message


def test_nothing_is_written_to_the_hf_cache(hub: FakeHub, minilm: Path, tmp_path: Path) -> None:
    whyload.check(serve(hub, minilm, "org/nocache"))
    home = tmp_path / "hf-home"
    assert not home.exists() or not any(p.is_file() for p in home.rglob("*"))


def test_the_hub_scan_result_is_evidence(hub: FakeHub, bin_model: Path) -> None:
    security = {"scansDone": True, "filesWithIssues": [{
        "path": "pytorch_model.bin", "level": "unsafe",
        "pickleImportScan": {"imports": [{"module": "os", "name": "system",
                                          "safety": "dangerous"}]}}]}
    report = whyload.check(serve(hub, bin_model, "org/flagged", security=security))
    f = only(report, "WL191")
    assert f.evidence["scan"] == "unsafe" and f.evidence["named"] == ["os.system"]
    assert f.file == "pytorch_model.bin"


# -- the remote's own failures -------------------------------------------------------------------

def _target_error(target: str, **kwargs: object) -> TargetError:
    with pytest.raises(TargetError) as caught:
        whyload.check(target, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_repository_not_found(hub: FakeHub) -> None:
    err = _target_error("hf://org/does-not-exist")
    assert err.message.startswith("WL581") and "repository not found" in err.message


def test_revision_not_found(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/norev")
    err = _target_error("hf://org/norev@v9")
    assert err.message.startswith("WL581") and "revision" in err.message


def test_gated_repository_says_how_to_pass_a_token(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/gated")
    hub.fail["/api/models/org/gated"] = (403, {"X-Error-Code": "GatedRepo",
                                               "X-Error-Message": "Access to model is restricted"})
    err = _target_error("hf://org/gated")
    assert err.message.startswith("WL580") and "gated" in err.message
    assert "HF_TOKEN" in err.hint and "accept" in err.hint


def test_gated_files_stop_the_check(hub: FakeHub, safetensors_model: Path) -> None:
    """The Hub lists a gated repo's files to anyone and serves none without a token."""
    serve(hub, safetensors_model, "org/gated-files")
    hub.fail["/org/gated-files/resolve/"] = (403, {"X-Error-Code": "GatedRepo",
                                                   "X-Error-Message": "Access restricted"})
    err = _target_error("hf://org/gated-files")
    assert err.message.startswith("WL580 org/gated-files is gated")
    assert f"{hub.endpoint}/org/gated-files" in err.hint and "HF_TOKEN" in err.hint


def test_private_repository(hub: FakeHub, safetensors_model: Path) -> None:
    hub.fail["/api/models/org/private"] = (401, {"X-Error-Code": "RepoNotFound",
                                                 "X-Error-Message": "Invalid credentials"})
    err = _target_error("hf://org/private")
    assert err.message.startswith("WL580") and "HF_TOKEN" in err.hint


def test_hf_token_is_sent(hub: FakeHub, safetensors_model: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    whyload.check(serve(hub, safetensors_model, "org/token"))
    assert hub.authorizations == {"Bearer hf_test_token"}


def test_offline_mode_needs_the_network(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    err = _target_error("hf://org/anything")
    assert err.message.startswith("WL585") and not hub.requests


def test_a_long_retry_after_is_reported_not_waited_for(hub: FakeHub,
                                                       safetensors_model: Path) -> None:
    repo = hub.add("org/limited", safetensors_model)
    hub.fail[f"/org/limited/resolve/{repo.commit}/model.safetensors"] = (
        429, {"Retry-After": "3600"})
    report = whyload.check("hf://org/limited")
    found = only(report, "WL583")
    assert found.evidence["retry_after_s"] == 3600 and found.file == "model.safetensors"
    assert report.verdict is Verdict.UNKNOWN
    assert "WL160" not in codes(report)
    hub.fail["/org/limited/resolve/"] = (429, {"Retry-After": "3600"})
    err = _target_error("hf://org/limited")  # nothing could be read: exit 2
    assert err.message.startswith("WL583") and "3600" in err.message


def test_a_short_retry_after_is_honoured(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/briefly")
    hub.fail_once["/org/briefly/resolve/"] = (429, {"Retry-After": "0"})
    report = whyload.check("hf://org/briefly")
    assert report.verdict is Verdict.LOADS and "WL583" not in codes(report)
    limited = [r for r in hub.range_requests()]
    assert len(limited) == len({r[1] + str(r[2]) for r in limited}) + 1  # one asked twice


def test_a_server_without_ranges_is_stopped_not_downloaded(hub: FakeHub, minilm: Path) -> None:
    serve(hub, minilm, "org/noranges")
    hub.ignore_ranges = True
    report = whyload.check("hf://org/noranges")
    assert "WL582" in codes(report) and report.verdict is Verdict.UNKNOWN
    assert hub.bytes_sent < 30 * (1 << 20)  # not the 90 MB of the weights
    assert report.facts["remote"]["bytes_read"] < 1_000_000


def test_range_not_satisfiable(hub: FakeHub, safetensors_model: Path) -> None:
    repo = hub.add("org/416", safetensors_model)
    hub.fail[f"/org/416/resolve/{repo.commit}/model.safetensors"] = (416, {})
    report = whyload.check("hf://org/416")
    assert "WL582" in codes(report) and report.verdict is Verdict.UNKNOWN
    assert report.by_code("WL582")[0].fix.startswith("hf download org/416 --revision")


def test_timeouts(hub: FakeHub, safetensors_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import whyload.sources.hub as hub_source

    serve(hub, safetensors_model, "org/slow")
    monkeypatch.setattr(hub_source, "TIMEOUT_S", 0.3)
    hub.latency_s = 1.0
    try:
        err = _target_error("hf://org/slow")
    finally:
        hub.latency_s = 0.0
    assert err.message.startswith("WL584")


def test_cli_exit_2_and_no_traceback(hub: FakeHub) -> None:
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
    result = run_cli("check", "hf://org/not-there", env=env)
    assert result.returncode == 2
    assert "WL581" in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_cli_json_has_remote_facts(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/json")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
    result = run_cli("check", "hf://org/json", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "loads" and doc["facts"]["remote"]["bytes_read"] > 0
    assert doc["resolved"]["how"] == "remote"
    import jsonschema

    schema = (Path(whyload.__file__).parent / "schemas" / "report.schema.json").read_text()
    jsonschema.Draft202012Validator(json.loads(schema)).validate(doc)
    text = run_cli("check", "hf://org/json", env=env).stdout
    assert "loads — as far as checked; not checked remotely: checksums" in text
    assert "read remotely:" in text


def test_memory_line_is_first(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/mem")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
    result = run_cli("check", "hf://org/mem", "--dtype", "float16", "--memory", "1K", env=env)
    lines = result.stdout.splitlines()
    assert lines[1].strip().startswith("memory: will not fit: needs")
    assert "--memory is 0.0 GB" in lines[1] and "WL500" in result.stdout
    plain = run_cli("check", "hf://org/mem", env=env).stdout.splitlines()
    assert plain[1].strip().startswith("verdict:")  # not asked: no memory line


def test_an_adapter_on_the_hub_is_examined_with_its_base_there(hub: FakeHub, tmp_path: Path,
                                                               safetensors_model: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "base_model_name_or_path": "org/adapter-base",
        "target_modules": ["query", "value"], "r": 4, "lora_alpha": 8,
        "task_type": "SEQ_CLS"}))
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight":
               np.zeros((4, 32), dtype=np.float32)}, str(adapter / "adapter_model.safetensors"))
    serve(hub, safetensors_model, "org/adapter-base")
    report = whyload.check(serve(hub, adapter, "org/adapter"))
    assert "WL460" not in codes(report)  # the base is found where peft finds it: on the Hub
    assert any("/org/adapter-base/resolve/" in r[1] for r in hub.requests)


def test_any_fsspec_url(safetensors_model: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in safetensors_model.iterdir():
        fs.pipe(f"/models/tiny/{path.name}", path.read_bytes())
    report = whyload.check("memory://models/tiny")
    same_as_local(report, whyload.check(str(safetensors_model)))
    assert report.resolved["store"] == "memory"


# -- https:// and s3:// --------------------------------------------------------------------------

def test_a_single_file_over_http(hub: FakeHub, safetensors_model: Path) -> None:
    repo = hub.add("org/http", safetensors_model)
    url = f"{hub.endpoint}/org/http/resolve/{repo.commit}/model.safetensors"
    report = whyload.check(url)
    local = whyload.check(str(safetensors_model / "model.safetensors"))
    assert codes(report) == [c for c in codes(local) if c != "WL300"] or \
        codes(report) == codes(local)
    assert report.facts["tensor_count"] == local.facts["tensor_count"]
    assert report.resolved["store"] == "http"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, str], str]:
    import boto3

    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_server)
    buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if "models" not in buckets:
        client.create_bucket(Bucket="models")

    def upload(folder: Path, prefix: str) -> str:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                client.upload_file(str(path), "models",
                                   f"{prefix}/{path.relative_to(folder).as_posix()}")
        return f"s3://models/{prefix}/"

    return upload


@pytest.mark.parametrize("fixture", ["safetensors_model", "sharded_model", "bin_model"])
def test_s3_reads_like_a_folder(s3: Callable[[Path, str], str], s3_server: str, fixture: str,
                                request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    url = s3(folder, fixture)
    report = whyload.check(url, storage_options={"endpoint_url": s3_server})
    same_as_local(report, whyload.check(str(folder)))
    assert report.resolved["store"] == "s3"
    assert 0 < report.facts["remote"]["bytes_read"] < 1_000_000


def test_s3_broken_model(s3: Callable[[Path, str], str], s3_server: str, copy_of: Copy,
                         minilm: Path) -> None:
    folder = _truncated(copy_of, minilm)
    report = whyload.check(s3(folder, "cut-minilm"), storage_options={"endpoint_url": s3_server})
    same_as_local(report, whyload.check(str(folder)))
    assert "WL120" in codes(report)


def test_s3_prefix_not_found(s3: Callable[[Path, str], str], s3_server: str) -> None:
    err = _target_error("s3://models/nothing-here/", storage_options={"endpoint_url": s3_server})
    assert err.message.startswith("WL581")


def test_cli_storage_option(s3: Callable[[Path, str], str], s3_server: str,
                            safetensors_model: Path) -> None:
    url = s3(safetensors_model, "cli")
    result = run_cli("check", url, "--storage-option", f"endpoint_url={s3_server}",
                     "--format", "json", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "loads"


# -- a local check stays local --------------------------------------------------------------------

def test_a_local_check_imports_nothing_remote(safetensors_model: Path) -> None:
    code = ("import sys, whyload; whyload.check(sys.argv[1]); "
            "print(sorted(m for m in ('fsspec', 's3fs', 'gcsfs', 'huggingface_hub', "
            "'whyload.sources.remote') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(safetensors_model)],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- verify --against ---------------------------------------------------------------------------

def test_verify_against_the_hub_listing(hub: FakeHub, copy_of: Copy,
                                        safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/verify")
    intact = whyload.verify(str(safetensors_model), against="hf://org/verify")
    assert not intact.findings and intact.facts["bytes"] == "intact"

    damaged = copy_of(safetensors_model)
    weights = damaged / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # a flipped bit in the last tensor: safetensors loads it silently
    weights.write_bytes(bytes(data))
    (damaged / "config.json").unlink()
    report = whyload.verify(str(damaged), against="hf://org/verify")
    f = only(report, "WL170")
    assert f.file == "model.safetensors" and f.evidence["expected"] == hub.sha256(
        hub.repos["org/verify"], "model.safetensors")
    missing = only(report, "WL192")
    assert missing.file == "config.json" and missing.severity is Severity.ERROR
    assert str(damaged) in missing.fix and report.facts["bytes"] == "damaged"
    assert sum(1 for r in hub.requests if "/resolve/" in r[1]) == 0  # the listing only


def test_verify_against_cli(hub: FakeHub, safetensors_model: Path) -> None:
    serve(hub, safetensors_model, "org/verify-cli")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
    result = run_cli("verify", str(safetensors_model), "--against", "hf://org/verify-cli",
                     "--format", "json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["facts"]["bytes"] == "intact"
    result = run_cli("verify", str(safetensors_model), "--against", "hf://org/absent", env=env)
    assert result.returncode == 2 and "WL581" in result.stdout + result.stderr


# -- explain --remote: the model a log names, checked on the Hub ------------------------------

_POINTER_LOG = """\
>>> model = AutoModel.from_pretrained("org/pointer")
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
  File "/usr/lib/python3.11/site-packages/safetensors/torch.py", line 311, in load_file
    with safe_open(filename, framework="pt", device=device) as f:
safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge
"""


def test_explain_checks_the_hub_id_a_log_names_with_remote(hub: FakeHub, copy_of: Copy,
                                                           minilm: Path) -> None:
    """Not cached here: without --remote explain says how to check it; with it, the Hub's
    copy is read by its headers and check names the LFS pointer behind 'HeaderTooLarge'."""
    serve(hub, _lfs_pointer(copy_of, minilm), "org/pointer")
    local_only = whyload.explain(_POINTER_LOG)
    assert "WL110" not in local_only.codes()
    unchecked = local_only.facts["not_checked"]
    assert any(u["target"] == "org/pointer" and "--remote" in u["why"] for u in unchecked)

    report = whyload.explain(_POINTER_LOG, remote=True)
    wl110 = report.findings[0]
    assert wl110.code == "WL110" and wl110.severity is whyload.Severity.ERROR
    assert wl110.evidence["checked"] == "org/pointer"
    assert report.facts["checked"][0]["target"] == "org/pointer"
    assert not (Path(os.environ["HF_HOME"])).exists() or not any(
        Path(os.environ["HF_HOME"]).rglob("*.safetensors"))


def test_a_7z_archive_on_the_hub_is_not_shown_safe(hub: FakeHub, tmp_path: Path) -> None:
    """Unpacking a 7z needs every byte: remotely its content is 'not inspected' (WL603), never
    clean, and the fix is to check a local copy."""
    import py7zr

    folder = tmp_path / "seven"
    folder.mkdir()
    (tmp_path / "payload.bin").write_bytes(b"\x80\x02}q\x00.")
    with py7zr.SevenZipFile(folder / "weights.7z", "w") as archive:
        archive.write(tmp_path / "payload.bin", "pytorch_model.bin")
    report = whyload.check(serve(hub, folder, "org/seven"))
    finding = only(report, "WL603")
    assert finding.severity is whyload.Severity.WARNING
    assert "remotely" in json.dumps(finding.evidence) + finding.detail
    assert "pip install" not in finding.fix


def test_a_server_that_refuses_the_connection_is_unreachable_not_missing() -> None:
    """fsspec's HTTP store reports a refused connection as FileNotFoundError: whyload names the
    connection (WL584), not a missing file (WL581)."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("check", f"http://127.0.0.1:{port}/model.safetensors")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "WL584" in result.stderr and "WL581" not in result.stderr
