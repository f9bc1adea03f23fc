"""whyload agrees with what transformers 5 really does, not with what seems reasonable: each test
first shows the real library's behaviour on a broken copy, then asserts whyload's codes,
severities, verdict and evidence for the same copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import whyload
from tests.conftest import codes, edit_config, only
from whyload.report import Effect, Severity, Verdict

Copy = Callable[[Path], Path]


def _load_error(folder: Path, class_name: str = "AutoModel") -> BaseException | None:
    """What from_pretrained raises on `folder` (None: it loads)."""
    import transformers

    try:
        getattr(transformers, class_name).from_pretrained(folder)
    except Exception as exc:  # the exception is the observation
        return exc
    return None


# --- config.json read exactly as transformers reads it ------------------------------------------


def test_a_config_with_a_byte_order_mark_is_refused(copy_of: Copy,
                                                     safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    error = _load_error(model)
    assert isinstance(error, OSError) and "is not a valid JSON file" in str(error)
    report = whyload.check(str(model))
    f = only(report, "WL301")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    assert f.evidence["bom"] is True and "byte-order mark" in f.title
    assert f.fix == (f"cp -rL {model} {model}-fixed && "
                     f"sed -i '1s/^\\xEF\\xBB\\xBF//' {model}-fixed/config.json")
    assert report.verdict is Verdict.FAILS and codes(report) == ["WL301"]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the user's file is untouched


def test_the_fix_for_a_byte_order_mark_gives_a_config_transformers_reads(
        copy_of: Copy, safetensors_model: Path) -> None:
    import subprocess

    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    fix = only(whyload.check(str(model)), "WL301").fix
    subprocess.run(fix, shell=True, check=True)
    fixed = model.parent / (model.name + "-fixed")
    assert _load_error(fixed) is None
    assert whyload.check(str(fixed)).verdict is Verdict.LOADS


def test_a_byte_order_mark_before_broken_json_names_the_syntax_error(
        copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"32,", b"32,,", 1))
    f = only(whyload.check(str(model)), "WL301")
    assert "bom" not in f.evidence and "byte-order mark" in f.evidence["error"]
    assert f.evidence["line"] > 1


@pytest.mark.parametrize(("name", "edit"), [
    ("trailing comma", lambda text: text.replace('"hidden_size": 32,', '"hidden_size": 32,,')),
    ("comma before the brace", lambda text: text.rstrip().removesuffix("}") + ",\n}"),
])
def test_a_trailing_comma_is_refused_by_both(name: str, edit: Callable[[str], str],
                                             copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_text(edit(path.read_text()))
    assert isinstance(_load_error(model), OSError)
    report = whyload.check(str(model))
    assert only(report, "WL301").severity is Severity.ERROR and report.verdict is Verdict.FAILS


@pytest.mark.parametrize(("literal", "field"), [("NaN", "hidden_dropout_prob"),
                                                ("Infinity", "layer_norm_eps")])
def test_nan_and_infinity_literals_are_accepted_by_both(literal: str, field: str, copy_of: Copy,
                                                        safetensors_model: Path) -> None:
    import math

    from transformers import AutoConfig

    model = copy_of(safetensors_model)
    path = model / "config.json"
    config = json.loads(path.read_text())
    path.write_text(path.read_text().replace(f'"{field}": {json.dumps(config[field])}',
                                             f'"{field}": {literal}'))
    assert not math.isfinite(getattr(AutoConfig.from_pretrained(model), field))
    assert _load_error(model) is None
    report = whyload.check(str(model))
    assert "WL301" not in codes(report) and report.verdict is Verdict.LOADS, codes(report)


def test_a_repeated_key_keeps_its_last_value_in_both(copy_of: Copy,
                                                     safetensors_model: Path) -> None:
    from transformers import AutoConfig

    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_text(path.read_text().replace('"hidden_size": 32,',
                                             '"hidden_size": 64, "hidden_size": 32,'))
    assert AutoConfig.from_pretrained(model).hidden_size == 32 and _load_error(model) is None
    report = whyload.check(str(model))
    f = only(report, "WL305")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert f.evidence == {"file": "config.json", "key": "hidden_size", "values": [64, 32],
                          "used": 32}
    assert report.verdict is Verdict.LOADS and "WL310" not in codes(report)


def test_a_repeated_key_whose_last_value_is_wrong_fails_as_the_last_value_says(
        copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_text(path.read_text().replace('"hidden_size": 32,',
                                             '"hidden_size": 32, "hidden_size": 64,'))
    error = _load_error(model)
    assert isinstance(error, RuntimeError) and "ignore_mismatched_sizes" in str(error)
    report = whyload.check(str(model))
    assert only(report, "WL310").evidence["config"] == 64
    assert only(report, "WL305").evidence["used"] == 64
    assert report.verdict is Verdict.FAILS


def test_a_top_level_list_is_refused_by_both(copy_of: Copy, safetensors_model: Path) -> None:
    model = copy_of(safetensors_model)
    path = model / "config.json"
    path.write_text("[" + path.read_text() + "]")
    error = _load_error(model)
    assert isinstance(error, ValueError) and "Unrecognized model" in str(error)
    report = whyload.check(str(model))
    f = only(report, "WL301")
    assert "JSON list" in f.title and "Unrecognized model" in f.detail
    assert report.verdict is Verdict.FAILS


# --- weights intact, inference fails: a warning about inference, never a broken load ------------


def test_tokens_beyond_the_embeddings_load_intact_and_fail_at_inference(
        copy_of: Copy, minilm: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = copy_of(minilm)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.add_tokens(["<company>"])
    tokenizer.save_pretrained(model)
    loaded, info = AutoModel.from_pretrained(model, output_loading_info=True)
    assert not info["missing_keys"] and not info["mismatched_keys"]  # the load itself works
    reference = AutoModel.from_pretrained(minilm)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 reference.state_dict().values(), strict=True))
    with pytest.raises(IndexError, match="index out of range"):
        loaded(**tokenizer("<company>", return_tensors="pt"))
    report = whyload.check(str(model))
    f = only(report, "WL330")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert (f.evidence["tokenizer_ids"], f.evidence["embedding_rows"]) == (30523, 30522)
    assert "loads intact" in f.detail
    assert report.verdict is Verdict.LOADS, codes(report)


@pytest.mark.parametrize("key", ["bos_token_id", "eos_token_id", "sep_token_id",
                                 "decoder_start_token_id"])
def test_a_special_id_beyond_the_vocabulary_loads(key: str, copy_of: Copy,
                                                  safetensors_model: Path) -> None:
    import torch
    from transformers import BertForSequenceClassification

    model = copy_of(safetensors_model)
    edit_config(model, **{key: 150})
    loaded = BertForSequenceClassification.from_pretrained(model)
    assert getattr(loaded.config, key) == 150
    loaded(input_ids=torch.tensor([[1, 2, 3]]))
    report = whyload.check(str(model))
    f = only(report, "WL331")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert f.evidence == {"field": key, "value": 150, "vocab_rows": 99}
    assert report.verdict is Verdict.LOADS


def test_a_pad_id_beyond_the_vocabulary_fails_the_load_itself(copy_of: Copy,
                                                              safetensors_model: Path) -> None:
    """pad_token_id is the embedding's padding_idx: not an inference problem, a load error."""
    model = copy_of(safetensors_model)
    edit_config(model, pad_token_id=150)
    error = _load_error(model, "BertForSequenceClassification")
    assert isinstance(error, AssertionError)
    assert "Padding_idx must be within num_embeddings" in str(error)
    report = whyload.check(str(model))
    f = only(report, "WL331")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    assert "Padding_idx must be within num_embeddings" in f.detail
    assert report.verdict is Verdict.FAILS


