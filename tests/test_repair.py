"""whyload fix: each repair starts from a checkpoint broken the way the world breaks them (made by
real transformers/torch/safetensors), is applied into a new folder, and is proven by transformers
loading the result with outputs equal to the healthy model's. The source is hashed before and
after every repair: it never changes."""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY_BERT, edit_config, rewrite_safetensors, run_cli, save_tiny

import whyload.repair.apply as apply_module
from whyload.errors import UsageError
from whyload.repair import RepairPlan, plan
from whyload.repair.types import ApplyResult

INPUT_IDS = [[2, 17, 43, 8, 31, 5, 3]]


# --- helpers ---

def tree_hash(folder: Path) -> dict[str, str]:
    """Every file under folder (links followed) -> sha256, plus the modes: 'unchanged' means it."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        out[rel + ":mode"] = oct(path.lstat().st_mode)
    return out


def outputs(folder: Path, class_name: str = "BertForSequenceClassification") -> Any:
    """What the model in `folder` computes on a fixed input, loaded by transformers itself."""
    import torch
    import transformers

    model = getattr(transformers, class_name).from_pretrained(folder)
    model.eval()
    with torch.no_grad():
        result = model(input_ids=torch.tensor(INPUT_IDS))
    return result.logits if hasattr(result, "logits") else result.last_hidden_state


def assert_same_outputs(a: Path, b: Path, class_name: str = "BertForSequenceClassification",
                        ) -> None:
    import torch

    assert torch.allclose(outputs(a, class_name), outputs(b, class_name), atol=1e-6)


def repair(source: Path, out: Path, **options: Any) -> tuple[RepairPlan, ApplyResult]:
    """Plan and apply (without the child load: the test loads it itself), with the source
    proven untouched."""
    before = tree_hash(source)
    force = bool(options.pop("force", False))
    repair_plan = plan(str(source), out, force=force, **options)
    assert repair_plan.applicable, (repair_plan.refusals, repair_plan.unanswered)
    result = repair_plan.apply(force=force, prove=False)
    assert tree_hash(source) == before
    assert result.after.verdict.value == "loads", result.after.codes()
    return repair_plan, result


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if "whyload-" in p.name)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: a tiny BertForSequenceClassification saved by transformers."""
    return save_tiny(tmp_path_factory.mktemp("healthy") / "bert")


@pytest.fixture(scope="module")
def state_dict(healthy: Path) -> dict[str, Any]:
    import transformers

    return dict(transformers.BertForSequenceClassification.from_pretrained(healthy).state_dict())


def bin_folder(folder: Path, config_from: Path, obj: object, *, zip_format: bool = True) -> Path:
    import torch

    folder.mkdir()
    shutil.copy(config_from / "config.json", folder)
    torch.save(obj, folder / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
    (folder / "README.md").write_text("a model card fix must copy unchanged\n")
    return folder


# --- weights: prefixes, training checkpoints, conversion ---

@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "net."])
def test_wrapper_prefix_is_stripped(tmp_path: Path, healthy: Path, state_dict: dict[str, Any],
                                    prefix: str) -> None:
    """DataParallel (module.), torch.compile (_orig_mod.) and a custom wrapper (net.) save every
    name under their own attribute: every weight would load at random."""
    src = bin_folder(tmp_path / "src", healthy, {prefix + k: v for k, v in state_dict.items()})
    code = {"module.": "WL410", "_orig_mod.": "WL410", "net.": "WL412"}[prefix]
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert repair_plan.before.codes() == [code]
    (step,) = repair_plan.steps
    assert step.action == "rewrite-weights" and step.answers == (code,)
    assert step.writes == ("model.safetensors",) and step.reads == ("pytorch_model.bin",)
    assert sorted(os.listdir(result.out)) == ["README.md", "config.json", "model.safetensors"]
    assert (result.out / "README.md").read_text() == (src / "README.md").read_text()
    assert_same_outputs(result.out, healthy)


