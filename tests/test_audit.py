"""`whyload audit`: a fleet of real checkpoints (tiny models saved by transformers, replicated with
hard links), healthy and broken, checked on Dask: every row must say what `whyload check` says
for its target, on a local cluster and through a scheduler and workers started here; a worker
killed, a target that hangs, an interrupted audit resumed, and nothing written into the fleet."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import run_cli
from test_integrity import COMMIT, cache_repo, flip_byte, tensor_data_offset

import whyload
from whyload.audit.cache import ResultCache, target_key
from whyload.audit.discovery import RemoteLister, Target, discover
from whyload.audit.run import (
    Audit,
    AuditOptions,
    Outcome,
    check_batch,
    check_target,
    start_cluster,
)
from whyload.errors import MissingExtra, TargetError

ROOT = Path(__file__).resolve().parent.parent
REPORT_SCHEMA = json.loads((ROOT / "src" / "whyload" / "schemas" / "report.schema.json")
                           .read_text())
SARIF_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json")
                          .read_text())
LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 1234\n"
REPO = "acme/tiny-bert"
OTHER_COMMIT = "d00d" + "0" * 36
LOOSE_COMMIT = "beef" + "0" * 36
ML_LIBRARIES = ("torch", "transformers", "safetensors")


# --- the fleet ------------------------------------------------------------------------------------


def linked_copy(src: Path, dst: Path) -> Path:
    """A copy made of hard links: no bytes written, the same inode as the fixture."""
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def replace_file(path: Path, data: bytes) -> None:
    """Write a file of a linked copy without writing through the link into the fixture."""
    path.unlink()
    path.write_bytes(data)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, safetensors_model: Path, bin_model: Path,
          sharded_model: Path) -> Path:
    """Healthy and broken models in team folders, a Trainer output with a checkpoint, a
    sentence-transformers pooling folder and notes (no targets), and an HF cache with two refs
    and a snapshot no ref names."""
    root = tmp_path_factory.mktemp("fleet")
    for i in range(4):
        linked_copy(safetensors_model, root / "team-a" / f"bert-{i}")
    linked_copy(bin_model, root / "team-a" / "bert-bin")
    linked_copy(sharded_model, root / "team-a" / "bert-sharded")
    run = linked_copy(safetensors_model, root / "team-b" / "run-7")
    linked_copy(safetensors_model, run / "checkpoint-500")
    (run / "checkpoint-500" / "optimizer.pt").write_bytes(b"PK\x03\x04" + b"\0" * 60)
    (run / "1_Pooling").mkdir()
    (run / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}\n')
    lfs = linked_copy(safetensors_model, root / "team-b" / "lfs-pointer")
    replace_file(lfs / "model.safetensors", LFS.encode())
    cut = linked_copy(safetensors_model, root / "team-b" / "truncated")
    weights = (cut / "model.safetensors").read_bytes()
    replace_file(cut / "model.safetensors", weights[: len(weights) // 2])
    vocab = linked_copy(safetensors_model, root / "team-b" / "vocab-edited")
    config = json.loads((vocab / "config.json").read_text())
    replace_file(vocab / "config.json", json.dumps({**config, "vocab_size": 120}).encode())
    bare = root / "team-b" / "weights-missing"
    bare.mkdir()
    shutil.copy(safetensors_model / "config.json", bare)
    (root / "notes").mkdir()
    (root / "notes" / "README.md").write_text("# our models\n")
    hub = root / "hub"
    snapshot = cache_repo(hub, safetensors_model, REPO)
    repo = snapshot.parent.parent
    (repo / "refs" / "v1").write_text(OTHER_COMMIT)
    for commit in (OTHER_COMMIT, LOOSE_COMMIT):
        shutil.copytree(snapshot, repo / "snapshots" / commit, symlinks=True)
    return root


EXPECTED_TARGETS = {
    "team-a/bert-0", "team-a/bert-1", "team-a/bert-2", "team-a/bert-3", "team-a/bert-bin",
    "team-a/bert-sharded", "team-b/run-7", "team-b/run-7/checkpoint-500", "team-b/lfs-pointer",
    "team-b/truncated", "team-b/vocab-edited", "team-b/weights-missing",
}
EXPECTED_REVISIONS = {"main", "v1", LOOSE_COMMIT}


def local_name(target: Target, fleet: Path) -> str:
    return os.path.relpath(target.target, fleet) if target.cache_dir is None else \
        f"{target.target}@{target.revision}"


def what_check_says(target: Target, monkeypatch: pytest.MonkeyPatch) -> tuple[str, set[str]]:
    """The verdict and codes of `whyload check` on the target (a cached one looked up in the
    cache it was found in, as HF_HUB_CACHE would make check find it); TargetError: exit 2."""
    if target.cache_dir is not None:
        import huggingface_hub.constants as constants

        monkeypatch.setenv("HF_HUB_CACHE", target.cache_dir)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", target.cache_dir)
    try:
        report = whyload.check(target.target, revision=target.revision)
    except TargetError:
        return "exit 2", {"WL590"}
    return report.verdict.value, set(report.codes())


def what_audit_says(row: dict[str, Any]) -> tuple[str, set[str]]:
    codes = {f["code"] for f in row["findings"]}
    return ("exit 2" if "WL590" in codes else row["verdict"]), codes


def tree_state(root: Path) -> list[tuple[str, int, int]]:
    """Every path under root with its size and mtime: what must not change."""
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns)
                  for p in root.rglob("*"))


# --- discovery ------------------------------------------------------------------------------------


def test_discovery_finds_each_model_folder_and_each_cached_revision(fleet: Path) -> None:
    found = list(discover([str(fleet)]))
    folders = {local_name(t, fleet) for t in found if t.cache_dir is None}
    assert folders == EXPECTED_TARGETS  # not 1_Pooling/, notes/, the hub's blobs
    cached = [t for t in found if t.cache_dir is not None]
    assert {t.revision for t in cached} == EXPECTED_REVISIONS
    assert {t.target for t in cached} == {REPO}
    assert {t.cache_dir for t in cached} == {str(fleet / "hub")}


def test_discovery_reads_a_list_and_passes_other_targets_as_given(
        fleet: Path, tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# ours\n{fleet / 'team-a' / 'bert-0'}\n\nacme/not-cached\n"
                       "hf://acme/tiny-bert\n")
    found = [t.target for t in discover([str(listing), str(listing)])]
    assert found == [str(fleet / "team-a" / "bert-0"), "acme/not-cached", "hf://acme/tiny-bert"]
    weights = fleet / "team-a" / "bert-1" / "model.safetensors"
    assert [t.target for t in discover([str(weights)])] == [str(weights)]


def test_a_hub_author_is_listed_by_the_hub_client() -> None:
    lister = RemoteLister(list_models=lambda author: [f"{author}/b", f"{author}/a"])
    assert [t.target for t in discover(["hf://acme"], lister=lister)] == \
        ["hf://acme/a", "hf://acme/b"]


def test_a_bucket_prefix_is_listed_and_each_model_checked_as_check_would(
        safetensors_model: Path, tmp_path: Path) -> None:
    """moto's S3 server holds a bucket with a healthy model, a truncated one and notes: each
    model folder is a target, read by ranges with the audit's storage options, and its row says
    what `whyload check` says of the same folder on disk."""
    moto_server = pytest.importorskip("moto.server")
    truncated = linked_copy(safetensors_model, tmp_path / "truncated")
    weights = (safetensors_model / "model.safetensors").read_bytes()
    replace_file(truncated / "model.safetensors", weights[: len(weights) // 2])
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {"key": "test", "secret": "test",
                   "client_kwargs": {"endpoint_url": f"http://{host}:{port}",
                                     "region_name": "us-east-1"}}
        import boto3

        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="models")
        for name, folder in (("a", safetensors_model), ("b", truncated)):
            for file in folder.iterdir():
                s3.put_object(Bucket="models", Key=f"team/{name}/{file.name}",
                              Body=file.read_bytes())
        s3.put_object(Bucket="models", Key="team/notes/README.md", Body=b"#")
        targets = list(discover(["s3://models/team/"],
                                lister=RemoteLister(storage_options=options)))
        assert [t.target for t in targets] == ["s3://models/team/a", "s3://models/team/b"]
        rows = [check_target(t, AuditOptions()) for t in targets]
    finally:
        server.stop()
    for row, folder in zip(rows, (safetensors_model, truncated), strict=True):
        jsonschema.validate(row, REPORT_SCHEMA)
        local = whyload.check(str(folder))
        assert (row["verdict"], {f["code"] for f in row["findings"]}) == \
            (local.verdict.value, set(local.codes()))
        assert row["resolved"]["how"] == "remote" and row["facts"]["remote"]["bytes_read"] > 0
    assert "WL120" in {f["code"] for f in rows[1]["findings"]}


# --- a local cluster ------------------------------------------------------------------------------


def test_local_audit_agrees_with_check_on_every_target(
        fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_state(fleet)
    out, page = tmp_path / "rows.jsonl", tmp_path / "report.html"
    done = run_cli("audit", str(fleet), "missing/nowhere", "--out", str(out), "--html", str(page),
                   "--cache", str(tmp_path / "cache"), "--workers", "2", timeout=240)
    assert done.returncode == 1, done.stderr  # some targets fail
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    targets = list(discover([str(fleet), "missing/nowhere"]))
    assert len(rows) == len(targets) == len(EXPECTED_TARGETS) + len(EXPECTED_REVISIONS) + 1
    by_target = {(r["target"], r["resolved"].get("revision")): r for r in rows}
    for target in targets:
        row = by_target[(target.target, target.revision)]
        jsonschema.validate(row, REPORT_SCHEMA)
        assert what_audit_says(row) == what_check_says(target, monkeypatch), target.label
        if target.cache_dir is None and "://" not in target.target and \
                Path(target.target).exists():
            assert row["resolved"]["path"] == str(Path(target.target).resolve())
    verdicts = {os.path.relpath(r["target"], fleet): r["verdict"] for r in rows
                if r["target"].startswith(str(fleet))}
    assert verdicts["team-a/bert-0"] == "loads" and verdicts["team-b/lfs-pointer"] == "fails"
    assert "audited 16 targets" in done.stdout and "look at these first:" in done.stdout
    assert "missing/nowhere" in done.stdout  # its WL590 row is listed to look at
    assert tree_state(fleet) == before  # nothing written into the audited folders
    html = page.read_text()
    assert "<script src" not in html and "http://" not in html.split("<script")[0]
    embedded = json.loads(html.split('id="data">')[1].split("</script>")[0])
    assert [r["target"] for r in embedded["rows"]] == [
        f"{r['target']}@{r['resolved']['revision']}" if r["resolved"].get("how") == "hub-cache"
        else r["target"] for r in rows]


def _ml_libraries_imported() -> list[str]:
    return [m for m in ML_LIBRARIES if m in sys.modules]


def _interrupt_handler() -> int:
    return int(signal.getsignal(signal.SIGINT))  # type: ignore[arg-type]


def test_check_does_not_import_dask(safetensors_model: Path) -> None:
    script = ("import sys, whyload.cli\ncode = whyload.cli.run(['check', sys.argv[1]])\n"
              "print([m for m in ('dask', 'distributed') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", script, str(safetensors_model)],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr


def test_without_the_fleet_extra_audit_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    from whyload.audit.run import require_dask

    with pytest.raises(MissingExtra) as raised:
        require_dask()
    assert raised.value.hint == "pip install 'whyload[fleet]'"
    assert "distributed" in raised.value.message


# --- faults ---------------------------------------------------------------------------------------


def dies_on_poison(targets: Sequence[Target], options: AuditOptions) -> list[Outcome]:
    """A worker's task that kills its own process when it meets a target named poison (a
    segfault in a native library, the OOM killer), and checks the others as audit does."""
    if any(t.target.endswith("poison") for t in targets):
        os.kill(os.getpid(), signal.SIGKILL)
    return check_batch(targets, options)


def hangs_on_stall(targets: Sequence[Target], options: AuditOptions) -> list[Outcome]:
    """check_batch, where a target named stall waits forever (a stalled network file system)."""
    import whyload.audit.run as run

    real = run.check_target

    def stalling(target: Target, opts: AuditOptions) -> dict[str, Any]:
        if target.target.endswith("stall"):
            time.sleep(3600)
        return real(target, opts)

    run.check_target = stalling
    try:
        return check_batch(targets, options)
    finally:
        run.check_target = real


def test_a_killed_worker_becomes_a_row_and_the_audit_goes_on_without_torch(
        fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    poison = linked_copy(fleet / "team-a" / "bert-0", tmp_path / "poison")
    targets = [*discover([str(fleet / "team-a")]), Target(str(poison))]
    cluster = start_cluster(workers=2)
    try:
        outcomes = list(Audit(cluster, targets, AuditOptions(), task=dies_on_poison).outcomes())
        cluster.client.wait_for_workers(2, timeout=60)  # the killed ones are back
        imported = cluster.client.run(_ml_libraries_imported)  # by the workers' checks
        interrupts = cluster.client.run(_interrupt_handler)  # workers restarted since too
    finally:
        cluster.close()
    assert imported and all(found == [] for found in imported.values())
    assert set(interrupts.values()) == {int(signal.SIG_IGN)}  # Ctrl-C is the client's to handle
    rows = {o.target.target: o.row for o in outcomes}
    assert len(outcomes) == len(targets)
    assert [f["code"] for f in rows[str(poison)]["findings"]] == ["WL593"]
    assert rows[str(poison)]["verdict"] == "unknown"
    for target in targets[:-1]:
        assert what_audit_says(rows[target.target]) == what_check_says(target, monkeypatch)


def test_a_hanging_target_times_out_and_its_worker_is_replaced(fleet: Path,
                                                                tmp_path: Path) -> None:
    stall = linked_copy(fleet / "team-a" / "bert-0", tmp_path / "stall")
    targets = [Target(str(stall)), *discover([str(fleet / "team-a")])]
    cluster = start_cluster(workers=2)
    t0 = time.monotonic()
    try:
        outcomes = list(Audit(cluster, targets, AuditOptions(timeout=3),
                              task=hangs_on_stall).outcomes())
        elapsed = time.monotonic() - t0
        restarted = list(cluster.restarts)
    finally:
        cluster.close()
    rows = {o.target.target: o for o in outcomes}
    stalled = rows[str(stall)]
    assert [f["code"] for f in stalled.row["findings"]] == ["WL592"]
    assert stalled.row["findings"][0]["evidence"]["timeout_s"] == 3
    assert stalled.stuck_worker in restarted
    assert {o.verdict for t, o in rows.items() if t != str(stall)} == {"loads"}
    assert elapsed < 60


def test_an_interrupted_audit_resumes_and_a_rerun_rechecks_only_what_changed(
        safetensors_model: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    for i in range(300):
        linked_copy(safetensors_model, big / f"m{i:03d}")
    out, cache = tmp_path / "rows.jsonl", tmp_path / "cache"
    command = [sys.executable, "-m", "whyload", "audit", str(big), "--out", str(out),
               "--cache", str(cache), "--workers", "2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 20:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]  # whole lines only
    assert 20 <= len(written) < 300 and {r["verdict"] for r in written} == {"loads"}

    resumed = run_cli(*command[3:], timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    from_cache = int(resumed.stdout.split(" from the cache")[0].rsplit("(", 1)[1])
    assert len(written) <= from_cache < 300
    assert len(out.read_text().splitlines()) == 300

    replace_file(big / "m007" / "model.safetensors", LFS.encode())  # one target changes
    again = run_cli(*command[3:], timeout=240)
    assert "(299 from the cache)" in again.stdout
    rows = {r["target"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows[str(big / "m007")]["verdict"] == "fails"


def test_the_cache_key_follows_what_the_check_reads(fleet: Path, tmp_path: Path) -> None:
    model = linked_copy(fleet / "team-a" / "bert-0", tmp_path / "m")
    target, settings = Target(str(model)), {"options": {}, "versions": ["x"]}
    key = target_key(target, settings)
    assert key is not None and key == target_key(target, settings)
    assert key != target_key(target, {**settings, "versions": ["y"]})
    config = (model / "config.json").read_bytes()
    replace_file(model / "config.json", config)  # the same bytes, another file
    changed = target_key(target, settings)
    assert changed != key
    (model / "notes.txt").write_text("a note")
    assert target_key(target, settings) != changed
    assert target_key(Target("hf://acme/x"), settings) is None  # not on this disk: rechecked
    store = ResultCache(tmp_path / "store")
    store.put("slot", "k1", {"verdict": "loads"})
    assert store.get("slot", "k1") == {"verdict": "loads"} and store.get("slot", "k2") is None
    store.put("slot", "k2", {"verdict": "fails"})
    assert len(store) == 1  # one row per target and options
    store.close()


def test_audit_refuses_to_write_into_an_audited_folder(fleet: Path) -> None:
    inside = fleet / "team-a" / "bert-0" / "rows.jsonl"
    done = run_cli("audit", str(fleet / "team-a"), "--out", str(inside), "--no-cache")
    assert done.returncode == 2
    assert "inside" in done.stderr and "an audited folder" in done.stderr
    assert not inside.exists()


# --- a real scheduler and workers -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, as a team would run them."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(2):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1"], cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_audit_through_a_dask_scheduler_agrees_with_check(
        fleet: Path, tmp_path: Path, dask_cluster: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree_state(fleet)
    done = run_cli("audit", str(fleet), "--scheduler", dask_cluster, "--format", "json",
                   "--no-cache", timeout=240)
    assert done.returncode == 1, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    targets = list(discover([str(fleet)]))
    assert len(rows) == len(targets)
    by_target = {(r["target"], r["resolved"].get("revision")): r for r in rows}
    for target in targets:
        row = by_target[(target.target, target.revision)]
        jsonschema.validate(row, REPORT_SCHEMA)
        assert what_audit_says(row) == what_check_says(target, monkeypatch), target.label
    assert "audited 15 targets" in done.stderr  # the summary, beside the JSON lines
    assert tree_state(fleet) == before


# --- verify and SARIF -----------------------------------------------------------------------------


def test_verify_finds_a_bit_flip_check_cannot_see(
        safetensors_model: Path, tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    snapshot = cache_repo(hub, safetensors_model, REPO)
    blob = (snapshot / "model.safetensors").resolve()
    flip_byte(blob, tensor_data_offset(blob) + 5, 0x40)
    healthy = linked_copy(safetensors_model, tmp_path / "healthy")
    done = run_cli("audit", str(hub), str(healthy), "--verify", "--format", "sarif",
                   "--no-cache", "--out", str(tmp_path / "rows.jsonl"), "--workers", "2",
                   timeout=240)
    assert done.returncode == 1, done.stderr
    rows = {r["target"]: r for r in map(json.loads,
                                         (tmp_path / "rows.jsonl").read_text().splitlines())}
    flipped = rows[REPO]
    assert [f["code"] for f in flipped["findings"]] == ["WL170"]
    assert flipped["verdict"] == "loads_broken" and flipped["resolved"]["commit"] == COMMIT
    assert flipped["facts"]["verify"]["bytes"] == "damaged"
    assert whyload.check(str(snapshot)).verdict.value == "loads"  # check alone cannot see it
    assert rows[str(healthy)]["facts"]["verify"]["bytes"] == "unverified"
    sarif = json.loads(done.stdout)
    jsonschema.validate(sarif, SARIF_SCHEMA)
    results = {r["properties"]["target"]: r for r in sarif["runs"][0]["results"]}
    assert [f["code"] for f in rows[str(healthy)]["findings"]] == ["WL182"]  # nothing to compare
    assert results[str(healthy)]["ruleId"] == "WL182" and results[str(healthy)]["level"] == "note"
    result = results[REPO]
    assert result["ruleId"] == "WL170" and result["properties"]["target"] == REPO
    base = sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert (Path(base.removeprefix("file://")) / location).resolve() == blob.resolve() or \
        (Path(base.removeprefix("file://")) / location) == snapshot / "model.safetensors"


# --- the page -------------------------------------------------------------------------------------


def test_the_html_page_renders_in_headless_chromium(fleet: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from whyload.audit.summary import summarize
    from whyload.render.html import render_audit_html

    targets = list(discover([str(fleet / "team-b")]))
    rows = [check_target(t, AuditOptions()) for t in targets]
    rows.append({**rows[0], "target": "</script><script>alert(1)</script>"})
    page = tmp_path / "report.html"
    page.write_text(render_audit_html(rows, summarize(rows)))
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    dom = done.stdout
    assert dom.count('<tr class="target">') == len(rows), done.stderr[-2000:]
    assert f"{len(rows)} of {len(rows)}" in dom
    assert "alert(1)</script>" not in dom.split('id="data"')[0]