def test_mpnet_keeps_its_own_padding_idx(tmp_path: Path) -> None:
    from tests.conftest import save_tiny

    model = save_tiny(tmp_path / "mpnet", "MPNetModel", "mpnet", vocab_size=50, hidden_size=32,
                      num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    edit_config(model, pad_token_id=60)
    assert _load_error(model) is None
    report = whyload.check(str(model))
    f = only(report, "WL331")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert report.verdict is Verdict.LOADS, codes(report)


# --- shard indexes as transformers reads them ---------------------------------------------------


def _edit_index(model: Path, edit: Callable[[dict], None]) -> dict:
    index = model / "model.safetensors.index.json"
    doc = json.loads(index.read_text())
    edit(doc)
    index.write_text(json.dumps(doc))
    return doc


def _loads_intact(model: Path, reference: Path) -> tuple[bool, set[str]]:
    """Whether transformers loads `model` with every weight equal to `reference`'s, and the
    keys it reports missing."""
    import torch
    from transformers import BertForSequenceClassification

    loaded, info = BertForSequenceClassification.from_pretrained(model, output_loading_info=True)
    expected = BertForSequenceClassification.from_pretrained(reference).state_dict()
    same = all(torch.equal(expected[k], v) for k, v in loaded.state_dict().items())
    return same, set(info["missing_keys"])


EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def test_a_tensor_the_index_omits_loads_from_its_shard(copy_of: Copy,
                                                       sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    _edit_index(model, lambda doc: doc["weight_map"].pop(EMBEDDINGS))
    assert _loads_intact(model, sharded_model) == (True, set())
    report = whyload.check(str(model))
    f = only(report, "WL142")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert f.evidence["present_but_unlisted"] == [EMBEDDINGS]
    assert "every weight still loads" in f.title
    assert report.verdict is Verdict.LOADS, codes(report)


def test_a_tensor_the_index_places_in_the_wrong_shard_loads(copy_of: Copy,
                                                            sharded_model: Path) -> None:
    model = copy_of(sharded_model)

    def misplace(doc: dict) -> None:
        wm = doc["weight_map"]
        wm[EMBEDDINGS] = next(s for s in sorted(set(wm.values())) if s != wm[EMBEDDINGS])

    _edit_index(model, misplace)
    assert _loads_intact(model, sharded_model) == (True, set())
    report = whyload.check(str(model))
    f = only(report, "WL142")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert f.evidence["listed_in_another_shard"] == [EMBEDDINGS]
    assert f.evidence["listed_but_absent"] == []
    assert report.verdict is Verdict.LOADS, codes(report)


def test_a_tensor_the_index_lists_and_no_shard_holds_stays_random(copy_of: Copy,
                                                                   sharded_model: Path) -> None:
    from safetensors.numpy import load_file, save_file

    model = copy_of(sharded_model)
    doc = json.loads((model / "model.safetensors.index.json").read_text())
    shard = model / doc["weight_map"][EMBEDDINGS]
    tensors = load_file(str(shard))
    del tensors[EMBEDDINGS]
    save_file(tensors, str(shard), metadata={"format": "pt"})
    same, missing = _loads_intact(model, sharded_model)
    assert not same and missing == {EMBEDDINGS}  # no exception: a random embedding matrix
    report = whyload.check(str(model))
    f = only(report, "WL142")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.SILENT)
    assert f.evidence["listed_but_absent"] == [EMBEDDINGS]
    assert f.evidence["expected_but_absent"] == [EMBEDDINGS]
    assert report.verdict is Verdict.LOADS_BROKEN


def test_a_tensor_the_index_lists_that_the_model_has_no_place_for_changes_nothing(
        copy_of: Copy, sharded_model: Path) -> None:
    model = copy_of(sharded_model)
    extra = "bert.encoder.layer.7.output.dense.weight"

    def add(doc: dict) -> None:
        doc["weight_map"][extra] = sorted(set(doc["weight_map"].values()))[0]

    _edit_index(model, add)
    assert _loads_intact(model, sharded_model) == (True, set())
    report = whyload.check(str(model))
    f = only(report, "WL142")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert f.evidence["listed_but_absent"] == [extra]
    assert f.evidence["expected_but_absent"] == []
    assert report.verdict is Verdict.LOADS


# --- check --deep cannot build the model: the real load fails the same way ----------------------


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("llama") / "llama"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=2, max_position_embeddings=64)
                     ).save_pretrained(out)
    return out


