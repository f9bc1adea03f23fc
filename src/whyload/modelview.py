"""What the config and the weights say about the model, decided once per snapshot: the class
from_pretrained will be called on (and why that one), the spec that predicts its keys, and what
the checkpoint holds. The config (WL3xx) and architecture (WL4xx) checks, `load`, `fix` and
`check --deep` all use this one decision.

The class, in order: `--class`; a sentence-transformers folder (modules.json) loads its
transformer with AutoModel; the config's `architectures` (the first one transformers has);
else AutoModel. An Auto class resolves, for the config's model_type, to the class transformers'
auto mapping names (knowledge/model_classes.json, generated from transformers).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whyload.errors import UsageError
from whyload.knowledge import specs
from whyload.knowledge.families import (
    ClassSpec,
    Inferred,
    LoadingPrediction,
    class_spec,
    families,
    family_of_class,
    guess_family,
    infer_config,
    predict_loading,
)

if TYPE_CHECKING:
    from whyload.env import Environment
    from whyload.knowledge.model_classes import ModelClasses
    from whyload.knowledge.quantization import Quantization
    from whyload.snapshot import Snapshot

ClassData = Callable[[], "ModelClasses | None"]  # loaded only when a decision needs it

WRAPPERS = ("module.", "_orig_mod.")
NOT_A_MODEL = re.compile(r"(Tokenizer(Fast)?|Config|Processor|FeatureExtractor|ImageProcessor"
                         r"(Fast)?)$")
SENTENCE_TRANSFORMERS = "sentence-transformers (modules.json)"


@dataclass(frozen=True)
class LoadClass:
    """The class from_pretrained is called on, what it builds for this model, and why it."""

    name: str  # what from_pretrained is called on: "AutoModel", "BertForSequenceClassification"
    resolved: str | None  # the class it builds for this model_type (None: not known here)
    source: str  # "--class", "architectures", SENTENCE_TRANSFORMERS, or why AutoModel
    supported: bool = True  # False: an Auto class with no model for this model_type

    def to_fact(self) -> dict[str, Any]:
        return {"name": self.name, "resolved": self.resolved, "source": self.source,
                "supported": self.supported}


def choose_class(asked: str | None, config: Mapping[str, Any] | None,
                 sentence_transformers: bool, classes: ClassData) -> LoadClass:
    """The one decision of which class loads the model (see the module docstring). `classes`
    loads what transformers has (None when it cannot be told); a BERT-family model whose class
    the built-in spec names never needs it."""
    model_type = config.get("model_type") if config else None
    model_type = model_type if isinstance(model_type, str) else None
    archs = config.get("architectures") if config else None
    names = tuple(a for a in archs if isinstance(a, str)) if isinstance(archs, list) else ()
    if asked:
        if asked.startswith("AutoModel"):
            target = _auto_target(asked, model_type, names, classes)
            data = classes() if target is None else None
            known_type = model_type is not None and (
                model_type in families() or (data is not None and model_type in
                                             data.model_type_modules))
            return LoadClass(asked, target, "--class", supported=target is not None
                             or not known_type)
        return LoadClass(asked, asked, "--class")
    if sentence_transformers and model_type is not None:
        return LoadClass("AutoModel", _auto_target("AutoModel", model_type, names, classes),
                         SENTENCE_TRANSFORMERS)
    for name in names:
        if family_of_class(name) or (data := classes()) is None or data.lookup(name):
            return LoadClass(name, name, "architectures")
    why = ("AutoModel (architectures names no transformers class: custom code?)" if names
           else "AutoModel (config.json names no architectures)")
    return LoadClass("AutoModel", _auto_target("AutoModel", model_type, names, classes), why)


def validate_class(asked: str, classes: ClassData, env: Environment | None) -> None:
    """UsageError, with the closest names, when transformers has no model class `asked`. The
    shipped data describes one transformers version; a name it lacks is looked up in the sources
    of the transformers installed here before it is refused."""
    if family_of_class(asked) is not None:
        return
    data = classes()
    if data is None or data.lookup(asked) is not None:
        return
    installed = env.versions.get("transformers") if env else None
    # another interpreter's transformers is not searched for: its version's data is used as is
    here = _transformers_site_packages() if env is None or env.interpreter.this_process else None
    if installed and installed != data.transformers_version and here is not None:
        from whyload.knowledge.model_classes import model_classes

        data = model_classes(installed, here)
        if data.lookup(asked) is not None:
            return
        if data.transformers_version != installed and _defined_in(here / "transformers", asked):
            return  # that release's layout is not read, but its sources define the class
    example = ("`--class` takes a model class such as AutoModelForSequenceClassification or "
               "BertForSequenceClassification")
    if NOT_A_MODEL.search(asked):  # these have from_pretrained too, and build no model
        raise UsageError(f"--class {asked}: {asked} is not a model class (a tokenizer, config "
                         "or processor)", hint=example)
    close = data.suggest(asked)
    raise UsageError(f"--class {asked}: transformers {data.transformers_version} has no model "
                     f"class {asked!r}",
                     hint=f"did you mean {' or '.join(close)}?" if close else example)


def _defined_in(package: Path, name: str) -> bool:
    """Whether a modeling file of the transformers at `package` defines class `name` (a plain
    text search: for a release whose layout the source reader does not read)."""
    needle = f"\nclass {name}("
    try:
        return any(needle in path.read_text(encoding="utf-8", errors="replace")
                   for path in (package / "models").glob("*/modeling_*.py"))
    except OSError:
        return True  # cannot tell: the load decides


def _transformers_site_packages() -> Path | None:
    """The folder that holds this interpreter's transformers package, found without importing
    it."""
    try:
        spec = importlib.util.find_spec("transformers")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent.parent


def _auto_target(auto: str, model_type: str | None, architectures: tuple[str, ...],
                 classes: ClassData) -> str | None:
    """What transformers' auto mapping builds for `auto` and `model_type` (generated data)."""
    data = classes() if model_type is not None else None
    return data.auto_target(auto, model_type, architectures) if data and model_type else None


