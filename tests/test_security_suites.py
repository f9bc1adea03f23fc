"""The other scanners' suites (tests/security_fixtures.py), run through whyload.

Each malicious fixture must be named: an error-severity finding that says it runs code (WL600,
or WL604 for a FRAME that hides opcodes), or, for those the generator marks `warning`, a
finding that stops it (never "clean"). Each benign one must give no security finding. The
fixtures marked live are first proven to run under the loader they target — plain pickle,
torch.load, np.load, each in a child process with the real library — which is also how the
leniency claims are checked: torch 2.13 reads a zip with a wrong CRC or a renamed local
header, refuses flag bits 0x1/0x20/0x40, and unpickles every pickle of a legacy file. Then
whyload's commands run over the same files and no marker may ever appear.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import security_fixtures as sf
from conftest import TINY_BERT, codes, run_cli

import whyload
from whyload.report import Severity

RUNS_CODE = ("WL600", "WL604")  # findings that say: loading this runs code
STOPS = ("WL600", "WL601", "WL602", "WL603", "WL604")
SECURITY_SELECT = ["WL6", "WL135"]
MALICIOUS = [f for f in sf.FIXTURES if f.malicious]
BENIGN = [f for f in sf.FIXTURES if not f.malicious]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return sf.write_all(tmp_path_factory.mktemp("suites"))


@pytest.fixture(scope="module")
def env() -> Any:
    from whyload.env import collect

    return collect(gpus=False)


def test_the_suites_are_all_there() -> None:
    suites = {f.suite for f in MALICIOUS}
    assert {"picklescan", "fickling", "modelaudit", "jfrog", "sonatype", "hide-and-seek",
            "wrapping"} <= suites
    assert len(MALICIOUS) >= 200 and len(BENIGN) >= 25
    assert len({f.name for f in sf.FIXTURES}) == len(sf.FIXTURES)
    ghsa = {f.source for f in MALICIOUS if f.source.startswith("GHSA")}
    assert len(ghsa) >= 45


@pytest.mark.parametrize("fx", MALICIOUS, ids=lambda f: f.name)
def test_malicious_fixture_is_named(fx: sf.Fixture, suite: dict[str, dict[str, Any]],
                                    env: Any) -> None:
    entry = suite[fx.name]
    report = whyload.check(entry["file"], select=SECURITY_SELECT, environment=env)
    found = [(f.code, f.severity) for f in report.findings]
    if fx.flag == "error":
        assert any(c in RUNS_CODE and s is Severity.ERROR for c, s in found), found
    else:
        assert any(c in STOPS and s >= Severity.WARNING for c, s in found), found
    assert not Path(entry["marker"]).exists()


@pytest.mark.parametrize("fx", BENIGN, ids=lambda f: f.name)
def test_benign_fixture_is_clean(fx: sf.Fixture, suite: dict[str, dict[str, Any]],
                                 env: Any) -> None:
    report = whyload.check(suite[fx.name]["file"], select=SECURITY_SELECT, environment=env)
    assert not report.findings, [(f.code, f.title) for f in report.findings]


# --- the loaders, for real: what runs, and what torch refuses -----------------------------------

LOADERS = {
    "pickle": "import pickle\nwith open(path, 'rb') as f:\n    pickle.load(f)\n",
    "torch": "import torch\ntorch.load(path, weights_only=False)\n",
    "numpy": ("import numpy as np\nv = np.load(path, allow_pickle=True)\n"
              "if hasattr(v, 'files'):\n    [v[k] for k in v.files]\n"),
}
CHILD = """
import json, sys, warnings
warnings.filterwarnings("ignore")
out = {}
for path in sys.argv[1:]:
    try:
%s        out[path] = None
    except BaseException as exc:
        out[path] = f"{type(exc).__name__}: {exc}"[:300]
