"""model_classes.json against transformers itself: the classes exist, belong to the recorded
model_type, and every Auto class loads what the data says; the ast reader reads an installed
transformers (this one, or a made-up other version) into the same data."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from whyload.knowledge.model_classes import (
    DATA_FILE,
    ModelClasses,
    dump_json,
    generated,
    model_classes,
)
from whyload.knowledge.transformers_sources import read_transformers_sources

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "distilbert", "albert", "electra",
                      "deberta", "deberta-v2", "mpnet", "modernbert", "gpt2", "llama", "mistral",
                      "qwen2", "t5", "bart", "vit", "whisper", "wav2vec2", "clip", "funnel")


def _transformers_package() -> Path:
    spec = importlib.util.find_spec("transformers")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


@pytest.fixture(scope="module")
def read_now() -> ModelClasses:
    return read_transformers_sources(_transformers_package())


# the shipped data is generated from the transformers the lock pins; under another one (make
# test-min, test-latest) the comparisons with the shipped file do not apply: regenerate instead
LOCKED_TRANSFORMERS = pytest.mark.skipif(
    importlib.metadata.version("transformers") != generated().transformers_version,
    reason="model_classes.json describes another transformers version than the installed one "
           "(python scripts/gen_model_classes.py regenerates it)")


@LOCKED_TRANSFORMERS
def test_data_describes_the_installed_transformers() -> None:
    data = generated()
    assert data.transformers_version == importlib.metadata.version("transformers")
    assert data.source["script"] == "scripts/gen_model_classes.py"
    assert (ROOT / "src/whyload/knowledge" / DATA_FILE).stat().st_size < 1_000_000


@pytest.mark.parametrize("model_type", SAMPLE_MODEL_TYPES)
def test_every_auto_class_loads_what_the_data_says(model_type: str) -> None:
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    # the installed transformers' own classes: the shipped data, or its sources read now
    installed = importlib.metadata.version("transformers")
    data = model_classes(installed, _transformers_package().parent)
    if data.transformers_version != installed:
        pytest.skip(f"the source reader cannot read transformers {installed}'s layout")
    if model_type not in CONFIG_MAPPING:
        pytest.skip(f"transformers {installed} has no model_type {model_type!r}")
    config_class = CONFIG_MAPPING[model_type]
    checked = 0
    for auto_name in data.auto_mappings:
        auto_class = getattr(transformers, auto_name)
        if config_class not in auto_class._model_mapping:
            assert data.auto_target(auto_name, model_type) is None, auto_name
            continue
        real = auto_class._model_mapping[config_class]
        real_names = tuple(c.__name__ for c in real) if isinstance(real, tuple) else (
            real.__name__,)
        assert data.auto_targets(auto_name, model_type) == real_names, auto_name
        for cls in real if isinstance(real, tuple) else (real,):
            recorded = data.lookup(cls.__name__)
            assert recorded is not None
            assert recorded.model_type == cls.config_class.model_type
            assert recorded.module == cls.__module__.split(".")[2]
            assert recorded.base_model_prefix == (cls.base_model_prefix or None)
            assert auto_name in recorded.auto_classes
            assert data.same_family(cls.__name__, model_type)
        checked += 1
    assert data.auto_target("AutoModel", model_type) is not None
    assert checked >= 1


def test_auto_targets_for_bert_and_others() -> None:
    data = model_classes()
    assert data.auto_target("AutoModelForSequenceClassification", "bert") == (
        "BertForSequenceClassification")
    assert data.auto_target("AutoModelForCausalLM", "gpt2") == "GPT2LMHeadModel"
    assert data.auto_target("AutoModelForSeq2SeqLM", "t5") == "T5ForConditionalGeneration"
    assert data.auto_target("AutoModelForSequenceClassification", "vit") is None
    assert data.auto_target("AutoModelForNoSuchTask", "bert") is None
    # funnel's AutoModel offers two classes: the first, unless config.architectures names one
    assert data.auto_targets("AutoModel", "funnel") == ("FunnelModel", "FunnelBaseModel")
    assert data.auto_target("AutoModel", "funnel") == "FunnelModel"
    assert data.auto_target("AutoModel", "funnel", ("FunnelBaseModel",)) == "FunnelBaseModel"


def test_a_class_knows_its_family_and_head() -> None:
    data = model_classes()
    head = data.lookup("BertForSequenceClassification")
    assert head is not None
    assert (head.model_type, head.module, head.head, head.is_base, head.is_auto) == (
        "bert", "bert", "ForSequenceClassification", False, False)
    assert head.file == "models/bert/modeling_bert.py"
    assert head.base_model_prefix == "bert"
    base = data.lookup("BertModel")
    assert base is not None and base.is_base and base.head is None
    auto = data.lookup("AutoModelForSequenceClassification")
    assert auto is not None and auto.is_auto and auto.model_type is None and auto.head is None
    assert data.model_type_of("DebertaV2ForMaskedLM") == "deberta-v2"
    assert data.module_of("deberta-v2") == "deberta_v2"
    assert data.model_type_of("NoSuchModel") is None


def test_same_family() -> None:
    data = model_classes()
    assert data.same_family("BertForMaskedLM", "bert")
    assert not data.same_family("GPT2LMHeadModel", "bert")
    assert not data.same_family("RobertaForMaskedLM", "bert")
    assert data.same_family("AutoModelForCausalLM", "bert")
    assert not data.same_family("BertTokenizer", "bert")
    # gpt-sw3 checkpoints load into GPT-2 classes: its Auto mappings say so
    assert data.auto_target("AutoModelForCausalLM", "gpt-sw3") == "GPT2LMHeadModel"
    assert data.same_family("GPT2LMHeadModel", "gpt-sw3")


@pytest.mark.parametrize(("typed", "expected"), [
    ("BertForSequenceClasification", "BertForSequenceClassification"),
    ("bertforsequenceclassification", "BertForSequenceClassification"),
    ("AutoModelForSequenceClasification", "AutoModelForSequenceClassification"),
    ("LLamaForCausalLM", "LlamaForCausalLM"),
    ("Gpt2LMHeadModel", "GPT2LMHeadModel"),
])
def test_did_you_mean(typed: str, expected: str) -> None:
    data = model_classes()
    assert data.lookup(typed) is None
    suggestions = data.suggest(typed)
    assert suggestions[0] == expected
    assert len(suggestions) <= 3


def test_tokenizers_configs_and_modules_are_not_model_classes() -> None:
    data = model_classes()
    for name in ("BertTokenizer", "BertTokenizerFast", "BertConfig", "AutoConfig", "AutoTokenizer",
                 "BertLayer", "BertEmbeddings", "PreTrainedModel", "GenerationMixin"):
        assert data.lookup(name) is None, name
    assert data.suggest("xyzzy") == []


@LOCKED_TRANSFORMERS
def test_the_reader_gives_the_shipped_data(read_now: ModelClasses) -> None:
    shipped = generated()
    assert read_now.transformers_version == shipped.transformers_version
    assert set(read_now.classes) == set(shipped.classes)
    assert read_now == shipped


@LOCKED_TRANSFORMERS
def test_the_script_regenerates_the_file(read_now: ModelClasses) -> None:
    script = importlib.util.spec_from_file_location("gen_model_classes",
                                                    ROOT / "scripts/gen_model_classes.py")
    assert script is not None and script.loader is not None
    module = importlib.util.module_from_spec(script)
    script.loader.exec_module(module)
    committed = (ROOT / "src/whyload/knowledge" / DATA_FILE).read_text(encoding="utf-8")
    date = json.loads(committed)["source"]["generated"]
    regenerated = module.generate(_transformers_package(), generated_on=date)
    assert dump_json(regenerated) == committed


def _fake_transformers(site_packages: Path, version: str) -> None:
    """A made-up transformers release: one model type, one base class and one head."""
    package = site_packages / "transformers"
    files: dict[str, str] = {
        "__init__.py": f'__version__ = "{version}"\n',
        "models/auto/auto_mappings.py": """
            from collections import OrderedDict
            CONFIG_MAPPING_NAMES = OrderedDict([("toy-lm", "ToyConfig")])
            SPECIAL_MODEL_TYPE_TO_MODULE_NAME = OrderedDict([])
        """,
        "models/auto/configuration_auto.py": """
            from .auto_mappings import CONFIG_MAPPING_NAMES, SPECIAL_MODEL_TYPE_TO_MODULE_NAME
            SPECIAL_MODEL_TYPE_TO_MODULE_NAME.update({"toy-lm": "toy"})
        """,
        "models/auto/modeling_auto.py": """
            from collections import OrderedDict
            from .configuration_auto import CONFIG_MAPPING_NAMES
            MODEL_MAPPING_NAMES = OrderedDict([("toy-lm", "ToyModel")])
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES = OrderedDict([("toy-lm", "ToyForCausalLM")])
            MODEL_MAPPING = _LazyAutoMapping(CONFIG_MAPPING_NAMES, MODEL_MAPPING_NAMES)
            MODEL_FOR_CAUSAL_LM_MAPPING = _LazyAutoMapping(
                CONFIG_MAPPING_NAMES, MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
            )
            class AutoModel(_BaseAutoModelClass):
                _model_mapping = MODEL_MAPPING
            class AutoModelForCausalLM(_BaseAutoModelClass):
                _model_mapping = MODEL_FOR_CAUSAL_LM_MAPPING
            AutoModel = auto_class_update(AutoModel)
        """,
        "models/toy/configuration_toy.py": """
            class ToyConfig(PreTrainedConfig):
                model_type = "toy-lm"
        """,
        "models/toy/modeling_toy.py": """
            from ...modeling_utils import PreTrainedModel
            from .configuration_toy import ToyConfig
            class ToyPreTrainedModel(PreTrainedModel):
                config: ToyConfig
                base_model_prefix = "toy"
                def _init_weights(self, module):
                    config = self.config
            class ToyModel(ToyPreTrainedModel):
                pass
            class ToyForCausalLM(ToyPreTrainedModel): ...
            class ToyTokenizer:
                pass
            __all__ = ["ToyForCausalLM", "ToyModel", "ToyPreTrainedModel", "ToyTokenizer"]
        """,
    }
    for relative, text in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_another_installed_version_is_read_from_its_sources(tmp_path: Path) -> None:
    _fake_transformers(tmp_path, "0.0.1.dev0")
    data = model_classes("0.0.1.dev0", tmp_path)
    assert data.transformers_version == "0.0.1.dev0"
    assert sorted(n for n, c in data.classes.items() if not c.is_auto) == [
        "ToyForCausalLM", "ToyModel", "ToyPreTrainedModel"]
    head = data.lookup("ToyForCausalLM")
    assert head is not None
    assert (head.model_type, head.module, head.head, head.base_model_prefix) == (
        "toy-lm", "toy", "ForCausalLM", "toy")
    assert data.auto_target("AutoModelForCausalLM", "toy-lm") == "ToyForCausalLM"
    assert data.same_family("ToyModel", "toy-lm")
    assert data.lookup("BertModel") is None
    assert model_classes("0.0.1.dev0", tmp_path) is data  # read once per version


def test_what_cannot_be_read_falls_back_to_the_shipped_data(tmp_path: Path) -> None:
    shipped = generated()
    assert model_classes() is shipped
    assert model_classes(shipped.transformers_version, tmp_path) is shipped
    assert model_classes("0.0.2", None) is shipped
    assert model_classes("0.0.3", tmp_path / "missing") is shipped
    (tmp_path / "transformers").mkdir()
    (tmp_path / "transformers" / "__init__.py").write_text("__version__ = (\n")
    assert model_classes("0.0.4", tmp_path) is shipped


def test_lookup_imports_neither_torch_nor_transformers() -> None:
    code = textwrap.dedent("""
        import sys
        from whyload.knowledge.model_classes import model_classes
        data = model_classes()
        assert data.lookup("BertModel") is not None
        assert data.suggest("BertModle")[0] == "BertModel"
        print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True)
    assert result.stdout.strip() == "[]"
