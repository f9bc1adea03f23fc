"""Which model classes transformers has, which model_type each belongs to, and what every
`AutoModel*` class loads for a model_type — without importing transformers.

The data is read from transformers' own sources with `ast`: the auto mappings in
`models/auto/{auto_mappings,configuration_auto,modeling_auto}.py` are literal OrderedDicts, and each
`models/<module>/modeling_*.py` lists its public classes in `__all__`. The installed version is
shipped as model_classes.json (written by scripts/gen_model_classes.py); another version is read
from its site-packages at run time by the same code, so the answer matches the transformers that
will load the model.

    transformers/
      models/auto/auto_mappings.py        CONFIG_MAPPING_NAMES, SPECIAL_MODEL_TYPE_TO_MODULE_NAME
      models/auto/configuration_auto.py   .update()s of both
      models/auto/modeling_auto.py        MODEL_*_MAPPING_NAMES; class AutoX: _model_mapping = ...
      models/<module>/configuration_*.py  class XConfig: model_type = "x"
      models/<module>/modeling_*.py       class XModel(XPreTrainedModel); config: XConfig; __all__
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DATA_FILE = "model_classes.json"
SCHEMA = "whyload.model_classes/1"
PRETRAINED_ROOT = "PreTrainedModel"
BASE_AUTO_CLASS = "AutoModel"
# a class listed by several auto mappings takes its head from the first other than these
GENERIC_AUTO_CLASSES = ("AutoModelForPreTraining", "AutoModelForMultimodalLM")
_HEAD_IN_NAME = re.compile(r"(?<=[a-z0-9])For[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True, kw_only=True)
class ModelClass:
    name: str
    model_type: str | None  # None for Auto classes and classes no config class names
    module: str  # the folder under transformers/models: "bert"; "auto" for Auto classes
    file: str  # relative to the transformers package: "models/bert/modeling_bert.py"
    head: str | None  # "ForSequenceClassification"; None for base models and Auto classes
    is_auto: bool
    is_base: bool  # AutoModel loads it
    auto_classes: tuple[str, ...] = ()  # the Auto classes whose mapping names it
    base_model_prefix: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelClasses:
    transformers_version: str
    classes: Mapping[str, ModelClass]
    # Auto class -> model_type -> the classes it may load (the first unless config.architectures
    # names another of them)
    auto_mappings: Mapping[str, Mapping[str, tuple[str, ...]]]
    model_type_modules: Mapping[str, str]
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def lookup(self, name: str) -> ModelClass | None:
        return self.classes.get(name)

    def suggest(self, name: str) -> list[str]:
        """Up to three class names close to `name`, ignoring case; exact case-insensitive first."""
        by_lower = self._names_by_lower
        wanted = name.lower()
        exact = [by_lower[wanted]] if wanted in by_lower else []
        import difflib

        close = difflib.get_close_matches(wanted, list(by_lower), n=3, cutoff=0.75)
        return list(dict.fromkeys(exact + [by_lower[c] for c in close]))[:3]

    def auto_targets(self, auto_name: str, model_type: str) -> tuple[str, ...]:
        return self.auto_mappings.get(auto_name, {}).get(model_type, ())

    def auto_target(self, auto_name: str, model_type: str,
                    architectures: tuple[str, ...] = ()) -> str | None:
        """The class `auto_name.from_pretrained` builds for a config of `model_type` (None when
        the Auto class does not support it). Where the mapping offers several, transformers takes
        the one config.architectures names, else the first."""
        targets = self.auto_targets(auto_name, model_type)
        named = [t for t in targets if t in architectures]
        return named[0] if named else (targets[0] if targets else None)

    def model_type_of(self, class_name: str) -> str | None:
        found = self.lookup(class_name)
        return found.model_type if found else None

    def module_of(self, model_type: str) -> str:
        return self.model_type_modules.get(model_type, model_type.replace("-", "_"))

    def same_family(self, class_name: str, model_type: str) -> bool:
        """Whether `class_name` can hold weights of `model_type`: an Auto class, a class from the
        model_type's module, or one an Auto mapping names for that model_type (gpt-sw3 -> GPT2)."""
        found = self.lookup(class_name)
        if found is None:
            return False
        if found.is_auto or found.module == self.module_of(model_type):
            return True
        return any(class_name in self.auto_targets(auto, model_type) for auto in found.auto_classes)

    @functools.cached_property
    def _names_by_lower(self) -> dict[str, str]:
        return {name.lower(): name for name in sorted(self.classes)}


# ---- the JSON shipped with the package --------------------------------------------------------