print(json.dumps(out))
"""


def _load_in_child(loader: str, files: list[str]) -> dict[str, str | None]:
    body = "".join(f"        {line}\n" for line in LOADERS[loader].splitlines())
    done = subprocess.run([sys.executable, "-c", CHILD % body, *files], capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("loader", list(LOADERS))
def test_live_fixtures_run_under_their_loader(loader: str, tmp_path: Path) -> None:
    """Every fixture marked live creates its marker when its loader reads it: the payloads are
    real, and the files are what torch and numpy really execute."""
    live = [f for f in sf.FIXTURES if f.live and f.runs_under == loader]
    assert live
    manifest = sf.write_all(tmp_path, live)
    _load_in_child(loader, [m["file"] for m in manifest.values()])
    ran = {name for name, m in manifest.items() if Path(m["marker"]).exists()}
    assert ran == set(manifest), sorted(set(manifest) - ran)


def test_torch_refuses_flag_bits_and_root_members(tmp_path: Path) -> None:
    """What torch.load does not read: a member with flag bits 0x1/0x20/0x40 ("unsupported
    encryption" / "unsupported feature"), a data.pkl at the zip root ("file in archive is not
    in a subdirectory"). whyload scans them anyway: other loaders read the bytes."""
    refused = [f for f in sf.FIXTURES if f.name.startswith("sonatype-CVE-2025-1945")
               or f.name == "jfrog-root-data-pkl"]
    manifest = sf.write_all(tmp_path, refused)
    errors = _load_in_child("torch", [m["file"] for m in manifest.values()])
    texts = {name: errors[m["file"]] or "" for name, m in manifest.items()}
    assert "unsupported encryption" in texts["sonatype-CVE-2025-1945-flag-0x1"]
    assert "unsupported feature" in texts["sonatype-CVE-2025-1945-flag-0x20"]
    assert "unsupported encryption" in texts["sonatype-CVE-2025-1945-flag-0x40"]
    assert "not in a subdirectory" in texts["jfrog-root-data-pkl"]
    assert not any(Path(m["marker"]).exists() for m in manifest.values())


# --- what whyload says about each leniency --------------------------------------------------


def _check(path: str | Path, env: Any) -> whyload.Report:
    return whyload.check(str(path), select=SECURITY_SELECT, environment=env)


def _one(report: whyload.Report, code: str) -> Any:
    found = report.by_code(code)
    assert len(found) == 1, codes(report)
    return found[0]


def test_damaged_zip_is_scanned_as_torch_reads_it(suite: dict[str, dict[str, Any]],
                                                  env: Any) -> None:
    for name, what in (("jfrog-CVE-2025-10156-bad-crc", "its CRC is wrong"),
                       ("sonatype-CVE-2025-1944-local-name", "the local header names it")):
        report = _check(suite[name]["file"], env)
        f = _one(report, "WL600")
        assert f.evidence["calls"][0]["call"].startswith("posix.system('touch ")
        assert any(what in d for d in f.evidence["zip_damage"])
        damage = _one(report, "WL135")
        assert damage.severity is Severity.WARNING
        assert damage.title.endswith("torch.load reads it anyway")


def test_flag_bits_are_damage_torch_refuses(suite: dict[str, dict[str, Any]], env: Any) -> None:
    report = _check(suite["sonatype-CVE-2025-1945-flag-0x1"]["file"], env)
    assert _one(report, "WL600").severity is Severity.ERROR
    damage = _one(report, "WL135")
    assert damage.title.endswith("torch.load refuses it")
    assert damage.evidence["damage"][0] == {"member": "archive/data.pkl", "torch_reads": False,
                                            "what": "general-purpose flag encrypted (0x1) set"}


@pytest.mark.parametrize("name, member", [
    ("jfrog-storage-record-pickle", "archive/data/0"),
    ("jfrog-data-txt", "archive/data.txt"),
    ("sonatype-CVE-2025-1889-hidden-extension", "archive/extra/config.txt"),
    ("jfrog-root-data-pkl", "data.pkl"),
])
def test_pickles_under_any_member_name(name: str, member: str,
                                       suite: dict[str, dict[str, Any]], env: Any) -> None:
    f = _one(_check(suite[name]["file"], env), "WL600")
    assert f.evidence["hidden_members"] == [member]


def test_every_pickle_of_a_legacy_file(suite: dict[str, dict[str, Any]], env: Any) -> None:
    f = _one(_check(suite["hide-legacy-sys-info"]["file"], env), "WL600")
    assert f.evidence["other_pickles"] == ["the preamble pickle"]
    bypass = _one(_check(suite["picklescan-pytorch-magic-bypass"]["file"], env), "WL600")
    assert {"__builtin__.eval", "posix.system"} <= set(bypass.evidence["globals"])


def test_concatenated_pickles_are_walked_to_the_end(suite: dict[str, dict[str, Any]],
                                                    env: Any) -> None:
    f = _one(_check(suite["hide-concatenated"]["file"], env), "WL600")
    assert f.evidence["other_pickles"][0].startswith("stream pickle at byte ")
    assert "a loader reads every pickle in turn" in f.detail


def test_payload_before_a_parse_error_is_reported(suite: dict[str, dict[str, Any]],
                                                  env: Any) -> None:
    f = _one(_check(suite["hide-exception-after-payload"]["file"], env), "WL600")
    assert f.evidence["calls"][0]["call"].startswith("posix.system(")
    assert "walk_stopped" in f.evidence


def test_frame_hiding_opcodes_is_an_error(suite: dict[str, dict[str, Any]], env: Any) -> None:
    f = _one(_check(suite["fickling-frame-boundary-divergence"]["file"], env), "WL604")
    assert f.severity is Severity.ERROR and "runs past the end of its FRAME" in f.title


def test_object_arrays_are_scanned(suite: dict[str, dict[str, Any]], env: Any) -> None:
    f = _one(_check(suite["wrap-npy-object-os-system"]["file"], env), "WL600")
    assert f.evidence["calls"][0]["call"].startswith("os.system(")
    g = _one(_check(suite["wrap-npz-member-os-system"]["file"], env), "WL600")
    assert g.evidence["hidden_members"] == ["arr_0.npy"]


def test_7z_is_read_with_py7zr(suite: dict[str, dict[str, Any]], env: Any) -> None:
    f = _one(_check(suite["wrap-7z-torch-zip-os-system"]["file"], env), "WL600")
    assert f.evidence["hidden_members"] == ["model/pytorch_model.bin → archive/data.pkl"] or \
        any("model/pytorch_model.bin" in m for m in f.evidence["hidden_members"])


def test_7z_without_py7zr_is_not_shown_safe(suite: dict[str, dict[str, Any]], env: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "py7zr", None)  # the whyload[archives] extra is absent
    report = _check(suite["wrap-7z-torch-zip-os-system"]["file"], env)
    f = _one(report, "WL603")
    assert f.severity is Severity.WARNING and "not inspected" in f.title
    assert "pip install whyload[archives]" in f.fix


def test_a_walk_that_cannot_finish_is_not_shown_safe(tmp_path: Path, env: Any) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s\xff.")  # an opcode that isn't one
    f = _one(_check(path, env), "WL603")
    assert "the pickle walk stopped" in f.detail


# --- the commands over the suite: no marker, ever --------------------------------------------


def _hostile_folder(root: Path, config: Path, suite: dict[str, dict[str, Any]]) -> Path:
    folder = root / "hostile-model"
    folder.mkdir()
    shutil.copy(config, folder / "config.json")
    for name, target in (("wrap-torch-zip-os-system", "pytorch_model.bin"),
                         ("wrap-legacy-torch-getattr-import", "optimizer.pt"),
                         ("jfrog-CVE-2025-10156-bad-crc", "training_args.bin"),
                         ("wrap-npy-object-methodcaller", "extra.npy"),
                         ("wrap-npz-member-uuid-command", "extra.npz"),
                         ("wrap-7z-torch-zip-subprocess-run", "weights.7z"),
                         ("hide-legacy-sys-info", "rng_state.pth")):
        shutil.copy(suite[name]["file"], folder / target)
    return folder


def test_no_command_runs_a_payload(tmp_path: Path, suite: dict[str, dict[str, Any]],
                                   safetensors_model: Path) -> None:
    folder = _hostile_folder(tmp_path, safetensors_model / "config.json", suite)
    markers = [Path(m["marker"]) for m in suite.values()]
    log = tmp_path / "failed.log"
    log.write_text(f"Traceback (most recent call last):\n  File \"train.py\", line 3\n"
                   f"OSError: Unable to load weights from pytorch checkpoint file for "
                   f"'{folder}/pytorch_model.bin' at '{folder}/pytorch_model.bin'.\n")
    runs = {
        "check": run_cli("check", str(folder), "--format", "json", timeout=120),
        "verify": run_cli("verify", str(folder), "--format", "json", timeout=120),
        "lock": run_cli("lock", str(folder), "--out", str(tmp_path / "whyload.lock"),
                        timeout=120),
        "fix": run_cli("fix", str(folder), "--out", str(tmp_path / "fixed"), "--apply",
                       "--safetensors", timeout=300),
        "explain": run_cli("explain", str(log), "--format", "json", timeout=120),
    }
    assert not [m for m in markers if m.exists()]
    explained = json.loads(runs["explain"].stdout)
    assert "WL600" in json.dumps(explained)  # explain ran check on the folder the log names
    for command, done in runs.items():
        assert "Traceback" not in done.stderr, (command, done.stderr[-2000:])
    report = json.loads(runs["check"].stdout)
    named = {(f["code"], f["file"]) for f in report["findings"] if f["code"] == "WL600"}
    assert named == {("WL600", n) for n in ("pytorch_model.bin", "optimizer.pt",
                                            "training_args.bin", "extra.npy", "extra.npz",
                                            "weights.7z", "rng_state.pth")}


# --- real checkpoints: no security finding ---------------------------------------------------


@pytest.fixture(scope="module")
def real_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the tests can save for real: transformers models of several families as .bin
    (zip and legacy), TorchScript (scripted and traced), numpy files, and a Trainer checkpoint
    written by transformers' own Trainer."""
    import torch
    import transformers
    from transformers import AutoConfig

    root = tmp_path_factory.mktemp("real")
    torch.manual_seed(0)
    families = {"bert": ("BertForSequenceClassification", TINY_BERT),
                "gpt2": ("GPT2LMHeadModel", dict(n_embd=32, n_layer=2, n_head=2,
                                                 vocab_size=99, n_positions=64,
                                                 bos_token_id=0, eos_token_id=0)),
                "llama": ("LlamaForCausalLM", dict(hidden_size=32, intermediate_size=37,
                                                   num_hidden_layers=2, num_attention_heads=2,
                                                   num_key_value_heads=1, vocab_size=99)),
                "t5": ("T5ForConditionalGeneration", dict(d_model=32, d_ff=37, num_layers=2,
                                                          num_heads=2, vocab_size=99, d_kv=8)),
                "vit": ("ViTForImageClassification", dict(hidden_size=32, num_hidden_layers=2,
                                                          num_attention_heads=2,
                                                          intermediate_size=37,
                                                          image_size=32, patch_size=8))}
    for family, (cls, config) in families.items():
        model = getattr(transformers, cls)(AutoConfig.for_model(family, **config))
        for legacy in (False, True):
            folder = root / f"{family}{'-legacy' if legacy else ''}"
            model.save_pretrained(folder)
            (folder / "model.safetensors").unlink()
            torch.save(model.state_dict(), folder / "pytorch_model.bin",
                       _use_new_zipfile_serialization=not legacy)
    _trainer_checkpoint(root / "trainer")

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) * 2

    other = root / "other"
    other.mkdir()
    torch.jit.save(torch.jit.trace(Tiny(), torch.ones(1, 3)), other / "traced.pt")
    torch.jit.save(torch.jit.script(Tiny()), other / "scripted.pt")
    np.save(other / "object-array.npy", np.array([{"a": 1}, [1, 2], "x", None, 1.5],
                                                 dtype=object))
    np.save(other / "floats.npy", np.arange(10.0))
    np.savez(other / "mixed.npz", a=np.arange(3), b=np.array(["x", 1], dtype=object))
    np.savez_compressed(other / "compressed.npz", a=np.ones((2, 2)),
                        b=np.array([{"k": (1, 2)}], dtype=object))
    return root