@dataclass(frozen=True)
class ModelView:
    config: dict[str, Any] | None  # config.json, when it parses to an object
    model_type: str | None  # what the config says
    weights_type: str | None  # what the weights look like (BERT family only)
    load_class: LoadClass | None = None
    checkpoint: dict[str, tuple[int, ...]] = field(default_factory=dict)
    class_family: str | None = None  # the family whose spec describes the class
    spec: ClassSpec | None = None  # what the class expects, for this config
    prediction: LoadingPrediction | None = None
    inferred: dict[str, Inferred] = field(default_factory=dict)
    wrapper: str | None = None  # a prefix every key shares: module., _orig_mod., model.
    generated: Generated | None = None  # what the generated specs say (None: not used)
    unpredictable: str | None = None  # why the generated spec declined to predict this config

    @property
    def values(self) -> dict[str, Any] | None:
        """config.json as the modeling code reads it, from the generated spec."""
        return self.generated.values if self.generated and not self.wrapper else None

    @property
    def count_fields(self) -> frozenset[str]:
        """The config fields that count the generated spec's block lists."""
        g = self.generated
        return specs.count_fields(g.version, g.model_type) if g else frozenset()

    @property
    def target_class(self) -> str | None:
        """The class the model is built as (an Auto class resolved), else the one asked for."""
        if self.load_class is None:
            return None
        return self.load_class.resolved or self.load_class.name

    @property
    def class_source(self) -> str:
        return self.load_class.source if self.load_class else ""

    @property
    def family(self) -> str | None:
        """The model_type from config, when whyload knows the family's weights."""
        return self.model_type if self.model_type in families() else None


def model_view(snap: Snapshot) -> ModelView:
    """The snapshot's view (built once, when first asked)."""
    return snap.view


def build_view(snap: Snapshot) -> ModelView:
    doc = snap.config
    config = doc.value if doc is not None and doc.ok and isinstance(doc.value, dict) else None
    model_type = config.get("model_type") if config else None
    model_type = model_type if isinstance(model_type, str) else None
    checkpoint = {k: t.shape for k, t in snap.planned_tensors().items()}
    wrapper = shared_prefix(list(checkpoint))
    keys = [k[len(wrapper):] if wrapper else k for k in checkpoint]
    weights_type = guess_family(keys) if keys else None
    load_class = snap.load_class
    target = (load_class.resolved or load_class.name) if load_class else None
    class_family = family_of_class(target) if target else None
    spec = None
    generic: Generated | None = None
    unpredictable: list[str] = []
    installed = snap.env.versions.get("transformers") if snap.env else None
    # the BERT-family spec models every combination of its flags (DeBERTa's share_att_key, …);
    # --deep asks transformers itself for this very config; every other class comes from the
    # specs generated for the release that will load it (which also model renames on load)
    deep = snap.deep_spec if snap.deep_spec and not snap.deep_spec.renames_on_load else None
    if target and class_family and config is not None:
        spec = class_spec(class_family, target, config)
    elif deep is not None:
        spec, class_family = deep, "transformers"  # built by transformers itself
    elif target and config is not None and (generic := _generated(target, config, installed,
                                                                  unpredictable)):
        spec, class_family = generic.spec, generic.model_type
    prediction = predict_loading(spec, checkpoint) if spec and checkpoint and not wrapper else None
    if prediction is not None and spec is not None:
        prediction = _without_quantized(prediction, snap.quantization, spec.base_model_prefix)
    inferred_type = model_type if model_type in families() else weights_type
    inferred = infer_config(inferred_type, checkpoint) if inferred_type and not wrapper else {}
    if generic is not None and not inferred and not wrapper:
        inferred = {f: Inferred(v, key, checkpoint[key]) for f, (v, key) in specs.infer_values(
            generic.version, generic.model_type, checkpoint).items()}
    return ModelView(config, model_type, weights_type, load_class, checkpoint, class_family,
                     spec, prediction, inferred, wrapper, generic,
                     unpredictable[0] if unpredictable else None)