def test_prefix_on_safetensors(tmp_path: Path, healthy: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    rewrite_safetensors(src / "model.safetensors",
                        lambda t: {"_orig_mod." + k: v for k, v in t.items()})
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert repair_plan.before.codes() == ["WL410"]
    assert_same_outputs(result.out, healthy)


def test_training_checkpoint_is_unpacked(tmp_path: Path, healthy: Path,
                                         state_dict: dict[str, Any]) -> None:
    """A Lightning-style checkpoint: the weights under 'state_dict' named model.…, next to
    optimizer state and an argparse.Namespace that weights_only refuses."""
    ckpt = {"state_dict": {"model." + k: v for k, v in state_dict.items()},
            "optimizer_states": [{"lr": 0.1}], "epoch": 3,
            "hparams": argparse.Namespace(lr=0.1, batch_size=8)}
    src = bin_folder(tmp_path / "src", healthy, ckpt)
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert sorted(repair_plan.before.codes()) == ["WL210", "WL411"]
    (step,) = repair_plan.steps
    assert set(step.answers) == {"WL210", "WL411"}
    assert step.spec["nesting"] == ["state_dict"]
    assert step.spec["stand_ins"] == ["argparse.Namespace"]
    assert_same_outputs(result.out, healthy)


def test_lightning_last_ckpt(tmp_path: Path, healthy: Path, state_dict: dict[str, Any]) -> None:
    """Lightning's own file name: from_pretrained sees no weights at all (WL105)."""
    ckpt = {"state_dict": {"model." + k: v for k, v in state_dict.items()}, "epoch": 1,
            "hyper_parameters": argparse.Namespace(lr=0.1)}
    src = bin_folder(tmp_path / "src", healthy, ckpt)
    (src / "pytorch_model.bin").rename(src / "last.ckpt")
    repair_plan, result = repair(src, tmp_path / "fixed")
    (step,) = repair_plan.steps
    assert set(step.answers) == {"WL105", "WL210"} and step.reads == ("last.ckpt",)
    assert sorted(os.listdir(result.out)) == ["README.md", "config.json", "model.safetensors"]
    assert_same_outputs(result.out, healthy)


def test_bin_with_tied_weights_to_safetensors(tmp_path: Path) -> None:
    """BertForMaskedLM's decoder shares storage with the word embeddings: safetensors refuses
    shared tensors, so the converted file must hold its own copy."""
    import transformers

    ref = save_tiny(tmp_path / "ref", "BertForMaskedLM")
    model = transformers.BertForMaskedLM.from_pretrained(ref)
    sd = model.state_dict()
    assert sd["cls.predictions.decoder.weight"].data_ptr() == \
        sd["bert.embeddings.word_embeddings.weight"].data_ptr()
    src = bin_folder(tmp_path / "src", ref, sd)
    assert plan(str(src), tmp_path / "unasked").nothing_to_fix  # a healthy .bin loads as it is
    repair_plan, result = repair(src, tmp_path / "fixed", to_safetensors=True)
    assert repair_plan.steps[0].why == "convert to safetensors (asked with --safetensors)"
    assert_same_outputs(result.out, ref, "BertForMaskedLM")


def test_legacy_serialization_and_legacy_names(tmp_path: Path, healthy: Path,
                                               state_dict: dict[str, Any]) -> None:
    """A torch < 1.6 file with TF-era LayerNorm.gamma/beta names: transformers 5 still renames
    those on load (no finding), and a conversion writes the current names."""
    legacy = {k.replace("LayerNorm.weight", "LayerNorm.gamma")
               .replace("LayerNorm.bias", "LayerNorm.beta"): v for k, v in state_dict.items()}
    src = bin_folder(tmp_path / "src", healthy, legacy, zip_format=False)
    _, result = repair(src, tmp_path / "fixed", to_safetensors=True)
    from safetensors import safe_open

    with safe_open(str(result.out / "model.safetensors"), "np") as f:
        names = list(f.keys())
    assert not any("gamma" in n or "beta" in n for n in names)
    assert_same_outputs(result.out, healthy)


def test_reshard_on_request(tmp_path: Path, healthy: Path) -> None:
    repair_plan, result = repair(healthy, tmp_path / "fixed", max_shard_bytes=30_000)
    shards = sorted(n for n in os.listdir(result.out) if n.endswith(".safetensors"))
    assert len(shards) == 3 and shards[0] == "model-00001-of-00003.safetensors"
    assert set(repair_plan.steps[0].writes) == {*shards, "model.safetensors.index.json"}
    assert_same_outputs(result.out, healthy)


# --- config ---

@pytest.mark.parametrize(("change", "code", "field"), [
    ({"vocab_size": 120}, "WL310", "vocab_size"),
    ({"num_hidden_layers": 1}, "WL311", "num_hidden_layers"),
    ({"num_hidden_layers": 4}, "WL312", "num_hidden_layers"),
    ({"intermediate_size": 64}, "WL310", "intermediate_size"),
])
def test_config_rewritten_from_the_weights(tmp_path: Path, healthy: Path,
                                           change: dict[str, int], code: str,
                                           field: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    edit_config(src, **change)
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert code in repair_plan.before.codes()
    (step,) = repair_plan.steps
    assert step.action == "write-config" and code in step.answers
    config = json.loads((result.out / "config.json").read_text())
    assert config[field] == TINY_BERT[field]
    assert config["_whyload_inferred"][field].startswith("from the weights")
    assert_same_outputs(result.out, healthy)


def test_vocab_of_a_non_bert_model(tmp_path: Path) -> None:
    """WL310 from the generated GPT-2 spec (WL313 for a type without one): the embedding matrix
    says the vocab_size."""
    src = save_tiny(tmp_path / "src", "GPT2LMHeadModel", model_type="gpt2", n_layer=1,
                    n_embd=16, n_head=2, vocab_size=50, n_positions=32, bos_token_id=0,
                    eos_token_id=0)
    ref = tmp_path / "ref"
    shutil.copytree(src, ref)
    edit_config(src, vocab_size=64)
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert [f.code for f in repair_plan.before.findings if f.severity.label == "error"] == \
        ["WL310"]
    assert json.loads((result.out / "config.json").read_text())["vocab_size"] == 50
    assert_same_outputs(result.out, ref, "GPT2LMHeadModel")


def test_missing_config_needs_the_head_count(tmp_path: Path, healthy: Path) -> None:
    """num_attention_heads is in no tensor's shape: with hidden 32 the documented default (12)
    cannot be it, so fix refuses to make one up, and writes it once it is given."""
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    (src / "config.json").unlink()
    refused = plan(str(src), tmp_path / "fixed")
    assert not refused.applicable
    (refusal,) = refused.refusals
    assert refusal.codes == ("WL300",) and "--set num_attention_heads" in refusal.next_step
    _, result = repair(src, tmp_path / "fixed", overrides={"num_attention_heads": 2})
    config = json.loads((result.out / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["num_labels"] == 3 and config["vocab_size"] == 99
    assert config["_whyload_inferred"]["num_attention_heads"] == "given with --set"
    assert_same_outputs(result.out, healthy)


def test_missing_config_of_minilm_from_documented_defaults(tmp_path: Path, minilm: Path) -> None:
    """The real all-MiniLM-L6-v2 without its config.json: sizes from the weights, the head count
    from BertConfig's documented default (12, which is MiniLM's), marked as such."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(minilm / "model.safetensors", src)
    repair_plan, result = repair(src, tmp_path / "fixed")
    (step,) = repair_plan.steps
    assert step.answers == ("WL300",) and any("documented default" in n for n in step.notes)
    config = json.loads((result.out / "config.json").read_text())
    assert config["hidden_size"] == 384 and config["num_hidden_layers"] == 6
    assert "documented default" in config["_whyload_inferred"]["num_attention_heads"]
    assert_same_outputs(result.out, minilm, "BertModel")


def test_bert_config_json_becomes_config_json(tmp_path: Path, healthy: Path) -> None:
    """An original Google release: bert_config.json, without model_type."""
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    config = json.loads((src / "config.json").read_text())
    config.pop("model_type")
    (src / "bert_config.json").write_text(json.dumps(config))
    (src / "config.json").unlink()
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert repair_plan.steps[0].answers == ("WL302",)
    assert json.loads((result.out / "config.json").read_text())["model_type"] == "bert"
    assert (result.out / "bert_config.json").read_bytes() == (src / "bert_config.json").read_bytes()
    assert_same_outputs(result.out, healthy)


def test_no_model_type_is_added(tmp_path: Path, healthy: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    edit_config(src, model_type=None)
    repair_plan, result = repair(src, tmp_path / "fixed")
    assert repair_plan.steps[0].answers == ("WL303",)
    assert json.loads((result.out / "config.json").read_text())["model_type"] == "bert"
    assert_same_outputs(result.out, healthy)


def test_missing_config_beside_prefixed_weights_is_refused(tmp_path: Path, healthy: Path,
                                                           state_dict: dict[str, Any]) -> None:
    """Under a wrapper prefix the sizes cannot be read: a config of defaults would be made up."""
    src = bin_folder(tmp_path / "src", healthy, {"module." + k: v for k, v in state_dict.items()})
    (src / "config.json").unlink()
    repair_plan = plan(str(src), tmp_path / "fixed", overrides={"num_attention_heads": 2})
    assert any("WL300" in r.codes and "names hide their sizes" in r.reason
               for r in repair_plan.refusals)


def test_a_repair_that_uncovers_the_next_problem(tmp_path: Path, healthy: Path,
                                                 state_dict: dict[str, Any]) -> None:
    """module. on every key hides that config.json's vocab_size is wrong too: the first fix
    strips the prefix and its re-check names WL310; fixing the result repairs that."""
    src = bin_folder(tmp_path / "src", healthy, {"module." + k: v for k, v in state_dict.items()})
    edit_config(src, vocab_size=120)
    first = plan(str(src), tmp_path / "first").apply(prove=False)
    assert first.before.codes() == ["WL410"] and first.after.codes() == ["WL310"]
    assert not first.ok
    _, second = repair(first.out, tmp_path / "second")
    assert second.ok
    assert_same_outputs(second.out, healthy)


def test_hub_id_in_the_cache(tmp_path: Path, healthy: Path, monkeypatch: pytest.MonkeyPatch,
                             state_dict: dict[str, Any]) -> None:
    """A cached hub snapshot is a folder of links into blobs/: the repaired copy holds files."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    model = bin_folder(tmp_path / "model", healthy,
                       {"module." + k: v for k, v in state_dict.items()})
    snap = cache / "models--acme--tiny-bert" / "snapshots" / ("a" * 40)
    (cache / "models--acme--tiny-bert" / "blobs").mkdir(parents=True)
    (cache / "models--acme--tiny-bert" / "refs").mkdir()
    (cache / "models--acme--tiny-bert" / "refs" / "main").write_text("a" * 40)
    snap.mkdir(parents=True)
    for f in sorted(model.iterdir()):  # named as huggingface_hub names them: sha256 or git sha1
        data = f.read_bytes()
        name = (hashlib.sha256(data).hexdigest() if f.suffix == ".bin" else
                hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
        blob = cache / "models--acme--tiny-bert" / "blobs" / name
        shutil.copy(f, blob)
        (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    before = tree_hash(cache)
    repair_plan = plan("acme/tiny-bert", tmp_path / "fixed")
    assert repair_plan.source == snap.resolve() and repair_plan.before.codes() == ["WL410"]
    result = repair_plan.apply(prove=False)
    assert tree_hash(cache) == before
    assert not any(p.is_symlink() for p in result.out.iterdir())
    assert_same_outputs(result.out, healthy)


def test_planning_imports_no_ml_library(broken: Path, tmp_path: Path) -> None:
    """The plan reads what check reads: no torch, no transformers, no safetensors."""
    script = ("import json, sys; from whyload.repair import plan; "
              f"p = plan({str(broken)!r}, {str(tmp_path / 'fixed')!r}); "
              "print(json.dumps([len(p.steps), [m for m in ('torch', 'transformers', "
              "'safetensors') if m in sys.modules]]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [1, []]


# --- shard index ---

@pytest.fixture
def sharded_copy(tmp_path: Path, healthy: Path) -> Path:
    import transformers

    src = tmp_path / "src"
    transformers.BertForSequenceClassification.from_pretrained(healthy).save_pretrained(
        src, max_shard_size="30KB")
    return src


def _break_index(src: Path) -> None:
    path = src / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    key = sorted(index["weight_map"])[0]
    index["weight_map"][key] = next(s for s in sorted(set(index["weight_map"].values()))
                                    if s != index["weight_map"][key])
    path.write_text(json.dumps(index))


@pytest.mark.parametrize(("breakage", "code"), [
    (lambda src: (src / "model.safetensors.index.json").unlink(), "WL144"),
    (_break_index, "WL142"),
    (lambda src: (src / "model.safetensors.index.json").write_text("{\"weight_map\": "),
     "WL140"),
])
def test_shard_index_rebuilt_from_the_shards(tmp_path: Path, healthy: Path, sharded_copy: Path,
                                             breakage: Callable[[Path], None],
                                             code: str) -> None:
    breakage(sharded_copy)
    repair_plan, result = repair(sharded_copy, tmp_path / "fixed")
    assert code in repair_plan.before.codes()
    (step,) = repair_plan.steps
    assert step.action == "rebuild-index" and code in step.answers
    shards = sorted(n for n in os.listdir(sharded_copy) if n.endswith(".safetensors"))
    for shard in shards:  # the shards themselves are copied, byte for byte
        assert (result.out / shard).read_bytes() == (sharded_copy / shard).read_bytes()
    assert_same_outputs(result.out, healthy)


def test_missing_shard_is_refused(tmp_path: Path, sharded_copy: Path) -> None:
    (sharded_copy / "model-00002-of-00003.safetensors").unlink()
    repair_plan = plan(str(sharded_copy), tmp_path / "fixed")
    assert not repair_plan.applicable
    assert any("WL141" in r.codes for r in repair_plan.refusals)
    with pytest.raises(UsageError):
        repair_plan.apply()
    assert not (tmp_path / "fixed").exists()


# --- refusals ---

def test_truncated_weights_are_refused(tmp_path: Path, healthy: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    with (src / "model.safetensors").open("r+b") as f:
        f.truncate(f.seek(0, 2) - 1000)
    repair_plan = plan(str(src), tmp_path / "fixed")
    (refusal,) = repair_plan.refusals
    assert refusal.codes == ("WL120",) and refusal.file == "model.safetensors"
    assert refusal.next_step.startswith("download model.safetensors again")


def test_lfs_pointer_is_refused(tmp_path: Path, healthy: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    (src / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 80000\n")
    (refusal,) = plan(str(src), tmp_path / "fixed").refusals
    assert refusal.codes == ("WL110",) and "lfs pull --include model.safetensors" in \
        refusal.next_step


class RunsCode:
    """Pickles as a call to os.system: what a hostile checkpoint hides beside its tensors."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("echo pwned > /tmp/whyload-test-pwned",)


def test_pickle_that_runs_code_is_refused(tmp_path: Path, healthy: Path,
                                          state_dict: dict[str, Any]) -> None:
    """A DataParallel .bin (a prefix fix would strip) that also calls os.system when unpickled:
    converting means loading the pickle, and fix will not load it."""
    sd: dict[str, Any] = {"module." + k: v for k, v in state_dict.items()}
    sd["module.extra"] = RunsCode()
    src = bin_folder(tmp_path / "src", healthy, sd)
    repair_plan = plan(str(src), tmp_path / "fixed")
    assert not repair_plan.applicable
    assert any(r.file == "pytorch_model.bin" and "run code" in r.reason
               for r in repair_plan.refusals)
    assert not any(s.action == "rewrite-weights" for s in repair_plan.steps)
    with pytest.raises(UsageError):
        repair_plan.apply(prove=False)
    assert not (tmp_path / "fixed").exists()


def test_not_enough_disk_space_writes_nothing(tmp_path: Path, broken: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(apply_module.shutil, "disk_usage", lambda _: usage(10**9, 10**9, 100))
    with pytest.raises(UsageError, match="needs about"):
        plan(str(broken), tmp_path / "fixed").apply(prove=False)
    assert not (tmp_path / "fixed").exists() and leftovers(tmp_path) == []


def test_missing_weights_are_not_invented(tmp_path: Path, healthy: Path) -> None:
    """A tensor of the base model is not in the file: it would load at random. Making it up is
    training, not repair."""
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    rewrite_safetensors(src / "model.safetensors", lambda t: {
        k: v for k, v in t.items() if k != "bert.encoder.layer.0.attention.self.query.weight"})
    repair_plan = plan(str(src), tmp_path / "fixed")
    assert "WL402" in repair_plan.before.codes()
    assert any("WL402" in r.codes and "inventing weights" in r.reason
               for r in repair_plan.refusals)
    assert not repair_plan.applicable


def test_head_missing_is_a_note_not_a_repair(tmp_path: Path, healthy: Path) -> None:
    """Base-model weights under a config that names a classifier (a warning: AutoModel loads
    them): fix does not invent the head, and says so."""
    import transformers

    src = tmp_path / "src"
    transformers.BertModel.from_pretrained(healthy).save_pretrained(src)
    edit_config(src, architectures=["BertForSequenceClassification"])
    repair_plan = plan(str(src), tmp_path / "fixed")
    assert repair_plan.nothing_to_fix
    assert any(n.startswith("WL401") and "does not invent weights" in n
               for n in repair_plan.notes)


# --- healthy models: nothing to fix ---

@pytest.mark.parametrize("fixture", ["safetensors_model", "bin_model", "legacy_bin_model",
                                     "sharded_model", "minilm"])
def test_healthy_models_have_nothing_to_fix(tmp_path: Path, fixture: str,
                                            request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    repair_plan = plan(str(folder), tmp_path / "fixed")
    assert repair_plan.nothing_to_fix, [s.to_dict() for s in repair_plan.steps]
    assert not repair_plan.unanswered


def test_nothing_to_fix_exits_0_and_writes_nothing(tmp_path: Path, healthy: Path) -> None:
    done = run_cli("fix", str(healthy), "--out", str(tmp_path / "fixed"), "--apply")
    assert done.returncode == 0, done.stderr
    assert "nothing to fix" in done.stdout
    assert not (tmp_path / "fixed").exists()


# --- bad input and failures mid-apply ---

@pytest.fixture
def broken(tmp_path: Path, healthy: Path) -> Path:
    """A config that contradicts the weights: the quickest real repair."""
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    edit_config(src, vocab_size=120)
    return src


def test_existing_output_is_refused_without_force(tmp_path: Path, broken: Path) -> None:
    out = tmp_path / "fixed"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="already exists"):
        plan(str(broken), out)
    done = run_cli("fix", str(broken), "--out", str(out), "--apply")
    assert done.returncode == 2 and "--force" in done.stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_force_replaces_the_output(tmp_path: Path, broken: Path, healthy: Path) -> None:
    out = tmp_path / "fixed"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    _, result = repair(broken, out, force=True)
    assert not (result.out / "stale.txt").exists()
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]
    assert leftovers(tmp_path) == []
    assert_same_outputs(out, healthy)


@pytest.mark.parametrize("where", ["out inside", "out is source", "source inside out"])
def test_output_that_would_touch_the_source(tmp_path: Path, broken: Path, where: str) -> None:
    out = {"out inside": broken / "fixed", "out is source": broken,
           "source inside out": tmp_path}[where]
    before = tree_hash(broken)
    with pytest.raises(UsageError):
        plan(str(broken), out, force=True)
    assert tree_hash(broken) == before


def test_missing_output_parents_are_made_when_applied(tmp_path: Path, broken: Path) -> None:
    """--out a/b/fixed where a does not exist: the plan writes nothing, apply makes the parents."""
    before = tree_hash(broken)
    repair_plan = plan(str(broken), tmp_path / "no" / "such" / "fixed")
    assert not (tmp_path / "no").exists()
    assert repair_plan.out == tmp_path.resolve() / "no" / "such" / "fixed"
    result = repair_plan.apply(prove=False)
    assert result.out.is_dir() and (result.out / "config.json").is_file()
    assert result.after.verdict.value == "loads"
    assert tree_hash(broken) == before


def test_missing_output_parents_are_removed_when_the_build_fails(
        tmp_path: Path, broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(apply_module, "sync_tree", full_disk)
    with pytest.raises(UsageError, match="nothing was written"):
        plan(str(broken), tmp_path / "no" / "such" / "fixed").apply(prove=False)
    assert not (tmp_path / "no").exists()


def test_output_under_a_file_is_refused(tmp_path: Path, broken: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        plan(str(broken), tmp_path / "notes.txt" / "sub" / "fixed")


def test_output_whose_missing_parents_are_inside_the_source_is_refused(
        broken: Path) -> None:
    before = tree_hash(broken)
    with pytest.raises(UsageError, match="inside the model folder"):
        plan(str(broken), broken / "new" / "fixed")
    assert tree_hash(broken) == before and not (broken / "new").exists()


def test_findings_point_at_whyload_fix(tmp_path: Path, healthy: Path,
                                       state_dict: dict[str, Any]) -> None:
    """Where fix does the job, the finding's fix names it first."""
    import whyload

    src = bin_folder(tmp_path / "src", healthy, {"module." + k: v for k, v in state_dict.items()})
    (finding,) = whyload.check(str(src)).by_code("WL410")
    quoted = shlex.quote(str(src))
    assert finding.fix.startswith(f"whyload fix {quoted} --out ")


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     KeyboardInterrupt()])
def test_failure_mid_apply_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          healthy: Path, state_dict: dict[str, Any],
                                          failure: BaseException) -> None:
    """The disk fills up (or Ctrl-C) after the first file is written: no output folder, no
    temporary folder, the source untouched; a later run succeeds."""
    src = bin_folder(tmp_path / "src", healthy, {"module." + k: v for k, v in state_dict.items()})
    before = tree_hash(src)
    out = tmp_path / "fixed"
    real = apply_module.run_step

    def fail_after_first_file(source: Path, step: Any, build: Path) -> list[str]:
        assert any(build.iterdir())  # something is written already
        raise failure

    monkeypatch.setattr(apply_module, "run_step", fail_after_first_file)
    repair_plan = plan(str(src), out)
    with pytest.raises((UsageError, KeyboardInterrupt)):
        repair_plan.apply(prove=False)
    assert not out.exists() and leftovers(tmp_path) == []
    assert tree_hash(src) == before
    monkeypatch.setattr(apply_module, "run_step", real)
    repair_plan.apply(prove=False)
    assert_same_outputs(out, healthy)


def test_failure_during_force_keeps_the_old_output(tmp_path: Path, broken: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "fixed"
    out.mkdir()
    (out / "previous.txt").write_text("still here")

    def disk_full(source: Path, build: Path, rel: str) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(apply_module, "copy_file", disk_full)
    with pytest.raises(UsageError, match="nothing was written"):
        plan(str(broken), out, force=True).apply(force=True, prove=False)
    assert os.listdir(out) == ["previous.txt"] and leftovers(tmp_path) == []


def test_converter_crash_leaves_nothing(tmp_path: Path, healthy: Path,
                                        state_dict: dict[str, Any]) -> None:
    """The child that rewrites the weights dies (here: the file changed since the plan)."""
    src = bin_folder(tmp_path / "src", healthy, {"module." + k: v for k, v in state_dict.items()})
    repair_plan = plan(str(src), tmp_path / "fixed")
    (src / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not a zip any more")
    with pytest.raises(UsageError, match="rewriting the weights failed"):
        repair_plan.apply(prove=False)
    assert not (tmp_path / "fixed").exists() and leftovers(tmp_path) == []


@pytest.fixture
def read_only(broken: Path) -> Iterator[Path]:
    modes = {p: p.stat().st_mode for p in [broken, *broken.rglob("*")]}
    for p in [*broken.rglob("*"), broken]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield broken
    for p, mode in modes.items():
        p.chmod(mode)


def test_read_only_source(tmp_path: Path, read_only: Path, healthy: Path) -> None:
    _, result = repair(read_only, tmp_path / "fixed")
    assert os.access(result.out / "config.json", os.W_OK)  # the copy is the user's to edit
    assert result.out.stat().st_mode & 0o755 == 0o755
    assert_same_outputs(result.out, healthy)


# --- the command ---

def test_cli_plan_then_apply_with_a_real_load(tmp_path: Path, broken: Path) -> None:
    before = tree_hash(broken)
    out = tmp_path / "fixed"
    dry = run_cli("fix", str(broken), "--out", str(out))
    assert dry.returncode == 0, dry.stderr
    assert "write config.json" in dry.stdout and "answers: WL310" in dry.stdout
    assert "dry run" in dry.stdout and not out.exists()
    done = run_cli("fix", str(broken), "--out", str(out), "--apply", "--format", "json",
                   timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "whyload.report/2" and report["command"] == "fix"
    result = report["facts"]["result"]
    assert result["before"] == {"verdict": "fails", "codes": ["WL310"]}
    assert result["after"] == {"verdict": "loads", "codes": []}
    assert result["load"]["loaded"] and result["load"]["clean"]
    assert result["load"]["model_class"] == "BertForSequenceClassification"
    assert tree_hash(broken) == before


def test_cli_refusal_exits_1(tmp_path: Path, healthy: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(healthy, src)
    (src / "config.json").unlink()
    done = run_cli("fix", str(src), "--out", str(tmp_path / "fixed"), "--apply")
    assert done.returncode == 1
    assert "refused" in done.stdout and "--set num_attention_heads" in done.stdout
    assert not (tmp_path / "fixed").exists()
    ok = run_cli("fix", str(src), "--out", str(tmp_path / "fixed"), "--apply", "--no-load",
                 "--set", "num_attention_heads=2")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_cli_bad_shard_size(tmp_path: Path, healthy: Path) -> None:
    done = run_cli("fix", str(healthy), "--out", str(tmp_path / "x"), "--max-shard-size",
                   "lots")
    assert done.returncode == 2 and "not a size" in done.stderr