def _trainer_checkpoint(out: Path) -> None:
    """A checkpoint folder as transformers' Trainer._save_checkpoint writes it, with the real
    objects: the model, optimizer.pt, scheduler.pt, rng_state.pth, training_args.bin,
    trainer_state.json. (Trainer itself needs accelerate, not installed here.)"""
    import random

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**TINY_BERT))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    model(input_ids=torch.tensor([[1, 2, 3]]), labels=torch.tensor([1])).loss.backward()
    optimizer.step()
    scheduler.step()
    folder = out / "checkpoint-1"
    model.save_pretrained(folder)
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    torch.save({"python": random.getstate(), "numpy": np.random.get_state(),
                "cpu": torch.random.get_rng_state()}, folder / "rng_state.pth")
    torch.save(_training_arguments(str(out)), folder / "training_args.bin")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 1}))


def _training_arguments(output_dir: str) -> Any:
    """A TrainingArguments as Trainer pickles it: the dataclass's fields, with the enums its
    __post_init__ makes of them (which itself needs accelerate to run)."""
    import dataclasses

    from transformers import TrainingArguments
    from transformers.trainer_utils import IntervalStrategy, SchedulerType
    from transformers.training_args import OptimizerNames

    args = object.__new__(TrainingArguments)
    for f in dataclasses.fields(TrainingArguments):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else \
            f.default
        args.__dict__[f.name] = None if default is dataclasses.MISSING else default
    args.__dict__.update(output_dir=output_dir, eval_strategy=IntervalStrategy("no"),
                         save_strategy=IntervalStrategy("steps"),
                         lr_scheduler_type=SchedulerType("linear"),
                         optim=OptimizerNames("adamw_torch"))
    return args