def _flash_attn_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


@pytest.mark.skipif(_flash_attn_installed(), reason="flash-attn is installed here")
def test_flash_attention_without_flash_attn_fails_like_from_pretrained(
        copy_of: Copy, tiny_llama: Path) -> None:
    model = copy_of(tiny_llama)
    edit_config(model, attn_implementation="flash_attention_2")
    error = _load_error(model, "AutoModelForCausalLM")
    assert isinstance(error, ImportError)
    assert "FlashAttention2 has been toggled on" in str(error)
    report = whyload.check(str(model), deep=True)
    f = only(report, "WL407")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    assert f.evidence["exception"] == "ImportError" and f.evidence["message"] == str(error)
    assert f.evidence["phase"] == "build"
    assert '"attn_implementation": "flash_attention_2"' in f.fix and "flash-attn" in f.fix
    assert report.verdict is Verdict.FAILS and "WL405" not in codes(report)


@pytest.mark.parametrize("field", ["rope_scaling", "rope_parameters"])
def test_an_incomplete_rope_config_fails_like_from_pretrained(field: str, copy_of: Copy,
                                                              tiny_llama: Path) -> None:
    model = copy_of(tiny_llama)
    edit_config(model, **{field: {"rope_type": "yarn"}})
    error = _load_error(model, "AutoModelForCausalLM")
    assert isinstance(error, KeyError)
    message = error.args[0]
    assert message == "Missing required keys in `rope_parameters` for 'rope_type'='yarn': " \
        "{'factor'}"
    report = whyload.check(str(model), deep=True)
    f = only(report, "WL407")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    assert (f.evidence["exception"], f.evidence["message"]) == ("KeyError", message)
    assert f.evidence["phase"] in ("config", "build") and "rope" in f.fix
    assert report.verdict is Verdict.FAILS and "WL405" not in codes(report)


