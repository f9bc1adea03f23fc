"""Read which model classes an installed transformers has, from its sources, without importing
it: the same code writes model_classes.json (scripts/gen_model_classes.py) and reads another
installed version at run time (whyload.knowledge.model_classes.model_classes).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whyload.knowledge.model_classes import (
    BASE_AUTO_CLASS,
    PRETRAINED_ROOT,
    ModelClass,
    ModelClasses,
    _auto_class_records,
    _head,
)


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