def test_real_checkpoints_give_no_security_finding(real_checkpoints: Path, env: Any) -> None:
    folders = sorted(p for p in real_checkpoints.rglob("*") if p.is_dir() and (
        any(p.glob("*.bin")) or p.name == "other" or p.name.startswith("checkpoint-")))
    read = 0
    for folder in folders:
        report = whyload.check(str(folder), select=SECURITY_SELECT, environment=env)
        assert not report.findings, (folder.name, [(f.code, f.title) for f in
                                                   report.findings])
        read += sum(1 for f in report.facts["files"] if f["kind"] in (
            "torch-zip", "pickle", "zip", "npy"))
    trainer = next(real_checkpoints.glob("trainer/checkpoint-*"))
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"} <= {
        p.name for p in trainer.iterdir()}
    assert read >= 18


# --- the denylist: data with its sources ------------------------------------------------------

RUNS_CODE_GLOBALS = [
    "uuid._get_command_stdout", "_aix_support._read_cmd_output", "imaplib.IMAP4_stream",
    "_pyrepl.pager.pipe_pager", "doctest.debug_script", "pkgutil.resolve_name", "pydoc.locate",
    "torch.load", "torch.storage._load_from_bytes", "torch.hub.load", "torch._dynamo.eval_frame",
    "torch.jit.load", "torch.compile", "torch._inductor.codecache.compile_file",
    "logging.FileHandler", "io.FileIO", "io.open", "_io.FileIO", "socket.create_connection",
    "http.client.HTTPSConnection", "urllib.request.urlopen", "smtplib.SMTP", "marshal.loads",
    "types.FunctionType", "types.CodeType", "ctypes.CDLL", "asyncio.unix_events."
    "_UnixSubprocessTransport._start", "pathlib.os.system", "fickling.hook.remove_hook",
    "__builtin__.eval", "__builtins__.exec", "builtins.getattr", "posix.system",
]
DATA_GLOBALS = ["builtins.len", "builtins.set", "__future__.annotations",
                "torch.jit._pickle.build_intlist", "torch.jit._pickle.restore_type_tag",
                "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "uuid.UUID",
                "numpy.core.multiarray._reconstruct", "types.SimpleNamespace",
                "logging.Logger", "_codecs.encode", "__torch__.torch.nn.modules.linear.Linear"]


@pytest.mark.parametrize("name", RUNS_CODE_GLOBALS)
def test_what_runs_code_is_on_the_denylist(name: str) -> None:
    from whyload.knowledge.pickle_globals import danger, sources

    assert danger(name) is not None
    if not name.startswith(("pathlib.", "__builtins__.")):
        assert sources(name), name  # each entry says which suite or advisory reported it


@pytest.mark.parametrize("name", DATA_GLOBALS)
def test_data_globals_stay_clean(name: str) -> None:
    from whyload.knowledge.pickle_globals import danger

    assert danger(name) is None


def test_denylist_json_is_current() -> None:
    done = subprocess.run([sys.executable, "scripts/gen_pickle_denylist.py", "--check"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1],
                          env={**__import__("os").environ, "PROMPTFOO_DISABLE_TELEMETRY": "1"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_denylist_entry_has_a_source() -> None:
    from whyload.knowledge.pickle_globals import dangerous_modules, dangerous_names

    for table in (dangerous_modules(), dangerous_names()):
        for name, entry in table.items():
            assert entry["sources"] and entry["what"], name