def test_without_deep_nothing_is_claimed(copy_of: Copy, tiny_llama: Path) -> None:
    model = copy_of(tiny_llama)
    edit_config(model, rope_scaling={"rope_type": "yarn"})
    report = whyload.check(str(model))
    assert "WL407" not in codes(report)


@pytest.mark.parametrize(("failure", "repeats"), [
    (("config", "KeyError", ("KeyError", "LookupError", "Exception"), "Missing keys"), True),
    (("build", "ImportError", ("ImportError", "Exception"), "no flash_attn"), True),
    (("build", "ValueError", ("ValueError", "Exception"), "not a multiple"), True),
    (("build", "RuntimeError", ("RuntimeError", "Exception"),
      "Tensor.item() cannot be called on meta tensors"), False),
    (("build", "NotImplementedError", ("NotImplementedError", "RuntimeError", "Exception"),
      "Cannot copy out of meta tensor; no data!"), False),
    (("build", "ValueError", ("ValueError", "Exception"), "a meta tensor has no data"), False),
])
def test_only_failures_that_repeat_on_a_real_load_are_called_fails(
        failure: tuple[str, str, tuple[str, ...], str], repeats: bool, tiny_llama: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The meta build differs from a real load; an error that may come from the meta device
    itself stays the WL405 warning (for a class the shipped specs do not describe: here the
    specs are made to forget llama)."""
    import dataclasses

    from whyload.checks.architecture import model_cannot_be_built, not_predicted
    from whyload.knowledge import specs
    from whyload.pipeline import examine
    from whyload.probe.meta import BuildFailure

    monkeypatch.setattr(specs, "type_of_class", lambda *_: None)

    snap = examine(str(tiny_llama)).snapshot
    snap = dataclasses.replace(snap, deep_failure=BuildFailure(*failure),
                               deep_error=f"transformers could not build the model: {failure[3]}")
    assert [p.severity for p in model_cannot_be_built(snap)] == (
        [Severity.ERROR] if repeats else [])
    assert [p.severity for p in not_predicted(snap)] == ([] if repeats else [Severity.WARNING])


# --- PEFT adapters: the base model they name, checked like any target ---------------------------


def _adapter(folder: Path, base: str, target_modules: object) -> Path:
    """An adapter folder as peft saves a LoRA for a BERT classifier (one LoRA tensor)."""
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({
        "base_model_name_or_path": base, "peft_type": "LORA", "task_type": "SEQ_CLS",
        "target_modules": target_modules, "r": 4, "lora_alpha": 8}))
    save_file({"base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight":
               np.zeros((4, 32), np.float32)},
              str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def python_with_peft(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real second interpreter whose site-packages holds a (stub) peft distribution and sees
    this environment's packages: whyload's own process has no peft."""
    import subprocess
    import sys
    import sysconfig

    venv = tmp_path_factory.mktemp("interp") / "with-peft"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (site / "peft").mkdir()
    (site / "peft" / "__init__.py").write_text('__version__ = "0.17.1"\n')
    dist = site / "peft-0.17.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: peft\nVersion: 0.17.1\n")
    return venv / "bin" / "python"


def test_peft_is_judged_in_the_interpreter_that_loads(tmp_path: Path, safetensors_model: Path,
                                                      python_with_peft: Path) -> None:
    import importlib.util

    adapter = _adapter(tmp_path / "lora", str(safetensors_model), ["query", "value"])
    assert importlib.util.find_spec("peft") is None  # not in whyload's own process
    error = _load_error(adapter)  # nor in transformers' here: the folder is not a model
    assert isinstance(error, ValueError) and "Unrecognized model" in str(error)
    here = whyload.check(str(adapter))
    f = only(here, "WL106")
    assert f.severity is Severity.ERROR and f.evidence["peft"] is None
    assert f.fix.startswith(whyload.env.collect().pip_install("peft"))
    there = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(there, "WL106")
    assert f.severity is Severity.INFO
    assert (f.evidence["base_verdict"], f.evidence["base_headline"]) == ("loads", "loads")
    assert f.evidence["base_found"] == str(safetensors_model)
    assert not {"WL460", "WL461", "WL462"} & set(codes(there))


