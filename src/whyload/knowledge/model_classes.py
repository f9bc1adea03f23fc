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

import ast
import difflib
import functools
import json
import re
from collections.abc import Mapping
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
    classes: dict[str, ModelClass] = {}
    for name, record in document["classes"].items():
        file = record["file"]
        classes[name] = ModelClass(
            name=name, model_type=record["model_type"], module=file.split("/")[1], file=file,
            head=record.get("head"), is_auto=False, is_base=record.get("base", False),
            auto_classes=tuple(record.get("auto", ())), base_model_prefix=record.get("prefix"))
    auto_mappings = {auto_name: {mt: (t,) if isinstance(t, str) else tuple(t)
                                 for mt, t in mapping.items()}
                     for auto_name, mapping in document["auto"].items()}
    classes.update(_auto_class_records(auto_mappings))
    return ModelClasses(transformers_version=document["source"]["transformers_version"],
                        classes=classes, auto_mappings=auto_mappings,
                        model_type_modules=document["model_type_modules"],
                        source=document["source"])


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
            _read_versions[key] = read_transformers_sources(package)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
            _read_versions[key] = shipped
    return _read_versions[key]


# ---- reading transformers' sources ------------------------------------------------------------

def transformers_version_in(package: Path) -> str:
    text = (package / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"{package / '__init__.py'} sets no __version__")
    return found.group(1)


def read_transformers_sources(package: Path, source: Mapping[str, Any] | None = None
                              ) -> ModelClasses:
    """Read the model classes of the transformers installed at `package` (the folder that holds
    its __init__.py) without importing it. Raises OSError/ValueError when it is not one."""
    version = transformers_version_in(package)
    auto_names = _AutoModule(package / "models" / "auto")
    config_names: dict[str, str] = auto_names.mapping("CONFIG_MAPPING_NAMES")
    special_modules: dict[str, str] = auto_names.mapping("SPECIAL_MODEL_TYPE_TO_MODULE_NAME")
    if not config_names:
        raise ValueError(f"{package} has no CONFIG_MAPPING_NAMES")
    model_type_modules = {mt: special_modules.get(mt, mt.replace("-", "_"))
                          for mt in config_names}
    auto_mappings = auto_names.auto_mappings()

    files = _SourceFiles(package)
    classes: dict[str, ModelClass] = {}
    listed_by: dict[str, list[str]] = {}
    for auto_name, mapping in auto_mappings.items():
        for targets in mapping.values():
            for target in targets:
                if auto_name not in listed_by.setdefault(target, []):
                    listed_by[target].append(auto_name)
    for modeling in sorted((package / "models").glob("*/modeling_*.py")):
        parsed = files.parse(modeling)
        for name in parsed.exported:
            if name not in parsed.classes or not files.is_model_class(parsed, name):
                continue
            autos = listed_by.get(name, [])
            config_class = files.class_attribute(parsed, name, "config")
            model_type = files.model_type_of_config(config_class, parsed.module,
                                                     config_names) or None
            classes[name] = ModelClass(
                name=name, model_type=model_type, module=parsed.module,
                file=modeling.relative_to(package).as_posix(), head=_head(name, autos),
                is_auto=False, is_base=BASE_AUTO_CLASS in autos,
                auto_classes=tuple(sorted(autos)),
                base_model_prefix=files.class_attribute(parsed, name, "base_model_prefix") or None)
    classes.update(_auto_class_records(auto_mappings))
    return ModelClasses(transformers_version=version, classes=classes,
                        auto_mappings=auto_mappings, model_type_modules=model_type_modules,
                        source=dict(source or {"transformers_version": version}))


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


class _Unknown(Exception):
    """An expression that is not a literal over names already known."""