@dataclass(frozen=True)
class Generated:
    """What the generated specs say about the class and the config."""

    spec: ClassSpec
    model_type: str
    version: str
    values: dict[str, Any]  # config.json as the modeling code reads it


def generated_spec(class_name: str, config: Mapping[str, Any], installed: str | None
                   ) -> Generated | None:
    """What `class_name` expects, from the specs generated for the transformers release that
    will load it (knowledge/specs.py)."""
    version = specs.version_for(installed)
    asked_type = config.get("model_type")
    model_type = specs.type_of_class(class_name, version, asked_type if isinstance(
        asked_type, str) else None) if version else None
    if version is None or model_type is None:
        return None
    found = specs.expected(version, model_type, class_name, config)
    if found is None:
        return None
    cls = found.cls
    source = f"transformers {version} spec" + (
        f" (transformers {installed} is installed)" if installed and installed != version else "")
    spec = ClassSpec(class_name, cls["base_model_prefix"], found.keys, found.tied,
                     tuple(cls["ignore_missing"]), tuple(cls["ignore_unexpected"]),
                     tuple(cls["buffers"]), conversions=tuple(cls["conversions"]),
                     uncertain=found.uncertain, source=source, head=found.head)
    return Generated(spec, model_type, version, found.values)


def _without_quantized(prediction: LoadingPrediction, q: Quantization | None,
                       prefix: str) -> LoadingPrediction:
    """A quantized checkpoint, as its quantizer loads it: packed shapes are no mismatch, the
    scales and zeros it adds are no unused weights, a weight stored under the method's own names
    (GPTQ's qweight) is not missing. When config.json is silent about the quantization,
    transformers has no quantizer to do that: the prediction stands (and WL362 says why)."""
    if q is None or q.declared == "weights":
        return prediction
    back = {new: old for old, new in prediction.renamed.items()}

    def stored(key: str) -> bool:
        return q.stores(back.get(key, key)) or q.stores(key.removeprefix(prefix + "."))

    return dataclasses.replace(
        prediction,
        missing=frozenset(k for k in prediction.missing if not stored(k)),
        unexpected=frozenset(k for k in prediction.unexpected
                             if not q.quantized(back.get(k, k))),
        mismatched={k: v for k, v in prediction.mismatched.items()
                    if not q.packed(back.get(k, k))})


def _generated(class_name: str, config: Mapping[str, Any], installed: str | None,
               why: list[str]) -> Generated | None:
    try:
        return generated_spec(class_name, config, installed)
    except specs.Unpredictable as exc:
        why.append(str(exc))
        return None


def shared_prefix(keys: list[str]) -> str | None:
    """A wrapper prefix on (nearly) every key: DataParallel's module., torch.compile's
    _orig_mod., a Lightning module's model. — None when there is none."""
    if not keys:
        return None
    for wrapper in WRAPPERS:
        if sum(k.startswith(wrapper) for k in keys) >= 0.9 * len(keys):
            return wrapper
    first = {k.split(".", 1)[0] for k in keys}
    if first == {"model"} and guess_family([k[len("model."):] for k in keys]) is not None:
        return "model."  # BERT-family base models are never called "model": a wrapper's name
    return None


def head_keys(keys: set[str] | frozenset[str], prefix: str,
              spec: ClassSpec | None = None) -> list[str]:
    """The keys outside the base model: the task head (classifier, qa_outputs, cls, lm_head).
    The generated specs know it (the keys the type's base model does not have); else the keys
    without the base_model_prefix, other than a BERT base model's own."""
    if spec is not None and spec.head is not None:
        return sorted(k for k in keys if k in spec.head)
    return sorted(k for k in keys if not k.startswith(prefix + ".") and not re.match(
        r"^(embeddings|encoder|pooler|transformer)\.", k))