def test_target_modules_of_another_architecture_are_not_found(
        tmp_path: Path, safetensors_model: Path, python_with_peft: Path) -> None:
    adapter = _adapter(tmp_path / "lora", str(safetensors_model), ["q_proj", "v_proj"])
    report = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(report, "WL462")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    # peft's own words (tuners_utils.inject_adapter), with the set printed in sorted order
    assert f.title == "Target modules {'q_proj', 'v_proj'} not found in the base model"
    assert "Please check the target modules and try again." in f.detail
    assert f.evidence["not_found"] == ["q_proj", "v_proj"]
    assert {"query", "key", "value", "dense"} <= set(f.evidence["base_module_leaves"])
    assert report.verdict is Verdict.FAILS


def test_some_target_modules_unmatched_is_a_warning(tmp_path: Path, safetensors_model: Path,
                                                    python_with_peft: Path) -> None:
    """peft raises only when no target matches; the others are silently unused."""
    adapter = _adapter(tmp_path / "lora", str(safetensors_model), ["query", "q_proj"])
    report = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(report, "WL462")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.NONE)
    assert f.evidence["not_found"] == ["q_proj"]
    assert report.verdict is not Verdict.FAILS


@pytest.mark.parametrize(("pattern", "found"), [
    (r".*attention\.self\.(query|value)", True),
    (r".*self_attn\.q_proj", False),
    ("all-linear", True),
])
def test_a_regex_target_is_matched_as_peft_matches_it(
        pattern: str, found: bool, tmp_path: Path, safetensors_model: Path,
        python_with_peft: Path) -> None:
    adapter = _adapter(tmp_path / "lora", str(safetensors_model), pattern)
    report = whyload.check(str(adapter), python=str(python_with_peft))
    assert ("WL462" in codes(report)) is not found
    if not found:
        assert only(report, "WL462").title == \
            f"Target modules {pattern} not found in the base model"


def test_a_cached_hub_id_base_is_found_and_checked(hf_cache: Path, tmp_path: Path,
                                                   safetensors_model: Path,
                                                   python_with_peft: Path) -> None:
    from tests.test_files import _cache_repo

    _cache_repo(hf_cache, "acme/tiny-bert", safetensors_model)
    adapter = _adapter(tmp_path / "lora", "acme/tiny-bert", ["query"])
    report = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(report, "WL106")
    assert f.evidence["base_verdict"] == "loads"
    assert "models--acme--tiny-bert" in f.evidence["base_found"]
    assert not {"WL460", "WL461", "WL462"} & set(codes(report))


def test_a_hub_id_base_not_cached_is_not_claimed_either_way(
        hf_cache: Path, tmp_path: Path, python_with_peft: Path) -> None:
    adapter = _adapter(tmp_path / "lora", "acme/not-here", ["query"])
    report = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(report, "WL460")
    assert (f.severity, f.effect) == (Severity.WARNING, Effect.UNKNOWN)
    assert f.fix == "hf download acme/not-here"
    assert report.verdict is Verdict.UNKNOWN


def test_a_missing_local_base_fails(tmp_path: Path, python_with_peft: Path) -> None:
    adapter = _adapter(tmp_path / "lora", str(tmp_path / "gone"), ["query"])
    report = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(report, "WL460")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    assert f.evidence["base_model"] == str(tmp_path / "gone")
    assert report.verdict is Verdict.FAILS


def test_a_base_that_does_not_load_fails_the_adapter(copy_of: Copy, tmp_path: Path,
                                                     safetensors_model: Path,
                                                     python_with_peft: Path) -> None:
    base = copy_of(safetensors_model)
    config = base / "config.json"
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    assert isinstance(_load_error(base), OSError)
    adapter = _adapter(tmp_path / "lora", str(base), ["query"])
    report = whyload.check(str(adapter), python=str(python_with_peft))
    f = only(report, "WL461")
    assert (f.severity, f.effect) == (Severity.ERROR, Effect.RAISES)
    assert f.evidence["base_verdict"] == "fails" and f.evidence["base_codes"] == ["WL301"]
    assert f.evidence["base_headline"].startswith("WL301 config.json starts with a UTF-8")
    assert only(report, "WL106").evidence["base_verdict"] == "fails"
    assert report.verdict is Verdict.FAILS