class _AutoModule:
    """Evaluates the module-level statements of models/auto/*.py that build the name mappings:
    literals, OrderedDict(...)/dict(...) with ** unpacking, `X.items()`, `X.update({...})`,
    `from .sibling import X`, and `class AutoX: _model_mapping = MAPPING` with
    `MAPPING = _LazyAutoMapping(CONFIG_MAPPING_NAMES, MAPPING_NAMES)`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._auto_classes: dict[str, dict[str, str]] = {}

    def mapping(self, name: str) -> dict[str, Any]:
        for module in ("modeling_auto", "configuration_auto", "auto_mappings"):
            value = self._namespace(module).get(name)
            if isinstance(value, dict):
                return value
        return {}

    def auto_mappings(self) -> dict[str, dict[str, tuple[str, ...]]]:
        namespace = self._namespace("modeling_auto")
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        for auto_name, mapping_name in self._auto_classes.get("modeling_auto", {}).items():
            lazy = namespace.get(mapping_name)
            names = namespace.get(lazy[1]) if isinstance(lazy, tuple) and lazy[:1] == (
                "lazy",) else None
            if isinstance(names, dict):
                out[auto_name] = {mt: (t,) if isinstance(t, str) else tuple(t)
                                  for mt, t in names.items()
                                  if isinstance(t, (str, tuple, list))}
        return out

    def _namespace(self, module: str) -> dict[str, Any]:
        if module in self._namespaces:
            return self._namespaces[module]
        namespace: dict[str, Any] = {}
        self._namespaces[module] = namespace
        path = self.folder / f"{module}.py"
        if not path.is_file():
            return namespace
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for statement in tree.body:
            self._run(module, statement, namespace)
        return namespace

    def _run(self, module: str, statement: ast.stmt, namespace: dict[str, Any]) -> None:
        if isinstance(statement, ast.ImportFrom) and statement.level == 1 and statement.module:
            sibling = self._namespace(statement.module)
            for alias in statement.names:
                if alias.name in sibling:
                    namespace[alias.asname or alias.name] = sibling[alias.name]
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name):
                try:
                    namespace[target.id] = _evaluate(statement.value, namespace)
                except _Unknown:
                    namespace.pop(target.id, None)
            elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                  and isinstance(namespace.get(target.value.id), dict)):
                try:
                    key = _evaluate(target.slice, namespace)
                    namespace[target.value.id][key] = _evaluate(statement.value, namespace)
                except (_Unknown, TypeError):
                    pass
        elif (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
              and isinstance(statement.value.func, ast.Attribute)
              and statement.value.func.attr == "update"
              and isinstance(statement.value.func.value, ast.Name)
              and isinstance(namespace.get(statement.value.func.value.id), dict)
              and len(statement.value.args) == 1):
            try:
                update = dict(_evaluate(statement.value.args[0], namespace))
            except (_Unknown, TypeError, ValueError):
                return
            namespace[statement.value.func.value.id].update(update)
        elif isinstance(statement, ast.ClassDef):
            for item in statement.body:
                if (isinstance(item, ast.Assign) and len(item.targets) == 1
                        and isinstance(item.targets[0], ast.Name)
                        and item.targets[0].id == "_model_mapping"
                        and isinstance(item.value, ast.Name)):
                    self._auto_classes.setdefault(module, {})[statement.name] = item.value.id


def _evaluate(node: ast.expr, namespace: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in namespace:
            return namespace[node.id]
        raise _Unknown(node.id)
    if isinstance(node, (ast.Tuple, ast.List)):
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                items.extend(_evaluate(element.value, namespace))
            else:
                items.append(_evaluate(element, namespace))
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                out.update(_evaluate(value, namespace))
            else:
                out[_evaluate(key, namespace)] = _evaluate(value, namespace)
        return out
    if isinstance(node, ast.Call):
        return _evaluate_call(node, namespace)
    raise _Unknown(ast.dump(node)[:80])


def _evaluate_call(node: ast.Call, namespace: Mapping[str, Any]) -> Any:
    func = node.func
    if isinstance(func, ast.Name) and func.id in ("OrderedDict", "dict"):
        built: dict[Any, Any] = {}
        for arg in node.args:
            built.update(_evaluate(arg, namespace))
        for keyword in node.keywords:
            value = _evaluate(keyword.value, namespace)
            if keyword.arg is None:
                built.update(value)
            else:
                built[keyword.arg] = value
        return built
    if isinstance(func, ast.Name) and func.id in ("list", "tuple") and len(node.args) == 1:
        sequence = list(_evaluate(node.args[0], namespace))
        return sequence if func.id == "list" else tuple(sequence)
    if isinstance(func, ast.Name) and func.id == "_LazyAutoMapping" and len(node.args) == 2:
        names = node.args[1]
        if isinstance(names, ast.Name):
            return ("lazy", names.id)
    if (isinstance(func, ast.Attribute) and func.attr == "items" and not node.args
            and isinstance(func.value, ast.Name)):
        mapping = _evaluate(func.value, namespace)
        if isinstance(mapping, dict):
            return list(mapping.items())
    raise _Unknown(ast.dump(node)[:80])


@dataclass(frozen=True)
class _ParsedFile:
    path: Path
    module: str  # the folder under models/
    exported: tuple[str, ...]
    # class name -> (base names, class-level attribute name -> the name or string it is set to)
    classes: Mapping[str, tuple[tuple[str, ...], Mapping[str, str]]]
    # a name imported with a relative import -> (level, module, its name there)
    imports: Mapping[str, tuple[int, str, str]]


class _SourceFiles:
    """Modeling and configuration files, each read once and cut down to what this module needs:
    imports, class headers, the class attributes config / config_class / base_model_prefix /
    model_type, and __all__. Parsing those lines alone is ten times faster than the whole file;
    a file whose cut-down text does not parse is parsed whole."""

    def __init__(self, package: Path) -> None:
        self.package = package
        self.models = package / "models"
        self._parsed: dict[Path, _ParsedFile] = {}
        self._config_model_types: dict[str, dict[str, str]] = {}
        self._mros: dict[tuple[Path, str], list[tuple[_ParsedFile | None, str]]] = {}

    def parse(self, path: Path) -> _ParsedFile:
        if path not in self._parsed:
            text = path.read_text(encoding="utf-8")
            try:
                tree = ast.parse(_cut_down(text), filename=str(path))
            except SyntaxError:
                tree = ast.parse(text, filename=str(path))
            self._parsed[path] = self._facts(path, tree)
        return self._parsed[path]

    def _facts(self, path: Path, tree: ast.Module) -> _ParsedFile:
        exported: tuple[str, ...] = ()
        classes: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
        imports: dict[str, tuple[int, str, str]] = {}
        for statement in tree.body:
            if isinstance(statement, ast.ClassDef):
                bases = tuple(b.id if isinstance(b, ast.Name) else b.attr
                              for b in statement.bases
                              if isinstance(b, (ast.Name, ast.Attribute)))
                classes[statement.name] = (bases, _class_attributes(statement))
            elif isinstance(statement, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in statement.targets):
                try:
                    listed = _evaluate(statement.value, {})
                except _Unknown:
                    listed = []
                exported = tuple(n for n in listed if isinstance(n, str))
            elif isinstance(statement, ast.ImportFrom) and statement.level >= 1:
                for alias in statement.names:
                    imports[alias.asname or alias.name] = (
                        statement.level, statement.module or "", alias.name)
        return _ParsedFile(path=path, module=path.parent.name, exported=exported,
                           classes=classes, imports=imports)

    def _import_source(self, path: Path, level: int, module: str) -> Path | None:
        folder = path.parent
        for _ in range(level - 1):
            folder = folder.parent
        target = folder.joinpath(*module.split(".")).with_suffix(".py") if module else None
        if target is None or not target.is_file():
            return None
        try:
            target.relative_to(self.package)
        except ValueError:
            return None
        return target

    def _resolve(self, parsed: _ParsedFile, name: str, depth: int = 0
                 ) -> tuple[_ParsedFile, str] | None:
        """The file and name where class `name`, as seen from `parsed`, is defined; None for
        PreTrainedModel itself (the root) and for classes from outside transformers."""
        if name == PRETRAINED_ROOT:
            return None
        if name in parsed.classes:
            return parsed, name
        if name in parsed.imports and depth < 8:
            level, module, original = parsed.imports[name]
            source = self._import_source(parsed.path, level, module)
            if source is not None:
                return self._resolve(self.parse(source), original, depth + 1)
        return None

    def _mro(self, parsed: _ParsedFile, name: str) -> list[tuple[_ParsedFile | None, str]]:
        """The method resolution order of class `name` (C3, as Python computes it); classes that
        cannot be read stand in it by name, with no attributes and no bases."""
        key = (parsed.path, name)
        if key in self._mros:
            return self._mros[key]
        self._mros[key] = [(None, name)]  # a cycle in broken sources ends here
        found = self._resolve(parsed, name)
        if found is None:
            order: list[tuple[_ParsedFile | None, str]] = [(None, name)]
        else:
            defined_in, class_name = found
            bases, _ = defined_in.classes[class_name]
            sequences = [self._mro(defined_in, base) for base in bases]
            sequences.append([self._mro(defined_in, base)[0] for base in bases])
            order = [(defined_in, class_name), *_c3_merge(sequences)]
        self._mros[key] = order
        return order

    def is_model_class(self, parsed: _ParsedFile, name: str) -> bool:
        return any(defined_in is None and class_name == PRETRAINED_ROOT
                   for defined_in, class_name in self._mro(parsed, name))

    def class_attribute(self, parsed: _ParsedFile, name: str, attribute: str) -> str | None:
        for defined_in, class_name in self._mro(parsed, name):
            if defined_in is not None:
                _, attributes = defined_in.classes[class_name]
                if attribute in attributes:
                    return attributes[attribute]
        return None

    def model_type_of_config(self, config_class: str | None, module: str,
                             config_names: Mapping[str, str]) -> str | None:
        if config_class is None:
            return None
        found = self._config_model_types_in(module).get(config_class)
        if found is not None:
            return found
        candidates = [mt for mt, name in config_names.items() if name == config_class]
        same_module = [mt for mt in candidates if mt.replace("-", "_") == module]
        return next(iter(same_module or candidates), None)

    def _config_model_types_in(self, module: str) -> dict[str, str]:
        if module not in self._config_model_types:
            found: dict[str, str] = {}
            for path in sorted((self.models / module).glob("configuration_*.py")):
                parsed = self.parse(path)
                for class_name in parsed.classes:
                    model_type = self.class_attribute(parsed, class_name, "model_type")
                    if model_type is not None:
                        found[class_name] = model_type
            self._config_model_types[module] = found
        return self._config_model_types[module]


def _c3_merge(sequences: list[list[tuple[_ParsedFile | None, str]]]
              ) -> list[tuple[_ParsedFile | None, str]]:
    def identity(entry: tuple[_ParsedFile | None, str]) -> tuple[Path | None, str]:
        return (entry[0].path if entry[0] else None, entry[1])

    pending = [list(sequence) for sequence in sequences if sequence]
    merged: list[tuple[_ParsedFile | None, str]] = []
    while pending:
        tails = {identity(entry) for sequence in pending for entry in sequence[1:]}
        head = next((s[0] for s in pending if identity(s[0]) not in tails), None)
        if head is None:  # no consistent order: Python would refuse the class; keep going
            head = pending[0][0]
        merged.append(head)
        pending = [[e for e in s if identity(e) != identity(head)] for s in pending]
        pending = [s for s in pending if s]
    return merged


def _class_attributes(node: ast.ClassDef) -> dict[str, str]:
    """config / config_class -> the config class named; base_model_prefix, model_type -> the
    string. `config: "BertConfig"` and `config_class = BertConfig` both name the config."""
    attributes: dict[str, str] = {}
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            target, value = item.target.id, (item.annotation if item.target.id == "config"
                                             else item.value)
        elif (isinstance(item, ast.Assign) and len(item.targets) == 1
              and isinstance(item.targets[0], ast.Name)):
            target, value = item.targets[0].id, item.value
        else:
            continue
        if target == "config_class":
            target = "config"
        if target not in ("config", "base_model_prefix", "model_type") or value is None:
            continue
        if isinstance(value, ast.Name) and target == "config":
            attributes[target] = value.id
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            attributes[target] = value.value
    return attributes


_STATEMENT_START = re.compile(
    r"^(?:(class |__all__|from )"
    r"|    (?:config|config_class|base_model_prefix|model_type)\b\s*[:=])", re.MULTILINE)
_TOP_LEVEL_LINE = re.compile(r"^[^\s#)\]}@]", re.MULTILINE)


def _cut_down(text: str) -> str:
    """The statements of a module that _SourceFiles reads: top-level imports, class headers
    (with a `pass` body), the class attributes it knows, and __all__."""
    kept: list[str] = []
    class_body_start = -1  # where the body of the last class header begins; -1: none
    resume = 0
    for match in _STATEMENT_START.finditer(text):
        start = match.start()
        if start < resume:
            continue
        top_level = match.group(1)
        if top_level is None and (
                class_body_start < 0
                or _TOP_LEVEL_LINE.search(text, class_body_start, start) is not None):
            continue
        resume = _statement_end(text, start)
        statement = text[start:resume].rstrip("\n")
        kept.append(statement)
        if top_level == "class ":
            class_body_start = resume
            if statement.split("#", 1)[0].rstrip().endswith(":"):
                kept.append("    pass")
        elif top_level is not None:
            class_body_start = -1
    return "\n".join(kept) + "\n"


def _statement_end(text: str, start: int) -> int:
    """The offset after the last line of the statement at `start`: its brackets balance."""
    depth = 0
    position = start
    while position < len(text):
        newline = text.find("\n", position)
        end = len(text) if newline < 0 else newline + 1
        code = text[position:end].split("#", 1)[0]
        depth += code.count("(") + code.count("[") + code.count("{")
        depth -= code.count(")") + code.count("]") + code.count("}")
        position = end
        if depth <= 0:
            break
    return position