def to_json(data: ModelClasses) -> dict[str, Any]:
    classes: dict[str, Any] = {}
    for name, cls in data.classes.items():
        if cls.is_auto:
            continue
        record: dict[str, Any] = {"model_type": cls.model_type, "file": cls.file}
        if cls.head is not None:
            record["head"] = cls.head
        if cls.is_base:
            record["base"] = True
        if cls.auto_classes:
            record["auto"] = list(cls.auto_classes)
        if cls.base_model_prefix is not None:
            record["prefix"] = cls.base_model_prefix
        classes[name] = record
    auto = {auto_name: {mt: (targets[0] if len(targets) == 1 else list(targets))
                        for mt, targets in mapping.items()}
            for auto_name, mapping in data.auto_mappings.items()}
    return {"schema": SCHEMA, "source": dict(data.source), "classes": classes, "auto": auto,
            "model_type_modules": dict(data.model_type_modules)}


def from_json(document: Mapping[str, Any]) -> ModelClasses:
    auto_mappings = {auto_name: {mt: (t,) if isinstance(t, str) else tuple(t)
                                 for mt, t in mapping.items()}
                     for auto_name, mapping in document["auto"].items()}
    return ModelClasses(transformers_version=document["source"]["transformers_version"],
                        classes=_RecordedClasses(document["classes"],
                                                 _auto_class_records(auto_mappings)),
                        auto_mappings=auto_mappings,
                        model_type_modules=document["model_type_modules"],
                        source=document["source"])


class _RecordedClasses(Mapping[str, ModelClass]):
    """The JSON's class records, each made a ModelClass when first looked up: `check` asks for
    one or two of the ~2,300 (building them all would cost more than reading the file)."""

    def __init__(self, records: Mapping[str, Any], auto: Mapping[str, ModelClass]) -> None:
        self._records = records
        self._made: dict[str, ModelClass] = dict(auto)

    def __getitem__(self, name: str) -> ModelClass:
        made = self._made.get(name)
        if made is None:
            record = self._records[name]  # KeyError for a name that is not recorded
            file = record["file"]
            made = self._made[name] = ModelClass(
                name=name, model_type=record["model_type"], module=file.split("/")[1],
                file=file, head=record.get("head"), is_auto=False,
                is_base=record.get("base", False), auto_classes=tuple(record.get("auto", ())),
                base_model_prefix=record.get("prefix"))
        return made

    def __iter__(self) -> Iterator[str]:
        yield from self._records
        yield from (n for n in self._made if n not in self._records)

    def __len__(self) -> int:
        return len(self._records) + sum(n not in self._records for n in self._made)

    def __contains__(self, name: object) -> bool:
        return name in self._records or name in self._made


def dump_json(data: ModelClasses) -> str:
    """One class, one model_type per line, keys sorted: small, and a new transformers gives a
    readable diff."""
    expanded_levels = {"auto": 2, "classes": 1, "model_type_modules": 1}
    document = to_json(data)
    body = ",\n".join(
        f"{json.dumps(key)}: {_dump_lines(document[key], expanded_levels.get(key, 0))}"
        for key in sorted(document))
    return "{\n" + body + "\n}\n"


def _dump_lines(value: Any, levels: int) -> str:
    if levels == 0 or not isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    items = ",\n".join(f"{json.dumps(key)}: {_dump_lines(value[key], levels - 1)}"
                        for key in sorted(value))
    return "{\n" + items + "\n}"


@functools.cache
def generated() -> ModelClasses:
    text = resources.files("whyload.knowledge").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return from_json(json.loads(text))


_read_versions: dict[tuple[str, Path], ModelClasses] = {}


def model_classes(transformers_version: str | None = None,
                  site_packages: Path | None = None) -> ModelClasses:
    """The model classes of the transformers that will load the model.

    The shipped data when `transformers_version` is its version or unknown; for another version
    installed in `site_packages`, that version's sources read now (once per version in a
    process). Where they cannot be read the shipped data is returned: its transformers_version
    says which version it describes."""
    shipped = generated()
    if transformers_version is None or transformers_version == shipped.transformers_version:
        return shipped
    if site_packages is None:
        return shipped
    key = (transformers_version, site_packages)
    if key not in _read_versions:
        package = site_packages / "transformers"
        try:
            from whyload.knowledge.transformers_sources import read_transformers_sources

            _read_versions[key] = read_transformers_sources(package)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
            _read_versions[key] = shipped
    return _read_versions[key]


def _auto_class_records(auto_mappings: Mapping[str, Any]) -> dict[str, ModelClass]:
    return {name: ModelClass(name=name, model_type=None, module="auto",
                             file="models/auto/modeling_auto.py", head=None, is_auto=True,
                             is_base=False)
            for name in auto_mappings}


def _head(name: str, auto_classes: list[str]) -> str | None:
    if BASE_AUTO_CLASS in auto_classes:
        return None
    specific = [a for a in auto_classes if a not in GENERIC_AUTO_CLASSES] or auto_classes
    if specific:
        auto_name = specific[0]
        prefix = "AutoModel" if auto_name.startswith("AutoModel") else "Auto"
        return auto_name.removeprefix(prefix) or None
    in_name = _HEAD_IN_NAME.search(name)
    return in_name.group(0) if in_name else None
